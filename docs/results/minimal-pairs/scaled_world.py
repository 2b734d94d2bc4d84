"""Experiment behind "Larger objects in the full room view" (README.md beside this file).

A world whose objects are all at ``PlacedObject.scale`` S, placed by their scaled footprint and
height, with minimal pairs built by the v2 construction (labeller 2, validity 2) and only the twin
groups without a vertical term; clip-tiny is fine-tuned on the training twins and scored on the
validation twins per ``decided_by`` half and by group.

This is an experiment, not part of the package: it changes the scene modules' default scale for
this process only (function defaults), which is how a world-level scale would act without touching
every caller. Building a world into the package means a scale in the track and eval-set versions.

    python docs/results/minimal-pairs/scaled_world.py OUT --scale 2 --dist 0.3 0.8 --val-pc 216 --train-pc 4104
    python docs/results/minimal-pairs/scaled_world.py OUT --scale 1 --val-pc 216 --train-pc 4104
"""

import argparse
import pickle
import time
from pathlib import Path

import numpy as np

import rls3_bench.scene.assets as assets_mod
import rls3_bench.scene.construct as construct_mod
import rls3_bench.scene.random_scenes as random_mod
from rls3_bench.analysis.blind import positions_suffice
from rls3_bench.data.evalsets import EvalSetSpec, build_eval_set
from rls3_bench.learners.clip import ClipLearner
from rls3_bench.scene.spec import PlacedObject

parser = argparse.ArgumentParser()
parser.add_argument("out", type=Path)
parser.add_argument("--scale", type=float, default=2.0)
parser.add_argument("--dist", type=float, nargs=2, default=None, help="pair distance range (m)")
parser.add_argument("--val-pc", type=int, default=216, help="per_complexity of the validation set")
parser.add_argument("--train-pc", type=int, default=4104, help="per_complexity of the training set")
parser.add_argument("--passes", type=int, default=6)
parser.add_argument("--lr", type=float, default=5e-4)
parser.add_argument("--train-data", choices=("twins", "uniform"), default="twins")
parser.add_argument("--uniform-n", type=int, default=4096, help="training samples with --train-data uniform")
args = parser.parse_args()

scale = args.scale
assets_mod.footprint_radius.__defaults__ = (scale,)
assets_mod.asset_height.__defaults__ = (scale,)
random_mod.point_on_surface.__defaults__ = (scale,)
PlacedObject.__init__.__defaults__ = (0.0, scale, None)  # yaw_deg, scale, colour
if args.dist:
    construct_mod.DISTANCE_RANGE_M = tuple(args.dist)
all_groups = construct_mod.twin_groups


def flat_groups(per_complexity):
    # at scale 2 the rooms' surfaces are too close in height for a scaled object above another
    return [g for g in all_groups(per_complexity) if not {"above", "below"} & set(g[0])]


construct_mod.twin_groups = flat_groups

args.out.mkdir(parents=True, exist_ok=True)
t0 = time.time()


def log(line: str) -> None:
    print(line, flush=True)
    with open(args.out / "log.txt", "a") as f:
        f.write(line + "\n")


def items_for(split: str, split_key: int, per_complexity: int):
    cached = args.out / f"{split}.pkl"
    if cached.exists():
        return pickle.loads(cached.read_bytes())
    spec = EvalSetSpec(f"scale{scale}-v2-{split}", 2, split_key, per_complexity, labeller=2, validity_version=2)
    items = build_eval_set(spec)
    cached.write_bytes(pickle.dumps(items))
    log(f"built {split}: {len(items)} items in {time.time() - t0:.0f}s")
    return items


val = items_for("val", 1, args.val_pc)


def uniform_items(n: int):
    """uniform-v1's sampling (random scenes, a random captionable pair each) in this world"""
    cached = args.out / f"uniform{n}.pkl"
    if cached.exists():
        return pickle.loads(cached.read_bytes())
    from rls3_bench.backends.embedded import EmbeddedBackend
    from rls3_bench.labels.annotate import uniform_samples
    from rls3_bench.labels.relations import LABELLERS
    from rls3_bench.scene.assets import ROOMS

    with EmbeddedBackend(image_size=128, renderer="tiny", validity_version=2) as backend:
        items = uniform_samples(backend, np.random.default_rng(0), n, sorted(ROOMS), LABELLERS[2])
    cached.write_bytes(pickle.dumps(items))
    log(f"built uniform: {len(items)} samples in {time.time() - t0:.0f}s")
    return items


train = items_for("train", 1001, args.train_pc) if args.train_data == "twins" else uniform_items(args.uniform_n)
by_positions = np.array([positions_suffice(s) for s in val])
log(f"val {len(val)} items, positions decide {int(by_positions.sum())}")

recipe = {"lr": args.lr, "weight_decay": 0.1, "batch_size": 32, "hard_negative_weight": 1.0}
learner = ClipLearner("clip-tiny", "base", recipe, device="cpu", seed=0)


def scores(items):
    """accuracy overall, where positions decide, where identity decides, group (both twins right)"""
    right = np.array([p.score_true > p.score_negative for p in learner.evaluate(items).predictions])
    parts = [right.mean(), right[by_positions].mean(), right[~by_positions].mean(), right.reshape(-1, 2).all(1).mean()]
    return tuple(round(float(x), 3) for x in parts)


def train_accuracy():
    right = [p.score_true > p.score_negative for p in learner.evaluate(train[:256]).predictions]
    return round(float(np.mean(right)), 3)


log(f"[scale {scale}] base: val/pos/id/group {scores(val)}")
order = np.random.default_rng(0)
seen = 0
for n_pass in range(1, args.passes + 1):
    idx = order.permutation(len(train))
    for i in range(0, len(idx) - 31, 32):
        learner.train_step([train[j] for j in idx[i : i + 32]])
        seen += 32
        if n_pass == 1 and seen in (1024, 2048):
            log(f"  after {seen}: val/pos/id/group {scores(val)} t={time.time() - t0:.0f}s")
    log(f"pass {n_pass}: val/pos/id/group {scores(val)} train256 {train_accuracy()} t={time.time() - t0:.0f}s")
