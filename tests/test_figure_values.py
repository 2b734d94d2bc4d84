"""Figures draw the numbers in the records: the plotted data, read back from the returned axes, equals
what these tests compute from the same records by hand."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import FIGURE_BUDGETS, FIGURE_GENERATORS, make_records
from matplotlib.colors import to_rgb
from matplotlib.container import BarContainer, ErrorbarContainer

from rls3_bench.analysis import figures
from rls3_bench.labels.sample import TERMS


def _records_of(records: list[dict], generator: str) -> list[dict]:
    return [r for r in records if r["generator_name"] == generator]


def _accuracy(rec: dict, budget: int) -> float:
    return next(p["accuracy"] for p in rec["curve"] if p["budget"] == budget)


def _line(ax, label_start: str):
    lines = [ln for ln in ax.get_lines() if ln.get_label().startswith(label_start)]
    assert len(lines) == 1, [ln.get_label() for ln in ax.get_lines()]
    return lines[0]


def _container(ax, kind: type, label_start: str):
    found = [c for c in ax.containers if isinstance(c, kind) and c.get_label().startswith(label_start)]
    assert len(found) == 1, [c.get_label() for c in ax.containers]
    return found[0]


def test_accuracy_curve_plots_the_mean_over_seeds_at_each_budget():
    records = make_records()
    _, ax = figures.accuracy_curve(records)
    trained = [b for b in FIGURE_BUDGETS if b > 0]
    for g in FIGURE_GENERATORS:
        recs = _records_of(records, g)
        line = _line(ax, f"{g} (n={len(recs)} seeds)")
        np.testing.assert_allclose(line.get_xdata(), trained)
        expected = [np.mean([_accuracy(r, b) for r in recs]) for b in trained]
        np.testing.assert_allclose(line.get_ydata(), expected, rtol=0, atol=1e-12)


def test_accuracy_curve_band_is_one_sample_sd_and_base_point_is_the_seed_mean():
    records = make_records()
    _, ax = figures.accuracy_curve(records)
    trained = [b for b in FIGURE_BUDGETS if b > 0]
    for g, colour in figures.generator_colours(records).items():
        acc = np.array([[_accuracy(r, b) for b in trained] for r in _records_of(records, g)])
        mean, sd = acc.mean(axis=0), acc.std(axis=0, ddof=1)
        bands = [
            c
            for c in ax.collections
            if len(c.get_facecolor()) and np.allclose(c.get_facecolor()[0][:3], to_rgb(colour))
        ]
        assert len(bands) == 1
        ys = bands[0].get_paths()[0].vertices[:, 1]
        assert ys.min() == pytest.approx((mean - sd).min(), abs=1e-12)
        assert ys.max() == pytest.approx((mean + sd).max(), abs=1e-12)
    # every generator starts from the same base model per seed: one base point, at the seed mean
    base = _container(ax, ErrorbarContainer, "base model")
    base_acc = [_accuracy(r, 0) for r in _records_of(records, "uniform-v1")]
    assert base.lines[0].get_ydata()[0] == pytest.approx(np.mean(base_acc), abs=1e-12)


def test_term_distribution_bars_are_each_generators_term_shares():
    records = make_records()
    _, ax = figures.term_distribution(records)
    for g in FIGURE_GENERATORS:
        counts = np.array([sum(r["term_counts"][t] for r in _records_of(records, g)) for t in TERMS], dtype=float)
        bars = _container(ax, BarContainer, g)
        heights = [p.get_height() for p in bars.patches]
        np.testing.assert_allclose(heights, 100 * counts / counts.sum(), rtol=0, atol=1e-9)


def test_accuracy_vs_cost_point_is_mean_generation_seconds_and_top_budget_accuracy():
    records = make_records()
    _, ax = figures.accuracy_vs_cost(records)
    generation = ("render", "label_caption", "feedback", "agent")  # training and evaluation are the learner's
    for g in FIGURE_GENERATORS:
        recs = _records_of(records, g)
        secs = [sum(r["cost"]["seconds"][k] for k in generation) / r["cost"]["samples_delivered"] for r in recs]
        point = _container(ax, ErrorbarContainer, g).lines[0]
        assert point.get_xdata()[0] == pytest.approx(np.mean(secs), rel=1e-12)
        assert point.get_ydata()[0] == pytest.approx(
            np.mean([_accuracy(r, FIGURE_BUDGETS[-1]) for r in recs]), abs=1e-12
        )


def test_term_curves_plot_each_terms_seed_mean_in_its_own_panel():
    records = make_records()
    _, axes = figures.term_curves(records)
    for ax, term in zip(axes, TERMS, strict=True):
        for g in FIGURE_GENERATORS:
            recs = _records_of(records, g)
            expected = [
                np.mean([next(p["per_term"][term] for p in r["curve"] if p["budget"] == b) for r in recs])
                for b in FIGURE_BUDGETS
            ]
            line = _line(ax, g)
            np.testing.assert_allclose(line.get_ydata(), expected, rtol=0, atol=1e-12)
            np.testing.assert_allclose(line.get_xdata()[1:], FIGURE_BUDGETS[1:])  # [0]: the base model's slot


def test_rl_curves_plot_each_seed_and_the_seed_mean_per_episode():
    records = make_records()
    _, axes = figures.rl_curves(records, smooth=1)
    panels = {"intrinsic_return": axes[0], "extrinsic_reward": axes[1], "feasibility": axes[2]}
    recs = [r for r in records if r["generator_history"]]
    assert {r["generator_name"] for r in recs} == {"rls3-sac-v1"}
    for key, ax in panels.items():
        per_seed = np.array([[h[key] for h in r["generator_history"]] for r in recs])
        mean = _line(ax, "rls3-sac-v1 (n=3 seeds)")
        np.testing.assert_allclose(mean.get_xdata(), [h["episode"] for h in recs[0]["generator_history"]])
        np.testing.assert_allclose(mean.get_ydata(), per_seed.mean(axis=0), rtol=0, atol=1e-12)
        thin = sorted(tuple(ln.get_ydata()) for ln in ax.get_lines() if ln.get_label().startswith("_"))
        assert thin == sorted(tuple(row) for row in per_seed)  # one thin line per seed, its raw values
