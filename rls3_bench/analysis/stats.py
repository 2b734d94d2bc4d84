"""Statistics for comparing generators: pure functions on per-seed arrays, RNG always passed in.

The unit of replication is the *seed*: one end-to-end run (generator sampling, fine-tune
initialisation, data order) scored on the frozen eval set. Every interval here resamples whole seeds,
never items, because the item scores of one seed all come from the same trained model and are
correlated (see docs/statistics.md).

Shapes used in the docstrings:

- ``S``: seeds (one run each); ``S_a``, ``S_b`` for two arms of different size.
- ``R``: relations (or any other per-seed breakdown scored on the same model).
- ``K``: budgets on the ladder.
- ``N``: shared eval items.

Every function that draws random numbers takes ``rng``: a ``numpy.random.Generator`` or an int seed.
Nothing here touches numpy's global RNG, so the same ``rng`` seed gives the same interval.

The tests themselves come from scipy.stats (``bootstrap``, ``permutation_test``, ``ttest_ind``,
``ttest_rel``, ``mannwhitneyu``, ``trim_mean``) and statsmodels (``multipletests``, ``mcnemar``,
``TTestIndPower``, ``TTestPower``); this module only fixes the choices (whole-seed resampling, exact
enumeration, degenerate cases) and returns small frozen records.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

RngLike = np.random.Generator | int | np.integer

#: Above this many distinct permutations the permutation test is Monte Carlo instead of exact.
#: Paired sign flips stay exact up to S = 16 (2**16 = 65,536); unpaired up to 9 seeds per arm
#: (C(18, 9) = 48,620). Unpaired S = 10 (C(20, 10) = 184,756) takes ~5 s exact in scipy, so by default it
#: is Monte Carlo; pass max_exact=np.inf to enumerate anyway.
MAX_EXACT_PERMUTATIONS = 100_000


# --------------------------------------------------------------------------------------------------
# helpers


def _rng(rng: RngLike) -> np.random.Generator:
    """Accept a Generator or an int seed; refuse None so nobody gets an unseeded interval by accident."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(
        f"rng must be a numpy.random.Generator or an int seed, not {type(rng).__name__}; "
        "pass e.g. numpy.random.default_rng(0)"
    )


def _seed_vector(x, name: str, min_len: int = 1) -> np.ndarray:
    arr = np.asarray(x, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{name} must have shape (S,) (one value per seed), got shape {arr.shape}")
    if arr.shape[0] < min_len:
        raise ValueError(f"{name} needs at least {min_len} seeds, got {arr.shape[0]}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf; drop or re-run the failed seeds first")
    return arr


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")


def _ci_from_scipy(res) -> tuple[float, float]:
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def _ci_from_t(res, confidence: float) -> tuple[float, float]:
    ci = res.confidence_interval(confidence_level=confidence)
    return float(ci.low), float(ci.high)


def _quiet(fn: Callable, *args, **kwargs):
    """Run a scipy call with its degenerate-data / precision warnings silenced; callers check results."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", getattr(sps, "DegenerateDataWarning", RuntimeWarning))
        with np.errstate(all="ignore"):
            return fn(*args, **kwargs)


# --------------------------------------------------------------------------------------------------
# 1. interval for one arm


@dataclass(frozen=True)
class SeedCI:
    """A point estimate with a bootstrap interval over whole seeds.

    :param mean: the statistic on all S seeds (a mean accuracy, in the metric's own units).
    :param low: lower end of the interval.
    :param high: upper end of the interval.
    :param n: number of seeds S it was computed from.
    :param confidence: nominal coverage, e.g. 0.95.
    :param method: bootstrap method actually used ("BCa", "percentile", "basic"), or "degenerate" when
        no interval can be estimated (S < 3 or all seeds equal); then ``low == high == mean``, which
        means "not estimable", not "no uncertainty".
    """

    mean: float
    low: float
    high: float
    n: int
    confidence: float = 0.95
    method: str = "BCa"

    @property
    def degenerate(self) -> bool:
        return self.method == "degenerate"

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2.0


def _whole_seed_bootstrap(
    scores: np.ndarray,
    stat_rows: Callable[[np.ndarray], np.ndarray],
    rng: np.random.Generator,
    confidence: float,
    n_resamples: int,
    method: str,
) -> tuple[float, float, str]:
    """Bootstrap over whole seeds: resample row indices of ``scores`` (shape (S, ...)) jointly.

    ``stat_rows`` maps an array of shape (B, S, ...) (B resampled copies) to shape (B,).
    Resampling the index vector rather than the values keeps every row intact, so per-relation scores
    of one seed stay together; BCa's jackknife then leaves out whole seeds too.
    Falls back to the percentile method if BCa returns NaN (it can when resamples tie heavily).
    """
    idx = np.arange(scores.shape[0])

    def statistic(i, axis=-1):
        i = np.asarray(i)
        if axis != -1:
            i = np.moveaxis(i, axis, -1)
        flat = i.reshape(-1, i.shape[-1])
        out = stat_rows(scores[flat])
        return out.reshape(i.shape[:-1])

    for m in (method, "percentile") if method != "percentile" else ("percentile",):
        # Each attempt gets its own child stream, so a fallback does not depend on how much the
        # first attempt consumed, and the same rng seed always gives the same interval.
        child = np.random.default_rng(rng.integers(2**63))
        res = _quiet(
            sps.bootstrap,
            (idx,),
            statistic,
            n_resamples=n_resamples,
            vectorized=True,
            confidence_level=confidence,
            method=m,
            rng=child,
        )
        lo, hi = _ci_from_scipy(res)
        if np.isfinite(lo) and np.isfinite(hi):
            return lo, hi, m
    return float("nan"), float("nan"), "degenerate"


def seed_mean_ci(
    scores,
    rng: RngLike,
    confidence: float = 0.95,
    n_resamples: int = 10_000,
    method: str = "BCa",
) -> SeedCI:
    """Mean over seeds with a bootstrap CI that resamples whole seeds.

    :param scores: shape (S,) one metric value per seed, or shape (S, R) per-seed breakdown (e.g. the
        six relations); for (S, R) the statistic is the grand mean over all S*R cells and whole rows are
        resampled, so the relations of one seed stay together.
    :param rng: numpy Generator or int seed; same seed -> identical interval.
    :param confidence: nominal coverage.
    :param n_resamples: bootstrap resamples.
    :param method: "BCa" (default), "percentile" or "basic" (scipy.stats.bootstrap's names), or "t"
        for the Student t interval on the per-seed means (scipy ``ttest_1samp(...).confidence_interval``;
        no resampling). If BCa gives NaN the percentile interval is returned and ``method`` says so.
    :returns: :class:`SeedCI`. With S < 3, or when every seed has the same value, no interval can be
        estimated and ``low == high == mean`` with ``method == "degenerate"``.

    Caveat: bootstrap intervals over few seeds are too narrow. Measured coverage of the nominal 95 %
    interval on normal data (1000 replications): BCa 0.84 at S = 5, 0.90 at S = 10, 0.93 at S = 20;
    the t interval 0.94-0.95 throughout (docs/statistics.md).
    """
    _check_confidence(confidence)
    arr = np.asarray(scores, dtype=float)
    if arr.ndim not in (1, 2):
        raise ValueError(f"scores must have shape (S,) or (S, R), got shape {arr.shape}")
    arr2 = arr.reshape(arr.shape[0], -1)
    if arr2.shape[0] < 1 or arr2.shape[1] < 1:
        raise ValueError(f"scores is empty (shape {arr.shape})")
    if not np.all(np.isfinite(arr2)):
        raise ValueError("scores contains NaN or inf; drop or re-run the failed seeds first")
    g = _rng(rng)
    S = arr2.shape[0]
    mean = float(arr2.mean())
    row_means = arr2.mean(axis=1)
    if S < 3 or np.ptp(row_means) == 0.0:
        return SeedCI(mean, mean, mean, S, confidence, "degenerate")
    if method == "t":
        lo, hi = _ci_from_t(_quiet(sps.ttest_1samp, row_means, 0.0), confidence)
        return SeedCI(mean, lo, hi, S, confidence, "t")
    lo, hi, used = _whole_seed_bootstrap(arr2, lambda x: x.mean(axis=(1, 2)), g, confidence, n_resamples, method)
    if used == "degenerate":
        return SeedCI(mean, mean, mean, S, confidence, "degenerate")
    return SeedCI(mean, lo, hi, S, confidence, used)


def iqm(scores, axis=None):
    """Interquartile mean (25 % trimmed mean, rliable's IQM) via scipy.stats.trim_mean.

    :param scores: any shape; with ``axis=None`` all cells are pooled (e.g. (S, R) seed x relation).
    :returns: a float for ``axis=None``, otherwise the array reduced along ``axis``.
    """
    arr = np.asarray(scores, dtype=float)
    if axis is None:
        return float(sps.trim_mean(arr.ravel(), 0.25))
    return sps.trim_mean(arr, 0.25, axis=axis)


def seed_iqm_ci(
    scores,
    rng: RngLike,
    confidence: float = 0.95,
    n_resamples: int = 10_000,
    method: str = "BCa",
) -> SeedCI:
    """IQM of all (seed x relation) cells with a whole-seed bootstrap CI (leaderboard statistic).

    :param scores: shape (S, R) or (S,).
    :returns: :class:`SeedCI` whose ``mean`` field holds the IQM. Degenerate as in :func:`seed_mean_ci`.
    """
    _check_confidence(confidence)
    arr = np.asarray(scores, dtype=float)
    if arr.ndim not in (1, 2) or arr.size == 0:
        raise ValueError(f"scores must have shape (S,) or (S, R), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("scores contains NaN or inf; drop or re-run the failed seeds first")
    arr2 = arr.reshape(arr.shape[0], -1)
    g = _rng(rng)
    S = arr2.shape[0]
    point = iqm(arr2)
    if S < 3 or np.ptp(arr2) == 0.0:
        return SeedCI(point, point, point, S, confidence, "degenerate")

    def stat_rows(x):  # (B, S, R) -> (B,)
        return sps.trim_mean(x.reshape(x.shape[0], -1), 0.25, axis=1)

    lo, hi, used = _whole_seed_bootstrap(arr2, stat_rows, g, confidence, n_resamples, method)
    if used == "degenerate":
        return SeedCI(point, point, point, S, confidence, "degenerate")
    return SeedCI(point, lo, hi, S, confidence, used)


# --------------------------------------------------------------------------------------------------
# 2. two generators at one budget


def n_permutations(S_a: int, S_b: int | None = None, paired: bool = True) -> int:
    """Number of distinct relabelings the exact permutation test enumerates.

    Paired sign flip over S matched seeds: 2**S. Unpaired: C(S_a + S_b, S_a).
    """
    if paired:
        return 2 ** int(S_a)
    S_b = S_a if S_b is None else S_b
    return math.comb(int(S_a) + int(S_b), int(S_a))


def min_attainable_p(S: int, paired: bool, S_b: int | None = None) -> float:
    """Smallest two-sided p-value an exact permutation test over seeds can return.

    The most extreme relabeling and its mirror image are 2 of ``n_permutations`` equally likely ones:
    ``2 / 2**S`` paired (sign flip), ``2 / C(S_a + S_b, S_a)`` unpaired.

    ========  ==================  ==================
    S / arm   paired (sign flip)  unpaired
    ========  ==================  ==================
    3         0.25                0.10
    4         0.125               0.029
    5         0.0625              0.0079
    6         0.031               0.0022
    10        0.00195             1.1e-05
    ========  ==================  ==================

    So with 3 seeds per arm (either design) or 5 matched seeds analysed paired, p < 0.05 is
    impossible whatever the data; a "not significant" there says nothing about the generators.
    """
    if int(S) < 1 or (S_b is not None and int(S_b) < 1):
        raise ValueError("S must be >= 1")
    return min(1.0, 2.0 / n_permutations(S, S_b, paired))


def _mean_diff(x, y, axis=-1):
    return np.mean(x, axis=axis) - np.mean(y, axis=axis)


@dataclass(frozen=True)
class PermutationResult:
    """Two-sided permutation p-value for mean(a) - mean(b).

    :param pvalue: the p-value.
    :param exact: True if every relabeling was enumerated; False for a Monte Carlo estimate
        (then p = (k + 1) / (n + 1) as in scipy).
    :param n_permutations: relabelings enumerated (exact) or drawn (Monte Carlo).
    """

    pvalue: float
    exact: bool
    n_permutations: int


def permutation_pvalue(
    a,
    b,
    rng: RngLike,
    paired: bool = True,
    n_resamples: int = 99_999,
    max_exact: int = MAX_EXACT_PERMUTATIONS,
) -> PermutationResult:
    """Permutation test over whole seeds of H0 "A and B are exchangeable", statistic mean(a) - mean(b).

    :param a: shape (S_a,) per-seed metric for generator A.
    :param b: shape (S_b,) for B; with ``paired=True`` S_b == S_a and a[i], b[i] share seed i.
    :param rng: Generator or int seed; only used when the test is Monte Carlo.
    :param paired: sign-flip test within matched seeds (scipy ``permutation_type="samples"``);
        otherwise the two-sample test (``"independent"``).
    :param n_resamples: Monte Carlo draws when enumeration is too large.
    :param max_exact: enumerate exactly when the number of relabelings is at most this
        (2**S paired, C(S_a+S_b, S_a) unpaired); ``n_resamples=np.inf`` is passed to scipy to force it.
    """
    a = _seed_vector(a, "a")
    b = _seed_vector(b, "b")
    if paired and a.shape != b.shape:
        raise ValueError(f"paired comparison needs one value per matched seed in both arms, got {a.size} and {b.size}")
    total = n_permutations(a.size, b.size, paired)
    exact = total <= max_exact
    res = _quiet(
        sps.permutation_test,
        (a, b),
        _mean_diff,
        permutation_type="samples" if paired else "independent",
        vectorized=True,
        n_resamples=np.inf if exact else int(n_resamples),
        alternative="two-sided",
        rng=_rng(rng),
    )
    return PermutationResult(float(res.pvalue), exact, total if exact else int(n_resamples))


def hedges_g(a, b) -> float:
    """Hedges' g: (mean(a) - mean(b)) / pooled SD, times the exact small-sample correction J.

    :param a: shape (S_a,); :param b: shape (S_b,).
    Uses the pooled SD of the two arms also for paired data (comparable across designs).
    NaN when the pooled SD is 0.
    """
    a = _seed_vector(a, "a", 2)
    b = _seed_vector(b, "b", 2)
    na, nb = a.size, b.size
    dof = na + nb - 2
    pooled = math.sqrt(((na - 1) * a.var(ddof=1) + (nb - 1) * b.var(ddof=1)) / dof)
    if pooled == 0.0:
        return float("nan")
    j = math.exp(math.lgamma(dof / 2) - math.log(math.sqrt(dof / 2)) - math.lgamma((dof - 1) / 2))
    return float(j * (a.mean() - b.mean()) / pooled)


def probability_of_improvement(a, b) -> float:
    """P(A > B) for a random seed of each arm, ties counted half: Mann-Whitney U / (S_a * S_b).

    :param a: shape (S_a,); :param b: shape (S_b,). 0.5 means no tendency either way.
    """
    a = _seed_vector(a, "a")
    b = _seed_vector(b, "b")
    u = sps.mannwhitneyu(a, b, alternative="two-sided", method="asymptotic").statistic
    return float(u / (a.size * b.size))


@dataclass(frozen=True)
class Comparison:
    """Generator A vs B at one budget, everything over whole seeds.

    :param delta: mean(a) - mean(b), in the metric's units (accuracy as a fraction -> 0.02 = 2 pp).
    :param low, high: bootstrap CI of delta (``ci_method`` says which; "degenerate" -> low == high == delta).
    :param p_perm: two-sided permutation p-value (the headline p).
    :param perm_exact: whether ``p_perm`` came from full enumeration.
    :param n_permutations: relabelings enumerated or drawn.
    :param min_p: the smallest p the exact test could give with these seed counts.
    :param p_t: Welch t (unpaired) or paired t p-value, a sanity check; NaN if undefined (zero variance).
    :param hedges_g: standardised effect (pooled SD of the arms); NaN if both arms are constant.
    :param prob_improvement: P(A > B) over seeds, ties half (Mann-Whitney U / (S_a S_b)).
    :param n_a, n_b: seeds per arm.
    :param paired: whether seeds were matched.
    :param confidence: CI level.
    :param ci_method: bootstrap method used.
    """

    delta: float
    low: float
    high: float
    p_perm: float
    perm_exact: bool
    n_permutations: int
    min_p: float
    p_t: float
    hedges_g: float
    prob_improvement: float
    n_a: int
    n_b: int
    paired: bool
    confidence: float = 0.95
    ci_method: str = "BCa"

    def equivalent(self, margin: float) -> bool:
        """True if the whole CI lies inside (-margin, +margin), e.g. margin=0.02 for 2 pp.

        With a 95 % CI this is TOST at alpha = 0.025 per side (a 90 % CI gives TOST at 0.05).
        Never True for a degenerate interval.
        """
        return self.ci_method != "degenerate" and -margin < self.low and self.high < margin


def compare_generators(
    a,
    b,
    rng: RngLike,
    paired: bool = True,
    confidence: float = 0.95,
    n_resamples: int = 10_000,
    method: str = "BCa",
    perm_resamples: int = 99_999,
    max_exact: int = MAX_EXACT_PERMUTATIONS,
) -> Comparison:
    """Compare generator A with B at one budget from per-seed metrics (battery step 1).

    :param a: shape (S_a,) per-seed metric of A (e.g. macro accuracy over the six relations).
    :param b: shape (S_b,) per-seed metric of B. With ``paired=True`` S_a == S_b and a[i], b[i] were
        run with the same seed i (same fine-tune init / data order where the design matches them).
    :param rng: Generator or int seed, used for the bootstrap (and a Monte Carlo permutation test).
    :param paired: paired analysis (bootstrap of the per-seed differences, sign-flip permutation test,
        paired t) or unpaired (independent resampling within each arm, two-sample permutation, Welch t).
    :param confidence, n_resamples, method: the CI of delta: "BCa" (default) / "percentile" / "basic"
        bootstrap over whole seeds, or "t" (paired t or Welch interval from scipy). With S <= 10 the
        bootstrap undercovers (about 0.83-0.85 at S = 5, 0.91 at S = 10 for a nominal 0.95), so the
        bootstrap CI can exclude 0 while ``p_perm`` is far above 0.05; ``method="t"`` keeps nominal
        coverage on normal-ish seed scores.
    :param perm_resamples, max_exact: see :func:`permutation_pvalue`.
    :returns: :class:`Comparison`.

    Minimum attainable p (see :func:`min_attainable_p`): with 3 seeds per arm the unpaired exact test
    cannot go below 2/C(6,3) = 0.10, and the paired sign-flip test with 5 seeds cannot go below
    2/2**5 = 0.0625, so neither can ever report p < 0.05. Check ``min_p`` before reading a p-value.
    """
    _check_confidence(confidence)
    a = _seed_vector(a, "a", 2)
    b = _seed_vector(b, "b", 2)
    if paired and a.shape != b.shape:
        raise ValueError(
            f"paired comparison needs one value per matched seed in both arms, got {a.size} and {b.size}; "
            "pass paired=False for unmatched seeds"
        )
    g = _rng(rng)
    boot_rng, perm_rng = g.spawn(2)
    delta = float(a.mean() - b.mean())

    if paired:
        d = a - b
        if d.size < 3 or np.ptp(d) == 0.0:
            lo, hi, used = delta, delta, "degenerate"
        elif method == "t":
            lo, hi = _ci_from_t(_quiet(sps.ttest_rel, a, b), confidence)
            used = "t"
        else:
            lo, hi, used = _whole_seed_bootstrap(
                d[:, None], lambda x: x.mean(axis=(1, 2)), boot_rng, confidence, n_resamples, method
            )
        p_t = float(_quiet(sps.ttest_rel, a, b).pvalue)
    else:
        if min(a.size, b.size) < 3 or (np.ptp(a) == 0.0 and np.ptp(b) == 0.0):
            lo, hi, used = delta, delta, "degenerate"
        elif method == "t":
            lo, hi = _ci_from_t(_quiet(sps.ttest_ind, a, b, equal_var=False), confidence)
            used = "t"
        else:
            used = "degenerate"
            for m in (method, "percentile") if method != "percentile" else ("percentile",):
                child = np.random.default_rng(boot_rng.integers(2**63))
                res = _quiet(
                    sps.bootstrap,
                    (a, b),
                    _mean_diff,
                    n_resamples=n_resamples,
                    vectorized=True,
                    confidence_level=confidence,
                    method=m,
                    rng=child,
                )
                lo, hi = _ci_from_scipy(res)
                if np.isfinite(lo) and np.isfinite(hi):
                    used = m
                    break
        p_t = float(_quiet(sps.ttest_ind, a, b, equal_var=False).pvalue)
    if used == "degenerate":
        lo = hi = delta

    perm = permutation_pvalue(a, b, perm_rng, paired=paired, n_resamples=perm_resamples, max_exact=max_exact)
    return Comparison(
        delta=delta,
        low=float(lo),
        high=float(hi),
        p_perm=perm.pvalue,
        perm_exact=perm.exact,
        n_permutations=perm.n_permutations,
        min_p=min_attainable_p(a.size, paired, None if paired else b.size),
        p_t=p_t,
        hedges_g=hedges_g(a, b),
        prob_improvement=probability_of_improvement(a, b),
        n_a=int(a.size),
        n_b=int(b.size),
        paired=paired,
        confidence=confidence,
        ci_method=used,
    )


# --------------------------------------------------------------------------------------------------
# 3. multiple comparisons


def holm(pvalues: Mapping[str, float] | pd.Series | Sequence[float] | np.ndarray, alpha: float = 0.05) -> pd.DataFrame:
    """Holm-Bonferroni adjustment over one family of comparisons (statsmodels ``multipletests``).

    :param pvalues: a dict or pandas Series {comparison name: p}, or a plain sequence / shape (m,)
        array (then names are 0..m-1). The family is everything passed in one call: e.g. the six
        relations of one A-vs-B comparison, or all budgets, or all generator pairs.
    :param alpha: family-wise error rate.
    :returns: DataFrame indexed by name, in input order, columns ``p`` (raw), ``p_holm`` (adjusted,
        monotone, capped at 1) and ``reject`` (bool, p_holm <= alpha).
    """
    from statsmodels.stats.multitest import multipletests

    if isinstance(pvalues, pd.Series):
        s = pvalues.astype(float)
    elif isinstance(pvalues, Mapping):
        s = pd.Series({k: float(v) for k, v in pvalues.items()}, dtype=float)
    else:
        arr = np.asarray(pvalues, dtype=float)
        if arr.ndim != 1:
            raise ValueError(f"pvalues must have shape (m,), got {arr.shape}")
        s = pd.Series(arr)
    if s.empty:
        raise ValueError("holm() needs at least one p-value")
    vals = s.to_numpy(dtype=float)
    if not np.all(np.isfinite(vals)) or np.any((vals < 0) | (vals > 1)):
        bad = list(s.index[~(np.isfinite(vals) & (vals >= 0) & (vals <= 1))])
        raise ValueError(f"p-values must be finite and in [0, 1]; bad entries: {bad}")
    reject, p_adj, _, _ = multipletests(vals, alpha=alpha, method="holm")
    return pd.DataFrame({"p": vals, "p_holm": p_adj, "reject": reject.astype(bool)}, index=s.index)


# --------------------------------------------------------------------------------------------------
# 4. item-level diagnostic


@dataclass(frozen=True)
class McNemarPairs:
    """Exact McNemar per matched seed pair. DIAGNOSTIC, conditional on the trained models.

    :param pvalues: shape (S,) exact two-sided p per seed pair.
    :param a_only: shape (S,) items A got right and B wrong (discordant count b).
    :param b_only: shape (S,) items B got right and A wrong (discordant count c).
    :param median_p: median of ``pvalues``.
    :param frac_significant: fraction of pairs with p < alpha.
    :param alpha: the threshold used.
    """

    pvalues: np.ndarray
    a_only: np.ndarray
    b_only: np.ndarray
    median_p: float
    frac_significant: float
    alpha: float


def mcnemar_pairs(correct_a, correct_b, alpha: float = 0.05) -> McNemarPairs:
    """Exact McNemar test per matched seed pair on the shared eval items.

    DIAGNOSTIC, CONDITIONAL ON THE TRAINED MODELS: it asks "do these two particular trained models
    differ on these items?", not "does generator A teach better than B?". It ignores seed-to-seed
    training variance, and in the project's power simulation (STATISTICS.md, power table) one seed
    pair rejected a true null 6-21 % of the time at alpha = 0.05 (0.12 at SD 1.7 pp, S = 10; 0.21 at
    SD 2.3 pp, S = 5). Never the headline; use :func:`compare_generators` for that.

    :param correct_a: shape (S, N) bool, item n correct for A's model of seed s.
    :param correct_b: shape (S, N) bool, same seeds and items for B.
    :param alpha: threshold for ``frac_significant``.
    :returns: :class:`McNemarPairs`. A pair with no discordant items gets p = 1.
    """
    from statsmodels.stats.contingency_tables import mcnemar

    ca = np.asarray(correct_a)
    cb = np.asarray(correct_b)
    if ca.ndim != 2 or ca.shape != cb.shape:
        raise ValueError(f"correct_a and correct_b must both have shape (S, N), got {ca.shape} and {cb.shape}")
    if ca.dtype != bool or cb.dtype != bool:
        if not (np.isin(ca, (0, 1)).all() and np.isin(cb, (0, 1)).all()):
            raise ValueError("correct_a and correct_b must be boolean (or 0/1) per-item correctness")
        ca, cb = ca.astype(bool), cb.astype(bool)
    a_only = (ca & ~cb).sum(axis=1)
    b_only = (~ca & cb).sum(axis=1)
    both = (ca & cb).sum(axis=1)
    neither = (~ca & ~cb).sum(axis=1)
    ps = np.empty(ca.shape[0])
    for s in range(ca.shape[0]):
        table = np.array([[both[s], a_only[s]], [b_only[s], neither[s]]])
        ps[s] = min(1.0, float(mcnemar(table, exact=True).pvalue))
    return McNemarPairs(
        pvalues=ps,
        a_only=a_only.astype(int),
        b_only=b_only.astype(int),
        median_p=float(np.median(ps)),
        frac_significant=float(np.mean(ps < alpha)),
        alpha=alpha,
    )


# --------------------------------------------------------------------------------------------------
# 5-6. data efficiency over the budget ladder


def _ladder(budgets, acc) -> tuple[np.ndarray, np.ndarray]:
    bud = np.asarray(budgets, dtype=float)
    arr = np.asarray(acc, dtype=float)
    if bud.ndim != 1 or bud.size < 2:
        raise ValueError(f"budgets must have shape (K,) with K >= 2, got shape {bud.shape}")
    if not np.all(np.isfinite(bud)) or np.any(bud <= 0) or np.any(np.diff(bud) <= 0):
        raise ValueError(f"budgets must be finite, > 0 and strictly increasing, got {bud.tolist()}")
    if arr.ndim != 2 or arr.shape[1] != bud.size:
        raise ValueError(f"acc must have shape (S, K) = (seeds, {bud.size} budgets), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("acc contains NaN or inf; every seed needs a score at every budget")
    return bud, arr


def aulc(budgets, acc) -> np.ndarray:
    """Area under the accuracy vs log2(budget) curve, per seed, as a mean accuracy.

    Trapezoid rule in log2(budget), divided by log2(budgets[-1] / budgets[0]), so a constant curve at
    0.7 gives 0.7 and the result is in [0, 1] whenever accuracies are.

    :param budgets: shape (K,), K >= 2, strictly increasing, > 0 (e.g. samples per generator).
    :param acc: shape (S, K) accuracy of seed s at budget k.
    :returns: shape (S,). Feed it to :func:`seed_mean_ci` or :func:`compare_generators`.
    """
    bud, arr = _ladder(budgets, acc)
    x = np.log2(bud)
    return np.trapezoid(arr, x, axis=1) / (x[-1] - x[0])


def budget_to_reach(budgets, acc, target: float) -> np.ndarray:
    """Per seed, the smallest budget at which accuracy first reaches ``target``.

    Between ladder points the curve is taken as linear in log2(budget): if acc[k-1] < target <= acc[k]
    the answer is 2 ** (x[k-1] + (target - acc[k-1]) / (acc[k] - acc[k-1]) * (x[k] - x[k-1])),
    x = log2(budgets). If the first rung already reaches it the answer is budgets[0] (the ladder cannot
    say how much less would do). The first crossing counts even if the curve dips later.

    :param budgets: shape (K,), strictly increasing, > 0.
    :param acc: shape (S, K).
    :param target: accuracy threshold, same units as ``acc``.
    :returns: shape (S,) float budgets; ``np.inf`` where the seed never reaches ``target``.
    """
    bud, arr = _ladder(budgets, acc)
    x = np.log2(bud)
    out = np.full(arr.shape[0], np.inf)
    hit = arr >= target
    for s in range(arr.shape[0]):
        ks = np.flatnonzero(hit[s])
        if ks.size == 0:
            continue
        k = ks[0]
        if k == 0:
            out[s] = bud[0]
            continue
        y0, y1 = arr[s, k - 1], arr[s, k]
        xs = x[k - 1] + (target - y0) / (y1 - y0) * (x[k] - x[k - 1])
        out[s] = 2.0**xs
    return out


@dataclass(frozen=True)
class ReachCI:
    """Median budget-to-reach over seeds with a whole-seed bootstrap interval.

    :param median: median over seeds of :func:`budget_to_reach` (inf if half or more never reach it).
    :param low, high: percentile bootstrap interval of the median; ``high`` is inf when in more than
        (1 - confidence)/2 of resamples most seeds did not reach the target within the ladder.
    :param frac_reached: fraction of seeds that reach the target at all.
    :param n: seeds.
    :param confidence: nominal coverage.
    """

    median: float
    low: float
    high: float
    frac_reached: float
    n: int
    confidence: float = 0.95


def budget_to_reach_ci(
    budgets,
    acc,
    target: float,
    rng: RngLike,
    confidence: float = 0.95,
    n_resamples: int = 10_000,
) -> ReachCI:
    """:func:`budget_to_reach` summarised over seeds: median, bootstrap CI of the median, reach rate.

    The interval resamples whole seeds and uses percentiles of the resampled medians (computed here
    with numpy on resampled seed indices, because BCa's jackknife is undefined once a value is inf).
    Medians are order statistics, so with few seeds the interval is coarse (ends are ladder-interpolated
    values of actual seeds).

    :param budgets: shape (K,); :param acc: shape (S, K); :param target: threshold.
    :param rng: Generator or int seed.
    :returns: :class:`ReachCI`.
    """
    _check_confidence(confidence)
    vals = budget_to_reach(budgets, acc, target)
    g = _rng(rng)
    S = vals.size
    med = float(np.median(vals))
    frac = float(np.mean(np.isfinite(vals)))
    if S < 3 or np.all(vals == vals[0]):
        return ReachCI(med, med, med, frac, S, confidence)
    idx = g.integers(0, S, size=(int(n_resamples), S))
    # Order statistics of the resamples: np.sort puts inf last, so medians are well defined (maybe inf).
    boot = np.sort(vals[idx], axis=1)
    lo_i, hi_i = (S - 1) // 2, S // 2
    with np.errstate(invalid="ignore"):
        meds = np.where(lo_i == hi_i, boot[:, lo_i], (boot[:, lo_i] + boot[:, hi_i]) / 2.0)
    alpha = 1.0 - confidence
    # method="lower"/"higher" keeps ends on attained values and avoids inf - inf interpolation.
    lo = float(np.quantile(meds, alpha / 2, method="lower"))
    hi = float(np.quantile(meds, 1 - alpha / 2, method="higher"))
    return ReachCI(med, lo, hi, frac, S, confidence)


# --------------------------------------------------------------------------------------------------
# 7. power


def min_detectable_effect(
    sd: float,
    S: int,
    alpha: float = 0.05,
    power: float = 0.8,
    paired: bool = False,
) -> float:
    """Smallest true difference a two-sided t test detects with the given power, in ``sd``'s units.

    Unpaired (default): two arms of S seeds each, per-seed SD ``sd`` in each arm; statsmodels
    ``TTestIndPower`` solves for Cohen's d, returned as d * sd. (Equal n and equal SD, so this is also
    the Welch design's figure.) Reproduces STATISTICS.md: sd 1.7 pp -> 3.4 pp at S = 5, 2.3 pp at S = 10.

    Paired (``paired=True``): S matched seed pairs and ``sd`` is the SD of the per-seed *difference*
    a_s - b_s (= arm SD * sqrt(2 (1 - rho)) for seed correlation rho); ``TTestPower`` (one-sample t on
    the differences).

    :returns: float, the minimum detectable effect (e.g. 0.034 for sd=0.017, S=5).
    """
    from statsmodels.stats.power import TTestIndPower, TTestPower

    if sd < 0 or not np.isfinite(sd):
        raise ValueError(f"sd must be finite and >= 0, got {sd}")
    if int(S) < 2:
        raise ValueError(f"S must be >= 2 seeds, got {S}")
    if paired:
        d = TTestPower().solve_power(effect_size=None, nobs=int(S), alpha=alpha, power=power, alternative="two-sided")
    else:
        d = TTestIndPower().solve_power(
            effect_size=None, nobs1=int(S), alpha=alpha, power=power, ratio=1.0, alternative="two-sided"
        )
    return float(np.asarray(d).item() * sd)
