"""The results store: one folder per cell with a typed RunRecord (JSON) and per-item predictions
(Parquet). Everything downstream (report, stats, leaderboards, figures, submissions) reads only these.

Layout::

    <results>/<track-key>/<generator-name>/seed-<s>/record.json
                                                   /predictions.parquet
                                                   /checkpoint/        (while the cell is running)
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rls3_bench.errors import UserError
from rls3_bench.io import atomic_write_bytes, atomic_write_json

SCHEMA_VERSION = 1
RECORD_FILE = "record.json"
PREDICTIONS_FILE = "predictions.parquet"
_REQUIRED = {"schema_version", "track", "track_digest", "generator", "seed", "eval_set", "eval_set_hash", "curve", "cost", "status"}


def cell_dir(results: Path, track_key: str, generator_name: str, seed: int) -> Path:
    return Path(results) / track_key / generator_name / f"seed-{seed}"


def provenance() -> dict[str, Any]:
    """Package versions, git revision and hardware, recorded with every run."""
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for pkg in ("rls3-bench", "numpy", "pybullet", "torch", "open_clip_torch", "transformers", "stable_baselines3", "gymnasium", "mlagents-envs", "ray"):
        try:
            versions[pkg] = version(pkg)
        except PackageNotFoundError:
            versions[pkg] = None
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=Path(__file__).parent).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        rev = None
    return {
        "versions": versions,
        "git_revision": rev,
        "hardware": {"machine": platform.machine(), "processor": platform.processor(), "cpus": os.cpu_count(), "python": platform.python_version()},
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def predictions_parquet(predictions: dict) -> bytes:
    """Per-item predictions of every evaluated budget (``{budget: [rows]}``) as one Parquet table."""
    return prediction_rows_parquet([{"budget": int(b), **p} for b, ps in predictions.items() for p in ps])


def prediction_rows_parquet(rows: list[dict]) -> bytes:
    """Prediction rows as Parquet: budget, item_id, scores, predicted_terms, and seed if rows carry
    one (submissions pool several seeds in one table)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = {"seed": pa.int64()} if rows and "seed" in rows[0] else {}
    columns.update({"budget": pa.int64(), "item_id": pa.string(), "score_true": pa.float64(), "score_negative": pa.float64(),
                    "predicted_terms": pa.list_(pa.string())})
    table = pa.table({name: pa.array([r[name] for r in rows], typ) for name, typ in columns.items()})
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    return buf.getvalue()


def read_predictions(path: Path) -> dict[int, list[dict]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        rows = pq.read_table(path).to_pylist()
    except (pa.ArrowException, OSError) as exc:
        raise UserError(f"{path} is not a readable predictions table ({str(exc).splitlines()[0]}); re-run that cell") from None
    out: dict[int, list[dict]] = {}
    for r in rows:
        out.setdefault(int(r.pop("budget")), []).append(r)
    return out


def write_record(folder: Path, record: dict, predictions: dict) -> None:
    """Predictions first, record last: a record.json on disk means the cell is complete."""
    pq_bytes = predictions_parquet(predictions)
    record = {**record, "predictions_sha256": hashlib.sha256(pq_bytes).hexdigest()}
    atomic_write_bytes(folder / PREDICTIONS_FILE, pq_bytes)
    atomic_write_json(folder / RECORD_FILE, record)


def read_record(folder: Path) -> dict:
    path = Path(folder) / RECORD_FILE
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path} is not a readable run record ({exc}); delete that cell folder and re-run it") from None
    if not isinstance(record, dict) or not _REQUIRED <= set(record) or record.get("schema_version") != SCHEMA_VERSION:
        raise UserError(f"{path} is not an rls3-bench run record of schema version {SCHEMA_VERSION}; delete that cell folder and re-run it")
    return record


def iter_records(results: Path):
    """(folder, record) for every complete cell under ``results``."""
    for path in sorted(Path(results).glob(f"*/*/seed-*/{RECORD_FILE}")):
        yield path.parent, read_record(path.parent)


@dataclass(frozen=True)
class CellKey:
    track: str
    generator: str
    seed: int
