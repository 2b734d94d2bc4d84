"""Answer parsing and the PaliGemma score, on hand cases (no model needed)."""

from __future__ import annotations

import pytest

from rls3_bench.learners.answers import paligemma_score, parse_terms


@pytest.mark.parametrize(
    "text, terms",
    [
        ("above, behind and to the left", ("above", "behind", "left")),
        ("to the left, above", ("above", "left")),  # any order in, canonical order out
        ("To the RIGHT.", ("right",)),
        ("in  front and below", ("below", "in front")),  # irregular whitespace inside "in front"
        ("left left left", ("left",)),
        ("left and right", ("left", "right")),  # contradictions are kept, scored as wrong
        ("in a kitchen", ()),  # "in" alone is not "in front"
        ("leftover frontier", ()),  # whole words only
        ("", ()),
    ],
)
def test_parse_terms(text, terms):
    assert parse_terms(text) == terms


@pytest.mark.parametrize(
    "truth, predicted, score",
    [
        (("above", "behind", "left"), ("above", "behind", "left"), 3.0),
        (("above", "left"), ("left",), 2.0),  # vertical missed; depth empty in both; lateral right
        (("left",), ("right",), 2.0),  # lateral wrong; vertical and depth correctly empty
        (("left",), (), 2.0),
        (("below", "in front", "right"), ("above", "behind", "left"), 0.0),
        (("left",), ("left", "right"), 2.0),  # naming both opposites is never right
        (("behind",), ("above", "behind", "left"), 1.0),
    ],
)
def test_paligemma_score(truth, predicted, score):
    assert paligemma_score(truth, predicted) == score


def test_paligemma_score_rejects_unknown_terms():
    with pytest.raises(ValueError, match="unknown spatial terms"):
        paligemma_score(("left",), ("sideways",))
