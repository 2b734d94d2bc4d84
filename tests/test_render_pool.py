"""Render workers (rls3_bench.backends.render_pool) and ``ctx.render_many``: the same observations and the
same cell records on any number of workers, in order; a generation worker that outlives its loop
process goes away by itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import FIXTURES

from rls3_bench.generator import RoundContext
from rls3_bench.scene.random_scenes import random_spec

sys.path.insert(0, str(FIXTURES))  # worker_generators; spawned workers inherit sys.path


def test_pool_renders_what_one_backend_renders_in_order(track):
    from rls3_bench.backends.embedded import EmbeddedBackend
    from rls3_bench.backends.render_pool import RenderPool

    rng = np.random.default_rng(11)
    specs = [random_spec(rng) for _ in range(12)]
    with (
        EmbeddedBackend(image_size=64, renderer="tiny") as one,
        RenderPool(2, "embedded", image_size=64, renderer="tiny") as pool,
    ):
        expected = [one.observe(s) for s in specs]
        got = pool.observe_many(specs)
        assert pool.renderer == one.renderer
    assert [o.spec for o in got] == specs
    for e, g in zip(expected, got, strict=True):
        assert (e.valid, e.invalid_reason) == (g.valid, g.invalid_reason)
        assert np.array_equal(e.image, g.image) and np.array_equal(e.segmentation, g.segmentation)


pytest.importorskip("open_clip")  # the test track's learner is CLIP


@pytest.mark.parametrize("pipeline", [False, True])
def test_render_workers_do_not_change_a_cell(track, items, pipeline, one_thread):
    from rls3_bench.harness.cell import run_cell

    gen = "worker_generators:BatchUniform"
    before = set(_children(os.getpid()))
    one = run_cell(track, gen, 0, eval_items=items, pipeline=pipeline)
    two = run_cell(track, gen, 0, eval_items=items, pipeline=pipeline, render_workers=2)
    deadline = time.time() + 10
    while (left := _workers_left(before)) and time.time() < deadline:
        time.sleep(0.1)
    assert not left, "render or generation workers outlived their cell"
    assert one.status == two.status == "complete" and one.pipelined == two.pipelined == pipeline
    assert one.cost["scenes_rendered"] % 8 == 0  # whole batches were rendered
    assert one.decided() == two.decided()


def test_render_many_checks_its_pairs():
    from rls3_bench.generator import Cost

    ctx = RoundContext(0, 1, None, lambda spec, pair: None, None, Cost())
    with pytest.raises(ValueError, match="2 specs but 1 pairs"):
        ctx.render_many([random_spec(np.random.default_rng(0))] * 2, [None])


def test_batch_duplicates_render_once(track):
    from rls3_bench.backends.embedded import EmbeddedBackend
    from rls3_bench.generator import Cost
    from rls3_bench.harness.generation import Harness

    spec = random_spec(np.random.default_rng(3))
    with EmbeddedBackend(image_size=64, renderer="tiny") as b:
        harness = Harness(b, Cost())
        out = harness.render_many([spec, spec], [None, None])
    assert out[0].observation is out[1].observation
    assert harness.cost.scenes_rendered == 2 and harness.cost.render_cache_hits == 1


def test_render_workers_need_the_embedded_backend(track):
    from rls3_bench.errors import UserError
    from rls3_bench.harness.generation import open_backend

    with pytest.raises(UserError, match="needs the embedded backend.*--workers"):
        open_backend(track.replace(backend="unity"), {}, render_workers=2)


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _running(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie (its state follows the parenthesised command name)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _workers_left(before: set[int]) -> list[int]:
    """This process's children that were not there before, other than multiprocessing's resource tracker."""
    left = []
    for pid in set(_children(os.getpid())) - before:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"resource_tracker" not in cmdline and _running(pid):
            left.append(pid)
    return left


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_generation_worker_leaves_when_its_loop_process_is_killed(tmp_path):
    """kill -9 of a pipelined run must not leave its generation worker (or that worker's render
    workers) running forever."""
    cmd = [
        sys.executable,
        "-m",
        "rls3_bench.cli",
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
        "--no-leaderboard",
        "--threads",
        "1",
        "--pipeline",
        "on",
        "--render-workers",
        "2",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    family: list[int] = []
    while time.time() < deadline and proc.poll() is None:
        family = [c for c in _children(proc.pid)]
        family += [g for c in family for g in _children(c)]
        if len(family) >= 3:  # the generation worker and its two render workers (and the resource tracker)
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before its generation worker could be seen"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 20
    while time.time() < deadline and any(_running(p) for p in family):
        time.sleep(0.2)
    alive = [p for p in family if _running(p)]
    for p in alive:  # do not leave them to the rest of the suite
        os.kill(p, signal.SIGKILL)
    assert not alive, f"{len(alive)} of the killed run's processes still running"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_stopping_a_generation_worker_mid_round_stops_its_render_workers(track):
    from worker_generators import Stalled

    from rls3_bench.harness.generation import GenerationWorker

    with GenerationWorker(track.to_dict(), Stalled, 0, None, None, 0, 2, render_workers=2) as worker:
        deadline = time.time() + 60
        while len(pool := _children(worker._proc.pid)) < 2 and time.time() < deadline:
            time.sleep(0.1)
        assert len(pool) >= 2, "the worker's render workers never started"
        time.sleep(1.0)  # let it reach the stall
    deadline = time.time() + 10
    alive = pool
    while alive and time.time() < deadline:
        alive = [p for p in pool if _running(p)]
        time.sleep(0.1)
    for p in alive:
        os.kill(p, signal.SIGKILL)
    assert not alive, "render workers outlived their stopped generation worker"
