"""Can a tiny learner read left from right in world 2 at all? Train it on the easiest prior-free data
there is and see whether, and after how many steps, it leaves chance.

The data are minimal pairs (``rls3_bench.data.minimal_pairs``, the pairs of ``rls3-bench pretrain
--pair-steps``) built with the eval sets' construction (``construct_spec``): a scene of
world 2 in which object A stands to the left (or right) of B, with one term of relation and nothing
else, and its twin, the same room, view and objects with A placed on the other side of B. Both twins
ask the same two captions ("the A is to the left of the B." / "... to the right of ...").
``--axes lateral vertical depth`` draws each group's axis at random from those named, in that order
(above/below pairs stack A on B or B on A; in front/behind pairs stand on either side in depth).
No caption, room or object statistic tells a twin's answer, so the only way to score above chance is
to read the image. ``--objects 2`` shows the pair alone; ``--objects 5`` adds three distractors, as
every scene of the eval sets has.

Training items are drawn fresh for every batch (half a batch of twin groups) unless ``--pool N``
fixes a pool of N groups to pass over. Scored every ``--report-every`` steps on held-out groups of
both object counts (overall and group score: both twins right), on the flips of ``spatial-v3-val``
and of ``uniform-twins-v3`` along each trained axis, and on the last 256 training items.
``--save-weights`` writes the trained weights, to start a harness run from (``rls3-bench run
--weights``):

    python docs/results/world-2/learnability.py OUT --objects 2 --steps 1000 --weights W2BASE
    python docs/results/world-2/learnability.py OUT --learner paligemma --objects 2 --steps 1000
    python docs/results/world-2/learnability.py OUT --axes lateral vertical depth --pool 3000 \
        --image-lr-scale 0.1 --weights POSITION-BASE --save-weights OUT/clip-tiny-base.safetensors
"""

import argparse
import pickle
import time
from pathlib import Path

import numpy as np

from rls3_bench.analysis.blind import slice_attributes
from rls3_bench.backends.embedded import EmbeddedBackend
from rls3_bench.data.evalsets import EVAL_SETS, load_eval_set
from rls3_bench.data.minimal_pairs import axis_pairs
from rls3_bench.labels.relations import LABELLERS
from rls3_bench.learners.answers import AXES as AXIS_TERMS
from rls3_bench.learners.clip import ClipLearner
from rls3_bench.learners.paligemma import PaliGemmaLearner
from rls3_bench.scene.worlds import WORLDS

WORLD = WORLDS[2]

parser = argparse.ArgumentParser()
parser.add_argument("out", type=Path)
parser.add_argument("--learner", choices=("clip", "paligemma"), default="clip")
parser.add_argument("--weights", default="base", help="start weights: base or a .safetensors file")
parser.add_argument("--objects", type=int, choices=(2, 5), default=2, help="objects per training scene")
parser.add_argument("--steps", type=int, default=1000)
parser.add_argument("--pool", type=int, default=0, help="twin groups in a fixed training pool (0: fresh every step)")
parser.add_argument("--report-every", type=int, default=250)
parser.add_argument("--held-out", type=int, default=100, help="held-out twin groups per object count")
parser.add_argument("--seed", type=int, default=0, help="learner seed and training data seed")
parser.add_argument("--lr", type=float, help="learning rate (default: 5e-4 for clip, 3e-4 for paligemma)")
parser.add_argument("--hard-negative-weight", type=float, help="default: 4 for clip, 10 for paligemma")
parser.add_argument("--cache", type=Path, help="folder for built items, shared by runs (default: OUT)")
parser.add_argument("--image-lr-scale", type=float, default=1.0, help="clip only: the image tower's share of lr")
parser.add_argument("--axes", nargs="+", choices=sorted(AXIS_TERMS), default=["lateral"], help="axes of the pairs")
parser.add_argument("--save-weights", type=Path, help="after the last step, write the learner's weights here")
args = parser.parse_args()
args.out.mkdir(parents=True, exist_ok=True)
cache = args.cache or args.out
cache.mkdir(parents=True, exist_ok=True)
t0 = time.time()


def log(line: str) -> None:
    print(line, flush=True)
    with open(args.out / "log.txt", "a") as f:
        f.write(line + "\n")


AXES = tuple(dict.fromkeys(args.axes))  # in the order named: a group's axis is drawn from this tuple


def groups(backend, rng, n: int, n_objects: int) -> list:
    """``n`` twin groups along AXES, as a list of 2n samples (each group's two items side by side)"""
    return axis_pairs(backend, rng, n, AXES, LABELLERS[2], WORLD, n_objects)


def cached(name: str, build):
    path = cache / f"{name}.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())
    items = build()
    path.write_bytes(pickle.dumps(items))
    log(f"built {name}: {len(items)} items in {time.time() - t0:.0f}s")
    return items


backend = EmbeddedBackend(image_size=128, renderer="tiny", validity_version=2)


# held-out groups come from their own seeds, apart from any training seed
def held_out_groups(n_objects: int) -> list:
    return groups(backend, np.random.default_rng(900 + n_objects), args.held_out, n_objects)


# cache names: lateral-only items keep their names from before --axes existed
AXES_TAG = "" if AXES == ("lateral",) else "-" + "-".join(AXES)
held_out = {k: cached(f"held-out-{k}obj-{args.held_out}{AXES_TAG}", lambda k=k: held_out_groups(k)) for k in (2, 5)}


def flips_of(name: str) -> list[tuple[str, list]]:
    """The items of eval set ``name`` whose negative flips each axis of AXES"""
    items = load_eval_set(name, EVAL_SETS[name].content_hash)
    axis = {a["item_id"]: a["flipped_axis"] for a in slice_attributes(items)}
    return [(a, [s for s in items if axis[s.sample_id] == a]) for a in AXES]


eval_flips = {name: flips_of(name) for name in ("spatial-v3-val", "uniform-twins-v3")}

if args.learner == "clip":
    recipe = {"lr": args.lr or 5e-4, "weight_decay": 0.1, "batch_size": 32, "image_lr_scale": args.image_lr_scale}
    recipe["hard_negative_weight"] = 4.0 if args.hard_negative_weight is None else args.hard_negative_weight
    learner = ClipLearner("clip-tiny", args.weights, recipe, seed=args.seed)
else:
    recipe = {"lr": args.lr or 3e-4, "weight_decay": 0.01, "batch_size": 16}
    recipe["hard_negative_weight"] = 10.0 if args.hard_negative_weight is None else args.hard_negative_weight
    learner = PaliGemmaLearner("paligemma-tiny", args.weights, recipe, seed=args.seed)


def accuracy(items) -> str:
    right = np.array([p.score_true > p.score_negative for p in learner.evaluate(items).predictions])
    both = right.reshape(-1, 2).all(1).mean() if len(right) % 2 == 0 else float("nan")
    return f"{right.mean():.3f} (group {both:.2f})"


def report(tag: str, seen: list) -> None:
    fit = accuracy(seen[-256:]) if seen else "-"
    log(
        f"{tag}: held-out 2 objects {accuracy(held_out[2])}, 5 objects {accuracy(held_out[5])}; "
        + "".join(f"{name} {axis} {accuracy(items)}; " for name, flips in eval_flips.items() for axis, items in flips)
        + f"last training items {fit}; t={time.time() - t0:.0f}s"
    )


rng = np.random.default_rng(args.seed)
per_step = recipe["batch_size"] // 2
pool = None
if args.pool:
    pool_name = f"pool-{args.objects}obj-{args.pool}-seed{args.seed}{AXES_TAG}"
    pool = cached(pool_name, lambda: groups(backend, rng, args.pool, args.objects))
order = np.random.default_rng(args.seed + 1)
report("step 0", [])
seen: list = []
for step in range(1, args.steps + 1):
    if pool is None:
        batch = groups(backend, rng, per_step, args.objects)
    else:
        picks = order.choice(len(pool) // 2, size=per_step, replace=False)
        batch = [s for g in picks for s in pool[2 * g : 2 * g + 2]]
    learner.train_step(batch)
    seen = (seen + batch)[-256:]
    if step % args.report_every == 0 or step == args.steps:
        report(f"step {step}", seen)
backend.close()
if args.save_weights:
    learner.export_weights(args.save_weights)
    log(f"weights written to {args.save_weights}")
