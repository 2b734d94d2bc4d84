"""Parsing generated PaliGemma answers into spatial terms, and the suite's "PaliGemma score".

A generative learner answers "answer en where is the small pot relative to the yellow bowl?" with free
text such as "above, behind and to the left". :func:`parse_terms` turns that text into the terms it
mentions; :func:`paligemma_score` compares them with the truth axis by axis.

The paper reports a PaliGemma "score" (1.96 at start -> 2.68 after SAC fine-tuning) without defining
it. Its range and the three-axis relation scheme suggest a per-axis count, which is what we define
and document here (see :func:`paligemma_score`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from rls3_bench.labels.sample import TERMS

#: The three independent axes of a relation and the terms each can take (an axis may also be empty).
AXES: dict[str, tuple[str, str]] = {
    "vertical": ("above", "below"),
    "depth": ("in front", "behind"),
    "lateral": ("left", "right"),
}

# Whole words only, so "in front" is not found inside other words and "in" alone (as in "in a
# kitchen") never counts; whitespace inside "in front" may vary in generated text.
_TERM_RE = re.compile(r"\b(in\s+front|behind|left|right|above|below)\b", re.IGNORECASE)

# The caption order (vertical, depth, lateral), so parsed answers compare equal to Sample.terms.
_CANONICAL = tuple(term for axis in AXES.values() for term in axis)


def parse_terms(text: str) -> tuple[str, ...]:
    """The spatial terms mentioned in an answer, each once, in canonical order (vertical, depth, lateral).

    Tolerant of word order, commas, "and", "to the", "of", capitals and trailing junk:
    ``parse_terms("to the left, above")`` -> ``("above", "left")``. Contradictory answers keep both terms
    (``"left and right"`` -> ``("left", "right")``) so that scoring can count them as wrong rather than
    silently picking one. Text without any term gives ``()``.
    """
    found = {" ".join(m.group(1).lower().split()) for m in _TERM_RE.finditer(text)}
    return tuple(t for t in _CANONICAL if t in found)


def _axis_value(terms: Iterable[str], axis: tuple[str, str]) -> frozenset[str]:
    return frozenset(t for t in terms if t in axis)


def paligemma_score(true_terms: Iterable[str], predicted_terms: Iterable[str]) -> float:
    """Number of axes (vertical, depth, lateral) on which the prediction agrees with the truth, 0..3.

    On each axis the truth is one of its two terms or nothing (the caption does not mention that axis,
    e.g. no vertical term). The prediction agrees on an axis when it names exactly the same term there,
    or names nothing there when the truth has nothing. Naming both opposite terms of an axis never
    agrees. Example: truth ("above", "left"), prediction ("left",) -> vertical wrong, depth right (both
    empty), lateral right -> 2.0.

    This is our definition of the paper's unpublished "PaliGemma score" (range 0-3, reported there as
    1.96 -> 2.68); averaged over an eval set it is the mean number of correctly answered axes.
    """
    true_terms, predicted_terms = tuple(true_terms), tuple(predicted_terms)
    unknown = [t for t in (*true_terms, *predicted_terms) if t not in TERMS]
    if unknown:
        raise ValueError(f"unknown spatial terms {unknown}; expected terms from {TERMS}")
    return float(sum(_axis_value(true_terms, axis) == _axis_value(predicted_terms, axis) for axis in AXES.values()))
