"""A whole smoke cell (run with ``pytest tests/benchmarks -m benchmark``).

One call = ``run_cell`` of ``uniform-v1`` (seed 0) on the ``clip-tiny`` track restricted to budget
128 and the ``spatial-v1-mini`` eval set, on 1 torch thread with generation inline, as each cell of
the README's ``rls3-bench run --workers 2`` on 2 cores runs (``--pipeline auto`` keeps it inline
there; ``measure_pipelining.py`` compares with generation run ahead): load the base weights, evaluate
at budgets 0 and 128, generate and train on 2 rounds of 64. Measured once (a cell takes seconds).
Samples/s = 128 / wall time; ``extra_info["stage_seconds"]`` says where the time went.
"""

from __future__ import annotations

import pytest

pytest.importorskip("open_clip")

from bench_scenes import report_rate  # noqa: E402

from rls3_bench.data.evalsets import EVAL_SETS, load_eval_set  # noqa: E402
from rls3_bench.harness.cell import run_cell  # noqa: E402
from rls3_bench.harness.tracks import load_track  # noqa: E402

pytestmark = pytest.mark.benchmark

BUDGET = 128


def test_smoke_cell(benchmark, one_thread):
    mini = EVAL_SETS["spatial-v1-mini"]
    track = load_track("clip-tiny").replace(
        budgets=(BUDGET,), eval_set=mini.name, eval_set_hash=mini.content_hash, presets={}
    )
    items = load_eval_set(track.eval_set, track.eval_set_hash)  # cached: not part of a cell's cost
    res = benchmark.pedantic(
        run_cell, args=(track, "uniform-v1", 0), kwargs={"eval_items": items, "pipeline": False}, rounds=1, iterations=1
    )
    assert res.status == "complete", res.failure
    assert res.cost["samples_delivered"] == BUDGET and [c["budget"] for c in res.curve] == [0, BUDGET]
    assert all(len(res.predictions[b]) == len(items) for b in (0, BUDGET))
    report_rate(benchmark, BUDGET, "samples")
    benchmark.extra_info["eval_items"] = len(items)
    benchmark.extra_info["stage_seconds"] = {k: round(v, 2) for k, v in res.cost["seconds"].items()}
