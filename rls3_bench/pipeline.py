"""Spec -> observation -> labels -> samples: the harness's side of data generation.

Generators propose specs (and may say which pair to caption); the harness renders, labels and
captions them here, so no generator can mislabel its own data.
"""

from __future__ import annotations

from dataclasses import dataclass

from rls3_bench.backends.base import Backend, Observation
from rls3_bench.captions import make_sample
from rls3_bench.relations import LabelConfig, PairLabel, label_scene
from rls3_bench.samples import Sample
from rls3_bench.scene import SceneSpec


@dataclass(frozen=True)
class Labelled:
    """A rendered scene and its captionable pairs."""

    observation: Observation
    pairs: tuple[PairLabel, ...]

    @property
    def valid(self) -> bool:
        return self.observation.valid and bool(self.pairs)


def observe_and_label(backend: Backend, spec: SceneSpec, cfg: LabelConfig = LabelConfig()) -> Labelled:
    obs = backend.observe(spec)
    if not obs.valid:
        return Labelled(obs, ())
    return Labelled(obs, tuple(p for p in label_scene(obs, cfg) if p.captionable))


def sample_for_pair(labelled: Labelled, pair: PairLabel, swap_first: bool = False) -> Sample:
    return make_sample(labelled.observation, pair, swap_first=swap_first)
