"""Shared fixtures. Tests never touch the network: the hub is forced offline here too."""

from __future__ import annotations

import contextlib
import os
import socket

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
import pytest

from rls3_bench.labels.sample import Sample
from rls3_bench.scene.spec import CameraPose, PlacedObject, SceneSpec


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test: weights must be looked up locally only."""

    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture
def empty_caches(monkeypatch, tmp_path):
    """An empty HF cache and an empty ~/.cache/clip, whatever this machine has cached."""
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def toy_samples(n: int, size: int = 64, seed: int = 0) -> list[Sample]:
    """Synthetic left/right samples: a red and a blue square on grey; no simulator needed.

    Learner tests use these so they exercise the real model code on data whose answer is known.
    """
    rng = np.random.default_rng(seed)
    spec = SceneSpec(
        room="kitchen-a",
        camera=CameraPose(eye=(0.0, -1.4, 1.7), target=(0.0, 0.2, 0.9)),
        objects=(PlacedObject("pink-bowl", (0.0, 0.0, 0.9)), PlacedObject("blue-bottle", (0.2, 0.0, 0.9))),
    )
    out = []
    for i in range(n):
        img = np.full((size, size, 3), 128, np.uint8)
        red_left = bool(rng.integers(2))
        s = size // 6
        y0, y1 = int(rng.integers(0, size - s)), int(rng.integers(0, size - s))
        xl, xr = int(rng.integers(0, size // 2 - s)), int(rng.integers(size // 2, size - s))
        red_x, blue_x = (xl, xr) if red_left else (xr, xl)
        img[y0 : y0 + s, red_x : red_x + s] = (220, 30, 30)
        img[y1 : y1 + s, blue_x : blue_x + s] = (30, 30, 220)
        term, opposite = ("left", "right") if red_left else ("right", "left")
        caption = f"The pink bowl is to the {term} of the blue bottle."
        out.append(
            Sample(
                spec=spec,
                image=img,
                subject="pink bowl",
                reference="blue bottle",
                terms=(term,),
                caption=caption,
                negatives=(f"The pink bowl is to the {opposite} of the blue bottle.", f"The blue bottle is to the {term} of the pink bowl."),
                negative_kinds=(f"flip:{term}", "swap"),
                prompt="answer en where is the pink bowl relative to the blue bottle?",
                answer=f"to the {term}",
                sample_id=f"toy-{seed}-{i}",
            )
        )
    return out


@contextlib.contextmanager
def torch_threads(n: int):
    """torch's thread count is process-global: set it for a block and restore it after. CPU float
    reductions depend on the thread count, so exact comparisons run at equal counts."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture
def one_thread():
    with torch_threads(1):
        yield


@pytest.fixture
def two_threads():
    """The reference machine's thread count, for speed benchmarks."""
    with torch_threads(2):
        yield


@pytest.fixture
def toy():
    return toy_samples


FIXTURES = __import__("pathlib").Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def track():
    """The small test track (tests/fixtures/test-track.yaml)."""
    from rls3_bench.harness.tracks import load_track

    return load_track(str(FIXTURES / "test-track.yaml"))


@pytest.fixture(scope="module")
def items(track):
    """The test track's eval set."""
    from rls3_bench.data.evalsets import load_eval_set

    return load_eval_set(track.eval_set, track.eval_set_hash)
