"""Parquet reads and writes start no Arrow thread: a pool worker alive at interpreter exit can abort a
finished process with SIGABRT (rls3_bench/data/parquet.py says why and what was measured)."""

from __future__ import annotations

import subprocess
import sys

import pytest

_ROUND_TRIP = """
import os, sys
import pyarrow as pa
import pyarrow.parquet as pq
from rls3_bench.data.parquet import read_footer, read_table, table_bytes

def threads():
    return len(os.listdir("/proc/self/task"))

table = pa.table({"budget": list(range(2000)), "terms": [["left of", "above"]] * 2000})
table = table.replace_schema_metadata({b"k": b"v"})
data = table_bytes(table)
before = threads()
if sys.argv[1] == "rls3_bench":
    path = sys.argv[2]
    open(path, "wb").write(data)
    assert read_table(data).equals(table) and read_table(path).equals(table)
    assert read_table(path).schema.metadata == {b"k": b"v"} and read_footer(data).num_rows == 2000
else:  # the control: pyarrow's default read, which does use the pool
    pq.read_table(pa.BufferReader(data)).to_pandas()
print(threads() - before)
"""


def _new_threads(mode: str, tmp_path) -> int:
    out = subprocess.run(
        [sys.executable, "-c", _ROUND_TRIP, mode, str(tmp_path / "t.parquet")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return int(out.stdout.split()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts threads through /proc")
def test_reads_start_no_arrow_thread(tmp_path):
    """Round trips (bytes and path, schema metadata kept) add no thread to the process, while the
    same count sees the threads pyarrow's default read starts, so it is not blind."""
    assert _new_threads("pyarrow-default", tmp_path) > 0
    assert _new_threads("rls3_bench", tmp_path) == 0
