"""Label + caption speed (run with ``pytest tests/benchmarks -m benchmark``).

One call = what the harness does to a scene after rendering it (``Harness.render``): ``label_scene``
on the observation, then ``make_sample`` for every captionable pair. The observation (the benchmark
bedroom at 128 px, TinyRenderer) is rendered once beforehand, so no simulator time is counted.
Scenes/s = 1 / mean time.
"""

from __future__ import annotations

import pytest
from bench_scenes import bench_spec, report_rate

from rls3_bench.backends.embedded import EmbeddedBackend
from rls3_bench.labels.captions import make_sample
from rls3_bench.labels.relations import LabelConfig, label_scene

pytestmark = pytest.mark.benchmark


def test_label_caption(benchmark):
    with EmbeddedBackend(image_size=128, renderer="tiny") as b:
        obs = b.observe(bench_spec("bedroom"))
    assert obs.valid
    cfg = LabelConfig()

    def label_caption():
        return [make_sample(obs, p) for p in label_scene(obs, cfg) if p.captionable]

    samples = benchmark.pedantic(label_caption, rounds=200, iterations=1, warmup_rounds=5)
    # the 3 active objects give at most 6 ordered pairs; each sample captions one with its negatives
    assert 1 <= len(samples) <= 6 and len({s.sample_id for s in samples}) == len(samples)
    assert all(s.caption and s.negatives and s.image is obs.image for s in samples)
    report_rate(benchmark, 1, "scenes")
    benchmark.extra_info["samples_per_scene"] = len(samples)
