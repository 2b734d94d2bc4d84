"""The object-prior blind baseline: it reads priors off captions, finds them in v1, and v2 gives it
nothing (0.50 +/- 0.02 overall, +/- 0.04 on every slice of 40 or more items)."""

from __future__ import annotations

import pytest

from rls3_bench.analysis.blind import (
    ObjectPrior,
    RoomPrior,
    blind_report,
    blind_rows,
    board_priors,
    identity_blind_ceiling,
    negative_parts,
    positions_suffice,
    uniform_captions,
    uniform_prior,
    worst_deviation,
)
from rls3_bench.data.evalsets import EVAL_SETS, build_eval_set, load_eval_set
from rls3_bench.labels.captions import caption
from rls3_bench.labels.sample import Sample
from rls3_bench.scene.spec import CameraPose, PlacedObject, SceneSpec

SPEC = SceneSpec(
    "kitchen-a",
    CameraPose((0.0, -1.4, 1.7), (0.0, 0.2, 0.9)),
    (PlacedObject("plate", (0.0, 0.0, 0.9)), PlacedObject("green-cup", (0.2, 0.0, 0.9))),
)


def item(subject, reference, terms, kind, i=0):
    """A 2-way item without an image (the blind scorer never reads one)."""
    neg = negative_parts_of(subject, reference, terms, kind)
    return Sample(
        SPEC,
        None,
        subject,
        reference,
        tuple(terms),
        caption(subject, reference, terms),
        (caption(*neg),),
        (kind,),
        "",
        "",
        f"x{i}:0:1",
    )


def negative_parts_of(subject, reference, terms, kind):
    from rls3_bench.labels.relations import OPPOSITE

    if kind == "swap":
        return reference, subject, tuple(terms)
    t = kind.removeprefix("flip:")
    return subject, reference, tuple(OPPOSITE[u] if u == t else u for u in terms)


def test_prior_prefers_what_the_captions_said_and_ties_score_half():
    train = [item("plate", "green cup", ("below",), "flip:below", i) for i in range(8)] + [
        item("plate", "green cup", ("left",), "flip:left")
    ]
    prior = ObjectPrior.fit(train)
    assert prior.n_captions == 9
    assert prior.log_prob("plate", "green cup", ("below",)) > prior.log_prob("plate", "green cup", ("above",))
    rows = blind_rows(
        prior,
        [item("plate", "green cup", ("below",), "flip:below"), item("plate", "green cup", ("above",), "flip:above")],
    )
    assert [r["credit"] for r in rows] == [1.0, 0.0]
    # both orders of a pair it never saw fall back to the same axis frequencies: a tie, credit 1/2
    assert blind_rows(prior, [item("vase", "blender", ("left",), "swap")])[0]["credit"] == 0.5


def test_room_prior_reads_term_sets_per_room_and_never_answers_a_swap():
    """A room whose lower objects stand in front and to the left: the room prior answers the lateral
    flip of "below, in front and to the left" from the other two terms, and its mirror the other way;
    the object prior, which scores each axis on its own, cannot (left and right are equally common)."""
    common = ("below", "in front", "left")
    train = [item("plate", "green cup", common, "flip:left", i) for i in range(6)]
    train += [item("green cup", "plate", ("above", "behind", "right"), "flip:right", i) for i in range(6)]
    prior = RoomPrior.fit(train)
    assert prior.n_captions == 12
    assert prior.log_prob("kitchen-a", common) > prior.log_prob("kitchen-a", ("below", "in front", "right"))
    # other objects, same room: the room prior does not care which objects they are
    rows = blind_rows(
        prior,
        [
            item("red book", "bowl", common, "flip:left"),
            item("red book", "bowl", ("below", "in front", "right"), "flip:right"),
            item("red book", "bowl", common, "swap"),
        ],
    )
    assert [r["credit"] for r in rows] == [1.0, 0.0, 0.5]
    # the object prior, which never saw this pair, has no preference on the same item
    assert blind_rows(ObjectPrior.fit(train), [item("red book", "bowl", common, "flip:left")])[0]["credit"] == 0.5


def test_room_prior_finds_the_layout_in_uniform_scenes_of_world_2():
    """Fitted on 300 uniform-v1 captions of world 2 and scored on 300 others: the lateral flips of
    3-term captions are answerable from the room and the other two terms (the riser stands on a fixed
    side), 1-term ones are not (nothing but the room to go on)."""
    fitted = uniform_prior(300, seed=0, image_size=32, world=2, scorer=RoomPrior)
    held_out = uniform_captions(300, seed=1, image_size=32, world=2)
    rows = blind_rows(fitted, held_out)
    lateral = [(s, r["credit"]) for s, r in zip(held_out, rows, strict=True) if r["flipped_axis"] == "lateral"]
    three = [c for s, c in lateral if s.complexity == 3]
    one = [c for s, c in lateral if s.complexity == 1]
    assert len(three) >= 30 and sum(three) / len(three) > 0.75
    assert len(one) >= 20 and abs(sum(one) / len(one) - 0.5) < 0.2


@pytest.fixture(scope="module")
def v2_mini():
    return build_eval_set(EVAL_SETS["spatial-v2-mini"])


@pytest.fixture(scope="module")
def small_prior():
    """A prior from 300 uniform-v1 captions: enough to hold priors, fast enough for the default tier."""
    return uniform_prior(300, seed=0, image_size=32)


def test_negative_parts_rebuild_each_items_negative(v2_mini):
    for s in v2_mini:
        assert caption(*negative_parts(s)) == s.negatives[0]


def test_positions_decide_only_one_term_flips_of_multi_term_captions(v2_mini):
    """A learner that sees where the two objects stand but not which is which (the masked-object
    control) can answer "above and to the left" vs "above and to the right" (the higher one is the
    subject), never "left" vs "right" or an A/B swap, which describe the same unlabelled layout."""
    assert positions_suffice(item("plate", "green cup", ("above", "left"), "flip:left"))
    assert positions_suffice(item("plate", "green cup", ("below", "behind", "right"), "flip:behind"))
    assert not positions_suffice(item("plate", "green cup", ("left",), "flip:left"))
    assert not positions_suffice(item("plate", "green cup", ("below",), "flip:below"))
    assert not positions_suffice(item("plate", "green cup", ("above", "in front", "left"), "swap"))
    decided = [positions_suffice(s) for s in v2_mini]
    assert decided == [s.complexity > 1 and s.negative_kinds[0] != "swap" for s in v2_mini]
    twins = {}
    for s, d in zip(v2_mini, decided, strict=True):
        assert twins.setdefault(s.group, d) == d
    assert identity_blind_ceiling(v2_mini) == pytest.approx(0.5 + 0.5 * sum(decided) / len(v2_mini))
    assert 0.6 < identity_blind_ceiling(v2_mini) < 0.8


def test_v2_mini_gives_any_text_prior_exactly_chance(v2_mini, small_prior):
    """Even a prior fitted on the answers of one twin of every group cannot beat chance."""
    one_twin = v2_mini[::2]
    for prior in (small_prior, ObjectPrior.fit(one_twin), RoomPrior.fit(one_twin), RoomPrior.fit(v2_mini)):
        report = blind_report(prior, v2_mini)
        assert report["accuracy"] == 0.5
        for slice_values in report["slices"].values():
            assert all(v["accuracy"] == 0.5 for v in slice_values.values()), report["slices"]
    # the same answer-fitted prior on the items it saw: the check can fail
    assert blind_report(ObjectPrior.fit(one_twin), one_twin)["accuracy"] > 0.9


def test_the_boards_blind_rows_are_both_priors_at_chance_on_a_twin_set(v2_mini):
    rows = board_priors(v2_mini, n_captions=30)
    assert [(r["name"], r["n_captions"], r["accuracy"]) for r in rows] == [
        ("object-prior", 30, 0.5),
        ("room-prior", 30, 0.5),
    ]
    assert [r["label"] for r in rows] == ["object prior", "room prior"]


def test_slices_keep_twins_together(v2_mini, small_prior):
    rows = blind_rows(small_prior, v2_mini)
    by_group = {}
    for r in rows:
        key = tuple(r[k] for k in ("complexity", "negative_kind", "flipped_axis", "stacked", "distance_tercile"))
        assert by_group.setdefault(r["group"], key) == key
    assert {r["distance_tercile"] for r in rows} == {"near", "middle", "far"}
    assert {r["stacked"] for r in rows} == {"stacked", "not stacked"}


@pytest.mark.slow
def test_shipped_sets_against_a_prior_from_3000_uniform_captions():
    """The issue's figure: v1-test answered at about 0.56 from text; every shipped v2 set at chance
    within 0.02 overall and 0.04 per slice of >= 40 items."""
    prior = uniform_prior(3000, seed=0)
    v1 = blind_report(prior, load_eval_set("spatial-v1-test"))
    assert 0.53 < v1["accuracy"] < 0.60
    for name in ("spatial-v2-test", "spatial-v2-val", "spatial-v2-mini"):
        overall, worst_slice = worst_deviation(blind_report(prior, load_eval_set(name)))
        assert overall <= 0.02 and worst_slice <= 0.04, name


def test_a_learner_shown_constant_images_scores_exactly_chance_on_v2(v2_mini, track, one_thread):
    """The learner's blind baseline (control-blind-v1's condition): with every image one constant
    image, a fine-tuned CLIP's scores depend on the text only, so it is right on exactly one twin of
    every group, overall and on every slice, and its group score is 0. With the real images the same
    learner is not held to that (the check can fail)."""
    import dataclasses

    import numpy as np

    from rls3_bench.analysis.metrics import item_rows, slice_accuracies, summarize
    from rls3_bench.generator import BLANK_VALUE
    from rls3_bench.harness.cell import make_learner

    learner = make_learner(track, 0)
    learner.train_step(v2_mini[:16])  # any weights will do; these are not the base
    blank = [dataclasses.replace(s, image=np.full_like(s.image, BLANK_VALUE)) for s in v2_mini]
    rows = item_rows(blank, learner.evaluate(blank).predictions)
    assert summarize(rows)["accuracy"] == 0.5
    slices = slice_accuracies(blank, rows)
    assert slices.pop("group") == {"score": 0.0}
    assert all(v == 0.5 for values in slices.values() for v in values.values()), slices
    seen = item_rows(v2_mini, learner.evaluate(v2_mini).predictions)
    assert slice_accuracies(v2_mini, seen)["group"]["score"] > 0.0


def test_the_board_fits_the_object_prior_in_the_eval_sets_world(monkeypatch):
    """A world-2 set's prior comes from uniform-v1 captions of world 2, labelled and validated as its
    tracks do; a world-1 set's from world 1's, as before."""
    import numpy as np

    from rls3_bench.analysis import blind
    from rls3_bench.labels import annotate
    from rls3_bench.labels.relations import LABELLERS
    from rls3_bench.scene.random_scenes import random_spec
    from rls3_bench.scene.worlds import WORLDS

    seen = []
    real = annotate.uniform_samples

    def recording(backend, rng, n, room_ids=None, cfg=annotate.DEFAULT_LABELS, world=WORLDS[1]):
        seen.append((backend.validity_version, cfg, world.version))
        return real(backend, rng, n, room_ids, cfg, world)

    monkeypatch.setattr(annotate, "uniform_samples", recording)
    for version in (1, 2):
        spec = random_spec(np.random.default_rng(0), world=WORLDS[version])
        assert blind.items_world([Sample(spec, None, "", "", (), "", (), (), "", "", "x")]) == version
        blind.uniform_prior(20, seed=0, image_size=32, world=version)
    assert seen == [(1, LABELLERS[1], 1), (2, LABELLERS[2], 2)]


def test_blind_command_reports_both_scorers_at_chance_on_a_twin_set(tmp_path, capsys):
    from rls3_bench.cli import main

    assert main(["blind", "spatial-v3-mini", "--captions", "30", "--cache-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    heads = [line for line in out.splitlines() if " fitted on 30 uniform-v1 captions of world 2," in line]
    assert [h.split(" fitted")[0] for h in heads] == [
        "object-prior blind scorer (caption and object identity)",
        "room-prior scorer (the room and the caption's terms, not where the objects stand)",
    ]
    assert all(h.endswith("accuracy 0.500") for h in heads), heads
