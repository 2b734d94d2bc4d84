"""How well a clip-tiny base's pooled image embedding says where each object is: a linear probe.

Renders 2,000 valid world-2 scenes (seed 12345, not a pretraining seed), embeds them with each given
base, fits one ridge regression per output (each asset's segmentation centroid x or y, on the scenes
that show it) on the first 1,600, and reports on the other 400 how often the probe orders two shown
objects correctly along x (left/right) and y (up/down): `pretrain`'s `position_order_accuracy`
(chance 0.5). `random` stands for a seeded random init.

    python docs/results/world-2/position_probe.py base-weights-w2/clip-tiny-base.safetensors random
"""

import argparse
import pickle
from pathlib import Path

import numpy as np
import torch

from rls3_bench.backends.embedded import EmbeddedBackend
from rls3_bench.learners.clip import ClipLearner
from rls3_bench.learners.pretrain import object_scenes, position_order_accuracy
from rls3_bench.scene.worlds import get_world

parser = argparse.ArgumentParser()
parser.add_argument("weights", nargs="+", help="clip-tiny .safetensors files, or 'random'")
parser.add_argument("--cache", type=Path, help="pickle of the rendered scenes, written once and reused")
parser.add_argument("--ridge", type=float, default=1e-3)
args = parser.parse_args()

if args.cache and args.cache.exists():
    scenes = pickle.loads(args.cache.read_bytes())
else:
    with EmbeddedBackend(image_size=128, renderer="tiny", validity_version=2) as backend:
        scenes = object_scenes(backend, 2000, np.random.default_rng(12345), get_world(2))
    if args.cache:
        args.cache.write_bytes(pickle.dumps(scenes))
images = np.stack([image for image, _, _ in scenes])
targets = np.stack([positions for _, _, positions in scenes])  # (scenes, assets, 2), NaN where not shown
fit, test = slice(0, 1600), slice(1600, None)

for weights in args.weights:
    learner = ClipLearner("clip-tiny", None if weights == "random" else weights, {}, seed=0)
    learner.core.eval()
    with torch.no_grad():
        embeddings = torch.cat([learner.encode_images(images[i : i + 100]) for i in range(0, len(images), 100)])
    features = np.hstack([embeddings.numpy(), np.ones((len(images), 1))])
    flat = targets.reshape(len(images), -1)
    predicted = np.zeros_like(flat[test])
    for k in range(flat.shape[1]):
        shown = ~np.isnan(flat[fit, k])
        a, y = features[fit][shown], flat[fit, k][shown]
        coef = np.linalg.solve(a.T @ a + args.ridge * np.eye(a.shape[1]), a.T @ y)
        predicted[:, k] = features[test] @ coef
    orders = {axis: position_order_accuracy(predicted, targets[test], k) for k, axis in enumerate("xy")}
    print(f"{weights}: probe order accuracy x {orders['x']:.3f}, y {orders['y']:.3f}", flush=True)
