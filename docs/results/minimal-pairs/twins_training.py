"""Train clip-tiny (or paligemma-tiny, ``--learner paligemma``) on minimal pairs (twins) of one world
and score it on that world's twins by half.

Training twins come from the eval sets' construction (labeller 2, validity 2) with a training split
key (1001 unless ``--split-key``), so no validation scene is reproduced; the validation set is the
world's twin val split (``spatial-v2-val`` in world 1, ``spatial-v3-val`` in world 2). Scores per
pass: accuracy overall, where positions decide, where only identity decides, and group score (both
twins right).

    python docs/results/minimal-pairs/twins_training.py OUT --world 2 --train-pc 4104 --passes 6
    python docs/results/minimal-pairs/twins_training.py OUT --world 2 --train-data uniform --uniform-n 4096
    python docs/results/minimal-pairs/twins_training.py OUT --world 2 --train-pc 1368 --passes 12 \
        --hard-negative-weight 4 --weights base-weights/clip-tiny-base.safetensors
    python docs/results/minimal-pairs/twins_training.py OUT --world 2 --train-data uniform --passes 4 \
        --mirror --hard-negative-weight 4 --weights base-weights/clip-tiny-base.safetensors
    python docs/results/minimal-pairs/twins_training.py OUT --world 2 --train-data uniform --passes 8 \
        --image-lr-scale 0 --hard-negative-weight 4 --weights base-weights-w2/clip-tiny-base.safetensors
    python docs/results/minimal-pairs/twins_training.py OUT --world 2 --train-data uniform-twins --uniform-n 1024 \
        --passes 16 --image-lr-scale 0 --hard-negative-weight 4 --weights base-weights-w2/clip-tiny-base.safetensors
    python docs/results/minimal-pairs/twins_training.py OUT --world 2 --train-data uniform --data-seed 0 1 \
        --lateral-only --lateral-sides 2.61 100 --passes 20 --by-offset --hard-negative-weight 4
"""

import argparse
import dataclasses
import pickle
import time
from pathlib import Path

import numpy as np

from rls3_bench.analysis.blind import positions_suffice, slice_attributes
from rls3_bench.analysis.metrics import item_rows, slice_accuracies
from rls3_bench.data.evalsets import EVAL_SETS, EvalSetSpec, build_eval_set, load_eval_set
from rls3_bench.labels.captions import restated
from rls3_bench.learners.clip import ClipLearner
from rls3_bench.learners.paligemma import PaliGemmaLearner
from rls3_bench.scene.worlds import WORLDS

VAL_SETS = {1: "spatial-v2-val", 2: "spatial-v3-val"}
ID_SETS = {1: "uniform-id-v2", 2: "uniform-id-v3"}
#: in-distribution twins (uniform-v1 samples and redraws in which the other caption is true)
ID_TWIN_SETS = {2: "uniform-twins-v3"}
TWIN_VERSIONS = {1: 2, 2: 3}

parser = argparse.ArgumentParser()
parser.add_argument("out", type=Path)
parser.add_argument("--world", type=int, choices=sorted(WORLDS), default=2)
parser.add_argument("--train-pc", type=int, default=4104, help="per_complexity of the training twins")
parser.add_argument("--passes", type=int, default=6)
parser.add_argument("--split-key", type=int, default=1001, help="training twins' split key (0-2 are the eval sets')")
parser.add_argument("--seed", type=int, default=0, help="learner seed and data order")
parser.add_argument(
    "--learner",
    choices=("clip", "paligemma"),
    default="clip",
    help="clip-tiny, or paligemma-tiny with its track's recipe (lr 3e-4, weight decay 0.01, batch 16)",
)
parser.add_argument("--lr", type=float, help="learning rate (default: 5e-4 for clip, 3e-4 for paligemma)")
parser.add_argument("--hard-negative-weight", type=float, default=1.0, help="the recipe's hard_negative_weight")
parser.add_argument("--weights", default="base", help="start weights: base or a .safetensors file")
parser.add_argument("--mirror", action="store_true", help="half a batch of items and their horizontal mirrors")
parser.add_argument(
    "--image-lr-scale", type=float, default=1.0, help="the recipe's image_lr_scale (0: image tower frozen)"
)
parser.add_argument("--lateral-only", action="store_true", help="train on left/right-flip items only")
parser.add_argument("--report-every", type=int, default=1, help="score every K passes (and the last)")
parser.add_argument("--by-offset", action="store_true", help="at the end, id-set lateral accuracy by pair offset")
parser.add_argument(
    "--by-nearest",
    action="store_true",
    help="at the end, id-set lateral accuracy by distance to the nearest training image",
)
parser.add_argument("--save-weights", type=Path, help="after the last pass, write the learner's weights here")
parser.add_argument(
    "--train-data",
    choices=("twins", "uniform", "uniform-twins"),
    default="twins",
    help="the eval construction's twins, uniform-v1 samples, or uniform-v1 samples with their uniform twins",
)
parser.add_argument(
    "--uniform-n", type=int, default=4096, help="training samples with --train-data uniform or uniform-twins"
)
parser.add_argument(
    "--data-seed", type=int, nargs="+", default=[0], help="uniform-v1 sampling seeds (one pool each, joined)"
)
parser.add_argument(
    "--lateral-sides",
    type=float,
    nargs=2,
    metavar=("LO", "HI"),
    help="with --lateral-only: keep items whose pair stands LO to HI object sides apart horizontally",
)
args = parser.parse_args()
world = WORLDS[args.world]
args.out.mkdir(parents=True, exist_ok=True)
t0 = time.time()


def log(line: str) -> None:
    print(line, flush=True)
    with open(args.out / "log.txt", "a") as f:
        f.write(line + "\n")


def cached(name: str, build):
    path = args.out / f"{name}.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())
    items = build()
    path.write_bytes(pickle.dumps(items))
    log(f"built {name}: {len(items)} samples in {time.time() - t0:.0f}s")
    return items


def training_twins():
    spec = EvalSetSpec(
        f"train-twins-w{world.version}",
        TWIN_VERSIONS[world.version],
        args.split_key,
        args.train_pc,
        labeller=2,
        validity_version=2,
        world=world.version,
    )
    return build_eval_set(spec)


def uniform_items(data_seed: int):
    """uniform-v1's sampling (random scenes, a random captionable pair each) in this world"""
    from rls3_bench.backends.embedded import EmbeddedBackend
    from rls3_bench.labels.annotate import uniform_samples
    from rls3_bench.labels.relations import LABELLERS

    with EmbeddedBackend(image_size=128, renderer="tiny", validity_version=2) as backend:
        rng = np.random.default_rng(data_seed)
        return uniform_samples(backend, rng, args.uniform_n, cfg=LABELLERS[2], world=world)


def mirrored(s):
    """The sample seen in a mirror: image flipped left-right, left and right exchanged; its first
    negative is the same kind of flip (of the exchanged term) as the original's. ``spec`` stays the
    original scene's: a mirrored room is not a scene of any world, only an image to train on."""
    swap = {"left": "right", "right": "left"}
    kind = s.negative_kinds[0]
    first = f"flip:{swap.get(kind[5:], kind[5:])}" if kind.startswith("flip:") else kind
    out = restated(s, [swap.get(t, t) for t in s.terms], s.sample_id + ":mirror", first_negative=first)
    return dataclasses.replace(out, image=np.ascontiguousarray(s.image[:, ::-1]))


def object_sides(items) -> list[float]:
    """each item's horizontal pair offset in object sides (root-mean-square of the two sides); NaN
    where an object of the pair shows no pixel"""
    from pair_offsets import offsets_backend, pair_offset

    with offsets_backend() as backend:
        offsets = [pair_offset(backend, s) or (np.nan, 0, 1, 1) for s in items]
    return [dx / np.sqrt(0.5 * (a * a + b * b)) for dx, _, a, b in offsets]


val_name, id_name = VAL_SETS[world.version], ID_SETS[world.version]
val = load_eval_set(val_name, EVAL_SETS[val_name].content_hash)
id_set = load_eval_set(id_name, EVAL_SETS[id_name].content_hash)
id_twins_name = ID_TWIN_SETS.get(world.version)
id_twins = load_eval_set(id_twins_name, EVAL_SETS[id_twins_name].content_hash) if id_twins_name else None
if args.train_data == "twins":
    train = cached(f"twins-w{world.version}-{args.train_pc}-key{args.split_key}", training_twins)
elif args.train_data == "uniform-twins":
    # as uniform-twins-v3 is built (split key 101), from a training split key
    spec = EvalSetSpec(
        f"train-uniform-twins-w{world.version}",
        world.version + 1,
        args.split_key,
        0,
        labeller=2,
        uniform_items=args.uniform_n,
        validity_version=2,
        world=world.version,
        twins=True,
    )
    train = cached(f"uniform-twins-w{world.version}-{args.uniform_n}-key{args.split_key}", lambda: build_eval_set(spec))
else:
    train = []
    for data_seed in args.data_seed:
        name = f"uniform-w{world.version}-{args.uniform_n}-seed{data_seed}"
        train += cached(name, lambda data_seed=data_seed: uniform_items(data_seed))
if args.lateral_only:
    train = [s for s in train if s.negative_kinds[0] in ("flip:left", "flip:right")]
    log(f"lateral only: {len(train)} training items")
    if args.lateral_sides:
        lo, hi = args.lateral_sides
        sides = cached(f"sides-{len(train)}-{train[0].sample_id}", lambda: object_sides(train))
        train = [s for s, x in zip(train, sides, strict=True) if lo <= x < hi]
        log(f"lateral sides {lo}-{hi}: {len(train)} training items, median {np.nanmedian(sides):.2f} over all")
by_positions = np.array([positions_suffice(s) for s in val])
log(f"world {world.version}: val {val_name} {len(val)} items, positions decide {int(by_positions.sum())}")

if args.learner == "clip":
    recipe = {"lr": args.lr or 5e-4, "weight_decay": 0.1, "batch_size": 32, "image_lr_scale": args.image_lr_scale}
    learner = ClipLearner(
        "clip-tiny", args.weights, recipe | {"hard_negative_weight": args.hard_negative_weight}, seed=args.seed
    )
else:
    if args.image_lr_scale != 1.0:
        parser.error("--image-lr-scale is a clip recipe key")
    recipe = {"lr": args.lr or 3e-4, "weight_decay": 0.01, "batch_size": 16}
    learner = PaliGemmaLearner(
        "paligemma-tiny", args.weights, recipe | {"hard_negative_weight": args.hard_negative_weight}, seed=args.seed
    )


def scores(items):
    """accuracy overall, where positions decide, where identity decides, group (both twins right)"""
    right = np.array([p.score_true > p.score_negative for p in learner.evaluate(items).predictions])
    parts = [right.mean(), right[by_positions].mean(), right[~by_positions].mean(), right.reshape(-1, 2).all(1).mean()]
    return tuple(round(float(x), 3) for x in parts)


def axes(items) -> str:
    """accuracy per flipped axis (swaps apart), "lateral 0.50 vertical 0.93 ..." """
    by_axis = slice_accuracies(items, item_rows(items, learner.evaluate(items).predictions))["flipped_axis"]
    return " ".join(f"{k.replace(' ', '')} {v:.3f}" for k, v in by_axis.items())


def train_accuracy():
    right = [p.score_true > p.score_negative for p in learner.evaluate(train[:256]).predictions]
    return round(float(np.mean(right)), 3)


def twins_split(items) -> str:
    """accuracy on the first items of an in-distribution twin set and on their twins"""
    right = np.array([p.score_true > p.score_negative for p in learner.evaluate(items).predictions])
    return f"first items {right[::2].mean():.3f}, twins {right[1::2].mean():.3f}"


def report(tag: str) -> None:
    log(f"{tag}: val/pos/id/group {scores(val)} train256 {train_accuracy()} t={time.time() - t0:.0f}s")
    log(f"{tag}: by axis, {val_name}: {axes(val)}; {id_name}: {axes(id_set)}")
    if id_twins is not None:
        log(f"{tag}: {id_twins_name}: {axes(id_twins)}; {twins_split(id_twins)}")


report("base")
order = np.random.default_rng(args.seed)
per_batch = recipe["batch_size"] // 2 if args.mirror else recipe["batch_size"]
for n_pass in range(1, args.passes + 1):
    idx = order.permutation(len(train))
    for i in range(0, len(idx) - per_batch + 1, per_batch):
        batch = [train[j] for j in idx[i : i + per_batch]]
        learner.train_step(batch + [mirrored(s) for s in batch] if args.mirror else batch)
    if n_pass % args.report_every == 0 or n_pass == args.passes:
        report(f"pass {n_pass}")

if args.save_weights:
    learner.export_weights(args.save_weights)

if args.by_offset or args.by_nearest:
    # the id set's lateral items and whether the trained learner gets each right, for the splits below
    axis = {a["item_id"]: a["flipped_axis"] for a in slice_attributes(id_set)}
    lateral = [s for s in id_set if axis[s.sample_id] == "lateral"]
    right = np.array([r["correct"] for r in item_rows(lateral, learner.evaluate(lateral).predictions)])

if args.by_offset:
    # in terciles of the pair's horizontal offset, in object sides
    sides = np.array(object_sides(lateral))
    cuts = [0.0, *np.quantile(sides, [1 / 3, 2 / 3]), np.inf]
    for tag, lo, hi in zip(("near", "middle", "far"), cuts, cuts[1:], strict=False):
        part = (sides >= lo) & (sides < hi)
        span = f"{lo:.1f}-{min(hi, sides.max()):.1f}"
        log(f"{id_name} lateral, {tag} ({span} object sides): {part.sum()} items, accuracy {right[part].mean():.3f}")

if args.by_nearest:
    # in halves of their pixel distance to the nearest training image: if what carries over is
    # memorised near duplicates, the near half holds the gain
    pool = np.stack([s.image.reshape(-1) for s in train]).astype(np.float32) / 255
    nearest = np.array([np.sqrt(((pool - s.image.reshape(-1) / 255) ** 2).mean(1)).min() for s in lateral])
    cut = np.median(nearest)
    for tag, part in (("near", nearest < cut), ("far", nearest >= cut)):
        log(
            f"{id_name} lateral, {tag} half (RMS distance to nearest training image {nearest[part].min():.3f}-"
            f"{nearest[part].max():.3f}): {part.sum()} items, accuracy {right[part].mean():.3f}"
        )
