"""Bounds and setup checks of the CLI: every count has a documented maximum and a one-line refusal before
any work starts; a run whose setup is wrong stops before any cell folder exists; output paths are checked
before rendering. docs/reliability.md ("Bounds", "Setup checks") lists them."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
from conftest import FIXTURES

from rls3_bench.cli import main

TRACK = FIXTURES / "test-track.yaml"


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("rls3-bench") and err.count("\n") == 1, err
    return err


def run_code(argv: list[str]) -> int:
    """``main``'s exit code, whether argparse (SystemExit) or a UserError refused the arguments."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["run", "--seeds", "1000000000"], "seed count 1000000000 must be in [1, 1000]"),
        (["run", "--seed-list", ",".join(map(str, range(1001)))], "1001 seeds, more than the 1000"),
        (["run", "--seed-list", "0,99999999999999999999"], "distinct integers in [0, 2**63 - 1]"),
        (["run", "--workers", "100000"], "worker count 100000 must be in [1, 256]"),
        (["run", "--threads", "100000"], "worker count 100000 must be in [1, 256]"),
        (["run", "--render-workers", "1000"], "must be in [1, 64]"),
        (["run", "--unity-port", "70000"], "port 70000 must be in [1024, 65535]"),
        (["run", "--unity-timeout", "nan"], "time-out nan must be in (0, 86400]"),
        (["preview", "-n", "1000000", "-o", "x.png"], "scene count 1000000 must be in [1, 256]"),
        (["preview", "--cols", "100000", "-o", "x.png"], "column count 100000 must be in [1, 64]"),
        (["export", "-n", "1000000", "-o", "x.parquet"], "sample count 1000000 must be in [1, 10000]"),
        (["render", "--seed", "1", "--size", "100000", "-o", "x.png"], "image size 100000 must be in [16, 2048]"),
        (["pretrain", "--track", "clip-tiny", "--scenes", "100000000"], "scene count 100000000 must be in [1, 50000]"),
        (["pretrain", "--track", "clip-tiny", "--epochs", "100000"], "epoch count 100000 must be in [1, 1000]"),
        (["pretrain", "--track", "clip-tiny", "--pair-steps", "-1"], "step count -1 must be in [0, 100000]"),
        (["pretrain", "--track", "clip-tiny", "--pair-pool", "10000000"], "pair count 10000000 must be in [1, 20000]"),
    ],
)
def test_every_count_has_a_maximum(argv, fragment, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run_code(argv) == 2
    assert fragment in one_line_error(capsys)
    assert list(tmp_path.iterdir()) == []


def test_track_budget_above_the_maximum_is_refused_before_any_cell(tmp_path, capsys):
    track = tmp_path / "huge.yaml"
    track.write_text(TRACK.read_text().replace("budgets: [16, 32]", "budgets: [16, 16000000000000000]"))
    results = tmp_path / "runs"
    assert run_code(["run", "--track", str(track), "--seed-list", "0", "--results", str(results), "--no-progress"]) == 2
    assert "budget 16000000000000000 is above the maximum of 1000000 samples per cell" in one_line_error(capsys)
    assert not results.exists()


def test_too_many_track_seeds_are_refused_before_the_seed_list_is_made(tmp_path, capsys):
    track = tmp_path / "many.yaml"
    track.write_text(TRACK.read_text().replace("min_seeds: 2", "min_seeds: 1000000000"))
    results = tmp_path / "runs"
    assert run_code(["run", "--track", str(track), "--results", str(results), "--no-progress"]) == 2
    assert "1000000000 seeds are more than the 1000 one run takes" in one_line_error(capsys)
    assert not results.exists()


def _bad_setup(tmp_path: Path, what: str) -> list[str]:
    if what == "eval hash":
        track = tmp_path / "pinned.yaml"
        track.write_text(TRACK.read_text().replace("eval_set_hash: 2e5e", "eval_set_hash: 0e5e"))
        return ["--track", str(track)]
    if what == "unity player":
        return ["--track", str(TRACK), "--backend", "unity", "--unity-player", str(tmp_path / "absent.x86_64")]
    if what == "unity log folder":
        (tmp_path / "a-file").write_text("")
        return ["--track", str(TRACK), "--backend", "unity", "--unity-log-dir", str(tmp_path / "a-file")]
    if what == "unity -nographics":
        return ["--track", str(TRACK), "--backend", "unity", "--unity-arg=-nographics"]
    if what == "weights":
        return ["--track", str(TRACK), "--weights", str(tmp_path / "absent.safetensors")]
    raise AssertionError(what)


@pytest.mark.parametrize(
    "what, fragment",
    [
        ("eval hash", "pins eval set spatial-v1-mini to hash 0e5e20fe8ec7"),
        ("unity player", "absent.x86_64 does not exist"),
        ("unity log folder", "is a file; pass a folder (--unity-log-dir)"),
        ("unity -nographics", "-nographics disables the player's camera sensors"),
        ("weights", "absent.safetensors"),
    ],
)
def test_setup_errors_stop_the_run_before_any_cell_folder(what, fragment, tmp_path, capsys):
    results = tmp_path / "runs"
    argv = [
        "run",
        *_bad_setup(tmp_path, what),
        "--seed-list",
        "0,1,2,3",
        "--workers",
        "256",
        "--results",
        str(results),
        "--no-progress",
    ]
    assert run_code(argv) == 2
    assert fragment in one_line_error(capsys)
    assert not results.exists()  # no cell folder, no lock file, no track marker


@pytest.mark.parametrize(
    "argv",
    [
        ["render", "--seed", "1", "-o", "{tmp}"],
        ["render", "--seed", "1", "-o", "{tmp}/s.png", "--spec-out", "{tmp}"],
        ["preview", "-n", "2", "-o", "{tmp}"],
        ["export", "-n", "2", "-o", "{tmp}"],
    ],
)
def test_an_output_folder_is_refused_before_rendering(argv, tmp_path, capsys, monkeypatch):
    import rls3_bench.cli as cli

    def no_backend(args):
        raise AssertionError("the backend was opened before the output path was checked")

    monkeypatch.setattr(cli, "_open_backend", no_backend)
    assert run_code([a.format(tmp=tmp_path) for a in argv]) == 2
    err = one_line_error(capsys)
    assert f"{tmp_path} is a folder; give a file path" in err and ".tmp" not in err and "resume" not in err
    assert list(tmp_path.iterdir()) == []


def test_an_output_path_through_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "f").write_text("")
    assert run_code(["render", "--seed", "1", "-o", str(tmp_path / "f" / "x.png")]) == 2
    assert "is a file, not a folder" in one_line_error(capsys)


def test_a_failed_write_names_the_target_file_not_its_temp_file(tmp_path, capsys, monkeypatch):
    import rls3_bench.data.atomic as atomic

    target = tmp_path / "scene.png"

    def read_only(path, data):
        raise OSError(errno.EROFS, "Read-only file system", str(tmp_path / ".scene.png.ke50oosv.tmp"))

    monkeypatch.setattr(atomic, "atomic_write_bytes", read_only)
    assert run_code(["render", "--seed", "1", "-o", str(target), "--renderer", "tiny"]) == 2
    err = one_line_error(capsys)
    assert f"Read-only file system ({target})" in err
    assert ".tmp" not in err and "resume" not in err and "checkpoint" not in err


@pytest.mark.parametrize(
    "track, fragment",
    [
        (
            "clip-vit-b-32",
            "track clip-vit-b-32 runs on user-supplied weights ('openai'), so it has no base weights to pretrain",
        ),
        ("paligemma-3b", "track paligemma-3b runs on user-supplied weights"),
    ],
)
def test_pretrain_refuses_a_track_without_base_weights(track, fragment, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run_code(["pretrain", "--track", track]) == 2
    err = one_line_error(capsys)
    assert fragment in err and "clip-tiny, paligemma-tiny" in err
    assert list(tmp_path.iterdir()) == []


def test_pretrain_refuses_fewer_scenes_than_a_batch(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run_code(["pretrain", "--track", "clip-tiny", "--scenes", "3"]) == 2
    assert "3 scenes are fewer than one batch of 32, so no training step would run" in one_line_error(capsys)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("flag", ["--object-negatives", "--object-positions", "--pair-image-lr-scale"])
@pytest.mark.parametrize("value", ["-1", "inf", "nan"])
def test_pretrain_term_weights_must_be_finite_and_non_negative(flag, value, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run_code(["pretrain", "--track", "clip-tiny", flag, value]) == 2
    assert f"{flag} must be a finite weight >= 0, got {float(value)}" in one_line_error(capsys)
    assert list(tmp_path.iterdir()) == []


def test_pretrain_writes_into_the_working_folder_by_default(tmp_path, monkeypatch):
    import rls3_bench
    import rls3_bench.learners.pretrain as pt

    seen = {}

    def record_out_dir(track, cfg, out_dir):
        seen["out_dir"] = Path(out_dir).resolve()
        return {}

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(pt, "pretrain", record_out_dir)
    assert main(["pretrain", "--track", "clip-tiny"]) == 0
    assert seen["out_dir"] == tmp_path / "base-weights"
    assert Path(rls3_bench.__file__).parent not in seen["out_dir"].parents


def test_on_ray_the_player_path_is_left_to_the_cells_machines(tmp_path):
    """A Ray cluster's cells may hold the Unity player where the driver does not; the value checks still run."""
    from rls3_bench.errors import UserError
    from rls3_bench.harness.sweep import check_setup
    from rls3_bench.harness.tracks import load_track

    track = load_track(str(TRACK)).replace(backend="unity")
    absent = {"backend_options": {"player": str(tmp_path / "absent.x86_64")}}
    with pytest.raises(UserError, match="absent.x86_64 does not exist"):
        check_setup(track, ["uniform-v1"], [0], "local", 1, None, dict(absent))
    assert check_setup(track, ["uniform-v1"], [0], "ray", 1, None, dict(absent)) == {"uniform-v1": "uniform-v1"}
    with pytest.raises(UserError, match="-nographics"):
        check_setup(
            track,
            ["uniform-v1"],
            [0],
            "ray",
            1,
            None,
            {"backend_options": {**absent["backend_options"], "player_args": ("-nographics",)}},
        )


def test_a_setup_error_is_the_only_line_on_stderr(tmp_path):
    """In a fresh process (what a user sees): no C library banner (pybullet's) before the error line."""
    import subprocess
    import sys

    results = tmp_path / "runs"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "rls3_bench.cli",
            "run",
            "--track",
            str(TRACK),
            "--weights",
            str(tmp_path / "absent.safetensors"),
            "--results",
            str(results),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2
    assert (
        out.stderr.count("\n") == 1
        and out.stderr.startswith("rls3-bench: error:")
        and "absent.safetensors" in out.stderr
    )
    assert not results.exists()
