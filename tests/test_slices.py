"""Slices of the eval set (negative kind, flipped axis, stacked, pair-distance tercile, complexity,
group score) computed from per-item predictions: the metric, the leaderboard's slice table and
``rls3-bench report --slices``."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from rls3_bench.analysis.blind import slice_attributes
from rls3_bench.analysis.leaderboard import build_leaderboard, to_markdown
from rls3_bench.analysis.metrics import item_rows, slice_accuracies, summarize
from rls3_bench.data.evalsets import EVAL_SETS, load_eval_set
from rls3_bench.harness.formats import Stage
from rls3_bench.labels.sample import TERMS


@pytest.fixture(scope="module")
def v2_mini():
    return load_eval_set("spatial-v2-mini")


def predictions(items, correct) -> list[dict]:
    """A prediction per item, right where ``correct(item)`` is true."""
    return [
        {
            "item_id": s.sample_id,
            "score_true": 1.0 if correct(s) else 0.0,
            "score_negative": 0.5,
            "predicted_terms": None,
        }
        for s in items
    ]


def test_slices_follow_the_predictions_and_group_score_counts_whole_twin_pairs(v2_mini):
    rows = item_rows(v2_mini, predictions(v2_mini, lambda s: s.negative_kinds[0] != "swap"))
    sl = slice_accuracies(v2_mini, rows)
    assert sl["negative_kind"] == {"flip": 1.0, "swap": 0.0} and sl["flipped_axis"]["all (swap)"] == 0.0
    assert {sl["flipped_axis"][a] for a in ("depth", "lateral", "vertical")} == {1.0}
    # twins share their negative kind, so every flip group is whole: group score = share of flip groups
    kinds = {s.group: s.negative_kinds[0] for s in v2_mini}
    assert sl["group"]["score"] == pytest.approx(np.mean([k != "swap" for k in kinds.values()]))
    # one twin of every group right, the other wrong: item accuracy 0.5, group score 0
    first = {}
    for s in v2_mini:
        first.setdefault(s.group, s.sample_id)
    half = slice_accuracies(v2_mini, item_rows(v2_mini, predictions(v2_mini, lambda s: first[s.group] == s.sample_id)))
    assert half["group"]["score"] == 0.0
    assert (
        summarize(item_rows(v2_mini, predictions(v2_mini, lambda s: first[s.group] == s.sample_id)))["accuracy"] == 0.5
    )


def test_stacked_and_distance_terciles_are_what_they_say(v2_mini):
    attributes = slice_attributes(v2_mini)
    for s, a in zip(v2_mini, attributes, strict=True):
        assert (a["stacked"] == "stacked") == set(s.terms).issubset({"above", "below"})
    order = {"near": 0, "middle": 1, "far": 2}
    by_tercile = defaultdict(list)
    for a in attributes:
        by_tercile[order[a["distance_tercile"]]].append(a["group_distance"])
    assert max(by_tercile[0]) <= min(by_tercile[1]) and max(by_tercile[1]) <= min(by_tercile[2])
    assert all(abs(len(v) - len(attributes) / 3) <= 2 for v in by_tercile.values())


def test_a_set_without_twins_has_no_group_score():
    v1 = load_eval_set("spatial-v1-mini")
    sl = slice_accuracies(v1, item_rows(v1, predictions(v1, lambda s: True)))
    assert "group" not in sl and sl["complexity"] == {"1": 1.0, "2": 1.0, "3": 1.0}


def board_record(generator: str, seed: int, flip: float, control: bool = False) -> dict:
    curve = [
        {"budget": b, "accuracy": 0.6, "per_term": dict.fromkeys(TERMS, 0.6), "per_complexity": {}} for b in (0, 32)
    ]
    cost = {
        "scenes_rendered": 40,
        "invalid_scenes": 8,
        "feedback_queries": 0,
        "samples_delivered": 32,
        "rl_env_steps": 0,
        "rl_updates": 0,
        "seconds": {stage.value: 1.0 for stage in Stage},
    }
    return {
        "track": "t",
        "generator_name": generator,
        "seed": seed,
        "status": "complete",
        "curve": curve,
        "cost": cost,
        "control": control,
        "slices": {"budget": 32, "accuracy": {"negative_kind": {"flip": flip + 0.01 * seed, "swap": 0.5}}},
    }


def test_leaderboard_slice_table_is_the_seed_mean_with_controls_and_the_blind_priors_last():
    records = [board_record(g, s, f) for g, f in (("uniform-v1", 0.7), ("balanced-v1", 0.8)) for s in range(3)]
    records += [board_record("control-flipped-v1", s, 0.4, control=True) for s in range(3)]
    prior = {
        "name": "object-prior",
        "label": "object prior",
        "accuracy": 0.5,
        "n_captions": 10,
        "slices": {"negative_kind": {"flip": {"accuracy": 0.55, "n": 9}}},
    }
    room = {**prior, "name": "room-prior", "slices": {"negative_kind": {"swap": {"accuracy": 0.5, "n": 9}}}}
    lb = build_leaderboard(records, priors=[prior, room])
    t = lb.slice_numbers
    assert list(t.columns) == ["balanced-v1", "uniform-v1", "control-flipped-v1", "object-prior", "room-prior"]
    assert np.isnan(t.loc[("negative_kind", "flip"), "room-prior"])
    assert t.loc[("negative_kind", "swap"), "room-prior"] == 0.5
    assert t.loc[("negative_kind", "flip"), "uniform-v1"] == pytest.approx(0.71)
    assert t.loc[("negative_kind", "flip"), "control-flipped-v1"] == pytest.approx(0.41)
    assert t.loc[("negative_kind", "flip"), "object-prior"] == 0.55 and np.isnan(
        t.loc[("negative_kind", "swap"), "object-prior"]
    )
    assert "## Slices at budget 32" in to_markdown(lb)
    assert "## Slices" not in to_markdown(
        build_leaderboard([{k: v for k, v in r.items() if k != "slices"} for r in records])
    )


def test_report_slices_reads_each_runs_predictions(tmp_path, capsys):
    from rls3_bench.cli import main
    from rls3_bench.harness.records import write_record

    items = load_eval_set("spatial-v1-mini")
    spec = EVAL_SETS["spatial-v1-mini"]
    for seed in range(2):
        rec = board_record("uniform-v1", seed, 0.0)
        del rec["slices"]
        rec.update(
            schema_version=1,
            generator="uniform-v1",
            track_digest="0" * 64,
            eval_set=spec.name,
            eval_set_hash=spec.content_hash,
        )
        # seed 0 answers only the 1-term items, seed 1 every item: the 1-term slice is 1.0, the others 0.5
        preds = {
            0: predictions(items, lambda s: False),
            32: predictions(items, lambda s, seed=seed: seed == 1 or s.complexity == 1),
        }
        write_record(tmp_path / "t" / "uniform-v1" / f"seed-{seed}", rec, preds)
    assert main(["report", "--results", str(tmp_path), "--slices", "--csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "slice,value,uniform-v1,track"
    assert "complexity,1,1.0,t" in lines and "complexity,2,0.5,t" in lines and "negative_kind,flip," in "\n".join(lines)
