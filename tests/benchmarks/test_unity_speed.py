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

from bench_scenes import measure_observe  # noqa: E402
from unity_standin import open_unity  # noqa: E402

from rls3_bench.backends.embedded import EmbeddedBackend  # noqa: E402

pytestmark = pytest.mark.benchmark


def _measure(benchmark, backend) -> None:
    benchmark.extra_info["steps_per_s"] = 1.0 / measure_observe(benchmark, backend, rounds=40, warmup_rounds=3)


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
