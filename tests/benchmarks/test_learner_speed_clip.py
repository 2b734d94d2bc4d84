"""Speed of the CLIP learner on CPU (run with ``pytest tests/benchmarks -m benchmark``).

Figures are per call with 2 torch threads (the embedded track's reference machine): a dual-loss
training step of the tiny model on 32 samples of 128 px (images + distinct captions + their negatives,
as a real batch has them), ``feedback`` and ``evaluate`` on 128 items, and one ViT-B-32 (random
weights, 224 px) training step on 16 samples. Samples/s = batch / mean time.
"""

from __future__ import annotations

import dataclasses

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("open_clip")

from conftest import toy_samples  # noqa: E402

from rls3_bench.learners.clip import ClipLearner  # noqa: E402

pytestmark = pytest.mark.benchmark

# Subjects that make every caption of a batch distinct, as in generated data (the toy fixture repeats
# two captions, and the learner encodes each distinct text once, which would flatter the timing).
_NAMES = ["plate", "vase", "blender", "green cup", "small pot", "yellow bowl", "bird sculpture", "pink bowl"]


def realistic_batch(n: int, size: int = 128):
    out = []
    for k, s in enumerate(toy_samples(n, size=size, seed=7)):
        subject = _NAMES[k % 8]
        reference = _NAMES[(k + 1 + (k // 8) % 7) % 8]  # never the subject; 56 distinct ordered pairs

        def fix(t: str, subject: str = subject, reference: str = reference) -> str:
            return t.replace("pink bowl", subject).replace("blue bottle", reference)

        # three negatives: the average of 1-3-term captions (one flip per term + the swap)
        negatives = tuple(map(fix, s.negatives)) + (fix(s.negatives[0]).replace("to the", "above and to the"),)
        out.append(
            dataclasses.replace(
                s, caption=fix(s.caption), negatives=negatives, negative_kinds=s.negative_kinds + ("flip:above",)
            )
        )
    return out


def _report(benchmark, n: int) -> None:
    benchmark.extra_info["samples_per_s"] = n / benchmark.stats.stats.mean


@pytest.mark.parametrize("hard_negative_weight", [1.0, 0.0])
def test_tiny_train_step(benchmark, two_threads, hard_negative_weight):
    learner = ClipLearner("clip-tiny", None, {"hard_negative_weight": hard_negative_weight})
    batch = realistic_batch(32)
    learner.train_step(batch)  # warm-up: allocator and first-call initialisation
    benchmark.pedantic(learner.train_step, args=(batch,), rounds=8, iterations=1)
    _report(benchmark, 32)


@pytest.mark.parametrize("method", ["feedback", "evaluate"])
def test_tiny_inference(benchmark, two_threads, method):
    learner = ClipLearner("clip-tiny", None, {})
    items = realistic_batch(128)
    call = getattr(learner, method)
    call(items)
    benchmark.pedantic(call, args=(items,), rounds=5, iterations=1)
    _report(benchmark, 128)


def test_vit_b_32_train_step(benchmark, two_threads):
    learner = ClipLearner("ViT-B-32", None, {"batch_size": 16, "lr": 1e-5})
    batch = realistic_batch(16, size=224)
    learner.train_step(batch)
    benchmark.pedantic(learner.train_step, args=(batch,), rounds=3, iterations=1)
    _report(benchmark, 16)
