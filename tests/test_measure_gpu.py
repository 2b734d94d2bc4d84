"""The throughput/MFU measurement (tests/benchmarks/measure_gpu.py) on the CPU with the tiny models:
the FLOPs it counts for a training step match a hand count, and MFU is their rate over the measured
matmul rate. (On a GPU the same code runs with bf16; CI has none.)"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("open_clip")
sys.path.insert(0, str(Path(__file__).parent / "benchmarks"))

import measure_gpu  # noqa: E402


def test_flop_counter_counts_a_matmul_exactly():
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    a, b = torch.randn(64, 32), torch.randn(32, 16)
    with FlopCounterMode(display=False) as c:
        a @ b
    assert c.get_total_flops() == 2 * 64 * 32 * 16


def test_matmul_rate_is_a_positive_rate(one_thread):
    rate = measure_gpu.matmul_rate("cpu", n=256, repeats=2)
    assert 1e6 < rate < 1e15


@pytest.mark.parametrize("model", ["clip-tiny", "paligemma-tiny"])
def test_train_figures_on_cpu(model, one_thread):
    r = measure_gpu.train_figures(
        model, "cpu", batch=4, steps=1, lora_r=4 if model.startswith("paligemma") else 0, peak_rate=1e11
    )
    assert r["samples_per_s"] > 0 and r["tflops_per_step"] > 0
    if model.startswith("paligemma"):
        assert r["params"] > r["trainable"] > 0  # LoRA: only the adapters train
    else:
        assert r["params"] == r["trainable"]
    assert r["mfu"] == pytest.approx(r["achieved_tflops"] * 1e12 / 1e11)  # achieved rate over the given peak
