"""Where a cell's per-seed variance comes from, one source at a time (in the manner of Bouthillier et
al., MLSys 2021, "Accounting for variance in machine learning benchmarks").

A benchmark seed sets two things: the generator's random stream (which scenes and captions it makes)
and the learner's (its initialisation and the order it sees each round's samples in). The eval set
adds a third source: its items are one draw of the construction process. The study varies each alone:

* ``generator``: generator seeds 0..n-1, learner seed 0;
* ``learner``: generator seed 0, learner seeds 0..n-1 (the cell (0, 0) serves both designs);
* ``eval_items``: for every cell of the study, the bootstrap variance of its accuracy over the eval
  items (items resampled with replacement; minimal-pair twins resampled together), averaged.

Per budget, each source's variance, SD and share of their sum, and what they imply: the seed count
that brings the minimum detectable effect of an unpaired comparison under a target, and the eval-set
size at which the items' share falls under the seeds'. Variances of a few seeds are rough (an SD from
5 seeds has a relative SE of about 35 %): the table prints the n it rests on.

Cells are written to ``<out>/cells/g<G>-l<L>.json`` as they finish (atomically), so a study resumes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from rls3_bench.data.atomic import atomic_write_json
from rls3_bench.errors import UserError

SOURCES = ("generator", "learner", "eval_items")
#: bootstrap resamples of the eval items per cell and budget
BOOTSTRAP = 1000


def study_cells(n: int) -> list[tuple[int, int]]:
    """(generator seed, learner seed) of every cell the study runs: n of each design, (0, 0) shared."""
    if n < 2:
        raise UserError(f"a variance study needs at least 2 seeds per source, got {n}; pass --seeds 2 or more")
    return [(g, 0) for g in range(n)] + [(0, lrn) for lrn in range(1, n)]


def _cell_path(out: Path, g: int, lrn: int) -> Path:
    return out / "cells" / f"g{g}-l{lrn}.json"


def _run_one(track_dict: dict, generator: str, g: int, lrn: int, out: str, threads: int) -> str:
    """One study cell in a worker process: its curve and per-item correctness per budget, as JSON."""
    import torch

    from rls3_bench.harness.cell import run_cell
    from rls3_bench.harness.tracks import track_from_dict

    track = track_from_dict(track_dict)
    torch.set_num_threads(threads)  # CPU reductions depend on it: every study cell uses the same count
    res = run_cell(track, generator, g, learner_seed=lrn)
    if res.status != "complete":
        raise RuntimeError(f"study cell g{g}-l{lrn} failed: {res.failure}")
    correct = {
        str(b): [int(p["score_true"] > p["score_negative"]) for p in preds]
        for b, preds in sorted(res.predictions.items())
    }
    ids = [p["item_id"] for p in res.predictions[min(res.predictions)]]
    path = _cell_path(Path(out), g, lrn)
    atomic_write_json(
        path,
        {
            "track": track.key,
            "track_digest": track.digest(),
            "generator": generator,
            "generator_seed": g,
            "learner_seed": lrn,
            "accuracy": {str(p["budget"]): p["accuracy"] for p in res.curve},
            "item_ids": ids,
            "correct": correct,
        },
    )
    return str(path)


def run_study(track, generator: str, n: int, out: Path, workers: int = 1, threads: int = 1) -> list[Path]:
    """Run the study's missing cells (``workers`` processes of ``threads`` torch threads each)."""
    out = Path(out)
    todo = [(g, lrn) for g, lrn in study_cells(n) if not _cell_path(out, g, lrn).is_file()]
    for g, lrn in study_cells(n):
        path = _cell_path(out, g, lrn)
        if path.is_file() and json.loads(path.read_text())["track_digest"] != track.digest():
            raise UserError(f"{path} was made with another track; use another --out folder")
    (out / "cells").mkdir(parents=True, exist_ok=True)
    args = [(track.to_dict(), generator, g, lrn, str(out), threads) for g, lrn in todo]
    if workers <= 1:
        done = [_run_one(*a) for a in args]
    else:
        import multiprocessing as mp

        with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
            done = list(pool.map(_run_one, *zip(*args, strict=True))) if args else []
    return [Path(p) for p in done]


def twin_set(name: str) -> bool:
    """Whether eval set ``name`` is made of minimal pairs (consecutive items are twins)."""
    from rls3_bench.data.evalsets import EVAL_SETS

    spec = EVAL_SETS[name]
    return spec.version >= 2 and spec.uniform_items is None


def _groups(item_ids: Sequence[str], eval_items, twins: bool) -> np.ndarray:
    """Resampling unit of each item: its minimal-pair group on a twin set, else the item itself."""
    by_id = {s.sample_id: i for i, s in enumerate(eval_items)}
    return np.array([by_id[i] // 2 if twins else by_id[i] for i in item_ids])


def _bootstrap_var(correct: np.ndarray, groups: np.ndarray, rng: np.random.Generator) -> float:
    units = np.unique(groups)
    sums = np.bincount(np.searchsorted(units, groups), weights=correct, minlength=len(units))
    sizes = np.bincount(np.searchsorted(units, groups), minlength=len(units))
    draw = rng.integers(0, len(units), size=(BOOTSTRAP, len(units)))
    acc = sums[draw].sum(1) / sizes[draw].sum(1)
    return float(acc.var(ddof=1))


def variance_table(
    out: Path, eval_items, twins: bool, seeds_for: Sequence[int] = (5, 10, 20), seed: int = 0
) -> pd.DataFrame:
    """Per budget: each source's variance, SD and share; MDE of an unpaired comparison at
    ``seeds_for`` seeds; the eval-set size at which items contribute as much variance as one seed's
    generator and learner sources together (larger sets shrink it in proportion)."""
    from rls3_bench.analysis.stats import min_detectable_effect

    cells = [json.loads(p.read_text()) for p in sorted((Path(out) / "cells").glob("g*-l*.json"))]
    if not cells:
        raise UserError(f"no study cells in {out}/cells; run `rls3-bench variance` first")
    rng = np.random.default_rng(seed)
    groups = _groups(cells[0]["item_ids"], eval_items, twins)
    rows = []
    for b in sorted({int(k) for k in cells[0]["accuracy"]}):
        gen = [c["accuracy"][str(b)] for c in cells if c["learner_seed"] == 0]
        lrn = [c["accuracy"][str(b)] for c in cells if c["generator_seed"] == 0]
        items = [_bootstrap_var(np.array(c["correct"][str(b)], float), groups, rng) for c in cells]
        var = {
            "generator": float(np.var(gen, ddof=1)) if len(gen) > 1 else math.nan,
            "learner": float(np.var(lrn, ddof=1)) if len(lrn) > 1 else math.nan,
            "eval_items": float(np.mean(items)),
        }
        total = sum(var.values())
        seed_var = var["generator"] + var["learner"]
        row = {"budget": b, "n_generator": len(gen), "n_learner": len(lrn), "n_cells": len(cells)}
        row["mean_accuracy"] = float(np.mean([c["accuracy"][str(b)] for c in cells]))
        for s in SOURCES:
            row[f"var_{s}"] = var[s]
            row[f"sd_{s}"] = math.sqrt(var[s]) if var[s] >= 0 else math.nan
            row[f"share_{s}"] = var[s] / total if total > 0 else math.nan
        sd_seed = math.sqrt(total) if total >= 0 else math.nan
        for k in seeds_for:
            row[f"mde_{k}_seeds"] = min_detectable_effect(sd_seed, k) if b and np.isfinite(sd_seed) else math.nan
        n_items = len(groups)  # items, not groups: the size an eval set is quoted by
        row["items_for_equal_share"] = (
            math.ceil(n_items * var["eval_items"] / seed_var) if seed_var > 0 and b else math.nan
        )
        rows.append(row)
    return pd.DataFrame(rows)


def table_markdown(df: pd.DataFrame) -> str:
    """The study as a markdown table: SD and share per source, and the MDE at each seed count."""
    mde_cols = [c for c in df.columns if c.startswith("mde_")]
    head = ["budget", "mean acc"] + [f"SD {s}" for s in SOURCES] + [f"share {s}" for s in SOURCES]
    head += [f"MDE {c.split('_')[1]} seeds" for c in mde_cols] + ["items for equal share"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, r in df.iterrows():
        cells = [str(int(r["budget"])), f"{r['mean_accuracy']:.3f}"]
        cells += [f"{r[f'sd_{s}']:.4f}" for s in SOURCES] + [f"{r[f'share_{s}']:.0%}" for s in SOURCES]
        cells += [f"{r[c]:.3f}" if np.isfinite(r[c]) else "-" for c in mde_cols]
        cells += [str(int(r["items_for_equal_share"])) if np.isfinite(r["items_for_equal_share"]) else "-"]
        lines.append("| " + " | ".join(cells) + " |")
    n = df.iloc[0]
    lines.append(
        f"\nSeeds per source: generator {int(n['n_generator'])}, learner {int(n['n_learner'])}; "
        f"eval items: bootstrap ({BOOTSTRAP} resamples, twins together) over {int(n['n_cells'])} cells."
    )
    return "\n".join(lines)
