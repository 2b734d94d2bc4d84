"""The loop for one cell: equal budgets enforced by the harness, determinism, contributed
generators, checkpoint/resume."""

from __future__ import annotations

import json
import re

import pytest
from conftest import FIXTURES

from rls3_bench.generator import Generator, RoundContext
from rls3_bench.scene.random_scenes import random_spec

pytest.importorskip("open_clip")  # the test track's learner is CLIP

from rls3_bench.harness.cell import run_cell  # noqa: E402


@pytest.fixture(scope="module")
def backend(track):
    from rls3_bench.backends.embedded import EmbeddedBackend

    with EmbeddedBackend(image_size=track.image_size, renderer=track.renderer) as b:
        yield b


@pytest.fixture(autouse=True)
def same_threads():
    """Tests here share cells (``cell``) and CPU float reductions depend on torch's thread count:
    every test runs at one count, whatever an earlier test or module left set."""
    from conftest import torch_threads

    with torch_threads(2):
        yield


@pytest.fixture(scope="module")
def cell(track, items, backend):
    """``cell(generator, seed)``: that cell run inline on the module's backend, once for all the
    tests that only read it."""
    done = {}

    def get(generator: str, seed: int):
        if (generator, seed) not in done:
            done[generator, seed] = run_cell(track, generator, seed, backend=backend, eval_items=items)
        return done[generator, seed]

    return get


@pytest.mark.parametrize("generator", ["uniform-v1", "balanced-v1", "weakness-v1"])
def test_same_seed_same_data_and_curve(track, items, backend, cell, generator):
    a = cell(generator, 0)
    b = run_cell(track, generator, 0, backend=backend, eval_items=items)  # a second run, not the shared one
    assert a.status == "complete" and [p["budget"] for p in a.curve] == [0, 16, 32]
    assert a.decided() == b.decided()
    assert a.cost["samples_delivered"] == 32
    assert (a.cost["feedback_queries"] > 0) == (generator == "weakness-v1")


def test_generators_share_the_base_point_and_differ_after(cell):
    u, b = cell("uniform-v1", 0), cell("balanced-v1", 0)
    assert u.curve[0] == b.curve[0]  # same learner seed -> same base model
    assert u.predictions[32] != b.predictions[32]


class Greedy(Generator):
    name = "greedy-v1"

    def generate_round(self, ctx: RoundContext) -> None:
        while True:  # never stops by itself: the harness must refuse the 17th sample
            scene = ctx.render(random_spec(self.rng))
            if scene.valid:
                ctx.deliver(scene.samples[:1])


class Forger(Generator):
    name = "forger-v1"

    def generate_round(self, ctx: RoundContext) -> None:
        import dataclasses

        while ctx.remaining:
            scene = ctx.render(random_spec(self.rng))
            if scene.valid:
                fake = dataclasses.replace(scene.samples[0], caption="The plate is above the vase.")
                ctx.deliver([fake])


class Lazy(Generator):
    name = "lazy-v1"

    def generate_round(self, ctx: RoundContext) -> None:
        scene = ctx.render(random_spec(self.rng))
        ctx.deliver(scene.samples[:1])


class Repeater(Generator):
    name = "repeater-v1"

    def generate_round(self, ctx: RoundContext) -> None:
        while True:
            scene = ctx.render(random_spec(self.rng))
            if scene.valid:
                break
        while ctx.remaining:
            ctx.deliver(scene.samples[:1])


class Peeker(Generator):
    """Open loop, yet asks the learner: refused."""

    name = "peeker-v1"

    def generate_round(self, ctx: RoundContext) -> None:
        ctx.query([])


@pytest.mark.parametrize(
    "cls, reason",
    [
        # each pattern matches its own violation's message only (all three budget messages say "delivered")
        (Greedy, r"round 0: delivered more than the budget of 16 samples"),
        (Forger, r"round 0: sample .* was not produced by ctx\.render"),
        (Lazy, r"round 0 delivered [01] of 16 samples"),
        (Repeater, r"round 0: sample \S+ delivered twice"),
        (Peeker, r"open-loop \(closed_loop = False\) and may not query the learner"),
    ],
)
def test_harness_refuses_budget_violations_and_records_why(track, items, backend, cls, reason):
    res = run_cell(track, f"{__name__}:{cls.__name__}", 0, backend=backend, eval_items=items)
    assert res.status == "failed" and re.search(reason, res.failure), res.failure
    assert res.cost["samples_delivered"] <= 16  # nothing beyond the budget reached training
    assert len(res.curve) == 1  # only the base evaluation: no curve point from a broken round


def test_contributed_generator_runs_through_the_cli(tmp_path, monkeypatch, capsys):
    from rls3_bench.cli import main

    monkeypatch.syspath_prepend(str(FIXTURES))
    code = main(
        [
            "run",
            "--track",
            str(FIXTURES / "test-track.yaml"),
            "--generator",
            "contrib_generator:LeftRightOnly",
            "--seeds",
            "1",
            "--results",
            str(tmp_path),
            "--no-progress",
            "--no-leaderboard",
        ]
    )
    assert code == 0
    rec = json.loads((tmp_path / "test-track-v1" / "left-right-only-v1" / "seed-0" / "record.json").read_text())
    assert rec["status"] == "complete" and rec["cost"]["samples_delivered"] == 32
    assert set(k for k, v in rec["term_counts"].items() if v) <= {"left", "right"}


@pytest.mark.parametrize("generator, pipelined", [("weakness-v1", False), ("uniform-v1", True)])
def test_checkpoint_resume_equals_uninterrupted(track, items, backend, cell, tmp_path, generator, pipelined):
    backend = None if pipelined else backend  # a cell that opens its own backend runs an open-loop generator ahead
    full = run_cell(track, generator, 0, eval_items=items, pipeline=True) if pipelined else cell(generator, 0)
    ckpt = tmp_path / "ckpt"

    class Stop(Exception):
        pass

    def stop_after_first_round(stage, done, total):
        if stage == "generate" and done >= 16:
            raise Stop

    with pytest.raises(Stop):
        run_cell(
            track,
            generator,
            0,
            backend=backend,
            eval_items=items,
            checkpoint_dir=ckpt,
            progress=stop_after_first_round,
            pipeline=pipelined,
        )
    assert (ckpt / "LATEST").read_text() == "round-00000"
    resumed = run_cell(track, generator, 0, backend=backend, eval_items=items, checkpoint_dir=ckpt, pipeline=pipelined)
    assert resumed.pipelined == full.pipelined == pipelined
    assert resumed.decided() == full.decided()
    assert resumed.cost["samples_delivered"] == 32 and resumed.cost["feedback_queries"] == full.cost["feedback_queries"]
