"""Table layouts: which (task, metric) columns a table has, their headers, and the tasks' display names.

A *layout* lists the table's columns as (task, metric, header) and says whether an ``Avg`` column is
computed, as the paper computes it: the unweighted mean over the layout's tasks of each method's mean
score (Table 1 with QQP/MRPC accuracy, Table 2 with their F1). :data:`LAYOUTS` holds the paper's
tables; ``"primary"`` builds one column per task with the task's primary metric (:func:`resolve_layout`).
Metrics where lower is better (:data:`LOWER_IS_BETTER`) are flipped by every comparison
(:func:`orientation`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

__all__ = [
    "Column",
    "Layout",
    "LAYOUTS",
    "TASK_NAMES",
    "TABLE1_METRIC",
    "TABLE2_METRIC",
    "LOWER_IS_BETTER",
    "task_name",
    "metric_header",
    "orientation",
    "resolve_layout",
]


@dataclass(frozen=True)
class Column:
    task: str
    metric: str
    header: str


@dataclass(frozen=True)
class Layout:
    name: str
    columns: tuple[Column, ...]
    average: bool
    caption: str = ""


def _cols(spec: Sequence[tuple[str, str, str]]) -> tuple[Column, ...]:
    return tuple(Column(*c) for c in spec)


_GLUE_ORDER = ("mnli", "qnli", "sst2", "qqp", "mrpc", "cola", "rte", "stsb")
#: display name of every task (tables, figure titles, claims).
TASK_NAMES = {
    "mnli": "MNLI",
    "qnli": "QNLI",
    "sst2": "SST-2",
    "qqp": "QQP",
    "mrpc": "MRPC",
    "cola": "CoLA",
    "rte": "RTE",
    "stsb": "STS-B",
    "subj": "Subj",
    "mpqa": "MPQA",
    "e2e": "E2E",
    "webnlg": "WebNLG",
    "dart": "DART",
}
_METRIC_HEADERS = {
    "accuracy": "Acc",
    "f1": "F1",
    "matthews_correlation": "MCC",
    "pearson": "Pearson",
    "spearmanr": "Spearman",
    "bleu": "BLEU",
    "nist": "NIST",
    "meteor": "METEOR",
    "rouge_l": "ROUGE-L",
    "cider": "CIDEr",
    "ter": "TER",
}
#: the score each GLUE task contributes to the "Avg" column of the AdaMix paper's Table 1 (RoBERTa-large:
#: accuracy for MRPC/QQP) and Table 2 (BERT-base: F1 for MRPC/QQP). STS-B is Pearson in both, following the
#: LoRA paper's convention that Table 1 copies (Table 2's STS-B metric is not stated in the paper).
TABLE1_METRIC = {
    "mnli": "accuracy",
    "qnli": "accuracy",
    "sst2": "accuracy",
    "qqp": "accuracy",
    "mrpc": "accuracy",
    "cola": "matthews_correlation",
    "rte": "accuracy",
    "stsb": "pearson",
}
TABLE2_METRIC = {**TABLE1_METRIC, "qqp": "f1", "mrpc": "f1"}
#: metrics where lower is better (Pareto fronts, normalised scores, ASO and claims flip their sign).
LOWER_IS_BETTER = frozenset({"ter"})


def task_name(task: str) -> str:
    return TASK_NAMES.get(task, task)


def metric_header(metric: str) -> str:
    """A metric's short column header ("Acc", "MCC", "BLEU", ...), else the metric's own name."""
    return _METRIC_HEADERS.get(metric, metric)


def orientation(metric: str) -> float:
    """+1 where higher is better, -1 where lower is better: orientation * value is always "higher = better"."""
    return -1.0 if metric in LOWER_IS_BETTER else 1.0


LAYOUTS: dict[str, Layout] = {
    "table1": Layout(
        "table1",
        _cols([(t, TABLE1_METRIC[t], TASK_NAMES[t]) for t in _GLUE_ORDER]),
        True,
        "GLUE dev, RoBERTa-large layout (paper Table 1): Avg over the 8 tasks with QQP/MRPC accuracy, "
        "CoLA MCC, STS-B Pearson.",
    ),
    "table2": Layout(
        "table2",
        _cols([(t, TABLE2_METRIC[t], TASK_NAMES[t] + (" F1" if t in ("qqp", "mrpc") else "")) for t in _GLUE_ORDER]),
        True,
        "GLUE dev, BERT-base layout (paper Table 2): Avg over the 8 tasks with QQP/MRPC F1, CoLA MCC, STS-B Pearson.",
    ),
    "nlg_e2e": Layout(
        "nlg_e2e",
        _cols([("e2e", m, _METRIC_HEADERS[m]) for m in ("bleu", "nist", "meteor", "rouge_l", "cider")]),
        False,
        "E2E (paper's NLG table): BLEU, METEOR, ROUGE-L in percent; NIST and CIDEr raw.",
    ),
    "nlg_webnlg_dart": Layout(
        "nlg_webnlg_dart",
        _cols(
            [
                ("webnlg", "bleu", "WebNLG BLEU"),
                ("webnlg", "ter", "WebNLG TER"),
                ("dart", "bleu", "DART BLEU"),
                ("dart", "ter", "DART TER"),
            ]
        ),
        False,
        "WebNLG (all) and DART: BLEU (percent, higher is better), TER (raw, lower is better).",
    ),
    "fewshot": Layout(
        "fewshot",
        _cols([(t, "accuracy", TASK_NAMES[t]) for t in ("mnli", "rte", "qqp", "sst2", "subj", "mpqa")]),
        True,
        "Few-shot accuracy (LiST protocol); Avg over the six tasks.",
    ),
}


def resolve_layout(
    name: str, runs: pd.DataFrame | None = None, tasks: Sequence[str] | None = None, average: bool | None = None
) -> Layout:
    """A named layout, or ``"primary"``: one column per task (in `tasks` order, else as they appear in
    `runs`) with the primary metric of that task's records. `tasks` restricts a named layout too."""
    if name == "primary":
        if runs is None:
            raise ValueError("layout 'primary' needs the runs frame to find each task's primary metric")
        order = list(tasks) if tasks else list(dict.fromkeys(runs["task"]))
        cols = []
        for t in order:
            prim = runs.loc[(runs["task"] == t) & runs["is_primary"].astype(bool), "metric"]
            metric = prim.iloc[0] if len(prim) else "accuracy"
            cols.append(Column(t, metric, f"{task_name(t)} {metric_header(metric)}"))
        avg = len(cols) > 1 if average is None else average
        return Layout("primary", tuple(cols), avg, "Primary metric of each task.")
    if name not in LAYOUTS:
        raise ValueError(f"unknown table layout {name!r}; layouts: {sorted(LAYOUTS) + ['primary']}")
    lay = LAYOUTS[name]
    cols = tuple(c for c in lay.columns if not tasks or c.task in tasks)
    return Layout(lay.name, cols, lay.average if average is None else average, _restricted_caption(lay, cols))


def _restricted_caption(lay: Layout, cols: tuple[Column, ...]) -> str:
    """A layout's caption, or, for a subset of its tasks, one that says what the columns and Avg are."""
    if len(cols) == len(lay.columns):
        return lay.caption
    shown = ", ".join(f"{c.header} ({metric_header(c.metric)})" for c in cols)
    return f"Columns of the {lay.name} layout, {len(cols)} of its {len(lay.columns)} tasks: {shown}" + (
        f"; Avg over these {len(cols)} only, so the paper's Avg is not comparable and not shown."
        if lay.average
        else "."
    )
