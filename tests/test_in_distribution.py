"""The in-distribution eval sets (uniform-id-v1, uniform-id-v2), the optional track field that evaluates
one at every budget beside the test set, and the track fields for the labeller and validity rules."""

from __future__ import annotations

from collections import Counter

import pytest

from rls3_bench.analysis.blind import slice_attributes
from rls3_bench.data.evalsets import EVAL_SETS, load_eval_set
from rls3_bench.errors import UserError
from rls3_bench.harness.formats import Cost, CurvePoint

ID_SET = "uniform-id-v1"


def test_the_id_set_is_uniform_v1s_sampling_held_out_from_the_other_sets():
    items = load_eval_set(ID_SET)  # rebuilt or cached, checked against the pinned hash either way
    assert len(items) == 360
    # uniform sampling, not the balanced schedule: 3-term captions dominate as in uniform-v1's data
    counts = {k: sum(s.complexity == k for s in items) for k in (1, 2, 3)}
    assert counts[3] > counts[1] and len(set(counts.values())) == 3
    others = {s.sample_id for s in load_eval_set("spatial-v1-mini")} | {
        s.sample_id for s in load_eval_set("spatial-v1-val")
    }
    assert not others & {s.sample_id for s in items}


def test_an_unset_id_set_leaves_the_track_digest_alone_and_the_pair_goes_together(track):
    spec = EVAL_SETS[ID_SET]
    with_id = track.replace(id_eval_set=ID_SET, id_eval_set_hash=spec.content_hash)
    assert "id_eval_set" not in track.to_dict() and with_id.to_dict()["id_eval_set"] == ID_SET
    assert (
        with_id.digest() != track.digest()
        and with_id.replace(id_eval_set=None, id_eval_set_hash=None).digest() == track.digest()
    )
    with pytest.raises(UserError, match="id_eval_set and id_eval_set_hash go together"):
        track.replace(id_eval_set=ID_SET)


def test_a_cell_reports_in_distribution_accuracy_at_every_budget_and_the_board_shows_it(track, items, one_thread):
    from rls3_bench.analysis.leaderboard import ID_COLUMN, build_leaderboard
    from rls3_bench.backends.embedded import EmbeddedBackend
    from rls3_bench.harness.cell import run_cell

    with_id = track.replace(id_eval_set=ID_SET, id_eval_set_hash=EVAL_SETS[ID_SET].content_hash, budgets=(16,))
    with EmbeddedBackend(image_size=track.image_size, renderer=track.renderer) as backend:
        res = run_cell(with_id, "uniform-v1", 0, backend=backend, eval_items=items)
        plain = run_cell(track.replace(budgets=(16,)), "uniform-v1", 0, backend=backend, eval_items=items)
    assert [p["budget"] for p in res.curve] == [0, 16]
    assert all(0.0 <= p["id_accuracy"] <= 1.0 for p in res.curve)
    assert all("id_accuracy" not in p and "id_per_axis" not in p for p in plain.curve)
    # per flipped axis: each axis's share of the items, weighted, gives back the overall accuracy
    id_items = load_eval_set(ID_SET)
    share = Counter(a["flipped_axis"] for a in slice_attributes(id_items))
    for p in res.curve:
        assert set(p["id_per_axis"]) == set(share) <= {"vertical", "depth", "lateral"}
        weighted = sum(p["id_per_axis"][a] * n for a, n in share.items()) / len(id_items)
        assert weighted == pytest.approx(p["id_accuracy"])
    assert CurvePoint.model_validate(res.curve[1]).id_per_axis == res.curve[1]["id_per_axis"]
    # the test-set numbers are those of the same cell without the in-distribution set
    assert [p["accuracy"] for p in res.curve] == [p["accuracy"] for p in plain.curve]
    record = {"track": "t", "generator_name": "uniform-v1", "status": "complete", "cost": res.cost, "wall_seconds": 1.0}
    lb = build_leaderboard([{**record, "seed": s, "curve": res.curve} for s in (0, 1)])
    shown = lb.per_budget[16]
    assert shown[ID_COLUMN].tolist() == [f"{res.curve[1]['id_accuracy']:.3f}"]
    assert shown[f"{ID_COLUMN}, lateral"].tolist() == [f"{res.curve[1]['id_per_axis']['lateral']:.3f}"]
    assert (
        ID_COLUMN not in build_leaderboard([{**record, "seed": s, "curve": plain.curve} for s in (0, 1)]).per_budget[16]
    )


def test_uniform_id_v2_is_labelled_as_the_v3_tracks_label_their_data():
    """Labeller 2 under validity 2: re-rendering an item that way gives back its own label, and the
    set is another draw than uniform-id-v1's wherever the rules differ."""
    from rls3_bench.backends.embedded import EmbeddedBackend
    from rls3_bench.harness.generation import Harness

    v2 = load_eval_set("uniform-id-v2")
    assert len(v2) == 360 and EVAL_SETS["uniform-id-v2"].labeller == 2
    with EmbeddedBackend(image_size=128, renderer="tiny", validity_version=2) as backend:
        harness = Harness(backend, Cost(), labeller=2)
        for s in v2[::12]:
            a, b = (int(x) for x in s.sample_id.split(":")[1:3])
            again = harness.render(s.spec, pair=(a, b))
            assert again.valid and again.samples[0].terms == s.terms and again.samples[0].caption == s.caption
    assert {s.sample_id for s in v2} != {s.sample_id for s in load_eval_set(ID_SET)}


def test_labeller_and_validity_version_reach_the_labels_and_the_backend(track):
    from rls3_bench.harness.generation import Harness, open_backend, track_backend_options

    v3 = track.replace(labeller=2, validity_version=2)
    assert not {"labeller", "validity_version"} & set(track.to_dict())  # the old digests stand
    assert v3.to_dict()["labeller"] == 2 and v3.digest() != track.digest()
    assert v3.replace(labeller=1, validity_version=1).digest() == track.digest()
    assert "validity_version" not in track_backend_options(v3.replace(backend="unity"))  # Unity decides its own
    with open_backend(v3) as backend:
        assert backend.validity_version == 2
        assert Harness(backend, Cost(), labeller=v3.labeller).cfg.version == 2
    with open_backend(track) as backend:
        assert backend.validity_version == 1
    with pytest.raises(UserError, match="labeller: must be 1 or 2, got 3"):
        track.replace(labeller=3)
