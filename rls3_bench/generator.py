"""The public Generator API (version 1): what a data generator implements and what the harness
gives it.

A generator fills one round at a time. The harness hands it a :class:`RoundContext`; the generator
proposes scenes through ``ctx.render`` (the harness renders, labels and captions them, and counts
the cost; ``ctx.render_many`` for a batch, on several cores), may ask the learner about samples
through ``ctx.query`` (closed loop; every query is counted), and hands exactly ``ctx.n_samples`` of
the samples it got back to ``ctx.deliver``. Those are what the learner trains on. The harness
enforces the budget: it refuses a delivery beyond ``n_samples``, a sample it did not produce in this
round, one changed since it was produced, or one delivered twice; it also caps the renders of a
round (``ctx.max_renders``) and its wall time, and the cell fails with that reason recorded.

Open-loop generators ignore ``ctx.previous_feedback``; closed-loop ones (``closed_loop = True``) get
the learner's feedback on the previous round's delivered samples there, computed by the harness
before fine-tuning on them (the paper's process 3).

Writing one::

    from rls3_bench.api import Generator, RoundContext, random_spec

    class MyGenerator(Generator):
        name = "my-generator-v1"

        def generate_round(self, ctx: RoundContext) -> None:
            while ctx.remaining:
                scene = ctx.render(random_spec(self.rng, world=ctx.world))
                if scene.samples:
                    ctx.deliver([scene.samples[0]])

and run it with ``rls3-bench run --generator my_module:MyGenerator`` or register it under the
``rls3_bench.generators`` entry-point group. Bump the ``-vN`` suffix whenever sampling changes.
"""

from __future__ import annotations

import abc
import dataclasses
import hashlib
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rls3_bench.errors import UserError
from rls3_bench.harness.formats import Cost, GeneratorConfig, Stage
from rls3_bench.labels.sample import Sample
from rls3_bench.learners.base import Feedback
from rls3_bench.scene.spec import SceneSpec
from rls3_bench.scene.worlds import DEFAULT_WORLD, World

API_VERSION = 1
#: the pixel value of ctx.blank's constant image (mid-grey, so no channel saturates)
BLANK_VALUE = 128


class BudgetViolation(RuntimeError):
    """A generator broke the round's contract (over budget, foreign, changed or duplicate samples,
    too many renders)."""


class RoundTimeout(BaseException):
    """A round ran past its time limit. A BaseException, so a generator's ``except Exception`` does
    not swallow it."""


#: a generator name becomes a folder name: lower-case letters, digits, '.', '_', '-', and a -vN suffix
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,60}-v[0-9]{1,4}")


def check_generator_name(name: object, where: str) -> str:
    """``name`` if it is a valid generator name, else a UserError naming ``where`` it came from."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        from rls3_bench.errors import short_repr

        raise UserError(
            f"generator name {short_repr(name)} of {where} is not valid: it becomes a folder name, "
            "so use lower-case letters, digits, '.', '_' and '-', at most 64 characters, "
            "ending in a version suffix like 'my-generator-v1'"
        )
    return name


def sample_digest(sample: Sample) -> str:
    """SHA-256 over everything a learner or a record reads from ``sample`` (texts, scene, pixels)."""
    texts = [
        sample.spec.digest(),
        sample.subject,
        sample.reference,
        list(sample.terms),
        sample.caption,
        list(sample.negatives),
        list(sample.negative_kinds),
        sample.prompt,
        sample.answer,
        sample.sample_id,
    ]
    image = np.ascontiguousarray(sample.image)
    h = hashlib.sha256(json.dumps(texts).encode("utf-8"))
    h.update(f"{image.dtype.str}{image.shape}".encode())
    h.update(image.tobytes())
    return h.hexdigest()


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
        max_renders: int | None = None,
        deadline: float | None = None,
        world: World = DEFAULT_WORLD,
    ) -> None:
        self.round_index = round_index
        #: the track's world (rooms, object scale): make every scene in it, e.g.
        #: ``random_spec(self.rng, world=ctx.world)``; a scene of another world fails the round
        self.world = world
        self.n_samples = n_samples
        self.previous_feedback = previous_feedback
        #: scenes this round may render in all (None: no cap); a render beyond it fails the round
        self.max_renders = max_renders
        self._deadline = deadline  # time.monotonic() by which the round must be done (None: no limit)
        self._render_fn = render_fn
        self._render_many_fn = render_many_fn
        self._query_fn = query_fn
        self._cost = cost
        self._renders = 0
        self._produced: dict[str, tuple[Sample, str]] = {}  # sample_id -> (sample, digest when produced)
        self._delivered: list[Sample] = []
        self._delivered_ids: set[str] = set()
        #: the exception that escaped the harness's own code (a backend failure), told apart from the generator's
        self.harness_error: BaseException | None = None

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

    def render_many(
        self, specs: Sequence[SceneSpec], pairs: Sequence[tuple[int, int] | None] | None = None
    ) -> list[Rendered]:
        """:meth:`render` for a batch, in order; rendered on the cell's render workers in parallel
        when it has more than one (``rls3-bench run --render-workers N``), so a generator that can
        propose scenes in batches scales with cores. Costs the same as rendering them one by one."""
        pairs = list(pairs) if pairs is not None else [None] * len(specs)
        if len(pairs) != len(specs):
            raise ValueError(f"render_many: {len(specs)} specs but {len(pairs)} pairs")
        self.check_time()
        for spec in specs:
            if problem := self.world.problem(spec):
                raise BudgetViolation(
                    f"round {self.round_index}: a scene is not of the track's world ({problem}); "
                    "make scenes in ctx.world, e.g. random_spec(self.rng, world=ctx.world)"
                )
        if self.max_renders is not None and self._renders + len(specs) > self.max_renders:
            raise BudgetViolation(
                f"round {self.round_index}: asked for more than {self.max_renders} renders "
                f"for {self.n_samples} samples; "
                "give up on a target after a bounded number of invalid scenes instead of rendering until one is valid"
            )
        self._renders += len(specs)
        try:
            if self._render_many_fn is not None:
                out = self._render_many_fn(specs, pairs)
            else:
                out = [self._render_fn(spec, pair) for spec, pair in zip(specs, pairs, strict=True)]
        except BaseException as exc:
            self.harness_error = exc
            raise
        for rendered in out:
            for s in rendered.samples:
                self._produced[s.sample_id] = (s, sample_digest(s))
        return out

    def check_time(self) -> None:
        """Raise :class:`RoundTimeout` once the round is past its time limit (every ctx call checks)."""
        if self._deadline is not None and time.monotonic() > self._deadline:
            raise RoundTimeout

    def query(self, samples: Sequence[Sample]) -> Feedback:
        """The learner's feedback on ``samples`` (no training); counted as feedback queries."""
        if self._query_fn is None:
            raise BudgetViolation("this generator is open-loop (closed_loop = False) and may not query the learner")
        self.check_time()
        t = time.perf_counter()
        try:
            fb = self._query_fn(samples)
        except BaseException as exc:
            self.harness_error = exc
            raise
        self._cost.seconds[Stage.FEEDBACK] += time.perf_counter() - t
        self._cost.feedback_queries += fb.queries
        return fb

    def falsify(self, sample: Sample) -> Sample:
        """A copy of ``sample`` (produced in this round) whose caption is its own first single-term
        flip, guaranteed false (:func:`rls3_bench.labels.captions.falsified`); deliverable like any
        produced sample and counted as ``captions_falsified``. For control generators only."""
        from rls3_bench.labels.captions import falsified

        self._own(sample)
        out = falsified(sample)
        self._produced[out.sample_id] = (out, sample_digest(out))
        self._cost.captions_falsified += 1
        return out

    def blank(self, sample: Sample) -> Sample:
        """A copy of ``sample`` (produced in this round) whose image is one constant mid-grey image of
        the same shape (:data:`BLANK_VALUE`), caption and scene unchanged; deliverable like any
        produced sample and counted as ``images_blanked``. For control generators only: a learner
        trained on such samples can learn only what the captions say without the image."""
        self._own(sample)
        out = dataclasses.replace(
            sample, image=np.full_like(sample.image, BLANK_VALUE), sample_id=f"{sample.sample_id}:blank"
        )
        self._produced[out.sample_id] = (out, sample_digest(out))
        self._cost.images_blanked += 1
        return out

    def _own(self, sample: Sample) -> None:
        """Refuse a sample this round's ctx.render did not produce, or one changed since."""
        produced = self._produced.get(getattr(sample, "sample_id", None))
        if produced is None or produced[0] is not sample:
            raise BudgetViolation(
                f"round {self.round_index}: sample {getattr(sample, 'sample_id', sample)!r} "
                "was not produced by ctx.render in this round"
            )
        self.check_unchanged(sample)  # a control sample is made from the harness's sample, not an edited one

    def deliver(self, samples: Sequence[Sample]) -> None:
        """Hand samples to the learner's training batch for this round."""
        self.check_time()
        for s in samples:
            if len(self._delivered) >= self.n_samples:
                raise BudgetViolation(
                    f"round {self.round_index}: delivered more than the budget of {self.n_samples} samples"
                )
            produced = self._produced.get(getattr(s, "sample_id", None))
            if produced is None or produced[0] is not s:
                raise BudgetViolation(
                    f"round {self.round_index}: sample {getattr(s, 'sample_id', s)!r} "
                    "was not produced by ctx.render in this round"
                )
            self.check_unchanged(s)
            if s.sample_id in self._delivered_ids:
                raise BudgetViolation(f"round {self.round_index}: sample {s.sample_id} delivered twice")
            self._delivered.append(s)
            self._delivered_ids.add(s.sample_id)
            self._cost.samples_delivered += 1

    def check_unchanged(self, sample: Sample) -> None:
        """Refuse a produced sample whose content (caption, terms, pixels, ...) changed since the harness made it."""
        _, digest = self._produced[sample.sample_id]
        try:
            same = sample_digest(sample) == digest
        except Exception:  # a field replaced by something that cannot be hashed
            same = False
        if not same:
            raise BudgetViolation(
                f"round {self.round_index}: sample {sample.sample_id} was changed after ctx.render made it; "
                "deliver samples as the harness returns them"
            )


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
    #: True for control generators (false captions, eval-matched data): reference rows, not ranked
    control: bool = False
    #: for a control that reproduces an eval set's construction: the eval-set version it matches
    #: (``spatial-v<N>-*``); ``run --controls`` adds it only to tracks whose test set has that version
    matches_eval_version: int | None = None
    #: the Generator API version this class was written against
    api_version: int = API_VERSION

    def __init__(self, seed: int, config: GeneratorConfig | None = None) -> None:
        if self.api_version != API_VERSION:
            raise UserError(
                f"generator {self.name} targets Generator API v{self.api_version}, "
                f"this harness speaks v{API_VERSION}; update the generator"
            )
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

    def save_extra(self, folder) -> None:  # noqa: B027  (optional hook: the default does nothing)
        """Write non-JSON state (e.g. an RL agent's networks) into ``folder``; default: nothing."""

    def load_extra(self, folder) -> None:  # noqa: B027  (optional hook: the default does nothing)
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
    "rls3-sac-v2": "rls3_generators.rls3_agent:SacGeneratorV2",
    "rls3-random-v2": "rls3_generators.rls3_agent:RandomAgentGeneratorV2",
    "uncertainty-v1": "rls3_generators.uncertainty:UncertaintyGenerator",
    "control-flipped-v1": "rls3_generators.controls:FlippedCaptionsControl",
    "control-evalmatched-v1": "rls3_generators.controls:EvalMatchedControl",
    "control-evalmatched-v2": "rls3_generators.controls:EvalMatchedTwinsControl",
    "control-blind-v1": "rls3_generators.controls:BlindImagesControl",
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
    check_generator_name(cls.name, name)
    return cls


def generator_record_name(text: str) -> str:
    """The name a generator's runs are recorded under, from a registered name, a ``module:Class`` path
    (imported), or the ``name`` a ``module:Class`` generator declares (not imported: its records carry it)."""
    if ":" in text or text in generator_names():
        return get_generator_class(text).name
    return check_generator_name(text, "--generator")


def generator_description(cls: type[Generator]) -> str:
    """One line about ``cls``: the first sentence of its docstring, else of its module's (less a
    leading 'name: ' and Sphinx roles such as ``:class:`~pkg.Name``` -> ``Name``)."""
    import re
    import sys

    for doc in (cls.__doc__, getattr(sys.modules.get(cls.__module__), "__doc__", None)):
        paragraph = " ".join((doc or "").strip().split("\n\n", 1)[0].split())
        if not paragraph:
            continue
        paragraph = re.sub(r":[a-z]+:`~?(?:[\w.]*\.)?(\w+)`", r"\1", paragraph)
        if paragraph.startswith(cls.name):  # "uniform-v1: ..." or "balanced-v1 (heuristic, open loop): ..."
            paragraph = paragraph[len(cls.name) :].strip()
            paragraph = paragraph.split("): ", 1)[-1] if paragraph.startswith("(") else paragraph
            paragraph = paragraph.lstrip(" :")
        return re.split(r"(?<=[.;])\s(?=[A-Z])", paragraph, maxsplit=1)[0]  # "i.i.d. uniformly" is one sentence
    return ""
