"""The results store: one folder per cell with a RunRecord (JSON, :mod:`rls3_bench.harness.formats`) and
per-item predictions (Parquet). Everything downstream (report, stats, leaderboards, figures,
submissions) reads only these.

Layout::

    <results>/<track-key>/<generator-name>/seed-<s>/record.json
                                                   /predictions.parquet
                                                   /checkpoint/        (while the cell is running)
"""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rls3_bench.data.atomic import atomic_write_bytes, atomic_write_json, canonical_json, strict_json_loads
from rls3_bench.data.parquet import read_table, table_bytes
from rls3_bench.errors import UserError
from rls3_bench.harness.formats import RunRecord, validate

SCHEMA_VERSION = 1
RECORD_FILE = "record.json"
PREDICTIONS_FILE = "predictions.parquet"


def cell_dir(results: Path, track_key: str, generator_name: str, seed: int) -> Path:
    return Path(results) / track_key / generator_name / f"seed-{seed}"


def provenance() -> dict[str, Any]:
    """Package versions, git revision and hardware, recorded with every run."""
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for pkg in (
        "rls3-bench",
        "numpy",
        "pybullet",
        "torch",
        "open_clip_torch",
        "transformers",
        "stable_baselines3",
        "gymnasium",
        "mlagents-envs",
        "ray",
    ):
        try:
            versions[pkg] = version(pkg)
        except PackageNotFoundError:
            versions[pkg] = None
    try:
        rev = (
            subprocess.run(
                ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=Path(__file__).parent
            ).stdout.strip()
            or None
        )
    except (OSError, subprocess.SubprocessError):
        rev = None
    return {
        "versions": versions,
        "git_revision": rev,
        "hardware": {
            "machine": platform.machine(),
            "processor": platform.processor(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def predictions_parquet(predictions: dict) -> bytes:
    """Per-item predictions of every evaluated budget (``{budget: [rows]}``) as one Parquet table."""
    return prediction_rows_parquet([{"budget": int(b), **p} for b, ps in predictions.items() for p in ps])


def prediction_rows_parquet(rows: list[dict]) -> bytes:
    """Prediction rows as Parquet: budget, item_id, scores, predicted_terms, and seed if rows carry
    one (submissions pool several seeds in one table)."""
    import pyarrow as pa

    columns = {"seed": pa.int64()} if rows and "seed" in rows[0] else {}
    columns.update(
        {
            "budget": pa.int64(),
            "item_id": pa.string(),
            "score_true": pa.float64(),
            "score_negative": pa.float64(),
            "predicted_terms": pa.list_(pa.string()),
        }
    )
    table = pa.table({name: pa.array([r[name] for r in rows], typ) for name, typ in columns.items()})
    return table_bytes(table)


def read_predictions(path: Path, expected_sha256: str | None = None) -> dict[int, list[dict]]:
    """Per-item predictions by budget; with ``expected_sha256`` (the record's ``predictions_sha256``)
    a changed or damaged file is refused before it is parsed."""
    import pyarrow as pa

    try:
        data = Path(path).read_bytes()
        if expected_sha256 is not None and hashlib.sha256(data).hexdigest() != expected_sha256:
            raise UserError(
                f"{path} does not match the checksum in its record.json (damaged or changed); "
                "delete that cell folder and re-run it"
            )
        rows = read_table(data).to_pylist()
    except (pa.ArrowException, OSError) as exc:
        raise UserError(
            f"{path} is not a readable predictions table ({(str(exc).splitlines() or [''])[0][:120]}); re-run that cell"
        ) from None
    out: dict[int, list[dict]] = {}
    for r in rows:
        out.setdefault(int(r.pop("budget")), []).append(r)
    return out


def record_digest(record: dict) -> str:
    """SHA-256 of a record's canonical JSON without its own ``record_sha256`` field."""
    return hashlib.sha256(
        canonical_json({k: v for k, v in record.items() if k != "record_sha256"}).encode("utf-8")
    ).hexdigest()


def write_record(folder: Path, record: dict, predictions: dict) -> None:
    """Predictions first, record last: a record.json on disk means the cell is complete. The record
    carries the predictions' SHA-256 and its own (``record_sha256``), so damage to either is detected."""
    pq_bytes = predictions_parquet(predictions)
    record = {**record, "predictions_sha256": hashlib.sha256(pq_bytes).hexdigest()}
    record["record_sha256"] = record_digest(record)
    atomic_write_bytes(folder / PREDICTIONS_FILE, pq_bytes)
    atomic_write_json(folder / RECORD_FILE, record)


def read_record(folder: Path) -> dict:
    """A cell's record as stored, checked: JSON, schema version, its own checksum, and its fields
    against :class:`rls3_bench.harness.formats.RunRecord`."""
    path = Path(folder) / RECORD_FILE
    try:
        record = strict_json_loads(path.read_bytes())
    except (OSError, ValueError, RecursionError) as exc:  # ValueError: bad JSON or UTF-8
        raise UserError(
            f"{path} is not a readable run record ({str(exc)[:120]}); delete that cell folder and re-run it"
        ) from None
    if not isinstance(record, dict) or record.get("schema_version") != SCHEMA_VERSION:
        raise UserError(
            f"{path} is not an rls3-bench run record of schema version {SCHEMA_VERSION}; "
            "delete that cell folder and re-run it"
        )
    if "record_sha256" in record and record["record_sha256"] != record_digest(record):
        raise UserError(
            f"{path} does not match its own checksum (damaged or edited); delete that cell folder and re-run it"
        )
    validate(RunRecord, record, f"{path} is malformed", "delete that cell folder and re-run it")
    return record


def verify_cell(folder: Path) -> str | None:
    """Why a cell's stored result is unusable (unreadable or damaged record or predictions), or None."""
    try:
        record = read_record(folder)
        read_predictions(Path(folder) / PREDICTIONS_FILE, record.get("predictions_sha256"))
    except UserError as exc:
        return str(exc)
    return None


def iter_records(results: Path):
    """(folder, record) for every complete cell under ``results``."""
    for path in sorted(Path(results).glob(f"*/*/seed-*/{RECORD_FILE}")):
        yield path.parent, read_record(path.parent)


@dataclass(frozen=True)
class CellKey:
    track: str
    generator: str
    seed: int
