"""The contributor surface: rls3_bench.api gathers what a generator needs, docs/generators.md
documents every name of it, and a module:Class generator is submitted under its declared name."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from conftest import FIXTURES, REPO

from rls3_bench.errors import UserError


def test_api_names_are_the_harness_objects():
    import rls3_bench.api as api
    from rls3_bench.generator import Generator, RoundContext
    from rls3_bench.labels.sample import TERMS, Sample
    from rls3_bench.scene.construct import balanced_targets, construct_spec
    from rls3_bench.scene.random_scenes import random_spec

    assert (api.Generator, api.RoundContext, api.Sample, api.TERMS) == (Generator, RoundContext, Sample, TERMS)
    assert (api.random_spec, api.construct_spec, api.balanced_targets) == (
        random_spec,
        construct_spec,
        balanced_targets,
    )
    assert all(hasattr(api, name) for name in api.__all__)


def test_api_imports_no_torch_or_pybullet():
    code = (
        "import sys, rls3_bench.api; "
        "assert not {'torch', 'pybullet'} & set(sys.modules), sorted({'torch', 'pybullet'} & set(sys.modules))"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_every_api_name_and_sample_field_is_documented():
    import dataclasses

    import rls3_bench.api as api

    doc = (REPO / "docs" / "generators.md").read_text(encoding="utf-8")
    missing = [n for n in api.__all__ if f"`{n}" not in doc]
    missing += [f"Sample.{f.name}" for f in dataclasses.fields(api.Sample) if f"`{f.name}`" not in doc]
    assert not missing, f"docs/generators.md does not document {missing}"
    assert "check-generator" in doc and "--round-seconds" in doc


def test_docs_state_the_limits_the_harness_applies():
    from rls3_bench.harness.generation import MIN_ROUND_SECONDS, RENDERS_PER_SAMPLE, SECONDS_PER_SAMPLE

    doc = (REPO / "docs" / "generators.md").read_text(encoding="utf-8")
    assert re.search(rf"\b{RENDERS_PER_SAMPLE} renders per sample\b", doc)
    assert re.search(rf"\b{SECONDS_PER_SAMPLE:g} s per sample\b", doc) and re.search(
        rf"\bat least {MIN_ROUND_SECONDS:g} s\b", doc
    )


def test_a_module_class_generator_is_submitted_under_its_declared_name(monkeypatch):
    """The name of a contributed generator's records resolves without its module on the path."""
    from rls3_bench.generator import generator_record_name

    assert generator_record_name("left-right-only-v1") == "left-right-only-v1"
    assert generator_record_name("uniform-v1") == "uniform-v1"
    monkeypatch.syspath_prepend(str(FIXTURES))
    assert generator_record_name("contrib_generator:LeftRightOnly") == "left-right-only-v1"
    with pytest.raises(UserError, match="generator name '../x-v1' of --generator is not valid"):
        generator_record_name("../x-v1")


def test_submit_by_declared_name_reaches_the_records(tmp_path, capsys):
    """`submit --generator <declared name>` looks for that generator's runs (none here: one line)."""
    from rls3_bench.cli import main

    code = main(
        [
            "submit",
            "--results",
            str(tmp_path),
            "--track",
            str(FIXTURES / "test-track.yaml"),
            "--generator",
            "left-right-only-v1",
            "--authors",
            "A. Author",
            "--code-reference",
            "x==1",
            "-o",
            str(tmp_path / "sub"),
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "no complete runs of left-right-only-v1" in err[0], err


def test_ls_lists_tracks_and_generators(capsys):
    from rls3_bench.cli import main

    assert main(["ls"]) == 0
    out = capsys.readouterr().out
    tracks = out.split("tracks:\n", 1)[1].split("\ngenerators:", 1)[0]
    assert re.search(
        r"^  clip-tiny \(v2, clip\): budgets \[128, 256, 512, 1024, 2048\], "
        r"5 seeds; presets: full .* smoke \[128, 256\] x 5 seeds$",
        tracks,
        re.M,
    ), tracks
    gens = out.split("generators:\n", 1)[1].split("\nbackends:", 1)[0].splitlines()
    assert (
        "  uniform-v1 (open loop): i.i.d. uniformly random valid scenes, one uniformly random captionable pair each."
        in gens
    )
    assert any(line.startswith("  rls3-sac-v1 (closed loop): RLS3's Soft Actor-Critic agent") for line in gens), gens
    assert any(line.startswith("  balanced-v1 (open loop): the six terms") for line in gens), gens
