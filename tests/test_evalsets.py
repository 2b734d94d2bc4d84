"""Eval sets: balanced, deterministic (bit-identical rebuild, in and across processes), hash-checked."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

import pytest

from rls3_bench.data.evalsets import EVAL_SETS, build_eval_set, load_eval_set
from rls3_bench.data.sample_tables import content_hash, read_samples, write_samples
from rls3_bench.errors import UserError
from rls3_bench.labels.sample import TERMS
from rls3_bench.scene.construct import balanced_targets as schedule


@pytest.fixture(scope="module")
def mini():
    return build_eval_set(EVAL_SETS["spatial-v1-mini"])


def test_schedule_balances_terms_within_each_complexity():
    for per in (24, 72, 240):
        targets = schedule(per)
        for k in (1, 2, 3):
            counts = Counter(t for s in targets if len(s) == k for t in s)
            assert sum(len(s) == k for s in targets) == per
            assert set(counts) == set(TERMS) and len(set(counts.values())) == 1, (k, counts)


def test_mini_set_matches_its_schedule_and_released_hash(mini):
    assert len(mini) == 72
    assert Counter(s.terms for s in mini) == Counter(schedule(24))
    assert content_hash(mini) == EVAL_SETS["spatial-v1-mini"].content_hash
    kinds = Counter(s.negative_kinds[0].split(":")[0] for s in mini)
    assert kinds == {"flip": 48, "swap": 24}
    # every item's caption really is the pair's label: re-derive it from the stored spec
    assert all(s.caption.startswith(f"The {s.subject} is ") for s in mini)


def test_rebuild_in_another_process_is_identical(mini, tmp_path):
    code = (
        "from rls3_bench.data.evalsets import EVAL_SETS, build_eval_set; "
        "from rls3_bench.data.sample_tables import content_hash;"
        "print(content_hash(build_eval_set(EVAL_SETS['spatial-v1-mini'])))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == content_hash(mini)


def test_parquet_round_trip_and_cache_repair(mini, tmp_path):
    path = write_samples(tmp_path / "spatial-v1-mini.parquet", mini)
    back = read_samples(path)
    assert content_hash(back) == content_hash(mini)
    # a corrupted cache is rebuilt, not trusted
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    assert content_hash(load_eval_set("spatial-v1-mini", cache_dir=tmp_path)) == content_hash(mini)
    assert content_hash(read_samples(path)) == content_hash(mini)


def test_wrong_hash_and_unknown_name_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="pins eval set"):
        load_eval_set("spatial-v1-mini", expected_hash="0" * 64, cache_dir=tmp_path)
    with pytest.raises(UserError, match="unknown eval set"):
        load_eval_set("spatial-v9", cache_dir=tmp_path)
    assert not list(tmp_path.iterdir())


def test_datasets_library_reads_the_image_column(tmp_path, mini):
    datasets = pytest.importorskip("datasets")
    path = write_samples(tmp_path / "d.parquet", mini[:3])
    ds = datasets.load_dataset("parquet", data_files=str(path), split="train")
    assert ds[0]["image"].size == (128, 128) and ds[0]["caption"] == mini[0].caption


# --- v2: minimal pairs ----------------------------------------------------------------------------
from rls3_bench.analysis.metrics import group_score, item_rows, summarize  # noqa: E402
from rls3_bench.scene.construct import twin_groups, twin_target  # noqa: E402
from rls3_bench.scene.worlds import WORLDS  # noqa: E402


@pytest.fixture(scope="module", params=["spatial-v2-mini", "spatial-v3-mini"])
def mini2(request):
    """A minimal-pair mini set: the paper's world (v2) and world 2 (v3, objects at scale 2)."""
    return build_eval_set(EVAL_SETS[request.param])


def test_twin_schedule_balances_terms_within_each_complexity():
    for per in (24, 72, 240):
        groups = twin_groups(per)
        items = [t for target, kind in groups for t in (target, twin_target(target, kind)[0])]
        for k in (1, 2, 3):
            counts = Counter(t for s in items if len(s) == k for t in s)
            assert sum(len(s) == k for s in items) == per
            assert set(counts) == set(TERMS) and len(set(counts.values())) == 1, (k, counts)
    assert twin_target(("above", "left"), "flip:left") == (("above", "right"), False)
    assert twin_target(("above", "left"), "swap") == (("above", "left"), True)
    with pytest.raises(ValueError, match="does not apply"):
        twin_target(("above",), "flip:left")


def test_twin_minis_are_made_of_twins_with_the_released_hash(mini2):
    name = "spatial-v3-mini" if mini2[0].spec.room.endswith("-w2") else "spatial-v2-mini"
    world = WORLDS[EVAL_SETS[name].world]
    assert len(mini2) == 72 and content_hash(mini2) == EVAL_SETS[name].content_hash
    assert all(world.problem(s.spec) is None for s in mini2)  # every scene of the set's world
    # every term is asked, above and below included, in every complexity
    assert all({t for s in mini2 if len(s.terms) == k for t in s.terms} == set(TERMS) for k in (1, 2, 3))
    assert Counter(len(s.terms) for s in mini2) == {1: 24, 2: 24, 3: 24}
    groups = {}
    for s in mini2:
        groups.setdefault(s.group, []).append(s)
    assert len(groups) == 36
    for first, twin in groups.values():
        # the same two captions, each true in one twin: same room, camera and objects
        assert (first.caption, first.negatives[0]) == (twin.negatives[0], twin.caption)
        assert first.spec.room == twin.spec.room and first.spec.camera == twin.spec.camera
        assert sorted(o.asset for o in first.spec.objects) == sorted(o.asset for o in twin.spec.objects)
        assert first.negative_kinds[0].split(":")[0] == twin.negative_kinds[0].split(":")[0]


def test_v2_labels_are_labeller_2s_labels_of_the_stored_scenes(mini2):
    """Re-render every stored scene and relabel it: each item's terms are the geometry's (labeller 2)."""
    from rls3_bench.backends.embedded import EmbeddedBackend
    from rls3_bench.labels.annotate import observe_and_label
    from rls3_bench.labels.relations import LABELLERS

    with EmbeddedBackend(image_size=128, renderer="tiny", validity_version=2) as backend:
        for s in mini2:
            a, b = (int(x) for x in s.sample_id.split(":")[-2:])
            pairs = {(p.a, p.b): p.terms for p in observe_and_label(backend, s.spec, LABELLERS[2]).pairs}
            assert pairs.get((a, b)) == s.terms, s.sample_id


def test_group_score_counts_groups_with_every_twin_right(mini2):
    """A text-only model gets item accuracy 0.5 and group score 0 on twins; an oracle gets 1 and 1."""
    text_only = [
        {"item_id": s.sample_id, "score_true": float(len(s.caption)), "score_negative": float(len(s.negatives[0]))}
        for s in mini2
    ]
    oracle = [{"item_id": s.sample_id, "score_true": 1.0, "score_negative": 0.0} for s in mini2]
    rows = item_rows(mini2, text_only)
    assert sum(r["correct"] for r in rows) <= 36 and group_score(rows) == 0.0
    assert group_score(item_rows(mini2, oracle)) == 1.0
    # a curve point carries it beside accuracy on a set of twins, and not on one without
    assert summarize(rows)["group_score"] == 0.0 and summarize(item_rows(mini2, oracle))["group_score"] == 1.0
    v1 = load_eval_set("spatial-v1-mini")
    v1_oracle = [{"item_id": s.sample_id, "score_true": 1.0, "score_negative": 0.0} for s in v1]
    assert "group_score" not in summarize(item_rows(v1, v1_oracle))


def test_uniform_twins_are_uniform_redraws_in_which_the_other_caption_is_true():
    """An in-distribution twin set of world 2 (12 items here): each group is a uniform-v1 sample and
    a uniform redraw of its objects in the same room and view in which its negative is true; both
    labels are labeller 2's labels of the stored scenes, and neither blind scorer gets off 0.5."""
    from rls3_bench.analysis.blind import ObjectPrior, RoomPrior, blind_report
    from rls3_bench.backends.embedded import EmbeddedBackend
    from rls3_bench.data.evalsets import EvalSetSpec
    from rls3_bench.labels.annotate import observe_and_label
    from rls3_bench.labels.relations import LABELLERS

    spec = EvalSetSpec("t-twins", 3, 7, 0, uniform_items=12, labeller=2, validity_version=2, world=2, twins=True)
    items = build_eval_set(spec)
    assert len(items) == 12 and len({s.group for s in items}) == 6
    with EmbeddedBackend(image_size=128, renderer="tiny", validity_version=2) as backend:
        for first, twin in zip(items[::2], items[1::2], strict=True):
            assert first.group == twin.group
            assert (first.caption, first.negatives[0]) == (twin.negatives[0], twin.caption)
            assert first.spec.room == twin.spec.room and first.spec.camera == twin.spec.camera
            assert sorted(o.asset for o in first.spec.objects) == sorted(o.asset for o in twin.spec.objects)
            assert first.spec != twin.spec
            for s in (first, twin):
                labelled = observe_and_label(backend, s.spec, LABELLERS[2])
                a, b = (int(x) for x in s.sample_id.split(":")[-2:])
                assert labelled.valid and {(p.a, p.b): p.terms for p in labelled.pairs}.get((a, b)) == s.terms
    for scorer in (ObjectPrior, RoomPrior):
        assert blind_report(scorer.fit(items[::2]), items)["accuracy"] == 0.5


@pytest.mark.slow
def test_released_uniform_twins_rebuild_to_their_hash(tmp_path):
    """uniform-twins-v3 rebuilds bit-identically (about 5 minutes on one core) and holds every axis,
    stacked pairs included."""
    from rls3_bench.analysis.blind import slice_attributes

    items = load_eval_set("uniform-twins-v3", EVAL_SETS["uniform-twins-v3"].content_hash, cache_dir=tmp_path)
    assert len(items) == 360
    attributes = slice_attributes(items)
    assert {a["flipped_axis"] for a in attributes} == {"vertical", "depth", "lateral"}
    assert {a["stacked"] for a in attributes} == {"stacked", "not stacked"}
