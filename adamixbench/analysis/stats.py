"""Statistics over seeds: summaries, bootstrap intervals, paired tests with multiplicity correction,
almost stochastic order, aggregates across tasks (IQM, probability of improvement, performance
profiles) and the power of a paired comparison.

Pure functions on plain sequences / mappings / arrays (no I/O), used by the tables, comparisons, claims
and plots of :mod:`adamixbench.analysis`. The statistics come from maintained packages wherever one exists:
scipy (t-test, Wilcoxon, t quantiles, noncentral t for power), statsmodels (Holm), deepsig (ASO); the
aggregates across tasks are rliable's definitions, vectorised, with rliable as the reference in the tests
(below: why rliable itself cannot run them here).

The statistics the tables and figures report are named once, here (:class:`Statistic`: the column
name, the display name, the function): :data:`SEED_STATISTICS` over the seeds of one cell
(:func:`describe`, ``summary.csv``, the long tables), :data:`AGGREGATES` of one row across a table's
columns (:func:`aggregate_scores`, ``<table>_aggregate.*``, the interval figure) and :data:`PAIRWISE`
between two rows (:func:`probability_of_improvement`). A new statistic is one entry there; the frames,
the Markdown tables and the figures read the lists.

Conventions (docs/PIPELINE.md, "Statistics"):

* ``std`` is the sample standard deviation (``ddof=1``); it is NaN for fewer than 2 values.
* The 95% interval is a percentile bootstrap of the mean over seeds: ``n_boot`` resamples (with
  replacement, same size) drawn by ``numpy.random.default_rng(seed)``, so a table is reproducible.
  Fewer than 2 values: NaN (an interval from one run would claim a certainty it does not have).
* Paired tests pair two methods' runs BY SEED (same task, same seed, both runs ``ok``). The paired
  t-test (``scipy.stats.ttest_rel``) needs n >= 2 pairs; the exact Wilcoxon signed-rank test is only
  reported for n >= 5 (below that its smallest attainable two-sided p is 0.0625 or larger). Where the
  seeds do not pair (fewer than 2 common seeds) the test is "n/a", never silently skipped.
* Holm's step-down correction (``statsmodels.stats.multitest.multipletests(method="holm")``) runs over
  a table's whole family of comparisons (every reference x other row x column, one family per test
  kind); tests that are "n/a" are not part of the family.
* Almost stochastic order (deepsig ``aso``, Dror et al. 2019 / del Barrio et al. 2018): ``eps_min`` in
  [0, 1] is the violation ratio of "A stochastically dominates B"; < 0.5 means A is (almost)
  stochastically larger, the smaller the stronger (deepsig's guidance: eps_min < 0.2 for a confident
  claim). It takes ``num_comparisons`` (Bonferroni) so the confidence level covers the family.
* Aggregates across tasks follow rliable (Agarwal et al. 2021): runs x tasks matrices of normalised
  scores; the interquartile mean (IQM) and mean of all runs; 95% intervals from the STRATIFIED
  bootstrap (runs resampled with replacement independently within each task, tasks kept). rliable's
  own bootstrap classes (``rliable.library.StratifiedBootstrap``) subclass ``arch``'s and pass it
  ``random_state``, which arch >= 7 removed; arch <= 6.3 does not build against numpy 2 and 7.x fails
  to import under pandas 3, so no arch version runs rliable 1.2.0's bootstrap in this stack (measured).
  So the resampling (a few lines, below) is rliable's scheme with a seeded ``numpy.random.default_rng``
  (rliable's draws from the global numpy state), vectorised over the resamples, and the statistics
  are rliable's definitions vectorised too: rliable's own functions take one resample per call
  (10,000 x scipy Mann-Whitney per pair of rows: minutes per table). tests/pipeline/test_stats.py
  checks every one against ``rliable.metrics`` / ``rliable.library``.
* Minimum detectable effect of a paired comparison with n seeds: the smallest true mean difference a
  two-sided paired t-test at ``alpha`` detects with probability ``power`` (noncentral t, scipy; see
  :func:`paired_power` for why not statsmodels' TTestPower), i.e. Cohen's d times the standard deviation
  of the paired differences.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Statistic",
    "SEED_STATISTICS",
    "SEED_INTERVAL",
    "AGGREGATES",
    "PAIRWISE",
    "PROBABILITY_OF_IMPROVEMENT",
    "interval_columns",
    "describe",
    "bootstrap_ci",
    "paired_test",
    "holm",
    "aso",
    "paired_effect",
    "no_variance",
    "t_test_p",
    "min_detectable_effect",
    "seeds_needed",
    "paired_power",
    "stratified_bootstrap",
    "aggregate_scores",
    "probability_of_improvement",
    "performance_profile",
    "NA",
    "MIN_WILCOXON_N",
]

NA = "n/a"
MIN_WILCOXON_N = 5
DEFAULT_N_BOOT = 10_000
DEFAULT_LEVEL = 0.95
DEFAULT_BOOT_SEED = 0
DEFAULT_ALPHA = 0.05
DEFAULT_POWER = 0.8
DEFAULT_ASO_BOOTSTRAP = 1000


def _clean(values: Sequence[float]) -> np.ndarray:
    arr = np.asarray([v for v in values if v is not None], dtype=float)
    return arr[np.isfinite(arr)]


def bootstrap_ci(
    values: Sequence[float], n_boot: int = DEFAULT_N_BOOT, level: float = DEFAULT_LEVEL, seed: int = DEFAULT_BOOT_SEED
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of `values` (NaN, NaN for fewer than 2 finite values)."""
    x = _clean(values)
    if x.size < 2:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(n_boot, x.size))
    means = x[idx].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(means, [alpha, 1.0 - alpha])
    return (float(lo), float(hi))


# --------------------------------------------------------------------------------------------------
# the statistics the analysis reports, named once
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Statistic:
    """A statistic the analysis reports: `name` is its column in the frames and CSVs (an aggregate's
    interval is ``<name>_low`` / ``<name>_high``, :func:`interval_columns`), `display` its name in the
    Markdown tables and figures, `func` computes it. `in_table`: a per-seed statistic that the long
    table of a paper-layout table also holds (``tables.build_table``; ``summary.csv`` holds all)."""

    name: str
    display: str
    func: Callable
    in_table: bool = True


def _count(x: np.ndarray) -> int:
    return int(x.size)


def _mean(x: np.ndarray) -> float:
    return float(x.mean()) if x.size else math.nan


def _std(x: np.ndarray) -> float:
    return float(x.std(ddof=1)) if x.size >= 2 else math.nan


def _median(x: np.ndarray) -> float:
    return float(np.median(x)) if x.size else math.nan


def _min(x: np.ndarray) -> float:
    return float(x.min()) if x.size else math.nan


def _max(x: np.ndarray) -> float:
    return float(x.max()) if x.size else math.nan


#: the statistics of one cell (row x task x metric) over its seeds' finite scores (`func`: 1-d array ->
#: number); :func:`describe` adds the bootstrap interval of the mean (:data:`SEED_INTERVAL`).
SEED_STATISTICS = (
    Statistic("n", "n", _count),
    Statistic("mean", "Mean", _mean),
    Statistic("std", "Std (ddof=1)", _std),
    Statistic("median", "Median", _median),
    Statistic("min", "Min", _min, in_table=False),
    Statistic("max", "Max", _max, in_table=False),
)
#: the columns of the percentile bootstrap interval of a cell's mean (:func:`bootstrap_ci`).
SEED_INTERVAL = ("ci_low", "ci_high")


def interval_columns(stat: Statistic) -> list[str]:
    """An aggregate's columns: the point estimate and its interval (``<name>``, ``_low``, ``_high``)."""
    return [stat.name, f"{stat.name}_low", f"{stat.name}_high"]


def describe(
    values: Sequence[float], n_boot: int = DEFAULT_N_BOOT, level: float = DEFAULT_LEVEL, seed: int = DEFAULT_BOOT_SEED
) -> dict:
    """Each of :data:`SEED_STATISTICS` (n, mean, std (ddof=1), median, min, max) and the bootstrap interval
    of the mean (:data:`SEED_INTERVAL`) of the finite `values`."""
    x = _clean(values)
    lo, hi = bootstrap_ci(x, n_boot=n_boot, level=level, seed=seed)
    return {**{stat.name: stat.func(x) for stat in SEED_STATISTICS}, SEED_INTERVAL[0]: lo, SEED_INTERVAL[1]: hi}


def paired_test(a: Mapping[int, float], b: Mapping[int, float]) -> dict:
    """Paired comparison of `a` against `b`, two dicts seed -> score; differences are a - b.

    Returns ``n`` (number of paired seeds), ``seeds``, ``mean_diff``, ``t_stat``, ``t_p``,
    ``wilcoxon_stat``, ``wilcoxon_p`` and ``note``. Tests that cannot be computed hold NaN and the
    note says why ("n/a: ...").
    """
    from scipy import stats

    seeds = sorted(
        s for s in set(a) & set(b) if a[s] is not None and b[s] is not None and np.isfinite(a[s]) and np.isfinite(b[s])
    )
    n = len(seeds)
    out = {
        "n": n,
        "seeds": seeds,
        "mean_diff": math.nan,
        "t_stat": math.nan,
        "t_p": math.nan,
        "wilcoxon_stat": math.nan,
        "wilcoxon_p": math.nan,
        "note": "",
    }
    if n == 0:
        out["note"] = f"{NA}: no seed has an ok run of both methods"
        return out
    d = np.array([a[s] - b[s] for s in seeds], dtype=float)
    out["mean_diff"] = float(d.mean())
    if n < 2:
        out["note"] = f"{NA}: only {n} paired seed (need >= 2)"
        return out
    notes = []
    if np.allclose(d, 0.0):
        out["t_p"] = 1.0
        out["t_stat"] = 0.0
        notes.append("all paired differences are zero")
    elif no_variance(d):
        # ttest_rel would divide by a zero standard deviation (t infinite, p 0): a constant shift that no seed
        # varies says nothing about noise, so it is no evidence either way (claims: DEGENERATE)
        notes.append(f"{NA}: degenerate: no seed variance (the same difference {d[0]:.4g} at every seed)")
    else:
        res = stats.ttest_rel(np.array([a[s] for s in seeds]), np.array([b[s] for s in seeds]))
        out["t_stat"], out["t_p"] = float(res.statistic), float(res.pvalue)
    if n >= MIN_WILCOXON_N:
        if np.allclose(d, 0.0):
            out["wilcoxon_p"] = 1.0
            out["wilcoxon_stat"] = 0.0
        else:
            nz = d[~np.isclose(d, 0.0)]
            method = "exact" if nz.size == d.size else "auto"
            if method != "exact":
                notes.append("zero differences present: Wilcoxon uses scipy's default zero handling")
            res = stats.wilcoxon(d, method=method) if method == "exact" else stats.wilcoxon(d)
            out["wilcoxon_stat"], out["wilcoxon_p"] = float(res.statistic), float(res.pvalue)
    else:
        notes.append(f"Wilcoxon {NA} (n < {MIN_WILCOXON_N})")
    out["note"] = "; ".join(notes)
    return out


# --------------------------------------------------------------------------------------------------
# multiplicity, almost stochastic order
# --------------------------------------------------------------------------------------------------
def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm-adjusted p-values over the family of the finite entries; NaN entries stay NaN (not tested)."""
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, math.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = multipletests(p[ok], method="holm")[1]
    return out


def aso(
    a: Sequence[float],
    b: Sequence[float],
    *,
    num_comparisons: int = 1,
    level: float = DEFAULT_LEVEL,
    n_boot: int = DEFAULT_ASO_BOOTSTRAP,
    seed: int = DEFAULT_BOOT_SEED,
) -> float:
    """deepsig's eps_min for "`a` is stochastically larger than `b`" (NaN with fewer than 2 scores a side).

    Not paired: ASO compares the two score distributions. ``num_comparisons`` applies deepsig's
    Bonferroni correction of the confidence level over a family of that size.
    """
    from deepsig import aso as deepsig_aso

    x, y = _clean(a), _clean(b)
    if x.size < 2 or y.size < 2:
        return math.nan
    return float(
        deepsig_aso(
            x,
            y,
            confidence_level=level,
            num_comparisons=max(1, num_comparisons),
            num_bootstrap_iterations=n_boot,
            num_jobs=1,
            show_progress=False,
            seed=seed,
        )
    )


# --------------------------------------------------------------------------------------------------
# paired effects and power
# --------------------------------------------------------------------------------------------------
def paired_effect(diffs: Sequence[float], level: float = DEFAULT_LEVEL) -> dict:
    """Mean paired difference, its t interval (scipy t quantile) and the differences' std (ddof=1).
    With fewer than 2 differences the interval and std are NaN."""
    from scipy import stats

    d = _clean(diffs)
    n = int(d.size)
    out = {
        "n": n,
        "effect": float(d.mean()) if n else math.nan,
        "ci_low": math.nan,
        "ci_high": math.nan,
        "sd_diff": math.nan,
    }
    if n >= 2:
        sd = float(d.std(ddof=1))
        half = float(stats.t.ppf(0.5 + level / 2.0, n - 1)) * sd / math.sqrt(n)
        out.update(sd_diff=sd, ci_low=out["effect"] - half, ci_high=out["effect"] + half)
    return out


def no_variance(diffs: Sequence[float]) -> bool:
    """True when >= 2 finite paired differences are all equal (``numpy.allclose``, the tolerance
    :func:`paired_test` uses): the seeds show no variation, so a t interval has zero width, the minimum
    detectable effect is 0 and a test has nothing to test. A comparison like that is "degenerate", never
    supported or contradicted."""
    d = _clean(diffs)
    return bool(d.size >= 2 and np.allclose(d, d[0]))


def t_test_p(diffs: Sequence[float], null: float = 0.0) -> float:
    """Two-sided p of the one-sample t-test of the finite paired differences against a mean of `null`
    (``scipy.stats.ttest_1samp``; with ``null = 0`` it is the paired t-test ``ttest_rel``); NaN for fewer
    than 2 differences or no variance among them (:func:`no_variance`)."""
    from scipy import stats

    d = _clean(diffs)
    if d.size < 2 or no_variance(d):
        return math.nan
    return float(stats.ttest_1samp(d, null).pvalue)


def paired_power(d: float, n: int, alpha: float = DEFAULT_ALPHA) -> float:
    """Power of the two-sided paired t-test with `n` pairs at standardised effect `d` (mean / sd of the
    differences): P(|T| > t_crit) for T ~ noncentral t(n - 1, d sqrt(n)) (scipy). The far tail, which
    scipy returns as NaN when it underflows for a large noncentrality, counts as 0 (statsmodels'
    TTestPower returns NaN there: measured, e.g. d = 8.3 with n = 2..4)."""
    from scipy import stats

    if n < 2:
        return math.nan
    crit = stats.t.ppf(1.0 - alpha / 2.0, n - 1)
    nc = abs(d) * math.sqrt(n)
    far = float(stats.nct.cdf(-crit, n - 1, nc))
    return float(stats.nct.sf(crit, n - 1, nc)) + (far if np.isfinite(far) else 0.0)


def min_detectable_effect(sd_diff: float, n: int, alpha: float = DEFAULT_ALPHA, power: float = DEFAULT_POWER) -> float:
    """Smallest mean paired difference a two-sided paired t-test with `n` pairs detects with `power`
    (the standardised effect solved with scipy's brentq on :func:`paired_power`, times `sd_diff`)."""
    from scipy.optimize import brentq

    if n < 2 or not np.isfinite(sd_diff):
        return math.nan
    if sd_diff == 0.0:
        return 0.0
    d = brentq(lambda x: paired_power(x, n, alpha) - power, 1e-9, 1e4, xtol=1e-10)
    return float(d) * sd_diff


def seeds_needed(
    effect: float, sd_diff: float, alpha: float = DEFAULT_ALPHA, power: float = DEFAULT_POWER, max_n: int = 10_000
) -> float:
    """The smallest number of pairs (seeds, >= 2) with which a two-sided paired t-test detects `effect` with
    `power`, given the std of the paired differences (integer search on :func:`paired_power`); NaN when
    undefined, ``inf`` for a zero effect or beyond `max_n`."""
    if not (np.isfinite(effect) and np.isfinite(sd_diff)):
        return math.nan
    if effect == 0.0:
        return math.inf
    if sd_diff == 0.0:
        return 2.0
    d = abs(effect) / sd_diff

    def enough(n: int) -> bool:
        return paired_power(d, n, alpha) >= power

    if not enough(max_n):
        return math.inf
    lo, hi = 1, 2  # invariant: not enough(lo) (n = 1 has no test), enough(hi) once found
    while not enough(hi):
        lo, hi = hi, min(2 * hi, max_n)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if enough(mid) else (mid, hi)
    return float(hi)


# --------------------------------------------------------------------------------------------------
# aggregates across tasks (rliable)
# --------------------------------------------------------------------------------------------------
def stratified_bootstrap(
    scores: Sequence[np.ndarray],
    func,
    n_boot: int = DEFAULT_N_BOOT,
    level: float = DEFAULT_LEVEL,
    seed: int = DEFAULT_BOOT_SEED,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(point, low, high) of ``func(*scores)``, each ``scores[i]`` a runs x tasks matrix. Every resample draws
    runs with replacement independently within each task column, separately per matrix (rliable's
    StratifiedBootstrap / StratifiedIndependentBootstrap); percentile interval. `func` is vectorised:
    it takes arrays with a leading resample axis (boots x runs x tasks) and returns boots x k."""
    mats = [np.asarray(m, dtype=float) for m in scores]
    point = np.asarray(func(*[m[None] for m in mats]), dtype=float)[0]
    if any(m.shape[0] < 2 for m in mats):
        nan = np.full(point.shape, math.nan)
        return point, nan, nan.copy()
    rng = np.random.default_rng(seed)
    boots = []
    for m in mats:
        idx = rng.integers(0, m.shape[0], size=(n_boot, *m.shape))
        boots.append(np.take_along_axis(np.broadcast_to(m, (n_boot, *m.shape)), idx, axis=1))
    values = np.asarray(func(*boots), dtype=float)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(values, [alpha, 1.0 - alpha], axis=0)
    return point, lo, hi


def _iqm(m: np.ndarray) -> np.ndarray:
    """boots x runs x tasks -> boots: rliable's aggregate_iqm (scipy trim_mean, 25% cut, all scores pooled)."""
    from scipy.stats import trim_mean

    return trim_mean(m.reshape(m.shape[0], -1), proportiontocut=0.25, axis=1)


def _mean_of_task_means(m: np.ndarray) -> np.ndarray:
    """boots x runs x tasks -> boots: rliable's aggregate_mean (mean over tasks of the per-task mean over runs)."""
    return m.mean(axis=1).mean(axis=1)


def _prob_improvement(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """boots x runs x tasks (x and y) -> boots: rliable's probability_of_improvement (per task the
    Mann-Whitney U / (n_x n_y), i.e. P(X > Y) + P(X = Y) / 2, then the mean over tasks)."""
    gt = (x[:, :, None, :] > y[:, None, :, :]).mean(axis=(1, 2))
    eq = (x[:, :, None, :] == y[:, None, :, :]).mean(axis=(1, 2))
    return (gt + 0.5 * eq).mean(axis=1)


#: the aggregates of one row's runs x tasks matrix of normalised scores (rliable; `func`: boots x runs x
#: tasks -> boots), each reported with its stratified bootstrap interval (:func:`aggregate_scores`).
AGGREGATES = (
    Statistic("iqm", "IQM", _iqm),
    Statistic("mean", "Mean", _mean_of_task_means),
)
PROBABILITY_OF_IMPROVEMENT = Statistic("p", "P(reference > other)", _prob_improvement)
#: the statistics of one row's matrix against another's (`func`: two boots x runs x tasks arrays ->
#: boots), with their stratified bootstrap intervals (:func:`probability_of_improvement`).
PAIRWISE = (PROBABILITY_OF_IMPROVEMENT,)


def _with_intervals(statistics: Sequence[Statistic], point, lo, hi) -> dict:
    """{name: point, name_low: low, name_high: high} for each statistic (the bootstrap's k-th output)."""
    out = {}
    for k, stat in enumerate(statistics):
        out.update(zip(interval_columns(stat), (float(point[k]), float(lo[k]), float(hi[k]))))
    return out


def aggregate_scores(
    matrix: np.ndarray, n_boot: int = DEFAULT_N_BOOT, level: float = DEFAULT_LEVEL, seed: int = DEFAULT_BOOT_SEED
) -> dict:
    """Each of :data:`AGGREGATES` (IQM and mean) of a runs x tasks matrix of normalised scores (rliable's
    definitions, vectorised over the resamples; the tests check them against ``rliable.metrics``), with
    stratified bootstrap intervals."""

    def aggregates(m):
        return np.stack([stat.func(m) for stat in AGGREGATES], axis=1)

    point, lo, hi = stratified_bootstrap([matrix], aggregates, n_boot=n_boot, level=level, seed=seed)
    return _with_intervals(AGGREGATES, point, lo, hi)


def probability_of_improvement(
    x: np.ndarray,
    y: np.ndarray,
    n_boot: int = DEFAULT_N_BOOT,
    level: float = DEFAULT_LEVEL,
    seed: int = DEFAULT_BOOT_SEED,
) -> dict:
    """P(X > Y) averaged over tasks (rliable), and any other statistic of :data:`PAIRWISE`, x and y runs x
    tasks matrices with the same task columns (any number of runs each), with a stratified bootstrap
    interval (x and y resampled independently)."""

    def pairwise(a, b):
        return np.stack([stat.func(a, b) for stat in PAIRWISE], axis=1)

    point, lo, hi = stratified_bootstrap([x, y], pairwise, n_boot=n_boot, level=level, seed=seed)
    return _with_intervals(PAIRWISE, point, lo, hi)


def performance_profile(
    matrix: np.ndarray,
    taus: Sequence[float],
    n_boot: int = DEFAULT_N_BOOT,
    level: float = DEFAULT_LEVEL,
    seed: int = DEFAULT_BOOT_SEED,
) -> tuple[np.ndarray, ...]:
    """Run-score distribution (rliable's performance profile): the fraction of all runs x tasks scores
    above each tau, with stratified bootstrap bands; returns (profile, low, high)."""
    taus = np.asarray(taus, dtype=float)

    def profile(m):
        flat = m.reshape(m.shape[0], -1)
        return (flat[:, :, None] > taus[None, None, :]).mean(axis=1)

    return stratified_bootstrap([matrix], profile, n_boot=n_boot, level=level, seed=seed)
