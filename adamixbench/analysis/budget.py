"""Training budget as an axis of every comparison (issue 22): what budget a table measures, and how the
scores of a suite with budgets (adamixbench/plan/budget.py) change with it.

``budget_note``        the caption sentence of ANY table: the budget its runs trained, read from the records
                       (``optimizer_steps`` = the record's ``schedule.total_steps``, ``epochs_trained``), and
                       the fairness basis of its comparisons (equal optimiser steps, equal updates per expert,
                       ...), e.g. "Budget: 128 optimiser steps (1 epoch) per run; fairness basis: equal
                       optimiser steps."
``budget_summary``     per (column, method, budget): mean, std, n and the seed interval of the mean
                       (stats.describe), the optimiser steps and training time its runs took.
``budget_markdown``    the budget table per column: methods x budgets, cells "mean ± sd (n) [interval]".
``budget_to_reach``    for each pair X -> AdaMix(X): the smallest budget at which AdaMix(X)'s mean reaches X's
                       mean at X's largest budget, else "not reached" (means only: the claims test).

Each budget's score comes from its own runs, each trained with the full LR schedule of its own length: a
learning curve of separate runs, not evaluations along one long run (another protocol).
Pure functions on ``runs.csv`` (adamixbench/analysis/records.py); no torch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from adamixbench.analysis import stats
from adamixbench.analysis.layouts import Column, Layout, orientation
from adamixbench.analysis.records import finite_scores
from adamixbench.analysis.render import DASH, format_number, metric_digits, table_markdown
from adamixbench.plan.budget import FAIRNESS, from_key

__all__ = [
    "SUMMARY_COLUMNS",
    "REACH_COLUMNS",
    "budget_note",
    "budget_summary",
    "budget_cell",
    "budget_markdown",
    "budget_to_reach",
    "reach_markdown",
    "fairness_of",
]

SUMMARY_COLUMNS = [
    "task",
    "metric",
    "header",
    "row",
    "budget",
    "budget_unit",
    "budget_value",
    "steps",
    "epochs",
    "n_runs",
    "n_failed",
    *(stat.name for stat in stats.SEED_STATISTICS),
    *stats.SEED_INTERVAL,
    "seeds",
    "train_time_s",
]
REACH_COLUMNS = [
    "task",
    "metric",
    "header",
    "base",
    "adamix",
    "target_budget",
    "target_mean",
    "reached_budget",
    "reached_steps",
    "reached_mean",
    "best_budget",
    "best_mean",
    "result",
]


# --------------------------------------------------------------------------------------------------
# what a table measures
# --------------------------------------------------------------------------------------------------
def _epochs_text(epochs: float) -> str:
    if not np.isfinite(epochs):
        return ""
    text = format_number(round(float(epochs), 2), 2).rstrip("0").rstrip(".")
    return f" ({text} epoch{'' if text == '1' else 's'})"


def _steps_text(steps: float, epochs: float) -> str:
    return f"{int(steps)} optimiser step{'' if steps == 1 else 's'}{_epochs_text(epochs)}"


def _listed(names: Sequence[str]) -> str:
    names = list(dict.fromkeys(names))
    return f"{', '.join(names[:4])}{f' and {len(names) - 4} more' if len(names) > 4 else ''}"


def fairness_of(keys: Sequence[str]) -> str:
    """The fairness basis of a comparison between runs of these budget keys ('' = no budgets)."""
    units = sorted({from_key(k).unit for k in keys if k})
    return "; ".join(FAIRNESS[u] for u in units)


def _own_runs(runs: pd.DataFrame, layout: Layout, row_order: Sequence[str]) -> pd.DataFrame:
    """One row per run of the table (its tasks, its rows' runs; inference rows are runs of their label)."""
    tasks = {c.task for c in layout.columns}
    labels = {label.split(" @")[0] for label in row_order}
    own = runs[runs["task"].isin(tasks) & runs["method_label"].isin(labels)]
    return own.drop_duplicates(["experiment", "task", "method_label", "seed"])


def budget_note(runs: pd.DataFrame, layout: Layout, row_order: Sequence[str]) -> str:
    """The caption sentence naming the budget a table's runs trained (from the records) and the fairness
    basis of its comparisons: equal optimiser steps when every run of a column took the same steps, the
    unit's basis for a suite's budget (equal updates per expert: the steps differ by design), else the
    steps of each group of runs."""
    if "optimizer_steps" not in runs:
        return "Budget: not recorded (runs.csv predates the budget columns)."
    own = _own_runs(runs, layout, row_order)
    done = own[np.isfinite(own["optimizer_steps"].astype(float))]
    if done.empty:
        return "Budget: not recorded (no run of this table has a training schedule in its record)."
    epochs = done["epochs_trained"].astype(float).round(2)
    groups = {}
    for (steps, ep), g in done.groupby([done["optimizer_steps"], epochs], dropna=False):
        groups[(steps, ep)] = g
    keys = sorted({k for k in own["budget"] if k})
    budget = f"Budget: {', '.join(from_key(k).words for k in keys)}; trained: " if keys else "Budget: "
    if len(groups) == 1:
        (steps, ep), _ = next(iter(groups.items()))
        text = f"{budget}{_steps_text(steps, ep)} per run"
    else:
        parts = []
        for (steps, ep), g in sorted(groups.items(), key=lambda kv: kv[0][0]):
            single_task = g["task"].nunique() == 1 and own["task"].nunique() == 1
            names = [lab if single_task else f"{t}/{lab}" for t, lab in zip(g["task"], g["base_label"])]
            parts.append(f"{_steps_text(steps, ep)} for {_listed(names)}")
        text = f"{budget}optimiser steps per run (from the records): {'; '.join(parts)}"
    if keys:
        basis = fairness_of(keys)
    elif all(g["optimizer_steps"].nunique() == 1 for _, g in done.groupby("task")):
        basis = "equal optimiser steps" + ("" if len(groups) == 1 else " within each column")
    else:
        basis = "none: the rows' optimiser steps differ (each row's recipe)"
    return f"{text}; fairness basis: {basis}."


# --------------------------------------------------------------------------------------------------
# the budget table
# --------------------------------------------------------------------------------------------------
def _cell_runs(runs: pd.DataFrame, col: Column, row: str, key: str) -> pd.DataFrame:
    main = runs["score_source"].fillna("scores") == "scores"
    return runs[
        main & (runs["task"] == col.task) & (runs["base_label"] == row) & (runs["budget"] == key)
    ].drop_duplicates(["experiment", "seed", "metric"])


def budget_summary(
    runs: pd.DataFrame,
    layout: Layout,
    rows: Sequence[str],
    budgets: Sequence[str],
    n_boot: int = stats.DEFAULT_N_BOOT,
    seed: int = stats.DEFAULT_BOOT_SEED,
) -> pd.DataFrame:
    """One row per (column, method row, budget key): the statistics of its ok runs' finite scores over seeds
    (stats.describe: mean, std, n, ... and the bootstrap interval of the mean), run counts, the optimiser
    steps and epochs its runs trained (median over them) and their mean training time."""
    out = []
    for col in layout.columns:
        for row in rows:
            for key in budgets:
                cell = _cell_runs(runs, col, row, key)
                status = cell.drop_duplicates(["experiment", "seed"])
                ok = finite_scores(cell[(cell["status"] == "ok") & (cell["metric"] == col.metric)])
                budget = from_key(key)
                out.append(
                    {
                        "task": col.task,
                        "metric": col.metric,
                        "header": col.header,
                        "row": row,
                        "budget": key,
                        "budget_unit": budget.unit,
                        "budget_value": budget.value,
                        "steps": float(status["optimizer_steps"].median()) if len(status) else math.nan,
                        "epochs": float(status["epochs_trained"].median()) if len(status) else math.nan,
                        "n_runs": len(status),
                        "n_failed": int((status["status"] == "failed").sum()),
                        **stats.describe(ok["value"].tolist(), n_boot=n_boot, seed=seed),
                        "seeds": " ".join(str(int(s)) for s in sorted(ok["seed"])),
                        "train_time_s": float(ok["train_time_s"].mean()) if len(ok) else math.nan,
                    }
                )
    return pd.DataFrame(out, columns=SUMMARY_COLUMNS)


def budget_cell(r: Mapping) -> str:
    """One cell: "mean ± sd (n) [interval]", with "(k/n failed)"; "not run" / "failed (k/n)" without a score."""
    if not r["n_runs"]:
        return "not run"
    if not r["n"]:
        return f"failed ({r['n_failed']}/{r['n_runs']})"
    d = metric_digits(r["metric"])
    text = f"{format_number(r['mean'], d)} ± {format_number(r['std'], d)} ({r['n']})"
    if np.isfinite(r["ci_low"]):
        text += f" [{format_number(r['ci_low'], d)}, {format_number(r['ci_high'], d)}]"
    return text + (f" ({r['n_failed']}/{r['n_runs']} failed)" if r["n_failed"] else "")


def _budget_header(key: str, cells: pd.DataFrame) -> str:
    """A budget column's header: the budget in words, and the optimiser steps its runs took when the unit is
    not steps (e.g. "256 updates per expert (steps: 256 / 1024)")."""
    budget = from_key(key)
    steps = sorted({int(s) for s in cells["steps"] if np.isfinite(s)})
    if steps and (budget.unit != "steps" or steps != [int(budget.value)]):  # e.g. smoke runs: 2 steps
        return f"{budget.words} (steps: {' / '.join(map(str, steps))})"
    return budget.words


def budget_markdown(summary: pd.DataFrame, rows: Sequence[str], budgets: Sequence[str], caption: str) -> str:
    """One Markdown table per column: rows = methods, columns = budgets (in the suite's order)."""
    parts = [caption, ""]
    for (_task, metric), col in summary.groupby(["task", "metric"], sort=False):
        display = pd.DataFrame(
            [
                {
                    "Method": row,
                    **{
                        _budget_header(key, col[col["budget"] == key]): budget_cell(
                            col[(col["row"] == row) & (col["budget"] == key)].iloc[0]
                        )
                        for key in budgets
                    },
                }
                for row in rows
            ]
        )
        parts += [f"### {col['header'].iloc[0]} ({metric})", "", table_markdown(display).strip(), ""]
    return "\n".join(parts)


# --------------------------------------------------------------------------------------------------
# budget to reach the plain method's final score
# --------------------------------------------------------------------------------------------------
def _reach_row(col: pd.DataFrame, base: str, mix: str, budgets: Sequence[str]) -> dict:
    sign = orientation(col["metric"].iloc[0])
    x = col[(col["row"] == base) & (col["n"] > 0)]
    a = col[(col["row"] == mix) & (col["n"] > 0)]
    order = {key: i for i, key in enumerate(budgets)}
    rec = {"base": base, "adamix": mix, **{k: col[k].iloc[0] for k in ("task", "metric", "header")}}
    if x.empty or a.empty:
        return {**rec, "result": f"not comparable: no score of {base if x.empty else mix}"}
    target = x.loc[max(x.index, key=lambda i: order[x.at[i, "budget"]])]
    a = a.sort_values("budget", key=lambda s: s.map(order))
    reached = a[sign * a["mean"] >= sign * target["mean"]]
    best = a.loc[(sign * a["mean"]).idxmax()]
    rec.update(
        target_budget=target["budget"],
        target_mean=target["mean"],
        best_budget=best["budget"],
        best_mean=best["mean"],
    )
    d = metric_digits(rec["metric"])
    if reached.empty:
        where = from_key(best["budget"]).words
        return {**rec, "result": f"not reached (best {format_number(best['mean'], d)} at {where})"}
    first = reached.iloc[0]
    budget = from_key(first["budget"])
    trained = np.isfinite(first["steps"]) and (budget.unit != "steps" or first["steps"] != budget.value)
    steps = f" (runs of {int(first['steps'])} optimiser steps)" if trained else ""
    return {
        **rec,
        "reached_budget": first["budget"],
        "reached_steps": first["steps"],
        "reached_mean": first["mean"],
        "result": f"reached at {budget.words}{steps}: "
        f"{format_number(first['mean'], d)} vs {format_number(target['mean'], d)}",
    }


def budget_to_reach(summary: pd.DataFrame, pairs: Mapping[str, str], budgets: Sequence[str]) -> pd.DataFrame:
    """Per column and pair X -> AdaMix(X): X's mean at X's largest budget with a score (the last in the
    suite's budget order), and the smallest budget (in that order) at which AdaMix(X)'s mean reaches it
    (>=; <= for lower-is-better metrics), else "not reached" with AdaMix(X)'s best mean. Means over seeds,
    no test (the claims test each budget)."""
    out = [
        _reach_row(col, base, mix, budgets)
        for _, col in summary.groupby(["task", "metric"], sort=False)
        for base, mix in pairs.items()
    ]
    return pd.DataFrame(out).reindex(columns=REACH_COLUMNS)


def reach_markdown(reach: pd.DataFrame) -> str:
    if reach.empty:
        return "No pairs X -> AdaMix(X) in this table (`pairs:`): no budget to reach.\n"
    display = pd.DataFrame(
        {
            "Column": reach["header"],
            "X": reach["base"],
            "AdaMix(X)": reach["adamix"],
            "X at its largest budget": [
                DASH if not isinstance(b, str) else f"{format_number(m, metric_digits(t))} at {from_key(b).words}"
                for b, m, t in zip(reach["target_budget"], reach["target_mean"], reach["metric"])
            ],
            "budget for AdaMix(X) to reach it": reach["result"],
        }
    )
    return table_markdown(
        display,
        "Budget to reach the plain method's final score: the smallest budget at which AdaMix(X)'s mean over "
        "seeds reaches X's mean at X's largest budget (budgets in the suite's order; each budget its own runs "
        "with their own LR schedule); means only, no test (tables/claims.md tests AdaMix(X) > X per budget).",
    )
