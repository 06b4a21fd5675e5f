"""Statistics over seeds: summaries, percentile bootstrap intervals and paired tests.

Pure functions on plain sequences / mappings (no I/O), used by :mod:`adamixbench.aggregate`.

Conventions (docs/PIPELINE.md, "Statistics"):

* ``std`` is the sample standard deviation (``ddof=1``); it is NaN for fewer than 2 values.
* The 95% interval is a percentile bootstrap of the mean over seeds: ``n_boot`` resamples (with
  replacement, same size) drawn by ``numpy.random.default_rng(seed)``, so a table is reproducible.
  Fewer than 2 values: NaN (an interval from one run would claim a certainty it does not have).
* Paired tests pair two methods' runs BY SEED (same task, same seed, both runs ``ok``). The paired
  t-test (``scipy.stats.ttest_rel``) needs n >= 2 pairs; the exact Wilcoxon signed-rank test is only
  reported for n >= 5 (below that its smallest attainable two-sided p is 0.0625 or larger). Where the
  seeds do not pair (fewer than 2 common seeds) the test is "n/a", never silently skipped.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np

__all__ = ["describe", "bootstrap_ci", "paired_test", "NA", "MIN_WILCOXON_N"]

NA = "n/a"
MIN_WILCOXON_N = 5
DEFAULT_N_BOOT = 10_000
DEFAULT_LEVEL = 0.95
DEFAULT_BOOT_SEED = 0


def _clean(values: Sequence[float]) -> np.ndarray:
    arr = np.asarray([v for v in values if v is not None], dtype=float)
    return arr[np.isfinite(arr)]


def bootstrap_ci(values: Sequence[float], n_boot: int = DEFAULT_N_BOOT, level: float = DEFAULT_LEVEL,
                 seed: int = DEFAULT_BOOT_SEED) -> tuple[float, float]:
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


def describe(values: Sequence[float], n_boot: int = DEFAULT_N_BOOT, level: float = DEFAULT_LEVEL,
             seed: int = DEFAULT_BOOT_SEED) -> dict:
    """n, mean, std (ddof=1), median, min, max and the bootstrap interval of the finite `values`."""
    x = _clean(values)
    n = int(x.size)
    lo, hi = bootstrap_ci(x, n_boot=n_boot, level=level, seed=seed)
    return {
        "n": n,
        "mean": float(x.mean()) if n else math.nan,
        "std": float(x.std(ddof=1)) if n >= 2 else math.nan,
        "median": float(np.median(x)) if n else math.nan,
        "min": float(x.min()) if n else math.nan,
        "max": float(x.max()) if n else math.nan,
        "ci_low": lo,
        "ci_high": hi,
    }


def paired_test(a: Mapping[int, float], b: Mapping[int, float]) -> dict:
    """Paired comparison of `a` against `b`, two dicts seed -> score; differences are a - b.

    Returns ``n`` (number of paired seeds), ``seeds``, ``mean_diff``, ``t_stat``, ``t_p``,
    ``wilcoxon_stat``, ``wilcoxon_p`` and ``note``. Tests that cannot be computed hold NaN and the
    note says why ("n/a: ...").
    """
    from scipy import stats

    seeds = sorted(s for s in set(a) & set(b)
                   if a[s] is not None and b[s] is not None and np.isfinite(a[s]) and np.isfinite(b[s]))
    n = len(seeds)
    out = {"n": n, "seeds": seeds, "mean_diff": math.nan, "t_stat": math.nan, "t_p": math.nan,
           "wilcoxon_stat": math.nan, "wilcoxon_p": math.nan, "note": ""}
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
    elif np.allclose(d, d[0]):
        # ttest_rel divides by a zero standard deviation: a constant non-zero shift.
        out["t_stat"] = math.copysign(math.inf, d[0])
        out["t_p"] = 0.0
        notes.append("constant non-zero difference across seeds (t infinite)")
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
