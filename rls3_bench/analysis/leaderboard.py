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

Reference rows: control generators (records with ``control`` true: false captions, constant images,
eval-matched data) and the blind scorers (object prior, room prior) are listed in their own table,
never ranked and never in the Holm family. Each control is compared with the baseline at every budget (difference,
exact permutation p, uncorrected: these are checks of the board, not findings); a control that must
rank below the baseline (:data:`MUST_RANK_BELOW`) shows whether it does (p < 0.05). A blind row is
one number per eval set (no training, no seeds): what the set gives away without looking where the
objects stand.

Ladders: a board holds submissions of different ladders (a smoke preset beside the full ladder).
Each budget's table lists the generators that have it; comparisons are made where both sides have
the budget; AULC is taken over the budgets every row shares; the summary says which budgets each row
has. Every table holds numbers first (``*_numbers`` frames, written as the CSVs); the markdown and
HTML display strings are formatted from them last, and the HTML page sorts by the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from rls3_bench.analysis.blind import AXES
from rls3_bench.labels.sample import TERMS

BASELINE = "uniform-v1"
#: matched seeds from which the paired test is used (below it the paired test cannot reach 0.05)
PAIRED_FROM_SEEDS = 6
STATS_SEED = 20250131  # the bootstrap RNG seed: tables are reproducible bit for bit
#: controls the board checks are significantly below the baseline (their captions carry no information)
MUST_RANK_BELOW = ("control-flipped-v1",)
#: the significance level of that check
CHECK_ALPHA = 0.05


@dataclass(frozen=True)
class Leaderboard:
    track: str
    budgets: tuple[int, ...]  # every trained budget on the board
    shared_budgets: tuple[int, ...]  # the trained budgets every generator has (AULC is taken over them)
    per_budget_numbers: dict[int, pd.DataFrame]  # per budget: one row per generator that has it, numbers only
    summary_numbers: pd.DataFrame  # one row per generator, numbers (and its budgets, as text)
    comparisons: pd.DataFrame  # every generator x budget x metric comparison vs baseline
    long: pd.DataFrame  # one row per (generator, seed, budget): the raw numbers
    note: str  # one line: what this board can and cannot detect
    baseline: str = BASELINE
    reference_numbers: pd.DataFrame = None  # controls (per budget) and blind rows vs the baseline; never ranked
    slice_numbers: pd.DataFrame = None  # accuracy per (slice, value) row and generator column at the top budget

    @property
    def per_budget(self) -> dict[int, pd.DataFrame]:
        """The per-budget tables as displayed (strings formatted from the numbers)."""
        return {b: display_budget(self, b)[0] for b in self.budgets}

    @property
    def summary(self) -> pd.DataFrame:
        """The summary table as displayed."""
        return display_summary(self)[0]


def long_frame(records: list[dict]) -> pd.DataFrame:
    rows = []
    for rec in records:
        if rec.get("status") != "complete":
            continue
        for p in rec["curve"]:
            rows.append(
                {
                    "generator": rec["generator_name"],
                    "seed": rec["seed"],
                    "budget": p["budget"],
                    "accuracy": p["accuracy"],
                    **{t: p["per_term"][t] for t in TERMS},
                    "paligemma_score": p.get("generative", {}).get("paligemma_score", np.nan),
                    "id_accuracy": p.get("id_accuracy", np.nan),
                    # group score and per-axis columns only where a record has them, so boards without stay as they are
                    **({"group_score": p["group_score"]} if "group_score" in p else {}),
                    **{f"id_{a}": v for a, v in p.get("id_per_axis", {}).items()},
                }
            )
    return pd.DataFrame(rows)


def _fmt(mean: float, low: float | None = None, high: float | None = None) -> str:
    if mean is None or not np.isfinite(mean):
        return ""
    if low is None or not np.isfinite(low) or low == high:  # no interval (too few seeds) is shown as none
        return f"{mean:.3f}"
    return f"{mean:.3f} [{low:.3f}, {high:.3f}]"


#: cost columns: per delivered sample unless the name says seconds per run
COST_COLUMNS = ("scenes/sample", "invalid %", "queries/sample", "RL steps/sample", "gen s/sample", "train s", "wall s")


def cost_row(records: list[dict]) -> dict:
    """Mean generation cost over a generator's seeds: per delivered sample, except training and
    wall seconds (per run)."""

    def per_sample(rec, value):
        return value / max(rec["cost"]["samples_delivered"], 1)

    gen_secs = [
        per_sample(r, sum(r["cost"]["seconds"][k] for k in ("render", "label_caption", "feedback", "agent")))
        for r in records
    ]
    return {
        "scenes/sample": np.mean([per_sample(r, r["cost"]["scenes_rendered"]) for r in records]),
        "invalid %": 100
        * np.mean([r["cost"]["invalid_scenes"] / max(r["cost"]["scenes_rendered"], 1) for r in records]),
        "queries/sample": np.mean([per_sample(r, r["cost"]["feedback_queries"]) for r in records]),
        "RL steps/sample": np.mean([per_sample(r, r["cost"]["rl_env_steps"]) for r in records]),
        "gen s/sample": np.mean(gen_secs),
        "train s": np.mean([r["cost"]["seconds"]["train"] for r in records]),
        "wall s": np.mean([r.get("wall_seconds") or 0.0 for r in records]),
    }


def _ladder_text(budgets: list[int]) -> str:
    return ", ".join(str(b) for b in budgets)


def build_leaderboard(
    records: list[dict],
    baseline: str = BASELINE,
    reproduced: dict[str, str] | None = None,
    priors: list[dict] | None = None,
) -> Leaderboard:
    """All the board's numbers from complete run records of one track. ``reproduced``: generator ->
    what `rls3-bench reproduce` confirmed for it (a summary column when given). ``priors``: the blind
    scorers on the track's eval set (:func:`rls3_bench.analysis.blind.board_priors`), a reference row
    and a slice column each when given. Records with ``control`` true are reference rows."""
    from rls3_bench.analysis import stats

    if not records:
        raise ValueError("no records")
    tracks = {r["track"] for r in records}
    if len(tracks) != 1:
        raise ValueError(f"records from several tracks: {sorted(tracks)}")
    controls = {r["generator_name"] for r in records if r.get("control")}
    reference_records = [r for r in records if r["generator_name"] in controls]
    records = [r for r in records if r["generator_name"] not in controls]
    if not records:
        raise ValueError("only control generators' records; a board needs at least one ranked generator")
    df = long_frame(records)
    if df.empty:
        raise ValueError("no complete records")
    budgets = tuple(sorted(int(b) for b in df.budget.unique() if b > 0))
    generators = sorted(df.generator.unique())
    ladders = {g: sorted(int(b) for b in df[df.generator == g].budget.unique() if b > 0) for g in generators}
    shared = tuple(b for b in budgets if all(b in ladders[g] for g in generators))
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
                    c = versus(seeds_of(g, b, metric), seeds_of(baseline, b, metric), rng)
                    if c is None:  # also: one side lacks this budget
                        continue
                    comp_rows.append(
                        {
                            "generator": g,
                            "budget": b,
                            "metric": metric,
                            "delta": c.delta,
                            "low": c.low,
                            "high": c.high,
                            "p_perm": c.p_perm,
                            "min_p": c.min_p,
                            "paired": c.paired,
                            "n_a": c.n_a,
                            "n_b": c.n_b,
                            "hedges_g": c.hedges_g,
                            "p_improvement": c.prob_improvement,
                        }
                    )
    comparisons = pd.DataFrame(comp_rows)
    if not comparisons.empty:
        adj = stats.holm(pd.Series(comparisons.p_perm.to_numpy(), index=range(len(comparisons))))
        comparisons["p_holm"] = adj["p_holm"].to_numpy()
        comparisons["significant"] = adj["reject"].to_numpy()

    by_gen = {g: [r for r in records if r["generator_name"] == g and r.get("status") == "complete"] for g in generators}
    costs = {g: cost_row(by_gen[g]) for g in generators}

    # --- per-budget numbers: one interval per (generator, budget), used wherever that accuracy is shown
    accuracy_ci = {
        (g, b): stats.seed_mean_ci(seeds_of(g, b).to_numpy(), rng)
        for b in budgets
        for g in generators
        if b in ladders[g]
    }
    per_budget = {}
    for b in budgets:
        rows = []
        for g in generators:
            if b not in ladders[g]:
                continue
            ci = accuracy_ci[g, b]
            row = {
                "generator": g,
                "seeds": len(seeds_of(g, b)),
                "accuracy": ci.mean,
                "accuracy_low": ci.low,
                "accuracy_high": ci.high,
                **{t: seeds_of(g, b, t).mean() for t in TERMS},
                "delta": np.nan,
                "p_holm": np.nan,
                "id_accuracy": seeds_of(g, b, "id_accuracy").mean(),
                **{f"id_{a}": seeds_of(g, b, f"id_{a}").mean() for a in AXES if f"id_{a}" in df},
            }
            hit = _comparison(comparisons, g, b, "accuracy")
            if hit is not None:
                row["delta"], row["p_holm"] = float(hit.delta), float(hit.p_holm)
            rows.append({**row, **costs[g]})
        per_budget[b] = pd.DataFrame(rows)

    # --- summary numbers: base, top budget, data efficiency over the shared ladder ---------------
    top = budgets[-1]
    summary_rows = []
    for g in generators:
        wide = df[df.generator == g].pivot_table(index="seed", columns="budget", values="accuracy")
        row = {
            "generator": g,
            "budgets": _ladder_text(ladders[g]),
            "seeds": len(wide),
            "base": wide[0].mean() if 0 in wide.columns else np.nan,
        }
        ci = accuracy_ci.get((g, top))
        row.update(
            top_accuracy=ci.mean if ci else np.nan,
            top_low=ci.low if ci else np.nan,
            top_high=ci.high if ci else np.nan,
            aulc=np.nan,
            aulc_low=np.nan,
            aulc_high=np.nan,
            reach=np.nan,
            reach_seeds=np.nan,
        )
        if len(shared) >= 2:
            au = stats.seed_mean_ci(stats.aulc(np.array(shared), wide[list(shared)].to_numpy()), rng)
            row.update(aulc=au.mean, aulc_low=au.low, aulc_high=au.high)
        own = ladders[g]
        if baseline in generators and g != baseline and len(own) >= 2 and top in ladders[baseline]:
            target = df[(df.generator == baseline) & (df.budget == top)].accuracy.mean()
            reach = stats.budget_to_reach_ci(np.array(own), wide[own].to_numpy(), target, rng)
            row.update(reach=reach.median, reach_seeds=reach.frac_reached)
        if reproduced is not None:
            row["reproduced"] = reproduced.get(g, "")
        summary_rows.append({**row, **costs[g]})
    summary = pd.DataFrame(summary_rows)
    reference = reference_rows(reference_records, df, baseline, rng, priors or [])
    slices = slice_numbers(records + reference_records, top, priors or [])
    lb = Leaderboard(
        next(iter(tracks)), budgets, shared, per_budget, summary, comparisons, df, "", baseline, reference, slices
    )
    return replace(lb, note=detection_note(lb))


def slice_numbers(records: list[dict], top: int, priors: list[dict]) -> pd.DataFrame:
    """Mean accuracy over seeds per slice value (rows) and generator (columns: ranked, then controls,
    then the blind priors) at budget ``top``, from the records' ``slices``; empty if none has them."""
    from rls3_bench.analysis.report import slice_table

    table = slice_table([r for r in records if r.get("slices", {}).get("budget") == top])
    if table.empty:
        return table
    controls = {r["generator_name"] for r in records if r.get("control")}
    table = table[sorted(table.columns, key=lambda g: (g in controls, g))]
    for prior in priors:
        table[prior["name"]] = [
            prior["slices"].get(name, {}).get(value, {}).get("accuracy", np.nan) for name, value in table.index
        ]
    table.columns.name = None
    return table


def reference_rows(
    control_records: list[dict], ranked: pd.DataFrame, baseline: str, rng, priors: list[dict]
) -> pd.DataFrame:
    """One row per (control, budget) with its accuracy CI and its uncorrected comparison with the
    baseline (paired as the ranked comparisons are), then a row per blind prior; empty if neither."""
    from rls3_bench.analysis import stats

    df = long_frame(control_records)
    rows = []
    for g in sorted(df.generator.unique()) if not df.empty else []:
        for b in sorted(int(x) for x in df[df.generator == g].budget.unique() if x > 0):
            a = df[(df.generator == g) & (df.budget == b)].set_index("seed").accuracy.sort_index()
            base = ranked[(ranked.generator == baseline) & (ranked.budget == b)].set_index("seed").accuracy.sort_index()
            ci = stats.seed_mean_ci(a.to_numpy(), rng)
            row = {
                "kind": "control",
                "generator": g,
                "budget": b,
                "seeds": len(a),
                "accuracy": ci.mean,
                "accuracy_low": ci.low,
                "accuracy_high": ci.high,
                "delta": np.nan,
                "p_perm": np.nan,
                "min_p": np.nan,
                "check": "",
            }
            c = versus(a, base, rng)
            if c is not None:
                row.update(delta=c.delta, p_perm=c.p_perm, min_p=c.min_p)
                if g in MUST_RANK_BELOW:
                    row["check"] = (
                        f"passes: below {baseline}"
                        if c.delta < 0 and c.p_perm < CHECK_ALPHA
                        else f"FAILS: not significantly below {baseline}"
                    )
            rows.append(row)
    for prior in priors:
        rows.append(
            {
                "kind": f"blind: {prior['label']} fitted on {prior['n_captions']} uniform-v1 captions",
                "generator": prior["name"],
                "budget": 0,
                "seeds": 0,
                "accuracy": prior["accuracy"],
                "accuracy_low": np.nan,
                "accuracy_high": np.nan,
                "delta": np.nan,
                "p_perm": np.nan,
                "min_p": np.nan,
                "check": "",
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "kind",
            "generator",
            "budget",
            "seeds",
            "accuracy",
            "accuracy_low",
            "accuracy_high",
            "delta",
            "p_perm",
            "min_p",
            "check",
        ],
    )


def versus(a: pd.Series, base: pd.Series, rng):
    """``a`` (per-seed metric, indexed by seed) against ``base``: paired over matched seeds from
    :data:`PAIRED_FROM_SEEDS` on, unpaired below; None when a side has fewer than 2 seeds."""
    from rls3_bench.analysis import stats

    if min(len(a), len(base)) < 2:
        return None
    shared = a.index.intersection(base.index)
    paired = len(shared) >= PAIRED_FROM_SEEDS and len(shared) == len(a) == len(base)
    return stats.compare_generators(
        a.loc[shared].to_numpy() if paired else a.to_numpy(),
        base.loc[shared].to_numpy() if paired else base.to_numpy(),
        rng,
        paired=paired,
    )


def _comparison(comparisons: pd.DataFrame, g: str, b: int, metric: str):
    if comparisons.empty:
        return None
    hit = comparisons[(comparisons.generator == g) & (comparisons.budget == b) & (comparisons.metric == metric)]
    return None if hit.empty else hit.iloc[0]


def detection_note(lb: Leaderboard) -> str:
    """One line: the smallest p the board's tests can give (before and after Holm) and the minimum
    detectable effect at its top shared budget, so a table without marks is read as what it is."""
    from rls3_bench.analysis import stats

    if lb.comparisons.empty:
        return (
            f"What this board can detect: nothing; it needs {lb.baseline} and another generator with at least 2 "
            "seeds at a shared budget."
        )
    n_a, n_b = int(lb.comparisons.n_a.min()), int(lb.comparisons.n_b.min())
    paired = bool(lb.comparisons.paired.all())
    min_p = stats.min_attainable_p(n_a, paired, None if paired else n_b)
    family = len(lb.comparisons)
    min_holm = min(1.0, min_p * family)
    verdict = (
        "so no ▲/▼ is possible on this board whatever the data; add seeds"
        if min_holm > 0.05
        else "so a mark is possible"
    )
    b = (lb.shared_budgets or lb.budgets)[-1]
    sds = [
        lb.long[(lb.long.generator == g) & (lb.long.budget == b)].accuracy.std(ddof=1)
        for g in lb.long.generator.unique()
    ]
    sds = [s for s in sds if np.isfinite(s)]
    s = min(n_a, n_b)
    mde = (
        f"the minimum detectable difference (80 % power, α = 0.05, {s} seeds a side, the seeds' spread at budget {b}) "
        f"is {stats.min_detectable_effect(float(np.sqrt(np.mean(np.square(sds)))), s):.3f} accuracy"
        if sds and s >= 2
        else "the minimum detectable difference cannot be estimated (under 2 seeds)"
    )
    return (
        f"What this board can detect: with {n_a} vs {n_b} seeds the smallest attainable p is {min_p:.3g} "
        f"({'paired' if paired else 'unpaired'} exact permutation test), {min_holm:.3g} after Holm over "
        f"{family} comparisons, {verdict}; {mde}."
    )


# --- formatting, last ---------------------------------------------------------------------------
def _mark(lb: Leaderboard, g: str, b: int, metric: str = "accuracy") -> str:
    hit = _comparison(lb.comparisons, g, b, metric)
    if hit is None or not bool(hit.significant):
        return ""
    return " ▲" if hit.delta > 0 else " ▼"


def _cost_display(row) -> dict:
    return {k: round(float(row[k]), 3) for k in COST_COLUMNS}


#: the per-budget column of the track's in-distribution accuracy (shown when the track has that set)
ID_COLUMN = "in-distribution accuracy"


def display_budget(lb: Leaderboard, b: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Budget ``b``'s table as displayed, and the number each formatted cell sorts by."""
    rows, keys = [], []
    has_delta = lb.per_budget_numbers[b].delta.notna().any()
    has_id = lb.per_budget_numbers[b].id_accuracy.notna().any()
    for _, n in lb.per_budget_numbers[b].iterrows():
        g = n.generator
        row = {
            "generator": g,
            "seeds": int(n.seeds),
            "accuracy [95% CI]": _fmt(n.accuracy, n.accuracy_low, n.accuracy_high) + _mark(lb, g, b),
        }
        key = {"accuracy [95% CI]": n.accuracy}
        if has_id:  # in-distribution accuracy beside the test set's, and per flipped axis
            row[ID_COLUMN], key[ID_COLUMN] = _fmt(n.id_accuracy), n.id_accuracy
            for a in AXES:
                if f"id_{a}" in n:
                    row[f"{ID_COLUMN}, {a}"], key[f"{ID_COLUMN}, {a}"] = _fmt(n[f"id_{a}"]), n[f"id_{a}"]
        for t in TERMS:
            row[t], key[t] = _fmt(n[t]) + _mark(lb, g, b, t), n[t]
        if has_delta:
            row[f"Δ vs {lb.baseline}"] = f"{n.delta:+.3f}" if np.isfinite(n.delta) else ""
            row["p (Holm)"] = f"{n.p_holm:.3g}" if np.isfinite(n.p_holm) else ""
            key[f"Δ vs {lb.baseline}"], key["p (Holm)"] = n.delta, n.p_holm
        rows.append({**row, **_cost_display(n)})
        keys.append(key)
    return pd.DataFrame(rows), pd.DataFrame(keys)


def display_reference(lb: Leaderboard) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The reference rows as displayed (budget 0: no training), and the numbers they sort by."""
    rows, keys = [], []
    for _, n in lb.reference_numbers.iterrows():
        rows.append(
            {
                "reference": n.generator,
                "kind": n.kind,
                "budget": int(n.budget),
                "seeds": int(n.seeds),
                "accuracy [95% CI]": _fmt(n.accuracy, n.accuracy_low, n.accuracy_high),
                f"Δ vs {lb.baseline}": f"{n.delta:+.3f}" if np.isfinite(n.delta) else "",
                "p (uncorrected)": f"{n.p_perm:.3g}" if np.isfinite(n.p_perm) else "",
                "check": n.check,
            }
        )
        keys.append(
            {
                "budget": n.budget,
                "seeds": n.seeds,
                "accuracy [95% CI]": n.accuracy,
                f"Δ vs {lb.baseline}": n.delta,
                "p (uncorrected)": n.p_perm,
            }
        )
    return pd.DataFrame(rows), pd.DataFrame(keys)


def has_slices(lb: Leaderboard) -> bool:
    return lb.slice_numbers is not None and not lb.slice_numbers.empty


def display_slices(lb: Leaderboard) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The slice table as displayed (3 decimals, blank where a generator lacks a value), and its numbers."""
    numbers = lb.slice_numbers.reset_index()
    shown = numbers.copy()
    for column in lb.slice_numbers.columns:
        shown[column] = [_fmt(v) for v in numbers[column]]
    return shown, numbers.drop(columns=["slice", "value"])


SLICE_NOTE = (
    "Accuracy per slice of the eval set at the top budget, mean over seeds (chance 0.5): negative kind (a term flipped "
    "or A and B swapped), the flipped axis, stacked (only above/below terms) or not, decided by positions (a one-term "
    "flip of a 2- or 3-term caption: the layout alone tells the captions apart) or by identity (only knowing which "
    "object is which does: the grounding slice; docs/validity.md), the pair's distance tercile, complexity, and where "
    "the set has minimal pairs the group score (both twins right; chance 0.25, an image-free model scores 0)."
)


def display_summary(lb: Leaderboard) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The summary as displayed, and the number each formatted cell sorts by."""
    top = lb.budgets[-1]
    acc_col, reach_col = f"accuracy @ {top}", f"budget to reach {lb.baseline}@{top}"
    aulc_col = f"AULC {lb.shared_budgets[0]}–{lb.shared_budgets[-1]} [95% CI]" if len(lb.shared_budgets) >= 2 else None
    rows, keys = [], []
    for _, n in lb.summary_numbers.iterrows():
        g = n.generator
        row = {
            "generator": g,
            "budgets": n.budgets,
            "seeds": int(n.seeds),
            "base": _fmt(n.base),
            acc_col: _fmt(n.top_accuracy, n.top_low, n.top_high)
            + (_mark(lb, g, top) if np.isfinite(n.top_accuracy) else ""),
        }
        key = {"base": n.base, acc_col: n.top_accuracy}
        if aulc_col:
            row[aulc_col], key[aulc_col] = _fmt(n.aulc, n.aulc_low, n.aulc_high), n.aulc
        if lb.baseline in set(lb.summary_numbers.generator):
            computed = np.isfinite(n.reach_seeds)  # the baseline's own row and rows too short for a ladder are not
            row[reach_col] = (
                f"{n.reach:.0f} ({n.reach_seeds:.0%} of seeds)"
                if np.isfinite(n.reach)
                else f"not by {n.budgets.split(', ')[-1]}"
                if computed
                else ""
            )
            key[reach_col] = n.reach if np.isfinite(n.reach) else (np.inf if computed else np.nan)
        if "reproduced" in n:
            row["reproduced"] = n.reproduced
        rows.append({**row, **_cost_display(n)})
        keys.append(key)
    return pd.DataFrame(rows).fillna(""), pd.DataFrame(keys)


def intro(lb: Leaderboard) -> list[str]:
    """The paragraphs above the tables (markdown and HTML)."""
    return [
        "2-way accuracy (true vs corrupted caption, chance 0.5) on the track's frozen test set, mean over each "
        "row's seeds (the seeds column) with a 95 % whole-seed bootstrap CI. ▲/▼: better/worse than "
        f"{lb.baseline} after Holm correction over all comparisons (exact permutation test over seeds), made at "
        "every budget both generators have. Cost columns are per delivered sample except train s and wall s "
        "(seconds per run).",
        lb.note,
        *([reference_note(lb)] if has_reference(lb) else []),
    ]


def reference_note(lb: Leaderboard) -> str:
    checked = [g for g in MUST_RANK_BELOW if g in set(lb.reference_numbers.generator)]
    return (
        f"Reference rows (not ranked, not in the Holm family): control generators and blind baselines; Δ and p "
        f"(exact permutation over seeds, uncorrected) compare each with {lb.baseline} at the same budget."
        + (
            f" {', '.join(checked)} must be significantly below {lb.baseline}, or the board's tests or the learner's "
            f"evaluation are broken."
            if checked
            else ""
        )
    )


def has_reference(lb: Leaderboard) -> bool:
    return lb.reference_numbers is not None and not lb.reference_numbers.empty


def to_markdown(lb: Leaderboard, figures: dict[str, Path] | None = None, relative_to: Path | None = None) -> str:
    lines = [
        f"# Leaderboard: {lb.track}",
        "",
        "Generated by `rls3-bench leaderboard` from run records; do not edit by hand.",
        "",
    ]
    for paragraph in intro(lb):
        lines += [paragraph, ""]
    lines += ["## Summary", "", lb.summary.to_markdown(index=False), ""]
    if has_reference(lb):
        lines += ["## Reference rows (not ranked)", "", display_reference(lb)[0].to_markdown(index=False), ""]
    if has_slices(lb):
        lines += [
            f"## Slices at budget {lb.budgets[-1]}",
            "",
            SLICE_NOTE,
            "",
            display_slices(lb)[0].to_markdown(index=False),
            "",
        ]
    for b in reversed(lb.budgets):
        lines += [f"## Budget {b} samples", "", lb.per_budget[b].to_markdown(index=False), ""]
    if figures:
        lines += ["## Figures", ""]
        for name, path in figures.items():
            rel = Path(path).relative_to(relative_to) if relative_to else Path(path)
            lines += [f"![{name}]({rel.as_posix()})", ""]
    return "\n".join(lines)


def write_leaderboard(lb: Leaderboard, out_dir: Path, figures: dict[str, Path] | None = None) -> dict[str, Path]:
    """Markdown, numeric CSVs and the HTML page into ``out_dir`` (atomically)."""
    from rls3_bench.analysis.html_page import render_leaderboard_html
    from rls3_bench.data.atomic import atomic_write_text

    out_dir = Path(out_dir)
    paths = {
        "markdown": atomic_write_text(out_dir / "leaderboard.md", to_markdown(lb, figures, out_dir)),
        "summary_csv": atomic_write_text(out_dir / "summary.csv", lb.summary_numbers.to_csv(index=False)),
        "budgets_csv": atomic_write_text(
            out_dir / "leaderboard.csv",
            pd.concat([t.assign(budget=b) for b, t in lb.per_budget_numbers.items()], ignore_index=True).to_csv(
                index=False
            ),
        ),
        "comparisons_csv": atomic_write_text(out_dir / "comparisons.csv", lb.comparisons.to_csv(index=False)),
        "long_csv": atomic_write_text(out_dir / "per_seed.csv", lb.long.to_csv(index=False)),
    }
    if has_reference(lb):
        paths["reference_csv"] = atomic_write_text(out_dir / "reference.csv", lb.reference_numbers.to_csv(index=False))
    if has_slices(lb):
        paths["slices_csv"] = atomic_write_text(
            out_dir / "slices.csv", lb.slice_numbers.reset_index().to_csv(index=False)
        )
    tables = {
        "summary": display_summary(lb),
        **({"reference rows (not ranked)": display_reference(lb)} if has_reference(lb) else {}),
        **({f"slices at budget {lb.budgets[-1]}": display_slices(lb)} if has_slices(lb) else {}),
        **{f"budget {b}": display_budget(lb, b) for b in reversed(lb.budgets)},
    }
    paths["html"] = render_leaderboard_html(
        {k: v[0] for k, v in tables.items()},
        figures or {},
        out_dir / "index.html",
        title=f"rls3-bench leaderboard: {lb.track}",
        notes="\n\n".join(intro(lb)),
        sort_keys={k: v[1] for k, v in tables.items()},
    )
    return paths
