"""The closed-loop generators run unchanged on the full-size CLIP track (clip-vit-b-32) where a CUDA
device and its weights are present. Marked gpu: the default run (and CPU CI) deselects it, and it
skips itself where either is missing (`pytest -m gpu tests/test_gpu_generators.py`)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def vit_track():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    from rls3_bench.errors import UserError
    from rls3_bench.harness.tracks import load_track
    from rls3_bench.learners import get_learner_class

    track = load_track("clip-vit-b-32")
    try:
        get_learner_class(track.learner).check_setup(track.model, track.weights, dict(track.recipe), track.device)
    except UserError as exc:
        pytest.skip(f"clip-vit-b-32 weights are not here: {exc}")
    # two rounds of 64 on the small minimal-pair set: the generators' closed loop, not a benchmark
    mini = "spatial-v2-mini"
    from rls3_bench.data.evalsets import EVAL_SETS

    return track.replace(
        round_size=64, budgets=(64, 128), presets={}, eval_set=mini, eval_set_hash=EVAL_SETS[mini].content_hash
    )


@pytest.mark.parametrize("generator", ["rls3-sac-v2", "rls3-random-v2", "uncertainty-v1"])
def test_closed_loop_generators_run_on_clip_vit_b_32(vit_track, generator):
    from rls3_bench.harness.cell import Cell

    cell = Cell(vit_track, generator, 0)
    assert next(cell.learner.core.parameters()).device.type == "cuda"
    res = cell.run()
    assert res.status == "complete", res.failure
    assert [p["budget"] for p in res.curve] == [0, 64, 128]
    assert all(0.0 <= p["accuracy"] <= 1.0 for p in res.curve)
    assert res.cost["samples_delivered"] == 128 and res.cost["feedback_queries"] > 0
