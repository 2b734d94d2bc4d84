"""Reference rows on the leaderboard: control generators and the object-prior blind scorer are shown
beside the ranked generators, compared with the baseline, and kept out of the ranking and the Holm
family; the control flag travels from a record through a submission to the board."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import REPO

from rls3_bench.analysis.leaderboard import build_leaderboard, to_markdown, write_leaderboard
from rls3_bench.labels.sample import TERMS

BUDGETS = (0, 16, 32)
SEEDS = range(6)  # 6 matched seeds: paired tests, smallest p 2/64


def record(generator: str, seed: int, level: float, control: bool = False) -> dict:
    """A complete record whose accuracy is ``level`` (+ a small seed-dependent spread) at every trained budget."""
    jitter = np.random.default_rng([seed, len(generator)]).normal(0, 0.005)
    curve = [
        {
            "budget": b,
            "accuracy": 0.5 if b == 0 else level + jitter,
            "per_term": {t: 0.5 if b == 0 else level + jitter for t in TERMS},
            "per_complexity": {},
        }
        for b in BUDGETS
    ]
    cost = {
        "scenes_rendered": 40,
        "invalid_scenes": 8,
        "feedback_queries": 0,
        "samples_delivered": 32,
        "rl_env_steps": 0,
        "rl_updates": 0,
        "seconds": {"render": 1.0, "label_caption": 0.1, "feedback": 0.0, "agent": 0.0, "train": 2.0},
    }
    return {
        "track": "t",
        "generator_name": generator,
        "seed": seed,
        "status": "complete",
        "curve": curve,
        "cost": cost,
        "wall_seconds": 3.0,
        **({"control": True} if control else {}),
    }


def ranked() -> list[dict]:
    return [record(g, s, level) for g, level in (("uniform-v1", 0.6), ("balanced-v1", 0.62)) for s in SEEDS]


PRIOR = {
    "name": "object-prior",
    "label": "object prior",
    "accuracy": 0.5,
    "n_items": 72,
    "n_captions": 1000,
    "slices": {},
}
ROOM = {**PRIOR, "name": "room-prior", "label": "room prior", "accuracy": 0.57}


def test_controls_are_reference_rows_never_ranked_nor_in_the_holm_family():
    controls = [record("control-flipped-v1", s, 0.45, control=True) for s in SEEDS]
    controls += [record("control-evalmatched-v1", s, 0.7, control=True) for s in SEEDS]
    plain, board = build_leaderboard(ranked()), build_leaderboard(ranked() + controls, priors=[PRIOR, ROOM])
    for lb in (plain, board):
        assert set(lb.summary_numbers.generator) == {"uniform-v1", "balanced-v1"}
        assert all(set(t.generator) == {"uniform-v1", "balanced-v1"} for t in lb.per_budget_numbers.values())
    pd.testing.assert_frame_equal(plain.comparisons, board.comparisons)  # the same Holm family, the same p-values
    assert plain.reference_numbers.empty
    ref = board.reference_numbers.set_index(["generator", "budget"])
    assert set(ref.index) == {(g, b) for g in ("control-flipped-v1", "control-evalmatched-v1") for b in (16, 32)} | {
        ("object-prior", 0),
        ("room-prior", 0),
    }
    flipped = ref.loc[("control-flipped-v1", 32)]
    assert flipped.delta == pytest.approx(-0.15, abs=0.01) and flipped.p_perm == pytest.approx(2 / 64)
    assert flipped.check.startswith("passes")
    assert ref.loc[("control-evalmatched-v1", 32)].delta > 0 and ref.loc[("control-evalmatched-v1", 32)].check == ""
    prior = ref.loc[("object-prior", 0)]
    assert prior.accuracy == 0.5 and "1000 uniform-v1 captions" in prior.kind and not np.isfinite(prior.p_perm)
    room = ref.loc[("room-prior", 0)]
    assert room.accuracy == 0.57 and room.kind == "blind: room prior fitted on 1000 uniform-v1 captions"


def test_a_flipped_control_level_with_the_baseline_fails_the_check():
    lb = build_leaderboard(ranked() + [record("control-flipped-v1", s, 0.6, control=True) for s in SEEDS])
    assert set(lb.reference_numbers.check) == {"FAILS: not significantly below uniform-v1"}


def test_reference_table_is_written_and_shown_apart(tmp_path):
    lb = build_leaderboard(
        ranked() + [record("control-flipped-v1", s, 0.45, control=True) for s in SEEDS], priors=[PRIOR]
    )
    md = to_markdown(lb)
    reference = md.split("## Reference rows (not ranked)")[1].split("## Budget")[0]
    summary = md.split("## Summary")[1].split("## Reference rows")[0]
    assert "control-flipped-v1" in reference and "object-prior" in reference and "passes: below uniform-v1" in reference
    assert "control-flipped-v1" not in summary and "object-prior" not in summary
    paths = write_leaderboard(lb, tmp_path)
    assert pd.read_csv(paths["reference_csv"]).generator.tolist() == ["control-flipped-v1"] * 2 + ["object-prior"]
    assert "reference rows (not ranked)" in paths["html"].read_text()
    # a board without references writes no reference file and says nothing about them
    plain = write_leaderboard(build_leaderboard(ranked()), tmp_path / "plain")
    assert "reference_csv" not in plain and "Reference rows" not in plain["markdown"].read_text()


def _submission(tmp_path: Path, generator: str, control: bool) -> Path:
    folder = tmp_path / generator
    shutil.copytree(REPO / "leaderboards" / "submissions" / "clip-tiny-v2" / "uniform-v1", folder)
    meta = json.loads((folder / "submission.json").read_text())
    meta.update(generator=generator, generator_version=int(generator.rsplit("-v", 1)[1]), control=control)
    (folder / "submission.json").write_text(json.dumps(meta))
    return folder


def test_the_control_flag_travels_through_a_submission_and_only_for_registered_controls(tmp_path):
    from rls3_bench.analysis.submissions import SubmissionError, validate

    sub = validate(_submission(tmp_path, "control-flipped-v1", True))
    assert sub.meta["control"] is True and all(r["control"] for r in sub.records)
    assert not any(
        r["control"] for r in validate(REPO / "leaderboards" / "submissions" / "clip-tiny-v2" / "uniform-v1").records
    )
    with pytest.raises(SubmissionError, match="not a registered control generator"):
        validate(_submission(tmp_path, "my-generator-v1", True))


class _Stop(Exception):
    pass


@pytest.mark.parametrize(
    "flags, controls",
    [([], set()), (["--controls"], {"control-flipped-v1", "control-evalmatched-v1", "control-blind-v1"})],
)
def test_run_adds_the_controls_only_when_asked(monkeypatch, tmp_path, flags, controls):
    import rls3_bench.harness.sweep as sweep
    from rls3_bench.cli import BUILTIN_GENERATORS, main

    seen = []

    def stop(track, generators, *args, **kwargs):
        seen.extend(generators)
        raise _Stop

    monkeypatch.setattr(sweep, "check_setup", stop)  # the generator list is settled before the setup checks
    with pytest.raises(_Stop):
        main(["run", "--track", "clip-tiny", "--preset", "smoke", "--results", str(tmp_path), *flags])
    assert set(seen) == set(BUILTIN_GENERATORS) | controls and len(seen) == len(set(seen))


def test_controls_follow_the_eval_set_version():
    """Each eval-matched control reproduces one eval-set version; --controls adds the track's own."""
    from rls3_bench.cli import control_generators

    v1, v2 = control_generators("spatial-v1-test"), control_generators("spatial-v2-test")
    assert "control-evalmatched-v1" in v1 and "control-evalmatched-v2" not in v1
    assert "control-evalmatched-v2" in v2 and "control-evalmatched-v1" not in v2
    assert {"control-flipped-v1", "control-blind-v1"} <= set(v1) & set(v2)
    assert set(control_generators()) == set(v1) | set(v2)
