"""Generation ahead of training (rls3_bench.harness.generation): a pipelined cell gives the same record as an
inline one (resuming: tests/test_loop.py), reports a generator's failure or a dead worker, and the harness's
observation cache returns what a render would."""

from __future__ import annotations

import pytest
from conftest import FIXTURES

from rls3_bench.generator import Generator, RoundContext
from rls3_bench.scene.random_scenes import random_spec

pytest.importorskip("open_clip")  # the test track's learner is CLIP

from rls3_bench.errors import UserError  # noqa: E402
from rls3_bench.harness.cell import run_cell  # noqa: E402
from rls3_bench.harness.formats import GENERATION_STAGES  # noqa: E402


@pytest.fixture(scope="module")
def backend(track):
    from rls3_bench.backends.embedded import EmbeddedBackend

    with EmbeddedBackend(image_size=track.image_size, renderer=track.renderer) as b:
        yield b


@pytest.mark.parametrize("generator", ["uniform-v1", "balanced-v1"])
def test_pipelined_cell_equals_inline(track, items, backend, generator, one_thread):
    inline = run_cell(track, generator, 5, backend=backend, eval_items=items)
    ahead = run_cell(track, generator, 5, eval_items=items, pipeline=True)
    assert not inline.pipelined and ahead.pipelined
    assert ahead.status == "complete" and ahead.cost["samples_delivered"] == 32
    assert ahead.decided() == inline.decided()
    # inline, the learner's wait encloses all of an open-loop generator's generation stages (each
    # timed inside it); how much less it waits when the worker runs ahead is timing, not asserted
    secs = inline.cost["seconds"]
    assert secs["generation_wait"] >= sum(secs[s] for s in GENERATION_STAGES) > 0
    assert ahead.cost["seconds"]["render"] > 0  # the worker's generation cost reaches the record


def test_closed_loop_generators_stay_inline(track, items):
    res = run_cell(track, "weakness-v1", 0, eval_items=items, pipeline=True)
    assert not res.pipelined and res.status == "complete" and res.cost["feedback_queries"] > 0


def test_run_cell_is_inline_unless_asked(track, items):
    res = run_cell(track, "uniform-v1", 0, eval_items=items)  # library default; the CLI's --pipeline decides
    assert not res.pipelined and res.status == "complete"


@pytest.mark.parametrize(
    "generator, reason, delivered",
    [
        ("worker_generators:Lazy", "round 0 delivered 1 of 16 samples", 0),
        ("reliability_generators:Crashing", "crashing-v1 raised RuntimeError in round 1: boom with a second line", 16),
    ],
)
def test_failures_in_the_worker_fail_the_cell_with_their_reason(
    track, items, generator, reason, delivered, monkeypatch
):
    monkeypatch.syspath_prepend(str(FIXTURES))  # the worker process inherits sys.path
    res = run_cell(track, generator, 0, eval_items=items, pipeline=True)
    assert res.pipelined and res.status == "failed" and reason in res.failure, res.failure
    assert res.cost["samples_delivered"] == delivered  # the rounds before the failure trained, nothing after


def test_a_dead_worker_is_a_clear_error(track, items, monkeypatch):
    monkeypatch.syspath_prepend(str(FIXTURES))  # the worker process inherits sys.path
    with pytest.raises(UserError, match=r"generation worker process died \(exit code 3\).*re-run"):
        run_cell(track, "worker_generators:Dying", 0, eval_items=items, pipeline=True)


def test_a_class_a_fresh_process_cannot_import_runs_inline(track, items, monkeypatch):
    import sys
    import types

    class Local(Generator):  # defined in a function: not picklable by reference
        name = "local-v1"

        def generate_round(self, ctx: RoundContext) -> None:
            while ctx.remaining:
                scene = ctx.render(random_spec(self.rng))
                if scene.valid:
                    ctx.deliver(scene.samples[:1])

    mod = types.ModuleType("local_gens")
    mod.Local = Local
    monkeypatch.setitem(sys.modules, "local_gens", mod)
    res = run_cell(track, "local_gens:Local", 0, eval_items=items, pipeline=True)
    assert res.status == "complete" and not res.pipelined


def test_observation_cache_returns_what_a_render_would(backend, track):
    import numpy as np

    from rls3_bench.backends.embedded import EmbeddedBackend
    from rls3_bench.generator import Cost
    from rls3_bench.harness.generation import Harness

    rng = np.random.default_rng(4)
    specs = [random_spec(rng) for _ in range(3)]
    harness = Harness(backend, Cost(), cache_size=2)
    first = [harness.render(s) for s in specs]  # the third evicts the first (LRU of 2)
    again = harness.render(specs[2])
    assert harness.cost.render_cache_hits == 1 and harness.cost.scenes_rendered == 4
    assert again.observation is first[2].observation
    assert [s.sample_id for s in again.samples] == [s.sample_id for s in first[2].samples]
    harness.render(specs[0])  # evicted: rendered afresh
    assert harness.cost.render_cache_hits == 1
    with EmbeddedBackend(image_size=track.image_size, renderer=track.renderer) as fresh:
        obs = fresh.observe(specs[2])
    assert np.array_equal(obs.image, again.observation.image) and np.array_equal(
        obs.segmentation, again.observation.segmentation
    )


@pytest.mark.parametrize(
    "mode, workers, threads, cores, expected",
    [
        ("auto", 1, 1, 2, True),  # one cell on one thread: the worker gets the second core
        ("auto", 1, 2, 2, False),  # the cell's threads fill the cores
        ("auto", 2, 1, 2, False),  # two cells fill them
        ("auto", 4, 3, 16, True),
        ("on", 2, 1, 2, True),
        ("off", 1, 1, 16, False),
    ],
)
def test_auto_pipelines_only_where_the_worker_gets_a_core(mode, workers, threads, cores, expected):
    from rls3_bench.harness.sweep import resolve_pipeline

    assert resolve_pipeline(mode, workers, threads, cores) is expected


def test_bad_pipeline_mode_is_a_one_line_error(tmp_path, capsys):
    from rls3_bench.cli import main

    code = main(
        [
            "run",
            "--track",
            str(FIXTURES / "test-track.yaml"),
            "--generator",
            "uniform-v1",
            "--seeds",
            "1",
            "--results",
            str(tmp_path),
            "--no-progress",
            "--pipeline",
            "sometimes",
        ]
    )
    err = capsys.readouterr().err
    assert code != 0 and "--pipeline must be one of auto, on, off, got 'sometimes'" in err
    assert not any(tmp_path.iterdir())  # refused before any cell started
