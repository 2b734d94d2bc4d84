"""Tracks: named, versioned benchmark definitions (model, base weights, recipe, data, eval set,
budget ladder, seeds). A track freezes everything but the generator, so results are comparable.

Tracks are small YAML files in ``rls3_bench/tracks/`` (or a path given by the user), validated here
into a frozen :class:`Track`. Any change that alters results must bump ``version``: ``<name>.yaml``
holds the current version, and the file of each earlier version moves to
``tracks/previous/<name>-v<N>.yaml``, so submissions made on it still validate and reproduce.
A track is named by ``<name>`` (its current version) or by its key ``<name>-v<N>`` (any version).
"""

from __future__ import annotations

import math
from importlib import resources
from pathlib import Path
from typing import Any

from rls3_bench.errors import UserError, short_repr
from rls3_bench.harness.formats import Preset, Track, validate

__all__ = ["Preset", "Track", "builtin_track_keys", "builtin_track_names", "load_track", "track_from_dict"]


def _yaml_stems(folder) -> list[str]:
    if not folder.is_dir():
        return []
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def builtin_track_names() -> list[str]:
    """The built-in tracks, by name (each at its current version)."""
    return _yaml_stems(resources.files("rls3_bench").joinpath("tracks"))


def builtin_track_keys() -> list[str]:
    """Every released version of every built-in track, by key (``clip-tiny-v2``): what committed
    submissions may name."""
    current = [load_track(n).key for n in builtin_track_names()]
    return sorted({*current, *_yaml_stems(resources.files("rls3_bench").joinpath("tracks", "previous"))})


def load_track(name_or_path: str) -> Track:
    """A built-in track by name (``clip-tiny``) or a YAML file path; one clear error if malformed."""
    import yaml

    path = Path(name_or_path)
    if name_or_path.endswith((".yaml", ".yml")) or path.is_file():
        if not path.is_file():
            raise UserError(f"track file {path} does not exist; check the path")
        text = path.read_text(encoding="utf-8", errors="replace")
    else:
        text = _builtin_text(name_or_path)
    try:
        data = yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        raise UserError(
            f"track {name_or_path} is not valid YAML ({(str(exc).splitlines() or [type(exc).__name__])[0][:100]}); "
            "fix the file"
        ) from None
    return track_from_dict(data, name_or_path)


def _builtin_text(name: str) -> str:
    """The YAML of a built-in track named by name (current version) or key (any released version)."""
    folder = resources.files("rls3_bench").joinpath("tracks")
    names = builtin_track_names()
    if name in names:
        return folder.joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    if name in _yaml_stems(folder.joinpath("previous")):
        return folder.joinpath("previous", f"{name}.yaml").read_text(encoding="utf-8")
    base, _, version = name.rpartition("-v")
    if base in names and version.isdigit():
        text = folder.joinpath(f"{base}.yaml").read_text(encoding="utf-8")
        if load_track(base).version == int(version):
            return text
    raise UserError(
        f"unknown track {short_repr(name)}; built-in tracks: {', '.join(names)}, "
        f"or a version by key: {', '.join(builtin_track_keys())} (or give a .yaml path)"
    )


def _json_problem(value: Any, where: str) -> str | None:
    """Where ``value`` is not plain JSON data (string keys; finite numbers), or None."""
    if isinstance(value, dict):
        for k, v in value.items():
            problem = (
                f"{where} has a non-string key {short_repr(k)}"
                if not isinstance(k, str)
                else _json_problem(v, f"{where}.{k}" if k.isidentifier() else f"{where}[{short_repr(k)}]")
            )
            if problem:
                return problem
    elif isinstance(value, list):
        for i, v in enumerate(value):
            if problem := _json_problem(v, f"{where}[{i}]"):
                return problem
    elif isinstance(value, float) and not math.isfinite(value):
        return f"{where} is {value}"
    elif value is not None and not isinstance(value, (str, int, float, bool)):
        return f"{where} is a {type(value).__name__} ({short_repr(value)})"
    return None


def track_from_dict(data: Any, source: str = "track") -> Track:
    if not isinstance(data, dict):
        raise UserError(f"{source}: a track must be a YAML mapping; see rls3_bench/tracks/clip-tiny.yaml")
    if problem := _json_problem(data, "track"):
        raise UserError(
            f"{source}: {problem[:200]}; "
            "a track holds only strings, finite numbers, booleans, lists and mappings with string keys"
        )
    return validate(Track, data, source, "fix the track file (see rls3_bench/tracks/clip-tiny.yaml)")
