"""Known answers for rls3_bench.analysis.stats, plus a seeded size check of the permutation test.

Hand computations here (itertools enumeration, binomial on discordant counts, textbook Holm) are the
reference; the module under test delegates to scipy / statsmodels.
"""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st_h
from scipy import stats as sps

from rls3_bench.analysis import stats as st

# --------------------------------------------------------------------------------------------------
# permutation tests: hand enumeration


def _two_sided(null: np.ndarray, obs: float) -> float:
    """scipy's two-sided definition: 2 * min(P(T >= obs), P(T <= obs)), capped at 1 (with fp slack)."""
    eps = 1e-12
    return min(1.0, 2 * min(np.mean(null >= obs - eps), np.mean(null <= obs + eps)))


def test_paired_permutation_matches_hand_enumerated_sign_flips():
    a = np.array([0.62, 0.60, 0.65, 0.61, 0.66, 0.63])
    b = np.array([0.60, 0.61, 0.62, 0.58, 0.62, 0.64])
    d = a - b
    null = np.array([np.mean(np.array(signs) * d) for signs in itertools.product((1, -1), repeat=d.size)])
    expected = _two_sided(null, d.mean())
    res = st.permutation_pvalue(a, b, rng=0, paired=True)
    assert res.exact and res.n_permutations == 2**6
    assert res.pvalue == pytest.approx(expected, abs=1e-12)
    # sign-flip null is symmetric, so this is also P(|T| >= |obs|)
    assert res.pvalue == pytest.approx(np.mean(np.abs(null) >= abs(d.mean()) - 1e-12), abs=1e-12)


def test_unpaired_permutation_matches_hand_enumerated_splits():
    a = np.array([0.64, 0.61, 0.66, 0.63])
    b = np.array([0.60, 0.62, 0.59, 0.615, 0.605])
    pooled = np.concatenate([a, b])
    null = []
    for idx in itertools.combinations(range(pooled.size), a.size):
        mask = np.zeros(pooled.size, bool)
        mask[list(idx)] = True
        null.append(pooled[mask].mean() - pooled[~mask].mean())
    expected = _two_sided(np.array(null), a.mean() - b.mean())
    res = st.permutation_pvalue(a, b, rng=0, paired=False)
    assert res.exact and res.n_permutations == math.comb(9, 4)
    assert res.pvalue == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    "S, paired, expected",
    [
        (3, False, 0.10),
        (4, False, 2 / 70),
        (5, False, 2 / 252),
        (3, True, 0.25),
        (5, True, 0.0625),
        (10, True, 2 / 1024),
    ],
)
def test_min_attainable_p(S, paired, expected):
    assert st.min_attainable_p(S, paired) == pytest.approx(expected)
    # ... and it is attained when every A seed beats every B seed
    a = 0.7 + 0.001 * np.arange(S)
    b = 0.6 + 0.001 * np.arange(S)
    assert st.permutation_pvalue(a, b, rng=0, paired=paired).pvalue == pytest.approx(expected)


def test_three_seeds_or_five_paired_can_never_reach_005():
    assert st.min_attainable_p(3, paired=False) > 0.05
    assert st.min_attainable_p(3, paired=True) > 0.05
    assert st.min_attainable_p(5, paired=True) > 0.05
    assert st.min_attainable_p(5, paired=False) < 0.05
    assert st.min_attainable_p(3, paired=False, S_b=4) == pytest.approx(2 / 35)


def test_monte_carlo_permutation_is_seeded_and_flagged():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0.62, 0.02, 12), rng.normal(0.60, 0.02, 12)
    r1 = st.permutation_pvalue(a, b, rng=5, paired=False, n_resamples=999)
    r2 = st.permutation_pvalue(a, b, rng=5, paired=False, n_resamples=999)
    assert not r1.exact and r1.n_permutations == 999
    assert r1.pvalue == r2.pvalue


# --------------------------------------------------------------------------------------------------
# compare_generators


def test_compare_generators_fields_against_scipy():
    rng = np.random.default_rng(11)
    a, b = rng.normal(0.63, 0.017, 6), rng.normal(0.60, 0.017, 6)
    for paired in (True, False):
        c = st.compare_generators(a, b, rng=3, paired=paired)
        assert c.delta == pytest.approx(a.mean() - b.mean())
        assert c.low <= c.delta <= c.high
        t = sps.ttest_rel(a, b) if paired else sps.ttest_ind(a, b, equal_var=False)
        assert c.p_t == pytest.approx(t.pvalue)
        assert c.p_perm == st.permutation_pvalue(a, b, rng=0, paired=paired).pvalue
        assert c.min_p == st.min_attainable_p(6, paired)
        assert c.perm_exact and c.n_a == c.n_b == 6 and c.paired is paired
        # same seed -> identical record; frozen
        assert st.compare_generators(a, b, rng=3, paired=paired) == c
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.delta = 0.0  # type: ignore[misc]


def test_compare_t_interval_matches_scipy():
    rng = np.random.default_rng(1)
    a, b = rng.normal(0.63, 0.017, 5), rng.normal(0.60, 0.017, 5)
    c = st.compare_generators(a, b, rng=0, paired=False, method="t")
    ci = sps.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert (c.low, c.high, c.ci_method) == (pytest.approx(ci.low), pytest.approx(ci.high), "t")
    c = st.compare_generators(a, b, rng=0, paired=True, method="t")
    ci = sps.ttest_rel(a, b).confidence_interval(0.95)
    assert (c.low, c.high) == (pytest.approx(ci.low), pytest.approx(ci.high))


def test_hedges_g_and_probability_of_improvement_by_hand():
    a, b = np.array([1.0, 2.0, 3.0]), np.array([2.0, 3.0, 4.0])
    # pooled SD 1, d = -1, df = 4, J = Gamma(2) / (sqrt(2) Gamma(1.5))
    j = math.gamma(2) / (math.sqrt(2) * math.gamma(1.5))
    assert st.hedges_g(a, b) == pytest.approx(-j)
    # pairs vs b = 2,2,2: 1<2 (0), 2=2 (3 x 0.5), 3>2 (3 x 1) -> 4.5 / 9
    assert st.probability_of_improvement(a, [2.0, 2.0, 2.0]) == pytest.approx(0.5)
    assert st.probability_of_improvement([5, 6], [1, 2, 3]) == 1.0
    assert math.isnan(st.hedges_g([1.0, 1.0], [1.0, 1.0]))


def test_degenerate_comparisons_are_honest():
    c = st.compare_generators([0.6, 0.6, 0.6], [0.6, 0.6, 0.6], rng=0)
    assert c.ci_method == "degenerate" and c.low == c.high == c.delta == 0.0
    assert c.p_perm == 1.0 and not c.equivalent(0.02)
    c = st.compare_generators([0.61, 0.63], [0.60, 0.60], rng=0)  # S = 2: no interval
    assert c.ci_method == "degenerate" and c.low == c.high == c.delta


def test_equivalence_flag():
    rng = np.random.default_rng(2)
    base = rng.normal(0.62, 0.017, 10)
    c = st.compare_generators(base + rng.normal(0, 0.002, 10), base, rng=0)
    assert c.equivalent(0.02)
    assert not c.equivalent(0.0001)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="paired"):
        st.compare_generators([0.1, 0.2, 0.3], [0.1, 0.2], rng=0)
    with pytest.raises(ValueError, match=r"shape \(S,\)"):
        st.compare_generators(np.zeros((3, 2)), np.zeros((3, 2)), rng=0)
    with pytest.raises(ValueError, match="NaN"):
        st.seed_mean_ci([0.1, np.nan, 0.3], rng=0)
    with pytest.raises(TypeError, match="Generator"):
        st.seed_mean_ci([0.1, 0.2, 0.3], rng=None)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------
# seed_mean_ci / IQM


def test_seed_mean_ci_is_deterministic_and_leaves_global_rng_alone():
    x = np.random.default_rng(4).normal(0.6, 0.02, 8)
    state = np.random.get_state()[1].copy()
    c1 = st.seed_mean_ci(x, rng=7)
    c2 = st.seed_mean_ci(x, rng=np.random.default_rng(7))
    assert c1 == c2 and c1.method == "BCa" and c1.n == 8
    assert c1.low < x.mean() < c1.high
    assert st.seed_mean_ci(x, rng=8) != c1
    assert np.array_equal(np.random.get_state()[1], state)


def test_seed_mean_ci_resamples_whole_seeds():
    # (S, R) with equal R per row: grand mean == mean of row means, and the same seed-index resamples
    # are drawn, so the interval must equal the one computed on the per-seed means.
    rng = np.random.default_rng(5)
    scores = rng.normal(0.6, 0.03, (7, 1)) + rng.normal(0, 0.02, (7, 6))
    # (percentile: BCa's bias term counts resamples tying the estimate, which fp rounding can flip)
    whole = st.seed_mean_ci(scores, rng=1, method="percentile")
    rows = st.seed_mean_ci(scores.mean(axis=1), rng=1, method="percentile")
    assert (whole.low, whole.high) == (pytest.approx(rows.low, abs=1e-12), pytest.approx(rows.high, abs=1e-12))


def test_seed_mean_ci_degenerate_cases():
    c = st.seed_mean_ci([0.5, 0.7], rng=0)
    assert c.degenerate and c.low == c.high == c.mean == pytest.approx(0.6)
    c = st.seed_mean_ci([0.4] * 6, rng=0)
    assert c.degenerate and c.low == c.high == c.mean == pytest.approx(0.4)


def test_seed_mean_ci_coverage():
    # Nominal 95 % at S = 20; with fewer seeds the bootstrap undercovers (docs/statistics.md).
    rng = np.random.default_rng(2024)
    hits = 0
    for _ in range(200):
        ci = st.seed_mean_ci(rng.normal(0.0, 1.0, 20), rng=rng, n_resamples=2000)
        hits += ci.low <= 0.0 <= ci.high
    assert 0.88 <= hits / 200 <= 0.99


def test_t_interval_matches_scipy():
    x = np.random.default_rng(6).normal(0.6, 0.02, 5)
    c = st.seed_mean_ci(x, rng=0, method="t")
    ci = sps.ttest_1samp(x, 0.0).confidence_interval(0.95)
    assert c.method == "t" and (c.low, c.high) == (pytest.approx(ci.low), pytest.approx(ci.high))


def test_iqm():
    x = np.arange(8, dtype=float)  # drop 0, 1 and 6, 7 -> mean of 2..5
    assert st.iqm(x) == pytest.approx(3.5)
    scores = np.random.default_rng(0).uniform(0.4, 0.8, (10, 6))
    c = st.seed_iqm_ci(scores, rng=0, n_resamples=2000)
    assert c.mean == pytest.approx(sps.trim_mean(scores.ravel(), 0.25))
    assert c.low <= c.mean <= c.high


# --------------------------------------------------------------------------------------------------
# Holm


def test_holm_textbook_example_keeps_names():
    p = {"left": 0.01, "right": 0.04, "above": 0.03, "below": 0.005}
    out = st.holm(p)
    assert list(out.index) == list(p)
    np.testing.assert_allclose(out["p_holm"], [0.03, 0.06, 0.06, 0.02])
    assert out["reject"].tolist() == [True, False, False, True]
    out_s = st.holm(pd.Series(p))
    pd.testing.assert_frame_equal(out, out_s)
    out_a = st.holm([0.01, 0.04, 0.03, 0.005])
    np.testing.assert_allclose(out_a["p_holm"], [0.03, 0.06, 0.06, 0.02])


def test_holm_thresholds_for_six_relations():
    # Holm's step-down thresholds alpha / (m - i): a p just below the i-th threshold survives.
    thresholds = [0.05 / 6, 0.05 / 5, 0.05 / 4, 0.05 / 3, 0.05 / 2, 0.05]
    p = [t * 0.99 for t in thresholds]
    assert st.holm(p)["reject"].all()
    p[0] = thresholds[0] * 1.01  # the first step fails -> nothing is rejected
    assert not st.holm(p)["reject"].any()


def test_holm_refuses_nan():
    with pytest.raises(ValueError, match="bad entries"):
        st.holm({"a": 0.01, "b": float("nan")})


# --------------------------------------------------------------------------------------------------
# McNemar


def test_mcnemar_matches_binomial_on_discordant_counts():
    rng = np.random.default_rng(9)
    S, N = 4, 300
    ca = rng.random((S, N)) < 0.65
    cb = rng.random((S, N)) < np.array([0.55, 0.60, 0.65, 0.70])[:, None]
    cb[3] = ca[3]  # one pair with no discordant items
    res = st.mcnemar_pairs(ca, cb)
    for s in range(S):
        b = int((ca[s] & ~cb[s]).sum())
        c = int((~ca[s] & cb[s]).sum())
        assert (res.a_only[s], res.b_only[s]) == (b, c)
        expected = 1.0 if b + c == 0 else sps.binomtest(b, b + c, 0.5).pvalue
        assert res.pvalues[s] == pytest.approx(expected, rel=1e-9)
    assert res.median_p == pytest.approx(np.median(res.pvalues))
    assert res.frac_significant == pytest.approx(np.mean(res.pvalues < 0.05))
    assert res.pvalues.shape == (S,)


def test_mcnemar_shape_check():
    with pytest.raises(ValueError, match=r"\(S, N\)"):
        st.mcnemar_pairs(np.ones(5, bool), np.ones(5, bool))


# --------------------------------------------------------------------------------------------------
# data efficiency


def test_aulc_constant_and_linear_in_log():
    budgets = np.array([1_000, 2_000, 8_000, 32_000])
    assert st.aulc(budgets, np.full((3, 4), 0.7)) == pytest.approx([0.7, 0.7, 0.7])
    x = np.log2(budgets)
    acc = 0.5 + 0.2 * (x - x[0]) / (x[-1] - x[0])  # linear in log budget, 0.5 -> 0.7
    assert st.aulc(budgets, acc[None, :]) == pytest.approx([0.6])
    # trapezoid by hand on an uneven ladder: segments of 1, 2, 2 doublings
    acc2 = np.array([[0.5, 0.6, 0.6, 0.9]])
    hand = (1 * 0.55 + 2 * 0.6 + 2 * 0.75) / 5
    assert st.aulc(budgets, acc2) == pytest.approx([hand])


@settings(max_examples=50, deadline=None)
@given(
    st_h.lists(st_h.floats(0.0, 1.0), min_size=3, max_size=3), st_h.lists(st_h.floats(0.0, 1.0), min_size=3, max_size=3)
)
def test_aulc_is_a_mean_accuracy(row1, row2):
    acc = np.array([row1, row2])
    out = st.aulc([100, 300, 1000], acc)
    assert out.shape == (2,)
    assert np.all(out >= acc.min(axis=1) - 1e-12) and np.all(out <= acc.max(axis=1) + 1e-12)


def test_budget_to_reach_by_hand():
    budgets = [100, 400, 1600]
    acc = np.array([[0.5, 0.6, 0.8], [0.7, 0.75, 0.9], [0.5, 0.55, 0.6], [0.5, 0.8, 0.6]])
    out = st.budget_to_reach(budgets, acc, 0.7)
    # seed 0: halfway from 0.6 to 0.8 between log2 400 and log2 1600 -> 800
    # seed 1: first rung already there; seed 2: never; seed 3: first crossing counts (dip later)
    lo = np.log2(100)
    seed3 = 2 ** (lo + (0.7 - 0.5) / (0.8 - 0.5) * 2)
    np.testing.assert_allclose(out, [800.0, 100.0, np.inf, seed3])
    assert st.budget_to_reach(budgets, acc, 0.6)[0] == pytest.approx(400.0)


def test_budget_to_reach_ci_handles_inf():
    budgets = [100, 400, 1600]
    acc = np.array([[0.5, 0.6, 0.8], [0.5, 0.7, 0.9], [0.5, 0.55, 0.6], [0.6, 0.65, 0.75], [0.5, 0.6, 0.65]])
    r = st.budget_to_reach_ci(budgets, acc, 0.7, rng=0, n_resamples=2000)
    vals = st.budget_to_reach(budgets, acc, 0.7)
    assert r.frac_reached == pytest.approx(3 / 5)
    assert r.median == pytest.approx(np.median(vals))
    assert r.low <= r.median <= r.high and r.high == np.inf
    assert r == st.budget_to_reach_ci(budgets, acc, 0.7, rng=0, n_resamples=2000)


def test_ladder_validation():
    with pytest.raises(ValueError, match="increasing"):
        st.aulc([100, 100, 200], np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"shape \(S, K\)"):
        st.aulc([100, 200, 400], np.zeros(3))


# --------------------------------------------------------------------------------------------------
# power


@pytest.mark.parametrize(
    "sd, S, table",
    [
        (1.0, 5, 2.0),
        (1.0, 10, 1.3),
        (1.0, 20, 0.9),
        (1.7, 5, 3.4),
        (1.7, 10, 2.3),
        (1.7, 20, 1.5),
        (2.3, 5, 4.6),
        (2.3, 10, 3.0),
        (2.3, 20, 2.1),
    ],
)
def test_min_detectable_effect_matches_statistics_table(sd, S, table):
    # within rounding to 0.1 pp; the table's 4.6 for (2.3, 5) is 4.66 here (2.3 x d = 2.025)
    assert abs(st.min_detectable_effect(sd, S) - table) <= 0.07


def test_paired_mde_is_smaller_with_correlated_seeds():
    # arm SD 1.7 pp with seed correlation 0.5 -> SD of differences 1.7 pp
    assert st.min_detectable_effect(1.7, 10, paired=True) < st.min_detectable_effect(1.7, 10)


def _null_rejection_rate(S: int, paired: bool, reps: int, seed: int, **kw) -> float:
    """Both arms from one distribution (62 % +- 1.7 pp; paired arms share a seed effect)."""
    rng = np.random.default_rng(seed)
    rejections = 0
    for _ in range(reps):
        shared = rng.normal(0, 0.017, S) if paired else 0.0
        a = 0.62 + shared + rng.normal(0, 0.017, S)
        b = 0.62 + shared + rng.normal(0, 0.017, S)
        rejections += st.permutation_pvalue(a, b, rng=rng, paired=paired, **kw).pvalue < 0.05
    return rejections / reps


# Measured with these seeds (reported in docs/statistics.md): paired S=5 0.000 (min p 0.0625),
# paired S=10 0.040, unpaired S=5 0.0475, unpaired S=10 (Monte Carlo) 0.045.
@pytest.mark.parametrize("S, paired", [(5, True), (10, True), (5, False)])
def test_permutation_test_size_under_null(S, paired):
    rate = _null_rejection_rate(S, paired, reps=400, seed=1)
    # 0.05 plus ~2 binomial SDs (sqrt(0.05 * 0.95 / 400) = 0.011)
    assert rate <= 0.075
    if paired and S == 5:
        assert rate == 0.0  # p < 0.05 is unattainable with 5 matched seeds


@pytest.mark.slow
def test_permutation_test_size_under_null_unpaired_10_monte_carlo():
    assert _null_rejection_rate(10, False, reps=400, seed=1, n_resamples=1999) <= 0.075
