"""Speed of the tiny PaliGemma learner on CPU (run with ``pytest tests/benchmarks -m benchmark``).

Figures are per call on 128 px images with 2 torch threads (the embedded track's reference machine):
a dual-loss training step on 16 samples (caption, answer and negative sequences: 48 sequences, one
vision pass), ``feedback`` on 64 samples (2 scored captions each) and ``evaluate`` on 64 items
(2 scored captions + a greedy answer of up to 12 tokens each). Samples/s = batch / mean time.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from conftest import toy_samples  # noqa: E402

from rls3_bench.learners.paligemma import PaliGemmaLearner  # noqa: E402

pytestmark = pytest.mark.benchmark


@pytest.fixture
def learner():
    return PaliGemmaLearner("paligemma-tiny", None, {"batch_size": 16})


def _report(benchmark, n: int) -> None:
    benchmark.extra_info["samples_per_s"] = n / benchmark.stats.stats.mean


@pytest.mark.parametrize("hard_negative_weight", [1.0, 0.0])
def test_train_step(benchmark, two_threads, hard_negative_weight):
    learner = PaliGemmaLearner("paligemma-tiny", None, {"batch_size": 16, "hard_negative_weight": hard_negative_weight})
    batch = toy_samples(16, size=128)
    learner.train_step(batch)  # warm-up: allocator and first-call initialisation
    benchmark.pedantic(learner.train_step, args=(batch,), rounds=8, iterations=1)
    _report(benchmark, 16)


def test_feedback(benchmark, two_threads, learner):
    samples = toy_samples(64, size=128)
    learner.feedback(samples)
    benchmark.pedantic(learner.feedback, args=(samples,), rounds=5, iterations=1)
    _report(benchmark, 64)


def test_evaluate(benchmark, two_threads, learner):
    items = toy_samples(64, size=128)
    # a few steps so greedy decoding emits answers rather than stopping at once
    for _ in range(3):
        learner.train_step(items[:16])
    learner.evaluate(items)
    benchmark.pedantic(learner.evaluate, args=(items,), rounds=5, iterations=1)
    _report(benchmark, 64)
