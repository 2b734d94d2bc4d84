"""Where the two captioned objects of each in-distribution item stand in the image, per flipped axis:
median horizontal and vertical offset between their segmentation centroids and median object side
(square root of its pixel count), at 128 px. ``twins_training.py --by-offset`` uses
:func:`pair_offset` to split a trained learner's lateral accuracy by how far apart the pair stands.

    python docs/results/minimal-pairs/pair_offsets.py    # uniform-id-v2 (world 1) and uniform-id-v3 (world 2)
"""

from collections import defaultdict

import numpy as np

from rls3_bench.analysis.blind import slice_attributes
from rls3_bench.backends.embedded import EmbeddedBackend
from rls3_bench.data.evalsets import EVAL_SETS, load_eval_set


def pair_offset(backend, sample) -> tuple[float, float, float, float] | None:
    """(|dx|, |dy|, side of A, side of B) in pixels of the sample's captioned pair, or None when
    either object shows no pixel."""
    _, a, b = sample.sample_id.rsplit(":", 2)  # sample ids end in the pair's object indices
    seg = backend.observe(sample.spec).segmentation
    ya, xa = np.nonzero(seg == int(a))
    yb, xb = np.nonzero(seg == int(b))
    if not (len(xa) and len(xb)):
        return None
    return abs(xa.mean() - xb.mean()), abs(ya.mean() - yb.mean()), np.sqrt(len(xa)), np.sqrt(len(xb))


def offsets_backend() -> EmbeddedBackend:
    return EmbeddedBackend(image_size=128, renderer="tiny", validity_version=2)


if __name__ == "__main__":
    for name in ("uniform-id-v2", "uniform-id-v3"):
        items = load_eval_set(name, EVAL_SETS[name].content_hash)
        axis = {a["item_id"]: a["flipped_axis"] for a in slice_attributes(items)}
        rows = defaultdict(list)
        with offsets_backend() as backend:
            for s in items:
                offset = pair_offset(backend, s)
                if offset is not None:
                    rows[axis[s.sample_id]].append(offset)
        for ax, r in sorted(rows.items()):
            r = np.array(r)
            dx, dy, side = np.median(r[:, 0]), np.median(r[:, 1]), np.median(r[:, 2:])
            print(f"{name} {ax}: {len(r)} items, median |dx| {dx:.1f} px, |dy| {dy:.1f} px, object side {side:.1f} px")
