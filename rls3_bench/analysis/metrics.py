"""Metrics, computed only from per-item predictions and the eval set's ground truth.

The same functions score a fresh run and re-score a submission, so a reported number can always be
recomputed from what is stored.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np

from rls3_bench.labels.sample import TERMS, Sample


def item_rows(items: Sequence[Sample], predictions: Iterable) -> list[dict]:
    """Join predictions (objects or dicts with item_id, score_true, score_negative, predicted_terms)
    to eval items by id. Raises ValueError if an item is missing or repeated."""
    by_id = {}
    for p in predictions:
        d = (
            p
            if isinstance(p, dict)
            else {
                "item_id": p.item_id,
                "score_true": p.score_true,
                "score_negative": p.score_negative,
                "predicted_terms": p.predicted_terms,
            }
        )
        if d["item_id"] in by_id:
            raise ValueError(f"item {d['item_id']} predicted twice")
        by_id[d["item_id"]] = d
    missing = [s.sample_id for s in items if s.sample_id not in by_id]
    extra = set(by_id) - {s.sample_id for s in items}
    if missing or extra:
        raise ValueError(f"predictions do not match the eval set: {len(missing)} missing, {len(extra)} unknown items")
    rows = []
    for s in items:
        d = by_id[s.sample_id]
        pt = d.get("predicted_terms")
        rows.append(
            {
                "item_id": s.sample_id,
                "terms": s.terms,
                "complexity": s.complexity,
                "group": s.group,
                "negative_kind": s.negative_kinds[0].split(":")[0],
                "score_true": float(d["score_true"]),
                "score_negative": float(d["score_negative"]),
                # ties count as wrong, so a constant model is not credited with 50 % by ordering luck
                "correct": bool(float(d["score_true"]) > float(d["score_negative"])),
                "predicted_terms": tuple(pt) if pt is not None else None,
            }
        )
    return rows


def _acc(rows: list[dict]) -> float:
    return float(np.mean([r["correct"] for r in rows])) if rows else float("nan")


def summarize(rows: list[dict]) -> dict:
    """Overall 2-way accuracy, per term (items whose caption has the term), per complexity, per
    negative kind; for generative learners also per-term precision/recall/F1, exact match and the
    PaliGemma score (see rls3_bench.learners.answers)."""
    out = {
        "accuracy": _acc(rows),
        "n_items": len(rows),
        "per_term": {t: _acc([r for r in rows if t in r["terms"]]) for t in TERMS},
        "per_complexity": {str(k): _acc([r for r in rows if r["complexity"] == k]) for k in (1, 2, 3)},
        "per_negative": {k: _acc([r for r in rows if r["negative_kind"] == k]) for k in ("flip", "swap")},
    }
    if has_twins(rows):  # minimal pairs: Winoground's group score beside accuracy
        out["group_score"] = group_score(rows)
    if rows and all(r["predicted_terms"] is not None for r in rows):
        from rls3_bench.learners.answers import paligemma_score

        gen = {}
        for t in TERMS:
            tp = sum(t in r["terms"] and t in r["predicted_terms"] for r in rows)
            fp = sum(t not in r["terms"] and t in r["predicted_terms"] for r in rows)
            fn = sum(t in r["terms"] and t not in r["predicted_terms"] for r in rows)
            p = tp / (tp + fp) if tp + fp else 0.0
            rc = tp / (tp + fn) if tp + fn else 0.0
            gen[t] = {"precision": p, "recall": rc, "f1": 2 * p * rc / (p + rc) if p + rc else 0.0}
        out["generative"] = {
            "per_term": gen,
            "exact_match": float(np.mean([set(r["terms"]) == set(r["predicted_terms"]) for r in rows])),
            "paligemma_score": float(np.mean([paligemma_score(r["terms"], r["predicted_terms"]) for r in rows])),
        }
    return out


def has_twins(rows: list[dict]) -> bool:
    """Whether some minimal-pair group (:attr:`Sample.group`) holds more than one of the item rows: a
    set with twins has a group score, a set of singletons has none."""
    return len({r["group"] for r in rows}) < len(rows)


def group_score(rows: list[dict]) -> float:
    """Fraction of minimal-pair groups (:attr:`Sample.group`) whose items are all answered right,
    Winoground's group score: an image-free model scores 0 on a twin-built set, where its item
    accuracy is exactly 0.5."""
    groups: dict[str, list[bool]] = defaultdict(list)
    for r in rows:
        groups[r["group"]].append(r["correct"])
    return float(np.mean([all(g) for g in groups.values()])) if groups else float("nan")


def slice_accuracies(items: Sequence[Sample], rows: list[dict]) -> dict[str, dict[str, float]]:
    """2-way accuracy per slice value (:data:`rls3_bench.analysis.blind.SLICES`: complexity, negative
    kind, flipped axis, stacked or not, decided by positions or by identity, pair-distance tercile),
    and the group score under ``{"group": {"score": ...}}`` where the set has minimal-pair groups of
    more than one item (a set of singletons has no twins, so no group score)."""
    from rls3_bench.analysis.blind import SLICES, slice_attributes

    correct = {r["item_id"]: r["correct"] for r in rows}
    attributes = slice_attributes(items)
    out = {
        name: {
            v: float(np.mean([correct[a["item_id"]] for a in attributes if a[name] == v]))
            for v in sorted({a[name] for a in attributes})
        }
        for name in SLICES
    }
    if has_twins(rows):
        out["group"] = {"score": group_score(rows)}
    return out
