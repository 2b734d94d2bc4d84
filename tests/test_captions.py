"""The caption template, negatives that are guaranteed false, prompts, determinism."""

from __future__ import annotations

import itertools

import pytest

from rls3_bench.labels.captions import caption, negatives, object_caption, question, relation_phrase
from rls3_bench.labels.relations import OPPOSITE
from rls3_bench.scene.spec import CameraPose, PlacedObject, SceneSpec

ALL_TERMS = ("left", "right", "above", "below", "in front", "behind")


def test_paper_examples_verbatim():
    assert (
        caption("small pot", "yellow bowl", ["left", "behind", "above"])
        == "The small pot is above, behind and to the left of the yellow bowl."
    )
    assert caption("blender", "plate", ["below", "in front"]) == "The blender is below and in front of the plate."
    assert caption("vase", "blender", ["right"]) == "The vase is to the right of the blender."


@pytest.mark.parametrize(
    "terms, expected",
    [
        (("above",), "The A is above the B."),
        (("below",), "The A is below the B."),
        (("behind",), "The A is behind the B."),
        (("in front",), "The A is in front of the B."),
        (("left",), "The A is to the left of the B."),
        (("above", "behind"), "The A is above and behind the B."),
        (("below", "right"), "The A is below and to the right of the B."),
    ],
)
def test_closing_preposition_follows_the_last_term(terms, expected):
    assert caption("A", "B", terms) == expected


def _valid_label_sets():
    for v in (None, "above", "below"):
        for d in (None, "in front", "behind"):
            for lat in (None, "left", "right"):
                terms = tuple(t for t in (v, d, lat) if t)
                if terms:
                    yield terms


@pytest.mark.parametrize("terms", list(_valid_label_sets()))
def test_negatives_are_false_and_distinct(terms):
    truth = caption("cup", "plate", terms)
    negs = negatives("cup", "plate", terms, key="k")
    texts = [t for _, t in negs]
    assert truth not in texts and len(set(texts)) == len(texts) == len(terms) + 1
    kinds = [k for k, _ in negs]
    assert kinds[1] == "swap" and sorted(kinds[:1] + kinds[2:]) == sorted(f"flip:{t}" for t in terms)
    # a flip contradicts the true value on exactly one axis
    for kind, text in negs:
        if kind.startswith("flip:"):
            t = kind[5:]
            flipped = [OPPOSITE[u] if u == t else u for u in terms]
            assert text == caption("cup", "plate", flipped)
    # the swap states the relation the other way round, which is the converse of the truth only
    # with every term flipped: assert the converse is not what the swap says
    converse = caption("plate", "cup", [OPPOSITE[t] for t in terms])
    assert dict(negs)["swap"] != converse


def test_negative_choice_is_deterministic_and_varies_with_key():
    terms = ("above", "behind", "left")
    firsts = {negatives("a", "b", terms, key=f"id{i}")[0][0] for i in range(50)}
    assert firsts == {"flip:above", "flip:behind", "flip:left"}
    assert negatives("a", "b", terms, "x") == negatives("a", "b", terms, "x")


def test_bad_term_sets_raise():
    for bad in ((), ("left", "left"), ("up",), ("a", "b", "c", "d")):
        with pytest.raises(ValueError):
            caption("a", "b", bad)


def test_prompt_answer_and_object_caption():
    assert question("vase", "plate") == "answer en where is the vase relative to the plate?"
    assert relation_phrase(("left", "above")) == "above and to the left"
    spec = SceneSpec(
        "living-room",
        CameraPose((0, -1, 1), (0, 0, 1)),
        (PlacedObject("vase", (0, 0, 1)), PlacedObject("plate", (0.2, 0, 1))),
    )
    text = object_caption(spec)
    assert text == "a photo of the plate and the vase in a living room."
    assert not any(t in text.split() for t in ("left", "right", "above", "below", "behind", "front"))


def test_every_caption_is_in_the_tokenizer_vocabulary():
    """The tiny tracks' word-level tokenizer must cover every text the suite produces."""
    from rls3_bench.learners.vocab import build_tokenizer
    from rls3_bench.scene.assets import ASSETS

    pytest.importorskip("tokenizers")
    tok = build_tokenizer()
    names = [a.name for a in ASSETS.values()]
    for (a, b), terms in itertools.product(itertools.permutations(names[:4], 2), _valid_label_sets()):
        for text in (
            caption(a, b, terms),
            question(a, b),
            relation_phrase(terms),
            *[t for _, t in negatives(a, b, terms, "k")],
        ):
            assert "<unk>" not in tok.encode(text).tokens, text
