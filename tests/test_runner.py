"""The runner: kill -9 and resume loses and duplicates nothing; Ray gives the local executor's records."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import FIXTURES

pytest.importorskip("open_clip")

from rls3_bench.data.parquet import read_table  # noqa: E402

TRACK = str(FIXTURES / "test-track.yaml")
CELL = Path("test-track-v1") / "weakness-v1" / "seed-0"


def _run_args(results: Path) -> list[str]:
    return [
        "run",
        "--track",
        TRACK,
        "--generator",
        "weakness-v1",
        "--seeds",
        "1",
        "--results",
        str(results),
        "--no-progress",
        "--no-leaderboard",
        "--threads",
        "1",
    ]


def _run_cmd(results: Path) -> list[str]:
    return [sys.executable, "-m", "rls3_bench.cli", *_run_args(results)]


def _run_here(results: Path) -> int:
    """The command in this process: only the run that is killed needs a process of its own."""
    from conftest import torch_threads

    from rls3_bench.cli import main

    with torch_threads(1):  # the command sets torch's process-wide thread count: give the suite its own back
        return main(_run_args(results))


def comparable(record: dict) -> dict:
    """A record without what legitimately differs between runs: timings and provenance."""
    drop = {"wall_seconds", "provenance", "round_log", "record_sha256"}  # the checksum covers the timings
    out = {k: v for k, v in record.items() if k not in drop}
    out["cost"] = {k: v for k, v in record["cost"].items() if k != "seconds"}
    return out


def _record(results: Path) -> dict:
    return json.loads((results / CELL / "record.json").read_text())


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    results = tmp_path_factory.mktemp("full")
    assert _run_here(results) == 0
    return results


def test_kill_9_then_resume_equals_uninterrupted(uninterrupted, tmp_path):
    results = tmp_path / "killed"
    proc = subprocess.Popen(_run_cmd(results), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    latest = results / CELL / "checkpoint" / "LATEST"
    deadline = time.monotonic() + 300
    while not latest.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    # killed as soon as the first checkpoint is down: round 1 and two evaluations are still to come, so
    # the run below has to resume from that checkpoint (a cell that finished first fails the test)
    assert proc.poll() is None, "the run ended before its first checkpoint was seen"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert latest.exists() and not (results / CELL / "record.json").exists()
    assert _run_here(results) == 0
    assert comparable(_record(results)) == comparable(_record(uninterrupted))
    assert not (results / CELL / "checkpoint").exists()
    # predictions: one row per item and budget, nothing duplicated
    keys = [(r["budget"], r["item_id"]) for r in read_table(results / CELL / "predictions.parquet").to_pylist()]
    assert len(set(keys)) == len(keys) == 3 * 72  # one row per item and budget
    # running again changes nothing: the cell is complete
    before = (results / CELL / "record.json").read_bytes()
    assert _run_here(results) == 0
    assert (results / CELL / "record.json").read_bytes() == before


def test_ray_executor_gives_the_local_records(uninterrupted, tmp_path):
    pytest.importorskip("ray")
    from rls3_bench.harness.sweep import run_benchmark
    from rls3_bench.harness.tracks import load_track

    results = tmp_path / "ray"
    outcomes = run_benchmark(
        load_track(TRACK), ["weakness-v1"], [0], results, executor="ray", show_progress=False, threads=1
    )
    assert [o.status for o in outcomes] == ["complete"]
    assert comparable(_record(results)) == comparable(_record(uninterrupted))
