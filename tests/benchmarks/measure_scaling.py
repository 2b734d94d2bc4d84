"""How a run's cost grows: wall time vs budget (one cell), and peak memory per track.

    python tests/benchmarks/measure_scaling.py budget [--budgets 128,256,512,1024] [--threads 1] [--plot PNG]
    python tests/benchmarks/measure_scaling.py workers [--workers 1,2,3,4] [--plot PNG]
    python tests/benchmarks/measure_scaling.py memory [--tracks clip-tiny,paligemma-tiny,clip-vit-b-32]
    python tests/benchmarks/measure_scaling.py cache [--budgets 256]

``budget``: one uniform-v1 cell of clip-tiny per budget B, evaluated at 0 and B only (so each run has
the same evaluation cost), inline; prints seconds per stage and a least-squares line
wall = a + b * B with its R^2 (cost should be linear in the budget).

``workers``: scenes/s of a RenderPool vs its worker count (256 independent random specs, 128 px,
warm workers, best of 3), each worker count side by side in one run.

``memory``: per track, in a fresh process: build the learner (full-size tracks with random weights,
nothing is downloaded), train one step at the track's batch size on its image size and evaluate
64 items; for the tiny tracks also a whole cell to 128 samples. Prints the peak resident memory
(this process and, for the cell, its children) in MiB.

``cache``: every built-in generator's clip-tiny cell (spatial-v1-mini, inline) with the harness's
observation cache on and off, side by side: hits per rendered scene, render seconds, same records.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time


def _track(name: str, **changes):
    from rls3_bench.harness.tracks import load_track

    return load_track(name).replace(presets={}, **changes)


def _plot(path: str | None, x, y, xlabel: str, ylabel: str, title: str, fit=None) -> None:
    """A small line plot of a scaling curve (and its fitted line) for docs/performance.md."""
    if not path:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 3.0), dpi=120)
    ax.plot(x, y, "o-", label="measured")
    if fit is not None:
        ax.plot(x, fit, "--", color="grey", label="least-squares line")
        ax.legend(frameon=False, fontsize=8)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.title.set_fontsize(9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    print(f"plot: {path}")


def worker_curve(workers: list[int], plot: str | None) -> None:
    import numpy as np

    from rls3_bench.backends.render_pool import RenderPool
    from rls3_bench.scene.random_scenes import random_spec

    rng = np.random.default_rng(0)
    specs = [random_spec(rng) for _ in range(256)]
    rates = []
    for w in workers:
        with RenderPool(w, "embedded", image_size=128, renderer="tiny") as pool:
            pool.observe_many(specs)  # warm: rooms built in every worker
            best = min(_timed(pool.observe_many, specs) for _ in range(3))
        rates.append(len(specs) / best)
    print(f"# RenderPool, 256 random specs, 128 px TinyRenderer, {os.cpu_count()} cores, best of 3")
    print("| render workers | scenes/s | vs 1 |")
    print("|---|---|---|")
    for w, r in zip(workers, rates, strict=True):
        print(f"| {w} | {r:.0f} | {r / rates[0]:.2f}x |")
    _plot(plot, workers, rates, "render workers", "scenes / s", f"render workers on {os.cpu_count()} cores")


def _timed(fn, *args) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def budget_curve(budgets: list[int], threads: int, plot: str | None = None) -> None:
    import numpy as np
    import torch

    from rls3_bench.data.evalsets import load_eval_set
    from rls3_bench.harness.cell import run_cell

    torch.set_num_threads(threads)
    base = _track("clip-tiny")
    items = load_eval_set(base.eval_set, base.eval_set_hash)
    rows = []
    for b in budgets:
        t0 = time.perf_counter()
        res = run_cell(base.replace(budgets=(b,)), "uniform-v1", 0, eval_items=items, pipeline=False)
        rows.append((b, time.perf_counter() - t0, res.cost["seconds"]))
    fit = np.polyfit([r[0] for r in rows], [r[1] for r in rows], 1)
    pred = np.polyval(fit, [r[0] for r in rows])
    walls = np.array([r[1] for r in rows])
    r2 = 1 - ((walls - pred) ** 2).sum() / ((walls - walls.mean()) ** 2).sum()
    print(
        f"# clip-tiny, uniform-v1, seed 0, inline, torch threads {threads}, "
        f"{os.cpu_count()} cores; evaluated at 0 and B (720 items each)"
    )
    print("| budget | wall s | render s | label+caption s | train s | eval s | wall s / sample (excl. eval) |")
    print("|---|---|---|---|---|---|---|")
    for b, wall, s in rows:
        print(
            f"| {b} | {wall:.1f} | {s['render']:.1f} | {s['label_caption']:.1f} | {s['train']:.1f} "
            f"| {s['eval']:.1f} | {(wall - s['eval']) / b * 1000:.1f} ms |"
        )
    print(f"\nwall = {fit[1]:.1f} s + {fit[0] * 1000:.1f} ms x budget  (R^2 = {r2:.4f})")
    _plot(
        plot,
        [r[0] for r in rows],
        walls,
        "budget (samples)",
        "cell wall time (s)",
        "clip-tiny cell, uniform-v1",
        fit=pred,
    )


_MEMORY_CHILD = r"""
import json, resource, sys, time
import torch
torch.set_num_threads(1)
from rls3_bench.data.evalsets import load_eval_set
from rls3_bench.harness.cell import make_learner, run_cell
sys.path.insert(0, sys.argv[3])
from measure_scaling import _track
name, weights = sys.argv[1], sys.argv[2]
track = _track(name, device="cpu", **({"weights": None} if weights == "random" else {}))
items = load_eval_set("spatial-v1-mini")
out = {"track": name, "weights": weights}
if sys.argv[4] == "cell":
    res = run_cell(_track(name, budgets=(128,)), "uniform-v1", 0, eval_items=items, pipeline=False)
    assert res.status == "complete"
else:
    from rls3_bench.backends.embedded import EmbeddedBackend
    from rls3_bench.labels.annotate import uniform_samples
    from rls3_bench.harness.seeds import rng_for
    with EmbeddedBackend(image_size=track.image_size, renderer=track.renderer) as b:
        batch = uniform_samples(b, rng_for("generator", 0), int(track.recipe.get("batch_size", 32)))
    learner = make_learner(track, 0)
    t = time.perf_counter(); learner.train_step(batch); out["train_step_s"] = time.perf_counter() - t
    t = time.perf_counter(); learner.evaluate(items[:64]); out["eval_64_s"] = time.perf_counter() - t
    out["batch"] = len(batch)
out["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
out["children_peak_mib"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps(out))
"""


def memory(tracks: list[str]) -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    print(f"# peak resident memory, CPU, torch threads 1, {os.cpu_count()} cores; one fresh process per row")
    print("| track | what | weights | batch | train step s | eval 64 s | peak MiB |")
    print("|---|---|---|---|---|---|---|")
    for name in tracks:
        tiny = name.endswith("-tiny")
        for what in ["step", "cell"] if tiny else ["step"]:
            weights = "base" if tiny else "random"
            done = subprocess.run(
                [sys.executable, "-c", _MEMORY_CHILD, name, weights, here, what], capture_output=True, text=True
            )
            if done.returncode:
                print(
                    f"| {name} | {what} | {weights} | - | - | - | failed: {done.stderr.strip().splitlines()[-1][:80]} |"
                )
                continue
            r = json.loads(done.stdout.strip().splitlines()[-1])
            label = "train step + eval 64" if what == "step" else "whole cell to 128 samples"
            secs = [f"{r[k]:.2f}" if k in r else "-" for k in ("train_step_s", "eval_64_s")]
            print(
                f"| {name} | {label} | {weights} | {r.get('batch', '-')} "
                f"| {secs[0]} | {secs[1]} | {r['peak_mib']:.0f} |"
            )


def cache_effect(budget: int, threads: int) -> None:
    import torch

    import rls3_bench.harness.generation as generation
    from rls3_bench.cli import BUILTIN_GENERATORS
    from rls3_bench.data.evalsets import load_eval_set
    from rls3_bench.harness.cell import run_cell

    torch.set_num_threads(threads)
    track = _track("clip-tiny", budgets=(budget,))
    items = load_eval_set("spatial-v1-mini")
    size = generation.CACHE_SIZE
    print(
        f"# clip-tiny to {budget} samples, spatial-v1-mini, "
        f"inline, torch threads {threads}; cache of {size} observations vs none"
    )
    print("| generator | scenes rendered | cache hits | render s, cache off | render s, cache on | same records |")
    print("|---|---|---|---|---|---|")
    for name in BUILTIN_GENERATORS:
        runs = {}
        for cache in (0, size):
            generation.CACHE_SIZE = cache
            res = run_cell(track, name, 0, eval_items=items, pipeline=False)
            runs[cache] = (res.cost, res.decided())
        generation.CACHE_SIZE = size
        off, on = runs[0][0], runs[size][0]
        print(
            f"| {name} | {on['scenes_rendered']} | {on['render_cache_hits']} "
            f"({on['render_cache_hits'] / on['scenes_rendered']:.1%}) | "
            f"{off['seconds']['render']:.1f} | {on['seconds']['render']:.1f} | {runs[0][1] == runs[size][1]} |"
        )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("part", choices=["budget", "workers", "memory", "cache"])
    p.add_argument("--workers", default="1,2,3,4")
    p.add_argument("--plot", help="also draw the curve into this PNG (budget, workers)")
    p.add_argument("--budgets", default="128,256,512,1024")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--tracks", default="clip-tiny,paligemma-tiny,clip-vit-b-32")
    args = p.parse_args(argv)
    if args.part == "budget":
        budget_curve([int(b) for b in args.budgets.split(",")], args.threads, args.plot)
    elif args.part == "workers":
        worker_curve([int(w) for w in args.workers.split(",")], args.plot)
    elif args.part == "cache":
        cache_effect(
            int(args.budgets.split(",")[-1]) if args.budgets != p.get_default("budgets") else 256, args.threads
        )
    else:
        memory(args.tracks.split(","))
    return 0


if __name__ == "__main__":
    sys.exit(main())
