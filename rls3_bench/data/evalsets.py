"""Frozen, versioned, content-hashed evaluation sets.

An eval set is regenerated bit-identically from its :class:`EvalSetSpec` (seeds from the ``eval``
namespace, which no generator can draw from) and cached as Parquet. Its content hash (every item's
spec, pair, caption, negatives and image bytes) is pinned in each track; evaluation refuses a set
whose hash differs.

Balance: the same number of items per complexity (1, 2, 3 terms) and, within each complexity, the
same number of occurrences of each of the six terms. Items follow a schedule of target term sets
(:func:`rls3_bench.scene.construct.balanced_targets`); each is made by targeted construction
(rls3_bench.scene.construct), rendered, and kept only if the labeler's own label of the pair equals
the target, so the label is always the geometry's. Rooms rotate over items. Every third item uses
the A/B-swap negative, the others a single-term flip.

Version 2 (``spatial-v2-*``) is made of minimal pairs, so that no image-free scorer beats chance:
every item has a twin with the same two objects (and the same distractors), room and camera in
which the other of its two captions is true: a flip group reverses one term of (A, B), a swap group
states the same terms of (B, A). Both items of a group ask the same two captions, so any scorer that
reads only text is right on exactly one of them. Groups follow :func:`rls3_bench.scene.construct.twin_groups`
(term-balanced per complexity); both scenes are built by targeted construction and kept only if
the labeller's labels equal both targets. Version 2 uses labeller version 2
(:data:`rls3_bench.labels.relations.LABELLERS`).

The in-distribution sets ``uniform-id-v*`` are not balanced: 360 held-out samples drawn exactly as
uniform-v1 draws its data (i.i.d. random valid scenes, one random captionable pair each, each
sample's own first negative), from the eval namespace (split key :data:`ID_SPLIT_KEY`), so no
generator's stream can hold its scenes. ``uniform-id-v1`` labels with labeller 1 under validity
version 1, ``uniform-id-v2`` with labeller 2 under the embedded backend's validity version 2 (as the
v3 tracks' generators are labelled). A track may evaluate on one beside its test set
(``id_eval_set``): accuracy on the training distribution next to accuracy on the test construction.
A room's fixed layout gives much of such a set away (the room prior of
:mod:`rls3_bench.analysis.blind` answers 0.76-0.81 of it), so ``uniform-twins-v3`` pairs every
uniform-v1 sample with a uniform redraw of its objects in the same room and view in which its
negative is true (:func:`_build_uniform_twins`): the training distribution, with every image-free
and room-only scorer at exactly 0.5.

One exclusion, by necessity: "above and in front" and "below and behind" *without* a lateral term do
not occur, because in these rooms the higher object's support hides the lower object standing
straight behind it. The 2-term schedule weights the other vertical+depth pairs double so the six
terms stay balanced.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from rls3_bench.errors import UserError
from rls3_bench.harness.seeds import rng_for
from rls3_bench.labels.sample import Sample

#: hard cap on scenes tried per item (per minimal-pair group in version 2), so an unreachable target
#: fails loudly instead of looping
MAX_SCENES_PER_ITEM = 400
#: scenes tried for a twin before its first scene is given up and the group starts again
TWIN_TRIES = 8
#: seed key of the in-distribution sets (disjoint from the test, validation and mini split keys)
ID_SPLIT_KEY = 100
#: seed key of the in-distribution twin sets
ID_TWINS_SPLIT_KEY = 101
#: seed key of the rehearsal sets (training data every generator's rounds share, never scored)
REHEARSAL_SPLIT_KEY = 102
#: uniform redraws of a scene's objects tried for its in-distribution twin before the scene is
#: given up (most twins are found within a few dozen)
UNIFORM_TWIN_TRIES = 300


@dataclass(frozen=True)
class EvalSetSpec:
    """How an eval set is made. Change anything -> bump ``version`` (old results keep their meaning).

    :param name: registry name, ``<family>-v<version>-<split>``.
    :param split_key: seed key of the split (test and validation draw disjoint streams).
    :param per_complexity: items per complexity; a multiple of 24
        (see :func:`rls3_bench.scene.construct.balanced_targets` and, for minimal pairs,
        :func:`rls3_bench.scene.construct.twin_groups`).
    :param image_size: render size (px).
    :param renderer: renderer the images (and so the hash) belong to.
    :param labeller: labeller version (:data:`rls3_bench.labels.relations.LABELLERS`).
    :param content_hash: the hash of the released set; loading checks it (None only while a new
        version is being made).
    :param uniform_items: for an in-distribution set, its number of uniform-v1 samples (then
        ``per_complexity`` is unused: 0); None for the balanced targeted sets.
    :param validity_version: the embedded backend's validity rules the set is rendered under
        (a track's ``validity_version``).
    :param world: the world its scenes are made in (:data:`rls3_bench.scene.worlds.WORLDS`; a
        track's ``world``).
    :param twins: for an in-distribution set, make it of minimal pairs (``uniform_items`` / 2 groups;
        :func:`_build_uniform_twins`).
    :param axis_pairs: for a rehearsal set, its number of minimal pairs of two objects along the three
        axes (:func:`rls3_bench.data.minimal_pairs.axis_pairs`, the base's pair stage's construction;
        then ``per_complexity`` is unused: 0); a track mixes it into every round
        (``rehearsal_set``), so it is training data, never scored.
    """

    name: str
    version: int
    split_key: int
    per_complexity: int
    image_size: int = 128
    renderer: str = "tiny"
    content_hash: str | None = None
    labeller: int = 1
    uniform_items: int | None = None
    validity_version: int = 1
    world: int = 1
    twins: bool = False
    axis_pairs: int | None = None

    def __post_init__(self) -> None:
        balanced = self.uniform_items is None and self.axis_pairs is None
        if balanced and (self.per_complexity <= 0 or self.per_complexity % 24):
            raise ValueError("per_complexity must be a multiple of 24 (6, 12 and 8 target term sets)")
        if self.twins and (self.uniform_items is None or self.uniform_items % 2):
            raise ValueError("an in-distribution twin set needs an even uniform_items (two items a group)")


EVAL_SETS: dict[str, EvalSetSpec] = {
    s.name: s
    for s in (
        EvalSetSpec(
            "spatial-v1-test",
            version=1,
            split_key=0,
            per_complexity=240,
            content_hash="92b6399f0c1f2a631c647a7b1a24ad3799f5dcd473867076fd43e4fb9c411824",
        ),
        EvalSetSpec(
            "spatial-v1-val",
            version=1,
            split_key=1,
            per_complexity=72,
            content_hash="6292acbbef3f4b7b55e4355e118993bdce51e186cab6f11c41e5dba0d3b90aa1",
        ),
        # a small set for smoke runs and tests (same recipe, its own seeds)
        EvalSetSpec(
            "spatial-v1-mini",
            version=1,
            split_key=2,
            per_complexity=24,
            content_hash="2e5e20fe8ec7d9f56f06a600616d59b8d6146c5b6c4fe3dc24b78a6151291b49",
        ),
        # minimal pairs (twins), labeller 2; no track points at these yet
        EvalSetSpec(
            "spatial-v2-test",
            version=2,
            split_key=0,
            per_complexity=240,
            labeller=2,
            content_hash="94a82345d741b18dd1dc269f567251d14b151f32f8d2c03912dd9616ab447b9d",
        ),
        EvalSetSpec(
            "spatial-v2-val",
            version=2,
            split_key=1,
            per_complexity=72,
            labeller=2,
            content_hash="737eb72b1e91a023b623b63ff979cf8c502eaf82fe6ceb9d96be54dddb4e0ce3",
        ),
        EvalSetSpec(
            "spatial-v2-mini",
            version=2,
            split_key=2,
            per_complexity=24,
            labeller=2,
            content_hash="5e1fe922d856be9c11a01e27cb20f8aed262c5a1996ab3e2cb298b74918849cb",
        ),
        # minimal pairs (twins) in world 2: objects at scale 2 (rls3_bench.scene.worlds)
        EvalSetSpec(
            "spatial-v3-test",
            version=3,
            split_key=0,
            per_complexity=240,
            labeller=2,
            validity_version=2,
            world=2,
            content_hash="4d65fe1f5ec8a8694c11114352a6b35d2862d54a37e3ba1edfdb7e4f14860e4c",
        ),
        EvalSetSpec(
            "spatial-v3-val",
            version=3,
            split_key=1,
            per_complexity=72,
            labeller=2,
            validity_version=2,
            world=2,
            content_hash="d730eb55564799b629453b9151a0e1819391bd8a06f9d0f371ed06dc0e837f92",
        ),
        EvalSetSpec(
            "spatial-v3-mini",
            version=3,
            split_key=2,
            per_complexity=24,
            labeller=2,
            validity_version=2,
            world=2,
            content_hash="5e4b06bfcc6d48acf04e33a56f00a813212e05342680af1540ad2b8e1d7cbb79",
        ),
        # in-distribution: uniform-v1's own sampling, held out
        EvalSetSpec(
            "uniform-id-v1",
            version=1,
            split_key=ID_SPLIT_KEY,
            per_complexity=0,
            uniform_items=360,
            content_hash="4c718666ad4cc9cb1985f12606ddcfd3cc6af99322d136a6d43df580578a8559",
        ),
        # in-distribution for tracks that label with labeller 2 under validity 2 (the v3 tracks)
        EvalSetSpec(
            "uniform-id-v2",
            version=2,
            split_key=ID_SPLIT_KEY,
            per_complexity=0,
            uniform_items=360,
            labeller=2,
            validity_version=2,
            content_hash="8d9095faf298880e40b49f82c3faf9317764cc53b51412b8557226cc52aae3e3",
        ),
        # in-distribution for world-2 tracks
        EvalSetSpec(
            "uniform-id-v3",
            version=3,
            split_key=ID_SPLIT_KEY,
            per_complexity=0,
            uniform_items=360,
            labeller=2,
            validity_version=2,
            world=2,
            content_hash="af4d74bb9b56ff8b0befe68c562f2b928458168da98933b89dfd5f1b1de43515",
        ),
        # in-distribution minimal pairs for world-2 tracks: uniform-v1 samples and their uniform twins
        EvalSetSpec(
            "uniform-twins-v3",
            version=3,
            split_key=ID_TWINS_SPLIT_KEY,
            per_complexity=0,
            uniform_items=360,
            labeller=2,
            validity_version=2,
            world=2,
            twins=True,
            content_hash="ba2590b4a72a1bf6b3635493c32f02ac48adac26f9e97a1790e74faf9010605d",
        ),
        # rehearsal pairs for world-2 tracks whose base has learnt minimal pairs (``--pair-steps``)
        EvalSetSpec(
            "pairs-v3-rehearsal",
            version=3,
            split_key=REHEARSAL_SPLIT_KEY,
            per_complexity=0,
            axis_pairs=1000,
            labeller=2,
            validity_version=2,
            world=2,
            content_hash="521f3c623becdd0f1cac76e719106390aac478f08d8e1943ec6656915c4f34ab",
        ),
    )
}


def build_eval_set(spec: EvalSetSpec, backend=None) -> list[Sample]:
    """Render the eval set from scratch (deterministic). Uses an embedded backend unless given one."""
    own = backend is None
    if own:
        from rls3_bench.backends.embedded import EmbeddedBackend

        backend = EmbeddedBackend(
            image_size=spec.image_size, renderer=spec.renderer, validity_version=spec.validity_version
        )
    try:
        if spec.axis_pairs is not None:
            return _build_axis_pairs(spec, backend)
        if spec.uniform_items is not None:
            return _build_uniform_twins(spec, backend) if spec.twins else _build_uniform(spec, backend)
        return _build_single(spec, backend) if spec.version == 1 else _build_twins(spec, backend)
    finally:
        if own:
            backend.close()


def _build_uniform(spec: EvalSetSpec, backend) -> list[Sample]:
    """An in-distribution set: uniform-v1's sampling (rls3_bench.labels.annotate.uniform_samples)."""
    from rls3_bench.labels.annotate import uniform_samples
    from rls3_bench.labels.relations import LABELLERS
    from rls3_bench.scene.worlds import WORLDS

    return uniform_samples(
        backend,
        rng_for("eval", spec.version, spec.split_key),
        spec.uniform_items,
        cfg=LABELLERS[spec.labeller],
        world=WORLDS[spec.world],
    )


def _build_axis_pairs(spec: EvalSetSpec, backend) -> list[Sample]:
    """A rehearsal set: minimal pairs of two objects along every axis, groups side by side."""
    from rls3_bench.data.minimal_pairs import axis_pairs
    from rls3_bench.labels.relations import LABELLERS
    from rls3_bench.learners.answers import AXES
    from rls3_bench.scene.worlds import WORLDS

    rng = rng_for("eval", spec.version, spec.split_key)
    return axis_pairs(backend, rng, spec.axis_pairs, tuple(AXES), LABELLERS[spec.labeller], WORLDS[spec.world])


def _build_uniform_twins(spec: EvalSetSpec, backend) -> list[Sample]:
    """An in-distribution set of minimal pairs: a uniform-v1 sample (its own first negative) and its
    twin, a uniform redraw of the same objects in the same room under the same camera, kept once it
    is valid and its pair's label makes the first sample's negative true (as :func:`make_twin_group`
    pairs them: a flip reverses the term for (A, B), a swap states the
    terms of (B, A)). Both scenes are draws of uniform-v1's distribution, so the set measures the
    training distribution while any scorer that does not look, the room prior included, is right on
    exactly one item of each group. A first sample whose twin is not found in
    :data:`UNIFORM_TWIN_TRIES` redraws is given up (its twin is rare in that room)."""
    from rls3_bench.labels.annotate import uniform_samples
    from rls3_bench.labels.relations import LABELLERS
    from rls3_bench.scene.construct import twin_negative_kind, twin_target
    from rls3_bench.scene.random_scenes import random_spec
    from rls3_bench.scene.worlds import WORLDS

    cfg, world = LABELLERS[spec.labeller], WORLDS[spec.world]
    rng = rng_for("eval", spec.version, spec.split_key)
    items: list[Sample] = []
    for _ in range(spec.uniform_items * MAX_SCENES_PER_ITEM):
        if len(items) >= spec.uniform_items:
            break
        first = uniform_samples(backend, rng, 1, cfg=cfg, world=world)[0]
        kind = first.negative_kinds[0]
        twin_terms, exchanged = twin_target(first.terms, kind)
        a, b = (int(x) for x in first.sample_id.split(":")[-2:])
        assets = [o.asset for o in first.spec.objects]
        for _ in range(UNIFORM_TWIN_TRIES):
            # a fresh placement order each time, as uniform-v1 draws one (later objects may stand on
            # earlier ones, so a fixed order would make "B on A" unreachable when A stood on B)
            order = [assets[i] for i in rng.permutation(len(assets))]
            scene = random_spec(rng, first.spec.room, world=world, camera=first.spec.camera, assets=tuple(order))
            ia, ib = order.index(assets[a]), order.index(assets[b])
            subject, reference = (ib, ia) if exchanged else (ia, ib)
            twin = _labelled_item(
                backend, cfg, twin_terms, twin_negative_kind(kind), scene, subject, reference, valid_only=True
            )
            if twin is not None:
                items += [first, twin]
                break
    if len(items) < spec.uniform_items:
        raise RuntimeError(f"eval set {spec.name}: {len(items)} of {spec.uniform_items} items after the cap on scenes")
    return items


def _build_single(spec: EvalSetSpec, backend) -> list[Sample]:
    """Version 1: one item per target, every third with the swap negative."""
    from rls3_bench.labels.annotate import observe_and_label, sample_for_pair
    from rls3_bench.labels.relations import LABELLERS
    from rls3_bench.scene.construct import balanced_targets, construct_spec
    from rls3_bench.scene.worlds import WORLDS

    rng = rng_for("eval", spec.version, spec.split_key)
    targets = balanced_targets(spec.per_complexity)
    order = rng.permutation(len(targets))
    world = WORLDS[spec.world]
    rooms = world.room_ids
    items: list[Sample] = []
    for i in order:
        target = targets[int(i)]
        for attempt in range(MAX_SCENES_PER_ITEM):
            # rotate rooms over items, and move on to the next room after repeated failures
            room = rooms[(len(items) + attempt // 20) % len(rooms)]
            made = construct_spec(target, rng, room, attempts=50, world=world)
            if made is None:
                continue
            scene, a, b = made
            labelled = observe_and_label(backend, scene, LABELLERS[spec.labeller])
            pair = next((p for p in labelled.pairs if (p.a, p.b) == (a, b)), None)
            if pair is not None and pair.terms == target:
                items.append(sample_for_pair(labelled, pair, first_negative="swap" if len(items) % 3 == 2 else None))
                break
        else:
            raise RuntimeError(f"eval set {spec.name}: no scene for {target} after {MAX_SCENES_PER_ITEM} tries")
    return items


def _build_twins(spec: EvalSetSpec, backend) -> list[Sample]:
    """Version 2: minimal-pair groups; a group's two items are consecutive (first scene, twin)."""
    from rls3_bench.labels.relations import LABELLERS
    from rls3_bench.scene.construct import twin_groups
    from rls3_bench.scene.worlds import WORLDS

    cfg = LABELLERS[spec.labeller]
    rng = rng_for("eval", spec.version, spec.split_key)
    groups = twin_groups(spec.per_complexity)
    order = rng.permutation(len(groups))

    def label(terms, kind, scene, a, b):
        return _labelled_item(backend, cfg, terms, kind, scene, a, b)

    items: list[Sample] = []
    for n, i in enumerate(order):
        target, kind = groups[int(i)]
        group = make_twin_group(label, cfg, target, kind, rng, n, WORLDS[spec.world])
        if group is None:
            raise RuntimeError(
                f"eval set {spec.name}: no minimal pair for {target} / {kind} after {MAX_SCENES_PER_ITEM} tries"
            )
        items += group
    return items


def make_twin_group(label, cfg, target, kind: str, rng, n: int, world) -> tuple[Sample, Sample] | None:
    """One minimal pair "A is <target> B" with negative ``kind`` and its twin (same objects, room and
    camera) in ``world``, or None after :data:`MAX_SCENES_PER_ITEM` first scenes. Rooms rotate with
    the group index ``n`` and move on after 20 failed scenes.

    ``label(terms, kind, scene, a, b)`` renders a constructed scene and returns its item for the pair
    (a, b), or None unless its label is exactly ``terms``: the eval sets render on their own backend,
    a generator (``control-evalmatched-v2``) through its round context.
    """
    from rls3_bench.scene.construct import construct_spec, twin_negative_kind, twin_target
    from rls3_bench.scene.random_scenes import jittered_camera

    rooms = world.room_ids
    twin_terms, exchanged = twin_target(target, kind)
    twin_kind = twin_negative_kind(kind)

    def item(terms, item_kind, room, camera, assets):
        made = construct_spec(terms, rng, room, attempts=50, camera=camera, assets=assets, world=world)
        return None if made is None else label(tuple(terms), item_kind, *made)

    for attempt in range(MAX_SCENES_PER_ITEM):
        room = rooms[(n + attempt // 20) % len(rooms)]
        camera = jittered_camera(world.room(room), rng)
        assets = _group_assets(target, cfg, rng, world.object_scale)
        first = item(target, kind, room, camera, assets)
        if first is None:
            continue
        twin_assets = (assets[1], assets[0], *assets[2:]) if exchanged else assets
        for _ in range(TWIN_TRIES):
            twin = item(twin_terms, twin_kind, room, camera, twin_assets)
            if twin is not None:
                return first, twin
    return None


def _group_assets(target: tuple[str, ...], cfg, rng, scale: float) -> tuple[str, ...]:
    """A, B and a distractor. A stacked group puts each of A and B on the other in turn, so both
    must be stack bases thick enough (at ``scale``) for the labeller to tell "on it" from "beside it"."""
    from rls3_bench.scene.assets import ACTIVE_OBJECTS, ASSETS, asset_height
    from rls3_bench.scene.random_scenes import STACK_BASES

    names = sorted(ASSETS)
    if set(target) <= {"above", "below"}:
        bases = [b for b in STACK_BASES if asset_height(ASSETS[b], scale) > cfg.vertical_margin_m + cfg.vertical_band_m]
        a, b = (bases[k] for k in rng.choice(len(bases), size=2, replace=False))
        rest = [x for x in names if x not in (a, b)]
        return (a, b, *(rest[k] for k in rng.choice(len(rest), size=ACTIVE_OBJECTS - 2, replace=False)))
    return tuple(names[k] for k in rng.choice(len(names), size=ACTIVE_OBJECTS, replace=False))


def _labelled_item(backend, cfg, terms, kind: str, scene, a: int, b: int, valid_only: bool = False) -> Sample | None:
    """The item "A is <terms> B" (objects ``a`` and ``b`` of ``scene``) with negative ``kind`` first,
    or None unless the labeller's label of the pair is exactly ``terms`` (and, with ``valid_only``, the
    scene passes the backend's validity rules, as uniform-v1 keeps only valid scenes)."""
    from rls3_bench.labels.annotate import observe_and_label, sample_for_pair

    labelled = observe_and_label(backend, scene, cfg)
    pair = next((p for p in labelled.pairs if (p.a, p.b) == (a, b)), None)
    if pair is None or pair.terms != tuple(terms) or (valid_only and not labelled.valid):
        return None
    return sample_for_pair(labelled, pair, first_negative=kind)


def rehearsal_set_names() -> list[str]:
    """The registry's rehearsal sets (training data a track may mix into its rounds), by name."""
    return sorted(name for name, spec in EVAL_SETS.items() if spec.axis_pairs is not None)


def default_cache_dir() -> Path:
    return Path(os.environ.get("RLS3_BENCH_CACHE", Path.home() / ".cache" / "rls3-bench")) / "evalsets"


def check_eval_pin(name: str, expected_hash: str | None) -> EvalSetSpec:
    """The spec of eval set ``name`` if it exists and ``expected_hash`` (a track's pin) agrees with this
    release's hash; a UserError otherwise. Reads no file, so a run checks it before any work."""
    if name not in EVAL_SETS:
        raise UserError(f"unknown eval set {name!r}; valid: {', '.join(sorted(EVAL_SETS))}")
    spec = EVAL_SETS[name]
    if expected_hash and spec.content_hash and expected_hash != spec.content_hash:
        raise UserError(
            f"the track pins eval set {name} to hash {expected_hash[:12]}, "
            f"but this release's {name} is {spec.content_hash[:12]}; use a track made for this release"
        )
    return spec


def load_eval_set(name: str, expected_hash: str | None = None, cache_dir: Path | None = None) -> list[Sample]:
    """The eval set ``name``, from the cache or rebuilt, checked against its released hash (and
    against ``expected_hash``, the track's pin, when given).

    A cached file whose hash is wrong is rebuilt (and the rebuilt set must match), so a corrupted
    cache never reaches an evaluation.
    """
    from rls3_bench.data.sample_tables import content_hash, read_samples, write_samples

    spec = check_eval_pin(name, expected_hash)
    pinned = {h for h in (spec.content_hash, expected_hash) if h}
    path = (cache_dir or default_cache_dir()) / f"{name}.parquet"
    if path.is_file():
        try:
            items = read_samples(path)
            if not pinned or content_hash(items) in pinned:
                return items
        except UserError:
            pass  # unreadable cache: rebuild below
    items = build_eval_set(spec)
    actual = content_hash(items)
    if pinned and actual not in pinned:
        raise UserError(
            f"eval set {name} rebuilt here hashes to {actual[:12]}, expected {next(iter(pinned))[:12]}; "
            "your pybullet or numpy differs from the tested versions: install with -c constraints.txt"
        )
    write_samples(path, items)
    return items
