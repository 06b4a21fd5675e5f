"""adamixbench.analysis.stats on inputs with known answers."""

import math

import numpy as np
import pytest
from scipy import stats as sps

from adamixbench.analysis import stats


def test_describe_known_values():
    d = stats.describe([1.0, 2.0, 3.0, 4.0, 10.0])
    assert d["n"] == 5
    assert d["mean"] == pytest.approx(4.0)
    assert d["std"] == pytest.approx(np.std([1, 2, 3, 4, 10], ddof=1))  # sample std, ddof=1
    assert d["std"] == pytest.approx(math.sqrt(12.5))
    assert d["median"] == 3.0
    assert (d["min"], d["max"]) == (1.0, 10.0)
    assert d["ci_low"] <= d["mean"] <= d["ci_high"]


def test_describe_ignores_nan_and_small_n():
    d = stats.describe([5.0, float("nan"), None])
    assert d["n"] == 1 and d["mean"] == 5.0 and d["median"] == 5.0
    assert math.isnan(d["std"]) and math.isnan(d["ci_low"]) and math.isnan(d["ci_high"])
    e = stats.describe([])
    assert e["n"] == 0 and math.isnan(e["mean"])


def test_bootstrap_seeded_percentile_interval():
    x = [80.1, 81.3, 79.8, 82.0, 80.7]
    a = stats.bootstrap_ci(x, n_boot=5000, seed=7)
    b = stats.bootstrap_ci(x, n_boot=5000, seed=7)
    assert a == b  # reproducible
    # the same computation spelled out with numpy
    rng = np.random.default_rng(7)
    arr = np.asarray(x)
    means = arr[rng.integers(0, 5, size=(5000, 5))].mean(axis=1)
    assert a == pytest.approx(tuple(np.quantile(means, [0.025, 0.975])))
    assert min(x) <= a[0] < np.mean(x) < a[1] <= max(x)
    # constant data: degenerate interval at the value
    assert stats.bootstrap_ci([3.0, 3.0, 3.0]) == (3.0, 3.0)


def test_paired_t_matches_scipy_and_wilcoxon_exact():
    a = {1: 85.0, 2: 84.1, 3: 86.2, 4: 85.5, 5: 84.9, 6: 85.8}
    b = {1: 84.0, 2: 84.0, 3: 85.0, 4: 84.2, 5: 84.1, 6: 85.9}
    r = stats.paired_test(a, b)
    seeds = sorted(a)
    ref = sps.ttest_rel([a[s] for s in seeds], [b[s] for s in seeds])
    assert r["n"] == 6 and r["seeds"] == seeds
    assert r["t_p"] == pytest.approx(ref.pvalue)
    assert r["mean_diff"] == pytest.approx(np.mean([a[s] - b[s] for s in seeds]))
    # differences: 1.0, 0.1, 1.2, 1.3, 0.8, -0.1 -> ranks of negatives: |-0.1| ties with 0.1 (rank 1.5)
    assert r["wilcoxon_p"] == pytest.approx(sps.wilcoxon([a[s] - b[s] for s in seeds], method="exact").pvalue)


def test_wilcoxon_exact_textbook_values():
    # all n differences positive: exact two-sided p = 2 / 2^n
    a = {s: 10.0 + s for s in range(5)}
    b = {s: 9.0 + s - 0.1 * s for s in range(5)}
    r = stats.paired_test(a, b)
    assert r["wilcoxon_p"] == pytest.approx(2 / 2**5)
    a[5], b[5] = 20.0, 10.0
    assert stats.paired_test(a, b)["wilcoxon_p"] == pytest.approx(2 / 2**6)


def test_paired_small_n_and_unpaired_are_na():
    r = stats.paired_test({1: 80.0, 2: 81.0, 3: 79.0}, {1: 79.0, 2: 80.5, 3: 79.2})
    assert r["n"] == 3 and np.isfinite(r["t_p"]) and math.isnan(r["wilcoxon_p"])
    assert "Wilcoxon n/a" in r["note"]
    r = stats.paired_test({1: 80.0, 2: 81.0}, {3: 79.0, 4: 80.0})  # seeds do not pair
    assert r["n"] == 0 and math.isnan(r["t_p"]) and r["note"].startswith("n/a")
    r = stats.paired_test({1: 80.0, 2: 81.0}, {2: 79.0})
    assert r["n"] == 1 and math.isnan(r["t_p"]) and r["note"].startswith("n/a")
    r = stats.paired_test({1: 80.0, 2: float("nan")}, {1: 79.0, 2: 79.0})  # NaN scores do not pair
    assert r["n"] == 1


def test_paired_degenerate_differences():
    same = stats.paired_test({1: 1.0, 2: 2.0}, {1: 1.0, 2: 2.0})
    assert same["t_p"] == 1.0 and same["mean_diff"] == 0.0
    shift = stats.paired_test({1: 2.0, 2: 3.0, 3: 4.0}, {1: 1.0, 2: 2.0, 3: 3.0})
    # a constant shift has no seed variance: no test (never "p = 0", which Holm would call significant)
    assert math.isnan(shift["t_p"]) and math.isnan(shift["t_stat"]) and "no seed variance" in shift["note"]
    assert shift["mean_diff"] == pytest.approx(1.0)


# ------------------------------------------------------------------------------------ multiplicity
def test_holm_on_a_known_family():
    # sorted p: 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> running max: 0.06 for 0.04
    got = stats.holm([0.01, 0.04, 0.03, float("nan"), 0.005])
    assert got[[0, 1, 2, 4]] == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert math.isnan(got[3])  # not tested: not part of the family (a family of 4, not 5)
    assert stats.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # capped at 1
    assert stats.holm([]).size == 0


@pytest.mark.slow  # deepsig ASO: 5-20 s per call on 2 busy cores
def test_aso_direction_and_small_samples():
    better, worse = [86.0, 85.5, 86.4, 85.9, 86.2], [80.0, 80.6, 79.8, 80.3, 80.1]
    assert stats.aso(better, worse, n_boot=100) < 0.2  # clearly stochastically larger
    assert stats.aso(worse, better, n_boot=100) > 0.8
    assert math.isnan(stats.aso([1.0], [2.0, 3.0]))


def test_aso_bonferroni_correction_is_more_conservative():
    # overlapping scores: eps_min is neither 0 nor 1, and a family of 10 comparisons raises it
    a, b = [84.1, 85.0, 83.7, 84.9, 84.4], [83.9, 84.2, 84.0, 83.5, 84.6]
    single = stats.aso(a, b, n_boot=200)
    assert 0.1 < single < 0.9 and stats.aso(a, b, n_boot=200) == single  # seeded: reproducible
    assert stats.aso(a, b, n_boot=200, num_comparisons=10) > single + 0.005


# ------------------------------------------------------------------------------------ effect and power
def _paired_power(d: float, n: int, alpha: float = 0.05) -> float:
    """Power of the two-sided paired t-test from the noncentral t (independent of statsmodels)."""
    crit = sps.t.ppf(1 - alpha / 2, n - 1)
    nc = d * math.sqrt(n)
    return sps.nct.sf(crit, n - 1, nc) + sps.nct.cdf(-crit, n - 1, nc)


def test_paired_effect_t_interval_by_hand():
    e = stats.paired_effect([1.0, 2.0, 3.0])
    half = 4.302652729911275 * 1.0 / math.sqrt(3)  # t(0.975, 2) * sd / sqrt(n), sd = 1
    assert (e["n"], e["effect"], e["sd_diff"]) == (3, 2.0, 1.0)
    assert (e["ci_low"], e["ci_high"]) == pytest.approx((2.0 - half, 2.0 + half))
    one = stats.paired_effect([0.7])
    assert one["effect"] == 0.7 and math.isnan(one["ci_low"]) and math.isnan(one["sd_diff"])


def test_minimum_detectable_effect_has_the_stated_power():
    for n in (3, 5, 10):
        mde = stats.min_detectable_effect(2.0, n)
        assert _paired_power(mde / 2.0, n) == pytest.approx(0.8, abs=1e-3)
    assert stats.min_detectable_effect(2.0, 3) > stats.min_detectable_effect(2.0, 10)  # more seeds, smaller
    assert math.isnan(stats.min_detectable_effect(1.0, 1)) and stats.min_detectable_effect(0.0, 4) == 0.0


def test_seeds_needed_is_the_smallest_n_with_power():
    n = stats.seeds_needed(0.5, 1.0)  # d = 0.5
    assert _paired_power(0.5, int(n)) >= 0.8 > _paired_power(0.5, int(n) - 1)
    assert n == 34  # G*Power / Cohen's tables: paired t, d = 0.5, alpha 0.05 two-sided, power 0.8 -> 34 pairs
    assert stats.seeds_needed(0.0, 1.0) == math.inf and math.isnan(stats.seeds_needed(math.nan, 1.0))
    # a large effect: statsmodels' power is NaN at n = 2..4 here (scipy's far tail underflows); 3 seeds suffice
    assert stats.seeds_needed(3.11, 0.376) == 3.0
    assert stats.seeds_needed(0.01, 1.0) == math.inf  # beyond 10,000 seeds


# ------------------------------------------------------------------------------------ rliable aggregates
@pytest.mark.parametrize("shape", [(3, 1), (5, 4), (10, 7)])
def test_aggregates_equal_rliable(shape):
    from rliable import library, metrics

    rng = np.random.default_rng(sum(shape))
    x = rng.normal(size=shape).round(1)  # rounding makes ties, which P(X > Y) counts half
    y = rng.normal(size=(shape[0] + 2, shape[1])).round(1)
    agg = stats.aggregate_scores(x, n_boot=200)
    assert agg["iqm"] == pytest.approx(metrics.aggregate_iqm(x))
    assert agg["mean"] == pytest.approx(metrics.aggregate_mean(x))
    assert stats.probability_of_improvement(x, y, n_boot=200)["p"] == pytest.approx(
        metrics.probability_of_improvement(x, y)
    )
    taus = [-1.0, 0.0, 0.35]
    prof = stats.performance_profile(x, taus, n_boot=200)[0]
    assert prof == pytest.approx([library.run_score_deviation(x, t) for t in taus])


def test_stratified_bootstrap_resamples_within_each_task():
    # every column constant: resampling runs WITHIN a column cannot move any statistic (pooling across
    # columns would), so the interval collapses on the point estimate
    m = np.array([[0.1, 0.9], [0.1, 0.9], [0.1, 0.9]])
    a = stats.aggregate_scores(m, n_boot=500)
    assert a["iqm_low"] == pytest.approx(a["iqm"]) and a["iqm_high"] == pytest.approx(a["iqm"])
    # one column: the interval of the mean is the plain percentile bootstrap of the mean
    x = np.array([[80.1], [81.3], [79.8], [82.0], [80.7]])
    b = stats.aggregate_scores(x, n_boot=4000, seed=3)
    ref = stats.bootstrap_ci(x[:, 0], n_boot=4000, seed=3)
    assert (b["mean_low"], b["mean_high"]) == pytest.approx(ref, abs=0.15)
    assert b["mean_low"] < b["mean"] < b["mean_high"]
    assert stats.aggregate_scores(m, n_boot=500, seed=1) == stats.aggregate_scores(m, n_boot=500, seed=1)
    single = stats.aggregate_scores(np.array([[0.3, 0.4]]))
    assert single["mean"] == pytest.approx(0.35) and math.isnan(single["mean_low"])


def test_stratified_bootstrap_interval_is_the_stated_percentile_interval():
    # one task column: the resampling spelled out with numpy (same generator, same draws) and the
    # 2.5 / 97.5 percentiles of a 95% interval
    x = np.array([[80.1], [81.3], [79.8], [82.0], [80.7]])
    point, low, high = stats.stratified_bootstrap([x], lambda m: m.mean(axis=1), n_boot=4000, seed=3)
    idx = np.random.default_rng(3).integers(0, 5, size=(4000, 5, 1))
    means = x[idx[..., 0], 0].mean(axis=1)
    assert point == pytest.approx([x.mean()])
    assert (low[0], high[0]) == pytest.approx(tuple(np.quantile(means, [0.025, 0.975])), abs=1e-12)


def test_probability_of_improvement_known_values():
    x, y = np.array([[2.0], [3.0]]), np.array([[1.0], [2.0]])
    # pairs (2,1) > , (2,2) tie, (3,1) >, (3,2) > : (3 + 0.5) / 4
    assert stats.probability_of_improvement(x, y, n_boot=100)["p"] == pytest.approx(0.875)
    r = stats.probability_of_improvement(x + 10, y, n_boot=100)
    assert (r["p"], r["p_low"], r["p_high"]) == (1.0, 1.0, 1.0)
