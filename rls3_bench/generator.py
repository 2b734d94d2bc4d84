"""The public Generator API (version 1): what a data generator implements and what the harness
gives it.

A generator fills one round at a time. The harness hands it a :class:`RoundContext`; the generator
proposes scenes through ``ctx.render`` (the harness renders, labels and captions them, and counts
the cost; ``ctx.render_many`` for a batch, on several cores), may ask the learner about samples through ``ctx.query`` (closed loop; every query is
counted), and hands exactly ``ctx.n_samples`` of the samples it got back to ``ctx.deliver``. Those are
what the learner trains on. The harness enforces the budget: it refuses a delivery beyond
``n_samples``, a sample it did not produce in this round, or one delivered twice, and the run stops
with that reason recorded.

Open-loop generators ignore ``ctx.previous_feedback``; closed-loop ones (``closed_loop = True``) get
the learner's feedback on the previous round's delivered samples there, computed by the harness
before fine-tuning on them (the paper's process 3).

Writing one::

    from rls3_bench.generator import Generator, RoundContext
    from rls3_bench.scene.random_scenes import random_spec

    class MyGenerator(Generator):
        name = "my-generator-v1"

        def generate_round(self, ctx: RoundContext) -> None:
            while ctx.remaining:
                scene = ctx.render(random_spec(self.rng))
                if scene.samples:
                    ctx.deliver([scene.samples[0]])

and run it with ``rls3-bench run --generator my_module:MyGenerator`` or register it under the
``rls3_bench.generators`` entry-point group. Bump the ``-vN`` suffix whenever sampling changes.
"""

from __future__ import annotations

import abc
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from rls3_bench.errors import UserError
from rls3_bench.harness.formats import Cost, GeneratorConfig, Stage
from rls3_bench.learners.base import Feedback
from rls3_bench.labels.sample import Sample
from rls3_bench.scene.spec import SceneSpec

API_VERSION = 1


class BudgetViolation(RuntimeError):
    """A generator broke the round's contract (over budget, foreign or duplicate samples)."""


@dataclass(frozen=True)
class Rendered:
    """What ``ctx.render`` returns: the scene's validity and one Sample per captionable pair.

    :param valid: the backend found the scene feasible and at least one pair is captionable.
    :param reason: why not, if not valid.
    :param samples: one per captionable ordered pair (or only the requested pair).
    :param observation: the backend's observation (settled poses, visibility) for agents to read.
    """

    spec: SceneSpec
    valid: bool
    reason: str | None
    samples: tuple[Sample, ...]
    observation: Any


class RoundContext:
    """The harness's side of one round, handed to :meth:`Generator.generate_round`."""

    def __init__(
        self,
        round_index: int,
        n_samples: int,
        previous_feedback: Feedback | None,
        render_fn: Callable[[SceneSpec, tuple[int, int] | None], Rendered],
        query_fn: Callable[[Sequence[Sample]], Feedback] | None,
        cost: Cost,
        render_many_fn: Callable[[Sequence[SceneSpec], Sequence[tuple[int, int] | None]], list[Rendered]] | None = None,
    ) -> None:
        self.round_index = round_index
        self.n_samples = n_samples
        self.previous_feedback = previous_feedback
        self._render_fn = render_fn
        self._render_many_fn = render_many_fn
        self._query_fn = query_fn
        self._cost = cost
        self._produced: dict[str, Sample] = {}
        self._delivered: list[Sample] = []
        self._delivered_ids: set[str] = set()

    @property
    def remaining(self) -> int:
        """Samples still to deliver this round."""
        return self.n_samples - len(self._delivered)

    @property
    def delivered(self) -> tuple[Sample, ...]:
        return tuple(self._delivered)

    def render(self, spec: SceneSpec, pair: tuple[int, int] | None = None) -> Rendered:
        """Render and label ``spec``; samples for every captionable pair, or just ``pair`` (a, b)."""
        return self.render_many([spec], [pair])[0]

    def render_many(self, specs: Sequence[SceneSpec], pairs: Sequence[tuple[int, int] | None] | None = None) -> list[Rendered]:
        """:meth:`render` for a batch, in order; rendered on the cell's render workers in parallel
        when it has more than one (``rls3-bench run --render-workers N``), so a generator that can
        propose scenes in batches scales with cores. Costs the same as rendering them one by one."""
        pairs = list(pairs) if pairs is not None else [None] * len(specs)
        if len(pairs) != len(specs):
            raise ValueError(f"render_many: {len(specs)} specs but {len(pairs)} pairs")
        if self._render_many_fn is not None:
            out = self._render_many_fn(specs, pairs)
        else:
            out = [self._render_fn(spec, pair) for spec, pair in zip(specs, pairs)]
        for rendered in out:
            for s in rendered.samples:
                self._produced[s.sample_id] = s
        return out

    def query(self, samples: Sequence[Sample]) -> Feedback:
        """The learner's feedback on ``samples`` (no training); counted as feedback queries."""
        if self._query_fn is None:
            raise BudgetViolation("this generator is open-loop (closed_loop = False) and may not query the learner")
        t = time.perf_counter()
        fb = self._query_fn(samples)
        self._cost.seconds[Stage.FEEDBACK] += time.perf_counter() - t
        self._cost.feedback_queries += fb.queries
        return fb

    def deliver(self, samples: Sequence[Sample]) -> None:
        """Hand samples to the learner's training batch for this round."""
        for s in samples:
            if len(self._delivered) >= self.n_samples:
                raise BudgetViolation(f"round {self.round_index}: delivered more than the budget of {self.n_samples} samples")
            if self._produced.get(s.sample_id) is not s:
                raise BudgetViolation(f"round {self.round_index}: sample {s.sample_id} was not produced by ctx.render in this round")
            if s.sample_id in self._delivered_ids:
                raise BudgetViolation(f"round {self.round_index}: sample {s.sample_id} delivered twice")
            self._delivered.append(s)
            self._delivered_ids.add(s.sample_id)
        self._cost.samples_delivered += len(samples)


class Generator(abc.ABC):
    """Base class of every data generator (built-in or contributed).

    :param seed: the run seed; the harness passes a seed derived from (run seed, generator name), so
        generators never share streams. Build all randomness from ``self.rng`` / ``self.seed``.
    :param config: generator-specific options (from the track or the command line).
    """

    #: registry name with version suffix, e.g. "uniform-v1"
    name: str = ""
    #: True if the generator reads learner feedback (it then may call ctx.query)
    closed_loop: bool = False
    #: the Generator API version this class was written against
    api_version: int = API_VERSION

    def __init__(self, seed: int, config: GeneratorConfig | None = None) -> None:
        if self.api_version != API_VERSION:
            raise UserError(f"generator {self.name} targets Generator API v{self.api_version}, this harness speaks v{API_VERSION}; update the generator")
        self.seed = int(seed)
        self.config = dict(config or {})
        self.rng = np.random.default_rng(self.seed)

    @abc.abstractmethod
    def generate_round(self, ctx: RoundContext) -> None:
        """Deliver exactly ``ctx.n_samples`` samples through ``ctx.deliver``."""

    def extra_cost(self) -> dict[str, int]:
        """Counters the harness cannot see (e.g. RL gradient updates); recorded beside its own."""
        return {}

    def state_dict(self) -> dict:
        """JSON-able state for checkpoints; the default saves the RNG."""
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]

    def save_extra(self, folder) -> None:
        """Write non-JSON state (e.g. an RL agent's networks) into ``folder``; default: nothing."""

    def load_extra(self, folder) -> None:
        """Restore what :meth:`save_extra` wrote."""


# --- registry -------------------------------------------------------------------------------
from rls3_bench.harness.registry import Registry  # noqa: E402  (after Generator, which it checks against)

GENERATORS: Registry = Registry("generator", base=Generator)
for _name, _path in {
    "uniform-v1": "rls3_generators.uniform:UniformGenerator",
    "balanced-v1": "rls3_generators.balanced:BalancedGenerator",
    "weakness-v1": "rls3_generators.weakness:WeaknessGenerator",
    "rls3-sac-v1": "rls3_generators.rls3_agent:SacGenerator",
    "rls3-random-v1": "rls3_generators.rls3_agent:RandomAgentGenerator",
}.items():
    GENERATORS.register(_name, _path)

ENTRY_POINT_GROUP = "rls3_bench.generators"
_entry_points_loaded = False


def _load_entry_points() -> None:
    """Register third-party generators from the ``rls3_bench.generators`` entry-point group (lazily:
    only the ``module:Class`` strings are read, nothing is imported)."""
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        GENERATORS.register(ep.name, ep.value)
    _entry_points_loaded = True


def generator_names() -> list[str]:
    _load_entry_points()
    return GENERATORS.names()


def get_generator_class(name: str) -> type[Generator]:
    """A registered name (``uniform-v1``) or a ``module:Class`` path of a contributed generator."""
    _load_entry_points()
    cls = GENERATORS.get(name)
    if not cls.name:
        raise UserError(f"generator {name} has no name; set the class attribute name = 'my-generator-v1'")
    return cls
