"""Registries that map names to lazy ``module:Class`` strings.

Listing a registry imports nothing heavy (no torch, no pybullet); the class is imported only when
it is looked up. One registry per kind of plugin (backends, generators, learners) and one source of
truth for its names.
"""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from rls3_bench.errors import UserError, short_repr

T = TypeVar("T")


def load_object(path: str, what: str):
    """Import ``module:attr`` and return the attribute; a clear UserError when it is not there."""
    module_name, sep, attr = path.partition(":")
    if not sep or not module_name or not attr:
        raise UserError(
            f"{what} path {short_repr(path)} is not of the form 'module:Class'; write e.g. 'my_pkg.gen:MyGenerator'"
        )
    if module_name.startswith(".") or "\x00" in path:
        raise UserError(
            f"{what} path {short_repr(path)} must name an absolute module ('my_pkg.gen:MyGenerator'), "
            "not a relative one"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UserError(
            f"cannot import module {short_repr(module_name)} for {what} {short_repr(path)} ({str(exc)[:120]}); "
            "check the name and that it is installed or on PYTHONPATH"
        ) from None
    except Exception as exc:  # the module itself failed while importing (SyntaxError, an error at import time)
        raise UserError(
            f"importing module {short_repr(module_name)} for {what} {short_repr(path)} failed ({type(exc).__name__}: "
            f"{str(exc)[:120]}); fix that module"
        ) from None
    try:
        obj = module
        for part in attr.split("."):
            obj = getattr(obj, part)
    except AttributeError:
        raise UserError(
            f"module {short_repr(module_name)} has no attribute {short_repr(attr)} (from {what} {short_repr(path)}); "
            "check the class name"
        ) from None
    return obj


@dataclass
class Registry(Generic[T]):
    """Names -> lazy ``module:Class`` entry points, checked against a base class on look-up."""

    kind: str
    base: type | None = None
    _entries: dict[str, str] = field(default_factory=dict)

    def register(self, name: str, entry_point: str) -> None:
        if name in self._entries and self._entries[name] != entry_point:
            raise ValueError(f"{self.kind} '{name}' is already registered as {self._entries[name]}")
        self._entries[name] = entry_point

    def names(self) -> list[str]:
        return sorted(self._entries)

    def entry_point(self, name: str) -> str:
        if name not in self._entries:
            hint = difflib.get_close_matches(name, self._entries, n=1)
            did_you_mean = f"did you mean '{hint[0]}'? " if hint else ""
            raise UserError(
                f"unknown {self.kind} {short_repr(name)}; "
                f"{did_you_mean}valid names: {', '.join(self.names()) or '(none)'}"
            )
        return self._entries[name]

    def get(self, name: str) -> type[T]:
        """The class registered as ``name``, or, for a ``module:Class`` path, that class."""
        path = name if ":" in name else self.entry_point(name)
        cls = load_object(path, self.kind)
        if self.base is not None and not (isinstance(cls, type) and issubclass(cls, self.base)):
            raise UserError(
                f"{self.kind} {short_repr(name)} is not a subclass of {self.base.__name__}; "
                f"derive it from {self.base.__module__}.{self.base.__name__}"
            )
        return cls
