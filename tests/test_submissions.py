"""Submissions: pack -> validate; every kind of bad bundle is rejected with one clear line; the
leaderboard is built from re-scored predictions only."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import FIXTURES, REPO

pytest.importorskip("open_clip")

from rls3_bench.analysis.leaderboard import build_leaderboard, write_leaderboard  # noqa: E402
from rls3_bench.analysis.submissions import META_FILE, PRED_FILE, SubmissionError, pack, validate  # noqa: E402
from rls3_bench.data.parquet import read_table  # noqa: E402


@pytest.fixture
def results(test_track_runs):
    """uniform-v1 and balanced-v1, seeds 0 and 1, on the test track (read only)."""
    return test_track_runs


@pytest.fixture
def bundle(results, track, items, tmp_path):
    return pack(results, track.key, "balanced-v1", tmp_path / "sub", ["A. Author"], "https://example.org/gen@abc123")


def _check(bundle, track, items, fragment):
    with pytest.raises(SubmissionError) as err:
        validate(bundle, items, track)
    assert any(fragment in p for p in err.value.problems), err.value.problems
    assert all("\n" not in p for p in err.value.problems)


def test_valid_bundle_and_rescored_records(bundle, track, items, results):
    sub = validate(bundle, items, track)
    assert sub.meta["generator"] == "balanced-v1" and sub.meta["seeds"] == [0, 1]
    from rls3_bench.harness.records import iter_records

    runs = {r["seed"]: r for _, r in iter_records(results) if r["generator_name"] == "balanced-v1"}
    for rec in sub.records:
        assert [p["accuracy"] for p in rec["curve"]] == [p["accuracy"] for p in runs[rec["seed"]]["curve"]]


def _edit_meta(bundle, fn):
    meta = json.loads((bundle / META_FILE).read_text())
    fn(meta)
    (bundle / META_FILE).write_text(json.dumps(meta))


def test_tampered_metric(bundle, track, items):
    _edit_meta(bundle, lambda m: m["cells"][0]["reported"]["32"].update(accuracy=0.99))
    _check(bundle, track, items, "reported accuracy 0.99")


def test_wrong_eval_set_hash(bundle, track, items):
    _edit_meta(bundle, lambda m: m.update(eval_set_hash="f" * 64))
    _check(bundle, track, items, "does not match track")


def test_budget_overrun(bundle, track, items):
    _edit_meta(bundle, lambda m: m["cells"][1]["cost"].update(samples_delivered=48))
    _check(bundle, track, items, "budget overrun")


def test_too_few_seeds(bundle, track, items):
    _edit_meta(bundle, lambda m: (m.update(seeds=[0]), m.update(cells=m["cells"][:1])))
    _check(bundle, track, items, "needs at least 2")


def test_duplicated_items(bundle, track, items):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = read_table(bundle / PRED_FILE)
    pq.write_table(pa.concat_tables([table, table.slice(0, 1)]), bundle / PRED_FILE)
    _check(bundle, track, items, "duplicated items")


def test_missing_items(bundle, track, items):
    import pyarrow.parquet as pq

    table = read_table(bundle / PRED_FILE)
    pq.write_table(table.slice(1), bundle / PRED_FILE)
    _check(bundle, track, items, "missing")


def test_malformed_json_and_parquet(bundle, track, items):
    good = (bundle / META_FILE).read_bytes()
    (bundle / META_FILE).write_text('{"schema_version": 1,')
    _check(bundle, track, items, "not valid UTF-8 JSON")
    (bundle / META_FILE).write_text("[" * 100 + "]" * 100)
    _check(bundle, track, items, "nests deeper")
    (bundle / META_FILE).write_bytes(good)
    data = bytearray((bundle / PRED_FILE).read_bytes())
    data[4:64] = b"\xff" * 60
    (bundle / PRED_FILE).write_bytes(bytes(data))
    _check(bundle, track, items, "not a readable Parquet")


def test_paths_escaping_and_extra_files(bundle, track, items, tmp_path):
    outside = tmp_path / "secret.txt"
    outside.write_text("x")
    os.symlink(outside, bundle / "link.txt")
    _check(bundle, track, items, "symlink")
    (bundle / "link.txt").unlink()
    (bundle / "run.py").write_text("import os; os.system('echo pwned')")
    _check(bundle, track, items, "unexpected file 'run.py'")
    (bundle / "run.py").unlink()
    real = bundle / PRED_FILE
    moved = tmp_path / "elsewhere.parquet"
    shutil.move(real, moved)
    os.symlink(moved, real)  # the predictions file itself pointing outside the bundle
    _check(bundle, track, items, "symlink")


def test_oversized_file(bundle, track, items, monkeypatch):
    import rls3_bench.analysis.submissions as subs

    monkeypatch.setattr(subs, "MAX_PARQUET_BYTES", 100)
    _check(bundle, track, items, "over the 100-byte limit")


def test_cli_validate_prints_one_line_per_problem(bundle, capsys):
    from rls3_bench.cli import main

    _edit_meta(bundle, lambda m: m.update(track="no-such-track-v1"))
    assert main(["validate", str(bundle)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown track 'no-such-track-v1'" in err[0]


def test_leaderboard_from_records(results, tmp_path):
    from rls3_bench.harness.records import iter_records

    lb = build_leaderboard([r for _, r in iter_records(results)])
    assert lb.budgets == (16, 32) and set(lb.summary.generator) == {"uniform-v1", "balanced-v1"}
    assert set(lb.comparisons.metric) == {"accuracy", "left", "right", "above", "below", "in front", "behind"}
    assert (lb.comparisons.p_holm >= lb.comparisons.p_perm - 1e-12).all()
    paths = write_leaderboard(lb, tmp_path / "lb")
    text = paths["markdown"].read_text()
    assert "uniform-v1" in text and "## Budget 32 samples" in text
    again = write_leaderboard(build_leaderboard([r for _, r in iter_records(results)]), tmp_path / "lb2")
    assert again["markdown"].read_text() == text  # tables are reproducible bit for bit
    # the summary's top-budget interval is the per-budget table's, not a second bootstrap
    top = lb.per_budget[32].set_index("generator")["accuracy [95% CI]"]
    assert lb.summary.set_index("generator")["accuracy @ 32"].to_dict() == top.to_dict()


@pytest.fixture(scope="module")
def rebuilt_boards(tmp_path_factory):
    """`rls3-bench leaderboard` once on all committed submissions and reproductions, as leaderboards/
    is generated (every track's board in one run), and what validation returned for each bundle in
    that run: the checks per track below read both, so no bundle is re-scored twice."""
    import rls3_bench.analysis.submissions as submissions
    from rls3_bench.cli import main

    root = tmp_path_factory.mktemp("rebuild")
    subs = root / "submissions"
    shutil.copytree(REPO / "leaderboards" / "submissions", subs)
    validated = {}

    def recording(folder, *args, **kwargs):
        validated[Path(folder)] = sub = validate(folder, *args, **kwargs)
        return sub

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(submissions, "validate", recording)
        code = main(
            [
                "leaderboard",
                "--submissions",
                str(subs),
                "--reproductions",
                str(REPO / "leaderboards" / "reproductions"),
                "--out",
                str(root / "out"),
            ]
        )
    assert code == 0
    return subs, root / "out", validated


@pytest.mark.parametrize(
    "track_key", sorted(p.name for p in (REPO / "leaderboards" / "submissions").iterdir() if p.is_dir())
)
def test_committed_leaderboard_is_the_rebuild_of_its_submissions(track_key, rebuilt_boards, tmp_path):
    """leaderboards/<track>/ is generated: `rls3-bench leaderboard` on the committed submissions and
    reproductions writes the same files; without the reproductions column the table is also the one
    of the run's own write-up in docs/results/<track>-ladder/ (which ran the real generators only, so
    the controls' submissions are left out there); each generator's top-budget interval is the same in
    the summary and its budget table."""
    from rls3_bench.analysis.submissions import discover

    subs, out, validated = rebuilt_boards
    for name in ("leaderboard.md", "summary.csv", "leaderboard.csv", "comparisons.csv", "per_seed.csv", "index.html"):
        assert (out / track_key / name).read_text() == (REPO / "leaderboards" / track_key / name).read_text(), name
    folders = discover(subs / track_key)
    assert folders and all(f in validated for f in folders)  # the command validated every bundle of the track
    records = [r for folder in folders for r in validated[folder].records if not r.get("control")]
    lb = build_leaderboard(records)
    rebuilt = write_leaderboard(lb, tmp_path / track_key)["markdown"].read_text()
    assert (REPO / "docs" / "results" / f"{track_key}-ladder" / "leaderboard.md").read_text().startswith(rebuilt)
    top = lb.budgets[-1]
    summary = lb.summary.set_index("generator")[f"accuracy @ {top}"]
    assert summary.to_dict() == lb.per_budget[top].set_index("generator")["accuracy [95% CI]"].to_dict()


def test_submit_leaves_nothing_when_its_own_validation_fails(results, tmp_path, monkeypatch, capsys):
    import rls3_bench.analysis.submissions as subs
    from rls3_bench.cli import main

    def refuse(folder, *args, **kwargs):
        raise SubmissionError(
            ["seed 0 budget 16: reported accuracy 0.99 but the predictions give 0.5 (tampered or stale metric)"]
        )

    monkeypatch.setattr(subs, "validate", refuse)
    out = tmp_path / "subs" / "balanced-v1"
    argv = [
        "submit",
        "--results",
        str(results),
        "--track",
        str(FIXTURES / "test-track.yaml"),
        "--generator",
        "balanced-v1",
        "--authors",
        "A. Author",
        "--code-reference",
        "https://example.org/gen@abc1234",
        "-o",
        str(out),
    ]
    assert main(argv) == 2
    assert "reported accuracy 0.99" in capsys.readouterr().err
    assert not (tmp_path / "subs").exists()  # neither the bundle, nor its staging folder, nor the folder made for it


def test_submit_refuses_an_unpinned_code_reference(results, tmp_path, capsys):
    from rls3_bench.cli import main

    out = tmp_path / "subs" / "balanced-v1"
    argv = [
        "submit",
        "--results",
        str(results),
        "--track",
        str(FIXTURES / "test-track.yaml"),
        "--generator",
        "balanced-v1",
        "--authors",
        "A. Author",
        "--code-reference",
        "/home/me/my_generator.py",
        "-o",
        str(out),
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--code-reference" in err[0] and "URL pinned to a commit" in err[0]
    assert not (tmp_path / "subs").exists()


def test_submit_writes_a_valid_bundle_and_replaces_with_force(results, tmp_path, track, items):
    from rls3_bench.cli import main

    out = tmp_path / "subs" / "balanced-v1"
    argv = [
        "submit",
        "--results",
        str(results),
        "--track",
        str(FIXTURES / "test-track.yaml"),
        "--generator",
        "balanced-v1",
        "--authors",
        "A. Author",
        "--code-reference",
        "my-gens==1.0.2",
        "-o",
        str(out),
    ]
    assert main(argv) == 0 and main(argv) == 2  # the second time: already there
    assert main(argv + ["--force"]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted([META_FILE, PRED_FILE])
    assert [p.name for p in (tmp_path / "subs").iterdir()] == ["balanced-v1"]
    validate(out, items, track)


def _swap_seeds(bundle):
    """A consistently forged bundle: seeds 0 and 1 exchange their predictions and their reported
    metrics, so every data-only check still passes."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = read_table(bundle / PRED_FILE)
    seeds = [1 - s for s in table.column("seed").to_pylist()]
    pq.write_table(
        table.set_column(table.schema.get_field_index("seed"), "seed", pa.array(seeds, pa.int64())), bundle / PRED_FILE
    )
    meta = json.loads((bundle / META_FILE).read_text())
    a, b = meta["cells"]
    a["reported"], b["reported"] = b["reported"], a["reported"]
    (bundle / META_FILE).write_text(json.dumps(meta))


def test_reproduce_matches_an_honest_bundle_and_catches_a_forged_one(bundle, track, items, tmp_path):
    """Re-running seed 0 to the first budget gives the bundle's predictions bit for bit (same machine,
    same threads); the leaderboard's label follows the record while the bundle is unchanged. A
    bundle forged consistently passes validation but not reproduction."""
    from rls3_bench.analysis.reproduce import reproduce, reproduced_labels

    outcome = reproduce(bundle, n_seeds=1, budget=16, track=track, eval_items=items, out_root=tmp_path / "repro")
    assert outcome["verdict"] == "identical" and outcome["seeds"][0]["budgets"] == [0, 16]
    assert outcome["seeds"][0]["max_abs_diff"] == 0.0 and not outcome["full_ladder"]
    meta = validate(bundle, items, track).meta
    assert reproduced_labels([(bundle, meta)], tmp_path / "repro") == {"balanced-v1": "identical: seed 0 to 16"}

    _swap_seeds(bundle)
    validate(bundle, items, track)  # data-only checks cannot tell
    assert reproduced_labels([(bundle, meta)], tmp_path / "repro") == {}  # the record was of another bundle
    forged = reproduce(bundle, seeds=[0], budget=16, track=track, eval_items=items)
    assert forged["verdict"] == "differs" and forged["seeds"][0]["max_abs_diff"] > 0


def test_reproduce_compares_cost_on_the_whole_ladder(bundle, track, items):
    meta = json.loads((bundle / META_FILE).read_text())
    meta["cells"][0]["cost"]["scenes_rendered"] += 1  # still consistent, but not what the seed does
    (bundle / META_FILE).write_text(json.dumps(meta))
    from rls3_bench.analysis.reproduce import reproduce

    outcome = reproduce(bundle, seeds=[0], track=track, eval_items=items)
    assert outcome["full_ladder"] and outcome["seeds"][0]["max_abs_diff"] == 0.0
    assert outcome["seeds"][0]["counter_mismatches"] == ["scenes_rendered"] and outcome["verdict"] == "differs"
