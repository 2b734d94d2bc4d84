"""The whole contribution path on the tiny test track, through the CLI: a generator of one's own in a
file, `run`, `submit`, `validate`, `reproduce`, and `leaderboard` beside a committed board."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
from conftest import FIXTURES, REPO

pytest.importorskip("open_clip")

TRACK_FILE = FIXTURES / "test-track.yaml"

GENERATOR_SOURCE = '''
from rls3_bench.generator import Generator
from rls3_bench.scene.random_scenes import random_spec


class FirstPairGenerator(Generator):
    """Random valid scenes, always the first captionable pair."""

    name = "first-pair-v1"

    def generate_round(self, ctx):
        while ctx.remaining:
            scene = ctx.render(random_spec(self.rng))
            if scene.valid:
                ctx.deliver([scene.samples[0]])
'''


def test_contribute_a_generator_end_to_end(tmp_path, monkeypatch, capsys, test_track_runs):
    import rls3_bench.harness.tracks as tracks
    from rls3_bench.cli import main

    (tmp_path / "my_first_pair.py").write_text(GENERATOR_SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    # the test track is known beside the built-in ones, as a track file a maintainer had added
    builtin = tracks.builtin_track_keys()
    monkeypatch.setattr(tracks, "builtin_track_keys", lambda: [*builtin, str(TRACK_FILE)])
    runs, subs = tmp_path / "runs", tmp_path / "submissions"
    mine = "my_first_pair:FirstPairGenerator"
    # uniform-v1's cells are complete there already (the run below skips them); only mine's are run
    shutil.copytree(test_track_runs, runs)

    assert (
        main(
            [
                "run",
                "--track",
                str(TRACK_FILE),
                "--generator",
                mine,
                "--generator",
                "uniform-v1",
                "--seeds",
                "2",
                "--results",
                str(runs),
                "--no-progress",
                "--no-leaderboard",
            ]
        )
        == 0
    )
    for generator in (mine, "uniform-v1"):
        assert (
            main(
                [
                    "submit",
                    "--results",
                    str(runs),
                    "--track",
                    str(TRACK_FILE),
                    "--generator",
                    generator,
                    "--authors",
                    "Ada Lovelace",
                    "--code-reference",
                    "https://github.com/ada/first-pair@0123abcd",
                    "-o",
                    str(
                        subs / "test-track-v1" / generator.split(":")[-1].replace("FirstPairGenerator", "first-pair-v1")
                    ),
                ]
            )
            == 0
        )
    bundle = subs / "test-track-v1" / "first-pair-v1"
    shutil.copytree(
        REPO / "leaderboards" / "submissions" / "clip-tiny-v2" / "uniform-v1", subs / "clip-tiny-v2" / "uniform-v1"
    )
    capsys.readouterr()

    assert main(["validate", str(bundle)]) == 0
    assert "valid: " in capsys.readouterr().out

    repro = tmp_path / "reproductions"
    assert (
        main(["reproduce", str(bundle), "--seeds", "1", "--budget", "16", "--generator", mine, "--out", str(repro)])
        == 0
    )
    out = capsys.readouterr().out
    assert "seed 0 budgets [0, 16]: identical" in out and "first-pair-v1 on test-track-v1: identical" in out

    assert (
        main(
            [
                "leaderboard",
                "--submissions",
                str(subs),
                "--reproductions",
                str(repro),
                "--out",
                str(tmp_path / "boards"),
            ]
        )
        == 0
    )
    summary = pd.read_csv(tmp_path / "boards" / "test-track-v1" / "summary.csv").set_index("generator")
    assert summary.loc["first-pair-v1", "reproduced"] == "identical: seed 0 to 16"
    assert summary.loc["first-pair-v1", "seeds"] == 2 and summary.loc["first-pair-v1", "budgets"] == "16, 32"
    assert pd.isna(summary.loc["uniform-v1", "reproduced"])
    committed = pd.read_csv(tmp_path / "boards" / "clip-tiny-v2" / "per_seed.csv")
    assert set(committed.generator) == {"uniform-v1"} and len(committed) == 5 * 6
    assert "identical: seed 0 to 16" in (tmp_path / "boards" / "test-track-v1" / "leaderboard.md").read_text()
