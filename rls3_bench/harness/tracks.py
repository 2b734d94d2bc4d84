"""Tracks: named, versioned benchmark definitions (model, base weights, recipe, data, eval set,
budget ladder, seeds). A track freezes everything but the generator, so results are comparable.

Tracks are small YAML files in ``rls3_bench/tracks/`` (or a path given by the user), validated here
into a frozen :class:`Track`. Any change that alters results must bump ``version``.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from rls3_bench.errors import UserError, short_repr
from rls3_bench.data.atomic import canonical_json

_FIELDS = {"name", "version", "description", "learner", "model", "weights", "recipe", "round_size", "epochs_per_round",
           "backend", "image_size", "renderer", "eval_set", "eval_set_hash", "val_set", "budgets", "min_seeds",
           "presets", "generator_config", "device"}
_REQUIRED = {"name", "version", "learner", "model", "recipe", "round_size", "eval_set", "eval_set_hash", "budgets", "min_seeds"}
#: a track name becomes a folder name (results/<name>-v<version>/...): no separators, no dot-dot
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


@dataclass(frozen=True)
class Preset:
    """A named subset of a track's ladder and seeds (``smoke``, ``quick``, ``full``)."""

    budgets: tuple[int, ...]
    seeds: int
    eval_set: str | None = None
    eval_set_hash: str | None = None


@dataclass(frozen=True)
class Track:
    """One benchmark track.

    :param learner: learner registry name (``clip``, ``paligemma``).
    :param model: model config / architecture for the learner (``clip-tiny``, ``ViT-B-32``, ...).
    :param weights: base weights (``base`` = shipped with the package, a path, a pretrained tag).
    :param recipe: learner recipe (lr, batch size, loss weights, ...), the same for every generator.
    :param round_size: samples per round; every budget is a multiple of it.
    :param epochs_per_round: passes over each round's samples (so gradient steps per sample are fixed).
    :param eval_set, eval_set_hash: the frozen test set and its pinned content hash.
    :param val_set: the validation split (for tuning generator hyper-parameters, never the test set).
    :param budgets: the sample-budget ladder; one run per (generator, seed) evaluates at each.
    :param min_seeds: seeds a leaderboard entry needs.
    """

    name: str
    version: int
    learner: str
    model: str
    recipe: dict[str, Any]
    round_size: int
    eval_set: str
    eval_set_hash: str
    budgets: tuple[int, ...]
    min_seeds: int
    weights: str | None = "base"
    description: str = ""
    epochs_per_round: int = 1
    backend: str = "embedded"
    image_size: int = 128
    renderer: str = "tiny"
    val_set: str | None = None
    device: str = "cpu"
    presets: dict[str, Preset] = field(default_factory=dict)
    generator_config: dict[str, dict] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problems = []
        if not self.budgets or list(self.budgets) != sorted(set(self.budgets)):
            problems.append("budgets must be a strictly increasing list")
        if any(b <= 0 or b % self.round_size for b in self.budgets):
            problems.append(f"every budget must be a positive multiple of round_size {self.round_size}")
        for name, p in self.presets.items():
            if any(b not in self.budgets for b in p.budgets) or not p.budgets:
                problems.append(f"preset {name}'s budgets {short_repr(list(p.budgets))} must be a non-empty subset of the track's")
        if problems:
            raise UserError(f"track {self.name}: {'; '.join(problems)}; fix the track file")

    @property
    def key(self) -> str:
        return f"{self.name}-v{self.version}"

    def with_preset(self, preset: str | None) -> "Track":
        """The track restricted to a preset's budgets (seeds are chosen by the caller)."""
        if preset is None:
            return self
        if preset not in self.presets:
            raise UserError(f"track {self.name} has no preset {short_repr(preset)}; valid: {', '.join(sorted(self.presets)) or '(none)'}")
        p = self.presets[preset]
        return replace(self, budgets=p.budgets, eval_set=p.eval_set or self.eval_set,
                       eval_set_hash=p.eval_set_hash or self.eval_set_hash, presets={})

    def to_dict(self) -> dict:
        """JSON-native form (lists, not tuples): ``track_from_dict(t.to_dict()) == t``."""
        import json
        from dataclasses import asdict

        return json.loads(json.dumps(asdict(self)))

    def digest(self) -> str:
        return hashlib.sha256(canonical_json(self.to_dict()).encode()).hexdigest()


def builtin_track_names() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files("rls3_bench").joinpath("tracks").iterdir() if p.name.endswith(".yaml"))


def load_track(name_or_path: str) -> Track:
    """A built-in track by name (``clip-tiny``) or a YAML file path; one clear error if malformed."""
    import yaml

    path = Path(name_or_path)
    if name_or_path.endswith((".yaml", ".yml")) or path.is_file():
        if not path.is_file():
            raise UserError(f"track file {path} does not exist; check the path")
        text = path.read_text(encoding="utf-8", errors="replace")
    else:
        names = builtin_track_names()
        if name_or_path not in names:
            raise UserError(f"unknown track {short_repr(name_or_path)}; built-in tracks: {', '.join(names)} (or give a .yaml path)")
        text = resources.files("rls3_bench").joinpath("tracks", f"{name_or_path}.yaml").read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        raise UserError(f"track {name_or_path} is not valid YAML ({(str(exc).splitlines() or [type(exc).__name__])[0][:100]}); fix the file") from None
    return track_from_dict(data, name_or_path)


def _json_problem(value: Any, where: str) -> str | None:
    """Where ``value`` is not plain JSON data (string keys; finite numbers), or None."""
    if isinstance(value, dict):
        for k, v in value.items():
            problem = (f"{where} has a non-string key {short_repr(k)}" if not isinstance(k, str)
                       else _json_problem(v, f"{where}.{k}" if k.isidentifier() else f"{where}[{short_repr(k)}]"))
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
    unknown, missing = set(data) - _FIELDS, _REQUIRED - set(data)
    if unknown or missing:
        raise UserError(f"{source}: track fields wrong (missing: {sorted(missing)}, unknown: {short_repr(sorted(map(str, unknown)))})")
    checks = {
        "name": str, "version": int, "learner": str, "model": str, "recipe": dict, "round_size": int,
        "eval_set": str, "eval_set_hash": str, "budgets": list, "min_seeds": int, "epochs_per_round": int,
        "image_size": int, "presets": dict, "generator_config": dict, "weights": (str, type(None)), "description": str,
        "backend": str, "renderer": str, "val_set": (str, type(None)), "device": str,
    }
    for key, typ in checks.items():
        if key in data and (not isinstance(data[key], typ) or isinstance(data[key], bool)):
            name = " or ".join(t.__name__ for t in typ) if isinstance(typ, tuple) else typ.__name__
            raise UserError(f"{source}: field {key!r} must be a {name}, got {short_repr(data[key])}")
    if problem := _json_problem(data, "track"):
        raise UserError(f"{source}: {problem[:200]}; a track holds only strings, finite numbers, booleans, lists and mappings with string keys")
    if not _NAME.fullmatch(data["name"]):
        raise UserError(f"{source}: name {short_repr(data['name'])} must be 1-64 letters, digits, '.', '_' or '-' (it names a results folder)")
    if any(not isinstance(b, int) or isinstance(b, bool) for b in data["budgets"]):
        raise UserError(f"{source}: budgets must be integers, got {short_repr(data['budgets'])}")
    for key in ("round_size", "min_seeds", "epochs_per_round", "image_size", "version"):
        if key in data and data[key] <= 0:
            raise UserError(f"{source}: {key} must be positive, got {data[key]}")
    presets = {}
    for pname, p in (data.get("presets") or {}).items():
        if not isinstance(p, dict) or set(p) - {"budgets", "seeds", "eval_set", "eval_set_hash"} or "budgets" not in p or "seeds" not in p:
            raise UserError(f"{source}: preset {short_repr(pname)} needs 'budgets' and 'seeds' (optional eval_set, eval_set_hash)")
        if not isinstance(p["seeds"], int) or isinstance(p["seeds"], bool) or p["seeds"] <= 0 or not isinstance(p["budgets"], list):
            raise UserError(f"{source}: preset {short_repr(pname)} needs a positive integer 'seeds' and a list 'budgets'")
        if any(not isinstance(p.get(k), (str, type(None))) for k in ("eval_set", "eval_set_hash")):
            raise UserError(f"{source}: preset {short_repr(pname)}'s eval_set and eval_set_hash must be strings")
        presets[pname] = Preset(tuple(p["budgets"]), p["seeds"], p.get("eval_set"), p.get("eval_set_hash"))
    fields = {k: v for k, v in data.items() if k not in ("budgets", "presets")}
    return Track(budgets=tuple(data["budgets"]), presets=presets, **fields)
