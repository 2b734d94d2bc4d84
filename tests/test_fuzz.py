"""Property-based fuzzing (hypothesis) of every parser a user or contributor can feed: SceneSpec
JSON, track YAML, generator names and ``module:Class`` paths, CLI arguments, run records, sample /
eval-set Parquet files and submission bundles (JSON and Parquet).

The property is the same everywhere: an input either works or raises one :class:`UserError` whose
message is a single short line; never another exception, a traceback, a hang or a partial file.

Example counts: the default run uses a modest profile; ``HYPOTHESIS_PROFILE=long`` runs the report's
numbers (see docs/reliability.md), e.g.::

    HYPOTHESIS_PROFILE=long python -m pytest tests/test_fuzz.py --hypothesis-show-statistics
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest
import yaml
from conftest import FIXTURES, make_bundle
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from rls3_bench.data.parquet import read_table
from rls3_bench.errors import UserError

#: examples per fuzz test: a modest default run, and HYPOTHESIS_PROFILE=long for the report's numbers
_PROFILES = {"default": 60, "long": 2000}
_PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "default")
FUZZ = settings(
    max_examples=_PROFILES.get(_PROFILE, _PROFILES["default"]),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
#: the longest error message a parser may produce (one line, readable in a terminal log)
MAX_MESSAGE = 400


def assert_one_line(exc: BaseException) -> None:
    msg = str(exc)
    assert msg and "\n" not in msg and "\r" not in msg, repr(msg[:500])
    assert len(msg) <= MAX_MESSAGE, f"{len(msg)} chars: {msg[:200]}..."
    assert "Traceback" not in msg


# --- strategies -------------------------------------------------------------------------------
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
)
json_values = st.recursive(
    scalars, lambda c: st.lists(c, max_size=5) | st.dictionaries(st.text(max_size=10), c, max_size=5), max_leaves=20
)


def _paths(doc, prefix=()):
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, prefix + (i,))


@st.composite
def mutated(draw, doc, values=json_values):
    """``doc`` (JSON-like) with 1-3 random edits: a subtree replaced, a key or item deleted, a key added."""
    doc = json.loads(json.dumps(doc))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(list(_paths(doc))))
        op = draw(st.sampled_from(["replace", "delete", "add"]))
        if not path:
            if op == "replace":
                doc = draw(values)
            continue
        parent = doc
        try:
            for k in path[:-1]:
                parent = parent[k]
        except (KeyError, IndexError, TypeError):
            continue
        key = path[-1]
        if op == "replace":
            parent[key] = draw(values)
        elif op == "delete":
            del parent[key]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=10))] = draw(values)
        else:
            parent.insert(key, draw(values))
    return doc


@st.composite
def damaged_bytes(draw, data: bytes):
    """``data`` truncated, with flipped bytes, or with a slice overwritten."""
    data = bytearray(data)
    op = draw(st.sampled_from(["truncate", "flip", "overwrite", "empty"]))
    if op == "truncate":
        return bytes(data[: draw(st.integers(0, max(len(data) - 1, 0)))])
    if op == "empty":
        return b""
    for _ in range(draw(st.integers(1, 8))):
        i = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[i] ^= 1 << draw(st.integers(0, 7))
        else:
            chunk = draw(st.binary(min_size=1, max_size=16))
            data[i : i + len(chunk)] = chunk
    return bytes(data)


def json_text(value) -> str:
    return json.dumps(value, allow_nan=True, default=str)


# --- SceneSpec JSON ---------------------------------------------------------------------------
def _valid_spec_dict() -> dict:
    from rls3_bench.harness.seeds import rng_for
    from rls3_bench.scene.random_scenes import random_spec

    return json.loads(random_spec(rng_for("preview", 0)).to_json())


def _check_spec(text: str) -> None:
    from rls3_bench.scene.spec import SceneSpec

    try:
        spec = SceneSpec.from_json(text)
    except UserError as exc:
        assert_one_line(exc)
        return
    # a spec that parses round-trips to itself with the same content hash
    again = SceneSpec.from_json(spec.to_json())
    assert again == spec and again.digest() == spec.digest()


@FUZZ
@given(st.text(max_size=200) | json_values.map(json_text))
def test_fuzz_scene_spec_any_text(text):
    _check_spec(text)


@FUZZ
@given(mutated(_valid_spec_dict()))
def test_fuzz_scene_spec_mutated(doc):
    _check_spec(json_text(doc))


# --- track YAML -------------------------------------------------------------------------------
yaml_scalars = scalars | st.dates() | st.datetimes() | st.binary(max_size=8)
yaml_values = st.recursive(
    yaml_scalars,
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8) | st.integers(), c, max_size=4),
    max_leaves=12,
)


def _check_track_file(path: Path) -> None:
    from rls3_bench.harness.tracks import load_track, track_from_dict

    try:
        track = load_track(str(path))
    except UserError as exc:
        assert_one_line(exc)
        return
    assert track_from_dict(track.to_dict()) == track
    assert len(track.digest()) == 64


@FUZZ
@given(st.text(max_size=300))
def test_fuzz_track_yaml_any_text(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("track") / "t.yaml"
    path.write_bytes(text.encode("utf-8", "replace"))
    _check_track_file(path)


@FUZZ
@given(mutated(yaml.safe_load((FIXTURES / "test-track.yaml").read_text()), values=yaml_values))
def test_fuzz_track_yaml_mutated(tmp_path_factory, doc):
    path = tmp_path_factory.mktemp("track") / "t.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    _check_track_file(path)


@FUZZ
@given(st.text(max_size=60))
def test_fuzz_track_names(name):
    from rls3_bench.harness.tracks import load_track

    assume(not Path(name).is_file() or not name.strip())
    try:
        load_track(name)
    except UserError as exc:
        assert_one_line(exc)


# --- generator names and module:Class paths ---------------------------------------------------
#: existing modules a fuzzed ``module:attr`` may import (importing is the documented way to load a
#: contributed generator; the fuzzer must not import arbitrary installed modules with side effects)
SAFE_MODULES = ("rls3_bench.generator", "rls3_generators.uniform", "os", "json", "rls3_bench", "rls3_generators")
ident = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_.0123456789-:/\\ \x00é", max_size=20)


def _generator_name_ok(name: str) -> bool:
    module = name.partition(":")[0]
    top = module.split(".")[0]
    if module in SAFE_MODULES or not top or module.startswith("."):
        return True
    try:
        return importlib.util.find_spec(top) is None
    except (ImportError, ValueError):
        return True


generator_names = (
    st.sampled_from(["uniform-v1", "balanced-v1", "weakness-v1", "rls3-sac-v1", "rls3-random-v1"])
    | ident
    | st.tuples(st.sampled_from(SAFE_MODULES) | ident, ident).map(lambda t: f"{t[0]}:{t[1]}")
    | st.sampled_from(
        [
            "os:system",
            "json:loads",
            "rls3_bench.generator:Generator",
            "rls3_bench.generator:API_VERSION",
            "..x:Y",
            ".generator:Generator",
            "rls3_generators.uniform:UniformGenerator.name",
            ":",
            "a:",
            ":b",
            "rls3_generators.uniform:UniformGenerator..x",
            "\x00:x",
        ]
    )
)


@FUZZ
@given(generator_names)
def test_fuzz_generator_names(name):
    from rls3_bench.generator import Generator, get_generator_class

    assume(_generator_name_ok(name))
    try:
        cls = get_generator_class(name)
    except UserError as exc:
        assert_one_line(exc)
        return
    assert issubclass(cls, Generator) and cls.name


# --- CLI arguments ----------------------------------------------------------------------------
class _Reached(Exception):
    """Raised where the CLI would start real work (render, train, run): argument checking passed."""


OPTIONS = {
    "ls": [],
    "render": ["--spec", "--seed", "-o", "--spec-out", "--backend", "--size", "--renderer"],
    "preview": ["-n", "--seed", "--cols", "-o", "--backend", "--size", "--renderer"],
    "export": ["-n", "--seed", "-o", "--backend", "--size", "--renderer"],
    "evalset": ["--cache-dir"],
    "pretrain": [
        "--track",
        "--scenes",
        "--epochs",
        "--seed",
        "--lr",
        "--object-negatives",
        "--object-positions",
        "--vision-epochs",
        "--vision-lr",
        "--out",
    ],
    "run": [
        "--track",
        "--preset",
        "--generator",
        "--seeds",
        "--seed-list",
        "--results",
        "--executor",
        "--workers",
        "--ray-address",
        "--threads",
        "--weights",
        "--device",
        "--no-progress",
        "--no-leaderboard",
    ],
    "figures": ["--results", "--track", "--out"],
    "submit": ["--results", "--track", "--generator", "--authors", "--code-reference", "-o", "--force"],
    "validate": [],
    "leaderboard": ["--submissions", "--reproductions", "--out"],
    "reproduce": ["--seeds", "--seed-list", "--budget", "--generator", "--threads", "--atol", "--out", "--no-record"],
    "report": ["--results", "--csv"],
}
_words = st.sampled_from(
    [
        "clip-tiny",
        "paligemma-tiny",
        "smoke",
        "quick",
        "uniform-v1",
        "weakness-v1",
        "spatial-v1-mini",
        "spatial-v1-test",
        "embedded",
        "unity",
        "tiny",
        "egl",
        "local",
        "ray",
        "cpu",
        "cuda",
        "random",
        "spec.json",
        "bad.json",
        "track.yaml",
        "runs",
        "subs",
        "out.png",
        "x",
        "",
        "-",
        "--",
        "-h",
        "0",
        "1",
        "2",
        "-1",
        "1e9",
        "nan",
        "inf",
        "0,1",
        "1,1",
        "a,b",
        "99999999999999999999999",
        "4097",
        "127.0.0.1:1",
        "os:system",
        "no_such_mod:X",
    ]
)
_values = _words | st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12).filter(
    lambda s: not s.startswith("/") and ".." not in s and "\x00" not in s
)


@st.composite
def argvs(draw):
    command = draw(st.sampled_from(sorted(OPTIONS)) | st.text(max_size=8))
    argv = [command]
    for _ in range(draw(st.integers(0, 6))):
        opts = OPTIONS.get(command) or ["--help"]
        argv.append(draw(st.sampled_from(opts) | _values))
        if draw(st.booleans()):
            argv.append(draw(_values))
    return argv


@pytest.fixture
def cli_sandbox(tmp_path, monkeypatch):
    """A working directory with a few input files; every costly step replaced by ``_Reached``."""
    import rls3_bench.analysis.submissions as submissions
    import rls3_bench.cli as cli
    import rls3_bench.data.evalsets as evalsets
    import rls3_bench.harness.sweep as runner
    import rls3_bench.learners.pretrain as pretrain

    monkeypatch.chdir(tmp_path)
    (tmp_path / "spec.json").write_text(json.dumps(_valid_spec_dict()))
    (tmp_path / "bad.json").write_text('{"room": ')
    (tmp_path / "track.yaml").write_text((FIXTURES / "test-track.yaml").read_text())
    (tmp_path / "runs").mkdir()
    (tmp_path / "subs").mkdir()

    def reached(*args, **kwargs):
        raise _Reached

    def open_backend(args):
        from rls3_bench.backends import get_backend_class

        get_backend_class(args.backend)
        raise _Reached

    monkeypatch.setattr(cli, "_open_backend", open_backend)
    monkeypatch.setattr(runner, "run_benchmark", reached)
    monkeypatch.setattr(pretrain, "pretrain", reached)
    monkeypatch.setattr(evalsets, "build_eval_set", reached)
    monkeypatch.setattr(evalsets, "default_cache_dir", lambda: tmp_path / "cache")
    monkeypatch.setattr(submissions, "pack", reached)
    return tmp_path


@FUZZ
@given(argvs())
def test_fuzz_cli_arguments(cli_sandbox, capsys, argv):
    from rls3_bench.cli import main

    before = sorted(p.relative_to(cli_sandbox) for p in cli_sandbox.rglob("*"))
    try:
        code = main(argv)
    except _Reached:
        return
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        code = exc.code
    out, err = capsys.readouterr()
    assert code in (0, 1, 2), (argv, code, err)
    assert "Traceback" not in err and "Traceback" not in out
    if code == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("rls3-bench"), (argv, err)
        assert len(lines[0]) <= MAX_MESSAGE + 40
        # a rejected command leaves nothing behind
        assert sorted(p.relative_to(cli_sandbox) for p in cli_sandbox.rglob("*")) == before


# --- run records ------------------------------------------------------------------------------
def _valid_record() -> dict:
    from rls3_bench.labels.sample import TERMS

    point = {
        "budget": 16,
        "accuracy": 0.5,
        "n_items": 72,
        "per_term": {t: 0.5 for t in TERMS},
        "per_complexity": {"1": 0.5, "2": 0.5, "3": 0.5},
        "per_negative": {"flip": 0.5, "swap": 0.5},
    }
    return {
        "schema_version": 1,
        "track": "test-track-v1",
        "track_digest": "a" * 64,
        "generator": "uniform-v1",
        "generator_name": "uniform-v1",
        "seed": 0,
        "eval_set": "spatial-v1-mini",
        "eval_set_hash": "b" * 64,
        "curve": [{**point, "budget": 0}, point],
        "status": "complete",
        "failure": None,
        "cost": {
            "scenes_rendered": 20,
            "invalid_scenes": 2,
            "feedback_queries": 0,
            "samples_delivered": 16,
            "rl_env_steps": 0,
            "rl_updates": 0,
            "seconds": {"render": 1.0},
        },
    }


@pytest.fixture(scope="module")
def record_folder(tmp_path_factory):
    from rls3_bench.harness.records import write_record

    folder = tmp_path_factory.mktemp("results") / "test-track-v1" / "uniform-v1" / "seed-0"
    write_record(folder, _valid_record(), {0: [], 16: []})
    return folder


@FUZZ
@given(st.data())
def test_fuzz_run_record(record_folder, data):
    """A damaged or edited record.json is refused with one line by every reader (report included)."""
    from rls3_bench.analysis.report import results_table
    from rls3_bench.harness.records import RECORD_FILE, read_record

    good = (record_folder / RECORD_FILE).read_bytes()
    if data.draw(st.booleans()):
        text = data.draw(damaged_bytes(good))
    else:
        text = json_text(data.draw(mutated(json.loads(good)))).encode()
    try:
        (record_folder / RECORD_FILE).write_bytes(text)
        try:
            read_record(record_folder)
        except UserError as exc:
            assert_one_line(exc)
        try:
            results_table(record_folder.parent.parent.parent)
        except UserError as exc:
            assert_one_line(exc)
    finally:
        (record_folder / RECORD_FILE).write_bytes(good)


# --- sample / eval-set Parquet ----------------------------------------------------------------
@pytest.fixture(scope="module")
def sample_file(tmp_path_factory):
    from conftest import toy_samples

    from rls3_bench.data.sample_tables import write_samples

    path = tmp_path_factory.mktemp("samples") / "s.parquet"
    write_samples(path, toy_samples(3, size=16))
    return path


def _check_samples(path: Path) -> None:
    from rls3_bench.data.sample_tables import read_samples

    try:
        read_samples(path)
    except UserError as exc:
        assert_one_line(exc)


@FUZZ
@given(st.data())
def test_fuzz_sample_parquet_bytes(sample_file, tmp_path_factory, data):
    path = tmp_path_factory.mktemp("bad") / "s.parquet"
    path.write_bytes(data.draw(damaged_bytes(sample_file.read_bytes())))
    _check_samples(path)


parquet_values = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats()
    | st.text(max_size=20)
    | st.binary(max_size=20)
    | st.lists(st.text(max_size=5), max_size=3)
)


def _table_with(rows: list[dict], metadata):
    import pyarrow as pa

    try:
        table = pa.Table.from_pylist(rows)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        cols = sorted({k for r in rows for k in r})
        table = pa.table({k: pa.array([repr(r.get(k)) for r in rows]) for k in cols})
    return table.replace_schema_metadata(metadata)


@st.composite
def edited_rows(draw, rows: list[dict]):
    rows = [dict(r) for r in rows]
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["cell", "drop_col", "drop_row", "dup_row"]))
        if not rows:
            break
        i = draw(st.integers(0, len(rows) - 1))
        key = draw(st.sampled_from(sorted(rows[i])))
        if op == "cell":
            rows[i][key] = draw(parquet_values)
            for r in rows:  # keep a column's type uniform most of the time
                if draw(st.booleans()):
                    r[key] = rows[i][key]
        elif op == "drop_col":
            for r in rows:
                r.pop(key, None)
        elif op == "drop_row":
            rows.pop(i)
        else:
            rows.append(dict(rows[i]))
    return rows


@FUZZ
@given(st.data())
def test_fuzz_sample_parquet_rows(sample_file, tmp_path_factory, data):
    import pyarrow.parquet as pq

    table = read_table(sample_file)
    rows = data.draw(edited_rows(table.to_pylist()))
    path = tmp_path_factory.mktemp("bad") / "s.parquet"
    pq.write_table(_table_with(rows, table.schema.metadata), path)
    _check_samples(path)


# --- submission bundles -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def bundle(tmp_path_factory, track, items):
    return make_bundle(tmp_path_factory.mktemp("sub") / "bundle", track, items)


def _check_bundle(folder: Path, track, items) -> None:
    from rls3_bench.analysis.submissions import SubmissionError, validate

    try:
        validate(folder, items, track)
    except SubmissionError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert "\n" not in problem and len(problem) <= MAX_MESSAGE, problem[:300]
        assert_one_line(exc) if len(exc.problems) == 1 else None


def _copy_bundle(bundle: Path, dest: Path) -> Path:
    import shutil

    dest.mkdir(parents=True, exist_ok=True)
    for f in bundle.iterdir():
        shutil.copyfile(f, dest / f.name)
    return dest


def test_synthetic_bundle_is_valid(bundle, track, items):
    from rls3_bench.analysis.submissions import validate

    assert validate(bundle, items, track).meta["seeds"] == [0, 1]


@FUZZ
@given(st.data())
def test_fuzz_submission_json(bundle, track, items, tmp_path_factory, data):
    from rls3_bench.analysis.submissions import META_FILE

    folder = _copy_bundle(bundle, tmp_path_factory.mktemp("sub"))
    good = (bundle / META_FILE).read_bytes()
    kind = data.draw(st.sampled_from(["mutate", "bytes", "text"]))
    if kind == "mutate":
        raw = json_text(data.draw(mutated(json.loads(good)))).encode()
    elif kind == "bytes":
        raw = data.draw(damaged_bytes(good))
    else:
        raw = data.draw(st.text(max_size=200) | json_values.map(json_text)).encode("utf-8", "replace")
    (folder / META_FILE).write_bytes(raw)
    _check_bundle(folder, track, items)


@FUZZ
@given(st.data())
def test_fuzz_submission_parquet(bundle, track, items, tmp_path_factory, data):
    import pyarrow.parquet as pq

    from rls3_bench.analysis.submissions import PRED_FILE

    folder = _copy_bundle(bundle, tmp_path_factory.mktemp("sub"))
    if data.draw(st.booleans()):
        (folder / PRED_FILE).write_bytes(data.draw(damaged_bytes((bundle / PRED_FILE).read_bytes())))
    else:
        table = read_table(bundle / PRED_FILE)
        rows = table.to_pylist()
        # edit a few rows around a random place (the whole table is 432 rows)
        start = data.draw(st.integers(0, len(rows) - 8))
        head, mid, tail = rows[:start], rows[start : start + 8], rows[start + 8 :]
        mid = data.draw(edited_rows(mid))
        keys = set().union(*(r.keys() for r in mid)) if mid else set()
        all_rows = (
            [{k: r.get(k) for k in keys} for r in head + tail] + mid if keys != set(rows[0]) else head + mid + tail
        )
        pq.write_table(_table_with(all_rows, table.schema.metadata), folder / PRED_FILE)
    _check_bundle(folder, track, items)
