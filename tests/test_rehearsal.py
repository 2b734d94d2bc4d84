"""Rehearsal sets: frozen minimal pairs a track mixes into every round beside the generator's data
(``rehearsal_set``, ``rehearsal_per_round``), the same for every generator, never scored."""

from __future__ import annotations

import pytest

from rls3_bench.data.evalsets import EVAL_SETS, EvalSetSpec, build_eval_set, rehearsal_set_names
from rls3_bench.errors import UserError

SMALL = EvalSetSpec("t-pairs", 3, 7, 0, axis_pairs=4, labeller=1, world=1)


@pytest.fixture
def small_pairs(monkeypatch, tmp_path):
    """A four-pair rehearsal set of world 1 registered for the test, cached under tmp_path."""
    monkeypatch.setitem(EVAL_SETS, SMALL.name, SMALL)
    monkeypatch.setenv("RLS3_BENCH_CACHE", str(tmp_path))
    return build_eval_set(SMALL)


def test_a_rehearsal_set_is_minimal_pairs_and_rebuilds_identically(small_pairs):
    from rls3_bench.data.sample_tables import content_hash

    assert len(small_pairs) == 8
    for first, twin in zip(small_pairs[::2], small_pairs[1::2], strict=True):
        # the twin asks the same two captions with the other one true, in the same room and view
        assert (first.caption, first.negatives[0]) == (twin.negatives[0], twin.caption)
        assert first.spec.room == twin.spec.room and first.spec.camera == twin.spec.camera
        assert len(first.terms) == len(twin.terms) == 1 and first.terms != twin.terms
    assert content_hash(build_eval_set(SMALL)) == content_hash(small_pairs)
    assert rehearsal_set_names() == ["pairs-v3-rehearsal", "t-pairs"]


def test_rehearsal_fields_go_together_and_leave_other_tracks_digests_alone(track):
    spec = EVAL_SETS["pairs-v3-rehearsal"]
    with_reh = track.replace(rehearsal_set=spec.name, rehearsal_set_hash=spec.content_hash, rehearsal_per_round=8)
    assert "rehearsal_set" not in track.to_dict() and with_reh.to_dict()["rehearsal_per_round"] == 8
    unset = with_reh.replace(rehearsal_set=None, rehearsal_set_hash=None, rehearsal_per_round=0)
    assert with_reh.digest() != track.digest() == unset.digest()
    with pytest.raises(UserError, match="rehearsal_set and rehearsal_set_hash go together"):
        track.replace(rehearsal_set=spec.name, rehearsal_per_round=8)
    with pytest.raises(UserError, match="rehearsal_per_round must be set"):
        track.replace(rehearsal_set=spec.name, rehearsal_set_hash=spec.content_hash)
    with pytest.raises(UserError, match="even number"):
        track.replace(rehearsal_set=spec.name, rehearsal_set_hash=spec.content_hash, rehearsal_per_round=7)


def test_a_run_trains_on_no_eval_set_and_scores_on_no_rehearsal_set(track):
    from rls3_bench.harness.sweep import check_setup

    w2 = track.replace(world=2, labeller=2, validity_version=2)
    val = EVAL_SETS["spatial-v3-val"]
    bad = w2.replace(
        eval_set=val.name,
        eval_set_hash=val.content_hash,
        rehearsal_set=val.name,
        rehearsal_set_hash=val.content_hash,
        rehearsal_per_round=8,
    )
    with pytest.raises(UserError, match="rehearsal_set spatial-v3-val is an eval set.*pairs-v3-rehearsal"):
        check_setup(bad, ["uniform-v1"], [0], "local", 1, None, {})
    reh = EVAL_SETS["pairs-v3-rehearsal"]
    scored = w2.replace(eval_set=reh.name, eval_set_hash=reh.content_hash)
    with pytest.raises(UserError, match="evaluates on pairs-v3-rehearsal, a rehearsal set"):
        check_setup(scored, ["uniform-v1"], [0], "local", 1, None, {})


def test_every_round_trains_on_its_share_of_the_set_beside_the_generators_data(track, items, small_pairs, one_thread):
    """Each round's training batch is the generator's samples plus the next ``rehearsal_per_round``
    pairs in turn (wrapping around); only the generator's samples count toward the budget."""
    from rls3_bench.backends.embedded import EmbeddedBackend
    from rls3_bench.data.sample_tables import content_hash
    from rls3_bench.harness.cell import Cell

    pin = content_hash(small_pairs)
    reh = track.replace(rehearsal_set=SMALL.name, rehearsal_set_hash=pin, rehearsal_per_round=6)
    rehearsal_ids = {s.sample_id for s in small_pairs}
    with EmbeddedBackend(image_size=track.image_size, renderer=track.renderer) as backend:
        cell = Cell(reh, "uniform-v1", 0, backend=backend, eval_items=items)
        seen: list[list[str]] = []
        train_step = cell.learner.train_step
        cell.learner.train_step = lambda batch: seen.append([s.sample_id for s in batch]) or train_step(batch)
        res = cell.run()
        plain = Cell(track, "uniform-v1", 0, backend=backend, eval_items=items).run()
    # round 0 rehearses pairs 0-5 (three whole groups), round 1 pairs 6, 7 and, wrapping, 0-3
    shares = [[s for batch in seen[r * 2 : r * 2 + 2] for s in batch if s in rehearsal_ids] for r in (0, 1)]
    ids = [s.sample_id for s in small_pairs]
    assert sorted(shares[0]) == sorted(ids[:6]) and sorted(shares[1]) == sorted(ids[6:] + ids[:4])
    assert [len(b) for b in seen] == [16, 6, 16, 6]  # 22 samples a round in batches of 16
    assert res.cost["samples_delivered"] == plain.cost["samples_delivered"] == 32
    assert sum(res.term_counts.values()) == sum(plain.term_counts.values())
    assert res.curve[0] == plain.curve[0] and res.curve[1:] != plain.curve[1:]


def test_a_rehearsal_set_holding_an_eval_item_is_refused(track, items, small_pairs, monkeypatch):
    from rls3_bench.harness.cell import Cell

    reh = track.replace(rehearsal_set=SMALL.name, rehearsal_set_hash="unused", rehearsal_per_round=2)
    monkeypatch.setattr("rls3_bench.data.evalsets.load_eval_set", lambda name, h=None: small_pairs + items[:1])
    with pytest.raises(UserError, match="rehearsal set t-pairs holds an item of the track's eval sets"):
        Cell(reh, "uniform-v1", 0, eval_items=items)
