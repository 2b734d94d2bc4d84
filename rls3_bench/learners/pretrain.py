"""Base weights for the tiny tracks: object-aware, spatially naive unless a pair stage is asked for,
made by the project itself.

``rls3-bench pretrain --track clip-tiny`` renders uniformly random valid scenes of the track's world
(seed stream ``pretrain``; a base knows the objects at the size its track shows them), pairs each
image with an object-level caption that has no spatial words ("a photo of the green cup, the plate
and the vase in a kitchen."), and trains the track's model from a seeded
random init with the learner's own ``pretrain_step``. The weights are exported as fp16 safetensors
with a JSON card (command, seed, data size, hash, measured accuracies) into ``--out`` (default
``base-weights/`` in the working folder; a run uses them with ``--weights <file>``). The package ships
the base weights of its tracks in ``rls3_bench/weights/``
(:data:`~rls3_bench.learners.base.SHIPPED_WEIGHTS`), each with the card that says how it was made.

Only tracks whose ``weights`` is ``base`` (the tiny tracks) or names a shipped base have base weights
to make; a track with user-supplied weights (``clip-vit-b-32``, ``paligemma-3b``) is refused before
any work.

An optional **vision stage** comes first (``--vision-epochs N``, the paligemma-tiny recipe): the
learner's vision tower, through an attention-pooling probe, is trained to classify which assets and
which room a scene holds (multi-label, binary cross-entropy), as PaLI/PaliGemma start from an image
encoder pretrained on its own; the probe is then discarded and the caption stage trains the rest with
the tower frozen. Why: a captioning loss alone lets a tiny model from scratch learn the captions'
language prior and the room but not the small objects (tried at length, see
``weights/paligemma-tiny-base.json``), while object-presence labels give the tower a direct signal.
Neither stage sees a spatial word or a position.

An optional **object-position term** (``--object-positions W``, CLIP only) adds to the caption stage
W x the squared error of a linear head that reads each shown object's image centroid (from the
segmentation) off the pooled image embedding; the head is discarded. Why: a probe finds no
left/right order of objects in that embedding after caption pretraining (as in a random init), and a
caption can only be scored against what the embedding holds. The card then reports the head's
held-out order accuracy along x and y. Still no spatial word.

An optional **pair stage** comes last (``--pair-steps N``): the one stage that sees spatial words.
The learner, its weights as the caption stage exported them, fine-tunes for N steps on a fixed pool
of minimal pairs of the track's world (:mod:`rls3_bench.data.minimal_pairs`: two objects, one term
along an axis drawn from ``--pair-axes``, and the twin with the opposite term, so no caption or
room statistic answers them), at ``--pair-lr`` with the image tower at ``--pair-image-lr-scale`` of
it (clip). Why: in world 2 no generator's data in the harness teaches clip-tiny to read a relation
from the image from an object-aware base, while minimal pairs do, to a base made with the position
term (docs/results/world-2, "Reading left from right on minimal pairs"); a track on such a base asks
its generators to keep and sharpen reading rather than to start it. A base made with this stage is
not spatially naive: its card reports the pairs it was trained on, its accuracy on held-out pairs
of two and of five objects, and its spatial accuracy on the validation set.

Two checks go into the card: **object identity** (2-way: the image's true object caption vs the same
caption with one object replaced by an absent one; should be high) and **spatial accuracy** on the
validation eval set per term (should be near chance: the base knows objects, not relations, as real
CLIP).
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from rls3_bench.data.atomic import atomic_write_json
from rls3_bench.harness.seeds import int_seed, rng_for
from rls3_bench.labels.captions import object_caption
from rls3_bench.labels.sample import Sample
from rls3_bench.learners.base import shipped_base_names, weights_card
from rls3_bench.scene.assets import ASSETS
from rls3_bench.scene.worlds import DEFAULT_WORLD, World, get_world

#: where ``rls3-bench pretrain`` writes without ``--out``: the working folder, never the installed package
DEFAULT_OUT_DIR = Path("base-weights")


@dataclass(frozen=True)
class PretrainConfig:
    """:param scenes: distinct rendered scenes; :param epochs: passes over them;
    :param batch_size: samples per step; :param seed: the pretrain seed (key of the ``pretrain`` stream);
    :param lr: learning rate from scratch (higher than the tracks' fine-tuning rate);
    :param object_negatives: weight of the learner's hard-negative/ranking term over one
    object-swapped caption per scene (0: captions only). No spatial words either way.
    :param vision_epochs: passes of the vision stage over the same scenes (0: no vision stage);
    :param vision_lr: its learning rate (AdamW over the tower and the probe);
    :param object_positions: weight of the object-position term of the caption stage (0: none): a
    linear head on the image embedding regresses each shown asset's image centroid, so the embedding
    the captions are scored against carries where each object is. No spatial words either way.
    :param pair_steps: steps of the pair stage (0: none), each on ``batch_size // 2`` minimal pairs
    drawn without replacement from a fixed pool of ``pair_pool`` pairs along ``pair_axes``;
    :param pair_lr: its learning rate; :param pair_image_lr_scale: the image tower's share of it
    (CLIP's recipe key ``image_lr_scale``; 1 leaves the key out, as a learner without it needs);
    :param pair_held_out: held-out pairs of two and of five objects the card scores the stage on."""

    scenes: int = 3000
    epochs: int = 8
    batch_size: int = 32
    lr: float = 5e-4
    seed: int = 0
    identity_items: int = 300
    object_negatives: float = 0.0
    vision_epochs: int = 0
    vision_lr: float = 5e-4
    object_positions: float = 0.0
    pair_steps: int = 0
    pair_pool: int = 3000
    pair_axes: tuple[str, ...] = ("lateral", "vertical", "depth")
    pair_lr: float = 5e-4
    pair_image_lr_scale: float = 0.1
    pair_held_out: int = 100


def object_positions(segmentation: np.ndarray, spec) -> np.ndarray:
    """``(len(ASSETS), 2)`` float32: each asset's visible centroid in the image, x (left to right) and
    y (top to bottom) in [-1, 1], rows in sorted asset order; NaN for assets the scene does not show."""
    height, width = segmentation.shape
    out = np.full((len(ASSETS), 2), np.nan, np.float32)
    names = sorted(ASSETS)
    for i, placed in enumerate(spec.objects):
        rows, cols = np.nonzero(segmentation == i)
        if len(rows):
            out[names.index(placed.asset)] = (2 * (cols.mean() + 0.5) / width - 1, 2 * (rows.mean() + 0.5) / height - 1)
    return out


def object_scenes(backend, n: int, rng, world: World = DEFAULT_WORLD) -> list[tuple[np.ndarray, object, np.ndarray]]:
    """``n`` (image, spec, :func:`object_positions`) triples of uniformly random valid scenes of
    ``world``, its rooms cycled."""
    from rls3_bench.scene.random_scenes import random_spec

    rooms = world.room_ids
    out = []
    while len(out) < n:
        spec = random_spec(rng, rooms[len(out) % len(rooms)], world=world)
        obs = backend.observe(spec)
        if obs.valid:
            out.append((obs.image, spec, object_positions(obs.segmentation, spec)))
    return out


def swap_one_object(spec, rng):
    """``spec`` with one object replaced by an asset absent from the scene (an object-level negative)."""
    present = [o.asset for o in spec.objects]
    absent = sorted(set(ASSETS) - set(present))
    victim = int(rng.integers(len(present)))
    return replace(
        spec,
        objects=tuple(
            replace(o, asset=absent[int(rng.integers(len(absent)))]) if i == victim else o
            for i, o in enumerate(spec.objects)
        ),
    )


def identity_items(scenes, rng) -> list[Sample]:
    """2-way object-identity items: true object caption vs one object swapped for an absent one."""
    items = []
    for k, (image, spec, _) in enumerate(scenes):
        swapped = swap_one_object(spec, rng)
        items.append(
            Sample(
                spec=spec,
                image=image,
                subject="",
                reference="",
                terms=(),
                caption=object_caption(spec),
                negatives=(object_caption(swapped),),
                negative_kinds=("object",),
                prompt="caption en",
                answer=object_caption(spec),
                sample_id=f"identity-{k}",
            )
        )
    return items


def _whole_batches(order_rng, n: int, batch_size: int):
    """One pass over ``n`` items in a fresh random order, as index arrays of ``batch_size`` (the
    remainder that does not fill a batch is left out of that pass)."""
    order = order_rng.permutation(n)
    return [order[i : i + batch_size] for i in range(0, n - batch_size + 1, batch_size)]


def object_labels(spec, world: World = DEFAULT_WORLD) -> np.ndarray:
    """Multi-hot target of the vision stage: which assets (sorted names), then which of ``world``'s
    rooms (one-hot)."""
    assets, rooms = sorted(ASSETS), list(world.room_ids)
    y = np.zeros(len(assets) + len(rooms), np.float32)
    for o in spec.objects:
        y[assets.index(o.asset)] = 1.0
    y[len(assets) + rooms.index(spec.room)] = 1.0
    return y


def _object_probe(width: int, n_labels: int, heads: int):
    """Attention pooling with one learned query (as SigLIP's MAP head), then a linear multi-label
    classifier: small objects cover one or two of the 64 patches, which mean pooling would dilute."""
    import torch

    class ObjectProbe(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.query = torch.nn.Parameter(torch.randn(1, 1, width) * width**-0.5)
            self.attention = torch.nn.MultiheadAttention(width, heads, batch_first=True)
            self.norm = torch.nn.LayerNorm(width)
            self.out = torch.nn.Linear(width, n_labels)

        def forward(self, tokens):
            pooled, _ = self.attention(self.query.expand(len(tokens), -1, -1), tokens, tokens, need_weights=False)
            return self.out(self.norm(pooled[:, 0]))

    return ObjectProbe()


def _require_vision_stage(learner_cls) -> None:
    from rls3_bench.errors import UserError

    if not hasattr(learner_cls, "vision_tokens"):
        raise UserError(f"learner '{learner_cls.name}' has no vision stage; run pretrain without --vision-epochs")


def vision_stage(
    learner,
    images: np.ndarray,
    specs,
    held_out,
    cfg: PretrainConfig,
    seed: int,
    world: World = DEFAULT_WORLD,
    log=print,
) -> float:
    """Train ``learner``'s vision tower to tell which assets and room a scene holds (see the module
    docstring); returns the probe's micro F1 over those labels on ``held_out`` (image, spec, positions) triples
    (0 for a probe that never says present)."""
    import torch

    _require_vision_stage(type(learner))
    targets = torch.from_numpy(np.stack([object_labels(s, world) for s in specs]))
    with torch.no_grad():
        width = int(learner.vision_tokens(images[:1]).shape[-1])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        probe = _object_probe(width, targets.shape[1], heads=4).to(learner.device)
    params = learner.vision_parameters() + list(probe.parameters())
    optimizer = torch.optim.AdamW(params, lr=cfg.vision_lr, weight_decay=0.01)
    order_rng = rng_for("pretrain", cfg.seed, 3)
    for epoch in range(cfg.vision_epochs):
        losses = []
        for idx in _whole_batches(order_rng, len(images), cfg.batch_size):
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                probe(learner.vision_tokens(images[idx])), targets[idx].to(learner.device)
            )
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(float(loss.detach()))
        log(f"vision epoch {epoch + 1}/{cfg.vision_epochs}: loss {np.mean(losses):.4f}")
    with torch.no_grad():
        truth = torch.from_numpy(np.stack([object_labels(s, world) for _, s, _ in held_out]))
        predicted = torch.cat(
            [
                probe(learner.vision_tokens(np.stack([im for im, _, _ in held_out[i : i + 64]]))).cpu() > 0
                for i in range(0, len(held_out), 64)
            ]
        )
    truth = truth.bool()
    true_pos = float((predicted & truth).sum())
    return 2 * true_pos / max(float(predicted.sum() + truth.sum()), 1.0)


def _require_image_embedding(learner_cls) -> None:
    from rls3_bench.errors import UserError

    if not hasattr(learner_cls, "encode_images"):
        raise UserError(
            f"learner '{learner_cls.name}' has no pooled image embedding for an object-position head; "
            "run pretrain without --object-positions"
        )


def position_loss(predicted, targets):
    """Mean squared error of ``(B, A * 2)`` predicted centroids against ``(B, A, 2)`` targets, over the
    assets each scene shows (NaN targets are left out)."""
    shown = ~targets.isnan()
    error = (predicted.view_as(targets) - targets.nan_to_num()) ** 2
    return (error * shown).sum() / shown.sum().clamp(min=1)


def position_order_accuracy(predicted: np.ndarray, targets: np.ndarray, axis: int, margin: float = 0.05) -> float:
    """Over every pair of assets one scene shows whose true centroids differ by more than ``margin``
    along ``axis`` (0: x, 1: y), the share whose predicted centroids come in the same order: what the
    head reads of left/right (x) or up/down (y) from the image embedding (chance 0.5; 0 where no pair
    qualifies)."""
    right = total = 0
    for pred, true in zip(predicted.reshape(targets.shape), targets, strict=True):
        shown = np.flatnonzero(~np.isnan(true[:, axis]))
        for a in shown:
            for b in shown[shown > a]:
                gap = true[a, axis] - true[b, axis]
                if abs(gap) > margin:
                    total += 1
                    right += bool(np.sign(pred[a, axis] - pred[b, axis]) == np.sign(gap))
    return right / max(total, 1)


def spatial_report(learner, items) -> dict:
    from rls3_bench.analysis.metrics import item_rows, summarize

    return summarize(item_rows(items, learner.evaluate(items).predictions))


class _PositionHead:
    """The object-position term of the caption stage: a linear head from the image embedding to each
    asset's centroid, trained beside the learner (its own AdamW at the stage's rate) and discarded
    after; only its gradient into the embedding stays in the weights. ``scenes``: the training
    (image, spec, positions) triples, whose positions are the targets."""

    def __init__(self, learner, scenes, cfg: PretrainConfig):
        import torch

        with torch.no_grad():
            width = int(learner.encode_images(scenes[0][0][None]).shape[-1])
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int_seed("pretrain", cfg.seed, 4))
            self.linear = torch.nn.Linear(width, 2 * len(ASSETS)).to(learner.device)
        self.optimizer = torch.optim.AdamW(self.linear.parameters(), lr=cfg.lr, weight_decay=0.0)
        self.weight = cfg.object_positions
        self.targets = torch.from_numpy(np.stack([p for _, _, p in scenes])).to(learner.device)

    def term(self, idx: np.ndarray):
        """The weighted loss of training scenes ``idx`` as a function of their image embeddings (the
        learner adds it)."""
        t = self.targets[idx]
        return lambda embeddings: self.weight * position_loss(self.read(embeddings), t)

    def read(self, embeddings):
        """Centroids from unit-norm embeddings, scaled by sqrt(width) so each input is of order one and
        the head can reach positions of order one within the stage's (fine-tuning-sized) steps."""
        return self.linear(embeddings * embeddings.shape[-1] ** 0.5)

    def step(self) -> None:
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)

    def order_accuracies(self, learner, scenes) -> dict[str, float]:
        """:func:`position_order_accuracy` along x and y on held-out ``scenes``."""
        import torch

        learner.core.eval()
        with torch.no_grad():
            predicted = torch.cat(
                [
                    self.read(learner.encode_images(np.stack([im for im, _, _ in scenes[i : i + 64]]))).cpu()
                    for i in range(0, len(scenes), 64)
                ]
            ).numpy()
        targets = np.stack([p for _, _, p in scenes])
        return {axis: position_order_accuracy(predicted, targets, k) for k, axis in enumerate(("x", "y"))}


def pair_recipe(track, cfg: PretrainConfig) -> dict:
    """The pair stage's recipe: the track's fine-tuning recipe at ``pair_lr``, the image tower at
    ``pair_image_lr_scale`` of it (the key left out at 1)."""
    recipe = {k: v for k, v in track.recipe.items() if k != "image_lr_scale"} | {"lr": cfg.pair_lr}
    return recipe | ({"image_lr_scale": cfg.pair_image_lr_scale} if cfg.pair_image_lr_scale != 1.0 else {})


def pairs_per_step(track, cfg: PretrainConfig) -> int:
    """Minimal pairs in one step of the pair stage: half a batch of the track's recipe (the batch the
    harness trains on; ``cfg.batch_size`` where the recipe names none)."""
    return int(track.recipe.get("batch_size", cfg.batch_size)) // 2


def pair_scores(learner, items) -> dict[str, float]:
    """Accuracy on minimal-pair ``items`` (groups side by side) and the group score (both twins right)."""
    right = np.array([p.score_true > p.score_negative for p in learner.evaluate(items).predictions])
    return {"accuracy": float(right.mean()), "group": float(right.reshape(-1, 2).all(1).mean())}


def pair_stage(learner_cls, track, weights: Path, pool, cfg: PretrainConfig, log=print):
    """Fine-tune the weights at ``weights`` for ``cfg.pair_steps`` steps on ``pool`` (minimal pairs,
    each group's two samples side by side): every step takes half a batch of groups, drawn without
    replacement within the step. Returns the learner. It starts from the exported (fp16) weights with
    an optimizer of its own, as a run with ``--weights`` does."""
    learner = learner_cls(
        track.model, str(weights), pair_recipe(track, cfg), device="cpu", seed=int_seed("pretrain", cfg.seed, 7)
    )
    per_step = pairs_per_step(track, cfg)
    order = rng_for("pretrain", cfg.seed, 6)
    losses = []
    for step in range(1, cfg.pair_steps + 1):
        picks = order.choice(len(pool) // 2, size=per_step, replace=False)
        losses.append(learner.train_step([s for g in picks for s in pool[2 * g : 2 * g + 2]]))
        if step % 100 == 0 or step == cfg.pair_steps:
            log(f"pair step {step}/{cfg.pair_steps}: loss {np.mean(losses):.4f}")
            losses = []
    return learner


def check_pretrain(track, cfg: PretrainConfig) -> None:
    """Refuse, before any work, a track without base weights of its own and a data size under one batch
    (no training step at all)."""
    from rls3_bench.errors import UserError
    from rls3_bench.harness.tracks import builtin_track_names, load_track

    if track.weights != "base" and track.weights not in shipped_base_names():
        tiny = [n for n in builtin_track_names() if load_track(n).weights == "base"]
        raise UserError(
            f"track {track.name} runs on user-supplied weights ({track.weights!r}), so it has no base weights to "
            f"pretrain; pretrain a track with weights: base ({', '.join(tiny)}) or a shipped base"
        )
    if cfg.scenes < cfg.batch_size:
        raise UserError(
            f"{cfg.scenes} scenes are fewer than one batch of {cfg.batch_size}, so no training step would run; "
            f"pass --scenes {cfg.batch_size} or more"
        )
    if cfg.pair_steps > 0:
        from rls3_bench.learners import get_learner_class

        per_step = pairs_per_step(track, cfg)
        if cfg.pair_pool < per_step:
            raise UserError(
                f"--pair-pool {cfg.pair_pool} is fewer than the {per_step} pairs one step of the pair stage takes; "
                f"pass --pair-pool {per_step} or more"
            )
        try:
            get_learner_class(track.learner).check_setup(track.model, None, pair_recipe(track, cfg), "cpu")
        except UserError as err:
            raise UserError(
                f"the pair stage's recipe does not suit learner '{track.learner}' ({err}); "
                "pass --pair-image-lr-scale 1 where the learner has no image_lr_scale"
            ) from None


def _pair_sets(backend, track, cfg: PretrainConfig, world: World) -> dict:
    """The pair stage's training pool (two objects) and its held-out pairs of two and of five objects
    (three distractors, as every eval scene has), each from its own ``pretrain`` stream."""
    from rls3_bench.data.minimal_pairs import axis_pairs
    from rls3_bench.labels.relations import LABELLERS

    labeller = LABELLERS[track.labeller]

    def build(n, stream, n_objects):
        return axis_pairs(backend, rng_for("pretrain", cfg.seed, stream), n, cfg.pair_axes, labeller, world, n_objects)

    return {"pool": build(cfg.pair_pool, 5, 2), 2: build(cfg.pair_held_out, 8, 2), 5: build(cfg.pair_held_out, 9, 5)}


def pretrain(track, cfg: PretrainConfig = PretrainConfig(), out_dir: Path = DEFAULT_OUT_DIR, log=print) -> dict:
    """Train and export base weights for ``track`` (a tiny track); returns the weight card."""
    from rls3_bench.data.evalsets import load_eval_set
    from rls3_bench.harness.generation import open_backend
    from rls3_bench.learners import get_learner_class

    check_pretrain(track, cfg)
    learner_cls = get_learner_class(track.learner)
    if cfg.vision_epochs > 0:
        _require_vision_stage(learner_cls)  # before minutes of rendering
    if cfg.object_positions > 0:
        _require_image_embedding(learner_cls)
    t0 = time.perf_counter()
    rng = rng_for("pretrain", cfg.seed)
    world = get_world(track.world)  # a track's base knows the objects of its own world
    with open_backend(track) as backend:
        train = object_scenes(backend, cfg.scenes, rng, world)
        held_out = object_scenes(backend, cfg.identity_items, rng, world)
        log(f"rendered {len(train)} + {len(held_out)} scenes in {time.perf_counter() - t0:.0f}s")
        if cfg.pair_steps > 0:  # each from a stream of its own, so the other stages draw as without them
            pairs = _pair_sets(backend, track, cfg, world)
            log(
                f"built {len(pairs['pool']) // 2} + 2 x {cfg.pair_held_out} minimal pairs in "
                f"{time.perf_counter() - t0:.0f}s"
            )
    # from a random init both towers learn at the pretraining rate, whatever share the track's
    # fine-tuning gives the image tower
    recipe = {k: v for k, v in track.recipe.items() if k != "image_lr_scale"} | {"lr": cfg.lr}
    learner = learner_cls(track.model, None, recipe, device="cpu", seed=int_seed("pretrain", cfg.seed))
    images = np.stack([im for im, _, _ in train])
    specs = [spec for _, spec, _ in train]
    probe_f1 = None
    if cfg.vision_epochs > 0:
        probe_f1 = vision_stage(
            learner,
            images,
            specs,
            held_out,
            cfg,
            seed=int_seed("pretrain", cfg.seed, 3),
            world=world,
            log=log,
        )
        learner.freeze_vision(True)
    texts = [object_caption(spec) for spec in specs]
    # drawn from their own stream, so object_negatives=0 leaves every other draw as it was
    negative_rng = rng_for("pretrain", cfg.seed, 2)
    negatives = [object_caption(swap_one_object(s, negative_rng)) for s in specs] if cfg.object_negatives > 0 else []
    head = _PositionHead(learner, train, cfg) if cfg.object_positions > 0 else None
    order_rng = rng_for("pretrain", cfg.seed, 1)
    steps = 0
    for epoch in range(cfg.epochs):
        losses = []
        for idx in _whole_batches(order_rng, len(train), cfg.batch_size):
            losses.append(
                learner.pretrain_step(
                    images[idx],
                    [texts[j] for j in idx],
                    [negatives[j] for j in idx] if negatives else (),
                    weight=cfg.object_negatives,
                    **({"image_term": head.term(idx)} if head else {}),
                )
            )
            if head:
                head.step()
            steps += 1
        log(f"epoch {epoch + 1}/{cfg.epochs}: loss {np.mean(losses):.4f}")
    if cfg.vision_epochs > 0:
        learner.freeze_vision(False)
    position_orders = head.order_accuracies(learner, held_out) if head else None
    pair_card = None
    if cfg.pair_steps > 0:
        with tempfile.TemporaryDirectory() as tmp:
            learner.export_weights(Path(tmp) / "caption-stage.safetensors")
            learner = pair_stage(learner_cls, track, Path(tmp) / "caption-stage.safetensors", pairs["pool"], cfg, log)
        pair_card = {
            "groups": len(pairs["pool"]) // 2,
            "axes": list(cfg.pair_axes),
            **{f"held_out_{k}_objects": pair_scores(learner, pairs[k]) for k in (2, 5)},
        }
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
        "command": f"rls3-bench pretrain --track {track.name} --seed {cfg.seed} --scenes {cfg.scenes} "
        f"--epochs {cfg.epochs} --lr {cfg.lr}"
        + (f" --object-negatives {cfg.object_negatives}" if cfg.object_negatives else "")
        + (f" --vision-epochs {cfg.vision_epochs} --vision-lr {cfg.vision_lr}" if cfg.vision_epochs else "")
        + (f" --object-positions {cfg.object_positions}" if cfg.object_positions else "")
        + (
            f" --pair-steps {cfg.pair_steps} --pair-pool {cfg.pair_pool} --pair-axes {' '.join(cfg.pair_axes)}"
            f" --pair-lr {cfg.pair_lr} --pair-image-lr-scale {cfg.pair_image_lr_scale}"
            if cfg.pair_steps
            else ""
        ),
        "config": {**cfg.__dict__, "pair_axes": list(cfg.pair_axes)},  # as JSON reads it back
        "steps": steps,
        "torch_threads": __import__("torch").get_num_threads(),
        "seconds": round(time.perf_counter() - t0, 1),
        "object_identity_accuracy": identity,
        **({"vision_probe_f1": probe_f1} if probe_f1 is not None else {}),
        **({"position_order_accuracy": position_orders} if position_orders is not None else {}),
        **({"pair_stage": pair_card} if pair_card is not None else {}),
        "spatial_val_accuracy": val["accuracy"],
        "spatial_val_per_term": val["per_term"],
        "spatial_val_per_complexity": val["per_complexity"],
    }
    atomic_write_json(weights_card(path), card)
    return card
