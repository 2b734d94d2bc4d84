"""Training throughput, peak memory and model FLOP utilisation (MFU) of the learners, with random
weights (nothing is downloaded), on a GPU (bf16 autocast) or the CPU.

    python tests/benchmarks/measure_gpu.py [--device cuda] [--models ViT-B-32,paligemma-3b-shape]
        [--batch 64] [--steps 10] [--lora-r 16]

MFU = (FLOPs of one training step, counted by torch.utils.flop_counter on the real step: forward,
both loss terms and backward) x steps/s / the device's measured dense matmul rate in the training
dtype (bf16 on CUDA, fp32 on CPU). The rate is measured here, not taken from a datasheet.
``paligemma-3b-shape`` is PaliGemma-3B's architecture with the project's tiny vocabulary
(rls3_bench/model_configs/paligemma-3b-shape.json); with ``--lora-r`` > 0 only LoRA adapters train.
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def matmul_rate(device: str, n: int | None = None, repeats: int = 10) -> float:
    """Measured dense matmul FLOP/s on ``device`` (bf16 on CUDA, fp32 on CPU)."""
    import torch

    cuda = device.startswith("cuda")
    n = n or (8192 if cuda else 1024)
    dtype = torch.bfloat16 if cuda else torch.float32
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(2):
        a @ b
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(repeats):
        a @ b
    _sync(device)
    return 2 * n**3 * repeats / (time.perf_counter() - t0)


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _learner(model: str, device: str, batch: int, lora_r: int):
    from rls3_bench.learners.clip import ClipLearner
    from rls3_bench.learners.paligemma import MODELS, PaliGemmaLearner

    if model in MODELS:
        return PaliGemmaLearner(model, None, {"batch_size": batch, "lora_r": lora_r}, device=device, seed=0)
    return ClipLearner(model, None, {"batch_size": batch}, device=device, seed=0)


def train_figures(
    model: str, device: str, batch: int, steps: int, lora_r: int = 0, peak_rate: float | None = None
) -> dict:
    """samples/s, peak memory, FLOPs per step and MFU of ``steps`` training steps of ``model``."""
    import resource

    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from rls3_bench.backends.embedded import EmbeddedBackend
    from rls3_bench.harness.seeds import rng_for
    from rls3_bench.labels.annotate import uniform_samples

    with EmbeddedBackend(image_size=128, renderer="tiny") as b:
        samples = uniform_samples(b, rng_for("generator", 0), batch)
    learner = _learner(model, device, batch, lora_r)
    params = sum(p.numel() for p in learner.core.parameters())
    trainable = sum(p.numel() for p in learner.core.parameters() if p.requires_grad)
    learner.train_step(samples)  # warm-up: allocator, kernels, optimiser state
    _sync(device)
    with FlopCounterMode(display=False) as counter:
        learner.train_step(samples)
    flops = counter.get_total_flops()
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        learner.train_step(samples)
    _sync(device)
    seconds = (time.perf_counter() - t0) / steps
    rate = peak_rate or matmul_rate(device)
    out = {
        "model": model,
        "device": device,
        "batch": batch,
        "lora_r": lora_r,
        "samples_per_s": batch / seconds,
        "step_s": seconds,
        "tflops_per_step": flops / 1e12,
        "achieved_tflops": flops / seconds / 1e12,
        "peak_tflops": rate / 1e12,
        "mfu": flops / seconds / rate,
        "params": params,
        "trainable": trainable,
    }
    if device.startswith("cuda"):
        out["peak_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
    else:
        out["peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--models", default="ViT-B-32,paligemma-3b-shape")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--lora-r", type=int, default=16, help="LoRA rank for PaliGemma models (0: full fine-tuning)")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    args = p.parse_args(argv)

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("measure_gpu: no CUDA device here; pass --device cpu to measure the CPU", file=sys.stderr)
        return 2
    rate = matmul_rate(args.device)
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"CPU, {torch.get_num_threads()} threads"
    print(
        f"# {name}; measured dense matmul {rate / 1e12:.1f} TFLOP/s "
        f"({'bf16' if args.device.startswith('cuda') else 'fp32'}); "
        f"torch {torch.__version__}"
    )
    print(
        "| model | parameters (trainable) | batch | LoRA r "
        "| samples/s | step s | TFLOP/step | achieved TFLOP/s | MFU | peak memory GiB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for model in args.models.split(","):
        r = train_figures(model, args.device, args.batch, args.steps, args.lora_r, rate)
        mem = r.get("peak_memory_gib", r.get("peak_rss_gib"))
        print(
            f"| {model} | {r['params'] / 1e6:,.0f} M ({r['trainable'] / 1e6:,.1f} M) "
            f"| {r['batch']} | {r['lora_r'] if model.startswith('paligemma') else '-'} | {r['samples_per_s']:.3g} | "
            f"{r['step_s']:.3f} | {r['tflops_per_step']:.2f} | {r['achieved_tflops']:.2f} "
            f"| {r['mfu']:.1%} | {mem:.1f} |",
            flush=True,
        )
        print(json.dumps(r), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
