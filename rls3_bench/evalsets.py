"""Frozen, versioned, content-hashed evaluation sets.

An eval set is regenerated bit-identically from its :class:`EvalSetSpec` (seeds from the ``eval``
namespace, which no generator can draw from) and cached as Parquet. Its content hash (every item's
spec, pair, caption, negatives and image bytes) is pinned in each track; evaluation refuses a set
whose hash differs.

Balance: the same number of items per complexity (1, 2, 3 terms) and, within each complexity, the
same number of occurrences of each of the six terms. Items are drawn by rejection from uniformly
random valid scenes: a scene contributes at most one pair, chosen at random among its captionable
pairs that still fit the quotas. A third of the items (every third index) use the A/B-swap negative,
the rest a single-term flip.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from rls3_bench.errors import UserError
from rls3_bench.relations import LabelConfig
from rls3_bench.samples import TERMS, Sample
from rls3_bench.seeds import rng_for

#: hard cap on scenes tried per item, so an unreachable quota fails loudly instead of looping
MAX_SCENES_PER_ITEM = 400


@dataclass(frozen=True)
class EvalSetSpec:
    """How an eval set is made. Change anything -> bump ``version`` (old results keep their meaning).

    :param name: registry name, ``<family>-v<version>-<split>``.
    :param split_key: seed key of the split (test and validation draw disjoint streams).
    :param per_complexity: items per complexity; must be divisible by 6.
    :param image_size: render size (px).
    :param renderer: renderer the images (and so the hash) belong to.
    """

    name: str
    version: int
    split_key: int
    per_complexity: int
    image_size: int = 128
    renderer: str = "tiny"

    def __post_init__(self) -> None:
        if self.per_complexity % 6:
            raise ValueError("per_complexity must be divisible by 6 to balance six terms")


EVAL_SETS: dict[str, EvalSetSpec] = {
    s.name: s
    for s in (
        EvalSetSpec("spatial-v1-test", version=1, split_key=0, per_complexity=240),
        EvalSetSpec("spatial-v1-val", version=1, split_key=1, per_complexity=60),
        # a small set for smoke runs and tests (same recipe, its own seeds)
        EvalSetSpec("spatial-v1-mini", version=1, split_key=2, per_complexity=24),
    )
}


def _quotas(per_complexity: int) -> dict[tuple[int, str], int]:
    """Term occurrences allowed per (complexity, term): k terms x n items spread over six terms."""
    return {(k, t): k * per_complexity // 6 for k in (1, 2, 3) for t in TERMS}


def build_eval_set(spec: EvalSetSpec, backend=None) -> list[Sample]:
    """Render the eval set from scratch (deterministic). Uses an embedded backend unless given one."""
    from rls3_bench.pipeline import observe_and_label, sample_for_pair
    from rls3_bench.sampling import random_spec

    own = backend is None
    if own:
        from rls3_bench.backends.embedded import EmbeddedBackend

        backend = EmbeddedBackend(image_size=spec.image_size, renderer=spec.renderer)
    rng = rng_for("eval", spec.version, spec.split_key)
    cfg = LabelConfig()
    quota = _quotas(spec.per_complexity)
    used = {key: 0 for key in quota}
    per_k = {1: 0, 2: 0, 3: 0}
    items: list[Sample] = []
    target = 3 * spec.per_complexity
    tries = 0
    try:
        while len(items) < target:
            tries += 1
            if tries > MAX_SCENES_PER_ITEM * target:
                raise RuntimeError(f"eval set {spec.name}: quotas unreachable after {tries} scenes ({per_k})")
            labelled = observe_and_label(backend, random_spec(rng), cfg)
            fits = [
                p for p in labelled.pairs
                if per_k[len(p.terms)] < spec.per_complexity and all(used[(len(p.terms), t)] < quota[(len(p.terms), t)] for t in p.terms)
            ]
            if not fits:
                continue
            pair = fits[int(rng.integers(len(fits)))]
            k = len(pair.terms)
            per_k[k] += 1
            for t in pair.terms:
                used[(k, t)] += 1
            items.append(sample_for_pair(labelled, pair, swap_first=len(items) % 3 == 2))
    finally:
        if own:
            backend.close()
    return items


def default_cache_dir() -> Path:
    return Path(os.environ.get("RLS3_BENCH_CACHE", Path.home() / ".cache" / "rls3-bench")) / "evalsets"


def load_eval_set(name: str, expected_hash: str | None = None, cache_dir: Path | None = None) -> list[Sample]:
    """The eval set ``name``, from the cache or rebuilt; checked against ``expected_hash`` if given.

    A cached file whose hash is wrong is rebuilt (and the rebuilt set must match), so a corrupted
    cache never reaches an evaluation.
    """
    from rls3_bench.datasets import content_hash, read_samples, write_samples

    if name not in EVAL_SETS:
        raise UserError(f"unknown eval set {name!r}; valid: {', '.join(sorted(EVAL_SETS))}")
    spec = EVAL_SETS[name]
    path = (cache_dir or default_cache_dir()) / f"{name}.parquet"
    if path.is_file():
        try:
            items = read_samples(path)
            if expected_hash is None or content_hash(items) == expected_hash:
                return items
        except UserError:
            pass  # unreadable cache: rebuild below
    items = build_eval_set(spec)
    actual = content_hash(items)
    if expected_hash is not None and actual != expected_hash:
        raise UserError(
            f"eval set {name} hashes to {actual[:12]}, the track expects {expected_hash[:12]}; "
            "your renderer or library versions differ from the tested ones (see constraints.txt)"
        )
    write_samples(path, items)
    return items
