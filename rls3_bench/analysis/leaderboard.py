"""Leaderboard tables from run records (a results folder or validated submissions).

Per track: for each budget of the ladder, one row per generator with the mean 2-way accuracy over
seeds and its whole-seed bootstrap CI, per-term accuracies, the data-efficiency summary (AULC with
CI) and the generation cost; and a comparison against the ``uniform-v1`` baseline: difference with
CI, exact permutation p over seeds, Holm-adjusted over the whole family (generators x budgets x
{overall + six terms}). Marks: ``▲`` significantly better than the baseline after Holm, ``▼``
significantly worse.

Pairing: seeds are matched across generators (same learner init and data order per seed), but the
paired sign-flip test cannot reach p < 0.05 with fewer than 6 seeds (minimum p = 2/2^S), so the
comparison is paired from 6 matched seeds on and unpaired (exact two-sample permutation) below.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rls3_bench.labels.sample import TERMS

BASELINE = "uniform-v1"
#: matched seeds from which the paired test is used (below it the paired test cannot reach 0.05)
PAIRED_FROM_SEEDS = 6
STATS_SEED = 20250131  # the bootstrap RNG seed: tables are reproducible bit for bit


@dataclass(frozen=True)
class Leaderboard:
    track: str
    budgets: tuple[int, ...]
    per_budget: dict[int, pd.DataFrame]   # display tables
    summary: pd.DataFrame                 # one row per generator: top-budget accuracy, AULC, cost
    comparisons: pd.DataFrame             # every generator x budget x metric comparison vs baseline
    long: pd.DataFrame                    # one row per (generator, seed, budget): the raw numbers


def long_frame(records: list[dict]) -> pd.DataFrame:
    rows = []
    for rec in records:
        if rec.get("status") != "complete":
            continue
        for p in rec["curve"]:
            rows.append({"generator": rec["generator_name"], "seed": rec["seed"], "budget": p["budget"], "accuracy": p["accuracy"],
                         **{t: p["per_term"][t] for t in TERMS},
                         "paligemma_score": p.get("generative", {}).get("paligemma_score", np.nan)})
    return pd.DataFrame(rows)


def _fmt(mean: float, low: float | None = None, high: float | None = None) -> str:
    if low is None or not np.isfinite(low) or low == high:  # no interval (too few seeds) is shown as none
        return f"{mean:.3f}"
    return f"{mean:.3f} [{low:.3f}, {high:.3f}]"


def cost_row(records: list[dict]) -> dict:
    """Mean generation cost per delivered sample over a generator's seeds."""
    def per_sample(rec, value):
        return value / max(rec["cost"]["samples_delivered"], 1)

    gen_secs = [per_sample(r, sum(r["cost"]["seconds"][k] for k in ("render", "label_caption", "feedback", "agent"))) for r in records]
    return {
        "scenes/sample": np.mean([per_sample(r, r["cost"]["scenes_rendered"]) for r in records]),
        "invalid %": 100 * np.mean([r["cost"]["invalid_scenes"] / max(r["cost"]["scenes_rendered"], 1) for r in records]),
        "queries/sample": np.mean([per_sample(r, r["cost"]["feedback_queries"]) for r in records]),
        "RL steps": np.mean([r["cost"]["rl_env_steps"] for r in records]),
        "gen s/sample": np.mean(gen_secs),
        "train s": np.mean([r["cost"]["seconds"]["train"] for r in records]),
        "wall s": np.mean([r.get("wall_seconds") or 0.0 for r in records]),
    }


def build_leaderboard(records: list[dict], baseline: str = BASELINE) -> Leaderboard:
    from rls3_bench.analysis import stats

    if not records:
        raise ValueError("no records")
    tracks = {r["track"] for r in records}
    if len(tracks) != 1:
        raise ValueError(f"records from several tracks: {sorted(tracks)}")
    df = long_frame(records)
    if df.empty:
        raise ValueError("no complete records")
    budgets = tuple(sorted(b for b in df.budget.unique() if b > 0))
    generators = sorted(df.generator.unique())
    rng = np.random.default_rng(STATS_SEED)

    def seeds_of(g: str, budget: int, metric: str = "accuracy") -> pd.Series:
        return df[(df.generator == g) & (df.budget == budget)].set_index("seed")[metric].sort_index()

    # --- comparisons against the baseline (one Holm family for the whole track) ------------------
    comp_rows = []
    if baseline in generators:
        for g in generators:
            if g == baseline:
                continue
            for b in budgets:
                for metric in ("accuracy", *TERMS):
                    a, base = seeds_of(g, b, metric), seeds_of(baseline, b, metric)
                    shared = a.index.intersection(base.index)
                    paired = len(shared) >= PAIRED_FROM_SEEDS and len(shared) == len(a) == len(base)
                    if min(len(a), len(base)) < 2:
                        continue
                    c = stats.compare_generators(a.loc[shared].to_numpy() if paired else a.to_numpy(),
                                                 base.loc[shared].to_numpy() if paired else base.to_numpy(), rng, paired=paired)
                    comp_rows.append({"generator": g, "budget": b, "metric": metric, "delta": c.delta, "low": c.low, "high": c.high,
                                      "p_perm": c.p_perm, "min_p": c.min_p, "paired": c.paired, "n_a": c.n_a, "n_b": c.n_b,
                                      "hedges_g": c.hedges_g, "p_improvement": c.prob_improvement})
    comparisons = pd.DataFrame(comp_rows)
    if not comparisons.empty:
        adj = stats.holm(pd.Series(comparisons.p_perm.to_numpy(), index=range(len(comparisons))))
        comparisons["p_holm"] = adj["p_holm"].to_numpy()
        comparisons["significant"] = adj["reject"].to_numpy()

    def mark(g: str, b: int, metric: str = "accuracy") -> str:
        if comparisons.empty:
            return ""
        hit = comparisons[(comparisons.generator == g) & (comparisons.budget == b) & (comparisons.metric == metric)]
        if hit.empty or not bool(hit.significant.iloc[0]):
            return ""
        return " ▲" if hit.delta.iloc[0] > 0 else " ▼"

    by_gen = {g: [r for r in records if r["generator_name"] == g and r.get("status") == "complete"] for g in generators}
    costs = {g: cost_row(by_gen[g]) for g in generators}

    # --- per-budget display tables ----------------------------------------------------------
    # one interval per (generator, budget), shown wherever that accuracy is (per-budget table, summary)
    accuracy_ci = {(g, b): stats.seed_mean_ci(seeds_of(g, b).to_numpy(), rng) for b in budgets for g in generators}
    per_budget = {}
    for b in budgets:
        rows = []
        for g in generators:
            acc, ci = seeds_of(g, b), accuracy_ci[g, b]
            row = {"generator": g, "seeds": len(acc), "accuracy [95% CI]": _fmt(ci.mean, ci.low, ci.high) + mark(g, b)}
            for t in TERMS:
                row[t] = _fmt(seeds_of(g, b, t).mean()) + mark(g, b, t)
            if not comparisons.empty and g != baseline:
                hit = comparisons[(comparisons.generator == g) & (comparisons.budget == b) & (comparisons.metric == "accuracy")]
                if not hit.empty:
                    row[f"Δ vs {baseline}"] = f"{hit.delta.iloc[0]:+.3f}"
                    row["p (Holm)"] = f"{hit.p_holm.iloc[0]:.3g}"
            rows.append({**row, **{k: round(v, 3) for k, v in costs[g].items()}})
        per_budget[b] = pd.DataFrame(rows).fillna("")

    # --- summary: base, top budget, data efficiency ------------------------------------------
    summary_rows = []
    for g in generators:
        wide = df[df.generator == g].pivot_table(index="seed", columns="budget", values="accuracy")
        ladder = [b for b in budgets if b in wide.columns]
        row = {"generator": g, "seeds": len(wide), "base": _fmt(wide[0].mean()) if 0 in wide.columns else ""}
        top = accuracy_ci[g, budgets[-1]]
        row[f"accuracy @ {budgets[-1]}"] = _fmt(top.mean, top.low, top.high) + mark(g, budgets[-1])
        if len(ladder) >= 2:
            au = stats.seed_mean_ci(stats.aulc(np.array(ladder), wide[ladder].to_numpy()), rng)
            row["AULC [95% CI]"] = _fmt(au.mean, au.low, au.high)
        if baseline in generators and g != baseline and len(ladder) >= 2:
            target = df[(df.generator == baseline) & (df.budget == budgets[-1])].accuracy.mean()
            reach = stats.budget_to_reach_ci(np.array(ladder), wide[ladder].to_numpy(), target, rng)
            row[f"budget to reach {baseline}@{budgets[-1]}"] = "never" if not np.isfinite(reach.median) else f"{reach.median:.0f} ({reach.frac_reached:.0%} of seeds)"
        summary_rows.append({**row, **{k: round(v, 3) for k, v in costs[g].items()}})
    summary = pd.DataFrame(summary_rows).fillna("")
    return Leaderboard(next(iter(tracks)), budgets, per_budget, summary, comparisons, df)


def to_markdown(lb: Leaderboard, figures: dict[str, Path] | None = None, relative_to: Path | None = None) -> str:
    lines = [f"# Leaderboard: {lb.track}", "",
             "Generated by `rls3-bench leaderboard` from run records; do not edit by hand.", "",
             f"2-way accuracy (true vs corrupted caption, chance 0.5) on the track's frozen test set, mean over seeds with a "
             f"95 % whole-seed bootstrap CI. ▲/▼: better/worse than {BASELINE} after Holm correction over all comparisons "
             f"(exact permutation test over seeds). Cost columns are per delivered sample unless noted.", "",
             "## Summary", "", lb.summary.to_markdown(index=False), ""]
    for b in reversed(lb.budgets):
        lines += [f"## Budget {b} samples", "", lb.per_budget[b].to_markdown(index=False), ""]
    if figures:
        lines += ["## Figures", ""]
        for name, path in figures.items():
            rel = Path(path).relative_to(relative_to) if relative_to else Path(path)
            lines += [f"![{name}]({rel.as_posix()})", ""]
    return "\n".join(lines)


def write_leaderboard(lb: Leaderboard, out_dir: Path, figures: dict[str, Path] | None = None) -> dict[str, Path]:
    """Markdown, CSV and HTML tables into ``out_dir`` (atomically)."""
    from rls3_bench.data.atomic import atomic_write_text

    out_dir = Path(out_dir)
    paths = {
        "markdown": atomic_write_text(out_dir / "leaderboard.md", to_markdown(lb, figures, out_dir)),
        "summary_csv": atomic_write_text(out_dir / "summary.csv", lb.summary.to_csv(index=False)),
        "budgets_csv": atomic_write_text(out_dir / "leaderboard.csv", pd.concat(
            [t.assign(budget=b) for b, t in lb.per_budget.items()], ignore_index=True).to_csv(index=False)),
        "comparisons_csv": atomic_write_text(out_dir / "comparisons.csv", lb.comparisons.to_csv(index=False)),
        "long_csv": atomic_write_text(out_dir / "per_seed.csv", lb.long.to_csv(index=False)),
    }
    try:
        from rls3_bench.analysis.html_page import render_leaderboard_html
    except ImportError:  # pragma: no cover - html.py ships with the package
        return paths
    tables = {"summary": lb.summary, **{f"budget {b}": lb.per_budget[b] for b in reversed(lb.budgets)}}
    paths["html"] = render_leaderboard_html(tables, figures or {}, out_dir / "index.html", title=f"rls3-bench leaderboard: {lb.track}")
    return paths
