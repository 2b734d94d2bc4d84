"""Drive generators against one fixed learner and record what they deliver and how the agents act.

    python docs/results/rl-selection/fixed_learner.py OUT --track TRACK \
        --generator rls3-sac-v2 --generator rls3-random-v2 --seeds 0 1 2 3 -n 2048

Each (generator, seed) runs in rounds of the track's size as in a run with that seed, but its
queries and feedback come from the track's base learner, which is never trained
(``rls3_bench.harness.generation.rounds_with_frozen_learner``, as in ``rls3-bench export
--generator``). So every generator's samples are scored by the same learner, and an agent's
extrinsic reward has a fixed target: if SAC can learn to find scenes this learner gets
wrong, its delivered samples' loss must rise above the random agent's as the episodes go on.

Writes, in OUT, per (generator, seed) (gzipped CSV):

* ``samples-*.csv.gz``: per delivered sample: generator, seed, round, the fixed learner's loss and
  2-way correctness, complexity, terms, stacked (a pure above/below caption), pair distance (m);
* ``steps-*.csv.gz``: per agent step (agents only): the 6 action values, the decoded slot, support kind
  (``surface`` or ``object``), validity and refusal reason;
* ``episodes-*.csv.gz``: the agents' per-episode history (J2, learner error, feasibility, ent_coef).

``figures.py`` in this folder draws them. Deterministic per seed; one thread per process.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import gzip
import os
import re
import sys
from pathlib import Path


def _rows_to_csv(path: Path, rows: list[dict]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with gzip.open(tmp, "wt", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    tmp.replace(path)


def drive(track, name: str, seed: int, n: int, label: str | None = None):
    """(sample rows, step rows, episode rows) of ``name`` with run seed ``seed`` against the base
    learner; ``label`` (default: the name) fills their ``generator`` column."""
    from rls3_bench.analysis.blind import pair_distance
    from rls3_bench.generator import get_generator_class
    from rls3_bench.harness.cell import make_learner
    from rls3_bench.harness.generation import make_generator, rounds_with_frozen_learner

    label = label or name
    cls = get_generator_class(name)
    gen = make_generator(cls, seed, track.generator_config)
    learner = make_learner(track, seed)
    steps: list[dict] = []
    env = getattr(gen, "env", None)
    if env is not None:
        step = env.step

        def recording_step(action):
            edit = env.decode(action)
            out = step(action)
            steps.append(
                {
                    "generator": label,
                    "seed": seed,
                    **{f"a{i}": round(float(a), 5) for i, a in enumerate(action)},
                    "slot": edit.slot,
                    "support": "object" if edit.support.startswith("object:") else "surface",
                    "valid": bool(out[4]["valid"]),
                    "reason": out[4]["reason"] or "",
                }
            )
            return out

        env.step = recording_step
    rows: list[dict] = []
    with contextlib.closing(rounds_with_frozen_learner(gen, track, learner)) as rounds:
        for r, (out, feedback) in enumerate(rounds):
            for s, loss, ok in zip(out.delivered, feedback.loss, feedback.correct, strict=True):
                rows.append(
                    {
                        "generator": label,
                        "seed": seed,
                        "round": r,
                        "loss": round(float(loss), 6),
                        "correct": bool(ok),
                        "complexity": s.complexity,
                        "terms": " ".join(s.terms),
                        "stacked": set(s.terms) <= {"above", "below"},
                        "pair_distance": round(pair_distance(s), 4),
                    }
                )
            if len(rows) >= n:
                break
    episodes = [{"generator": label, "seed": seed, **h} for h in getattr(gen, "history", [])]
    return rows[:n], steps, episodes


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out", type=Path)
    p.add_argument("--track", required=True)
    p.add_argument("--weights", help="the fixed learner's weights (default: the track's own base)")
    p.add_argument("--generator", action="append", required=True)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("-n", type=int, default=2048)
    p.add_argument("--label", help="name in the CSVs' generator column (one --generator; default: its name)")
    args = p.parse_args(argv)
    if args.label and len(args.generator) > 1:
        p.error("--label names one generator; give one --generator with it")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    from rls3_bench.harness.tracks import load_track

    torch.set_num_threads(1)
    track = load_track(args.track)
    if args.weights:
        track = track.replace(weights=args.weights)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.generator:
        for seed in args.seeds:
            tag = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{args.label or name}-{seed}")
            if (args.out / f"samples-{tag}.csv.gz").exists():
                continue
            rows, steps, episodes = drive(track, name, seed, args.n, args.label)
            for kind, got in (("steps", steps), ("episodes", episodes)):
                if got:
                    _rows_to_csv(args.out / f"{kind}-{tag}.csv.gz", got)
            _rows_to_csv(args.out / f"samples-{tag}.csv.gz", rows)  # last: its presence marks the pair done
            print(f"{tag}: {len(rows)} samples, loss {sum(r['loss'] for r in rows) / len(rows):.4f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
