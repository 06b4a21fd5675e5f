"""Per-cell summaries over seeds and the tables in the paper's layout (Markdown, LaTeX, CSV).

``summarize(runs)``       one row per (row_label, task, metric): n ok / failed / unavailable and the
                          statistics of :func:`adamixbench.analysis.stats.describe` over seeds
                          (``summary.csv``).
``build_table(...)``      a table in a layout (:mod:`adamixbench.analysis.layouts`): methods x columns of
                          formatted cells ("mean ± std", failures, unavailable scores, the paper's value
                          and Δ), the Avg column and the parameter counts; and the same cells as numbers.
``failure_note`` /        the caption notes that say which runs of a table failed and why, which
``unavailable_note`` /    scores are unavailable, and which data sources its runs read when they differ.
``data_source_note``
``load_paper`` /          the paper's published numbers (``workflow/resources/paper_results.csv``) keyed
``paper_lookup``          like the table's cells.

Pure functions on the frames of :mod:`adamixbench.analysis.records`; the pipeline's rule scripts
(workflow/scripts/*.py) only read files, call these and write the results.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from adamixbench.analysis import stats
from adamixbench.analysis.layouts import Column, Layout
from adamixbench.analysis.records import (
    UNAVAILABLE,
    failed_runs,
    finite_scores,
    run_status,
    unavailable_scores,
)
from adamixbench.analysis.render import DASH, format_number, format_params, metric_digits

__all__ = [
    "SUMMARY_COLUMNS",
    "summarize",
    "load_paper",
    "paper_lookup",
    "cell_text",
    "build_table",
    "failure_note",
    "unavailable_note",
    "data_source_note",
]


# --------------------------------------------------------------------------------------------------
# summaries over seeds
# --------------------------------------------------------------------------------------------------
_CELL_KEYS = ["row_label", "method_label", "score_source", "task", "metric"]
#: the columns of ``summary.csv`` (:func:`summarize`): the cell, its run counts, the statistics of
#: :data:`stats.SEED_STATISTICS` with the interval of the mean, the seeds used and the runs' costs.
SUMMARY_COLUMNS = [
    *_CELL_KEYS,
    "n_runs",
    "n_failed",
    "n_unavailable",
    *(stat.name for stat in stats.SEED_STATISTICS),
    *stats.SEED_INTERVAL,
    "seeds",
    "params_inference",
    "params_trainable",
    "train_time_s",
]


def _cell_statistics(cell: pd.DataFrame, n_boot: int, level: float, boot_seed: int) -> dict:
    """The statistics of one cell's ok runs over seeds: how many scores are unavailable, describe() of the
    finite ones, the seeds they come from, and the runs' mean parameter counts and training time."""
    sel = finite_scores(cell)  # an unavailable score counts in n_unavailable, in no statistic
    return {
        "n_unavailable": len(cell) - len(sel),
        **stats.describe(sel["value"].tolist(), n_boot=n_boot, level=level, seed=boot_seed),
        "seeds": " ".join(str(int(s)) for s in sorted(sel["seed"].dropna())),
        "params_inference": float(sel["params_inference"].mean()) if len(sel) else math.nan,
        "params_trainable": float(sel["params_trainable"].mean()) if len(sel) else math.nan,
        "train_time_s": float(sel["train_time_s"].mean()) if len(sel) else math.nan,
    }


def summarize(
    runs: pd.DataFrame,
    n_boot: int = stats.DEFAULT_N_BOOT,
    level: float = stats.DEFAULT_LEVEL,
    boot_seed: int = stats.DEFAULT_BOOT_SEED,
) -> pd.DataFrame:
    """Statistics over seeds per (row_label, task, metric), failures counted in ``n_failed``."""
    status = run_status(runs)
    failed = status[status["status"] == "failed"].groupby(["row_label", "task"]).size()
    total = status.groupby(["row_label", "task"]).size()
    ok = runs[(runs["status"] == "ok") & runs["metric"].astype(bool)]
    keys = runs[runs["metric"].astype(bool)][_CELL_KEYS].drop_duplicates()
    out = []
    for _, k in keys.iterrows():
        cell = ok[(ok["row_label"] == k["row_label"]) & (ok["task"] == k["task"]) & (ok["metric"] == k["metric"])]
        out.append(
            {
                **{key: k[key] for key in _CELL_KEYS},
                "n_runs": int(total.get((k["row_label"], k["task"]), 0)),
                "n_failed": int(failed.get((k["row_label"], k["task"]), 0)),
                **_cell_statistics(cell, n_boot, level, boot_seed),
            }
        )
    return pd.DataFrame(out, columns=SUMMARY_COLUMNS)


# --------------------------------------------------------------------------------------------------
# paper numbers
# --------------------------------------------------------------------------------------------------
def load_paper(path: str | Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"variant": str})


def paper_lookup(paper: pd.DataFrame, table: str, rows: Mapping[str, str]) -> dict[tuple[str, str, str], float]:
    """{(label, task, metric): published value} for the suite's labels mapped to paper rows.

    `rows` maps a method label to ``"<paper method>"`` or ``"<paper method>|<variant>"`` (the #Param
    printed in the table, for methods listed twice, e.g. ``"Houlsby Adapter|0.8M"``)."""
    sub = paper[paper["table"] == table]
    out = {}
    for label, ref in rows.items():
        method, _, variant = str(ref).partition("|")
        sel = sub[sub["method"] == method]
        if variant:
            sel = sel[sel["variant"] == variant]
        if sel.empty:
            continue
        for _, r in sel.iterrows():
            out[(label, r["task"], r["metric"])] = float(r["value"])
    return out


# --------------------------------------------------------------------------------------------------
# tables in a layout
# --------------------------------------------------------------------------------------------------
#: the statistics a table cell holds as numbers (the long table): those of stats.SEED_STATISTICS marked
#: `in_table`, then the interval of the mean.
_TABLE_STATISTICS = [stat.name for stat in stats.SEED_STATISTICS if stat.in_table] + list(stats.SEED_INTERVAL)


def cell_text(mean: float, std: float, n: int, n_runs: int, n_failed: int, n_unavailable: int, digits: int) -> str:
    """The text of one cell from `n` finite scores of `n_runs` runs: "mean ± std" with "(k/n failed)" and
    "(k/n unavailable)" where runs failed or have no finite score; "not run", "failed (k/n)" or
    "unavailable (k/n)" when no finite score is left."""
    if n_runs == 0:
        return "not run"
    if n == 0 and n_unavailable:
        cell = f"{UNAVAILABLE} ({n_unavailable}/{n_runs})"
        return cell + (f" ({n_failed}/{n_runs} failed)" if n_failed else "")
    if n == 0:
        return f"failed ({n_failed}/{n_runs})"
    cell = f"{format_number(mean, digits)} ± {format_number(std, digits)}"
    if n_failed:
        cell += f" ({n_failed}/{n_runs} failed)"
    if n_unavailable:
        cell += f" ({n_unavailable}/{n_runs} {UNAVAILABLE})"
    return cell


def _paper_text(p: float, delta: float, digits: int) -> str:
    """ " [paper P, Δ D]" beside a cell (D = ours - paper)."""
    return f" [paper {p:.{digits}f}, Δ {format_number(delta, digits)}]"


def _cell_numbers(
    label: str,
    col: Column,
    row_summary: pd.DataFrame,
    status: pd.DataFrame,
    unavailable: pd.DataFrame,
    paper: Mapping[tuple[str, str, str], float],
) -> dict:
    """One (row, column) cell as numbers (a row of the long table): its run counts, the statistics of its
    row of the summary (`row_summary`: the table row's rows; none when the cell has no finite score) and
    the paper's value with Δ = ours - paper."""
    s = row_summary[(row_summary["task"] == col.task) & (row_summary["metric"] == col.metric)]
    st = status[(status["row_label"] == label) & (status["task"] == col.task)]
    un = unavailable[
        (unavailable["row_label"] == label) & (unavailable["task"] == col.task) & (unavailable["metric"] == col.metric)
    ]
    empty = stats.describe([])  # every statistic of no score: n 0, the others NaN
    rec = {
        "row_label": label,
        "task": col.task,
        "metric": col.metric,
        "header": col.header,
        "n_runs": len(st),
        "n_failed": int((st["status"] == "failed").sum()),
        "n_unavailable": int(un["seed"].nunique()),
        **{name: empty[name] for name in _TABLE_STATISTICS},
    }
    if len(s):
        r = s.iloc[0]
        rec.update({name: r[name] for name in _TABLE_STATISTICS})
    p = paper.get((label, col.task, col.metric), math.nan)
    rec["paper"] = p
    rec["delta"] = rec["mean"] - p if np.isfinite(p) else math.nan
    return rec


def _average(label: str, means: list[float], complete: bool, paper: Mapping) -> tuple[dict, str]:
    """The Avg column of one row, as the paper computes it: the unweighted mean of the row's column means,
    only when every column has a finite score (else "— (incomplete)"); (long row, cell text)."""
    avg = float(np.mean(means)) if complete and means else math.nan
    p = paper.get((label, "avg", "avg"), math.nan)
    rec = {
        "row_label": label,
        "task": "avg",
        "metric": "avg",
        "header": "Avg",
        "n_runs": math.nan,
        "n_failed": math.nan,
        "n_unavailable": math.nan,
        **{name: math.nan for name in _TABLE_STATISTICS},
        "mean": avg,
        "paper": p,
        "delta": avg - p if np.isfinite(p) and np.isfinite(avg) else math.nan,
    }
    cell = format_number(avg, 1) if np.isfinite(avg) else f"{DASH} (incomplete)"
    if np.isfinite(p):
        cell += _paper_text(p, avg - p, 1)
    return rec, cell


def build_table(
    runs: pd.DataFrame,
    summary: pd.DataFrame,
    layout: Layout,
    row_order: Sequence[str],
    paper: Mapping[tuple[str, str, str], float] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(display, long): `display` is methods x columns of formatted cells ("mean ± std", plus
    "[paper P, Δ D]" where the paper has the cell, "k/n failed" where runs failed, "k/n unavailable"
    where ok runs have no finite score, "unavailable (k/n)" where none has), then Avg and the parameter
    columns; `long` holds the same cells as numbers (one row per method x column, Avg incl.)."""
    paper = paper or {}
    long_rows, disp_rows = [], []
    status = run_status(runs)
    unavailable = unavailable_scores(runs)
    for label in row_order:
        disp = {"Method": label}
        means, complete = [], True
        lab_sum = summary[summary["row_label"] == label]
        for col in layout.columns:
            rec = _cell_numbers(label, col, lab_sum, status, unavailable, paper)
            long_rows.append(rec)
            dg = metric_digits(col.metric)
            cell = cell_text(
                rec["mean"], rec["std"], rec["n"], rec["n_runs"], rec["n_failed"], rec["n_unavailable"], dg
            )
            if rec["n_runs"] == 0 or rec["n"] == 0:
                complete = False
            else:
                means.append(rec["mean"])
            if np.isfinite(rec["paper"]):
                cell += _paper_text(rec["paper"], rec["delta"], dg)
            disp[col.header] = cell
        if layout.average:
            rec, disp["Avg"] = _average(label, means, complete, paper)
            long_rows.append(rec)
        lab_runs = runs[(runs["row_label"] == label) & (runs["status"] == "ok")]
        disp["#Param"] = format_params(lab_runs["params_inference"].mean()) if len(lab_runs) else DASH
        disp["#Trainable"] = format_params(lab_runs["params_trainable"].mean()) if len(lab_runs) else DASH
        disp_rows.append(disp)
    return pd.DataFrame(disp_rows), pd.DataFrame(long_rows)


# --------------------------------------------------------------------------------------------------
# caption notes: failed runs, unavailable scores
# --------------------------------------------------------------------------------------------------
def _listed(names: list[str]) -> str:
    """The first four names, and how many more."""
    return f"{', '.join(names[:4])}{f' and {len(names) - 4} more' if len(names) > 4 else ''}"


def failure_note(runs: pd.DataFrame, layout: Layout, row_order: Sequence[str]) -> str:
    """The caption note of a table's failed cells: each distinct failure (its class and the first sentence
    of its reason) with the runs it hit, so that a "failed" cell says why on the table itself; every reason
    in full is in failed_runs.md. Empty when no run of the table failed."""
    tasks = {c.task for c in layout.columns}
    labels = {label.split(" @")[0] for label in row_order}  # "lora @fixed:0" rows are runs of "lora"
    failed = failed_runs(runs)
    failed = failed[failed["task"].isin(tasks) & failed["method_label"].isin(labels)]
    hit: dict[tuple[str, str], list[str]] = {}
    for run in failed.itertuples():
        reason = str(run.failure_reason or "unknown").strip()
        first = reason.split(". ", 1)[0].rstrip(".")
        kind = run.failure_class if isinstance(run.failure_class, str) and run.failure_class else "failed"
        hit.setdefault((kind, first), []).append(f"{run.task}/{run.method_label}/seed{run.seed}")
    if not hit:
        return ""
    parts = [f"{kind}: {why} ({_listed(names)})" for (kind, why), names in hit.items()]
    return f"Failed runs: {'; '.join(parts)}. Full reasons: failed_runs.md."


def data_source_note(runs: pd.DataFrame, layout: Layout, row_order: Sequence[str]) -> str:
    """The caption note of a table whose runs read different data sources (column ``data_source``: paper,
    hub, local; adamixbench/tasks/data_source.py): each source with its number of runs and their tasks, since
    numbers from different data are not comparable. Empty when every run of the table read the same."""
    if "data_source" not in runs:
        return ""
    tasks = {c.task for c in layout.columns}
    labels = {label.split(" @")[0] for label in row_order}
    own = runs[runs["task"].isin(tasks) & runs["method_label"].isin(labels)]
    own = own.drop_duplicates(["experiment", "task", "method_label", "seed"])
    sources = own["data_source"].fillna("").replace("", "not recorded")
    if sources.nunique() < 2:
        return ""
    parts = []
    for source in sorted(sources.unique()):
        n, tasks = int((sources == source).sum()), sorted(set(own.loc[sources == source, "task"]))
        parts.append(f"{source} ({n} run{'' if n == 1 else 's'}: {_listed(tasks)})")
    return f"Data sources differ across runs: {'; '.join(parts)} (runs.csv, column data_source)."


def unavailable_note(runs: pd.DataFrame, layout: Layout, row_order: Sequence[str]) -> str:
    """The caption note of a table's unavailable scores (:func:`unavailable_scores`) in its rows and
    columns, per metric the runs it hit; empty when there are none."""
    cols = {(c.task, c.metric) for c in layout.columns}
    un = unavailable_scores(runs)
    in_cols = np.array([(t, m) in cols for t, m in zip(un["task"], un["metric"])], dtype=bool)
    un = un[un["row_label"].isin(row_order).to_numpy() & in_cols]
    hit: dict[str, list[str]] = {}
    for run in un.itertuples():
        hit.setdefault(run.metric, []).append(f"{run.task}/{run.row_label}/seed{int(run.seed)}")
    if not hit:
        return ""
    parts = [f"{metric} of {_listed(names)}" for metric, names in hit.items()]
    return (
        f"Unavailable scores (not a finite number in an ok run, e.g. a metric whose tool was missing; left out "
        f"of every statistic): {'; '.join(parts)}."
    )
