"""Sample tables on disk: Parquet with images as PNG bytes, readable by pandas and Hugging Face ``datasets``.

The ``image`` column is a struct ``{bytes, path}`` and the schema carries ``datasets``' feature
metadata, so ``datasets.load_dataset("parquet", data_files=...)`` decodes it as an Image column.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from pathlib import Path

from rls3_bench.data.atomic import atomic_write_bytes
from rls3_bench.data.parquet import read_table, table_bytes
from rls3_bench.errors import UserError
from rls3_bench.labels.sample import Sample, image_from_png, png_bytes
from rls3_bench.scene.spec import SceneSpec

SCHEMA_VERSION = 1
_LIST_COLUMNS = ("terms", "negatives", "negative_kinds")
_STR_COLUMNS = ("sample_id", "subject", "reference", "caption", "prompt", "answer", "spec")


def sample_record(s: Sample) -> dict:
    """The JSON-able record of a sample without its image (what hashes and tables are built from)."""
    return {
        "sample_id": s.sample_id,
        "spec": s.spec.to_json(),
        "subject": s.subject,
        "reference": s.reference,
        "terms": list(s.terms),
        "complexity": s.complexity,
        "caption": s.caption,
        "negatives": list(s.negatives),
        "negative_kinds": list(s.negative_kinds),
        "prompt": s.prompt,
        "answer": s.answer,
    }


def content_hash(samples: Iterable[Sample]) -> str:
    """SHA-256 over every item's record and image bytes, in order: equal iff the sets are identical."""
    h = hashlib.sha256()
    for s in samples:
        h.update(json.dumps(sample_record(s), sort_keys=True).encode("utf-8"))
        h.update(hashlib.sha256(s.image.tobytes()).digest())
        h.update(repr(s.image.shape).encode())
    return h.hexdigest()


def samples_to_table(samples: Sequence[Sample]):
    import pyarrow as pa

    records = [sample_record(s) for s in samples]
    columns = {k: [r[k] for r in records] for k in (*_STR_COLUMNS, *_LIST_COLUMNS, "complexity")}
    columns["image"] = [{"bytes": png_bytes(s.image), "path": f"{s.sample_id}.png"} for s in samples]
    table = pa.table(columns)
    features = {k: {"dtype": "string", "_type": "Value"} for k in _STR_COLUMNS}
    features.update({k: {"feature": {"dtype": "string", "_type": "Value"}, "_type": "List"} for k in _LIST_COLUMNS})
    features["complexity"] = {"dtype": "int64", "_type": "Value"}
    features["image"] = {"_type": "Image"}
    meta = {
        b"huggingface": json.dumps({"info": {"features": features}}).encode(),
        b"rls3_bench_schema_version": str(SCHEMA_VERSION).encode(),
    }
    return table.replace_schema_metadata(meta)


def write_samples(path: str | Path, samples: Sequence[Sample]) -> Path:
    """Write samples to Parquet atomically (temp file + rename)."""
    return atomic_write_bytes(path, table_bytes(samples_to_table(samples)))


def read_samples(path: str | Path) -> list[Sample]:
    """Read a sample table; a missing, corrupt or foreign file raises one clear UserError."""
    import pyarrow as pa

    path = Path(path)
    if not path.is_file():
        raise UserError(f"sample file {path} does not exist; check the path")
    try:
        table = read_table(path)
    except (pa.ArrowException, OSError, ValueError) as exc:  # ValueError: damaged metadata bytes fail to decode
        raise UserError(f"{path} is not a readable Parquet file ({str(exc).splitlines()[0]}); regenerate it") from None
    meta = table.schema.metadata or {}
    if meta.get(b"rls3_bench_schema_version") != str(SCHEMA_VERSION).encode():
        raise UserError(
            f"{path} is not an rls3-bench sample table of schema version {SCHEMA_VERSION}; "
            "regenerate it with this release"
        )
    try:
        rows = table.to_pylist()
        return [
            Sample(
                spec=SceneSpec.from_json(r["spec"]),
                image=image_from_png(r["image"]["bytes"]),
                subject=r["subject"],
                reference=r["reference"],
                terms=tuple(r["terms"]),
                caption=r["caption"],
                negatives=tuple(r["negatives"]),
                negative_kinds=tuple(r["negative_kinds"]),
                prompt=r["prompt"],
                answer=r["answer"],
                sample_id=r["sample_id"],
            )
            for r in rows
        ]
    except (KeyError, TypeError, OSError, ValueError) as exc:
        raise UserError(f"{path} has malformed rows ({exc}); regenerate it") from None
