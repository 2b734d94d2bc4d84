"""Hostile submission bundles: validation reads data only, within limits, inside the bundle.

tests/test_submissions.py covers tampered metrics, hashes, budgets, seeds, duplicates, malformed
files, a symlink, an extra file and an oversized file on a bundle packed from real runs. These tests
add what a stranger could try beyond that, on a synthetic bundle (random scores, no training):
pickled extension types, decompression bombs, sparse multi-GB files, FIFOs, folders, duplicate JSON
keys, NaN/Infinity, markup in names, symlinked folders, and a hostile bundle beside good ones.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import threading
from pathlib import Path

import pytest
from conftest import make_bundle

from rls3_bench.analysis.submissions import META_FILE, PRED_FILE, SubmissionError, discover, validate
from rls3_bench.data.parquet import read_table


@pytest.fixture(scope="module")
def good(tmp_path_factory, track, items):
    return make_bundle(tmp_path_factory.mktemp("good") / "bundle", track, items)


@pytest.fixture
def bundle(good, tmp_path):
    out = tmp_path / "bundle"
    shutil.copytree(good, out)
    return out


def rejected(bundle, track, items, fragment: str) -> list[str]:
    with pytest.raises(SubmissionError) as err:
        validate(bundle, items, track)
    problems = err.value.problems
    assert any(fragment in p for p in problems), problems
    assert all("\n" not in p and len(p) < 400 for p in problems)
    return problems


def edit_meta(bundle: Path, fn) -> None:
    meta = json.loads((bundle / META_FILE).read_text())
    fn(meta)
    (bundle / META_FILE).write_text(json.dumps(meta))


class _Evil:
    """Unpickling this creates a marker file: proof that code ran."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickled_extension_type_is_never_unpickled(bundle, track, items, tmp_path):
    """A Parquet schema that asks for the pickle-based Arrow extension type (CVE-2023-47248's
    vector) stays inert: validation never unpickles, the marker file never appears."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    marker = tmp_path / "pwned"
    table = read_table(bundle / PRED_FILE)
    meta = {
        b"ARROW:extension:name": b"arrow.py_extension_type",
        b"ARROW:extension:metadata": pickle.dumps(_Evil(str(marker))),
    }
    fields = [f.with_metadata(meta) if f.name == "score_true" else f for f in table.schema]
    pq.write_table(pa.Table.from_arrays(table.columns, schema=pa.schema(fields)), bundle / PRED_FILE)
    try:
        validate(bundle, items, track)
    except SubmissionError:
        pass
    assert not marker.exists()


def test_decompression_bomb_is_refused_from_the_footer(bundle, track, items):
    """600,000 identical rows compress to a few KB; the row count in the footer refuses them before
    anything is decoded."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    n = 600_000
    table = pa.table(
        {
            "seed": pa.array([0] * n, pa.int64()),
            "budget": pa.array([0] * n, pa.int64()),
            "item_id": pa.array(["x"] * n),
            "score_true": pa.array([0.0] * n),
            "score_negative": pa.array([0.0] * n),
            "predicted_terms": pa.array([None] * n, pa.list_(pa.string())),
        }
    )
    pq.write_table(table, bundle / PRED_FILE, compression="zstd")
    assert (bundle / PRED_FILE).stat().st_size < 200_000
    rejected(bundle, track, items, "over the limit of 500000 rows")


def test_decoded_size_limit(bundle, track, items, monkeypatch):
    import rls3_bench.analysis.submissions as subs

    monkeypatch.setattr(subs, "MAX_DECODED_PARQUET_BYTES", 1000)
    rejected(bundle, track, items, "bytes decoded), over the limit")


def test_sparse_huge_file_is_refused_without_reading(bundle, track, items):
    """A 3 GB file (sparse: no disk used) is refused from its size alone."""
    with open(bundle / PRED_FILE, "r+b") as fh:
        fh.truncate(3 * 1024**3)
    rejected(bundle, track, items, "over the 67108864-byte limit")


def test_bundle_size_limit(bundle, track, items, monkeypatch):
    import rls3_bench.analysis.submissions as subs

    monkeypatch.setattr(subs, "MAX_BUNDLE_BYTES", (bundle / PRED_FILE).stat().st_size + 10)
    rejected(bundle, track, items, "for both files together")


def test_fifo_does_not_hang(bundle, track, items):
    """A named pipe in place of submission.json is refused at once (reading it would block forever)."""
    (bundle / META_FILE).unlink()
    os.mkfifo(bundle / META_FILE)
    outcome = []
    t = threading.Thread(
        target=lambda: outcome.append(pytest.raises(SubmissionError, validate, bundle, items, track)), daemon=True
    )
    t.start()
    t.join(20)
    assert not t.is_alive() and outcome
    rejected(bundle, track, items, "not a plain file")


def test_folder_in_place_of_a_file(bundle, track, items):
    (bundle / META_FILE).unlink()
    (bundle / META_FILE).mkdir()
    rejected(bundle, track, items, "not a plain file")


def test_symlinked_bundle_folder_and_discovery(good, tmp_path, track, items):
    """A bundle reached through a symlink (to a folder outside the submissions tree) is neither
    discovered nor accepted."""
    root = tmp_path / "submissions"
    root.mkdir()
    os.symlink(good, root / "elsewhere")
    assert discover(root) == []
    rejected(root / "elsewhere", track, items, "is not a submission folder")


@pytest.mark.parametrize(
    "text, fragment",
    [
        ('{"schema_version": 1, "schema_version": 1}', "duplicate key"),
        ("[" * 5000 + "]" * 5000, "not valid UTF-8 JSON"),
        ('{"a": ' + "9" * 5000 + "}", "not valid UTF-8 JSON"),
        ('{"a": NaN}', "NaN is not a JSON number"),
        ('{"a": 1e999}', "out of range"),
        (b"\xff\xfe{}", "not valid UTF-8 JSON"),
    ],
)
def test_hostile_json(bundle, track, items, text, fragment):
    (bundle / META_FILE).write_bytes(text if isinstance(text, bytes) else text.encode())
    rejected(bundle, track, items, fragment)


def test_duplicate_key_inside_the_document(bundle, track, items):
    """Two "track" keys: a reviewer reads the first, a lenient parser keeps the last."""
    text = (bundle / META_FILE).read_text()
    (bundle / META_FILE).write_text(text.replace('"track":', '"track": "clip-tiny-v1", "track":', 1))
    rejected(bundle, track, items, "duplicate key 'track'")


def test_nan_reported_accuracy(bundle, track, items):
    """NaN used to pass the tamper check (every comparison with NaN is false)."""
    text = (bundle / META_FILE).read_text()
    meta = json.loads(text)
    acc = meta["cells"][0]["reported"]["16"]["accuracy"]
    (bundle / META_FILE).write_text(text.replace(json.dumps(acc), "NaN", 1))
    rejected(bundle, track, items, "NaN is not a JSON number")


@pytest.mark.parametrize(
    "field, value, fragment",
    [
        ("generator", "evil | <script>alert(1)</script>-v1", "generator name"),
        ("generator", "../../etc-v1", "generator name"),
        ("generator", "x-v1\n## Fake heading", "generator name"),
        ("authors", ["A\u202eB"], "printable"),
        ("authors", [], "authors"),
        ("code_reference", "x" * 1000, "at most 300"),
    ],
)
def test_names_that_would_inject_markup(bundle, track, items, field, value, fragment):
    edit_meta(bundle, lambda m: m.update({field: value}))
    rejected(bundle, track, items, fragment)


def test_cost_the_leaderboard_needs(bundle, track, items):
    """A cost without the leaderboard's fields used to validate and then crash `rls3-bench leaderboard`."""
    edit_meta(bundle, lambda m: m["cells"][0]["cost"].pop("seconds"))
    rejected(bundle, track, items, "cost.seconds needs")


def test_item_ids_are_data_not_paths(bundle, track, items):
    """Item ids like '../../etc/passwd' only ever meet a dictionary lookup."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = read_table(bundle / PRED_FILE)
    ids = table.column("item_id").to_pylist()
    ids[0] = "../../../../etc/passwd"
    table = table.set_column(table.schema.get_field_index("item_id"), "item_id", pa.array(ids))
    pq.write_table(table, bundle / PRED_FILE)
    rejected(bundle, track, items, "unknown items")


def test_many_problems_are_capped(bundle, track, items):
    edit_meta(
        bundle,
        lambda m: (
            [c.update(cost={"samples_delivered": 1}) for c in m["cells"]]
            and m.update(
                seeds=m["seeds"] + list(range(100, 160)),
                cells=m["cells"] + [{"seed": s, "cost": {}, "reported": {}} for s in range(100, 160)],
            )
        ),
    )
    problems = rejected(bundle, track, items, "more problems")
    assert len(problems) == 21


def test_leaderboard_skips_a_hostile_bundle_and_builds_the_rest(good, tmp_path, track, items, monkeypatch, capsys):
    """One line per skipped bundle; the valid one still makes the table."""
    import rls3_bench.analysis.submissions as subs
    from rls3_bench.cli import main

    root = tmp_path / "subs"
    shutil.copytree(good, root / track.key / "fuzz-gen-v1")
    shutil.copytree(good, root / track.key / "bad")
    (root / track.key / "bad" / "exploit.py").write_text("import os; os.system('touch pwned')")
    real_validate = subs.validate
    monkeypatch.setattr(subs, "validate", lambda folder: real_validate(folder, items, track))
    assert main(["leaderboard", "--submissions", str(root), "--out", str(tmp_path / "lb")]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "skipped invalid" in err[0] and "exploit.py" in err[0]
    assert (tmp_path / "lb" / track.key / "leaderboard.md").is_file() and not Path("pwned").exists()
