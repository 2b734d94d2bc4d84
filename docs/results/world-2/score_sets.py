"""Score CLIP weights on world 2's eval sets, per flipped axis, with the group score of the twin sets
and, on the in-distribution twins (`uniform-twins-v3`), the first items (uniform-v1 samples) apart
from their twins (the redraws in which the other caption is true). A learner that follows the room
prior is right on most first items and wrong on their twins; one that reads the image is right on both.

    python docs/results/world-2/score_sets.py base W1.safetensors W2.safetensors
"""

import argparse

import numpy as np

from rls3_bench.analysis.metrics import group_score, item_rows, slice_accuracies
from rls3_bench.data.evalsets import EVAL_SETS, load_eval_set
from rls3_bench.learners.clip import ClipLearner

SETS = ("spatial-v3-val", "uniform-id-v3", "uniform-twins-v3")
TWIN_SETS = {"spatial-v3-val", "uniform-twins-v3"}

parser = argparse.ArgumentParser()
parser.add_argument("weights", nargs="+", help="CLIP weights: base or .safetensors files")
parser.add_argument("--model", default="clip-tiny")
args = parser.parse_args()

sets = {name: load_eval_set(name, EVAL_SETS[name].content_hash) for name in SETS}
for weights in args.weights:
    learner = ClipLearner(args.model, weights, {}, device="cpu", seed=0)
    for name, items in sets.items():
        rows = item_rows(items, learner.evaluate(items).predictions)
        right = np.array([r["correct"] for r in rows], dtype=float)
        axes = slice_accuracies(items, rows)["flipped_axis"]
        line = f"{weights} on {name}: {right.mean():.3f} ({len(items)} items)"
        if name in TWIN_SETS:
            line += f", group {group_score(rows):.3f}"
        if name == "uniform-twins-v3":
            line += f", first items {right[::2].mean():.3f}, their twins {right[1::2].mean():.3f}"
        print(line + "; " + " ".join(f"{k.replace(' ', '')} {v:.3f}" for k, v in axes.items()))
