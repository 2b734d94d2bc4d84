"""Pipelining, measured side by side: one cell's wall time inline vs with generation ahead of training,
against its generation time and its learner time measured separately, in one process on one machine.

    python tests/benchmarks/measure_pipelining.py [--track clip-tiny] [--generator uniform-v1] [--seed 0]
        [--threads 1] [--budget 2048] [--repeats 1] [--device cuda] [--random-weights]

Prints one markdown table (seconds and ratios) and whether the two runs' records are identical.
The issue's goal: pipelined wall <= 1.15 x max(generation, learner) instead of their sum. On a GPU
(``--track clip-vit-b-32 --device cuda --random-weights``), learner s / pipelined wall is the loop's
samples/s as a fraction of pure training's (goal: >= 0.8).
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def generation_only(track, generator: str, seed: int) -> tuple[float, list]:
    """All rounds of the cell's generator, inline, no learner: (seconds, rounds of samples)."""
    from rls3_bench.backends import get_backend_class
    from rls3_bench.generator import Cost, get_generator_class
    from rls3_bench.harness.generation import Harness, make_generator, produce_round

    gen = make_generator(get_generator_class(generator), seed, track.generator_config)
    with get_backend_class(track.backend)(image_size=track.image_size, renderer=track.renderer) as backend:
        t0 = time.perf_counter()
        harness = Harness(backend, Cost())
        rounds = [
            produce_round(gen, harness, r, track.round_size).delivered
            for r in range(track.budgets[-1] // track.round_size)
        ]
        return time.perf_counter() - t0, rounds


def learner_only(track, seed: int, rounds: list, items: list) -> float:
    """The cell's training and evaluation schedule on already generated rounds: seconds."""
    from rls3_bench.harness.cell import make_learner
    from rls3_bench.harness.seeds import rng_for

    learner = make_learner(track, seed)
    batch = int(track.recipe.get("batch_size", 32))
    t0 = time.perf_counter()
    learner.evaluate(items)
    for r, delivered in enumerate(rounds):
        order_rng = rng_for("learner", seed, r)
        for _ in range(track.epochs_per_round):
            order = order_rng.permutation(len(delivered))
            for i in range(0, len(order), batch):
                learner.train_step([delivered[j] for j in order[i : i + batch]])
        if (r + 1) * track.round_size in track.budgets:
            learner.evaluate(items)
    return time.perf_counter() - t0


def whole_cell(track, generator: str, seed: int, items: list, pipeline: bool) -> tuple[float, dict]:
    from rls3_bench.harness.cell import run_cell

    t0 = time.perf_counter()
    res = run_cell(track, generator, seed, eval_items=items, pipeline=pipeline)
    wall = time.perf_counter() - t0
    assert res.status == "complete" and res.pipelined == pipeline, (res.status, res.failure)
    return wall, res.decided()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--track", default="clip-tiny")
    p.add_argument("--generator", default="uniform-v1")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as with --workers 2 on 2 cores)")
    p.add_argument("--budget", type=int, help="top budget (default: the track's)")
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--device", help="override the track's device (cpu, cuda)")
    p.add_argument(
        "--random-weights", action="store_true", help="random initial weights (full-size tracks without a download)"
    )
    args = p.parse_args(argv)

    import torch

    from rls3_bench.data.evalsets import load_eval_set
    from rls3_bench.harness.tracks import load_track

    torch.set_num_threads(args.threads)
    track = load_track(args.track)
    track = track.replace(
        **({"device": args.device} if args.device else {}), **({"weights": None} if args.random_weights else {})
    )
    if args.budget:
        track = track.replace(budgets=tuple(b for b in track.budgets if b < args.budget) + (args.budget,), presets={})
    items = load_eval_set(track.eval_set, track.eval_set_hash)
    rows = []
    for _ in range(args.repeats):
        gen_s, rounds = generation_only(track, args.generator, args.seed)
        learn_s = learner_only(track, args.seed, rounds, items)
        inline_s, inline_rec = whole_cell(track, args.generator, args.seed, items, pipeline=False)
        ahead_s, ahead_rec = whole_cell(track, args.generator, args.seed, items, pipeline=True)
        rows.append((gen_s, learn_s, inline_s, ahead_s, inline_rec == ahead_rec))
    print(
        f"# {track.key}, {args.generator}, seed {args.seed}, budget {track.budgets[-1]}, torch threads {args.threads}, "
        f"{os.cpu_count()} cores, python {sys.version.split()[0]}, torch {torch.__version__}"
    )
    print(
        "| repeat | generation s | learner s | inline wall s | pipelined wall s | inline / (gen + learner) | "
        "pipelined / max(gen, learner) | learner / pipelined | speed-up | same records |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for k, (g, t, s, a, same) in enumerate(rows):
        print(
            f"| {k} | {g:.1f} | {t:.1f} | {s:.1f} | {a:.1f} | {s / (g + t):.2f} "
            f"| {a / max(g, t):.2f} | {t / a:.2f} | {s / a:.2f}x | {same} |"
        )
    return 0 if all(r[-1] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
