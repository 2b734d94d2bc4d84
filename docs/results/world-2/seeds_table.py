"""Per-seed table of world-2 runs: val accuracy and group score, and the in-distribution twins overall
and per axis, for every budget of every complete record under the results folders given.

The group score is recomputed from each record's predictions, so records written before curve points
carried it are read the same way as newer ones. A track named ``clip-tiny-w2-look-<x>`` labels its
rows ``<generator> (<x>)``, so ablation tracks sit beside the plain one in one table.

    python docs/results/world-2/seeds_table.py OUT.csv RESULTS [RESULTS ...]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from rls3_bench.analysis.metrics import group_score, item_rows
from rls3_bench.data.evalsets import load_eval_set
from rls3_bench.harness.records import PREDICTIONS_FILE, iter_records, read_predictions

AXES = ("depth", "lateral", "vertical")


def rows_of(results: Path, eval_sets: dict) -> list[dict]:
    rows = []
    for folder, rec in iter_records(results):
        if rec["status"] != "complete":
            continue
        key = (rec["eval_set"], rec["eval_set_hash"])
        if key not in eval_sets:
            eval_sets[key] = load_eval_set(*key)
        predictions = read_predictions(folder / PREDICTIONS_FILE, rec.get("predictions_sha256"))
        suffix = rec["track"].rsplit("-v", 1)[0].removeprefix("clip-tiny-w2-look").lstrip("-")
        for point in rec["curve"]:
            by_axis = point.get("id_per_axis") or {}
            rows.append(
                {
                    "generator": rec["generator_name"] + (f" ({suffix})" if suffix else ""),
                    "seed": rec["seed"],
                    "budget": point["budget"],
                    "val_accuracy": round(point["accuracy"], 6),
                    "val_group_score": round(group_score(item_rows(eval_sets[key], predictions[point["budget"]])), 6),
                    "twins_accuracy": round(point["id_accuracy"], 6) if "id_accuracy" in point else None,
                    **{f"twins_{a}": round(by_axis[a], 6) for a in AXES if a in by_axis},
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("results", type=Path, nargs="+")
    args = parser.parse_args()
    eval_sets: dict = {}
    df = pd.DataFrame([row for results in args.results for row in rows_of(results, eval_sets)])
    df = df.sort_values(["generator", "seed", "budget"])
    df.to_csv(args.out, index=False)
    means = df.groupby(["generator", "budget"])[["val_accuracy", "val_group_score", "twins_accuracy"]]
    print(means.agg(["mean", "count"]).round(3).to_string())


if __name__ == "__main__":
    main()
