"""Run records -> tidy frames -> tables in the paper's layout (Markdown, LaTeX, CSV).

Pure functions on run records (the ``metrics.json`` dicts of docs/CONTRACTS.md) and pandas DataFrames;
the pipeline's rule scripts (workflow/scripts/*.py) only read files, call these and write the results.

Frames
------
``runs_frame(records)``      one row per (run, score): the tidy ``runs.csv``. A failed run keeps one row
                             (its primary metric, value NaN, ``status == "failed"``, the reason), so
                             failures are counted and listed, never dropped.
                             Scores of ``scores_by_inference`` (AdaMix evaluated under several
                             inference modes) become extra rows with ``score_source ==
                             "scores_by_inference"`` and ``row_label == "<label> @<mode>"``.
                             A score of an ``ok`` run that is not a finite number (null / NaN / inf in
                             the record, e.g. METEOR without Java) keeps its row with value NaN/inf:
                             it is *unavailable* (``unavailable_scores``), shown as such in the tables
                             and left out of every statistic, with a note naming it.
``history_frame(records)``   one row per (run, epoch, eval metric): training curves.
``summarize(runs)``          one row per (row_label, task, metric): n ok / failed and the statistics of
                             :func:`adamixbench.analysis.stats.describe` over seeds.

Comparisons
-----------
``paired_tests``           each reference row against every other row per column, paired by seed:
                           t-test and Wilcoxon with Holm-adjusted p over the table's family, and
                           deepsig's ASO eps_min (Bonferroni over the family).
``normalized_scores``      per row a seeds x columns matrix of normalised scores (the runs x tasks
                           input of rliable's aggregates), higher = better in every column.
``aggregate_comparison``   IQM / mean of the normalised scores with stratified bootstrap intervals,
                           probability of improvement of each reference over every other row, the
                           mean rank and the Friedman test across tasks (autorank) where it applies.

Tables
------
A *layout* lists the table's columns as (task, metric, header) and says whether an ``Avg`` column is
computed, as the paper computes it: the unweighted mean over the layout's tasks of each method's mean
score (Table 1 with QQP/MRPC accuracy, Table 2 with their F1). :data:`LAYOUTS` holds the paper's
tables; ``"primary"`` builds one column per task with the task's primary metric.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from adamixbench.analysis import stats
from adamixbench.plan.suite import is_adamix

__all__ = [
    "Column",
    "Layout",
    "LAYOUTS",
    "record_identity",
    "load_record",
    "load_records",
    "runs_frame",
    "history_frame",
    "summarize",
    "resolve_layout",
    "load_paper",
    "paper_lookup",
    "build_table",
    "table_markdown",
    "table_latex",
    "paired_tests",
    "pairs_table",
    "failed_runs",
    "failure_note",
    "unavailable_scores",
    "unavailable_note",
    "unavailable_seeds_note",
    "aggregated_columns",
    "is_adamix",
    "format_params",
    "read_runs",
    "TASK_NAMES",
    "task_name",
    "NORMALIZATIONS",
    "normalized_scores",
    "aggregate_comparison",
    "critical_difference",
    "aggregate_markdown",
]

DASH = "—"


# --------------------------------------------------------------------------------------------------
# layouts
# --------------------------------------------------------------------------------------------------
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
            cols.append(Column(t, metric, f"{task_name(t)} {_METRIC_HEADERS.get(metric, metric)}"))
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
    shown = ", ".join(f"{c.header} ({_METRIC_HEADERS.get(c.metric, c.metric)})" for c in cols)
    return f"Columns of the {lay.name} layout, {len(cols)} of its {len(lay.columns)} tasks: {shown}" + (
        f"; Avg over these {len(cols)} only, so the paper's Avg is not comparable and not shown."
        if lay.average
        else "."
    )


# --------------------------------------------------------------------------------------------------
# records -> frames
# --------------------------------------------------------------------------------------------------
IDENTITY = ("suite", "experiment", "label", "task", "seed")


def record_identity(rec: Mapping) -> dict:
    """(suite, experiment, label, task, seed) of a run, read from its record (top level, else its embedded
    run spec); a record written without a label (engine run by hand, schema 1) is labelled by its method."""
    spec = rec.get("spec") if isinstance(rec.get("spec"), Mapping) else {}
    ident = {key: rec.get(key, spec.get(key)) for key in IDENTITY}
    if ident["label"] is None:
        ident["label"] = rec.get("method", spec.get("method"))
    return ident


def load_record(path: str | Path, expected: Mapping | None = None, scores_path: str | Path | None = None) -> dict:
    """Read one run record; the run's identity (suite, experiment, label, task, seed) comes from the record,
    never from its path. `expected` is the identity the caller (the pipeline's run matrix) expects at this
    path: an unreadable record becomes a failed run of that identity, and a record of ANOTHER run (a moved or
    copied folder) a failed run that says so, so neither breaks the aggregation nor is silently dropped.
    `scores_path`: the run's scores.json (`python -m adamixbench rescore`, rule score), laid over the
    record's scores (same keys: scores, scores_by_inference)."""
    try:
        rec = json.loads(Path(path).read_text())
        if not isinstance(rec, dict):
            raise ValueError("record is not a JSON object")
    except (OSError, ValueError) as e:
        ident = dict(expected or {"label": f"<unreadable {path}>"})
        rec = {
            "status": "failed",
            "failure_class": "unreadable_record",
            "failure_reason": f"unreadable run record: {type(e).__name__}: {e}",
            "task": ident.get("task"),
            "seed": ident.get("seed"),
            "scores": {},
        }
    else:
        ident = record_identity(rec)
        if expected is not None:
            want = {k: expected.get(k) for k in ("label", "task", "seed")}
            got = {k: ident[k] for k in want}
            if got != want:
                rec = {
                    **rec,
                    "status": "failed",
                    "failure_class": "misplaced_record",
                    "scores": {},
                    "scores_by_inference": {},
                    "failure_reason": f"the record at {path} belongs to run {got}, not to {want} "
                    f"(moved or copied run folder?): delete it and rerun",
                }
                ident = dict(expected)
    rec = dict(rec)
    if scores_path is not None and rec.get("status") == "ok":
        rescored = json.loads(Path(scores_path).read_text())
        rec["scores"] = {**rec.get("scores", {}), **rescored.get("scores", {})}
        by_mode = dict(rec.get("scores_by_inference") or {})
        for mode, scores in rescored.get("scores_by_inference", {}).items():
            by_mode[mode] = {**by_mode.get(mode, {}), **scores}
        if by_mode:
            rec["scores_by_inference"] = by_mode
    rec.update({f"_{key}": ident.get(key) for key in IDENTITY})
    rec["_path"] = str(path)
    return rec


def load_records(
    paths: Iterable[str | Path], expected: Sequence[Mapping] | None = None, score_paths: Iterable[str | Path] = ()
) -> list[dict]:
    """`expected`: one identity per path (same order), as `load_record` takes it. `score_paths`: scores.json
    files (rule score), each laid over the record in the same folder."""
    paths = list(paths)
    if expected is not None and len(expected) != len(paths):
        raise ValueError(f"{len(paths)} record paths but {len(expected)} expected identities")
    scores = {Path(p).parent: p for p in score_paths}
    return [
        load_record(p, None if expected is None else expected[i], scores.get(Path(p).parent))
        for i, p in enumerate(paths)
    ]


def read_runs(path: str | Path) -> pd.DataFrame:
    """``runs.csv`` as :func:`runs_frame` wrote it (empty strings come back as NaN from CSV: restored)."""
    runs = pd.read_csv(path, dtype={"failure_reason": str})
    for col in ("metric", "inference", "failure_reason", "score_source"):
        runs[col] = runs[col].fillna("")
    return runs


def _num(x) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return math.nan
    return v


def runs_frame(records: Sequence[dict], suite: str = "") -> pd.DataFrame:
    """The tidy run table (see the module docstring)."""
    rows = []
    for rec in records:
        ident = {key: rec.get(f"_{key}") for key in IDENTITY} if "_path" in rec else record_identity(rec)
        label, task, seed = ident["label"] or "", ident["task"] or "", ident["seed"]
        status = rec.get("status", "failed")
        if status not in ("ok", "failed"):
            status = "failed"
        params = rec.get("params") or {}
        cost = rec.get("cost") or {}
        prov = rec.get("provenance") or {}
        base = {
            "suite": ident["suite"] or suite,
            "experiment": ident["experiment"] or "",
            "task": task,
            "task_family": rec.get("task_family", ""),
            "method_label": label,
            "method": rec.get("method", label),
            "seed": seed,
            "model": rec.get("model", ""),
            "status": status,
            "failure_class": rec.get("failure_class") or "",
            "failure_reason": rec.get("failure_reason") or "",
            "selection": rec.get("selection", ""),
            "best_epoch": _num(rec.get("best_epoch")),
            "params_trainable": _num(params.get("trainable")),
            "params_inference": _num(params.get("inference")),
            "params_backbone": _num(params.get("backbone")),
            "params_head": _num(params.get("head")),
            "train_time_s": _num(cost.get("train_time_s")),
            "eval_time_s": _num(cost.get("eval_time_s")),
            "train_tokens_per_s": _num(cost.get("train_tokens_per_s")),
            "peak_memory_mb": _num(cost.get("peak_memory_mb")),
            "git_sha": prov.get("git_sha", ""),
            "git_dirty": prov.get("git_dirty", ""),
            "device": prov.get("device", ""),
            "started_at": prov.get("started_at", ""),
            "finished_at": prov.get("finished_at", ""),
            "run_dir": str(Path(rec.get("_path", "")).parent),
        }
        primary = rec.get("primary_metric") or ""
        main_mode = rec.get("inference_mode") or ""
        scores = rec.get("scores") or {}
        if status == "failed" or not scores:
            rows.append(
                {
                    **base,
                    "status": "failed",
                    "failure_reason": base["failure_reason"]
                    or ("no scores in an ok record" if status == "ok" else "unknown"),
                    "inference": main_mode,
                    "score_source": "scores",
                    "row_label": label,
                    "metric": primary,
                    "value": math.nan,
                    "is_primary": True,
                }
            )
            continue
        for metric, value in scores.items():
            rows.append(
                {
                    **base,
                    "inference": main_mode,
                    "score_source": "scores",
                    "row_label": label,
                    "metric": metric,
                    "value": _num(value),
                    "is_primary": metric == primary,
                }
            )
        for mode, mscores in (rec.get("scores_by_inference") or {}).items():
            for metric, value in (mscores or {}).items():
                rows.append(
                    {
                        **base,
                        "inference": mode,
                        "score_source": "scores_by_inference",
                        "row_label": f"{label} @{mode}",
                        "metric": metric,
                        "value": _num(value),
                        "is_primary": metric == primary,
                    }
                )
    cols = [
        "suite",
        "experiment",
        "task",
        "task_family",
        "method_label",
        "method",
        "seed",
        "model",
        "status",
        "failure_class",
        "failure_reason",
        "selection",
        "inference",
        "score_source",
        "row_label",
        "metric",
        "value",
        "is_primary",
        "best_epoch",
        "params_trainable",
        "params_inference",
        "params_backbone",
        "params_head",
        "train_time_s",
        "eval_time_s",
        "train_tokens_per_s",
        "peak_memory_mb",
        "git_sha",
        "git_dirty",
        "device",
        "started_at",
        "finished_at",
        "run_dir",
    ]
    return pd.DataFrame(rows, columns=cols)


def history_frame(records: Sequence[dict]) -> pd.DataFrame:
    """Training curves: one row per (run, history entry, metric); ``metric == "train_loss"`` for the epoch
    loss, ``"loss_curve"`` for the step-level running loss (``step`` set, ``epoch`` NaN) when recorded."""
    rows = []
    for rec in records:
        ident = {key: rec.get(f"_{key}") for key in IDENTITY} if "_path" in rec else record_identity(rec)
        label, task, seed = ident["label"], ident["task"], ident["seed"]
        for h in rec.get("history") or []:
            base = {
                "task": task,
                "method_label": label,
                "seed": seed,
                "status": rec.get("status", ""),
                "epoch": _num(h.get("epoch")),
                "step": _num(h.get("step")),
            }
            if h.get("train_loss") is not None:
                rows.append({**base, "metric": "train_loss", "value": _num(h["train_loss"])})
            for metric, value in (h.get("eval") or {}).items():
                rows.append({**base, "metric": metric, "value": _num(value)})
        # the engine's optional step-level curve: [[step, running mean train loss], ...]
        for point in rec.get("loss_curve") or []:
            if isinstance(point, (list, tuple)) and len(point) == 2:
                rows.append(
                    {
                        "task": task,
                        "method_label": label,
                        "seed": seed,
                        "status": rec.get("status", ""),
                        "epoch": math.nan,
                        "step": _num(point[0]),
                        "metric": "loss_curve",
                        "value": _num(point[1]),
                    }
                )
    return pd.DataFrame(rows, columns=["task", "method_label", "seed", "status", "epoch", "step", "metric", "value"])


# --------------------------------------------------------------------------------------------------
# summaries
# --------------------------------------------------------------------------------------------------
def _run_status(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (row_label, task, seed) with its status (a run is failed if its record says so)."""
    return runs.groupby(["row_label", "task", "seed"], as_index=False)["status"].first()


UNAVAILABLE = "unavailable"


def _finite(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of `frame` whose value is a finite number: the only scores a statistic uses."""
    return frame[np.isfinite(frame["value"].astype(float))]


def unavailable_scores(runs: pd.DataFrame) -> pd.DataFrame:
    """The scores of ``ok`` runs that are not finite numbers (null / NaN / inf in the record, e.g. METEOR
    without Java): *unavailable*. Every statistic leaves them out (like a failed run's, but the run did
    not fail); the tables show them as "unavailable" and the notes name them."""
    ok = runs[(runs["status"] == "ok") & runs["metric"].astype(bool)]
    return ok[~np.isfinite(ok["value"].astype(float))]


def unavailable_seeds_note(unavailable: pd.DataFrame, labels: Sequence[str]) -> str:
    """ "unavailable (non-finite) score left out: seed(s) 3 5 of lora, ..." for the rows of `unavailable`
    (a slice of :func:`unavailable_scores`) of `labels`; empty when there are none."""
    parts = []
    for label in labels:
        seeds = sorted({int(s) for s in unavailable.loc[unavailable["row_label"] == label, "seed"]})
        if seeds:
            parts.append(f"seed(s) {' '.join(map(str, seeds))} of {label}")
    return f"{UNAVAILABLE} (non-finite) score left out: {', '.join(parts)}" if parts else ""


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
    parts = [
        f"{metric} of {', '.join(names[:4])}{f' and {len(names) - 4} more' if len(names) > 4 else ''}"
        for metric, names in hit.items()
    ]
    return (
        f"Unavailable scores (not a finite number in an ok run, e.g. a metric whose tool was missing; left out "
        f"of every statistic): {'; '.join(parts)}."
    )


def summarize(
    runs: pd.DataFrame,
    n_boot: int = stats.DEFAULT_N_BOOT,
    level: float = stats.DEFAULT_LEVEL,
    boot_seed: int = stats.DEFAULT_BOOT_SEED,
) -> pd.DataFrame:
    """Statistics over seeds per (row_label, task, metric), failures counted in ``n_failed``."""
    status = _run_status(runs)
    failed = status[status["status"] == "failed"].groupby(["row_label", "task"]).size()
    total = status.groupby(["row_label", "task"]).size()
    out = []
    ok = runs[(runs["status"] == "ok") & runs["metric"].astype(bool)]
    keys = runs[runs["metric"].astype(bool)][
        ["row_label", "method_label", "task", "metric", "score_source"]
    ].drop_duplicates()
    for _, k in keys.iterrows():
        sel = ok[(ok["row_label"] == k["row_label"]) & (ok["task"] == k["task"]) & (ok["metric"] == k["metric"])]
        n_unavailable = len(sel)
        sel = _finite(sel)  # an unavailable score counts in n_unavailable, in no statistic
        n_unavailable -= len(sel)
        d = stats.describe(sel["value"].tolist(), n_boot=n_boot, level=level, seed=boot_seed)
        out.append(
            {
                "row_label": k["row_label"],
                "method_label": k["method_label"],
                "score_source": k["score_source"],
                "task": k["task"],
                "metric": k["metric"],
                "n_runs": int(total.get((k["row_label"], k["task"]), 0)),
                "n_failed": int(failed.get((k["row_label"], k["task"]), 0)),
                "n_unavailable": n_unavailable,
                **d,
                "seeds": " ".join(str(int(s)) for s in sorted(sel["seed"].dropna())),
                "params_inference": float(sel["params_inference"].mean()) if len(sel) else math.nan,
                "params_trainable": float(sel["params_trainable"].mean()) if len(sel) else math.nan,
                "train_time_s": float(sel["train_time_s"].mean()) if len(sel) else math.nan,
            }
        )
    cols = [
        "row_label",
        "method_label",
        "score_source",
        "task",
        "metric",
        "n_runs",
        "n_failed",
        "n_unavailable",
        "n",
        "mean",
        "std",
        "median",
        "min",
        "max",
        "ci_low",
        "ci_high",
        "seeds",
        "params_inference",
        "params_trainable",
        "train_time_s",
    ]
    return pd.DataFrame(out, columns=cols)


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
# tables
# --------------------------------------------------------------------------------------------------
def format_params(n: float) -> str:
    if n is None or not np.isfinite(n):
        return DASH
    if n >= 1e9:
        return f"{n / 1e9:.2f}B"
    if n >= 1e6:
        return f"{n / 1e6:.2f}M"
    if n >= 1e3:
        return f"{n / 1e3:.1f}K"
    return f"{int(n)}"


def _fmt(x: float, digits: int) -> str:
    return DASH if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def _digits(metric: str) -> int:
    return 2 if metric in ("nist", "cider", "ter") else 1


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
    status = _run_status(runs)
    unavailable = unavailable_scores(runs)
    for label in row_order:
        disp = {"Method": label}
        means, complete = [], True
        lab_sum = summary[summary["row_label"] == label]
        for col in layout.columns:
            s = lab_sum[(lab_sum["task"] == col.task) & (lab_sum["metric"] == col.metric)]
            st = status[(status["row_label"] == label) & (status["task"] == col.task)]
            n_runs, n_failed = len(st), int((st["status"] == "failed").sum())
            un = unavailable[
                (unavailable["row_label"] == label)
                & (unavailable["task"] == col.task)
                & (unavailable["metric"] == col.metric)
            ]
            n_unavailable = int(un["seed"].nunique())
            rec = {
                "row_label": label,
                "task": col.task,
                "metric": col.metric,
                "header": col.header,
                "n_runs": n_runs,
                "n_failed": n_failed,
                "n_unavailable": n_unavailable,
                "n": 0,
                "mean": math.nan,
                "std": math.nan,
                "median": math.nan,
                "ci_low": math.nan,
                "ci_high": math.nan,
            }
            if len(s):
                r = s.iloc[0]
                rec.update({k: r[k] for k in ("n", "mean", "std", "median", "ci_low", "ci_high")})
            p = paper.get((label, col.task, col.metric), math.nan)
            rec["paper"] = p
            rec["delta"] = rec["mean"] - p if np.isfinite(p) else math.nan
            long_rows.append(rec)
            dg = _digits(col.metric)
            if n_runs == 0:
                cell = "not run"
                complete = False
            elif rec["n"] == 0 and n_unavailable:
                cell = f"{UNAVAILABLE} ({n_unavailable}/{n_runs})"
                if n_failed:
                    cell += f" ({n_failed}/{n_runs} failed)"
                complete = False
            elif rec["n"] == 0:
                cell = f"failed ({n_failed}/{n_runs})"
                complete = False
            else:
                cell = f"{_fmt(rec['mean'], dg)} ± {_fmt(rec['std'], dg)}"
                if n_failed:
                    cell += f" ({n_failed}/{n_runs} failed)"
                if n_unavailable:
                    cell += f" ({n_unavailable}/{n_runs} {UNAVAILABLE})"
                means.append(rec["mean"])
            if np.isfinite(p):
                cell += f" [paper {p:.{dg}f}, Δ {_fmt(rec['delta'], dg)}]"
            disp[col.header] = cell
        if layout.average:
            avg = float(np.mean(means)) if complete and means else math.nan
            p = paper.get((label, "avg", "avg"), math.nan)
            long_rows.append(
                {
                    "row_label": label,
                    "task": "avg",
                    "metric": "avg",
                    "header": "Avg",
                    "n_runs": math.nan,
                    "n_failed": math.nan,
                    "n_unavailable": math.nan,
                    "n": math.nan,
                    "mean": avg,
                    "std": math.nan,
                    "median": math.nan,
                    "ci_low": math.nan,
                    "ci_high": math.nan,
                    "paper": p,
                    "delta": avg - p if np.isfinite(p) and np.isfinite(avg) else math.nan,
                }
            )
            cell = _fmt(avg, 1) if np.isfinite(avg) else f"{DASH} (incomplete)"
            if np.isfinite(p):
                cell += f" [paper {p:.1f}, Δ {_fmt(avg - p, 1)}]"
            disp["Avg"] = cell
        lab_runs = runs[(runs["row_label"] == label) & (runs["status"] == "ok")]
        disp["#Param"] = format_params(lab_runs["params_inference"].mean()) if len(lab_runs) else DASH
        disp["#Trainable"] = format_params(lab_runs["params_trainable"].mean()) if len(lab_runs) else DASH
        disp_rows.append(disp)
    display = pd.DataFrame(disp_rows)
    return display, pd.DataFrame(long_rows)


def table_markdown(display: pd.DataFrame, caption: str = "") -> str:
    cols = list(display.columns)
    lines = []
    if caption:
        lines += [caption, ""]
    lines.append("| " + " | ".join(cols) + " |")
    lines.append("|" + "|".join("---" for _ in cols) + "|")
    for _, r in display.iterrows():
        lines.append("| " + " | ".join(str(r[c]).replace("|", "\\|") for c in cols) + " |")
    return "\n".join(lines) + "\n"


_TEX_ESC = {
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "\\": r"\textbackslash{}",
}


def _tex(s: str) -> str:
    s = "".join(_TEX_ESC.get(ch, ch) for ch in str(s))
    return s.replace("±", r"$\pm$").replace("Δ", r"$\Delta$").replace("—", "--")


def table_latex(display: pd.DataFrame, caption: str = "", label: str = "") -> str:
    cols = list(display.columns)
    out = [
        r"\begin{table}[t]",
        r"\centering",
        r"\small",
        r"\begin{tabular}{l" + "r" * (len(cols) - 1) + "}",
        r"\toprule",
        " & ".join(_tex(c) for c in cols) + r" \\",
        r"\midrule",
    ]
    for _, r in display.iterrows():
        out.append(" & ".join(_tex(r[c]) for c in cols) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}"]
    if caption:
        out.append(r"\caption{" + _tex(caption) + "}")
    if label:
        out.append(r"\label{" + label + "}")
    out.append(r"\end{table}")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------------------
# paired tests, failures
# --------------------------------------------------------------------------------------------------
def _sign(metric: str) -> float:
    """+1 where higher is better, -1 where lower is better: sign * value is always "higher = better"."""
    return -1.0 if metric in LOWER_IS_BETTER else 1.0


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
        sel = _finite(ok[(ok["task"] == col.task) & (ok["metric"] == col.metric)])
        un = unavailable[(unavailable["task"] == col.task) & (unavailable["metric"] == col.metric)]
        by_label = {
            lab: dict(zip(g["seed"].astype(int), g["value"].astype(float))) for lab, g in sel.groupby("row_label")
        }
        for ref in references:
            for other in others:
                if other == ref:
                    continue
                a, b = by_label.get(ref, {}), by_label.get(other, {})
                if not a and not b:
                    continue
                res = stats.paired_test(a, b)
                note = "; ".join(x for x in (res["note"], unavailable_seeds_note(un, [ref, other])) if x)
                out.append(
                    {
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
                )
                sign = _sign(col.metric)
                samples.append(([sign * v for v in a.values()], [sign * v for v in b.values()]))
    cols = [
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
    tests = pd.DataFrame(out, columns=[c for c in cols if c not in ("t_p_holm", "wilcoxon_p_holm", "aso_eps")])
    tests["t_p_holm"] = stats.holm(tests["t_p"].to_numpy(dtype=float))
    tests["wilcoxon_p_holm"] = stats.holm(tests["wilcoxon_p"].to_numpy(dtype=float))
    family = sum(1 for x, y in samples if len(x) >= 2 and len(y) >= 2)
    tests["aso_eps"] = [
        stats.aso(x, y, num_comparisons=family, n_boot=aso_boot, seed=seed) if aso_boot else math.nan
        for x, y in samples
    ]
    return tests[cols]


def paired_markdown(tests: pd.DataFrame) -> str:
    def p(x):
        return stats.NA if x is None or not np.isfinite(x) else (f"{x:.3g}" if x >= 1e-3 else f"{x:.1e}")

    disp = pd.DataFrame(
        {
            "Task": tests["task"],
            "Metric": tests["metric"],
            "AdaMix / reference": tests["reference"],
            "vs": tests["baseline"],
            "n": tests["n"],
            "mean diff": [_fmt(x, 2) for x in tests["mean_diff"]],
            "t-test p": [p(x) for x in tests["t_p"]],
            "t-test p (Holm)": [p(x) for x in tests["t_p_holm"]],
            "Wilcoxon p": [p(x) for x in tests["wilcoxon_p"]],
            "Wilcoxon p (Holm)": [p(x) for x in tests["wilcoxon_p_holm"]],
            "ASO ε_min": [_fmt(x, 3) for x in tests["aso_eps"]],
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


def failed_runs(runs: pd.DataFrame) -> pd.DataFrame:
    f = runs[runs["status"] == "failed"]
    return (
        f[["task", "method_label", "seed", "failure_class", "failure_reason", "run_dir"]]
        .drop_duplicates(subset=["task", "method_label", "seed"])
        .reset_index(drop=True)
    )


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
    parts = [
        f"{kind}: {why} ({', '.join(names[:4])}{f' and {len(names) - 4} more' if len(names) > 4 else ''})"
        for (kind, why), names in hit.items()
    ]
    return f"Failed runs: {'; '.join(parts)}. Full reasons: failed_runs.md."


# --------------------------------------------------------------------------------------------------
# "X vs AdaMix(X)": each underlying method against its mixture, paired by seed
# --------------------------------------------------------------------------------------------------
def pairs_table(runs: pd.DataFrame, layout: Layout, pairs: Mapping[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(display, long) with one row per (pair, layout column): X and AdaMix(X) as mean ± std over seeds,
    the paired difference AdaMix(X) - X over the seeds where both are ok (mean, t-test p, exact Wilcoxon
    p for n >= 5, as `paired_tests`; Holm-adjusted over the table's pairs as one family), and both rows'
    inference / trainable parameters."""
    ok = runs[runs["status"] == "ok"]
    status = _run_status(runs)
    unavailable = unavailable_scores(runs)
    long_rows, disp_rows = [], []
    for col in layout.columns:
        sel = _finite(ok[(ok["task"] == col.task) & (ok["metric"] == col.metric)])
        un = unavailable[(unavailable["task"] == col.task) & (unavailable["metric"] == col.metric)]
        by_label = {
            lab: dict(zip(g["seed"].astype(int), g["value"].astype(float))) for lab, g in sel.groupby("row_label")
        }
        dg = _digits(col.metric)
        for base, mix in pairs.items():
            rec = {"task": col.task, "metric": col.metric, "header": col.header, "base": base, "adamix": mix}
            cells = {}
            for role, label in (("base", base), ("adamix", mix)):
                values = np.array(list(by_label.get(label, {}).values()), dtype=float)
                st = status[(status["row_label"] == label) & (status["task"] == col.task)]
                n_failed = int((st["status"] == "failed").sum())
                n_unavailable = int(un.loc[un["row_label"] == label, "seed"].nunique())
                lab_runs = ok[ok["row_label"] == label]
                rec.update(
                    {
                        f"{role}_n": len(values),
                        f"{role}_failed": n_failed,
                        f"{role}_unavailable": n_unavailable,
                        f"{role}_mean": float(values.mean()) if len(values) else math.nan,
                        f"{role}_std": float(values.std(ddof=1)) if len(values) >= 2 else math.nan,
                        f"{role}_params_inference": lab_runs["params_inference"].mean() if len(lab_runs) else math.nan,
                        f"{role}_params_trainable": lab_runs["params_trainable"].mean() if len(lab_runs) else math.nan,
                    }
                )
                cell = (
                    f"{_fmt(rec[f'{role}_mean'], dg)} ± {_fmt(rec[f'{role}_std'], dg)}"
                    if len(values)
                    else (
                        "not run"
                        if len(st) == 0
                        else f"{UNAVAILABLE} ({n_unavailable}/{len(st)})"
                        if n_unavailable
                        else f"failed ({n_failed}/{len(st)})"
                    )
                )
                if n_failed and (len(values) or n_unavailable):
                    cell += f" ({n_failed}/{len(st)} failed)"
                if len(values) and n_unavailable:
                    cell += f" ({n_unavailable}/{len(st)} {UNAVAILABLE})"
                cells[role] = cell
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
            long_rows.append(rec)
            disp_rows.append(
                {
                    "X": base,
                    "Column": col.header,
                    "X score": cells["base"],
                    "AdaMix(X)": mix,
                    "AdaMix(X) score": cells["adamix"],
                    "Δ (AdaMix(X) - X)": _fmt(res["mean_diff"], 2),
                    "n": res["n"],
                    "t-test p": _p(res["t_p"]),
                    "Wilcoxon p": _p(res["wilcoxon_p"]),
                    "#Param X": format_params(rec["base_params_inference"]),
                    "#Param AdaMix(X)": format_params(rec["adamix_params_inference"]),
                    "#Trainable AdaMix(X)": format_params(rec["adamix_params_trainable"]),
                }
            )
    display, long = pd.DataFrame(disp_rows), pd.DataFrame(long_rows)
    if len(long):
        for test, header in (("t_p", "t-test p"), ("wilcoxon_p", "Wilcoxon p")):
            long[f"{test}_holm"] = stats.holm(long[test].to_numpy(dtype=float))
            display.insert(
                display.columns.get_loc(header) + 1, f"{header} (Holm)", [_p(x) for x in long[f"{test}_holm"]]
            )
    return display, long


def _p(x: float) -> str:
    return stats.NA if x is None or not np.isfinite(x) else (f"{x:.3g}" if x >= 1e-3 else f"{x:.1e}")


# aggregates across tasks (rliable) and ranks across tasks (autorank)
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
    finite = _finite(ok)
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


def aggregated_columns(
    runs: pd.DataFrame, layout: Layout, rows: Sequence[str], normalization: str = "minmax"
) -> tuple[list[Column], dict[str, str]]:
    """(the layout's columns the aggregates use, {header: why a column is not used}). A column whose
    scores are unavailable (non-finite, :func:`unavailable_scores`) in every ok run of the rows (for
    ``baseline:<label>``: in every run of <label>) cannot be normalised: it is left out of the aggregates,
    ranks and profiles, never scored 1.0 for every row, and the rows' notes say so."""
    _, used, dropped = _normalization(runs, layout, rows, normalization)
    return used, dropped


def normalized_scores(
    runs: pd.DataFrame, layout: Layout, rows: Sequence[str], normalization: str = "minmax"
) -> tuple[dict[str, np.ndarray], dict[str, list[int]], dict[str, str]]:
    """({row: seeds x columns matrix}, {row: seeds}, {row: why it is left out}) of normalised scores,
    higher = better, over the columns of :func:`aggregated_columns`. A row keeps the seeds whose runs are
    ok with a finite score in EVERY column (a seed with a failed or missing run, or an unavailable score,
    is left out of the aggregate and counted in the note); a row without such a seed is left out with the
    reason."""
    scale, used, dropped = _normalization(runs, layout, rows, normalization)
    ok = _finite(runs[(runs["status"] == "ok") & (runs["row_label"].isin(rows))])
    unavailable = unavailable_scores(runs[runs["row_label"].isin(rows)])
    cols = [(c.task, c.metric) for c in used]
    header = {(c.task, c.metric): c.header for c in used}
    not_used = "; ".join(f"{h}: {why}, not aggregated" for h, why in dropped.items())

    def norm(task, metric, x):
        if normalization == "minmax":
            lo, hi = scale[(task, metric)]
            if not hi > lo:
                return 1.0  # every run of the table scores the same: all are the best
            z = (x - lo) / (hi - lo)
            return 1.0 - z if metric in LOWER_IS_BETTER else z
        ref = scale[(task, metric)]
        return ref / x if metric in LOWER_IS_BETTER else x / ref

    matrices, seeds_of, notes = {}, {}, {}
    statuses = _run_status(runs)
    for row in rows:
        r = ok[ok["row_label"] == row]
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
        all_seeds = set(statuses[(statuses["row_label"] == row) & statuses["task"].isin([t for t, _ in cols])]["seed"])
        un = unavailable[unavailable["row_label"] == row]
        gone: dict[int, list[str]] = {}  # seed -> the columns where its score is unavailable
        for t, m, s in zip(un["task"], un["metric"], un["seed"]):
            if (t, m) in header and int(s) not in seeds:
                gone.setdefault(int(s), []).append(header[(t, m)])
        why = ", ".join(f"seed {s} in {', '.join(h)}" for s, h in sorted(gone.items()))
        parts = [not_used] if not_used else []
        if not cols:
            notes[row] = "; ".join([*parts, "left out: no column to aggregate"])
            continue
        if not seeds:
            parts.append(
                f"left out: no seed with an ok run and a finite score in every column ({UNAVAILABLE}: {why})"
                if gone
                else "left out: no seed with an ok run in every column"
            )
            notes[row] = "; ".join(parts)
            continue
        matrices[row] = np.array([[norm(t, m, per_col[j][s]) for j, (t, m) in enumerate(cols)] for s in seeds])
        seeds_of[row] = seeds
        n_failed = len(all_seeds) - len(seeds) - len(gone)
        if n_failed > 0:
            parts.append(f"{n_failed} seed(s) left out (a failed or missing run in some column)")
        if gone:
            parts.append(f"{len(gone)} seed(s) left out ({UNAVAILABLE}, non-finite score: {why})")
        if parts:
            notes[row] = "; ".join(parts)
    return matrices, seeds_of, notes


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


def aggregate_comparison(
    runs: pd.DataFrame,
    layout: Layout,
    rows: Sequence[str],
    references: Sequence[str],
    normalization: str = "minmax",
    n_boot: int = stats.DEFAULT_N_BOOT,
    seed: int = stats.DEFAULT_BOOT_SEED,
) -> pd.DataFrame:
    """One row per table row (``kind == "aggregate"``: IQM and mean of its normalised scores with
    stratified bootstrap 95% intervals, mean rank across the columns from autorank where it applies) and
    one per (reference, other row) (``kind == "probability_of_improvement"``: P(reference > other) with
    its interval)."""
    matrices, seeds_of, notes = normalized_scores(runs, layout, rows, normalization)
    used, _ = aggregated_columns(runs, layout, rows, normalization)
    ranks, cd_note = {}, ""
    cd, why = critical_difference(runs, layout, rows, normalization)
    if cd is not None:
        ranks = dict(cd.rankdf["meanrank"])
        friedman = f"Friedman p = {cd.pvalue:.3g}, Nemenyi CD = {cd.cd:.2f}" if cd.cd is not None else ""
        cd_note = "; ".join(x for x in (friedman, why) if x)  # why: the columns / rows left out of the ranks
    elif why:
        cd_note = f"critical difference: {why}"
    out = []
    for row in rows:
        base = {
            "kind": "aggregate",
            "row": row,
            "vs": "",
            "normalization": normalization,
            "n_tasks": len(used),
            "n_seeds": len(seeds_of.get(row, [])),
            "seeds": " ".join(map(str, seeds_of.get(row, []))),
            "note": notes.get(row, ""),
        }
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
                    "normalization": normalization,
                    "n_tasks": len(used),
                    "n_seeds": min(len(seeds_of[ref]), len(seeds_of[other])),
                    "seeds": "",
                    "note": "",
                    **res,
                }
            )
    cols = [
        "kind",
        "row",
        "vs",
        "normalization",
        "n_tasks",
        "n_seeds",
        "seeds",
        "iqm",
        "iqm_low",
        "iqm_high",
        "mean",
        "mean_low",
        "mean_high",
        "mean_rank",
        "p",
        "p_low",
        "p_high",
        "note",
    ]
    df = pd.DataFrame(out).reindex(columns=cols)
    df.attrs["critical_difference"] = cd_note
    return df


def aggregate_markdown(agg_df: pd.DataFrame, caption: str = "") -> str:
    """The aggregate comparison as Markdown: the aggregates, then the probabilities of improvement."""

    def ci(x, lo, hi):
        return DASH if not np.isfinite(x) else (f"{x:.3f} [{lo:.3f}, {hi:.3f}]" if np.isfinite(lo) else f"{x:.3f}")

    a = agg_df[agg_df["kind"] == "aggregate"]
    p = agg_df[agg_df["kind"] == "probability_of_improvement"]
    parts = [
        table_markdown(
            pd.DataFrame(
                {
                    "Method": a["row"],
                    "seeds": a["n_seeds"],
                    "tasks": a["n_tasks"],
                    "IQM [95% CI]": [ci(*v) for v in zip(a["iqm"], a["iqm_low"], a["iqm_high"])],
                    "Mean [95% CI]": [ci(*v) for v in zip(a["mean"], a["mean_low"], a["mean_high"])],
                    "mean rank": [_fmt(x, 2) for x in a["mean_rank"]],
                    "note": a["note"],
                }
            ),
            caption,
        )
    ]
    if len(p):
        parts.append(
            table_markdown(
                pd.DataFrame(
                    {
                        "Reference": p["row"],
                        "vs": p["vs"],
                        "P(reference > other) [95% CI]": [ci(*v) for v in zip(p["p"], p["p_low"], p["p_high"])],
                    }
                ),
                "Probability of improvement (rliable): the chance that a run of the reference beats a run of the other "
                "row on a randomly chosen column, ties counted half; 0.5 = no difference.",
            )
        )
    if agg_df.attrs.get("critical_difference"):
        parts.append(agg_df.attrs["critical_difference"] + "\n")
    return "\n".join(parts)
