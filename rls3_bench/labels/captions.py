"""Captions, hard negatives and PaliGemma prompts, in the paper's template and phrasing.

"The small pot is above, behind and to the left of the yellow bowl." Terms always come in the order
vertical, depth, lateral; the preposition that closes the phrase belongs to its last term ("above the",
"behind the", "in front of the", "to the left of the"). Everything here is a pure function of the
sample (no RNG): choices such as which term a negative flips are taken from the sample id's hash.
"""

from __future__ import annotations

import dataclasses
import hashlib

from rls3_bench.backends.base import Observation
from rls3_bench.labels.relations import OPPOSITE, PairLabel
from rls3_bench.labels.sample import Sample
from rls3_bench.scene.assets import ASSETS, ROOMS

_PHRASE = {
    "left": "to the left",
    "right": "to the right",
    "above": "above",
    "below": "below",
    "in front": "in front",
    "behind": "behind",
}
_CLOSING = {"left": " of", "right": " of", "in front": " of", "above": "", "below": "", "behind": ""}
CANONICAL_ORDER = ("above", "below", "in front", "behind", "left", "right")


def _ordered(terms) -> tuple[str, ...]:
    terms = tuple(terms)
    if not 1 <= len(terms) <= 3 or len(set(terms)) != len(terms) or any(t not in _PHRASE for t in terms):
        raise ValueError(f"a caption needs 1-3 distinct terms from {sorted(_PHRASE)}, got {terms}")
    return tuple(sorted(terms, key=CANONICAL_ORDER.index))


def relation_phrase(terms) -> str:
    """ "above, behind and to the left" (the PaliGemma answer, and the middle of a caption)."""
    parts = [_PHRASE[t] for t in _ordered(terms)]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def caption(subject: str, reference: str, terms) -> str:
    """ "The <subject> is <phrase> the <reference>." with the closing preposition of the last term."""
    ordered = _ordered(terms)
    return f"The {subject} is {relation_phrase(ordered)}{_CLOSING[ordered[-1]]} the {reference}."


def question(subject: str, reference: str) -> str:
    """The PaliGemma prompt whose answer is :func:`relation_phrase`."""
    return f"answer en where is the {subject} relative to the {reference}?"


def _pick(key: str, n: int) -> int:
    """A deterministic index in [0, n) from a string (stable across processes, unlike hash())."""
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big") % n


def negatives(subject: str, reference: str, terms, key: str) -> tuple[tuple[str, str], ...]:
    """Guaranteed-false captions as (kind, text): every single-term flip and the A/B swap.

    A flip replaces one true term by its opposite, which contradicts the label; the swap states
    "B is <terms> A", which contradicts the converse "B is <opposite terms> A" on every axis. The
    first entry (the one 2-way evaluation uses) is one flip chosen by ``key``; the swap is second.
    """
    ordered = _ordered(terms)
    flips = [
        (f"flip:{t}", caption(subject, reference, [OPPOSITE[t] if u == t else u for u in ordered])) for t in ordered
    ]
    first = flips.pop(_pick(key, len(flips)))
    return (first, ("swap", caption(reference, subject, ordered)), *flips)


def object_caption(obs_or_spec) -> str:
    """Object-level text without spatial words, for pretraining: "a photo of the plate, the vase and
    the green cup in a kitchen." Objects are listed by name, so word order carries no position."""
    spec = getattr(obs_or_spec, "spec", obs_or_spec)
    names = sorted(ASSETS[o.asset].name for o in spec.objects)
    listed = names[0] if len(names) == 1 else ", ".join(f"the {n}" for n in names[:-1])[4:] + f" and the {names[-1]}"
    room = ROOMS[spec.room].name
    article = "an" if room[0] in "aeiou" else "a"
    return f"a photo of the {listed} in {article} {room}."


def make_sample(obs: Observation, label: PairLabel, first_negative: str | None = None) -> Sample:
    """The Sample for one captionable pair of an observation.

    ``first_negative`` (a kind: ``"swap"`` or ``"flip:<term>"``) puts that negative first, so eval
    sets control which negative 2-way evaluation uses; the others keep their order.
    """
    if not label.captionable:
        raise ValueError(f"pair {label} has an unlabelled axis or no relation; it cannot be captioned")
    spec = obs.spec
    subject = ASSETS[spec.objects[label.a].asset].name
    reference = ASSETS[spec.objects[label.b].asset].name
    sample_id = f"{spec.digest()[:16]}:{label.a}:{label.b}"
    negs = _put_first(negatives(subject, reference, label.terms, sample_id), first_negative, label.terms)
    return Sample(
        spec=spec,
        image=obs.image,
        subject=subject,
        reference=reference,
        terms=_ordered(label.terms),
        caption=caption(subject, reference, label.terms),
        negatives=tuple(text for _, text in negs),
        negative_kinds=tuple(kind for kind, _ in negs),
        prompt=question(subject, reference),
        answer=relation_phrase(label.terms),
        sample_id=sample_id,
    )


def falsified(sample: Sample) -> Sample:
    """The same image and pair captioned with the sample's own first single-term flip, a caption the
    labeler guarantees false: ``terms``, ``caption`` and ``answer`` state the flipped relation, and
    ``negatives[0]`` is the true caption (the flip back). For control generators whose captions must
    carry no information about the image; never for data meant to teach."""
    term = next(k for k in sample.negative_kinds if k.startswith("flip:"))[len("flip:") :]
    flipped = [OPPOSITE[u] if u == term else u for u in sample.terms]
    return restated(sample, flipped, f"{sample.sample_id}:false", first_negative=f"flip:{OPPOSITE[term]}")


def restated(sample: Sample, terms, sample_id: str, first_negative: str | None = None) -> Sample:
    """``sample`` (same image and pair) stating ``terms``: caption, answer and negatives rebuilt
    from them under ``sample_id``, with the negative of kind ``first_negative`` first (as
    :func:`make_sample`). The caller vouches that ``terms`` are what it means the image to say."""
    terms = _ordered(terms)
    negs = _put_first(negatives(sample.subject, sample.reference, terms, sample_id), first_negative, terms)
    return dataclasses.replace(
        sample,
        terms=terms,
        caption=caption(sample.subject, sample.reference, terms),
        negatives=tuple(text for _, text in negs),
        negative_kinds=tuple(k for k, _ in negs),
        answer=relation_phrase(terms),
        sample_id=sample_id,
    )


def _put_first(negs, first_negative: str | None, terms):
    """``negs`` with the one of kind ``first_negative`` moved to the front (unchanged for None)."""
    if first_negative is None:
        return negs
    kinds = [kind for kind, _ in negs]
    if first_negative not in kinds:
        raise ValueError(f"no negative of kind {first_negative!r} for terms {tuple(terms)}; kinds: {kinds}")
    k = kinds.index(first_negative)
    return (negs[k], *negs[:k], *negs[k + 1 :])
