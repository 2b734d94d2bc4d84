"""Render speed of the embedded backend (run with ``pytest tests/benchmarks -m benchmark``).

Scenes/s = 1 / mean time of ``observe`` (settle + checks + render) on a warm backend whose room and
objects are built. Room cost: a room switch that re-poses cached bodies vs building a fresh backend's room.
"""

from __future__ import annotations

import pybullet
import pytest
from bench_scenes import bench_spec, measure_observe, report_rate

from rls3_bench.backends.embedded import EmbeddedBackend
from rls3_bench.scene.assets import ROOMS

pytestmark = pytest.mark.benchmark


def _backend(renderer: str, size: int) -> EmbeddedBackend:
    b = EmbeddedBackend(image_size=size, renderer=renderer)
    if renderer == "egl" and b.renderer != "pybullet-egl":  # pragma: no cover - "egl" raises instead
        pytest.skip("EGL renderer not available")
    return b


@pytest.mark.parametrize("size", [128, 224])
@pytest.mark.parametrize("renderer", ["tiny", "egl"])
def test_scene_rate(benchmark, renderer, size):
    try:
        b = _backend(renderer, size)
    except Exception as exc:  # EGL missing on this machine
        pytest.skip(str(exc))
    with b:
        benchmark.extra_info["scenes_per_s"] = 1.0 / measure_observe(benchmark, b, rounds=30, warmup_rounds=2)


def test_room_switch_reposes_cached_rooms(benchmark):
    """Switching rooms after both are built: parks one room's bodies and re-poses the other's."""
    with EmbeddedBackend(image_size=32, renderer="tiny") as b:
        a, c = (bench_spec(r) for r in ("bedroom", "kitchen-a"))
        b.observe(a), b.observe(c)
        state = {"flip": False}

        def switch():
            state["flip"] = not state["flip"]
            b._use_room(a.room if state["flip"] else c.room)

        benchmark.pedantic(switch, rounds=200, iterations=1, warmup_rounds=2)


def test_room_build(benchmark):
    """Building a room from scratch (what a rebuild-on-switch design would pay per switch)."""
    with EmbeddedBackend(image_size=32, renderer="tiny") as b:

        def rebuild():
            room = b._build_room(ROOMS["bedroom"])
            for body in room.furniture:  # a rebuild also removes the previous room
                pybullet.removeBody(body, physicsClientId=b._client)

        benchmark.pedantic(rebuild, rounds=30, iterations=1, warmup_rounds=1)


def test_object_repose(benchmark):
    """Settling a scene's objects onto cached bodies (rays + resets), without rendering."""
    with EmbeddedBackend(image_size=32, renderer="tiny") as b:
        spec = bench_spec("bedroom")
        b.observe(spec)
        room = b._use_room(spec.room)

        def settle():
            bodies = b._use_objects(spec.objects)
            return b._settle(spec.objects, bodies, room)

        benchmark.pedantic(settle, rounds=200, iterations=1, warmup_rounds=2)


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_render_pool_scaling(benchmark, workers):
    """Scenes/s vs render workers: a batch of 256 independent random scenes (all rooms, valid or not),
    rendered in order by a RenderPool, 128 px TinyRenderer; every worker is warm (rooms built)."""
    import numpy as np

    from rls3_bench.backends.render_pool import RenderPool
    from rls3_bench.scene.random_scenes import random_spec

    rng = np.random.default_rng(0)
    specs = [random_spec(rng) for _ in range(256)]
    with RenderPool(workers, "embedded", image_size=128, renderer="tiny") as pool:
        pool.observe_many(specs)  # warm-up: every worker builds the rooms it meets
        out = benchmark.pedantic(pool.observe_many, args=(specs,), rounds=3, iterations=1)
    assert [o.spec for o in out] == specs
    report_rate(benchmark, len(specs), "scenes")


GEOMETRY_REASONS = ("overlap", "unsupported")


@pytest.mark.parametrize("skip", [True, False], ids=["geometry-first", "render-all"])
@pytest.mark.parametrize("validity_version", [1, 2])
def test_uniform_stream_with_and_without_rendering_rejected_scenes(benchmark, skip, validity_version):
    """uniform-v1's proposal stream (200 seeded random_spec scenes): time per proposed scene when a
    scene that overlap or support already rejects is not rendered (the backend's behaviour) vs when it
    is rendered anyway (the render put back after the check). extra_info: the share of scenes that
    geometry rejects, and ms per proposed scene."""
    import numpy as np

    from rls3_bench.scene.random_scenes import random_spec

    rng = np.random.default_rng(7)
    specs = [random_spec(rng) for _ in range(200)]
    with EmbeddedBackend(image_size=128, renderer="tiny", validity_version=validity_version) as b:

        def observe(spec):
            obs = b.observe(spec)
            if not skip and obs.invalid_reason and obs.invalid_reason.startswith(GEOMETRY_REASONS):
                b._render(spec.camera, [0])  # the world as posed: the render the check saves
            return obs

        observed = benchmark.pedantic(lambda: [observe(s) for s in specs], rounds=3, warmup_rounds=1)
        rejected = sum(bool(o.invalid_reason and o.invalid_reason.startswith(GEOMETRY_REASONS)) for o in observed)
        benchmark.extra_info["share_rejected_by_geometry"] = rejected / len(specs)
        benchmark.extra_info["ms_per_scene"] = benchmark.stats.stats.mean / len(specs) * 1e3
