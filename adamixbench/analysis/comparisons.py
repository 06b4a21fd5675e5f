"""Comparisons between a table's rows: paired by seed per column, and aggregated across its columns.

Per column, paired by seed
--------------------------
``paired_tests``           each reference row against every other row per column, paired by seed:
                           t-test and Wilcoxon with Holm-adjusted p over the table's family, and
                           deepsig's ASO eps_min (Bonferroni over the family).
``pairs_table``            "X vs AdaMix(X)": each method against its mixture, both rows' cells, the paired
                           difference and its tests (Holm over the table's pairs).

Across the columns
------------------
``normalized_scores``      per row a seeds x columns matrix of normalised scores (the runs x tasks
                           input of rliable's aggregates), higher = better in every column
                           (:data:`NORMALIZATIONS`).
``critical_difference``    autorank's Friedman test and Nemenyi critical difference across the columns.
``aggregate_comparison``   the aggregates of :data:`adamixbench.analysis.stats.AGGREGATES` (IQM / mean)
                           of the normalised scores with stratified bootstrap intervals, the statistics of
                           ``stats.PAIRWISE`` (probability of improvement) of each reference over every
                           other row, and the mean rank where autorank applies.

Unavailable (non-finite) scores are left out of every comparison, and the notes name them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from adamixbench.analysis import stats
from adamixbench.analysis.layouts import LOWER_IS_BETTER, Column, Layout, orientation
from adamixbench.analysis.records import (
    UNAVAILABLE,
    finite_scores,
    run_status,
    unavailable_scores,
    unavailable_seeds_note,
)
from adamixbench.analysis.render import DASH, format_number, format_p, format_params, metric_digits, table_markdown
from adamixbench.analysis.tables import cell_text

__all__ = [
    "PAIRED_COLUMNS",
    "paired_tests",
    "paired_markdown",
    "pairs_table",
    "NORMALIZATIONS",
    "aggregated_columns",
    "normalized_scores",
    "MIN_AUTORANK_BLOCKS",
    "critical_difference",
    "AGGREGATE_COLUMNS",
    "aggregate_comparison",
    "aggregate_markdown",
]


def _column_scores(
    ok: pd.DataFrame, unavailable: pd.DataFrame, col: Column
) -> tuple[dict[str, dict[int, float]], pd.DataFrame]:
    """One column's finite scores of ok runs as {row label: {seed: score}}, and its unavailable scores."""
    sel = finite_scores(ok[(ok["task"] == col.task) & (ok["metric"] == col.metric)])
    un = unavailable[(unavailable["task"] == col.task) & (unavailable["metric"] == col.metric)]
    by_label = {lab: dict(zip(g["seed"].astype(int), g["value"].astype(float))) for lab, g in sel.groupby("row_label")}
    return by_label, un


# --------------------------------------------------------------------------------------------------
# paired tests: each reference against every other row
# --------------------------------------------------------------------------------------------------
#: the columns of a table's paired tests (:func:`paired_tests`), in order.
PAIRED_COLUMNS = [
    "task",
    "metric",
    "reference",
    "baseline",
    "n",
    "seeds",
    "mean_diff",
    "t_stat",
    "t_p",
    "t_p_holm",
    "wilcoxon_stat",
    "wilcoxon_p",
    "wilcoxon_p_holm",
    "aso_eps",
    "note",
]
#: the columns computed over the table's whole family of comparisons (:func:`_family`).
_FAMILY_COLUMNS = ("t_p_holm", "wilcoxon_p_holm", "aso_eps")


def _paired_row(col: Column, ref: str, other: str, a: dict, b: dict, un: pd.DataFrame) -> dict:
    """One comparison: `ref`'s scores `a` against `other`'s `b` ({seed: score}) in column `col`."""
    res = stats.paired_test(a, b)
    note = "; ".join(x for x in (res["note"], unavailable_seeds_note(un, [ref, other])) if x)
    return {
        "task": col.task,
        "metric": col.metric,
        "reference": ref,
        "baseline": other,
        "n": res["n"],
        "seeds": " ".join(map(str, res["seeds"])),
        "mean_diff": res["mean_diff"],
        "t_stat": res["t_stat"],
        "t_p": res["t_p"],
        "wilcoxon_stat": res["wilcoxon_stat"],
        "wilcoxon_p": res["wilcoxon_p"],
        "note": note,
    }


def _family(tests: pd.DataFrame, samples: list[tuple[list, list]], aso_boot: int, seed: int) -> pd.DataFrame:
    """The table's comparisons as one family: each test's p Holm-adjusted over its finite p's, and ASO's
    eps_min on the oriented `samples` (higher = better) with Bonferroni over the comparisons with >= 2
    runs a side (NaN with ``aso_boot=0``)."""
    tests["t_p_holm"] = stats.holm(tests["t_p"].to_numpy(dtype=float))
    tests["wilcoxon_p_holm"] = stats.holm(tests["wilcoxon_p"].to_numpy(dtype=float))
    family = sum(1 for x, y in samples if len(x) >= 2 and len(y) >= 2)
    tests["aso_eps"] = [
        stats.aso(x, y, num_comparisons=family, n_boot=aso_boot, seed=seed) if aso_boot else math.nan
        for x, y in samples
    ]
    return tests[PAIRED_COLUMNS]


def paired_tests(
    runs: pd.DataFrame,
    layout: Layout,
    references: Sequence[str],
    others: Sequence[str],
    aso_boot: int = stats.DEFAULT_ASO_BOOTSTRAP,
    seed: int = stats.DEFAULT_BOOT_SEED,
) -> pd.DataFrame:
    """Each reference row label against each other row label, per layout column, paired by seed.

    The table's comparisons form one family: ``t_p_holm`` / ``wilcoxon_p_holm`` are Holm-adjusted over
    every finite p of that test in the table; ``aso_eps`` is deepsig's eps_min for "reference better than
    baseline" (sign flipped for lower-is-better metrics), Bonferroni over the comparisons with >= 2 runs a
    side; ``aso_boot=0`` skips ASO (NaN). Unavailable (non-finite) scores are left out; the note names them."""
    ok = runs[runs["status"] == "ok"]
    unavailable = unavailable_scores(runs)
    out, samples = [], []
    for col in layout.columns:
        by_label, un = _column_scores(ok, unavailable, col)
        sign = orientation(col.metric)
        for ref in references:
            for other in others:
                a, b = by_label.get(ref, {}), by_label.get(other, {})
                if other == ref or (not a and not b):
                    continue
                out.append(_paired_row(col, ref, other, a, b, un))
                samples.append(([sign * v for v in a.values()], [sign * v for v in b.values()]))
    tests = pd.DataFrame(out, columns=[c for c in PAIRED_COLUMNS if c not in _FAMILY_COLUMNS])
    return _family(tests, samples, aso_boot, seed)


def paired_markdown(tests: pd.DataFrame) -> str:
    disp = pd.DataFrame(
        {
            "Task": tests["task"],
            "Metric": tests["metric"],
            "AdaMix / reference": tests["reference"],
            "vs": tests["baseline"],
            "n": tests["n"],
            "mean diff": [format_number(x, 2) for x in tests["mean_diff"]],
            "t-test p": [format_p(x) for x in tests["t_p"]],
            "t-test p (Holm)": [format_p(x) for x in tests["t_p_holm"]],
            "Wilcoxon p": [format_p(x) for x in tests["wilcoxon_p"]],
            "Wilcoxon p (Holm)": [format_p(x) for x in tests["wilcoxon_p_holm"]],
            "ASO ε_min": [format_number(x, 3) for x in tests["aso_eps"]],
            "note": tests["note"],
        }
    )
    n_t, n_w = int(np.isfinite(tests["t_p"]).sum()), int(np.isfinite(tests["wilcoxon_p"]).sum())
    return table_markdown(
        disp,
        "Paired tests across seeds (difference = reference - baseline). t-test: scipy "
        "ttest_rel (n >= 2); Wilcoxon signed-rank, exact, only for n >= 5. Holm: adjusted "
        f"over this table's family ({n_t} t-tests, {n_w} Wilcoxon tests). ASO ε_min "
        "(deepsig, not paired, Bonferroni over the family): < 0.5 means the reference is "
        "almost stochastically better, < 0.2 a confident claim; 1 the baseline is.",
    )


# --------------------------------------------------------------------------------------------------
# "X vs AdaMix(X)": each underlying method against its mixture, paired by seed
# --------------------------------------------------------------------------------------------------
def _pair_side(
    role: str, label: str, scores: Mapping[int, float], ok: pd.DataFrame, status: pd.DataFrame, un, col: Column
) -> tuple[dict, str]:
    """One side (`role`: "base" or "adamix") of a pair in one column: its numbers, each prefixed by the
    role, and its cell text (as the paper-layout tables write a cell)."""
    values = np.array(list(scores.values()), dtype=float)
    st = status[(status["row_label"] == label) & (status["task"] == col.task)]
    n_failed = int((st["status"] == "failed").sum())
    n_unavailable = int(un.loc[un["row_label"] == label, "seed"].nunique())
    lab_runs = ok[ok["row_label"] == label]
    numbers = {
        f"{role}_n": len(values),
        f"{role}_failed": n_failed,
        f"{role}_unavailable": n_unavailable,
        f"{role}_mean": float(values.mean()) if len(values) else math.nan,
        f"{role}_std": float(values.std(ddof=1)) if len(values) >= 2 else math.nan,
        f"{role}_params_inference": lab_runs["params_inference"].mean() if len(lab_runs) else math.nan,
        f"{role}_params_trainable": lab_runs["params_trainable"].mean() if len(lab_runs) else math.nan,
    }
    mean, std = numbers[f"{role}_mean"], numbers[f"{role}_std"]
    return numbers, cell_text(mean, std, len(values), len(st), n_failed, n_unavailable, metric_digits(col.metric))


def _pair(col: Column, base: str, mix: str, by_label: dict, ok, status, un) -> tuple[dict, dict]:
    """One pair in one column: (its row of the long table, its row of the display)."""
    rec = {"task": col.task, "metric": col.metric, "header": col.header, "base": base, "adamix": mix}
    cells = {}
    for role, label in (("base", base), ("adamix", mix)):
        numbers, cells[role] = _pair_side(role, label, by_label.get(label, {}), ok, status, un, col)
        rec.update(numbers)
    res = stats.paired_test(by_label.get(mix, {}), by_label.get(base, {}))
    rec.update(
        {
            "n_paired": res["n"],
            "mean_diff": res["mean_diff"],
            "t_p": res["t_p"],
            "wilcoxon_p": res["wilcoxon_p"],
            "note": "; ".join(x for x in (res["note"], unavailable_seeds_note(un, [mix, base])) if x),
        }
    )
    disp = {
        "X": base,
        "Column": col.header,
        "X score": cells["base"],
        "AdaMix(X)": mix,
        "AdaMix(X) score": cells["adamix"],
        "Δ (AdaMix(X) - X)": format_number(res["mean_diff"], 2),
        "n": res["n"],
        "t-test p": format_p(res["t_p"]),
        "Wilcoxon p": format_p(res["wilcoxon_p"]),
        "#Param X": format_params(rec["base_params_inference"]),
        "#Param AdaMix(X)": format_params(rec["adamix_params_inference"]),
        "#Trainable AdaMix(X)": format_params(rec["adamix_params_trainable"]),
    }
    return rec, disp


def pairs_table(runs: pd.DataFrame, layout: Layout, pairs: Mapping[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(display, long) with one row per (pair, layout column): X and AdaMix(X) as mean ± std over seeds,
    the paired difference AdaMix(X) - X over the seeds where both are ok (mean, t-test p, exact Wilcoxon
    p for n >= 5, as `paired_tests`; Holm-adjusted over the table's pairs as one family), and both rows'
    inference / trainable parameters."""
    ok = runs[runs["status"] == "ok"]
    status = run_status(runs)
    unavailable = unavailable_scores(runs)
    long_rows, disp_rows = [], []
    for col in layout.columns:
        by_label, un = _column_scores(ok, unavailable, col)
        for base, mix in pairs.items():
            rec, disp = _pair(col, base, mix, by_label, ok, status, un)
            long_rows.append(rec)
            disp_rows.append(disp)
    display, long = pd.DataFrame(disp_rows), pd.DataFrame(long_rows)
    if len(long):  # the Holm family: every pair x column of the table, per test
        for test, header in (("t_p", "t-test p"), ("wilcoxon_p", "Wilcoxon p")):
            long[f"{test}_holm"] = stats.holm(long[test].to_numpy(dtype=float))
            display.insert(
                display.columns.get_loc(header) + 1, f"{header} (Holm)", [format_p(x) for x in long[f"{test}_holm"]]
            )
    return display, long


# --------------------------------------------------------------------------------------------------
# normalised scores across the columns (the input of rliable's aggregates and autorank's ranks)
# --------------------------------------------------------------------------------------------------
#: how scores of different columns are put on one scale before aggregating across them
#: (``analysis.normalization`` in a suite; docs/PIPELINE.md):
#: ``minmax``: per column, (v - min) / (max - min) over every ok run of the table's rows (flipped for
#: lower-is-better metrics), so 0 = the worst run of the table and 1 = the best;
#: ``baseline:<label>``: per column, v / (mean of <label>'s runs), flipped (mean / v) for lower-is-better,
#: so 1 = on par with that row (e.g. ``baseline:full_ft``, as PEFT papers report "% of full fine-tuning").
NORMALIZATIONS = ("minmax", "baseline:<label>")


def _normalization(
    runs: pd.DataFrame, layout: Layout, rows: Sequence[str], normalization: str
) -> tuple[dict, list[Column], dict[str, str]]:
    """(scale per (task, metric), the columns the aggregates use, {header: why a column is not used})."""
    ok = runs[(runs["status"] == "ok") & (runs["row_label"].isin(rows))]
    finite = finite_scores(ok)
    base = None
    if normalization.startswith("baseline:"):
        base = normalization.split(":", 1)[1]
        if base not in rows:
            raise ValueError(
                f"analysis.normalization {normalization!r}: {base!r} is not a row of this table; rows: {list(rows)}"
            )
    elif normalization != "minmax":
        raise ValueError(f"analysis.normalization {normalization!r} is unknown; allowed: {', '.join(NORMALIZATIONS)}")
    scale, used, dropped = {}, [], {}
    for col in layout.columns:
        v = finite[(finite["task"] == col.task) & (finite["metric"] == col.metric)]
        if base is None:
            sc = (float(v["value"].min()), float(v["value"].max())) if len(v) else (math.nan, math.nan)
        else:
            sc = float(v[v["row_label"] == base]["value"].mean()) if len(v) else math.nan
        scale[(col.task, col.metric)] = sc
        cell = ok[(ok["task"] == col.task) & (ok["metric"] == col.metric)]
        un = cell[~np.isfinite(cell["value"].astype(float))]
        if np.all(np.isfinite(sc)):
            used.append(col)
        elif not len(v) and len(un):  # never normalised (min-max would make every row the best, 1.0)
            dropped[col.header] = f"{UNAVAILABLE} in every run"
        elif len(v) and len(un[un["row_label"] == base]):
            dropped[col.header] = f"{UNAVAILABLE} in every run of {base}"
        else:
            used.append(col)  # no ok run at all (failed / missing runs): the rows' seeds say so
    return scale, used, dropped


def _normalizer(normalization: str, scale: dict):
    """(task, metric, score) -> the normalised score, higher = better (:data:`NORMALIZATIONS`)."""

    def norm(task, metric, x):
        if normalization == "minmax":
            lo, hi = scale[(task, metric)]
            if not hi > lo:
                return 1.0  # every run of the table scores the same: all are the best
            z = (x - lo) / (hi - lo)
            return 1.0 - z if metric in LOWER_IS_BETTER else z
        ref = scale[(task, metric)]
        return ref / x if metric in LOWER_IS_BETTER else x / ref

    return norm


def aggregated_columns(
    runs: pd.DataFrame, layout: Layout, rows: Sequence[str], normalization: str = "minmax"
) -> tuple[list[Column], dict[str, str]]:
    """(the layout's columns the aggregates use, {header: why a column is not used}). A column whose
    scores are unavailable (non-finite, :func:`unavailable_scores`) in every ok run of the rows (for
    ``baseline:<label>``: in every run of <label>) cannot be normalised: it is left out of the aggregates,
    ranks and profiles, never scored 1.0 for every row, and the rows' notes say so."""
    _, used, dropped = _normalization(runs, layout, rows, normalization)
    return used, dropped


def _seed_scores(r: pd.DataFrame, cols: list[tuple[str, str]]) -> tuple[list[dict[int, float]], list[int]]:
    """A row's finite scores per column as {seed: score}, and the seeds with a score in every column."""
    per_col = [
        dict(
            zip(
                r[(r["task"] == t) & (r["metric"] == m)]["seed"].astype(int),
                r[(r["task"] == t) & (r["metric"] == m)]["value"].astype(float),
            )
        )
        for t, m in cols
    ]
    seeds = sorted(set.intersection(*(set(d) for d in per_col))) if per_col else []
    return per_col, seeds


def _left_out(seeds: list[int], all_seeds: set, gone: dict[int, list[str]]) -> list[str]:
    """What a row's aggregate leaves out: the whole row without a complete seed, else the count of the
    seeds with a failed or missing run and those with an unavailable score (`gone`: seed -> columns)."""
    why = ", ".join(f"seed {s} in {', '.join(h)}" for s, h in sorted(gone.items()))
    if not seeds:
        return [
            f"left out: no seed with an ok run and a finite score in every column ({UNAVAILABLE}: {why})"
            if gone
            else "left out: no seed with an ok run in every column"
        ]
    parts = []
    n_failed = len(all_seeds) - len(seeds) - len(gone)
    if n_failed > 0:
        parts.append(f"{n_failed} seed(s) left out (a failed or missing run in some column)")
    if gone:
        parts.append(f"{len(gone)} seed(s) left out ({UNAVAILABLE}, non-finite score: {why})")
    return parts


def normalized_scores(
    runs: pd.DataFrame, layout: Layout, rows: Sequence[str], normalization: str = "minmax"
) -> tuple[dict[str, np.ndarray], dict[str, list[int]], dict[str, str]]:
    """({row: seeds x columns matrix}, {row: seeds}, {row: why it is left out}) of normalised scores,
    higher = better, over the columns of :func:`aggregated_columns`. A row keeps the seeds whose runs are
    ok with a finite score in EVERY column (a seed with a failed or missing run, or an unavailable score,
    is left out of the aggregate and counted in the note); a row without such a seed is left out with the
    reason."""
    scale, used, dropped = _normalization(runs, layout, rows, normalization)
    norm = _normalizer(normalization, scale)
    ok = finite_scores(runs[(runs["status"] == "ok") & (runs["row_label"].isin(rows))])
    unavailable = unavailable_scores(runs[runs["row_label"].isin(rows)])
    statuses = run_status(runs)
    cols = [(c.task, c.metric) for c in used]
    header = {(c.task, c.metric): c.header for c in used}
    not_used = [f"{h}: {why}, not aggregated" for h, why in dropped.items()]
    not_used = ["; ".join(not_used)] if not_used else []
    matrices, seeds_of, notes = {}, {}, {}
    for row in rows:
        if not cols:
            notes[row] = "; ".join([*not_used, "left out: no column to aggregate"])
            continue
        per_col, seeds = _seed_scores(ok[ok["row_label"] == row], cols)
        all_seeds = set(statuses[(statuses["row_label"] == row) & statuses["task"].isin([t for t, _ in cols])]["seed"])
        un = unavailable[unavailable["row_label"] == row]
        gone: dict[int, list[str]] = {}  # seed -> the columns where its score is unavailable
        for t, m, s in zip(un["task"], un["metric"], un["seed"]):
            if (t, m) in header and int(s) not in seeds:
                gone.setdefault(int(s), []).append(header[(t, m)])
        if seeds:
            matrices[row] = np.array([[norm(t, m, per_col[j][s]) for j, (t, m) in enumerate(cols)] for s in seeds])
            seeds_of[row] = seeds
        parts = [*not_used, *_left_out(seeds, all_seeds, gone)]
        if parts:
            notes[row] = "; ".join(parts)
    return matrices, seeds_of, notes


# --------------------------------------------------------------------------------------------------
# ranks across the columns (autorank) and the aggregates (rliable)
# --------------------------------------------------------------------------------------------------
#: autorank refuses fewer than this many blocks (samples per population)
MIN_AUTORANK_BLOCKS = 5


def critical_difference(
    runs: pd.DataFrame, layout: Layout, rows: Sequence[str], normalization: str = "minmax", alpha: float = 0.05
):
    """autorank (Friedman test, Nemenyi critical difference) of the rows across the table's columns.

    Blocks: the columns (each row's mean normalised score there) when the table has >= 5 of them; with
    3 or 4 columns (autorank needs >= 5 blocks) every (column, seed) pair over the seeds common to all
    rows is a block, which also ranks within seeds. Returns (result, note), note None unless a column or
    row is left out of the ranks (then it says which: a column unavailable in every run, a row without a
    seed that has an ok run and a finite score in every column), or (None, reason) where the table has
    fewer than 3 such columns, fewer than 3 complete rows, too few blocks, or the Friedman p is not a
    number."""
    matrices, seeds_of, _ = normalized_scores(runs, layout, rows, normalization)
    used, dropped = aggregated_columns(runs, layout, rows, normalization)
    left_out = [row for row in rows if row not in matrices]
    parts = [f"{h} not ranked ({why})" for h, why in dropped.items()]
    if left_out:
        parts.append(
            "left out of the ranks (no seed with an ok run and a finite score in every column): " + ", ".join(left_out)
        )
    note = "; ".join(parts)
    if len(used) < 3 or len(matrices) < 3:
        return None, (
            f"needs >= 3 columns and >= 3 rows with complete results; this table has "
            f"{len(used)} column(s) and {len(matrices)} complete row(s)" + (f"; {note}" if note else "")
        )
    headers = [c.header for c in used]
    if len(headers) >= MIN_AUTORANK_BLOCKS:
        data = pd.DataFrame({row: m.mean(axis=0) for row, m in matrices.items()}, index=headers)
    else:
        common = sorted(set.intersection(*(set(s) for s in seeds_of.values())))
        if len(common) * len(headers) < MIN_AUTORANK_BLOCKS:
            return None, (
                f"{len(headers)} columns x {len(common)} common seed(s) give fewer than "
                f"{MIN_AUTORANK_BLOCKS} blocks (autorank's minimum)"
            )
        data = pd.DataFrame(
            {row: np.concatenate([m[seeds_of[row].index(s)] for s in common]) for row, m in matrices.items()},
            index=[f"{h} seed {s}" for s in common for h in headers],
        )
    from autorank import autorank

    result = autorank(data, alpha=alpha, verbose=False, order="descending", force_mode="nonparametric")
    if not np.isfinite(result.pvalue):
        return None, "the Friedman test is undefined here (its p is not a number): no ranks" + (
            f"; {note}" if note else ""
        )
    return result, note or None


def _ranks(runs: pd.DataFrame, layout: Layout, rows: Sequence[str], normalization: str) -> tuple[dict, str]:
    """({row: mean rank} from autorank where it applies, the note: Friedman p and CD, or why no ranks)."""
    cd, why = critical_difference(runs, layout, rows, normalization)
    if cd is None:
        return {}, f"critical difference: {why}" if why else ""
    friedman = f"Friedman p = {cd.pvalue:.3g}, Nemenyi CD = {cd.cd:.2f}" if cd.cd is not None else ""
    return dict(cd.rankdf["meanrank"]), "; ".join(x for x in (friedman, why) if x)  # why: what the ranks left out


#: the columns of an aggregate comparison (:func:`aggregate_comparison`): each aggregate of
#: stats.AGGREGATES and each pairwise statistic of stats.PAIRWISE with its interval.
AGGREGATE_COLUMNS = [
    "kind",
    "row",
    "vs",
    "normalization",
    "n_tasks",
    "n_seeds",
    "seeds",
    *(c for stat in stats.AGGREGATES for c in stats.interval_columns(stat)),
    "mean_rank",
    *(c for stat in stats.PAIRWISE for c in stats.interval_columns(stat)),
    "note",
]


def aggregate_comparison(
    runs: pd.DataFrame,
    layout: Layout,
    rows: Sequence[str],
    references: Sequence[str],
    normalization: str = "minmax",
    n_boot: int = stats.DEFAULT_N_BOOT,
    seed: int = stats.DEFAULT_BOOT_SEED,
) -> pd.DataFrame:
    """One row per table row (``kind == "aggregate"``: the aggregates of its normalised scores (IQM and
    mean, ``stats.AGGREGATES``) with stratified bootstrap 95% intervals, mean rank across the columns from
    autorank where it applies) and one per (reference, other row) (``kind == "probability_of_improvement"``:
    P(reference > other), ``stats.PAIRWISE``, with its interval)."""
    matrices, seeds_of, notes = normalized_scores(runs, layout, rows, normalization)
    used, _ = aggregated_columns(runs, layout, rows, normalization)
    ranks, cd_note = _ranks(runs, layout, rows, normalization)
    shared = {"normalization": normalization, "n_tasks": len(used)}
    out = []
    for row in rows:
        seeds = seeds_of.get(row, [])
        base = {"kind": "aggregate", "row": row, "vs": "", **shared, "n_seeds": len(seeds)}
        base.update({"seeds": " ".join(map(str, seeds)), "note": notes.get(row, "")})
        if row in matrices:
            base.update(stats.aggregate_scores(matrices[row], n_boot=n_boot, seed=seed))
            base["mean_rank"] = ranks.get(row, math.nan)
        out.append(base)
    for ref in references:
        for other in rows:
            if other == ref or ref not in matrices or other not in matrices:
                continue
            res = stats.probability_of_improvement(matrices[ref], matrices[other], n_boot=n_boot, seed=seed)
            out.append(
                {
                    "kind": "probability_of_improvement",
                    "row": ref,
                    "vs": other,
                    **shared,
                    "n_seeds": min(len(seeds_of[ref]), len(seeds_of[other])),
                    "seeds": "",
                    "note": "",
                    **res,
                }
            )
    df = pd.DataFrame(out).reindex(columns=AGGREGATE_COLUMNS)
    df.attrs["critical_difference"] = cd_note
    return df


def aggregate_markdown(agg_df: pd.DataFrame, caption: str = "") -> str:
    """The aggregate comparison as Markdown: the aggregates, then the probabilities of improvement."""

    def ci(x, lo, hi):
        return DASH if not np.isfinite(x) else (f"{x:.3f} [{lo:.3f}, {hi:.3f}]" if np.isfinite(lo) else f"{x:.3f}")

    def intervals(frame: pd.DataFrame, statistics) -> dict:  # "<display> [95% CI]" column per statistic
        return {
            f"{stat.display} [{stats.DEFAULT_LEVEL:.0%} CI]": [
                ci(*v) for v in zip(*(frame[c] for c in stats.interval_columns(stat)))
            ]
            for stat in statistics
        }

    a = agg_df[agg_df["kind"] == "aggregate"]
    p = agg_df[agg_df["kind"] == "probability_of_improvement"]
    aggregates = {"Method": a["row"], "seeds": a["n_seeds"], "tasks": a["n_tasks"], **intervals(a, stats.AGGREGATES)}
    aggregates.update({"mean rank": [format_number(x, 2) for x in a["mean_rank"]], "note": a["note"]})
    parts = [table_markdown(pd.DataFrame(aggregates), caption)]
    if len(p):
        parts.append(
            table_markdown(
                pd.DataFrame({"Reference": p["row"], "vs": p["vs"], **intervals(p, stats.PAIRWISE)}),
                "Probability of improvement (rliable): the chance that a run of the reference beats a run of the other "
                "row on a randomly chosen column, ties counted half; 0.5 = no difference.",
            )
        )
    if agg_df.attrs.get("critical_difference"):
        parts.append(agg_df.attrs["critical_difference"] + "\n")
    return "\n".join(parts)
