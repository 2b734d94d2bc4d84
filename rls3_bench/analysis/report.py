"""Reading tools: pandas tables across run records (``rls3-bench report``)."""

from __future__ import annotations

from pathlib import Path

from rls3_bench.harness.formats import GENERATION_STAGES, Stage
from rls3_bench.harness.records import iter_records
from rls3_bench.labels.sample import TERMS


def results_table(results: Path):
    """One row per (track, generator, seed, budget): accuracy overall, per term and per complexity
    (and on the in-distribution set where the track has one), plus the cell's cost."""
    import pandas as pd

    rows = []
    for _, rec in iter_records(results):
        cost = rec["cost"]
        for point in rec["curve"]:
            row = {
                "track": rec["track"],
                "generator": rec["generator_name"],
                "seed": rec["seed"],
                "budget": point["budget"],
                "accuracy": point["accuracy"],
                "group_score": point.get("group_score", float("nan")),
                **{f"acc_{t.replace(' ', '_')}": point["per_term"][t] for t in TERMS},
                **{f"acc_{k}term": v for k, v in point["per_complexity"].items()},
                "status": rec["status"],
                "scenes_rendered": cost["scenes_rendered"],
                "invalid_scenes": cost["invalid_scenes"],
                "feedback_queries": cost["feedback_queries"],
                "rl_env_steps": cost["rl_env_steps"],
                "wall_seconds": rec.get("wall_seconds"),
            }
            if "id_accuracy" in point:
                row["id_accuracy"] = point["id_accuracy"]
                row.update({f"id_{a}": v for a, v in point.get("id_per_axis", {}).items()})
            if "generative" in point:
                row["paligemma_score"] = point["generative"]["paligemma_score"]
                row["exact_match"] = point["generative"]["exact_match"]
            rows.append(row)
    return pd.DataFrame(rows)


def records_with_slices(results: Path, track_key: str, items) -> list[dict]:
    """The complete records of ``track_key`` under ``results``, each with ``slices``: its top budget's
    accuracy per slice (:func:`rls3_bench.analysis.metrics.slice_accuracies`), read from its predictions
    on ``items``, the track's eval set."""
    from rls3_bench.analysis.metrics import item_rows, slice_accuracies
    from rls3_bench.harness.records import PREDICTIONS_FILE, read_predictions

    out = []
    for folder, rec in iter_records(results):
        if rec["track"] != track_key or rec["status"] != "complete":
            continue
        predictions = read_predictions(folder / PREDICTIONS_FILE, rec.get("predictions_sha256"))
        top = max(predictions)
        out.append(
            {**rec, "slices": {"budget": top, "accuracy": slice_accuracies(items, item_rows(items, predictions[top]))}}
        )
    return out


def slice_table(records: list[dict]):
    """Accuracy per slice value (rows) and generator (columns) at the records' top budget, mean over
    seeds; records without ``slices`` or of a lower top budget are left out."""
    import pandas as pd

    rows = [
        {
            "generator": r["generator_name"],
            "seed": r["seed"],
            "budget": r["slices"]["budget"],
            "slice": name,
            "value": value,
            "accuracy": acc,
        }
        for r in records
        if "slices" in r
        for name, values in r["slices"]["accuracy"].items()
        for value, acc in values.items()
    ]
    if not rows:
        return pd.DataFrame()
    df = pd.DataFrame(rows)
    df = df[df.budget == df.budget.max()]
    return df.pivot_table(index=["slice", "value"], columns="generator", values="accuracy", aggfunc="mean", sort=False)


def slices_report(results: Path):
    """Per track under ``results``: :func:`slice_table` of its complete runs (``rls3-bench report --slices``)."""
    import pandas as pd

    from rls3_bench.data.evalsets import load_eval_set

    first = {}
    for _, rec in iter_records(results):
        if rec["status"] == "complete":
            first.setdefault(rec["track"], rec)
    tables = []
    for track_key, rec in sorted(first.items()):
        table = slice_table(
            records_with_slices(results, track_key, load_eval_set(rec["eval_set"], rec["eval_set_hash"]))
        )
        tables.append(table.round(3).reset_index().assign(track=track_key))
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()


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


STAGES = tuple(stage.value for stage in (*GENERATION_STAGES, Stage.TRAIN, Stage.EVAL))


def stage_shares(results: Path, track_key: str | None = None):
    """Per generator: mean seconds per cell in each loop stage and each stage's share of their sum
    (the loop's overhead beyond rendering and training shows up as label_caption/feedback/agent)."""
    import pandas as pd

    rows = [
        {"generator": rec["generator_name"], **{s: rec["cost"]["seconds"].get(s, 0.0) for s in STAGES}}
        for _, rec in iter_records(results)
        if track_key in (None, rec["track"]) and rec.get("status") == "complete"
    ]
    if not rows:
        return pd.DataFrame()
    mean = pd.DataFrame(rows).groupby("generator").mean()
    shares = mean.div(mean.sum(axis=1), axis=0).mul(100).add_suffix(" %")
    return pd.concat([mean.round(1).add_suffix(" s"), shares.round(1)], axis=1)


#: what ``compare_table`` can compare: accuracy on the eval set, its group score (sets of minimal
#: pairs) and accuracy on the track's in-distribution set
COMPARE_METRICS = ("accuracy", "group_score", "id_accuracy")


def compare_table(results: Path, generator: str, track_key: str | None = None, seed: int = 0, metric: str = "accuracy"):
    """``generator`` against every other generator at every budget, paired by seed: mean difference
    in ``metric`` (one of :data:`COMPARE_METRICS`), bootstrap CI over whole seeds, exact sign-flip
    permutation p, that p Holm-corrected over every row of the table (the family a reader scans),
    the smallest p the seed count allows,
    the minimum detectable difference of this design (paired t, 80 % power, two-sided alpha 0.05,
    from the SD of the per-seed differences), and how many times the other's generation cost
    ``generator`` spends (seconds of render + label/caption + feedback + agent per delivered sample).
    Claim a difference only where ``p_holm`` is small; one that is neither significant nor above
    ``MDE`` is one this design could not see, not one shown absent."""
    import numpy as np
    import pandas as pd

    from rls3_bench.analysis import stats
    from rls3_bench.analysis.leaderboard import cost_row, long_frame
    from rls3_bench.errors import UserError

    records = [rec for _, rec in iter_records(results) if track_key in (None, rec["track"])]
    df = long_frame(records)
    if df.empty or generator not in set(df.generator):
        raise UserError(f"no complete runs of {generator} under {results}; check --compare against `rls3-bench report`")
    if metric not in COMPARE_METRICS:
        raise UserError(f"unknown metric {metric!r}; valid: {', '.join(COMPARE_METRICS)}")
    df = df.dropna(subset=[metric]) if metric in df else df.iloc[:0]
    if generator not in set(df.generator):
        raise UserError(
            f"{generator}'s runs under {results} have no {metric} (group_score needs an eval set of minimal pairs, "
            "id_accuracy a track with id_eval_set); compare --metric accuracy"
        )
    # the leaderboard's own "gen s/sample" (render + label/caption + feedback + agent per delivered sample)
    gen_cost = {
        g: cost_row([r for r in records if r["generator_name"] == g and r.get("status") == "complete"])["gen s/sample"]
        for g in set(df.generator)
    }
    rng = np.random.default_rng(seed)
    rows = []
    for other in sorted(set(df.generator) - {generator}):
        for budget in sorted(b for b in df.budget.unique() if b > 0):
            a = df[(df.generator == generator) & (df.budget == budget)].set_index("seed")[metric]
            b = df[(df.generator == other) & (df.budget == budget)].set_index("seed")[metric]
            shared = a.index.intersection(b.index).sort_values()
            if len(shared) < 2:
                continue
            a_s, b_s = a.loc[shared].to_numpy(), b.loc[shared].to_numpy()
            c = stats.compare_generators(a_s, b_s, rng, paired=True)
            sd = float(np.std(a_s - b_s, ddof=1))
            rows.append(
                {
                    "vs": other,
                    "budget": int(budget),
                    "seeds": len(shared),
                    "delta": round(c.delta, 4),
                    "95% CI": f"[{c.low:+.3f}, {c.high:+.3f}]",
                    "p_perm": c.p_perm,
                    "min_p": round(c.min_p, 4),
                    "MDE": round(stats.min_detectable_effect(sd, len(shared), paired=True), 4),
                    "wins": int((a_s > b_s).sum()),
                    "gen cost x": round(gen_cost[generator] / max(gen_cost[other], 1e-12), 1),
                }
            )
    if not rows:
        raise UserError(
            f"{generator} shares fewer than 2 seeds with every other generator under {results}; a paired comparison "
            "needs at least 2 (run more --seeds)"
        )
    table = pd.DataFrame(rows)
    table.insert(table.columns.get_loc("p_perm") + 1, "p_holm", stats.holm(table.p_perm).p_holm.round(4).to_numpy())
    table["p_perm"] = table.p_perm.round(4)
    return table
