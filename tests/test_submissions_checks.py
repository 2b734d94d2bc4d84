"""What validation and the leaderboard check beyond file safety: the track's digest, one entry per
generator and track, copied seeds, every reported field, one line for a bad score; boards of mixed
ladders; numbers first, formatting last. Synthetic bundles and records (random scores, no training)."""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import make_bundle

from rls3_bench.analysis.leaderboard import build_leaderboard, cost_row, write_leaderboard
from rls3_bench.analysis.submissions import META_FILE, PRED_FILE, SubmissionError, validate
from rls3_bench.data.parquet import read_table
from rls3_bench.labels.sample import TERMS


@pytest.fixture(scope="module")
def good(tmp_path_factory, track, items):
    return make_bundle(tmp_path_factory.mktemp("good") / "bundle", track, items, seeds=(0, 1, 2))


@pytest.fixture
def bundle(good, tmp_path):
    out = tmp_path / "bundle"
    shutil.copytree(good, out)
    return out


def edit_meta(bundle: Path, fn) -> None:
    meta = json.loads((bundle / META_FILE).read_text())
    fn(meta)
    (bundle / META_FILE).write_text(json.dumps(meta))


def problems_of(bundle, track, items) -> list[str]:
    with pytest.raises(SubmissionError) as err:
        validate(bundle, items, track)
    assert all("\n" not in p for p in err.value.problems)
    return err.value.problems


def test_the_synthetic_bundle_is_valid(bundle, track, items):
    assert validate(bundle, items, track).meta["seeds"] == [0, 1, 2]


def test_track_digest_is_checked(bundle, track, items):
    edit_meta(bundle, lambda m: m.update(track_digest="0" * 64))
    assert any(
        "track_digest 000000000000 is not the digest of track test-track-v1" in p
        for p in problems_of(bundle, track, items)
    )


def test_a_presets_digest_is_accepted_with_its_ladder_only(bundle, track, items):
    """A smoke-preset run carries the preset's digest and ladder; the full ladder under it is refused."""
    from rls3_bench.harness.tracks import Preset

    with_preset = track.replace(presets={"smoke": Preset(budgets=(16,), seeds=2)})
    smoke = with_preset.with_preset("smoke")
    edit_meta(bundle, lambda m: m.update(track_digest=smoke.digest()))
    assert any("are not 0 and the ladder [16]" in p for p in problems_of(bundle, with_preset, items))


def _copy_seed(bundle, src: int, dst: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = read_table(bundle / PRED_FILE)
    keep = pa.compute.not_equal(table.column("seed"), dst)
    copied = table.filter(pa.compute.equal(table.column("seed"), src))
    copied = copied.set_column(copied.schema.get_field_index("seed"), "seed", pa.array([dst] * len(copied), pa.int64()))
    pq.write_table(pa.concat_tables([table.filter(keep), copied]), bundle / PRED_FILE)

    def same_reports(m):
        cells = {c["seed"]: c for c in m["cells"]}
        cells[dst]["reported"] = cells[src]["reported"]

    edit_meta(bundle, same_reports)


def test_a_copied_seed_is_refused(bundle, track, items):
    _copy_seed(bundle, 0, 2)
    problems = problems_of(bundle, track, items)
    assert problems == [
        "seed 2's predictions are identical to seed 0's at every budget; a copied seed is not an independent run: "
        "submit distinct runs"
    ]


def test_an_edited_per_term_figure_is_refused(bundle, track, items):
    edit_meta(bundle, lambda m: m["cells"][1]["reported"]["32"]["per_term"].update(behind=0.99))
    assert any(
        "seed 1 budget 32: reported accuracy on 'behind' 0.99 but the predictions give" in p
        for p in problems_of(bundle, track, items)
    )


def test_a_missing_term_is_refused(bundle, track, items):
    edit_meta(bundle, lambda m: m["cells"][1]["reported"]["32"]["per_term"].pop("behind"))
    assert any("must name exactly the terms" in p for p in problems_of(bundle, track, items))


@pytest.mark.parametrize(
    "version, fragment",
    [
        (2, "generator_version 2 is not the -vN of the name fuzz-gen-v1"),
        ("1", "generator_version"),
        (None, "generator_version"),
    ],
)
def test_a_malformed_generator_version_is_refused(bundle, track, items, version, fragment):
    edit_meta(bundle, lambda m: m.update(generator_version=version))
    assert any(fragment in p for p in problems_of(bundle, track, items))


@pytest.mark.parametrize(
    "field, value, fragment",
    [
        ("scenes_rendered", 10, "cost is inconsistent: 10 scenes rendered"),
        ("invalid_scenes", 41, "cost is inconsistent"),
        ("rl_updates", 5, "5 RL updates from 0 environment steps"),
        ("render_cache_hits", -1, "render_cache_hits must be a non-negative integer"),
    ],
)
def test_a_cost_forged_low_is_refused(bundle, track, items, field, value, fragment):
    edit_meta(bundle, lambda m: m["cells"][0]["cost"].update({field: value}))
    assert any(fragment in p for p in problems_of(bundle, track, items))


@pytest.mark.parametrize(
    "reference", ["/home/me/gen.py", "https://github.com/me/gen", "gen>=1.0", "https://x.org/g@main"]
)
def test_an_unpinned_code_reference_is_refused(bundle, track, items, reference):
    edit_meta(bundle, lambda m: m.update(code_reference=reference))
    assert any("code_reference" in p and "pinned" in p for p in problems_of(bundle, track, items))


def test_an_unknown_field_is_refused(bundle, track, items):
    edit_meta(bundle, lambda m: m["cells"][0].update(note="trust me"))
    assert any("cells.0.note" in p and "Extra inputs are not permitted" in p for p in problems_of(bundle, track, items))


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_non_finite_score_is_one_line(bundle, track, items, bad):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = read_table(bundle / PRED_FILE)
    scores = table.column("score_true").to_pylist()
    scores[5] = bad
    pq.write_table(
        table.set_column(table.schema.get_field_index("score_true"), "score_true", pa.array(scores, pa.float64())),
        bundle / PRED_FILE,
    )
    problems = problems_of(bundle, track, items)
    assert len(problems) == 1 and "1 prediction rows have a missing, NaN or infinite score" in problems[0]


# --- leaderboard: one entry per generator and track -----------------------------------------------
def test_a_copy_claiming_another_generator_is_left_out(good, tmp_path, track, items, monkeypatch, capsys):
    """A copy of a bundle at <track>/evil-v1/ saying it is uniform-v1 neither adds rows to uniform-v1
    nor replaces it; the leaderboard says where it was and where it belongs."""
    import rls3_bench.analysis.submissions as subs
    from rls3_bench.cli import main

    root = tmp_path / "subs" / track.key
    for name in ("uniform-v1", "evil-v1"):
        shutil.copytree(good, root / name)
        edit_meta(root / name, lambda m: m.update(generator="uniform-v1"))
    shutil.copytree(good, root / "fuzz-gen-v1")
    real_validate = subs.validate
    monkeypatch.setattr(subs, "validate", lambda folder: real_validate(folder, items, track))
    assert main(["leaderboard", "--submissions", str(tmp_path / "subs"), "--out", str(tmp_path / "lb")]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        len(err) == 1 and "skipped misplaced" in err[0] and "evil-v1" in err[0] and f"{track.key}/uniform-v1" in err[0]
    )
    per_seed = pd.read_csv(tmp_path / "lb" / track.key / "per_seed.csv")
    assert (per_seed[per_seed.generator == "uniform-v1"].groupby("budget").size() == 3).all()


# --- leaderboard tables -------------------------------------------------------------------------
def make_records(ladders: dict[str, list[int]], seeds: dict[str, int] | None = None, rl_steps: int = 0) -> list[dict]:
    """Records of a synthetic track: per generator its ladder and seed count."""
    rng = np.random.default_rng(1)
    out = []
    for g, ladder in ladders.items():
        for s in range(5 if seeds is None else seeds[g]):
            curve = [
                {
                    "budget": b,
                    "accuracy": float(0.55 + 0.01 * np.log2(b + 1) / 11 + rng.normal(0, 0.01)),
                    "per_term": {t: float(0.5 + rng.uniform(0, 0.2)) for t in TERMS},
                }
                for b in [0, *ladder]
            ]
            cost = {
                "samples_delivered": ladder[-1],
                "scenes_rendered": 2 * ladder[-1],
                "invalid_scenes": ladder[-1],
                "feedback_queries": 0,
                "rl_env_steps": rl_steps,
                "rl_updates": 0,
                "seconds": {
                    "render": 1.0,
                    "label_caption": 0.1,
                    "feedback": 0.0,
                    "agent": 0.0,
                    "train": 2.0,
                    "eval": 0.5,
                },
            }
            out.append(
                {
                    "track": "t-v1",
                    "generator_name": g,
                    "seed": s,
                    "status": "complete",
                    "curve": curve,
                    "cost": cost,
                    "wall_seconds": 3.0,
                }
            )
    return out


FULL = [128, 256, 512, 1024, 2048]
SMOKE = [128, 256]


def test_a_board_holds_submissions_of_different_ladders(tmp_path):
    lb = build_leaderboard(make_records({"uniform-v1": FULL, "balanced-v1": FULL, "smoke-gen-v1": SMOKE}))
    assert lb.budgets == tuple(FULL) and lb.shared_budgets == tuple(SMOKE)
    assert "smoke-gen-v1" in set(lb.per_budget[256].generator) and "smoke-gen-v1" not in set(
        lb.per_budget[2048].generator
    )
    smoke = lb.comparisons[lb.comparisons.generator == "smoke-gen-v1"]
    assert set(smoke.budget) == set(SMOKE)
    row = lb.summary.set_index("generator").loc["smoke-gen-v1"]
    assert row["budgets"] == "128, 256" and row["accuracy @ 2048"] == "" and row["AULC 128–256 [95% CI]"] != ""
    assert lb.summary.set_index("generator").loc["uniform-v1", "budgets"] == "128, 256, 512, 1024, 2048"
    write_leaderboard(lb, tmp_path / "lb")  # and it writes


def test_seed_counts_are_per_row_and_the_note_uses_the_fewest():
    lb = build_leaderboard(make_records({"uniform-v1": SMOKE, "few-v1": SMOKE}, seeds={"uniform-v1": 5, "few-v1": 2}))
    assert lb.summary.set_index("generator")["seeds"].to_dict() == {"few-v1": 2, "uniform-v1": 5}
    assert lb.per_budget[256].set_index("generator")["seeds"].to_dict() == {"few-v1": 2, "uniform-v1": 5}
    assert "with 2 vs 5 seeds the smallest attainable p is 0.0952" in lb.note


def test_rl_steps_are_per_delivered_sample():
    records = make_records({"uniform-v1": FULL}, rl_steps=1024)
    assert cost_row(records)["RL steps/sample"] == 0.5
    lb = build_leaderboard(records)
    assert lb.summary["RL steps/sample"].tolist() == [0.5]


def test_the_board_says_what_it_can_detect(tmp_path):
    """5 seeds a side: the smallest Holm-adjusted p is over 0.05, so no mark is possible, and the line says so
    with the minimum detectable effect; 12 seeds paired: a mark is possible."""
    lb = build_leaderboard(make_records({"uniform-v1": SMOKE, "smoke-gen-v1": SMOKE}))
    assert re.search(
        r"smallest attainable p is 0\.00794 \(unpaired exact permutation test\), "
        r"0\.111 after Holm over 14 comparisons, "
        r"so no ▲/▼ is possible on this board whatever the data; add seeds; the minimum detectable difference "
        r"\(80 % power, α = 0\.05, 5 seeds a side, the seeds' spread at budget 256\) is 0\.0\d\d accuracy\.",
        lb.note,
    ), lb.note
    text = write_leaderboard(lb, tmp_path / "lb")["markdown"].read_text()
    assert lb.note in text.splitlines()
    many = build_leaderboard(
        make_records({"uniform-v1": SMOKE, "smoke-gen-v1": SMOKE}, seeds={"uniform-v1": 12, "smoke-gen-v1": 12})
    )
    assert "(paired exact permutation test)" in many.note and "so a mark is possible" in many.note


def test_csvs_hold_numbers_and_the_page_sorts_by_them(tmp_path):
    lb = build_leaderboard(make_records({"uniform-v1": FULL, "balanced-v1": FULL, "smoke-gen-v1": SMOKE}))
    paths = write_leaderboard(lb, tmp_path / "lb")
    summary = pd.read_csv(paths["summary_csv"])
    for col in ("base", "top_accuracy", "top_low", "top_high", "aulc", "aulc_low", "aulc_high", "RL steps/sample"):
        assert summary[col].dtype == float, col
    budgets = pd.read_csv(paths["budgets_csv"])
    assert budgets["accuracy"].dtype == float and budgets["delta"].dtype == float
    assert not any("[" in str(v) for v in budgets.to_numpy().ravel())
    page = paths["html"].read_text()
    mean = lb.per_budget_numbers[2048].set_index("generator").loc["uniform-v1", "accuracy"]
    shown = lb.per_budget[2048].set_index("generator").loc["uniform-v1", "accuracy [95% CI]"]
    assert f'data-sort="{float(mean)!r}">{shown}</td>' in page
    assert "NUM" not in page and "parseFloat" not in page  # no number read back out of display text


def test_html_sort_keys_come_from_numbers_only(tmp_path):
    from rls3_bench.analysis.html_page import render_leaderboard_html

    df = pd.DataFrame({"generator": ["a", "b"], "acc": ["0.612 [0.598, 0.627]", "10.5 *"], "seeds": [5, math.nan]})
    keys = pd.DataFrame({"acc": [0.612, math.nan]})
    page = render_leaderboard_html({"t": df}, {}, tmp_path / "index.html", title="t", sort_keys={"t": keys}).read_text()
    assert (
        '<td class="num" data-sort="0.612">0.612 [0.598, 0.627]</td>' not in page
    )  # "10.5 *" has no key: column is not numeric
    assert '<td data-sort="0.612">0.612 [0.598, 0.627]</td>' in page and "<td>10.5 *</td>" in page
    assert '<td class="num" data-sort="5.0">5</td>' in page and '<td class="num"></td>' in page
