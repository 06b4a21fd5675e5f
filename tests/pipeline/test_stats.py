"""adamixbench.stats on inputs with known answers."""

import math

import numpy as np
import pytest
from scipy import stats as sps

from adamixbench import stats


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
    assert shift["t_p"] == 0.0 and shift["t_stat"] == math.inf and "constant" in shift["note"]
