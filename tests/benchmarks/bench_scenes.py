"""What the benchmarks share: the benchmark scene, the alternating-observe measurement, and the rate
that ``table.py`` reads back (``<unit>_per_s`` in ``extra_info``; items per call = rate x mean)."""

from __future__ import annotations

from rls3_bench.scene.assets import ROOMS
from rls3_bench.scene.spec import CameraPose, PlacedObject, SceneSpec


def bench_spec(room_id: str, dx: float = 0.0) -> SceneSpec:
    """A room with 4 objects on three surfaces (main surface, shelf, front piece); ``dx`` moves one."""
    room = ROOMS[room_id]
    main, shelf, low = room.supports[:3]
    objs = (
        PlacedObject("green-cup", (main.centre[0] - 0.25 + dx, main.centre[1], main.top)),
        PlacedObject("blue-bottle", (shelf.centre[0] + 0.2, shelf.centre[1], shelf.top)),
        PlacedObject("yellow-bowl", (low.centre[0], low.centre[1], low.top)),
        PlacedObject("red-book", (main.centre[0] + 0.2, main.centre[1], main.top), yaw_deg=30.0),
    )
    return SceneSpec(room_id, CameraPose(room.camera_eye, room.camera_target, room.camera_fov_deg), objs)


def measure_observe(benchmark, backend, rounds: int, warmup_rounds: int) -> float:
    """Mean seconds of ``backend.observe`` on two bedroom scenes taken in turn (so every call re-poses)."""
    specs = [bench_spec("bedroom", dx) for dx in (0.0, 0.05)]
    for s in specs:
        assert backend.observe(s).valid
    state = {"i": 0}

    def observe_next():
        state["i"] ^= 1
        return backend.observe(specs[state["i"]])

    benchmark.pedantic(observe_next, rounds=rounds, iterations=1, warmup_rounds=warmup_rounds)
    return benchmark.stats.stats.mean


def report_rate(benchmark, items: int, unit: str) -> float:
    """Record ``<unit>_per_s`` = items per call / mean seconds (what ``table.py`` prints); returns it."""
    rate = items / benchmark.stats.stats.mean
    benchmark.extra_info[f"{unit}_per_s"] = rate
    return rate
