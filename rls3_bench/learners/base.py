"""The learner interface the loop uses, and the records it returns.

A learner wraps one model (CLIP via open_clip, PaliGemma via transformers). It fine-tunes on batches
of :class:`~rls3_bench.labels.sample.Sample`, scores true-vs-corrupted captions (2-way accuracy, the metric
shared by all tracks), and gives closed-loop generators per-sample feedback.
"""

from __future__ import annotations

import abc
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rls3_bench.data.atomic import strict_json_loads
from rls3_bench.errors import UserError
from rls3_bench.labels.sample import TERMS, Sample


def weights_card(weights: Path) -> Path:
    """Where the card of a base-weights file lives (``<name>.json`` beside it): written by
    ``rls3-bench pretrain``, read by :func:`verified_base_weights`."""
    return weights.with_suffix(".json")


#: where the package's base weights live, each ``<stem>.safetensors`` beside its card ``<stem>.json``
SHIPPED_WEIGHTS = Path(__file__).resolve().parent.parent / "weights"


def shipped_base_names(model: str | None = None) -> list[str]:
    """The stems of the base weights shipped in the package (``clip-tiny-base``, ``clip-tiny-w2-look``...):
    what a track's ``weights`` may name besides ``base`` (the model's own base), a path or a tag. With
    ``model``, only those whose card names that model."""
    names = sorted(p.stem for p in SHIPPED_WEIGHTS.glob("*.safetensors"))
    if model is None:
        return names
    return [n for n in names if _read_card(SHIPPED_WEIGHTS / f"{n}.safetensors").get("model") == model]


def shipped_base(weights: str, model: str) -> Path | None:
    """The shipped base weights ``weights`` names by stem, verified against their card and refused for
    another model; None when it names none. A world-2 track names its own base this way, so the base a
    result was made from comes with the package instead of a local ``--weights`` path."""
    if weights not in shipped_base_names():
        return None
    path = SHIPPED_WEIGHTS / f"{weights}.safetensors"
    card = _read_card(path)  # an unreadable card is refused by verified_base_weights, with its own message
    hint = str(card.get("command", "the command in its card"))
    if card and card.get("model") != model:
        own = ", ".join(shipped_base_names(model)) or "none shipped"
        raise UserError(
            f"shipped base weights {weights!r} are for model {card.get('model')!r}, not {model!r}; "
            f"name a base of {model!r} ({own}) or pass --weights PATH"
        )
    return verified_base_weights(path, hint)


def _read_card(path: Path) -> dict:
    """The card beside ``path`` as a dict, or {} when it cannot be read (verified_base_weights says why)."""
    try:
        card = strict_json_loads(weights_card(path).read_bytes())
    except (OSError, ValueError):
        return {}
    return card if isinstance(card, dict) else {}


def verified_base_weights(path: Path, build_hint: str) -> Path:
    """A tiny track's base weights, checked against the sha256 in the card ``rls3-bench pretrain``
    wrote beside them. The base is part of what a track version means, so weights that were damaged,
    cut short, or replaced without their card (e.g. a pretrain run stopped between its two writes)
    are refused before any cell runs on them."""
    card_path = weights_card(path)
    if not path.is_file():
        raise UserError(f"base weights {path} are missing; build them with `{build_hint}` or pass --weights PATH")
    try:
        card = strict_json_loads(card_path.read_bytes())
        want = str(card["sha256"])
    except (OSError, ValueError, TypeError, KeyError):
        raise UserError(
            f"base weights {path} have no readable card {card_path.name} (its sha256); restore both with "
            f"`git checkout -- {path.parent}` or rebuild them with `{build_hint}`"
        ) from None
    got = hashlib.sha256(path.read_bytes()).hexdigest()
    if got != want:
        raise UserError(
            f"base weights {path} do not match their card {card_path.name} "
            f"(sha256 {got[:12]}..., card {want[:12]}...): damaged or replaced; "
            f"restore both with `git checkout -- {path.parent}` or rebuild them with `{build_hint}`"
        )
    return path


@dataclass(frozen=True)
class Feedback:
    """What a learner tells a generator about the samples it just produced.

    :param loss: ``(n,)`` per-sample training loss (no gradient step taken).
    :param correct: ``(n,)`` bool, the true caption outscored its first negative.
    :param term_error: per term, the error rate over the samples whose caption has that term
        (NaN where no sample had it). Keys are :data:`~rls3_bench.labels.sample.TERMS`.
    :param queries: model forward passes (images x captions) spent computing this.
    """

    loss: np.ndarray
    correct: np.ndarray
    term_error: dict[str, float]
    queries: int


@dataclass(frozen=True)
class ItemPrediction:
    """One eval item's outcome: scores of the true caption and of the negative."""

    item_id: str
    score_true: float
    score_negative: float
    # parsed generative answer (PaliGemma only): terms predicted, or None for embedding models
    predicted_terms: tuple[str, ...] | None = None

    @property
    def correct(self) -> bool:
        # ties count as wrong, so a constant model scores 0 rather than 50 % by luck of ordering
        return self.score_true > self.score_negative


@dataclass(frozen=True)
class EvalResult:
    """Per-item predictions on an eval set; metrics are computed from them (see rls3_bench.analysis.metrics)."""

    predictions: tuple[ItemPrediction, ...]
    queries: int
    extra: dict[str, Any] = field(default_factory=dict)


def term_error_rates(samples: Sequence[Sample], correct: np.ndarray) -> dict[str, float]:
    """Error rate per term over the samples whose caption uses it (NaN if none does)."""
    out: dict[str, float] = {}
    for term in TERMS:
        mask = np.array([term in s.terms for s in samples], dtype=bool)
        out[term] = float(1.0 - correct[mask].mean()) if mask.any() else float("nan")
    return out


def torch_device(device: str):
    """The ``torch.device`` named ``device``, or a one-line UserError: not a device name, or CUDA
    asked for on a machine without it."""
    import torch

    try:
        dev = torch.device(device)
    except RuntimeError:
        raise UserError(f"device '{device}' is not a torch device; use 'cpu' or 'cuda[:i]'") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device '{device}' requested but CUDA is not available; use --device cpu")
    return dev


class Learner(abc.ABC):
    """A fine-tunable model. Construct with a model config, a recipe, a device and a seed."""

    name: str = ""

    @classmethod  # noqa: B027  (optional hook: the default does nothing)
    def check_setup(cls, model: str, weights: str | None, recipe: dict, device: str) -> None:
        """Raise the one-line UserError the constructor would raise for an unknown model, missing or
        damaged weights, a bad recipe or an unusable device, without building the model (milliseconds;
        nothing downloaded). ``rls3-bench run`` calls it before a sweep starts, so such a run fails
        before any cell folder exists. The default checks nothing; the constructor still does."""

    @abc.abstractmethod
    def train_step(self, batch: Sequence[Sample]) -> float:
        """One optimiser step on ``batch``; returns the mean training loss."""

    @abc.abstractmethod
    def evaluate(self, items: Sequence[Sample]) -> EvalResult:
        """Score each item's true caption against its first negative (``negatives[0]``)."""

    @abc.abstractmethod
    def feedback(self, samples: Sequence[Sample]) -> Feedback:
        """Per-sample loss and correctness without updating the model."""

    @abc.abstractmethod
    def save(self, path: Path) -> None:
        """Write model + optimiser + RNG state (safetensors/JSON, never pickle) atomically."""

    @abc.abstractmethod
    def load(self, path: Path) -> None:
        """Restore what :meth:`save` wrote."""
