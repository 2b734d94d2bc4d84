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
names, hashes, budgets, seed counts and duplicates, and **re-scores every metric from the per-item
predictions** against the eval set's ground truth. Leaderboards use the re-scored numbers only.
"""

from __future__ import annotations

import math
import os
import re
import stat
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from rls3_bench.errors import UserError, short_repr
from rls3_bench.data.atomic import atomic_write_bytes, atomic_write_json, strict_json_loads
from rls3_bench.data.parquet import read_footer, read_table

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
GENERATOR_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}-v[0-9]{1,6}")
#: reported and re-scored metrics must agree to this (they are computed by the same code)
TOLERANCE = 1e-9
_META_FIELDS = {"schema_version", "generator", "generator_version", "code_reference", "authors", "track", "track_digest",
                "eval_set", "eval_set_hash", "budgets", "seeds", "cells", "created_at"}


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

    cells = [(folder, rec) for folder, rec in iter_records(results) if rec["track"] == track_key and rec["generator_name"] == generator]
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
        meta_cells.append({"seed": rec["seed"], "cost": rec["cost"], "wall_seconds": rec.get("wall_seconds"),
                           "reported": {str(p["budget"]): {"accuracy": p["accuracy"], "per_term": p["per_term"]} for p in rec["curve"]},
                           "provenance": rec.get("provenance", {})})
    meta = {
        "schema_version": SCHEMA_VERSION,
        "generator": generator,
        "generator_version": int(generator.rsplit("-v", 1)[1]) if "-v" in generator and generator.rsplit("-v", 1)[1].isdigit() else None,
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
            problems.append(f"unexpected file {short_repr(entry.name)}; a submission holds exactly {META_FILE} and {PRED_FILE}")
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
    missing, unknown = _META_FIELDS - set(meta), set(meta) - _META_FIELDS
    if missing or unknown:
        return None, [f"{META_FILE} fields wrong (missing: {sorted(missing)}, unknown: {sorted(unknown)})"]
    if meta["schema_version"] != SCHEMA_VERSION:
        return None, [f"submission schema_version {meta['schema_version']!r} is not {SCHEMA_VERSION}; re-pack with this release"]
    types = {"generator": str, "code_reference": str, "authors": list, "track": str, "track_digest": str, "eval_set": str,
             "eval_set_hash": str, "budgets": list, "seeds": list, "cells": list}
    bad = [k for k, t in types.items() if not isinstance(meta[k], t)]
    if bad:
        return None, [f"{META_FILE} fields of the wrong type: {bad}"]
    if not all(isinstance(s, int) and not isinstance(s, bool) for s in meta["seeds"]) or not all(isinstance(b, int) and not isinstance(b, bool) for b in meta["budgets"]):
        return None, ["seeds and budgets must be lists of integers"]
    if not GENERATOR_NAME.fullmatch(meta["generator"]):
        return None, [f"generator name {short_repr(meta['generator'])} must be letters, digits, '.', '_' or '-' ending in -vN (e.g. my-generator-v1)"]
    texts = [*meta["authors"], meta["code_reference"]]
    if not meta["authors"] or len(meta["authors"]) > 100 or not all(isinstance(t, str) and 0 < len(t) <= 300 and t.isprintable() for t in texts):
        return None, ["authors (1-100) and code_reference must be non-empty printable strings of at most 300 characters"]
    return meta, []


def _read_predictions(raw: bytes) -> tuple[list[dict] | None, list[str]]:
    import pyarrow as pa

    expected = {"seed": pa.int64(), "budget": pa.int64(), "item_id": pa.string(), "score_true": pa.float64(), "score_negative": pa.float64()}
    try:
        footer = read_footer(raw)
        decoded = sum(footer.row_group(i).total_byte_size for i in range(footer.num_row_groups))
        if footer.num_rows > MAX_PREDICTION_ROWS or decoded > MAX_DECODED_PARQUET_BYTES:
            return None, [f"{PRED_FILE} holds {footer.num_rows} rows ({decoded} bytes decoded), over the limit of {MAX_PREDICTION_ROWS} rows and {MAX_DECODED_PARQUET_BYTES} bytes"]
        table = read_table(raw)
    except (pa.ArrowException, OSError, ValueError) as exc:
        return None, [f"{PRED_FILE} is not a readable Parquet file ({' '.join(str(exc).split())[:120]})"]
    expected["predicted_terms"] = pa.list_(pa.string())
    wrong = [f"{k} ({table.schema.field(k).type if k in table.schema.names else 'missing'})" for k, t in expected.items()
             if k not in table.schema.names or table.schema.field(k).type != t]
    if wrong:
        return None, [f"{PRED_FILE} columns wrong: {wrong or ['predicted_terms missing']}; expected seed, budget (int64), item_id (string), score_true, score_negative (float64), predicted_terms (list<string>)"]
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
    if not isinstance(seconds, dict) or not all(isinstance(seconds.get(k), (int, float)) and not isinstance(seconds.get(k), bool)
                                                and seconds[k] >= 0 for k in _SECONDS):
        return f"cost.seconds needs non-negative numbers for {', '.join(_SECONDS)}"
    wall = cell.get("wall_seconds")
    if wall is not None and (not isinstance(wall, (int, float)) or isinstance(wall, bool) or wall < 0):
        return "wall_seconds must be a non-negative number or null"
    return None

@dataclass(frozen=True)
class ValidSubmission:
    meta: dict
    records: list[dict]  # record-like dicts with curves re-scored from the predictions


def validate(folder: Path, eval_items=None, track=None) -> ValidSubmission:
    """Check a submission completely; raise SubmissionError listing every problem found.

    ``track`` defaults to the built-in track the submission names (tests pass their own)."""
    from rls3_bench.analysis.metrics import item_rows, summarize
    from rls3_bench.harness.tracks import builtin_track_names, load_track

    folder = Path(folder)
    problems = _check_files(folder)
    if problems:
        raise SubmissionError(problems)
    try:
        meta_raw, pred_raw = _read_plain(folder / META_FILE, MAX_JSON_BYTES), _read_plain(folder / PRED_FILE, MAX_PARQUET_BYTES)
    except OSError as exc:
        raise SubmissionError([f"cannot read the bundle's files ({' '.join(str(exc).split())[:160]}); a submission holds two plain files"]) from None
    meta, problems = _read_meta(meta_raw)
    if problems:
        raise SubmissionError(problems)
    rows, problems = _read_predictions(pred_raw)
    if problems:
        raise SubmissionError(problems)

    tracks = {t.key: t for t in ([track] if track is not None else [load_track(n) for n in builtin_track_names()])}
    track = tracks.get(meta["track"])
    if track is None:
        raise SubmissionError([f"unknown track {meta['track']!r}; valid: {', '.join(sorted(tracks))}"])
    allowed_budgets = [set(track.budgets)] + [set(p.budgets) for p in track.presets.values()]
    if meta["eval_set_hash"] != track.eval_set_hash or meta["eval_set"] != track.eval_set:
        problems.append(f"eval set {meta['eval_set']} hash {str(meta['eval_set_hash'])[:12]} does not match track {track.key} ({track.eval_set} {track.eval_set_hash[:12]})")
    if not set(meta["budgets"]) - {0} or not any(set(meta["budgets"]) - {0} <= a for a in allowed_budgets):
        problems.append(f"budgets {meta['budgets']} are not the track's ladder or one of its presets ({sorted(track.budgets)})")
    if len(set(meta["seeds"])) != len(meta["seeds"]):
        problems.append(f"seeds repeat: {meta['seeds']}")
    if len(set(meta["seeds"])) < track.min_seeds:
        problems.append(f"{len(set(meta['seeds']))} seeds, the track needs at least {track.min_seeds}")
    top = max(meta["budgets"]) if meta["budgets"] else 0
    cells = {c["seed"]: c for c in meta["cells"] if isinstance(c, dict) and isinstance(c.get("seed"), int)}
    if set(cells) != set(meta["seeds"]) or len(cells) != len(meta["cells"]):
        problems.append("cells do not match seeds (one cell per seed)")
    for seed, c in sorted(cells.items()):
        delivered = (c.get("cost") or {}).get("samples_delivered") if isinstance(c.get("cost"), dict) else None
        if not isinstance(delivered, int) or delivered != top:
            problems.append(f"seed {seed}: the learner was trained on {short_repr(delivered)} samples, the budget is {top} (budget overrun or missing cost)")
        elif problem := _cost_problem(c):
            problems.append(f"seed {seed}: {problem}")
        if not isinstance(c.get("reported"), dict):
            problems.append(f"seed {seed}: 'reported' must map each budget to its metrics")
    if problems:
        raise SubmissionError(problems)

    if eval_items is None:
        from rls3_bench.data.evalsets import load_eval_set

        eval_items = load_eval_set(track.eval_set, track.eval_set_hash)
    grouped: dict[tuple[int, int], list[dict]] = {}
    for r in rows:
        if r["score_true"] is None or r["score_negative"] is None or not (np.isfinite(r["score_true"]) and np.isfinite(r["score_negative"])):
            problems.append(f"seed {r['seed']} budget {r['budget']} item {r['item_id']}: scores must be finite numbers")
            break
        grouped.setdefault((r["seed"], r["budget"]), []).append(r)
    expected_keys = {(s, b) for s in meta["seeds"] for b in meta["budgets"]}
    if set(grouped) != expected_keys:
        problems.append(f"predictions cover {len(grouped)} (seed, budget) cells, expected {len(expected_keys)} (every seed at every budget)")
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
                summary = summarize(item_rows(eval_items, preds))
            except ValueError as exc:
                problems.append(f"seed {seed} budget {budget}: {' '.join(str(exc).split())[:200]}")
                continue
            reported = (cells.get(seed, {}).get("reported") or {}).get(str(budget), {})  # a dict: checked above
            rep_acc = reported.get("accuracy") if isinstance(reported, dict) else None
            if not _is_finite(rep_acc) or abs(rep_acc - summary["accuracy"]) > TOLERANCE:
                problems.append(f"seed {seed} budget {budget}: reported accuracy {short_repr(rep_acc)} but the predictions give {summary['accuracy']:.6f} (tampered or stale metric)")
            curve.append({"budget": budget, **summary})
        cell = cells.get(seed, {})
        records.append({"track": track.key, "generator_name": meta["generator"], "seed": seed, "status": "complete", "curve": curve,
                        "cost": cell.get("cost", {}), "wall_seconds": cell.get("wall_seconds")})
    if problems:
        raise SubmissionError(problems)
    return ValidSubmission(meta, records)


def discover(root: Path) -> list[Path]:
    """Submission folders under ``root`` (any folder holding a submission.json)."""
    return sorted(p.parent for p in Path(root).rglob(META_FILE) if not p.is_symlink())
