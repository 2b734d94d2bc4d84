"""Spec -> observation -> labels -> samples: the harness's side of data generation.

Generators propose specs (and may say which pair to caption); the harness renders, labels and
captions them here, so no generator can mislabel its own data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rls3_bench.backends.base import Backend, Observation
from rls3_bench.labels.captions import make_sample
from rls3_bench.labels.relations import LabelConfig, PairLabel, label_scene
from rls3_bench.labels.sample import Sample
from rls3_bench.scene.spec import SceneSpec
from rls3_bench.scene.worlds import DEFAULT_WORLD, World

DEFAULT_LABELS = LabelConfig()  # frozen, so one shared default instance is safe


@dataclass(frozen=True)
class Labelled:
    """A rendered scene and its captionable pairs."""

    observation: Observation
    pairs: tuple[PairLabel, ...]

    @property
    def valid(self) -> bool:
        return self.observation.valid and bool(self.pairs)


def observe_and_label(backend: Backend, spec: SceneSpec, cfg: LabelConfig = DEFAULT_LABELS) -> Labelled:
    obs = backend.observe(spec)
    if not obs.valid:
        return Labelled(obs, ())
    return Labelled(obs, tuple(p for p in label_scene(obs, cfg) if p.captionable))


def sample_for_pair(labelled: Labelled, pair: PairLabel, first_negative: str | None = None) -> Sample:
    return make_sample(labelled.observation, pair, first_negative=first_negative)


def uniform_samples(
    backend: Backend,
    rng,
    n: int,
    room_ids: Sequence[str] | None = None,
    cfg: LabelConfig = DEFAULT_LABELS,
    world: World = DEFAULT_WORLD,
) -> list[Sample]:
    """``n`` samples from i.i.d. uniformly random valid scenes of ``world`` and uniformly chosen
    captionable pairs.

    ``room_ids`` cycles the rooms in order (scene k uses ``room_ids[k % len]``), as the paper cycles
    its indoor scenes; ``None`` draws the room at random.
    """
    from rls3_bench.scene.random_scenes import random_spec

    out: list[Sample] = []
    while len(out) < n:
        room = room_ids[len(out) % len(room_ids)] if room_ids else None
        labelled = observe_and_label(backend, random_spec(rng, room, world=world), cfg)
        if labelled.valid:
            out.append(sample_for_pair(labelled, labelled.pairs[int(rng.integers(len(labelled.pairs)))]))
    return out
