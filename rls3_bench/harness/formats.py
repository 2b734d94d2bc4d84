"""The formats rls3-bench reads and writes, as pydantic models: a track (with its presets and
generator configs), a run's generation cost (seconds by :class:`Stage`), and a run record with its
curve points.

Every model forbids unknown fields and takes JSON types as they are (no string-to-number or
bool-to-number coercion), so a typo or a wrong type in a file is an error, not a silent default.
Field names are the on-disk names. :func:`validate` turns pydantic's multi-line report into the
one-line :class:`~rls3_bench.errors.UserError` every user-facing error is.
"""

from __future__ import annotations

import hashlib
import re
from enum import StrEnum
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)

from rls3_bench.data.atomic import canonical_json
from rls3_bench.errors import UserError, short_repr

PositiveInt = Annotated[StrictInt, Field(gt=0)]
Count = Annotated[StrictInt, Field(ge=0)]
#: what a generator's config holds: JSON data by key (each generator checks its own keys)
GeneratorConfig = dict[StrictStr, Any]
#: a track name becomes a folder name (results/<name>-v<version>/...): no separators, no dot-dot
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
#: a key named as it is in an error message (others are quoted)
_PLAIN_KEY = re.compile(r"[\w .-]{1,40}")

Model = TypeVar("Model", bound=BaseModel)


class _Format(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _where(loc: tuple) -> str:
    """``("presets", "smoke", "seeds")`` -> ``presets.smoke.seeds``; list indices in brackets, and
    keys that are not plain words quoted (a key from the file may hold a line break)."""
    out = ""
    for part in loc:
        if isinstance(part, int) or not _PLAIN_KEY.fullmatch(part):
            out += f"[{part if isinstance(part, int) else short_repr(part, 40)}]"
        else:
            out += f".{part}" if out else part
    return out


def _describe(error: dict) -> str:
    where = _where(error["loc"])
    if error["type"] == "missing":
        return f"field {where} is missing"
    if error["type"] == "extra_forbidden":
        return f"field {where} is not a known field"
    msg = error["msg"].removeprefix("Value error, ")
    if not error["loc"]:  # a check across fields: its message names them
        return msg
    return f"field {where}: {msg[:1].lower()}{msg[1:]}, got {short_repr(error['input'])}"


def validate(model: type[Model], data: Any, source: str, fix: str) -> Model:
    """``model`` from ``data``; a :class:`UserError` of one line naming ``source``, the first
    field in error (and how many more there are) and ``fix`` if it does not validate."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
        raise UserError(f"{source}: {_describe(errors[0])}{more}; {fix}") from None


# --- tracks ---------------------------------------------------------------------------------------
class Preset(_Format):
    """A named subset of a track's ladder and seeds (``smoke``, ``quick``, ``full``)."""

    budgets: tuple[StrictInt, ...]
    seeds: PositiveInt
    eval_set: StrictStr | None = None
    eval_set_hash: StrictStr | None = None


class Track(_Format):
    """One benchmark track. Any change that alters results must bump ``version``.

    :param learner: learner registry name (``clip``, ``paligemma``).
    :param model: model config / architecture for the learner (``clip-tiny``, ``ViT-B-32``, ...).
    :param weights: base weights (``base`` = shipped with the package, a path, a pretrained tag).
    :param recipe: learner recipe (lr, batch size, loss weights, ...), the same for every generator;
        the learner checks its keys against its own defaults.
    :param round_size: samples per round; every budget is a multiple of it.
    :param epochs_per_round: passes over each round's samples (so gradient steps per sample are fixed).
    :param eval_set, eval_set_hash: the frozen test set and its pinned content hash.
    :param val_set: the validation split (for tuning generator hyper-parameters, never the test set).
    :param id_eval_set, id_eval_set_hash: optional in-distribution set (e.g. ``uniform-id-v1``) and
        its pinned hash, evaluated at every budget beside the test set; left out of the track's
        serialised form (and so its digest) when unset.
    :param labeller: labeller version of the generators' data (``rls3_bench.labels.relations.LABELLERS``);
        the eval sets name their own.
    :param validity_version: the embedded backend's validity rules (``EmbeddedBackend``): 2 decides
        each scene's validity as a fresh world would, independent of the scenes before it.
        ``labeller`` and ``validity_version`` are left out of the serialised form at their default 1,
        so tracks made before they existed keep their digests.
    :param world: the world scenes are made in (:data:`rls3_bench.scene.worlds.WORLDS`: rooms and
        object scale); generators get it as ``ctx.world``, and its eval sets must be of the same
        world. A world other than 1 needs labeller 2 and validity version 2 (labeller 1 ignores an
        object's scale). Left out of the serialised form at its default 1.
    :param rehearsal_set, rehearsal_set_hash: optional frozen training set (a registry set built for
        rehearsal, e.g. ``pairs-v3-rehearsal``) and its pinned hash; ``rehearsal_per_round`` of its
        samples (an even number: minimal pairs stay whole), taken in turn, join every round's
        training beside the generator's data, the same for every generator. For a base that has learnt
        minimal pairs (``rls3-bench pretrain --pair-steps``): it keeps what the base reads while the
        generator's data add to it. Not delivered samples: they count toward no budget. Left out of the
        serialised form when unset.
    :param budgets: the sample-budget ladder; one run per (generator, seed) evaluates at each.
    :param min_seeds: seeds a leaderboard entry needs.
    :param generator_config: per generator name, the options it gets on this track.
    """

    name: StrictStr
    version: PositiveInt
    learner: StrictStr
    model: StrictStr
    recipe: dict[StrictStr, Any]
    round_size: PositiveInt
    eval_set: StrictStr
    eval_set_hash: StrictStr
    budgets: tuple[StrictInt, ...]
    min_seeds: PositiveInt
    weights: StrictStr | None = "base"
    description: StrictStr = ""
    epochs_per_round: PositiveInt = 1
    backend: StrictStr = "embedded"
    image_size: PositiveInt = 128
    renderer: StrictStr = "tiny"
    val_set: StrictStr | None = None
    id_eval_set: StrictStr | None = None
    id_eval_set_hash: StrictStr | None = None
    labeller: StrictInt = 1
    validity_version: StrictInt = 1
    world: StrictInt = 1
    rehearsal_set: StrictStr | None = None
    rehearsal_set_hash: StrictStr | None = None
    rehearsal_per_round: StrictInt = 0
    device: StrictStr = "cpu"
    presets: dict[StrictStr, Preset] = Field(default_factory=dict)
    generator_config: dict[StrictStr, GeneratorConfig] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _folder_name(cls, name: str) -> str:
        if not _NAME.fullmatch(name):
            raise ValueError("must be 1-64 letters, digits, '.', '_' or '-' (it names a results folder)")
        return name

    @field_validator("labeller", "validity_version")
    @classmethod
    def _version_1_or_2(cls, value: int) -> int:
        if value not in (1, 2):
            raise ValueError("must be 1 or 2")
        return value

    @model_validator(mode="after")
    def _ladder(self) -> Track:
        problems = []
        if not self.budgets or list(self.budgets) != sorted(set(self.budgets)):
            problems.append("budgets must be a strictly increasing list")
        if any(b <= 0 or b % self.round_size for b in self.budgets):
            problems.append(f"every budget must be a positive multiple of round_size {self.round_size}")
        for name, p in self.presets.items():
            if any(b not in self.budgets for b in p.budgets) or not p.budgets:
                problems.append(
                    f"preset {name}'s budgets {short_repr(list(p.budgets))} must be a non-empty subset of the track's"
                )
        if (self.id_eval_set is None) != (self.id_eval_set_hash is None):
            problems.append("id_eval_set and id_eval_set_hash go together: set both or neither")
        if (self.rehearsal_set is None) != (self.rehearsal_set_hash is None):
            problems.append("rehearsal_set and rehearsal_set_hash go together: set both or neither")
        if (self.rehearsal_set is None) != (self.rehearsal_per_round == 0):
            problems.append("rehearsal_per_round must be set (> 0) with rehearsal_set, and only then")
        if self.rehearsal_per_round < 0 or self.rehearsal_per_round % 2:
            problems.append("rehearsal_per_round must be an even number (minimal pairs stay whole)")
        from rls3_bench.scene.worlds import WORLDS

        if self.world not in WORLDS:
            problems.append(f"world must be one of {', '.join(map(str, WORLDS))}")
        elif self.labeller < (w := WORLDS[self.world]).labeller or self.validity_version < w.validity_version:
            problems.append(
                f"world {self.world} needs labeller: {w.labeller} and validity_version: {w.validity_version}"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def key(self) -> str:
        return f"{self.name}-v{self.version}"

    def with_preset(self, preset: str | None) -> Track:
        """The track restricted to a preset's budgets (seeds are chosen by the caller)."""
        if preset is None:
            return self
        if preset not in self.presets:
            raise UserError(
                f"track {self.name} has no preset {short_repr(preset)}; "
                f"valid: {', '.join(sorted(self.presets)) or '(none)'}"
            )
        p = self.presets[preset]
        return self.replace(
            budgets=p.budgets,
            eval_set=p.eval_set or self.eval_set,
            eval_set_hash=p.eval_set_hash or self.eval_set_hash,
            presets={},
        )

    def replace(self, **changes) -> Track:
        """A copy with ``changes``, validated like a track file."""
        return validate(
            type(self),
            {**self.model_dump(), **changes},
            f"track {self.name} with {short_repr(sorted(changes))} changed",
            "change fields so the track stays valid",
        )

    def to_dict(self) -> dict:
        """JSON-native form (lists, not tuples): ``track_from_dict(t.to_dict()) == t``. Optional fields at
        their defaults (no in-distribution set, labeller 1, validity 1, world 1, no rehearsal) are left out, so a
        track that does not use them has the digest it had before they existed."""
        defaults = {
            "id_eval_set": None,
            "id_eval_set_hash": None,
            "labeller": 1,
            "validity_version": 1,
            "world": 1,
            "rehearsal_set": None,
            "rehearsal_set_hash": None,
            "rehearsal_per_round": 0,
        }
        return self.model_dump(mode="json", exclude={k for k, v in defaults.items() if getattr(self, k) == v})

    def digest(self) -> str:
        return hashlib.sha256(canonical_json(self.to_dict()).encode()).hexdigest()


# --- cost -----------------------------------------------------------------------------------------
class Stage(StrEnum):
    """Where a run's wall time goes (``Cost.seconds``)."""

    RENDER = "render"
    LABEL_CAPTION = "label_caption"
    FEEDBACK = "feedback"
    TRAIN = "train"
    EVAL = "eval"
    AGENT = "agent"  # the generator's own work (an RL agent's steps and updates)
    GENERATION_WAIT = "generation_wait"  # the learner waiting for data: all of generation inline, less when pipelined


#: the stages that make data (training and evaluation are the learner's, equal for every generator)
GENERATION_STAGES = (Stage.RENDER, Stage.LABEL_CAPTION, Stage.FEEDBACK, Stage.AGENT)


class Cost(BaseModel):
    """Generation cost of a run, counted by the harness (never reported by generators); mutable,
    since the harness counts into it as the run goes."""

    model_config = ConfigDict(extra="forbid")

    scenes_rendered: Count = 0
    invalid_scenes: Count = 0
    feedback_queries: Count = 0
    samples_delivered: Count = 0
    rl_env_steps: Count = 0
    rl_updates: Count = 0
    render_cache_hits: Count = 0  # renders answered from the harness's observation cache
    captions_falsified: Count = 0  # samples re-captioned false by ctx.falsify (control generators)
    images_blanked: Count = 0  # samples given the constant image by ctx.blank (control generators)
    seconds: dict[Stage, StrictFloat] = Field(default_factory=lambda: {stage: 0.0 for stage in Stage})

    def add(self, other: Cost) -> None:
        """Add ``other``'s counters and seconds (a round's cost into a run's)."""
        for name in type(self).model_fields:
            if name != "seconds":
                setattr(self, name, getattr(self, name) + getattr(other, name))
        for stage, secs in other.seconds.items():
            self.seconds[stage] = self.seconds.get(stage, 0.0) + secs

    def as_dict(self) -> dict:
        """JSON-native form (stage names as plain strings)."""
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: dict) -> Cost:
        return cls.model_validate(data)


class RecordCost(Cost):
    """A run record's cost: every counter written out (:meth:`Cost.as_dict` writes them all)."""

    scenes_rendered: Count
    invalid_scenes: Count
    feedback_queries: Count
    samples_delivered: Count
    rl_env_steps: Count
    rl_updates: Count


# --- run records ----------------------------------------------------------------------------------
Number = StrictFloat


class GenerativeMetrics(_Format):
    """A generative learner's parsed-answer metrics (rls3_bench.analysis.metrics.summarize)."""

    per_term: dict[StrictStr, dict[StrictStr, Number]] = Field(default_factory=dict)
    exact_match: Number
    paligemma_score: Number


class CurvePoint(_Format):
    """The learner's test-set summary at one budget (0 = before any fine-tuning)."""

    budget: Count
    accuracy: Number
    n_items: Count | None = None
    per_term: dict[StrictStr, Number]
    per_complexity: dict[StrictStr, Number]
    per_negative: dict[StrictStr, Number] = Field(default_factory=dict)
    group_score: Number | None = None  # on a set of minimal pairs: groups with every item right (written only then)
    id_accuracy: Number | None = None  # on the track's in-distribution set, where the track has one (written only then)
    id_per_axis: dict[StrictStr, Number] | None = None  # the same per flipped axis (vertical, depth, lateral)
    generative: GenerativeMetrics = Field(
        default=None
    )  # absent for 2-way learners; never null on disk, readers test for the key

    @field_validator("per_term")
    @classmethod
    def _six_terms(cls, per_term: dict[str, float]) -> dict[str, float]:
        from rls3_bench.labels.sample import TERMS

        if missing := [t for t in TERMS if t not in per_term]:
            raise ValueError(f"needs all six terms, {', '.join(missing)} missing")
        return per_term


class RunRecord(_Format):
    """One cell's ``record.json``: what the cell produced (:class:`rls3_bench.harness.cell.CellResult`),
    the track and eval set it ran on, provenance, and checksums of itself and its predictions."""

    schema_version: Literal[1]
    track: StrictStr
    track_digest: StrictStr
    generator: StrictStr
    generator_name: StrictStr | None = None
    seed: StrictInt
    eval_set: StrictStr
    eval_set_hash: StrictStr
    curve: Annotated[list[CurvePoint], Field(min_length=1)]
    cost: RecordCost
    status: Literal["complete", "failed"]
    failure: StrictStr | None = None
    term_counts: dict[StrictStr, Count] = Field(default_factory=dict)
    complexity_counts: dict[StrictStr, Count] = Field(default_factory=dict)
    round_log: list[dict[StrictStr, Any]] = Field(default_factory=list)
    generator_history: list[Any] = Field(default_factory=list)
    gallery: list[dict[StrictStr, Any]] = Field(default_factory=list)
    renderer: StrictStr = ""
    pipelined: StrictBool = False
    control: StrictBool = False  # a control generator's run: the leaderboard's reference rows, never ranked
    track_config: dict[StrictStr, Any] | None = None
    wall_seconds: Number | None = None
    torch_threads: PositiveInt | None = None
    provenance: dict[StrictStr, Any] | None = None
    predictions_sha256: StrictStr | None = None
    record_sha256: StrictStr | None = None
