"""The variance study (rls3_bench.analysis.variance): one source varied at a time, the learner seed
apart from the generator seed in a cell, and the table's arithmetic on hand-made cells."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rls3_bench.analysis.variance import (
    BOOTSTRAP,
    run_study,
    study_cells,
    table_markdown,
    twin_set,
    variance_table,
)
from rls3_bench.errors import UserError


def test_the_design_varies_one_source_at_a_time():
    cells = study_cells(3)
    assert cells == [(0, 0), (1, 0), (2, 0), (0, 1), (0, 2)]
    with pytest.raises(UserError, match="at least 2 seeds"):
        study_cells(1)


def test_learner_seed_changes_the_order_and_not_the_data(track, items, one_thread):
    from rls3_bench.backends.embedded import EmbeddedBackend
    from rls3_bench.harness.cell import run_cell

    with EmbeddedBackend(image_size=track.image_size, renderer=track.renderer) as backend:
        base = run_cell(track, "uniform-v1", 0, backend=backend, eval_items=items)
        other_learner = run_cell(track, "uniform-v1", 0, learner_seed=1, backend=backend, eval_items=items)
        other_data = run_cell(track, "uniform-v1", 1, learner_seed=0, backend=backend, eval_items=items)
    assert other_learner.gallery == base.gallery and other_learner.term_counts == base.term_counts
    assert other_learner.predictions != base.predictions  # random init and data order differ
    assert other_data.gallery != base.gallery


def _cell(out, g, lrn, acc: dict, correct: dict, ids):
    path = out / "cells" / f"g{g}-l{lrn}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "track": "t-v1",
                "track_digest": "d",
                "generator": "uniform-v1",
                "generator_seed": g,
                "learner_seed": lrn,
                "accuracy": {str(b): a for b, a in acc.items()},
                "item_ids": ids,
                "correct": {str(b): c for b, c in correct.items()},
            }
        )
    )


class _Item:
    def __init__(self, sample_id):
        self.sample_id = sample_id


def test_table_arithmetic_on_hand_made_cells(tmp_path):
    ids = [f"i{k}" for k in range(8)]
    items = [_Item(i) for i in ids]
    full = [1] * 8  # every item right: no eval-item variance at all
    half = [1, 0] * 4
    # generator seeds give 0.5, 0.7, 0.9 (var 0.04); learner seeds give 0.5, 0.6, 0.7 (var 0.01)
    for (g, lrn), a in {(0, 0): 0.5, (1, 0): 0.7, (2, 0): 0.9, (0, 1): 0.6, (0, 2): 0.7}.items():
        _cell(tmp_path, g, lrn, {0: 0.5, 64: a}, {0: half, 64: full}, ids)
    df = variance_table(tmp_path, items, twins=False, seeds_for=(5, 10)).set_index("budget")
    row = df.loc[64]
    assert row["var_generator"] == pytest.approx(0.04) and row["var_learner"] == pytest.approx(0.01)
    assert row["var_eval_items"] == 0.0 and row["share_generator"] == pytest.approx(0.8)
    assert row["mde_10_seeds"] < row["mde_5_seeds"]
    # at budget 0 the items vary (half right) and the seeds do not
    base = df.loc[0]
    assert base["var_generator"] == 0 and base["share_eval_items"] == 1.0
    assert base["var_eval_items"] == pytest.approx(0.25 / 8, rel=0.25)  # binomial p(1-p)/n, bootstrapped
    text = table_markdown(df.reset_index())
    assert "| 64 | 0.680 |" in text and f"bootstrap ({BOOTSTRAP} resamples" in text


def test_twins_are_resampled_together(tmp_path):
    """Twins that always disagree (one right, one wrong) give a group accuracy that never moves."""
    ids = [f"i{k}" for k in range(8)]
    items = [_Item(i) for i in ids]
    for g, lrn in study_cells(2):
        _cell(tmp_path, g, lrn, {64: 0.5}, {64: [1, 0] * 4}, ids)
    together = variance_table(tmp_path, items, twins=True).iloc[0]["var_eval_items"]
    apart = variance_table(tmp_path, items, twins=False).iloc[0]["var_eval_items"]
    assert together == 0.0 and apart > 0.0
    assert twin_set("spatial-v2-test") and not twin_set("spatial-v1-test") and not twin_set("uniform-id-v2")


def test_a_study_runs_its_cells_resumes_and_refuses_another_track(tmp_path, track, one_thread):
    small = track.replace(budgets=(16,))
    done = run_study(small, "uniform-v1", 2, tmp_path)
    assert sorted(p.name for p in done) == ["g0-l0.json", "g0-l1.json", "g1-l0.json"]
    first = json.loads((tmp_path / "cells" / "g0-l1.json").read_text())
    assert first["learner_seed"] == 1 and set(first["correct"]) == {"0", "16"}
    assert np.mean(first["correct"]["16"]) == first["accuracy"]["16"]
    assert run_study(small, "uniform-v1", 2, tmp_path) == []  # nothing left to run
    with pytest.raises(UserError, match="made with another track"):
        run_study(track, "uniform-v1", 2, tmp_path)
