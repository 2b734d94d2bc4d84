"""Reading tools: the paired comparison and stage-share tables of `rls3-bench report`."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_records

from rls3_bench.analysis.report import STAGES, compare_table, stage_shares
from rls3_bench.analysis.stats import min_detectable_effect
from rls3_bench.errors import UserError
from rls3_bench.harness.records import write_record


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    for rec in make_records():
        folder = root / rec["track"] / rec["generator_name"] / f"seed-{rec['seed']}"
        folder.mkdir(parents=True)
        # the fields a stored record needs beyond what figures read
        write_record(
            folder, {**rec, "track_digest": "0" * 64, "eval_set": "spatial-v1-mini", "eval_set_hash": "0" * 64}, {}
        )
    return root


def test_compare_table_matches_a_hand_computed_paired_difference(results):
    recs = {(r["generator_name"], r["seed"]): r for r in make_records()}
    table = compare_table(results, "rls3-sac-v1")
    assert set(table.vs) == {"uniform-v1", "weakness-v1"}
    assert sorted(set(table.budget)) == [256, 512, 1024, 2048]
    row = table[(table.vs == "uniform-v1") & (table.budget == 1024)].iloc[0]

    def acc(g, s):
        return next(p["accuracy"] for p in recs[(g, s)]["curve"] if p["budget"] == 1024)

    diffs = [acc("rls3-sac-v1", s) - acc("uniform-v1", s) for s in range(3)]
    assert row.delta == pytest.approx(np.mean(diffs), abs=1e-4)
    assert row.wins == sum(d > 0 for d in diffs)
    assert row.min_p == pytest.approx(2 / 2**3, abs=1e-4)  # exact sign-flip test over 3 seeds
    # what the design can detect: a paired t on these three differences, 80 % power, alpha 0.05
    assert row.MDE == pytest.approx(min_detectable_effect(np.std(diffs, ddof=1), 3, paired=True), abs=1e-4)
    # Holm over the whole table: never below the raw p, and the table's smallest p is multiplied by its size
    assert (table.p_holm >= table.p_perm - 1e-4).all()
    smallest = table.p_perm.idxmin()
    assert table.p_holm[smallest] == pytest.approx(min(1.0, table.p_perm[smallest] * len(table)), abs=2e-4)

    # generation seconds per sample, rls3 over uniform, from the records' cost blocks
    def gen_cost(g):
        return np.mean(
            [
                sum(recs[(g, s)]["cost"]["seconds"][k] for k in ("render", "label_caption", "feedback", "agent"))
                / recs[(g, s)]["cost"]["samples_delivered"]
                for s in range(3)
            ]
        )

    assert row["gen cost x"] == pytest.approx(round(gen_cost("rls3-sac-v1") / gen_cost("uniform-v1"), 1))


def test_compare_table_unknown_generator_is_a_clear_error(results):
    with pytest.raises(UserError, match="no complete runs of nope"):
        compare_table(results, "nope")


def test_compare_table_compares_the_group_score_where_records_have_one(results, tmp_path):
    """--metric group_score pairs the curves' group scores; records of a set without minimal pairs
    have none, which is a clear error rather than an empty table."""
    with pytest.raises(UserError, match="have no group_score .*--metric accuracy"):
        compare_table(results, "rls3-sac-v1", metric="group_score")
    with pytest.raises(UserError, match="unknown metric 'loss'"):
        compare_table(results, "rls3-sac-v1", metric="loss")
    recs = make_records()
    for rec in recs:  # a group score that differs from accuracy, so the table must read the right column
        for p in rec["curve"]:
            p["group_score"] = round(p["accuracy"] / 2 + 0.01 * rec["seed"], 6)
        folder = tmp_path / rec["track"] / rec["generator_name"] / f"seed-{rec['seed']}"
        folder.mkdir(parents=True)
        write_record(
            folder, {**rec, "track_digest": "0" * 64, "eval_set": "spatial-v2-mini", "eval_set_hash": "0" * 64}, {}
        )
    table = compare_table(tmp_path, "rls3-sac-v1", metric="group_score")
    row = table[(table.vs == "uniform-v1") & (table.budget == 1024)].iloc[0]
    by = {(r["generator_name"], r["seed"]): r for r in recs}

    def group(g, s):
        return next(p["group_score"] for p in by[(g, s)]["curve"] if p["budget"] == 1024)

    assert row.delta == pytest.approx(
        np.mean([group("rls3-sac-v1", s) - group("uniform-v1", s) for s in range(3)]), abs=1e-4
    )


def test_stage_shares_sum_to_100_and_match_the_records(results):
    table = stage_shares(results)
    shares = table[[f"{s} %" for s in STAGES]]
    assert np.allclose(shares.sum(axis=1), 100.0, atol=0.5)
    uniform = [r for r in make_records() if r["generator_name"] == "uniform-v1"]
    assert table.loc["uniform-v1", "train s"] == pytest.approx(
        np.mean([r["cost"]["seconds"]["train"] for r in uniform]), abs=0.05
    )
    assert table.loc["rls3-sac-v1", "feedback %"] > table.loc["uniform-v1", "feedback %"]
