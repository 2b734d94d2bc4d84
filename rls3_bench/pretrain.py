"""Base weights for the tiny tracks: object-aware, spatially naive, made by the project itself.

``rls3-bench pretrain --track clip-tiny`` renders uniformly random valid scenes (seed stream
``pretrain``), pairs each image with an object-level caption that has no spatial words ("a photo of
the green cup, the plate and the vase in a kitchen."), and trains the track's model from a seeded
random init with the learner's own ``pretrain_step``. The weights are exported as fp16 safetensors
into ``rls3_bench/weights/`` with a JSON card (command, seed, data size, hash, measured accuracies).

Two checks go into the card: **object identity** (2-way: the image's true object caption vs the same
caption with one object replaced by an absent one; should be high) and **spatial accuracy** on the
validation eval set per term (should be near chance: the base knows objects, not relations, as real
CLIP).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from rls3_bench.assets import ASSETS, ROOMS
from rls3_bench.captions import object_caption
from rls3_bench.io import atomic_write_json
from rls3_bench.samples import Sample
from rls3_bench.seeds import int_seed, rng_for

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


@dataclass(frozen=True)
class PretrainConfig:
    """:param scenes: distinct rendered scenes; :param epochs: passes over them;
    :param batch_size: samples per step; :param seed: the pretrain seed (key of the ``pretrain`` stream);
    :param lr: learning rate from scratch (higher than the tracks' fine-tuning rate);
    :param object_negatives: weight of the learner's hard-negative/ranking term over one
    object-swapped caption per scene (0: captions only). No spatial words either way."""

    scenes: int = 3000
    epochs: int = 8
    batch_size: int = 32
    lr: float = 5e-4
    seed: int = 0
    identity_items: int = 300
    object_negatives: float = 0.0


def object_scenes(backend, n: int, rng) -> list[tuple[np.ndarray, object]]:
    """``n`` (image, spec) pairs of uniformly random valid scenes, rooms cycled."""
    from rls3_bench.sampling import random_spec

    rooms = sorted(ROOMS)
    out = []
    while len(out) < n:
        spec = random_spec(rng, rooms[len(out) % len(rooms)])
        obs = backend.observe(spec)
        if obs.valid:
            out.append((obs.image, spec))
    return out


def swap_one_object(spec, rng):
    """``spec`` with one object replaced by an asset absent from the scene (an object-level negative)."""
    present = [o.asset for o in spec.objects]
    absent = sorted(set(ASSETS) - set(present))
    victim = int(rng.integers(len(present)))
    return replace(spec, objects=tuple(replace(o, asset=absent[int(rng.integers(len(absent)))]) if i == victim else o for i, o in enumerate(spec.objects)))


def identity_items(scenes, rng) -> list[Sample]:
    """2-way object-identity items: true object caption vs one object swapped for an absent one."""
    items = []
    for k, (image, spec) in enumerate(scenes):
        swapped = swap_one_object(spec, rng)
        items.append(Sample(spec=spec, image=image, subject="", reference="", terms=(), caption=object_caption(spec),
                            negatives=(object_caption(swapped),), negative_kinds=("object",), prompt="caption en",
                            answer=object_caption(spec), sample_id=f"identity-{k}"))
    return items


def spatial_report(learner, items) -> dict:
    from rls3_bench.metrics import item_rows, summarize

    return summarize(item_rows(items, learner.evaluate(items).predictions))


def pretrain(track, cfg: PretrainConfig = PretrainConfig(), out_dir: Path = WEIGHTS_DIR, log=print) -> dict:
    """Train and export base weights for ``track`` (a tiny track); returns the weight card."""
    from rls3_bench.backends import get_backend_class
    from rls3_bench.evalsets import load_eval_set
    from rls3_bench.learners import get_learner_class

    t0 = time.perf_counter()
    rng = rng_for("pretrain", cfg.seed)
    with get_backend_class(track.backend)(image_size=track.image_size, renderer=track.renderer) as backend:
        train = object_scenes(backend, cfg.scenes, rng)
        held_out = object_scenes(backend, cfg.identity_items, rng)
    log(f"rendered {len(train)} + {len(held_out)} scenes in {time.perf_counter() - t0:.0f}s")
    recipe = {**track.recipe, "lr": cfg.lr}
    learner = get_learner_class(track.learner)(track.model, None, recipe, device="cpu", seed=int_seed("pretrain", cfg.seed))
    images = np.stack([im for im, _ in train])
    texts = [object_caption(spec) for _, spec in train]
    # drawn from their own stream, so object_negatives=0 leaves every other draw as it was
    negative_rng = rng_for("pretrain", cfg.seed, 2)
    negatives = [object_caption(swap_one_object(spec, negative_rng)) for _, spec in train] if cfg.object_negatives > 0 else []
    order_rng = rng_for("pretrain", cfg.seed, 1)
    steps = 0
    for epoch in range(cfg.epochs):
        order = order_rng.permutation(len(train))
        losses = []
        for i in range(0, len(order) - cfg.batch_size + 1, cfg.batch_size):
            idx = order[i:i + cfg.batch_size]
            losses.append(learner.pretrain_step(images[idx], [texts[j] for j in idx], [negatives[j] for j in idx] if negatives else (),
                                                weight=cfg.object_negatives))
            steps += 1
        log(f"epoch {epoch + 1}/{cfg.epochs}: loss {np.mean(losses):.4f}")
    identity = spatial_report(learner, identity_items(held_out, rng))["accuracy"]
    val = spatial_report(learner, load_eval_set(track.val_set or track.eval_set))
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{track.model}-base.safetensors"
    learner.export_weights(path)
    card = {
        "model": track.model,
        "file": path.name,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "bytes": path.stat().st_size,
        "command": f"rls3-bench pretrain --track {track.name} --seed {cfg.seed} --scenes {cfg.scenes} --epochs {cfg.epochs} --lr {cfg.lr}" + (f" --object-negatives {cfg.object_negatives}" if cfg.object_negatives else ""),
        "config": cfg.__dict__,
        "steps": steps,
        "torch_threads": __import__("torch").get_num_threads(),
        "seconds": round(time.perf_counter() - t0, 1),
        "object_identity_accuracy": identity,
        "spatial_val_accuracy": val["accuracy"],
        "spatial_val_per_term": val["per_term"],
        "spatial_val_per_complexity": val["per_complexity"],
    }
    atomic_write_json(out_dir / f"{track.model}-base.json", card)
    return card
