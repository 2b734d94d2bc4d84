"""User-facing errors.

Every problem a user can fix (bad input, a missing file or dependency, a wrong hash) raises a
:class:`UserError` whose message is one line naming the problem and the fix. The CLI prints that line
and exits non-zero; it never shows a traceback for a ``UserError``. Library code never calls
``sys.exit``.
"""

from __future__ import annotations


def short_repr(value, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, so an error message quoting input stays one short line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class UserError(Exception):
    """A problem the user can fix; ``str(err)`` is the one line the CLI prints."""


class SpecError(UserError):
    """A malformed or out-of-range SceneSpec, or an unknown asset/room."""


class PlacementError(UserError):
    """A SceneSpec whose objects cannot be placed (nothing to stand on, outside the room)."""


class MissingDependencyError(UserError):
    """An optional dependency is not installed; the message names the pip command."""


def require(module: str, extra: str):
    """Import ``module`` or raise a :class:`MissingDependencyError` naming the extra to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - exercised by the install matrix
        raise MissingDependencyError(
            f"optional dependency '{module}' is missing ({exc}); install it with: "
            f'pip install -c constraints.txt -e ".[{extra}]"'
        ) from None
