"""Minimal pairs along one axis: the easiest prior-free spatial data there is.

A group is two samples. The first is a scene of ``world`` in which object A stands in one term of
relation to B along one axis and in no other ("the A is to the left of the B"), built as the eval
sets build their scenes (:func:`rls3_bench.scene.construct.construct_spec`) and kept only when the
labeller's label of (A, B) is exactly that term. The second is its twin: the same room, view and
objects, with A on the other side of B. Each sample's first negative is the flip of its term, so
both twins ask the same two captions and no caption, room or object statistic tells their answers
apart: a scorer that does not look at the image gets exactly one of each group right.

Used by the pair stage of ``rls3-bench pretrain`` (a base that reads relations) and by the
learnability study (``docs/results/world-2/learnability.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

from rls3_bench.labels.annotate import observe_and_label, sample_for_pair
from rls3_bench.labels.relations import OPPOSITE, LabelConfig
from rls3_bench.labels.sample import Sample
from rls3_bench.learners.answers import AXES
from rls3_bench.scene.construct import construct_spec
from rls3_bench.scene.worlds import World

#: tries per delivered group before :func:`axis_pairs` gives up. In world 2 about 30 % of tries give a
#: group with two objects and 1.5 % with five (three distractors rarely leave the pair's label one
#: term); a failed try costs about 17 ms, most of them before any render
MAX_TRIES_PER_GROUP = 2000


def axis_pair(backend, rng, axes: Sequence[str], labeller: LabelConfig, world: World, n_objects: int = 2):
    """One minimal pair (two samples) along an axis drawn from ``axes`` (keys of
    :data:`rls3_bench.learners.answers.AXES`, in the order given), or None when construction or
    labelling failed. With one axis no axis is drawn, so a lateral-only stream is the same draw for
    draw however the axes are named."""
    axis = axes[int(rng.integers(len(axes)))] if len(axes) > 1 else axes[0]
    side = AXES[axis][int(rng.integers(2))]
    first = construct_spec((side,), rng, n_objects=n_objects, world=world)
    if first is None:
        return None
    spec, a, b = first
    assets = (spec.objects[a].asset, spec.objects[b].asset) + tuple(
        o.asset for i, o in enumerate(spec.objects) if i not in (a, b)
    )
    second = construct_spec(
        (OPPOSITE[side],), rng, room_id=spec.room, n_objects=n_objects, camera=spec.camera, assets=assets, world=world
    )
    if second is None:
        return None
    group = []
    for (scene, ia, ib), terms in ((first, (side,)), (second, (OPPOSITE[side],))):
        labelled = observe_and_label(backend, scene, labeller)
        pair = next((p for p in labelled.pairs if (p.a, p.b) == (ia, ib)), None)
        if not labelled.valid or pair is None or pair.terms != terms:
            return None
        group.append(sample_for_pair(labelled, pair, first_negative=f"flip:{terms[0]}"))
    return group


def axis_pairs(
    backend, rng, n: int, axes: Sequence[str], labeller: LabelConfig, world: World, n_objects: int = 2
) -> list[Sample]:
    """``n`` groups of :func:`axis_pair` as a list of ``2 n`` samples, each group's two side by side."""
    unknown = sorted(set(axes) - set(AXES))
    if not axes or unknown:
        raise ValueError(f"axes must be some of {sorted(AXES)}, got {list(axes)}")
    out: list[Sample] = []
    tries = 0
    while len(out) < 2 * n:
        if tries == MAX_TRIES_PER_GROUP * n:
            raise RuntimeError(
                f"only {len(out) // 2} of {n} minimal pairs along {list(axes)} in {tries} tries "
                f"in world {world.version}"
            )
        tries += 1
        out += axis_pair(backend, rng, axes, labeller, world, n_objects) or []
    return out
