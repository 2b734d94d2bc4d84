"""Reading tools: pandas tables across run records (``rls3-bench report``)."""

from __future__ import annotations

from pathlib import Path

from rls3_bench.records import iter_records
from rls3_bench.samples import TERMS


def results_table(results: Path):
    """One row per (track, generator, seed, budget): accuracy overall, per term and per complexity,
    plus the cell's cost."""
    import pandas as pd

    rows = []
    for _, rec in iter_records(results):
        cost = rec["cost"]
        for point in rec["curve"]:
            row = {"track": rec["track"], "generator": rec["generator_name"], "seed": rec["seed"], "budget": point["budget"],
                   "accuracy": point["accuracy"], **{f"acc_{t.replace(' ', '_')}": point["per_term"][t] for t in TERMS},
                   **{f"acc_{k}term": v for k, v in point["per_complexity"].items()},
                   "status": rec["status"], "scenes_rendered": cost["scenes_rendered"], "invalid_scenes": cost["invalid_scenes"],
                   "feedback_queries": cost["feedback_queries"], "rl_env_steps": cost["rl_env_steps"], "wall_seconds": rec.get("wall_seconds")}
            if "generative" in point:
                row["paligemma_score"] = point["generative"]["paligemma_score"]
                row["exact_match"] = point["generative"]["exact_match"]
            rows.append(row)
    return pd.DataFrame(rows)


def print_summary(results: Path, track_key: str) -> None:
    """Mean accuracy per generator and budget over seeds (the quick look after a run)."""
    df = results_table(results)
    if df.empty:
        print("no complete runs")
        return
    df = df[df.track == track_key]
    table = df.pivot_table(index="generator", columns="budget", values="accuracy", aggfunc="mean")
    print(f"\nmean 2-way accuracy on {track_key} (seeds: {df.seed.nunique()}):")
    print(table.round(3).to_string())
