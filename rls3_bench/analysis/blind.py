"""Blind baselines: scorers fitted on a generator's delivered captions that do not look where the
captioned objects stand.

* :class:`ObjectPrior` (image-free) counts, for each ordered object pair (subject, reference) and
  each axis (vertical, depth, lateral), how often each value (a term, or none) occurs in the
  training captions, smooths the counts towards the axis's overall frequencies, and scores a
  caption by the product of its three axis probabilities. Whatever it gets above 50 % on an eval set
  is answerable from text and object identity alone.
* :class:`RoomPrior` knows the room (one glance at an image tells it) and the caption's terms, not
  the objects: it counts each whole term set per room. Rooms have fixed layouts (a riser on one side
  of the main surface, shelves at the back), so on scenes drawn like the training data the terms of
  one axis can give away another's: "below, in front and to the left" against "... to the right".
  What it gets above 50 % is answerable from the room's layout without finding the two objects.

A 2-way item is answered by whichever caption is more probable; a tie scores 1/2 (a scorer with no
preference is at chance). Slices keep minimal-pair twins together (every attribute is the same for
both twins, the pair distance is the group's mean), so on a twin-built set every slice is exactly at
chance for both scorers. A slice by the true term is not reported: it conditions on the answer, so it
tests no prior.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from rls3_bench.labels.relations import OPPOSITE
from rls3_bench.labels.sample import Sample

AXES = ("vertical", "depth", "lateral")
_AXIS_OF = {
    "above": "vertical",
    "below": "vertical",
    "in front": "depth",
    "behind": "depth",
    "left": "lateral",
    "right": "lateral",
}
#: slices with fewer items than this are reported but not held to the slice tolerance
MIN_SLICE_ITEMS = 40
#: captions the leaderboard's blind rows are fitted on (about 5 s on one CPU core; the captions
#: are kept per process, so a board of several tracks draws them once)
BOARD_CAPTIONS = 1000


def axis_values(terms: Iterable[str]) -> dict[str, str | None]:
    """{axis: term or None} of a caption's terms."""
    out: dict[str, str | None] = dict.fromkeys(AXES)
    for t in terms:
        out[_AXIS_OF[t]] = t
    return out


@dataclass
class ObjectPrior:
    """Counts of each axis value per (subject, reference, axis), smoothed by ``alpha`` pseudo-counts
    spread as the axis's overall value frequencies (themselves add-one smoothed)."""

    alpha: float = 1.0
    pair_counts: dict[tuple[str, str, str], Counter] = field(default_factory=lambda: defaultdict(Counter))
    axis_counts: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))

    @classmethod
    def fit(cls, samples: Iterable[Sample], alpha: float = 1.0) -> ObjectPrior:
        prior = cls(alpha=alpha)
        for s in samples:
            for axis, value in axis_values(s.terms).items():
                prior.pair_counts[(s.subject, s.reference, axis)][value] += 1
                prior.axis_counts[axis][value] += 1
        return prior

    @property
    def n_captions(self) -> int:
        return sum(self.axis_counts["vertical"].values())

    def log_prob(self, subject: str, reference: str, terms: Iterable[str]) -> float:
        """log P(caption) = sum over axes of log P(axis value | subject, reference)."""
        total = 0.0
        for axis, value in axis_values(terms).items():
            marginal = self.axis_counts[axis]
            p_axis = (marginal[value] + 1.0) / (sum(marginal.values()) + 3.0)
            counts = self.pair_counts.get((subject, reference, axis), Counter())
            total += math.log((counts[value] + self.alpha * p_axis) / (sum(counts.values()) + self.alpha))
        return total

    def item_log_probs(self, item: Sample) -> tuple[float, float]:
        """(log P(true caption), log P(the 2-way negative))"""
        return self.log_prob(item.subject, item.reference, item.terms), self.log_prob(*negative_parts(item))


#: a caption's whole term set as (vertical, depth, lateral) values; 26 are possible (not all None)
N_TERM_SETS = 3**3 - 1


def term_set(terms: Iterable[str]) -> tuple[str | None, ...]:
    return tuple(axis_values(terms).values())


@dataclass
class RoomPrior:
    """Counts of each caption's term set per room, smoothed by ``alpha`` pseudo-counts spread as the
    term sets' overall frequencies (themselves add-one smoothed over the 26 possible sets). It never
    sees which object is which, so an A/B swap is always a tie."""

    alpha: float = 1.0
    room_counts: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    counts: Counter = field(default_factory=Counter)

    @classmethod
    def fit(cls, samples: Iterable[Sample], alpha: float = 1.0) -> RoomPrior:
        prior = cls(alpha=alpha)
        for s in samples:
            prior.room_counts[s.spec.room][term_set(s.terms)] += 1
            prior.counts[term_set(s.terms)] += 1
        return prior

    @property
    def n_captions(self) -> int:
        return sum(self.counts.values())

    def log_prob(self, room: str, terms: Iterable[str]) -> float:
        """log P(the caption's term set | room)."""
        key = term_set(terms)
        p_set = (self.counts[key] + 1.0) / (self.n_captions + N_TERM_SETS)
        counts = self.room_counts.get(room, Counter())
        return math.log((counts[key] + self.alpha * p_set) / (sum(counts.values()) + self.alpha))

    def item_log_probs(self, item: Sample) -> tuple[float, float]:
        """(log P(true caption), log P(the 2-way negative)) given the item's room"""
        return self.log_prob(item.spec.room, item.terms), self.log_prob(item.spec.room, negative_parts(item)[2])


def negative_parts(item: Sample) -> tuple[str, str, tuple[str, ...]]:
    """(subject, reference, terms) of the item's 2-way negative, from its kind."""
    kind = item.negative_kinds[0]
    if kind == "swap":
        return item.reference, item.subject, item.terms
    flipped = kind.removeprefix("flip:")
    return item.subject, item.reference, tuple(OPPOSITE[t] if t == flipped else t for t in item.terms)


def positions_suffice(item: Sample) -> bool:
    """Whether the item's two captions can be told apart from where its two objects stand without
    knowing which object is which: true when the negative's terms are neither the true terms nor
    their reverse, i.e. for a one-term flip of a 2- or 3-term caption ("above and to the left" vs
    "above and to the right": the higher object must be the subject). A single-term flip or an A/B
    swap describes the same unlabelled configuration, so there only object identity decides."""
    terms = set(item.terms)
    return set(negative_parts(item)[2]) not in (terms, {OPPOSITE[t] for t in terms})


def identity_blind_ceiling(items: Sequence[Sample]) -> float:
    """The best expected accuracy of a scorer that sees exactly where the two captioned objects
    stand but not which is which (as a learner trained with both objects hidden under identical
    masks): 1 where :func:`positions_suffice`, 1/2 elsewhere."""
    return float(np.mean([1.0 if positions_suffice(s) else 0.5 for s in items]))


def pair_distance(item: Sample) -> float:
    """Horizontal distance (m) between the captioned objects' placed bottom centres."""
    a, b = (int(x) for x in item.sample_id.split(":")[-2:])
    pa, pb = item.spec.objects[a].position, item.spec.objects[b].position
    return math.hypot(pa[0] - pb[0], pa[1] - pb[1])


def slice_attributes(items: Sequence[Sample]) -> list[dict]:
    """Per item, in order: its group and the value of each slice in :data:`SLICES` (twins share
    every value; the pair distance is the group's mean, cut into terciles over the set)."""
    distances = [pair_distance(s) for s in items]
    by_group: dict[str, list[float]] = defaultdict(list)
    for s, d in zip(items, distances, strict=True):
        by_group[s.group].append(d)
    rows = []
    for s in items:
        kind = s.negative_kinds[0]
        rows.append(
            {
                "item_id": s.sample_id,
                "group": s.group,
                "complexity": str(s.complexity),
                "negative_kind": kind.split(":")[0],
                "flipped_axis": "all (swap)" if kind == "swap" else _AXIS_OF[kind.removeprefix("flip:")],
                "stacked": "stacked" if set(s.terms) <= {"above", "below"} else "not stacked",
                "decided_by": "positions" if positions_suffice(s) else "identity",
                "group_distance": float(np.mean(by_group[s.group])),
            }
        )
    cuts = np.quantile([r["group_distance"] for r in rows], [1 / 3, 2 / 3]) if rows else (0.0, 0.0)
    for r in rows:
        r["distance_tercile"] = ("near", "middle", "far")[int(np.searchsorted(cuts, r["group_distance"], side="right"))]
    return rows


def blind_rows(prior: ObjectPrior | RoomPrior, items: Sequence[Sample]) -> list[dict]:
    """Per item: the scorer's credit (1, 0, or 1/2 for a tie) and the item's slice attributes."""
    rows = []
    for s, attributes in zip(items, slice_attributes(items), strict=True):
        true, negative = prior.item_log_probs(s)
        rows.append({**attributes, "credit": 1.0 if true > negative else 0.0 if true < negative else 0.5})
    return rows


#: ``decided_by``: "positions" where the layout alone tells the captions apart (:func:`positions_suffice`),
#: "identity" where only knowing which object is which does; the second measures grounding
SLICES = ("complexity", "negative_kind", "flipped_axis", "stacked", "decided_by", "distance_tercile")


def blind_report(prior: ObjectPrior | RoomPrior, items: Sequence[Sample]) -> dict:
    """{"accuracy", "n_items", "slices": {slice: {value: {"accuracy", "n"}}}} of the blind scorer."""
    rows = blind_rows(prior, items)
    report = {"accuracy": float(np.mean([r["credit"] for r in rows])), "n_items": len(rows), "slices": {}}
    for name in SLICES:
        values = sorted({r[name] for r in rows})
        report["slices"][name] = {
            v: {
                "accuracy": float(np.mean([r["credit"] for r in rows if r[name] == v])),
                "n": sum(r[name] == v for r in rows),
            }
            for v in values
        }
    return report


def worst_deviation(report: dict, min_items: int = MIN_SLICE_ITEMS) -> tuple[float, float]:
    """(|overall - 0.5|, the largest |slice - 0.5| over slices of at least ``min_items`` items)."""
    slices = [v["accuracy"] for s in report["slices"].values() for v in s.values() if v["n"] >= min_items]
    return abs(report["accuracy"] - 0.5), max((abs(a - 0.5) for a in slices), default=0.0)


#: the blind scorers of a board and of `rls3-bench blind`: (row name, scorer, row label, title)
BOARD_PRIORS = (
    ("object-prior", ObjectPrior, "object prior", "object-prior blind scorer (caption and object identity)"),
    (
        "room-prior",
        RoomPrior,
        "room prior",
        "room-prior scorer (the room and the caption's terms, not where the objects stand)",
    ),
)


def board_priors(items: Sequence[Sample], n_captions: int = BOARD_CAPTIONS) -> list[dict]:
    """The leaderboard's blind rows: per scorer of :data:`BOARD_PRIORS`, :func:`blind_report` of it
    fitted on ``n_captions`` uniform-v1 captions (seed stream 0) of the items' world, with its row
    ``name``, what it is (``label``, and at length ``title``) and ``n_captions``."""
    world = items_world(items)
    return [
        {
            **blind_report(uniform_prior(n_captions, world=world, scorer=scorer), items),
            "name": name,
            "label": label,
            "title": title,
            "n_captions": n_captions,
        }
        for name, scorer, label, title in BOARD_PRIORS
    ]


def items_world(items: Sequence[Sample]) -> int:
    """The world (version) an eval set's scenes are of; its first item's scene decides."""
    from rls3_bench.scene.worlds import world_of

    return world_of(items[0].spec).version


def uniform_prior(
    n: int = 3000,
    seed: int = 0,
    image_size: int = 64,
    alpha: float = 1.0,
    world: int = 1,
    scorer: type[ObjectPrior] | type[RoomPrior] = ObjectPrior,
) -> ObjectPrior | RoomPrior:
    """``scorer`` fitted on :func:`uniform_captions` (``n``, ``seed``, ``image_size``, ``world``)."""
    return scorer.fit(uniform_captions(n, seed, image_size, world), alpha=alpha)


@functools.lru_cache(maxsize=4)
def uniform_captions(n: int = 3000, seed: int = 0, image_size: int = 64, world: int = 1) -> tuple[Sample, ...]:
    """``n`` captions of uniform-v1's sampling in ``world`` (i.i.d. random valid
    scenes, one random captionable pair each, with the world's labeller and validity rules) drawn
    from the generator seed stream ``seed``.

    Rendered at ``image_size`` only because validity needs each object's visible pixels; the labels
    come from geometry, so a small size changes nothing but which borderline-hidden scenes pass.
    """
    from rls3_bench.backends.embedded import EmbeddedBackend
    from rls3_bench.harness.seeds import rng_for
    from rls3_bench.labels.annotate import uniform_samples
    from rls3_bench.labels.relations import LABELLERS
    from rls3_bench.scene.worlds import get_world

    w = get_world(world)
    with EmbeddedBackend(image_size=image_size, renderer="tiny", validity_version=w.validity_version) as backend:
        samples = uniform_samples(backend, rng_for("generator", seed), n, cfg=LABELLERS[w.labeller], world=w)
    # the scorers read captions and scenes only; dropping the images keeps the cache small
    return tuple(dataclasses.replace(s, image=None) for s in samples)
