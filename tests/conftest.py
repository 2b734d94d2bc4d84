"""Shared fixtures. Tests never touch the network: the hub is forced offline here too."""

from __future__ import annotations

import base64
import contextlib
import io
import math
import os
import socket
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# torch's OpenMP threads spin while they wait for work by default; on a machine where another process
# holds a core, a spinning thread keeps the one it waits for off the CPU and the tests' small models run
# many times slower. Passive waiting changes no result (only how idle threads wait); it has to be set
# before torch loads its OpenMP runtime (the import below), and subprocesses inherit it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import pytest

# Mesa's EGL renderer (llvmpipe) and triton (pulled in by torchvision.ops through torch._dynamo) each
# bring an LLVM; loading triton after EGL crashes the process (SIGSEGV in triton/_C/libtriton), the
# other order works. Tests load both in one process in any order, so triton comes first, here.
with contextlib.suppress(ImportError):
    import torchvision.ops  # noqa: F401

from rls3_bench.labels.sample import TERMS, Sample
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


def stand_in_feedback(samples):
    """A deterministic stand-in for a learner's feedback: every third sample (by the CRC of its id)
    is wrong, with loss 1.2 against 0.3 for the right ones."""
    import zlib

    from rls3_bench.learners.base import Feedback, term_error_rates

    correct = np.array([zlib.crc32(s.sample_id.encode()) % 3 != 0 for s in samples], dtype=bool)
    return Feedback(np.where(correct, 0.3, 1.2), correct, term_error_rates(samples, correct), len(samples))


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
                negatives=(
                    f"The pink bowl is to the {opposite} of the blue bottle.",
                    f"The blue bottle is to the {term} of the pink bowl.",
                ),
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


#: The repository root and the tests' fixture folder, for every test module (one definition).
REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"


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


@pytest.fixture(scope="session")
def test_track_runs(tmp_path_factory):
    """A results folder of the test track: uniform-v1 and balanced-v1, seeds 0 and 1, run once for the
    tests that read it or copy it instead of running the same cells again. One torch thread, as the
    CLI runs (``--threads 1``) that tests compare with these records."""
    pytest.importorskip("open_clip")  # the test track's learner is CLIP
    from rls3_bench.harness.sweep import run_benchmark
    from rls3_bench.harness.tracks import load_track

    out = tmp_path_factory.mktemp("test-track-runs")
    track = load_track(str(FIXTURES / "test-track.yaml"))
    with torch_threads(1):  # the run sets torch's process-wide count: the suite gets its own back
        outcomes = run_benchmark(track, ["uniform-v1", "balanced-v1"], [0, 1], out, show_progress=False, threads=1)
    assert [o.status for o in outcomes] == ["complete"] * 4
    return out


# --- synthetic run records (figures, report, leaderboard page) -------------------------------
FIGURE_BUDGETS = (0, 256, 512, 1024, 2048)
FIGURE_GENERATORS = {  # name -> (gain per octave, term weights of the delivered data, closed-loop RL?)
    "rls3-sac-v1": (0.020, (22, 20, 6, 5, 26, 21), True),
    "uniform-v1": (0.008, (18, 18, 15, 14, 18, 17), False),
    "weakness-v1": (0.014, (15, 15, 20, 20, 15, 15), False),
}


def _png_b64(colour: tuple[int, int, int], size: int = 128) -> str:
    from PIL import Image

    img = Image.new("RGB", (size, size), (200, 200, 200))
    img.paste(colour, (size // 4, size // 2, size // 2, size * 3 // 4))
    img.paste((40, 40, 200), (size // 2 + 8, size // 3, size * 3 // 4 + 8, size // 2))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def make_record(generator: str, seed: int, *, gallery_png: str | None = None, generative: bool = False) -> dict:
    """A synthetic complete run record with the fields figures read (no simulator, no learner)."""
    gain, weights, rl = FIGURE_GENERATORS[generator]
    rng = np.random.default_rng([seed, sum(map(ord, generator))])
    base = 0.52 + 0.005 * seed
    curve = []
    for b in FIGURE_BUDGETS:
        octaves = 0 if b == 0 else math.log2(b / 128)
        acc = base + gain * octaves + (0 if b == 0 else rng.normal(0, 0.006))
        point = {
            "budget": b,
            "accuracy": acc,
            "n_items": 288,
            "per_term": {
                t: acc + d + rng.normal(0, 0.01)
                for t, d in zip(TERMS, (0.03, 0.02, -0.04, -0.05, 0.0, 0.04), strict=True)
            },
            "per_complexity": {"1": acc + 0.04, "2": acc, "3": acc - 0.035},
            "per_negative": {"flip": acc - 0.02, "swap": acc + 0.02},
        }
        if generative:
            point["generative"] = {
                "paligemma_score": 1.9 + 10 * (acc - base),
                "exact_match": acc / 3,
                "per_term": {t: {"precision": 0.5, "recall": 0.4, "f1": 0.44} for t in TERMS},
            }
        curve.append(point)
    delivered = FIGURE_BUDGETS[-1]
    rendered = int(delivered * (3.2 if rl else 1.4))
    history = []
    if rl:
        for e in range(40):
            history.append(
                {
                    "round": e // 10,
                    "episode": e,
                    "intrinsic_return": -0.3 + 0.012 * e + rng.normal(0, 0.03),
                    "extrinsic_reward": 0.45 - 0.002 * e + rng.normal(0, 0.02),
                    "feasibility": min(1.0, 0.55 + 0.01 * e),
                    "kept": 4,
                    "env_steps": 32 * (e + 1),
                    "rl_updates": 16 * e,
                }
            )
    gallery = []
    if gallery_png:
        captions = (
            "The small pot is above, behind and to the left of the yellow bowl.",
            "The blender is below and in front of the plate.",
            "The vase is to the right of the blender.",
        )
        gallery = [
            {"round": i, "spec": "{}", "caption": c, "sample_id": f"{generator}:{seed}:{i}", "png_b64": gallery_png}
            for i, c in enumerate(captions)
        ]
    return {
        "schema_version": 1,
        "track": "clip-test-v1",
        "generator": generator,
        "generator_name": generator,
        "seed": seed,
        "status": "complete",
        "curve": curve,
        "cost": {
            "scenes_rendered": rendered,
            "invalid_scenes": rendered - delivered,
            "feedback_queries": 640 if rl else 0,
            "samples_delivered": delivered,
            "rl_env_steps": 1280 if rl else 0,
            "rl_updates": 640 if rl else 0,
            "seconds": {
                "render": 0.02 * rendered,
                "label_caption": 0.001 * delivered,
                "feedback": 3.0 if rl else 0.0,
                "train": 50.0,
                "eval": 10.0,
                "agent": 9.0 if rl else 0.4 + 0.1 * seed,
            },
        },
        "term_counts": {t: int(w * 30 + seed) for t, w in zip(TERMS, weights, strict=True)},
        "complexity_counts": {"1": 700, "2": 700, "3": 648},
        "round_log": [
            {"round": i, "budget": b, "train_loss": 1.0 / (i + 1), "feedback_error": None, "seconds": 5.0}
            for i, b in enumerate(FIGURE_BUDGETS[1:])
        ],
        "generator_history": history,
        "gallery": gallery,
        "wall_seconds": 100.0 + seed,
    }


def make_records(generative: bool = False) -> list[dict]:
    """3 generators x 3 seeds; the RL one has a history, the weakness one a gallery with a PNG."""
    png = _png_b64((220, 40, 40))
    return [
        make_record(g, s, gallery_png=png if g == "weakness-v1" else None, generative=generative)
        for g in FIGURE_GENERATORS
        for s in range(3)
    ]


# --- submission bundles ------------------------------------------------------------------------
def make_bundle(folder: Path, track, items, seeds=(0, 1)) -> Path:
    """A valid submission without training: random scores, metrics computed from them."""
    import numpy as np

    from rls3_bench.analysis.metrics import item_rows, summarize
    from rls3_bench.analysis.submissions import META_FILE, PRED_FILE
    from rls3_bench.data.atomic import atomic_write_bytes, atomic_write_json
    from rls3_bench.harness.records import prediction_rows_parquet

    budgets = [0, *track.budgets]
    rng = np.random.default_rng(0)
    rows, cells = [], []
    for seed in seeds:
        reported = {}
        for b in budgets:
            preds = [
                {
                    "item_id": s.sample_id,
                    "score_true": float(rng.normal()),
                    "score_negative": float(rng.normal()),
                    "predicted_terms": None,
                }
                for s in items
            ]
            summary = summarize(item_rows(items, preds))
            reported[str(b)] = {"accuracy": summary["accuracy"], "per_term": summary["per_term"]}
            rows += [{"seed": seed, "budget": b, **p} for p in preds]
        cost = {
            "samples_delivered": budgets[-1],
            "scenes_rendered": 40,
            "invalid_scenes": 3,
            "feedback_queries": 0,
            "rl_env_steps": 0,
            "rl_updates": 0,
            "seconds": {"render": 1.0, "label_caption": 0.1, "feedback": 0.0, "agent": 0.0, "train": 2.0, "eval": 0.5},
        }
        cells.append({"seed": seed, "cost": cost, "wall_seconds": 1.0, "reported": reported, "provenance": {}})
    meta = {
        "schema_version": 1,
        "generator": "fuzz-gen-v1",
        "generator_version": 1,
        "code_reference": "pkg==1.0",
        "authors": ["A. Author"],
        "track": track.key,
        "track_digest": track.digest(),
        "eval_set": track.eval_set,
        "eval_set_hash": track.eval_set_hash,
        "budgets": budgets,
        "seeds": list(seeds),
        "cells": cells,
        "created_at": "2025-01-01T00:00:00+00:00",
    }
    atomic_write_bytes(folder / PRED_FILE, prediction_rows_parquet(rows))
    atomic_write_json(folder / META_FILE, meta)
    return folder
