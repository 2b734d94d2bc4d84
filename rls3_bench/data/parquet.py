"""Parquet in and out without Arrow's thread pools: every Parquet read and write of the suite goes here.

Why: a process that decoded a table on Arrow's pools sometimes dies at interpreter exit, after all its
work is done, with ``terminate called without an active exception`` (SIGABRT, exit -6): a pool
worker's ``std::thread`` is still joinable when static destructors run (apache/arrow#34314; not
jemalloc: the system allocator aborts as well). A CI run of this suite failed on it once (a sweep
process of ``tests/test_reliability.py`` exited -6 after printing its results). Measured with
pyarrow 26.0.1 on 2 cores, short processes that write a small table and read it back four times:
35 of 600 aborted with ``pq.read_table``'s defaults, 0 of 600 through this module. The tables here
are a few MB at most, so threads buy nothing. ``tests/test_parquet.py`` checks that a round trip
here starts no thread.
"""

from __future__ import annotations

import io
import os
from pathlib import Path


def table_bytes(table) -> bytes:
    """A ``pyarrow.Table`` as zstd-compressed Parquet bytes."""
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    return buf.getvalue()


def _file(data: bytes):
    import pyarrow as pa
    import pyarrow.parquet as pq

    return pq.ParquetFile(pa.BufferReader(data))


def read_table(source: bytes | str | os.PathLike):
    """A Parquet table from bytes or a path, decoded on the calling thread. The file is read into
    memory first and decoded through ``ParquetFile``, not ``pq.read_table``: the latter goes through
    Arrow's dataset layer, which starts a pool thread even with ``use_threads=False``. Raises
    ``pyarrow.ArrowException`` or ``OSError`` on a bad file."""
    return _file(source if isinstance(source, bytes) else Path(source).read_bytes()).read(use_threads=False)


def read_footer(data: bytes):
    """The Parquet footer (``pyarrow.parquet.FileMetaData``) alone: row counts and sizes can be
    checked before a table of unknown size is decoded."""
    return _file(data).metadata
