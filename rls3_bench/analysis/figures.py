"""Paper-style figures from run records (RLS3, Waite et al. ICCPS 2025, and what we add to it).

Every function takes a list of run records (the dicts that ``records.iter_records`` yields; nothing
else) and returns ``(fig, ax)`` or ``(fig, axes)``. ``make_figures`` writes all of them to a folder.

- ``accuracy_curve``: mean 2-way accuracy vs cumulative generated samples, ±1 s.d. over seeds (the
  paper's main figure); ``metric="paligemma_score"`` draws the PaliGemma score instead.
- ``term_radar``: per-term accuracy, base model vs each generator at the top budget.
- ``complexity_curves``: accuracy by caption complexity (1/2/3 terms) vs budget, one panel per generator.
- ``term_distribution``: share of each term in each generator's delivered data.
- ``rl_curves``: per-episode RL rewards and feasibility of the generators that record a history.
- ``gallery``: a few delivered samples per generator with their captions.
- ``accuracy_vs_cost``: top-budget accuracy vs generation seconds per delivered sample.

Output is deterministic: matplotlib's defaults (not the user's matplotlibrc) plus a fixed style,
fixed figure sizes and dpi, and no dates or software versions in the files' metadata, so the same
records give the same bytes. Colours are fixed per generator by sorted name, identical in every figure.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import io
import math
import textwrap
from collections.abc import Callable
from pathlib import Path

import matplotlib
import matplotlib.patches
import matplotlib.ticker

matplotlib.use("Agg", force=False)  # no display needed; an interactive session keeps its own backend

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from rls3_bench.data.atomic import atomic_write_bytes
from rls3_bench.harness import formats
from rls3_bench.labels.sample import TERMS

COMPLEXITIES = ("1", "2", "3")
#: radar axes in this order put each term opposite its opposite (left/right, above/below, front/behind)
RADAR_ORDER = ("left", "above", "in front", "right", "below", "behind")
DPI = 150
#: the generation stages of the cost (training and evaluation are the learner's, equal for all)
GENERATION_STAGES = tuple(stage.value for stage in formats.GENERATION_STAGES)
BASE_COLOUR = "#333333"
_PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#aec7e8",
    "#ffbb78",
    "#98df8a",
    "#ff9896",
    "#c5b0d5",
    "#c49c94",
    "#f7b6d2",
    "#c7c7c7",
    "#dbdb8d",
    "#9edae5",
)
#: per output format: metadata that would otherwise carry a date or a version into the file
_METADATA = {
    "png": {"Software": None},
    "pdf": {"CreationDate": None, "Producer": None, "Creator": None},
    "svg": {"Date": None, "Creator": None},
}
_STYLE = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "lines.linewidth": 1.6,
    "savefig.dpi": DPI,
    "figure.dpi": DPI,
    "svg.hashsalt": "rls3-bench",
    "pdf.fonttype": 42,
}


# --- shared helpers --------------------------------------------------------------------------
def _styled(fn: Callable) -> Callable:
    """Run a figure function under matplotlib's defaults plus the project style, whatever the
    user's matplotlibrc says, so a figure looks (and hashes) the same on every machine."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with matplotlib.rc_context():
            matplotlib.rcdefaults()
            matplotlib.rcParams.update(_STYLE)
            return fn(*args, **kwargs)

    return wrapper


def _figure(width: float, height: float) -> Figure:
    # a bare Figure (not pyplot): nothing is kept in a global registry, so many figures cost no leak
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _name(rec: dict) -> str:
    return str(rec.get("generator_name") or rec.get("generator") or "?")


def _by_generator(records: list[dict]) -> dict[str, list[dict]]:
    """Complete records grouped by generator name (sorted), each group sorted by seed."""
    out: dict[str, list[dict]] = {}
    for rec in records:
        if rec.get("status", "complete") != "complete":
            continue
        out.setdefault(_name(rec), []).append(rec)
    return {g: sorted(out[g], key=lambda r: (r.get("seed") is None, r.get("seed", 0))) for g in sorted(out)}


#: the built-in generators' colours and markers, fixed; every other generator's come from its name
_BUILTIN_STYLES = {
    "uniform-v1": ("#1f77b4", "o"),
    "balanced-v1": ("#ff7f0e", "s"),
    "weakness-v1": ("#2ca02c", "^"),
    "rls3-random-v1": ("#d62728", "v"),
    "rls3-sac-v1": ("#9467bd", "P"),
}
_MARKERS = ("o", "s", "^", "v", "P", "X", "h", "<", ">", "p", "*")  # "D" is the base model's


def generator_style(name: str) -> tuple[str, str]:
    """A generator's (colour, marker), the same on every figure whatever other generators it is
    drawn with: fixed for the built-ins, else from a stable hash (SHA-256) of the name into the
    colours the built-ins leave free. Two contributed names can share a colour; the marker then
    usually tells them apart."""
    if name in _BUILTIN_STYLES:
        return _BUILTIN_STYLES[name]
    taken = {c for c, _ in _BUILTIN_STYLES.values()}
    free = [c for c in _PALETTE if c not in taken]
    h = int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big")
    return free[h % len(free)], _MARKERS[(h // len(free)) % len(_MARKERS)]


def generator_colours(records_or_names) -> dict[str, str]:
    """Generator name -> colour (:func:`generator_style`), in sorted name order."""
    names = sorted({n if isinstance(n, str) else _name(n) for n in records_or_names})
    return {g: generator_style(g)[0] for g in names}


def generator_markers(records_or_names) -> dict[str, str]:
    """Generator name -> marker (:func:`generator_style`), in sorted name order."""
    names = sorted({n if isinstance(n, str) else _name(n) for n in records_or_names})
    return {g: generator_style(g)[1] for g in names}


def _value(point: dict, metric: str, key: str | None = None) -> float:
    """One number from a curve point: ``accuracy``, ``paligemma_score``/``exact_match`` (generative),
    or ``per_term``/``per_complexity``/``per_negative`` with ``key``; NaN when missing."""
    if key is not None:
        v = (point.get(metric) or {}).get(key)
    elif metric in point:
        v = point.get(metric)
    else:
        v = (point.get("generative") or {}).get(metric)
    try:
        return float(v) if v is not None else math.nan
    except (TypeError, ValueError):
        return math.nan


def _seed_matrix(recs: list[dict], metric: str, key: str | None = None) -> tuple[list[int], np.ndarray]:
    """Budgets (sorted, 0 included when present) and an (S, K) array of the metric, NaN where missing."""
    budgets = sorted({int(p["budget"]) for r in recs for p in r.get("curve") or [] if "budget" in p})
    col = {b: j for j, b in enumerate(budgets)}
    m = np.full((len(recs), len(budgets)), np.nan)
    for i, r in enumerate(recs):
        for p in r.get("curve") or []:
            if "budget" in p:
                m[i, col[int(p["budget"])]] = _value(p, metric, key)
    return budgets, m


def _mean_sd(m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Column mean, sample s.d. (0 where one seed) and seed count, ignoring NaN."""
    n = np.sum(np.isfinite(m), axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, np.nansum(m, axis=0) / np.maximum(n, 1), np.nan)
        dev = np.where(np.isfinite(m), m - mean, 0.0)
        sd = np.where(n > 1, np.sqrt(np.sum(dev**2, axis=0) / np.maximum(n - 1, 1)), 0.0)
    return mean, sd, n


def _count_label(n: float) -> str:
    """2048 -> "2048", 16000 -> "16k", 98304 -> "98.3k": short tick labels for sample counts."""
    n = int(n)
    if n < 10_000:
        return str(n)
    return f"{n / 1000:.0f}k" if n % 1000 == 0 else f"{n / 1000:.1f}k"


def _budget_axis(ax, budgets: list[int], has_base: bool) -> float | None:
    """log2 x axis over the positive budgets; budget 0 (the base model) drawn one octave left of the
    smallest budget, labelled "base". Returns the x position used for budget 0 (None if none)."""
    pos = [b for b in budgets if b > 0]
    ax.set_xscale("log", base=2)
    ticks = list(pos)
    labels = [_count_label(b) for b in pos]
    base_x = None
    if has_base:
        base_x = (min(pos) / 2) if pos else 1.0
        ticks = [base_x] + ticks
        labels = ["base"] + labels
    if len(ticks) > 9:  # a long ladder: keep every other tick label readable
        labels = [lab if i % 2 == 0 or i == len(labels) - 1 else "" for i, lab in enumerate(labels)]
    ax.set_xticks(ticks)
    ax.set_xticklabels(labels)
    ax.minorticks_off()
    if ticks:
        ax.set_xlim(min(ticks) / 2**0.35, max(ticks) * 2**0.35)
    return base_x


def _xs(budgets: list[int], base_x: float | None) -> np.ndarray:
    return np.array([base_x if b == 0 else b for b in budgets], dtype=float)


def _empty(ax, message: str) -> None:
    ax.set_axis_off()
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True, transform=ax.transAxes, color="#555555")


def _metric_label(metric: str) -> str:
    return {
        "accuracy": "2-way accuracy (chance 0.5)",
        "paligemma_score": "PaliGemma score",
        "exact_match": "exact match",
    }.get(metric, metric)


# --- (a) accuracy vs cumulative samples -------------------------------------------------------
@_styled
def accuracy_curve(records: list[dict], metric: str = "accuracy"):
    """Mean metric vs cumulative generated samples, one line per generator with a ±1 s.d. band over
    seeds; the base model (budget 0) is the leftmost point, joined to the first budget by a dotted
    segment because the gap between them is not to scale."""
    groups = _by_generator(records)
    colours = generator_colours(groups)
    fig = _figure(7.0, 4.2)
    ax = fig.add_subplot()
    all_budgets = sorted({b for recs in groups.values() for b in _seed_matrix(recs, metric)[0]})
    if not any(np.isfinite(_seed_matrix(recs, metric)[1]).any() for recs in groups.values()):
        _empty(ax, f"no {metric} in these records")
        return fig, ax
    base_x = _budget_axis(ax, all_budgets, 0 in all_budgets)
    # every generator fine-tunes the same base model per seed, so budget 0 is usually one point for all
    bases = {
        g: _mean_sd(_seed_matrix(recs, metric)[1][:, [0]]) if 0 in _seed_matrix(recs, metric)[0] else None
        for g, recs in groups.items()
    }
    known = [(float(b[0][0]), float(b[1][0])) for b in bases.values() if b is not None and np.isfinite(b[0][0])]
    shared_base = len(known) > 0 and all(abs(k[0] - known[0][0]) < 1e-12 for k in known) and len(known) == len(bases)
    if shared_base:
        ax.errorbar(
            [base_x],
            [known[0][0]],
            yerr=[known[0][1]],
            color=BASE_COLOUR,
            marker="D",
            markersize=4,
            capsize=2,
            linewidth=1,
            linestyle="none",
            label="base model (budget 0)",
            zorder=4,
        )
    for g, recs in groups.items():
        budgets, m = _seed_matrix(recs, metric)
        mean, sd, n = _mean_sd(m)
        ok = np.isfinite(mean)
        if not ok.any():
            continue
        xs = _xs(budgets, base_x)
        c = colours[g]
        trained = ok & (np.array(budgets) > 0)
        ax.plot(
            xs[trained],
            mean[trained],
            color=c,
            marker=generator_style(g)[1],
            markersize=3.5,
            label=f"{g} (n={len(recs)} seed{'s' if len(recs) != 1 else ''})",
        )
        ax.fill_between(xs[trained], (mean - sd)[trained], (mean + sd)[trained], color=c, alpha=0.18, linewidth=0)
        if 0 in budgets and ok[budgets.index(0)]:
            i0 = budgets.index(0)
            if not shared_base:
                ax.errorbar(
                    [xs[i0]],
                    [mean[i0]],
                    yerr=[sd[i0]],
                    color=c,
                    marker=generator_style(g)[1],
                    markersize=3.5,
                    capsize=2,
                    linewidth=1,
                )
            first = next((j for j in range(len(budgets)) if trained[j]), None)
            if first is not None:
                ax.plot([xs[i0], xs[first]], [mean[i0], mean[first]], color=c, linestyle=":", linewidth=1.1)
    if metric == "accuracy":
        ax.axhline(0.5, color="#999999", linestyle="--", linewidth=0.8)
        ax.annotate(
            "chance",
            xy=(1.0, 0.5),
            xycoords=("axes fraction", "data"),
            xytext=(-2, 2),
            textcoords="offset points",
            ha="right",
            va="bottom",
            fontsize=7,
            color="#777777",
        )
    if base_x is not None:
        ax.axvline(base_x * 2**0.5, color="#bbbbbb", linewidth=0.6)
    ax.set_xlabel("cumulative generated samples delivered to training (log2)")
    ax.set_ylabel(_metric_label(metric))
    short = _metric_label(metric).split(" (")[0]
    ax.set_title(f"{short[:1].upper() + short[1:]} vs samples (mean ± 1 s.d. over seeds)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, borderaxespad=0)
    return fig, ax


# --- (b) per-term radar ------------------------------------------------------------------------
def _term_means(recs: list[dict], budget_pick: Callable[[list[int]], int | None]) -> tuple[np.ndarray, int | None]:
    budgets = sorted({int(p["budget"]) for r in recs for p in r.get("curve") or [] if "budget" in p})
    b = budget_pick(budgets)
    vals = np.full((len(recs), len(TERMS)), np.nan)
    for i, r in enumerate(recs):
        for p in r.get("curve") or []:
            if p.get("budget") == b:
                vals[i] = [_value(p, "per_term", t) for t in TERMS]
    with np.errstate(invalid="ignore"):
        n = np.sum(np.isfinite(vals), axis=0)
        mean = np.where(n > 0, np.nansum(vals, axis=0) / np.maximum(n, 1), np.nan)
    return mean, b


@_styled
def term_radar(records: list[dict]):
    """Per-term accuracy on six axes: the base model (budget 0, mean over every record) and each
    generator at its top budget (mean over seeds)."""
    groups = _by_generator(records)
    colours = generator_colours(groups)
    fig = _figure(6.6, 4.6)
    ax = fig.add_subplot(projection="polar")
    order = [TERMS.index(t) for t in RADAR_ORDER]
    angles = np.linspace(0, 2 * np.pi, len(order), endpoint=False)
    closed = np.r_[angles, angles[:1]]
    series = []
    base, _ = _term_means([r for recs in groups.values() for r in recs], lambda bs: 0 if 0 in bs else None)
    base = base[order]
    if np.isfinite(base).any():
        series.append(("base model (budget 0)", base, BASE_COLOUR, "--"))
    for g, recs in groups.items():
        vals, b = _term_means(recs, lambda bs: max((x for x in bs if x > 0), default=None))
        if b is not None and np.isfinite(vals).any():
            series.append((f"{g} @ {_count_label(b)}", vals[order], colours[g], "-"))
    if not series:
        _empty(ax, "no per-term accuracy in these records")
        return fig, ax
    finite = np.concatenate([v[np.isfinite(v)] for _, v, _, _ in series])
    # the radius starts at chance (0.5), so a ring's distance from the centre is skill above chance;
    # only a term below chance moves the centre lower, and the title says where it starts
    lo = 0.5 if finite.min() >= 0.5 else max(0.0, math.floor((finite.min() - 0.05) * 10) / 10)
    hi = min(1.0, math.ceil((finite.max() + 0.02) * 20) / 20)
    for label, vals, colour, ls in series:
        v = np.where(np.isfinite(vals), vals, lo)  # a missing term sits at the centre, not as a gap
        ax.plot(closed, np.r_[v, v[:1]], color=colour, linestyle=ls, linewidth=1.5, label=label)
        if ls == "-":
            ax.fill(closed, np.r_[v, v[:1]], color=colour, alpha=0.06)
    ax.set_theta_offset(np.pi / 2)
    ax.set_theta_direction(-1)
    ax.set_xticks(angles)
    ax.set_xticklabels(RADAR_ORDER, fontsize=9)
    ax.tick_params(axis="x", pad=4)
    ax.tick_params(axis="y", labelsize=6.5, labelcolor="#777777")
    ax.set_ylim(lo, hi)
    ax.set_rlabel_position(180 / len(order))  # between two term axes, off the data lines
    ax.set_yticks(ax.get_yticks())  # fix the ticks so their labels can get a backdrop
    for label in ax.get_yticklabels():
        label.set_bbox({"facecolor": "white", "edgecolor": "none", "alpha": 0.75, "pad": 0.6})
    if lo < 0.5 < hi:
        ax.plot(np.linspace(0, 2 * np.pi, 200), np.full(200, 0.5), color="#999999", linewidth=0.7, linestyle=":")
    centre = "chance" if lo == 0.5 else f"{lo:.1f}, below chance (dotted circle: chance 0.5)"
    ax.set_title(
        f"Per-term 2-way accuracy: base model vs each generator at its top budget\n(radius starts at {centre})", pad=14
    )
    ax.legend(loc="upper left", bbox_to_anchor=(1.08, 1.0), frameon=False, borderaxespad=0)
    return fig, ax


# --- (c) accuracy by caption complexity --------------------------------------------------------
_COMPLEXITY_STYLE = {"1": ("#6baed6", "o"), "2": ("#2171b5", "s"), "3": ("#08306b", "^")}


@_styled
def complexity_curves(records: list[dict]):
    """Accuracy on 1-, 2- and 3-term captions vs budget, one panel per generator (shared y axis),
    mean over seeds with ±1 s.d. bands."""
    groups = _by_generator(records)
    colours = generator_colours(groups)
    n = max(len(groups), 1)
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig = _figure(2.7 * cols + 0.6, 2.5 * rows + 0.7)
    axes = np.atleast_1d(fig.subplots(rows, cols, sharey=True, squeeze=False)).ravel()
    if not groups:
        _empty(axes[0], "no records")
        return fig, axes
    # the grid can have more panels than generators: the spare axes stay empty
    for ax, (g, recs) in zip(axes, groups.items(), strict=False):
        any_line = False
        budgets_all = sorted({b for c in COMPLEXITIES for b in _seed_matrix(recs, "per_complexity", c)[0]})
        base_x = _budget_axis(ax, budgets_all, 0 in budgets_all)
        for c in COMPLEXITIES:
            budgets, m = _seed_matrix(recs, "per_complexity", c)
            mean, sd, _ = _mean_sd(m)
            ok = np.isfinite(mean)
            if not ok.any():
                continue
            any_line = True
            xs = _xs(budgets, base_x)
            colour, marker = _COMPLEXITY_STYLE[c]
            ax.plot(
                xs[ok],
                mean[ok],
                color=colour,
                marker=marker,
                markersize=3,
                linewidth=1.3,
                label=f"{c} term{'s' if c != '1' else ''}",
            )
            ax.fill_between(xs[ok], (mean - sd)[ok], (mean + sd)[ok], color=colour, alpha=0.12, linewidth=0)
        if not any_line:
            _empty(ax, f"{g}: no per-complexity accuracy")
            continue
        ax.axhline(0.5, color="#999999", linestyle="--", linewidth=0.7)
        ax.set_title(g, color=colours[g], fontweight="bold")
        ax.tick_params(axis="x", labelrotation=45)
    for ax in axes[len(groups) :]:
        ax.set_axis_off()
    for i, ax in enumerate(axes[: len(groups)]):
        if i % cols == 0:
            ax.set_ylabel("2-way accuracy")
    _shared_legend(fig, axes, title="caption complexity (dashed: chance)")
    fig.suptitle("Accuracy by caption complexity vs cumulative samples (mean ± 1 s.d. over seeds)", fontsize=10)
    return fig, axes


def _shared_legend(fig, axes, max_cols: int | None = None, title: str | None = None) -> None:
    """One legend below all panels, from the first panel that has labelled lines (every panel draws
    the same series); nothing when no panel has any."""
    handles, labels = next(((h, lab) for h, lab in (a.get_legend_handles_labels() for a in axes) if h), ([], []))
    if not handles:
        return
    extra = {"title": title, "title_fontsize": 8} if title else {}
    ncols = len(labels) if max_cols is None else min(len(labels), max_cols)
    fig.legend(handles, labels, loc="outside lower center", ncols=ncols, frameon=False, **extra)


@_styled
def term_curves(records: list[dict]):
    """Accuracy on each of the six terms vs budget, one panel per term (shared y axis), one line per
    generator: mean over seeds with ±1 s.d. bands (the per-relation view of ``accuracy_curve``)."""
    groups = _by_generator(records)
    colours = generator_colours(groups)
    cols, rows = 3, 2
    fig = _figure(2.7 * cols + 0.6, 2.5 * rows + 0.9)
    axes = np.atleast_1d(fig.subplots(rows, cols, sharey=True, squeeze=False)).ravel()
    if not groups:
        _empty(axes[0], "no records")
        return fig, axes
    for ax, term in zip(axes, TERMS, strict=True):
        budgets_all = sorted({b for recs in groups.values() for b in _seed_matrix(recs, "per_term", term)[0]})
        base_x = _budget_axis(ax, budgets_all, 0 in budgets_all)
        for g, recs in groups.items():
            budgets, m = _seed_matrix(recs, "per_term", term)
            mean, sd, _ = _mean_sd(m)
            ok = np.isfinite(mean)
            if not ok.any():
                continue
            xs = _xs(budgets, base_x)
            ax.plot(
                xs[ok], mean[ok], color=colours[g], marker=generator_style(g)[1], markersize=2.5, linewidth=1.2, label=g
            )
            ax.fill_between(xs[ok], (mean - sd)[ok], (mean + sd)[ok], color=colours[g], alpha=0.10, linewidth=0)
        ax.axhline(0.5, color="#999999", linestyle="--", linewidth=0.7)
        ax.set_title(f"“{term}”")
        ax.tick_params(axis="x", labelrotation=45)
    for i, ax in enumerate(axes):
        if i % cols == 0:
            ax.set_ylabel("2-way accuracy")
    _shared_legend(fig, axes, max_cols=5, title="generator (dashed: chance; leftmost point: base model)")
    fig.suptitle("Per-term accuracy vs cumulative samples (mean ± 1 s.d. over seeds)", fontsize=10)
    return fig, axes


# --- (d) term distribution of the delivered data --------------------------------------------------
@_styled
def term_distribution(records: list[dict]):
    """Share (%) of each atomic term among the term occurrences of each generator's delivered data,
    summed over seeds. The RLS3 paper observed above/below at only about 5-8 % of occurrences."""
    groups = _by_generator(records)
    colours = generator_colours(groups)
    fig = _figure(7.4, 4.0)
    ax = fig.add_subplot()
    shares = {}
    for g, recs in groups.items():
        counts = np.array([sum(float((r.get("term_counts") or {}).get(t, 0) or 0) for r in recs) for t in TERMS])
        if counts.sum() > 0:
            shares[g] = 100 * counts / counts.sum()
    if not shares:
        _empty(ax, "no term counts in these records")
        return fig, ax
    x = np.arange(len(TERMS))
    width = 0.8 / len(shares)
    for i, (g, s) in enumerate(shares.items()):
        ax.bar(x - 0.4 + width * (i + 0.5), s, width=width * 0.92, color=colours[g], label=g)
    ax.axhline(100 / len(TERMS), color="#555555", linestyle="--", linewidth=0.8, label="uniform (16.7 %)")
    # the paper's observation, drawn where it applies: above/below only 5-8 % in SAC's data
    for t in ("above", "below"):
        j = TERMS.index(t)
        ax.add_patch(
            matplotlib.patches.Rectangle(
                (j - 0.45, 5),
                0.9,
                3,
                facecolor="none",
                edgecolor="#d62728",
                hatch="////",
                linewidth=0.8,
                alpha=0.7,
                zorder=3,
            )
        )
    ax.add_patch(
        matplotlib.patches.Rectangle(
            (0, 0),
            0,
            0,
            facecolor="none",
            edgecolor="#d62728",
            hatch="////",
            linewidth=0.8,
            alpha=0.7,
            label="RLS3 paper: above/below\nat 5–8 % in SAC's data",
        )
    )
    ax.set_xticks(x)
    ax.set_xticklabels(TERMS)
    ax.set_ylabel("share of term occurrences (%)")
    ax.set_ylim(0, max(max(s.max() for s in shares.values()) * 1.15, 25))
    fig.suptitle(
        "Term share in the delivered training data (summed over seeds)\n"
        "RLS3 paper: above/below were only about 5–8 % of the SAC agent's term occurrences",
        fontsize=10,
    )
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, borderaxespad=0)
    return fig, ax


# --- (e) RL per-episode curves --------------------------------------------------------------------
#: panel -> history keys that may hold it (the first present wins)
_RL_PANELS = (
    ("intrinsic return (feasibility reward)", ("intrinsic_return",)),
    ("extrinsic reward J2 (learner error)", ("extrinsic_return", "extrinsic_reward")),
    ("feasibility (valid edits / steps)", ("feasibility",)),
)


def _history_series(rec: dict, keys: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for i, h in enumerate(rec.get("generator_history") or []):
        if not isinstance(h, dict):
            continue
        v = next((h[k] for k in keys if isinstance(h.get(k), (int, float)) and not isinstance(h.get(k), bool)), None)
        if v is not None and math.isfinite(v):
            xs.append(h.get("episode", i) if isinstance(h.get("episode", i), (int, float)) else i)
            ys.append(float(v))
    return np.array(xs, dtype=float), np.array(ys, dtype=float)


def _smooth(y: np.ndarray, window: int) -> np.ndarray:
    if window <= 1 or len(y) < window:
        return y
    k = np.ones(window) / window
    head = np.cumsum(y[: window - 1]) / np.arange(1, window)  # a shorter window at the start, no lag loss
    return np.r_[head, np.convolve(y, k, mode="valid")]


@_styled
def rl_curves(records: list[dict], smooth: int = 5):
    """Per-episode intrinsic return, extrinsic reward and feasibility of the generators whose records
    carry a ``generator_history`` (RL generators): thin lines per seed, a thick line for the mean over
    seeds (moving average over ``smooth`` episodes). One message panel when no record has a history."""
    groups = _by_generator(records)
    colours = generator_colours(groups)
    with_history = {g: recs for g, recs in groups.items() if any(r.get("generator_history") for r in recs)}
    if not with_history:
        fig = _figure(6.0, 2.2)
        ax = fig.add_subplot()
        _empty(ax, "No generator recorded a per-episode history\n(only RL generators such as rls3-sac-v1 do).")
        return fig, ax
    fig = _figure(9.6, 3.2)
    axes = np.atleast_1d(fig.subplots(1, len(_RL_PANELS), squeeze=False)).ravel()
    for ax, (title, keys) in zip(axes, _RL_PANELS, strict=True):
        drawn = False
        for g, recs in with_history.items():
            per_seed = [_history_series(r, keys) for r in recs]
            per_seed = [(x, y) for x, y in per_seed if len(y)]
            if not per_seed:
                continue
            drawn = True
            for x, y in per_seed:
                ax.plot(x, y, color=colours[g], alpha=0.25, linewidth=0.7)
            episodes = np.unique(np.concatenate([x for x, _ in per_seed]))
            m = np.full((len(per_seed), len(episodes)), np.nan)
            for i, (x, y) in enumerate(per_seed):
                m[i, np.searchsorted(episodes, x)] = y
            mean, _, _ = _mean_sd(m)
            ax.plot(
                episodes,
                _smooth(mean, smooth),
                color=colours[g],
                linewidth=1.8,
                label=f"{g} (n={len(per_seed)} seed{'s' if len(per_seed) != 1 else ''})",
            )
        if not drawn:
            _empty(ax, f"no '{keys[0]}' recorded")
            continue
        ax.set_title(title)
        ax.set_xlabel("episode")
        if keys == ("feasibility",):
            ax.set_ylim(-0.02, 1.02)
    _shared_legend(fig, axes, max_cols=4)
    fig.suptitle(
        f"RL generator per episode (thin: seeds; thick: mean over seeds, {smooth}-episode moving average)", fontsize=10
    )
    return fig, axes


# --- (f) gallery ------------------------------------------------------------------------------------
def _decode_png(b64: str):
    import matplotlib.image as mpimg

    try:
        return mpimg.imread(io.BytesIO(base64.b64decode(b64, validate=True)), format="png")
    except (binascii.Error, ValueError, OSError, SyntaxError):
        return None


@_styled
def gallery(records: list[dict], per_generator: int = 4):
    """Delivered samples with their captions: one row per generator, up to ``per_generator``
    images (from the lowest seed first, in round order). Records without images are skipped."""
    groups = _by_generator(records)
    colours = generator_colours(groups)
    rows = []
    for g, recs in groups.items():
        items = []
        for r in recs:
            for item in sorted(
                (i for i in r.get("gallery") or [] if isinstance(i, dict) and i.get("png_b64")),
                key=lambda i: (i.get("round", 0), str(i.get("sample_id", ""))),
            ):
                img = _decode_png(item["png_b64"])
                if img is not None:
                    items.append((img, str(item.get("caption", "")), item.get("round"), r.get("seed")))
                if len(items) >= per_generator:
                    break
            if len(items) >= per_generator:
                break
        if items:
            rows.append((g, items))
    if not rows:
        fig = _figure(6.0, 2.0)
        ax = fig.add_subplot()
        _empty(ax, "No gallery images in these records (older records keep no PNGs).")
        return fig, ax
    cols = max(len(items) for _, items in rows)
    fig = _figure(2.05 * cols + 0.4, 2.75 * len(rows) + 0.3)
    axes = fig.subplots(len(rows), cols, squeeze=False)
    for r_i, (g, items) in enumerate(rows):
        for c_i in range(cols):
            ax = axes[r_i, c_i]
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            if c_i >= len(items):
                ax.set_axis_off()
                continue
            img, caption, rnd, seed = items[c_i]
            ax.imshow(img, interpolation="nearest")
            for s in ax.spines.values():
                s.set_visible(True)
                s.set_color(colours[g])
                s.set_linewidth(1.5)
            ax.set_xlabel("\n".join(textwrap.wrap(caption, 30)[:4]), fontsize=6.5, labelpad=2)
            ax.set_title(f"seed {seed}, round {rnd}", fontsize=6.5, color="#555555", pad=2)
            if c_i == 0:
                ax.set_ylabel(g, color=colours[g], fontweight="bold", fontsize=9)
    fig.suptitle("Delivered samples with their captions", fontsize=10)
    return fig, axes


# --- (g) accuracy vs generation cost ------------------------------------------------------------------
def _cost_per_sample(rec: dict) -> tuple[float, float]:
    """(generation seconds, scenes rendered) per delivered sample; NaN when the record lacks them."""
    cost = rec.get("cost") or {}
    delivered = cost.get("samples_delivered") or 0
    if not delivered:
        return math.nan, math.nan
    secs = cost.get("seconds") or {}
    gen = sum(float(secs.get(k) or 0.0) for k in GENERATION_STAGES) if secs else math.nan
    scenes = cost.get("scenes_rendered")
    return gen / delivered, (float(scenes) / delivered if scenes is not None else math.nan)


@_styled
def accuracy_vs_cost(records: list[dict], metric: str = "accuracy"):
    """Top-budget accuracy vs generation seconds per delivered sample ((render + label_caption +
    feedback + agent) / samples delivered; log x), one point per generator with ±1 s.d. error bars
    over seeds on both axes; the legend gives each generator's scenes rendered per delivered sample."""
    groups = _by_generator(records)
    colours = generator_colours(groups)
    fig = _figure(6.6, 4.2)
    ax = fig.add_subplot()
    points = []
    for g, recs in groups.items():
        budgets, m = _seed_matrix(recs, metric)
        top = max((b for b in budgets if b > 0), default=None)
        if top is None:
            continue
        acc = m[:, budgets.index(top)]
        cost = np.array([_cost_per_sample(r) for r in recs])
        ok = np.isfinite(acc) & np.isfinite(cost[:, 0]) & (cost[:, 0] > 0)
        if not ok.any():
            continue
        (am,), (asd,), _ = _mean_sd(acc[ok][:, None])
        (cm,), (csd,), _ = _mean_sd(cost[ok, 0][:, None])
        scenes = cost[ok, 1]
        points.append(
            (
                g,
                cm,
                csd,
                am,
                asd,
                float(np.nanmean(scenes)) if np.isfinite(scenes).any() else math.nan,
                top,
                int(ok.sum()),
            )
        )
    if not points:
        _empty(ax, "no generation cost with a top-budget accuracy in these records")
        return fig, ax
    for g, cm, csd, am, asd, scenes, _top, n in points:
        # the lower error bar must stay positive on the log axis
        lower = min(csd, cm * 0.9)
        # scenes/sample goes into the legend, outside the axes: text beside close points collides
        note = f"{scenes:.2f}" if math.isfinite(scenes) else "n/a"
        ax.errorbar(
            [cm],
            [am],
            xerr=[[lower], [csd]],
            yerr=[[asd], [asd]],
            color=colours[g],
            marker=generator_style(g)[1],
            markersize=6,
            capsize=3,
            linewidth=1.2,
            label=f"{g}\n  {n} seed{'s' if n != 1 else ''}, {note} scenes/sample",
        )
    ax.set_xscale("log")
    xs = [p[1] for p in points]
    ax.set_xlim(min(xs) / 2, max(p[1] + p[2] for p in points) * 2.5)
    ax.xaxis.set_major_locator(matplotlib.ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ys = [p[3] for p in points]
    pad = max(0.02, (max(ys) - min(ys)) * 0.3) + max(p[4] for p in points)
    ax.set_ylim(min(ys) - pad, max(ys) + pad)
    tops = sorted({p[6] for p in points})
    ax.set_xlabel(
        "generation seconds per delivered sample (log)\n"
        "= (render + label/caption + feedback + agent) / samples delivered",
        fontsize=8,
    )
    ax.set_ylabel(f"{_metric_label(metric)} @ {', '.join(_count_label(t) for t in tops)} samples")
    ax.set_title("Accuracy vs generation cost (mean ± 1 s.d. over seeds)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, borderaxespad=0, labelspacing=0.9)
    return fig, ax


# --- all of them ------------------------------------------------------------------------------------
# --- slices at the top budget -----------------------------------------------------------------------
@_styled
def slice_accuracy(records: list[dict]):
    """Accuracy per eval-set slice (records' ``slices``: negative kind, flipped axis, stacked, pair
    distance tercile, complexity, group score) per generator at the top budget, mean over seeds, with
    chance (0.5 for items; 0.25 for a twin pair's group score)."""
    from rls3_bench.analysis.report import slice_table

    table = slice_table(records)
    fig = _figure(9.6, 4.2)
    ax = fig.add_subplot()
    if table.empty:
        _empty(ax, "no slices in these records")
        return fig, ax
    colours = generator_colours(list(table.columns))
    x = np.arange(len(table))
    width = 0.8 / len(table.columns)
    for i, g in enumerate(table.columns):
        ax.bar(x - 0.4 + width * (i + 0.5), table[g].to_numpy(), width=width * 0.92, color=colours[g], label=g)
    for j, (name, _level) in enumerate(table.index):
        chance = 0.25 if name == "group" else 0.5
        ax.hlines(
            chance,
            j - 0.45,
            j + 0.45,
            color="#555555",
            linestyle="--",
            linewidth=0.8,
            label="chance" if j == 0 else None,
        )
    ax.set_xticks(x)
    ax.set_xticklabels([f"{name}\n{value}" for name, value in table.index], fontsize=7, rotation=60, ha="right")
    ax.set_ylabel("2-way accuracy (group: score)")
    ax.set_ylim(0, 1)
    budget = max(int(r["slices"]["budget"]) for r in records if "slices" in r)
    fig.suptitle(f"Accuracy per eval-set slice at budget {budget} (mean over seeds)", fontsize=10)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, borderaxespad=0)
    return fig, ax


def _has_generative(records: list[dict]) -> bool:
    return any(
        isinstance(p.get("generative"), dict) and p["generative"].get("paligemma_score") is not None
        for r in records
        for p in r.get("curve") or []
    )


def figure_functions(records: list[dict]) -> dict[str, Callable[[list[dict]], tuple]]:
    """Figure name -> function, in the order make_figures writes them (``score_curve`` only when the
    records carry generative metrics, i.e. PaliGemma tracks; ``slice_accuracy`` only when they carry
    slices, as records read with their predictions do)."""
    out: dict[str, Callable] = {"accuracy_curve": accuracy_curve}
    if _has_generative(records):
        out["score_curve"] = functools.partial(accuracy_curve, metric="paligemma_score")
    out.update(
        {
            "term_curves": term_curves,
            "term_radar": term_radar,
            "complexity_curves": complexity_curves,
            "term_distribution": term_distribution,
            "rl_curves": rl_curves,
            "gallery": gallery,
            "accuracy_vs_cost": accuracy_vs_cost,
        }
    )
    if any("slices" in r for r in records):
        out["slice_accuracy"] = slice_accuracy
    return out


def figure_bytes(fig: Figure, fmt: str) -> bytes:
    """A figure rendered in memory, without dates or versions in its metadata."""
    buf = io.BytesIO()
    with matplotlib.rc_context():
        matplotlib.rcdefaults()
        matplotlib.rcParams.update(_STYLE)
        fig.savefig(buf, format=fmt, dpi=DPI, metadata=_METADATA.get(fmt), facecolor="white")
    return buf.getvalue()


def make_figures(records: list[dict], out_dir: Path, formats: tuple[str, ...] = ("png", "pdf")) -> dict[str, Path]:
    """Write every figure of ``records`` to ``out_dir`` as ``<name>.<fmt>`` (each file atomically).

    Returns ``{"<name>.<fmt>": path}`` in a fixed order (figure, then format)."""
    if not records:
        raise ValueError("no records to draw")
    out_dir = Path(out_dir)
    written: dict[str, Path] = {}
    for name, fn in figure_functions(records).items():
        for fmt in formats:
            # a fresh figure per format: a draw leaves layout state behind, so a PDF saved after a PNG
            # would differ from one saved alone; building a figure is cheap next to rendering it
            fig, _ = fn(records)
            written[f"{name}.{fmt}"] = atomic_write_bytes(out_dir / f"{name}.{fmt}", figure_bytes(fig, fmt))
            fig.clear()
    return written
