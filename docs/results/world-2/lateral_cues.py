"""Which cue a CLIP learner's left/right answers follow, on an eval set's lateral flip items.

For each item (a caption with a left/right term against the same caption with that term flipped)
the segmentation gives the image x of the subject's and the reference's centroids. Three cues each
pick a term:

* relative: the subject's x against the reference's (what the caption means; agrees with the label
  wherever the labeller's 3-D relation and the pixels agree);
* subject side: which half of the image the subject stands in ("left" when it is left of the centre);
* reference side: the opposite of the reference's half ("left" when the reference stands right of
  the centre);
* room prior: :class:`rls3_bench.analysis.blind.RoomPrior` fitted on 3,000 uniform-v1 captions of
  world 2 (the room and the caption's other terms, not where the objects stand; a tie picks neither).

Per learner and set: accuracy, accuracy with every image swapped for another item's image (an
image-free reading keeps its accuracy there), how often each cue is right, how often the learner's
answer agrees with each cue, its accuracy where the subject-side cue and where the room prior is
wrong, and its accuracy in bands of the pair's horizontal offset.

    python docs/results/world-2/lateral_cues.py base W1.safetensors W2.safetensors
"""

import argparse
import dataclasses

import numpy as np

from rls3_bench.analysis.blind import RoomPrior, blind_rows, slice_attributes, uniform_prior
from rls3_bench.backends.embedded import EmbeddedBackend
from rls3_bench.data.evalsets import EVAL_SETS, load_eval_set
from rls3_bench.learners.clip import ClipLearner

SETS = ("uniform-id-v3", "spatial-v3-val")
OPPOSITE = {"left": "right", "right": "left"}

parser = argparse.ArgumentParser()
parser.add_argument("weights", nargs="+", help="CLIP weights: base or .safetensors files")
parser.add_argument("--model", default="clip-tiny")
parser.add_argument("--seed", type=int, default=0, help="seed of the image shuffle")
args = parser.parse_args()


def lateral_items(name: str):
    items = load_eval_set(name, EVAL_SETS[name].content_hash)
    axis = {a["item_id"]: a["flipped_axis"] for a in slice_attributes(items)}
    return [s for s in items if axis[s.sample_id] == "lateral"]


def centroids_x(backend, sample) -> tuple[float, float] | None:
    """image x of the subject's and the reference's centroids (sample ids end in their object
    indices), or None where either shows no pixel"""
    _, a, b = sample.sample_id.rsplit(":", 2)
    seg = backend.observe(sample.spec).segmentation
    xa, xb = np.nonzero(seg == int(a))[1], np.nonzero(seg == int(b))[1]
    return (xa.mean(), xb.mean()) if len(xa) and len(xb) else None


def lateral_term(sample) -> str:
    return next(t for t in sample.terms if t in OPPOSITE)


room_prior = uniform_prior(3000, world=2, scorer=RoomPrior)
sets = {}
with EmbeddedBackend(image_size=128, renderer="tiny", validity_version=2) as backend:
    for name in SETS:
        items = lateral_items(name)
        xs = [centroids_x(backend, s) for s in items]
        keep = [i for i, x in enumerate(xs) if x is not None]
        items = [items[i] for i in keep]
        xs = np.array([xs[i] for i in keep])
        width = items[0].image.shape[1]
        truth = np.array([lateral_term(s) for s in items])
        cues = {
            "relative": np.where(xs[:, 0] < xs[:, 1], "left", "right"),
            "subject side": np.where(xs[:, 0] < width / 2, "left", "right"),
            "reference side": np.where(xs[:, 1] > width / 2, "left", "right"),
            "room prior": np.array(
                [
                    {1.0: t, 0.0: OPPOSITE[t], 0.5: "tie"}[r["credit"]]
                    for t, r in zip(truth, blind_rows(room_prior, items), strict=True)
                ]
            ),
        }
        parts = ", ".join(f"{c} {np.mean(v == truth):.3f}" for c, v in cues.items())
        dx = np.abs(xs[:, 0] - xs[:, 1])
        sets[name] = (items, truth, cues, dx)
        print(
            f"{name}: {len(items)} lateral items with both objects visible, median |dx| {np.median(dx):.1f} px "
            f"(quartiles {np.quantile(dx, 0.25):.1f}-{np.quantile(dx, 0.75):.1f}); cue right: {parts}"
        )

# the same horizontal-offset bands on both sets: the first set's terciles
cuts = [0.0, *np.quantile(sets[SETS[0]][3], [1 / 3, 2 / 3]), np.inf]
rng = np.random.default_rng(args.seed)
for weights in args.weights:
    learner = ClipLearner(args.model, weights, {}, device="cpu", seed=0)
    for name, (items, truth, cues, dx) in sets.items():
        right = np.array([p.score_true > p.score_negative for p in learner.evaluate(items).predictions])
        answer = np.where(right, truth, [OPPOSITE[t] for t in truth])
        order = rng.permutation(len(items))  # one cycle through all items: each gets another's image
        perm = np.empty_like(order)
        perm[order] = np.roll(order, -1)
        shuffled = [dataclasses.replace(s, image=items[j].image) for s, j in zip(items, perm, strict=True)]
        blind = np.mean([p.score_true > p.score_negative for p in learner.evaluate(shuffled).predictions])
        subject_wrong = cues["subject side"] != truth
        room_wrong = (cues["room prior"] != truth) & (cues["room prior"] != "tie")
        agree = ", ".join(f"{c} {np.mean(answer == v):.3f}" for c, v in cues.items())
        print(
            f"{weights} on {name}: accuracy {right.mean():.3f}, images shuffled {blind:.3f}; answer agrees with "
            f"{agree}; where the subject side misleads ({subject_wrong.sum()} items): accuracy "
            f"{right[subject_wrong].mean():.3f}; where the room prior misleads ({room_wrong.sum()}): "
            f"{right[room_wrong].mean():.3f}"
        )
        bands = [(lo, hi, (dx >= lo) & (dx < hi)) for lo, hi in zip(cuts, cuts[1:], strict=False)]
        print(
            "  by |dx|: "
            + ", ".join(f"{lo:.0f}-{hi:.0f} px {right[b].mean():.3f} ({b.sum()})" for lo, hi, b in bands if b.any())
        )
