"""Image-caption samples: what generators deliver to learners and what eval sets hold."""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass

import numpy as np
from PIL import Image

from rls3_bench.scene.spec import SceneSpec

#: The six atomic spatial terms (paper): the order is the canonical one used in tables and arrays.
TERMS: tuple[str, ...] = ("left", "right", "above", "below", "in front", "behind")


@dataclass(frozen=True, eq=False)
class Sample:
    """One training/evaluation sample: a rendered scene and a caption about one ordered object pair.

    :param spec: the scene that was rendered.
    :param image: ``(H, W, 3)`` uint8 RGB.
    :param subject: caption name of object A (``"small pot"``).
    :param reference: caption name of object B (``"yellow bowl"``).
    :param terms: the true terms of "A is <terms> B", canonical order vertical, depth, lateral, 1-3 long.
    :param caption: the true caption, e.g. "The small pot is above, behind and to the left of the yellow bowl."
    :param negatives: guaranteed-false captions: ``negatives[k]`` has kind ``negative_kinds[k]``
        (``"flip:<term>"``: that term replaced by its opposite; ``"swap"``: A and B exchanged).
    :param prompt: PaliGemma-style question ("answer en where is the small pot relative to the yellow bowl?").
    :param answer: its answer ("above, behind and to the left").
    :param sample_id: stable id (spec digest + pair), used to pair predictions across runs.
    """

    spec: SceneSpec
    image: np.ndarray
    subject: str
    reference: str
    terms: tuple[str, ...]
    caption: str
    negatives: tuple[str, ...]
    negative_kinds: tuple[str, ...]
    prompt: str
    answer: str
    sample_id: str

    @property
    def complexity(self) -> int:
        """Number of terms in the caption (1, 2 or 3)."""
        return len(self.terms)

    @property
    def group(self) -> str:
        """Minimal-pair group id: items of one room and camera that ask the same two captions (the
        true one and ``negatives[0]``) share it. In a v2 eval set a group is a scene and its twin, in
        which the other caption is true; elsewhere a group is usually a single item. Derived from the
        item itself, so stored tables and content hashes carry it without a column of their own."""
        key = json.dumps(
            [
                self.spec.room,
                list(self.spec.camera.eye),
                list(self.spec.camera.target),
                sorted((self.caption, self.negatives[0])),
            ]
        )
        return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def png_bytes(image: np.ndarray) -> bytes:
    """Lossless, deterministic PNG encoding of an ``(H, W, 3)`` uint8 image."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image), mode="RGB").save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()


def image_from_png(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))
