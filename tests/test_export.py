"""``rls3-bench export --generator NAME --track TRACK``: what a generator delivers, as a sample table."""

from __future__ import annotations

import pytest
from conftest import FIXTURES

from rls3_bench.cli import main
from rls3_bench.data.sample_tables import read_samples

TRACK = str(FIXTURES / "test-track.yaml")


def export(tmp_path, name, *extra, n=20, seed=0, out="g.parquet"):
    path = tmp_path / out
    code = main(
        ["export", "--generator", name, "--track", TRACK, "-n", str(n), "--seed", str(seed), "-o", str(path), *extra]
    )
    return code, path


def test_export_generator_has_the_columns_of_export_and_the_harness_labels(tmp_path, capsys):
    from rls3_bench.backends.embedded import EmbeddedBackend
    from rls3_bench.data.parquet import read_table
    from rls3_bench.labels.annotate import observe_and_label

    code, path = export(tmp_path, "control-flipped-v1", n=20)
    assert code == 0 and "20 samples from control-flipped-v1" in capsys.readouterr().out
    plain = tmp_path / "plain.parquet"
    assert main(["export", "-n", "3", "-o", str(plain)]) == 0
    assert read_table(path).schema == read_table(plain).schema
    samples = read_samples(path)
    assert len(samples) == 20 and len({s.sample_id for s in samples}) == 20
    # every row is the geometry's label of its pair, or (control) that label's own false flip
    with EmbeddedBackend(image_size=128, renderer="tiny") as backend:
        for s in samples:
            a, b = (int(x) for x in s.sample_id.split(":")[1:3])
            pair = next(p for p in observe_and_label(backend, s.spec).pairs if (p.a, p.b) == (a, b))
            if s.sample_id.endswith(":false"):
                assert s.negatives[0].startswith(f"The {s.subject} is") and tuple(pair.terms) != s.terms
            else:
                assert set(pair.terms) == set(s.terms)
    assert any(s.sample_id.endswith(":false") for s in samples)


def test_export_is_deterministic_per_seed_and_takes_module_class_paths(tmp_path):
    _, a = export(tmp_path, "uniform-v1", out="a.parquet")
    _, b = export(tmp_path, "rls3_generators.uniform:UniformGenerator", out="b.parquet")
    _, c = export(tmp_path, "uniform-v1", seed=1, out="c.parquet")
    assert a.read_bytes() == b.read_bytes()
    assert [s.sample_id for s in read_samples(a)] != [s.sample_id for s in read_samples(c)]


def test_export_closed_loop_generator_with_the_base_learner(tmp_path):
    pytest.importorskip("open_clip")
    code, path = export(tmp_path, "uncertainty-v1", n=24)  # two rounds of 16: the second gets feedback
    assert code == 0 and len(read_samples(path)) == 24


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--generator", "uniform-v1"], "go together"),
        (["--track", TRACK], "go together"),
        (["--generator", "no-such-gen-v1", "--track", TRACK], "no-such-gen-v1"),
        (["--generator", "uniform-v1", "--track", "no-such-track"], "no-such-track"),
    ],
)
def test_export_bad_input_is_one_line_and_no_file(args, fragment, tmp_path, capsys):
    out = tmp_path / "x.parquet"
    assert main(["export", "-n", "4", "-o", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rls3-bench: error:") and fragment in err and err.count("\n") == 1
    assert not out.exists() and not list(tmp_path.iterdir())


def test_export_of_a_generator_that_fails_names_its_round_in_one_line_and_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(FIXTURES))
    code, path = export(tmp_path, "reliability_generators:Crashing", n=40)  # round 0 delivers, round 1 raises
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "generator reliability_generators:Crashing failed in round 1" in err and "boom" in err
    assert not path.exists() and not list(tmp_path.iterdir())
