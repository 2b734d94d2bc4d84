"""Contributed submissions: pack run records into a data-only bundle, validate it, score it.

A submission is a folder with exactly two files:

* ``submission.json`` - who and what: generator name and version, code reference, authors, the
  track key and digest, the eval set and its hash, budgets, seeds, and per seed the generation cost
  and the *reported* metrics;
* ``predictions.parquet`` - per seed, budget and eval item: the scores of the true and corrupted
  captions (and parsed answer terms for generative learners).

Validation never executes submitted code and never unpickles: it reads JSON with ``json`` (size and
depth limited, no duplicate keys, no NaN/Infinity) and Parquet with ``pyarrow`` from bytes already in
memory (row and uncompressed-size limits checked from the footer before decoding), opens files
without following symlinks, refuses symlinks, extra files and oversized files or bundles, checks
names, the track's digest and the eval set's hash, budgets, seed counts, duplicated seeds (two seeds
with identical predictions at every trained budget), the cost's internal consistency, and
**re-scores every reported metric (overall and per term) from the per-item predictions** against the
eval set's ground truth. Leaderboards use the re-scored numbers only.

Data-only checks cannot catch a bundle forged consistently (predictions, metrics and cost made up
together); :mod:`rls3_bench.analysis.reproduce` re-runs seeds of a submission from its generator and
compares the predictions.
"""

from __future__ import annotations

import math
import os
import re
import stat
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from rls3_bench.data.atomic import atomic_write_bytes, atomic_write_json, strict_json_loads
from rls3_bench.data.parquet import read_footer, read_table
from rls3_bench.errors import UserError, short_repr

SCHEMA_VERSION = 1
META_FILE = "submission.json"
PRED_FILE = "predictions.parquet"
MAX_JSON_BYTES = 2 * 1024 * 1024
MAX_PARQUET_BYTES = 64 * 1024 * 1024
MAX_JSON_DEPTH = 20
#: the two files together
MAX_BUNDLE_BYTES = 64 * 1024 * 1024
#: prediction rows (seeds x budgets x eval items; the full CLIP track needs 43,200) and their decoded size
MAX_PREDICTION_ROWS = 500_000
MAX_DECODED_PARQUET_BYTES = 256 * 1024 * 1024
#: names quoted in leaderboard tables: letters, digits, '.', '_', '-', ending in the -vN version
GENERATOR_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}-v([0-9]{1,6})")
#: where the generator's code lives: an http(s) URL pinned with @<commit> (6-40 hex digits), or a
#: package pinned with ==<version>; a reviewer must be able to fetch exactly the code that ran
CODE_REFERENCE = re.compile(
    r"https?://[^\s@]+@[0-9a-fA-F]{6,40}|[A-Za-z0-9][A-Za-z0-9._-]*==[A-Za-z0-9][A-Za-z0-9.+!_-]*"
)
#: reported and re-scored metrics must agree to this (they are computed by the same code)
TOLERANCE = 1e-9


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ReportedMetrics(_Strict):
    """The metrics a submission claims at one budget; each is re-scored from the predictions."""

    accuracy: float
    per_term: dict[str, float]


class SubmissionCell(_Strict):
    """One seed of a submission: its generation cost and its reported metrics per budget."""

    seed: StrictInt = Field(ge=0)
    cost: dict
    wall_seconds: float | None = Field(default=None, ge=0)
    reported: dict[str, ReportedMetrics]
    provenance: dict = Field(default_factory=dict)


class SubmissionMeta(_Strict):
    """``submission.json``: who made the submission, what ran, and what it claims."""

    schema_version: StrictInt
    generator: str
    generator_version: StrictInt
    code_reference: str = Field(min_length=1, max_length=300)
    authors: list[str] = Field(min_length=1, max_length=100)
    track: str = Field(max_length=200)
    track_digest: str = Field(pattern=r"^[0-9a-f]{64}$")
    eval_set: str = Field(max_length=200)
    eval_set_hash: str = Field(max_length=200)
    budgets: list[StrictInt] = Field(min_length=1, max_length=100)
    seeds: list[StrictInt] = Field(min_length=1, max_length=1000)
    cells: list[SubmissionCell] = Field(max_length=1000)
    created_at: str = Field(max_length=64)
    control: StrictBool = False  # runs of a registered control generator: reference rows on the board, never ranked

    @field_validator("schema_version")
    @classmethod
    def _schema(cls, v: int) -> int:
        if v != SCHEMA_VERSION:
            raise ValueError(f"schema_version {v} is not {SCHEMA_VERSION}; re-pack with this release")
        return v

    @field_validator("generator")
    @classmethod
    def _name(cls, v: str) -> str:
        if not GENERATOR_NAME.fullmatch(v):
            raise ValueError(
                f"generator name {short_repr(v)} must be letters, digits, '.', '_' or '-' ending in -vN (e.g. "
                "my-generator-v1)"
            )
        return v

    @field_validator("authors")
    @classmethod
    def _authors(cls, v: list[str]) -> list[str]:
        if not all(0 < len(a) <= 300 and a.isprintable() for a in v):
            raise ValueError("authors (1-100) must be non-empty printable strings of at most 300 characters")
        return v

    @field_validator("code_reference")
    @classmethod
    def _code_reference(cls, v: str) -> str:
        if not CODE_REFERENCE.fullmatch(v):
            raise ValueError(
                f"code_reference {short_repr(v)} must be a URL pinned to a commit (https://host/repo@<commit>) "
                "or a pinned package (name==version)"
            )
        return v

    @model_validator(mode="after")
    def _version_matches_name(self) -> SubmissionMeta:
        if self.generator_version != int(GENERATOR_NAME.fullmatch(self.generator).group(1)):
            raise ValueError(f"generator_version {self.generator_version} is not the -vN of the name {self.generator}")
        return self


def _pydantic_problems(exc: ValidationError) -> list[str]:
    """One line per field pydantic refused: where, and what it wanted."""
    out = []
    for err in exc.errors()[:10]:
        where = ".".join(str(x) for x in err["loc"]) or "(document)"
        msg = err["msg"].removeprefix("Value error, ")
        out.append(f"{META_FILE} field {short_repr(where, 80)}: {msg}")
    if exc.error_count() > 10:
        out.append(f"... and {exc.error_count() - 10} more fields refused")
    return out


class SubmissionError(UserError):
    """A submission failed validation; ``problems`` lists every reason, one line each."""

    def __init__(self, problems: list[str]):
        if len(problems) > 20:
            problems = problems[:20] + [f"... and {len(problems) - 20} more problems"]
        self.problems = problems
        super().__init__(problems[0] if len(problems) == 1 else f"{len(problems)} problems: " + "; ".join(problems))


# --- packing ------------------------------------------------------------------------------------
def pack(results: Path, track_key: str, generator: str, out: Path, authors: list[str], code_reference: str) -> Path:
    """Bundle the complete records of ``generator`` on ``track_key`` under ``results`` into ``out``."""
    from rls3_bench.harness.records import PREDICTIONS_FILE, iter_records, prediction_rows_parquet, read_predictions

    cells = [
        (folder, rec)
        for folder, rec in iter_records(results)
        if rec["track"] == track_key and rec["generator_name"] == generator
    ]
    if not cells:
        raise UserError(f"no complete runs of {generator} on {track_key} under {results}; run them first")
    failed = [rec["seed"] for _, rec in cells if rec["status"] != "complete"]
    if failed:
        raise UserError(f"runs of {generator} failed for seeds {failed}; only complete runs can be submitted")
    first = cells[0][1]
    rows: dict[str, list[dict]] = {}
    meta_cells = []
    for folder, rec in cells:
        for budget, preds in read_predictions(folder / PREDICTIONS_FILE, rec.get("predictions_sha256")).items():
            rows.setdefault(f"{rec['seed']}:{budget}", []).extend(preds)
        meta_cells.append(
            {
                "seed": rec["seed"],
                "cost": rec["cost"],
                "wall_seconds": rec.get("wall_seconds"),
                "reported": {
                    str(p["budget"]): {"accuracy": p["accuracy"], "per_term": p["per_term"]} for p in rec["curve"]
                },
                # the thread count is part of what makes a re-run bit-identical (rls3-bench reproduce)
                "provenance": {**rec.get("provenance", {}), "torch_threads": rec.get("torch_threads")},
            }
        )
    meta = {
        "schema_version": SCHEMA_VERSION,
        "generator": generator,
        "generator_version": int(generator.rsplit("-v", 1)[1])
        if "-v" in generator and generator.rsplit("-v", 1)[1].isdigit()
        else None,
        "code_reference": code_reference,
        "authors": authors,
        "track": track_key,
        "track_digest": first["track_digest"],
        "eval_set": first["eval_set"],
        "eval_set_hash": first["eval_set_hash"],
        "budgets": sorted({int(b) for c in meta_cells for b in c["reported"]}),
        "seeds": sorted(c["seed"] for c in meta_cells),
        "cells": sorted(meta_cells, key=lambda c: c["seed"]),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if first.get("control"):
        meta["control"] = True  # written only for controls, so other submissions keep their content
    table = []
    for key, ps in rows.items():
        seed, budget = key.split(":")
        table += [{"seed": int(seed), "budget": int(budget), **p} for p in ps]
    out = Path(out)
    atomic_write_bytes(out / PRED_FILE, prediction_rows_parquet(table))
    atomic_write_json(out / META_FILE, meta)
    return out


# --- reading, data only -------------------------------------------------------------------------
def _depth(obj, limit: int, level: int = 0) -> int:
    if level > limit:
        return level
    if isinstance(obj, dict):
        return max([_depth(v, limit, level + 1) for v in obj.values()] or [level])
    if isinstance(obj, list):
        return max([_depth(v, limit, level + 1) for v in obj] or [level])
    return level


def _check_files(folder: Path) -> list[str]:
    if folder.is_symlink() or not folder.is_dir():
        return [f"{folder} is not a submission folder (a real directory holding {META_FILE} and {PRED_FILE})"]
    problems = []
    names = set()
    for entry in os.scandir(folder):
        if len(problems) >= 10:
            problems.append("more unexpected entries follow; a submission holds exactly two files")
            break
        names.add(entry.name)
        if entry.is_symlink():
            problems.append(f"{entry.name} is a symlink; a submission holds plain files only")
        elif not entry.is_file(follow_symlinks=False):
            problems.append(f"{entry.name} is not a plain file; a submission holds exactly {META_FILE} and {PRED_FILE}")
        elif entry.name not in (META_FILE, PRED_FILE):
            problems.append(
                f"unexpected file {short_repr(entry.name)}; a submission holds exactly {META_FILE} and {PRED_FILE}"
            )
    for name, limit in ((META_FILE, MAX_JSON_BYTES), (PRED_FILE, MAX_PARQUET_BYTES)):
        if name not in names:
            problems.append(f"{name} is missing")
        elif (folder / name).is_file() and not (folder / name).is_symlink() and (folder / name).stat().st_size > limit:
            problems.append(f"{name} is {(folder / name).stat().st_size} bytes, over the {limit}-byte limit")
    if not problems and sum((folder / n).stat().st_size for n in names) > MAX_BUNDLE_BYTES:
        problems.append(f"the bundle is over the {MAX_BUNDLE_BYTES}-byte limit for both files together")
    return problems


def _read_plain(path: Path, limit: int) -> bytes:
    """The bytes of a regular file, opened without following a symlink (so a file swapped for one
    after the folder was checked is refused too) and read no further than ``limit``."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path.name} is not a plain file")
        with os.fdopen(os.dup(fd), "rb") as fh:
            data = fh.read(limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise OSError(f"{path.name} is over the {limit}-byte limit")
    return data


def _read_meta(raw: bytes) -> tuple[dict | None, list[str]]:
    try:
        meta = strict_json_loads(raw)
    except (ValueError, RecursionError) as exc:  # ValueError: bad JSON or UTF-8, duplicates, NaN, > 4300-digit integers
        return None, [f"{META_FILE} is not valid UTF-8 JSON ({' '.join(str(exc).split())[:120]})"]
    if _depth(meta, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        return None, [f"{META_FILE} nests deeper than {MAX_JSON_DEPTH} levels"]
    if not isinstance(meta, dict):
        return None, [f"{META_FILE} must hold a JSON object"]
    try:
        return SubmissionMeta.model_validate(meta).model_dump(), []
    except ValidationError as exc:
        return None, _pydantic_problems(exc)


def _read_predictions(raw: bytes) -> tuple[list[dict] | None, list[str]]:
    import pyarrow as pa

    expected = {
        "seed": pa.int64(),
        "budget": pa.int64(),
        "item_id": pa.string(),
        "score_true": pa.float64(),
        "score_negative": pa.float64(),
    }
    try:
        footer = read_footer(raw)
        decoded = sum(footer.row_group(i).total_byte_size for i in range(footer.num_row_groups))
        if footer.num_rows > MAX_PREDICTION_ROWS or decoded > MAX_DECODED_PARQUET_BYTES:
            return None, [
                f"{PRED_FILE} holds {footer.num_rows} rows ({decoded} bytes decoded), over the limit of "
                f"{MAX_PREDICTION_ROWS} rows and {MAX_DECODED_PARQUET_BYTES} bytes"
            ]
        table = read_table(raw)
    except (pa.ArrowException, OSError, ValueError) as exc:
        return None, [f"{PRED_FILE} is not a readable Parquet file ({' '.join(str(exc).split())[:120]})"]
    expected["predicted_terms"] = pa.list_(pa.string())
    wrong = [
        f"{k} ({table.schema.field(k).type if k in table.schema.names else 'missing'})"
        for k, t in expected.items()
        if k not in table.schema.names or table.schema.field(k).type != t
    ]
    if wrong:
        return None, [
            f"{PRED_FILE} columns wrong: {wrong or ['predicted_terms missing']}; expected seed, budget (int64), "
            "item_id (string), score_true, score_negative (float64), predicted_terms (list<string>)"
        ]
    return table.to_pylist(), []


# --- validation ---------------------------------------------------------------------------------
_COUNTERS = ("samples_delivered", "scenes_rendered", "invalid_scenes", "feedback_queries", "rl_env_steps", "rl_updates")
_SECONDS = ("render", "label_caption", "feedback", "agent", "train", "eval")


def _is_finite(x) -> bool:
    try:
        return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
    except OverflowError:  # an integer too large for a float
        return False


def _cost_problem(cell: dict) -> str | None:
    """What the leaderboard's cost columns would trip on in a cell, or None."""
    cost = cell["cost"]
    if not all(isinstance(cost.get(k), int) and not isinstance(cost.get(k), bool) and cost[k] >= 0 for k in _COUNTERS):
        return f"cost needs non-negative integer counters {', '.join(_COUNTERS)}"
    seconds = cost.get("seconds")
    if not isinstance(seconds, dict) or not all(
        isinstance(seconds.get(k), (int, float)) and not isinstance(seconds.get(k), bool) and seconds[k] >= 0
        for k in _SECONDS
    ):
        return f"cost.seconds needs non-negative numbers for {', '.join(_SECONDS)}"
    # every delivered sample is one valid render (a fresh one or one the harness's cache answered),
    # and every RL update follows an environment step: a cost forged low breaks these
    hits = cost.get("render_cache_hits", 0)
    if not isinstance(hits, int) or isinstance(hits, bool) or hits < 0:
        return "cost.render_cache_hits must be a non-negative integer when present"
    valid = cost["scenes_rendered"] + hits - cost["invalid_scenes"]
    if cost["invalid_scenes"] > cost["scenes_rendered"] or valid < cost["samples_delivered"]:
        return (
            f"cost is inconsistent: {cost['scenes_rendered']} scenes rendered, {cost['invalid_scenes']} invalid, "
            f"cannot have delivered {cost['samples_delivered']} samples (one valid scene per sample)"
        )
    if cost["rl_updates"] > cost["rl_env_steps"]:
        return f"cost is inconsistent: {cost['rl_updates']} RL updates from {cost['rl_env_steps']} environment steps"
    return None


def track_variant(track, digest: str):
    """The track (or the track restricted to one of its presets) whose digest is ``digest``, or None."""
    variants = [track, *(track.with_preset(name) for name in sorted(track.presets))]
    return next((t for t in variants if t.digest() == digest), None)


def _copied_seeds(grouped: dict[tuple[int, int], list[dict]], seeds: list[int], budgets: list[int]) -> list[str]:
    """A seed whose predictions equal an earlier seed's at every trained budget is a copy: it would
    count twice in every interval and test. (Budget 0 is the shared base model, the same for all seeds.)"""

    def fingerprint(seed: int):
        cells = [
            sorted((r["item_id"], r["score_true"], r["score_negative"]) for r in grouped.get((seed, b), []))
            for b in budgets
        ]
        return tuple(tuple(c) for c in cells) if budgets and all(cells) else None

    first_of: dict = {}
    problems = []
    for seed in sorted(set(seeds)):
        fp = fingerprint(seed)
        if fp is None:
            continue
        if fp in first_of:
            problems.append(
                f"seed {seed}'s predictions are identical to seed {first_of[fp]}'s at every budget; "
                "a copied seed is not an independent run: submit distinct runs"
            )
        else:
            first_of[fp] = seed
    return problems


def _rescore_problems(reported: dict, summary: dict) -> list[str]:
    """Each reported metric (overall and per term) against the one re-scored from the predictions."""
    problems = []
    if abs(reported["accuracy"] - summary["accuracy"]) > TOLERANCE:
        problems.append(
            f"reported accuracy {short_repr(reported['accuracy'])} but the predictions give "
            f"{summary['accuracy']:.6f} (tampered or stale metric)"
        )
    if set(reported["per_term"]) != set(summary["per_term"]):
        problems.append(f"reported per-term accuracy must name exactly the terms {sorted(summary['per_term'])}")
        return problems
    wrong = [t for t, v in sorted(reported["per_term"].items()) if not abs(v - summary["per_term"][t]) <= TOLERANCE]
    if wrong:
        t = wrong[0]
        problems.append(
            f"reported accuracy on '{t}' {short_repr(reported['per_term'][t])} but the predictions give "
            f"{summary['per_term'][t]:.6f}"
            + (f" ({len(wrong) - 1} more terms differ)" if len(wrong) > 1 else "")
            + " (tampered or stale metric)"
        )
    return problems


@dataclass(frozen=True)
class ValidSubmission:
    meta: dict
    records: list[dict]  # record-like dicts with curves re-scored from the predictions


def _registered_control(name: str) -> bool:
    """Whether ``name`` is a registered generator whose class says it is a control."""
    from rls3_bench.generator import generator_names, get_generator_class

    return name in generator_names() and bool(get_generator_class(name).control)


def validate(folder: Path, eval_items=None, track=None) -> ValidSubmission:
    """Check a submission completely; raise SubmissionError listing every problem found.

    ``track`` defaults to the built-in track the submission names (tests pass their own)."""
    from rls3_bench.analysis.metrics import item_rows, slice_accuracies, summarize
    from rls3_bench.harness.tracks import builtin_track_keys, load_track

    folder = Path(folder)
    problems = _check_files(folder)
    if problems:
        raise SubmissionError(problems)
    try:
        meta_raw, pred_raw = (
            _read_plain(folder / META_FILE, MAX_JSON_BYTES),
            _read_plain(folder / PRED_FILE, MAX_PARQUET_BYTES),
        )
    except OSError as exc:
        raise SubmissionError(
            [f"cannot read the bundle's files ({' '.join(str(exc).split())[:160]}); a submission holds two plain files"]
        ) from None
    meta, problems = _read_meta(meta_raw)
    if problems:
        raise SubmissionError(problems)
    rows, problems = _read_predictions(pred_raw)
    if problems:
        raise SubmissionError(problems)

    tracks = {t.key: t for t in ([track] if track is not None else [load_track(k) for k in builtin_track_keys()])}
    track = tracks.get(meta["track"])
    if track is None:
        raise SubmissionError([f"unknown track {meta['track']!r}; valid: {', '.join(sorted(tracks))}"])
    ran = track_variant(track, meta["track_digest"])
    if ran is None:
        problems.append(
            f"track_digest {meta['track_digest'][:12]} is not the digest of track {track.key} ({track.digest()[:12]}) "
            "or of one of its presets; the runs used a changed track file: re-run with the unchanged track"
        )
    else:
        if meta["eval_set_hash"] != ran.eval_set_hash or meta["eval_set"] != ran.eval_set:
            problems.append(
                f"eval set {meta['eval_set']} hash {str(meta['eval_set_hash'])[:12]} does not match track "
                f"{track.key} ({ran.eval_set} {ran.eval_set_hash[:12]})"
            )
        if sorted(meta["budgets"]) != [0, *ran.budgets]:
            problems.append(
                f"budgets {short_repr(meta['budgets'])} are not 0 and the ladder {list(ran.budgets)} of the track "
                "the runs used"
            )
    if meta.get("control") and not _registered_control(meta["generator"]):
        problems.append(
            f"control is true but {meta['generator']} is not a registered control generator; only the built-in "
            "controls (rls3-bench ls) are reference rows: re-pack without the control flag"
        )
    if len(set(meta["seeds"])) != len(meta["seeds"]):
        problems.append(f"seeds repeat: {short_repr(meta['seeds'])}")
    if len(set(meta["seeds"])) < track.min_seeds:
        problems.append(f"{len(set(meta['seeds']))} seeds, the track needs at least {track.min_seeds}")
    top = max(meta["budgets"])
    cells = {c["seed"]: c for c in meta["cells"]}
    if set(cells) != set(meta["seeds"]) or len(cells) != len(meta["cells"]):
        problems.append("cells do not match seeds (one cell per seed)")
    for seed, c in sorted(cells.items()):
        delivered = c["cost"].get("samples_delivered")
        if not isinstance(delivered, int) or delivered != top:
            problems.append(
                f"seed {seed}: the learner was trained on {short_repr(delivered)} samples, the budget is {top} "
                "(budget overrun or missing cost)"
            )
        elif problem := _cost_problem(c):
            problems.append(f"seed {seed}: {problem}")
        if set(c["reported"]) != {str(b) for b in meta["budgets"]}:
            problems.append(f"seed {seed}: 'reported' must hold the metrics of every budget {sorted(meta['budgets'])}")
    if problems:
        raise SubmissionError(problems)

    bad = next((r for r in rows if not all(_is_finite(r[k]) for k in ("score_true", "score_negative"))), None)
    if bad is not None:
        n_bad = sum(not all(_is_finite(r[k]) for k in ("score_true", "score_negative")) for r in rows)
        raise SubmissionError(
            [
                f"{n_bad} prediction rows have a missing, NaN or infinite score (first: seed {bad['seed']} budget "
                f"{bad['budget']} item {short_repr(bad['item_id'])}); every score must be a finite number"
            ]
        )
    if eval_items is None:
        from rls3_bench.data.evalsets import load_eval_set

        eval_items = load_eval_set(track.eval_set, track.eval_set_hash)
    grouped: dict[tuple[int, int], list[dict]] = {}
    for r in rows:
        grouped.setdefault((r["seed"], r["budget"]), []).append(r)
    expected_keys = {(s, b) for s in meta["seeds"] for b in meta["budgets"]}
    if set(grouped) != expected_keys:
        problems.append(
            f"predictions cover {len(grouped)} (seed, budget) cells, expected {len(expected_keys)} (every seed at "
            "every budget)"
        )
    problems += _copied_seeds(grouped, meta["seeds"], [b for b in meta["budgets"] if b > 0])
    records = []
    for seed in sorted(set(meta["seeds"])):
        curve = []
        for budget in sorted(meta["budgets"]):
            preds = grouped.get((seed, budget))
            if preds is None:
                continue
            ids = [p["item_id"] for p in preds]
            if len(set(ids)) != len(ids):
                problems.append(f"seed {seed} budget {budget}: {len(ids) - len(set(ids))} duplicated items")
                continue
            try:
                item_table = item_rows(eval_items, preds)
            except ValueError as exc:
                problems.append(f"seed {seed} budget {budget}: {' '.join(str(exc).split())[:200]}")
                continue
            summary = summarize(item_table)
            problems += [
                f"seed {seed} budget {budget}: {p}"
                for p in _rescore_problems(cells[seed]["reported"][str(budget)], summary)
            ]
            curve.append({"budget": budget, **summary})
            if budget == top:
                slices = {"budget": budget, "accuracy": slice_accuracies(eval_items, item_table)}
        records.append(
            {
                "track": track.key,
                "generator_name": meta["generator"],
                "seed": seed,
                "status": "complete",
                "curve": curve,
                "cost": cells[seed]["cost"],
                "wall_seconds": cells[seed]["wall_seconds"],
                "control": bool(meta.get("control")),
                **({"slices": slices} if curve and curve[-1]["budget"] == top else {}),
            }
        )
    if problems:
        raise SubmissionError(problems)
    return ValidSubmission(meta, records)


def read_bundle_rows(folder: Path) -> list[dict]:
    """The prediction rows of a bundle that :func:`validate` accepted."""
    rows, problems = _read_predictions(_read_plain(Path(folder) / PRED_FILE, MAX_PARQUET_BYTES))
    if problems:
        raise SubmissionError(problems)
    return rows


def collect(root: Path) -> tuple[dict[str, list[tuple[Path, ValidSubmission]]], list[str]]:
    """The valid submissions under ``root`` by track, and one line per bundle left out. A bundle
    counts only at ``root/<its track>/<its generator>/``, so each generator has one entry per track:
    a copy placed elsewhere, claiming another generator's name, cannot add to or change that entry."""
    root = Path(root)
    by_track: dict[str, list[tuple[Path, ValidSubmission]]] = {}
    skipped = []
    for folder in discover(root):
        try:
            sub = validate(folder)
        except SubmissionError as exc:
            skipped.append(f"invalid {folder}: {exc.problems[0]}")
            continue
        track, generator = sub.meta["track"], sub.meta["generator"]
        if folder.relative_to(root).parts != (track, generator):
            skipped.append(
                f"misplaced {folder}: it holds {generator} on {track}, whose place is {root / track / generator}; "
                "move it there (one entry per generator and track)"
            )
            continue
        by_track.setdefault(track, []).append((folder, sub))
    return by_track, skipped


def discover(root: Path) -> list[Path]:
    """Submission folders under ``root`` (any folder holding a submission.json)."""
    return sorted(p.parent for p in Path(root).rglob(META_FILE) if not p.is_symlink())
