"""``rls3-bench check-generator``: what a generator must get right before a run, checked in seconds.

It runs the generator through the harness's own :func:`~rls3_bench.harness.generation.produce_round`
(so the render cap, the time limit, the delivery checks and the ``state_dict`` / ``extra_cost``
checks are the ones a run applies) for a few tiny rounds on small images, with a stub learner whose
feedback is a fixed function of each sample, and refuses a generator that

* cannot be pickled by reference (a worker process could not import it);
* delivers different samples in two runs with the same seed (it draws from a global RNG or the clock);
* delivers the same samples for two different seeds (it ignores its seed);
* delivers something else after a resume from its JSON-round-tripped ``state_dict()`` (and
  ``save_extra`` files) than it does uninterrupted;
* breaks a round's contract (the harness's message, naming the generator), e.g. delivers a scene of
  another world than the one it is checked in (``world``; a world-blind generator passes in world 1
  and is refused in world 2).
"""

from __future__ import annotations

import contextlib
import json
import pickle
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rls3_bench.errors import UserError
from rls3_bench.generator import BudgetViolation, Cost, Generator, get_generator_class, sample_digest
from rls3_bench.harness.generation import (
    GenerationLimits,
    GeneratorFailure,
    Harness,
    RoundOutput,
    make_generator,
    produce_round,
)
from rls3_bench.labels.sample import TERMS
from rls3_bench.learners.base import Feedback
from rls3_bench.scene.worlds import WORLDS, get_world


def stub_feedback(samples) -> Feedback:
    """A learner stand-in: each sample's loss and correctness are a fixed function of its id."""
    codes = np.array([zlib.crc32(s.sample_id.encode()) for s in samples], dtype=np.int64)
    correct = codes % 3 != 0
    term_error = {}
    for term in TERMS:
        has = [i for i, s in enumerate(samples) if term in s.terms]
        term_error[term] = float(1.0 - correct[has].mean()) if has else float("nan")
    return Feedback((codes % 1000) / 1000.0, correct, term_error, len(samples))


@dataclass
class CheckReport:
    """What :func:`check_generator` found; ``problems`` empty means the generator passed."""

    generator: str
    closed_loop: bool
    world: int
    rounds: int
    round_size: int
    problems: list[str] = field(default_factory=list)
    renders: int = 0  # scenes rendered over all checked rounds
    delivered: int = 0  # samples delivered over all checked rounds
    slowest_round_seconds: float = 0.0

    @property
    def renders_per_sample(self) -> float:
        return self.renders / max(self.delivered, 1)


class _Refused(Exception):
    """A check failed; its message is the report's problem line."""


def check_generator(
    generator: str,
    seed: int = 0,
    rounds: int = 2,
    round_size: int = 8,
    image_size: int = 64,
    limits: GenerationLimits | None = None,
    backend=None,
    world: int = 1,
) -> CheckReport:
    """Check ``generator`` (a registered name or ``module:Class``) in ``world``; see the module docstring.

    ``backend``: an open backend to render with (default: an embedded one of ``image_size`` px,
    TinyRenderer, with the validity rules a track of ``world`` needs, opened and closed here).
    """
    if rounds < 2 or round_size < 1:
        raise UserError(f"check-generator needs at least 2 rounds of at least 1 sample, got {rounds} x {round_size}")
    validity = get_world(world).validity_version  # before any work: an unknown world is refused here
    cls = get_generator_class(generator)
    report = CheckReport(cls.name, cls.closed_loop, world, rounds, round_size)
    try:
        _check_picklable(cls)
        if backend is not None:
            _check_runs(cls, backend, seed, rounds, round_size, limits, report)
        else:
            from rls3_bench.backends.embedded import EmbeddedBackend

            with EmbeddedBackend(image_size=image_size, renderer="tiny", validity_version=validity) as own:
                _check_runs(cls, own, seed, rounds, round_size, limits, report)
    except _Refused as exc:
        report.problems.append(str(exc))
    return report


def _check_picklable(cls: type[Generator]) -> None:
    try:
        same = pickle.loads(pickle.dumps(cls)) is cls
    except Exception as exc:  # PicklingError, AttributeError (a local class), TypeError
        same, why = False, f"{type(exc).__name__}: {' '.join(str(exc).split())[:100]}"
    else:
        why = "it unpickles as another class"
    if not same:
        raise _Refused(
            f"{cls.name} cannot be pickled for a worker process ({why}); define the class at the top level of "
            "an importable module"
        )


def _check_runs(cls, backend, seed, rounds, round_size, limits, report: CheckReport) -> None:
    with tempfile.TemporaryDirectory(prefix="rls3-check-") as tmp:
        extra = Path(tmp)
        first = _Run(cls, backend, seed, round_size, limits, report)
        first.round(0)
        with _refusing(cls.name, "saving its state (state_dict, save_extra)"):
            state0 = json.loads(json.dumps(first.gen.state_dict()))
            first.gen.save_extra(extra)
        for r in range(1, rounds):
            first.round(r)
        second = _Run(cls, backend, seed, round_size, limits, report)
        for r in range(rounds):
            if second.round(r) != first.digests[r]:
                raise _Refused(
                    f"{cls.name} ignores its seed: two runs with seed {seed} delivered different samples in round {r}; "
                    "draw all randomness from self.rng (or streams seeded from self.seed), "
                    "never from global RNGs or the clock"
                )
        resumed = _Run(cls, backend, seed, round_size, limits, report, previous=first.feedback[0])
        with _refusing(cls.name, "loading its JSON-round-tripped state (load_state_dict, load_extra)"):
            resumed.gen.load_state_dict(state0)
            resumed.gen.load_extra(extra)
        if resumed.round(1) != first.digests[1]:
            raise _Refused(
                f"{cls.name}'s state does not round-trip through JSON: resumed from its round-0 state_dict() "
                "it delivered other samples in round 1 than without the resume; keep everything that decides "
                "its samples in state_dict() (JSON types only) or save_extra()"
            )
        other = _Run(cls, backend, seed + 1, round_size, limits, report)
        if other.round(0) == first.digests[0]:
            raise _Refused(
                f"{cls.name} ignores its seed: seeds {seed} and {seed + 1} delivered the same samples in round 0; "
                "draw its randomness from self.rng"
            )


@contextlib.contextmanager
def _refusing(name: str, doing: str):
    try:
        yield
    except Exception as exc:
        raise _Refused(f"{name} raised {type(exc).__name__} {doing}: {' '.join(str(exc).split())[:160]}") from None


class _Run:
    """One generator instance's rounds against the stub learner; a broken round is a refusal."""

    def __init__(
        self,
        cls,
        backend,
        seed,
        round_size,
        limits,
        report: CheckReport,
        previous: Feedback | None = None,
    ) -> None:
        with _refusing(cls.name, f"when made with seed {seed}"):
            self.gen = make_generator(cls, seed, {})
        # every run renders for itself (no cache)
        labeller = WORLDS[report.world].labeller
        self.harness = Harness(backend, Cost(), cache_size=0, labeller=labeller, world=report.world)
        self.round_size, self.limits, self.report = round_size, limits, report
        self.previous = previous
        self.digests: list[list[str]] = []
        self.feedback: list[Feedback] = []

    def round(self, r: int) -> list[str]:
        closed = type(self.gen).closed_loop
        t0 = time.perf_counter()
        try:
            out: RoundOutput = produce_round(
                self.gen,
                self.harness,
                r,
                self.round_size,
                self.previous if closed else None,
                stub_feedback if closed else None,
                self.limits,
            )
        except (BudgetViolation, GeneratorFailure) as exc:
            raise _Refused(str(exc)) from None
        self.report.slowest_round_seconds = max(self.report.slowest_round_seconds, time.perf_counter() - t0)
        self.report.renders += out.cost.scenes_rendered
        self.report.delivered += len(out.delivered)
        self.previous = stub_feedback(out.delivered)
        self.feedback.append(self.previous)
        digests = [sample_digest(s) for s in out.delivered]
        self.digests.append(digests)
        return digests
