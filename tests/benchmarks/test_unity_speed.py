"""Step rate of the unity backend over the ML-Agents protocol (run with ``pytest tests/benchmarks -m benchmark``).

One step = ``UnityBackend.observe``: the SceneSpec goes out on a side channel with ``env.step()``, the
stand-in player renders it with the embedded backend (TinyRenderer), PNG-encodes the camera frame,
and the scene graph (with its PNG segmentation) and the frame come back through mlagents-envs' gRPC
server, protobuf (pure Python, as protobuf 3.20.3 installs on 3.11) and PNG decoding. The embedded
backend on the same specs is the baseline; the difference is what the protocol costs. With a real
player the rendering part is Unity's, the protocol part the same.
"""

from __future__ import annotations

import pytest

pytest.importorskip("mlagents_envs")

from rls3_bench.assets import ROOMS  # noqa: E402
from rls3_bench.backends.embedded import EmbeddedBackend  # noqa: E402
from rls3_bench.scene import CameraPose, PlacedObject, SceneSpec  # noqa: E402

from unity_standin import open_unity  # noqa: E402

pytestmark = pytest.mark.benchmark


def _spec(room_id: str, dx: float = 0.0) -> SceneSpec:
    """The scene of test_render_speed.py: a bedroom with 4 objects on three surfaces."""
    room = ROOMS[room_id]
    main, shelf, low = room.supports[:3]
    objs = (
        PlacedObject("green-cup", (main.centre[0] - 0.25 + dx, main.centre[1], main.top)),
        PlacedObject("blue-bottle", (shelf.centre[0] + 0.2, shelf.centre[1], shelf.top)),
        PlacedObject("yellow-bowl", (low.centre[0], low.centre[1], low.top)),
        PlacedObject("red-book", (main.centre[0] + 0.2, main.centre[1], main.top), yaw_deg=30.0),
    )
    return SceneSpec(room_id, CameraPose(room.camera_eye, room.camera_target, room.camera_fov_deg), objs)


def _measure(benchmark, backend) -> None:
    specs = [_spec("bedroom", dx) for dx in (0.0, 0.05)]  # alternate so every call re-poses
    for s in specs:
        assert backend.observe(s).valid
    state = {"i": 0}

    def observe_next():
        state["i"] ^= 1
        return backend.observe(specs[state["i"]])

    benchmark.pedantic(observe_next, rounds=40, iterations=1, warmup_rounds=3)
    benchmark.extra_info["steps_per_s"] = 1.0 / benchmark.stats.stats.mean


@pytest.mark.parametrize("size", [128, 224])
@pytest.mark.parametrize("path", ["embedded", "unity-thread", "unity-exe"])
def test_step_rate(benchmark, path, size):
    """embedded: the backend itself; unity-thread: stand-in in this process (shares its GIL);
    unity-exe: stand-in launched as a player binary (its own process, as a real player)."""
    if path == "embedded":
        with EmbeddedBackend(image_size=size, renderer="tiny") as b:
            _measure(benchmark, b)
    else:
        with open_unity(path.split("-")[1], size) as b:
            _measure(benchmark, b)
