"""Run records -> tidy frames: the first stage of the analysis.

A run record is the ``metrics.json`` dict of docs/CONTRACTS.md. This module reads and checks them and
turns them into the frames every later stage works on:

``load_record(s)``           read records; the run's identity comes from the record, never from its path.
                             An unreadable record, or one of another run (a moved or copied folder),
                             becomes a failed run of the expected identity that says so.
``runs_frame(records)``      one row per (run, score): the tidy ``runs.csv``. A failed run keeps one row
                             (its primary metric, value NaN, ``status == "failed"``, the reason), so
                             failures are counted and listed, never dropped.
                             Scores of ``scores_by_inference`` (AdaMix evaluated under several
                             inference modes) become extra rows with ``score_source ==
                             "scores_by_inference"`` and ``row_label == "<label> @<mode>"``.
                             A score of an ``ok`` run that is not a finite number (null / NaN / inf in
                             the record, e.g. METEOR without Java) keeps its row with value NaN/inf:
                             it is *unavailable* (``unavailable_scores``), shown as such in the tables
                             and left out of every statistic (``finite_scores``), with a note naming it.
``history_frame(records)``   one row per (run, epoch, eval metric): training curves.
``failed_runs(runs)``        one row per failed run with its class and reason.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from adamixbench.plan.budget import split_label

__all__ = [
    "IDENTITY",
    "RUN_COLUMNS",
    "UNAVAILABLE",
    "record_identity",
    "load_record",
    "load_records",
    "read_runs",
    "runs_frame",
    "history_frame",
    "run_status",
    "finite_scores",
    "unavailable_scores",
    "unavailable_seeds_note",
    "failed_runs",
]

IDENTITY = ("suite", "experiment", "label", "task", "seed")
UNAVAILABLE = "unavailable"


# --------------------------------------------------------------------------------------------------
# reading and checking records
# --------------------------------------------------------------------------------------------------
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


def _identity(rec: Mapping) -> dict:
    """The identity `load_record` stored in a loaded record, else the record's own (a record not loaded
    from a file)."""
    return {key: rec.get(f"_{key}") for key in IDENTITY} if "_path" in rec else record_identity(rec)


def _num(x) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return math.nan
    return v


# --------------------------------------------------------------------------------------------------
# records -> frames
# --------------------------------------------------------------------------------------------------
#: the columns of ``runs.csv`` (:func:`runs_frame`), in order.
RUN_COLUMNS = [
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
    "data_source",
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
    "budget",
    "budget_unit",
    "budget_value",
    "budget_steps",
    "base_label",
    "optimizer_steps",
    "epochs_trained",
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


def _run_fields(rec: Mapping, suite: str) -> dict:
    """One record -> the columns its run's rows share: identity, status, parameters, cost, provenance."""
    ident = _identity(rec)
    label = ident["label"] or ""
    status = rec.get("status", "failed")
    if status not in ("ok", "failed"):
        status = "failed"
    params = rec.get("params") or {}
    cost = rec.get("cost") or {}
    prov = rec.get("provenance") or {}
    return {
        "suite": ident["suite"] or suite,
        "experiment": ident["experiment"] or "",
        "task": ident["task"] or "",
        "task_family": rec.get("task_family", ""),
        "method_label": label,
        "method": rec.get("method", label),
        "seed": ident["seed"],
        "model": rec.get("model", ""),
        "status": status,
        "failure_class": rec.get("failure_class") or "",
        "failure_reason": rec.get("failure_reason") or "",
        "selection": rec.get("selection", ""),
        "data_source": (prov.get("data") or {}).get("source") or "",  # paper | hub | local; "" = not recorded
        "best_epoch": _num(rec.get("best_epoch")),
        "params_trainable": _num(params.get("trainable")),
        "params_inference": _num(params.get("inference")),
        "params_backbone": _num(params.get("backbone")),
        "params_head": _num(params.get("head")),
        **_budget_fields(rec, label),
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


def _budget_fields(rec: Mapping, label: str) -> dict:
    """The run's training budget (adamixbench/plan/budget.py): its key, unit and value (from the label
    ``<base>@<unit>=<value>``, so a failed or unreadable record of a budgeted run keeps its budget), its
    resolved steps (spec ``budget_steps``), and what the run trained: ``optimizer_steps`` (the record's
    ``schedule.total_steps``) and ``epochs_trained`` (those steps over ``schedule.steps_per_epoch``; a record
    without it: the spec's epochs when no ``max_steps`` cut the run short)."""
    base, key = split_label(label)
    spec = rec.get("spec") if isinstance(rec.get("spec"), Mapping) else {}
    schedule = rec.get("schedule") if isinstance(rec.get("schedule"), Mapping) else {}
    steps, per_epoch = _num(schedule.get("total_steps")), _num(schedule.get("steps_per_epoch"))
    if np.isfinite(per_epoch) and per_epoch > 0:
        epochs = steps / per_epoch
    else:
        cap = _num(spec.get("max_steps"))
        epochs = _num(spec.get("epochs")) if not (np.isfinite(cap) and steps >= cap) else math.nan
    return {
        "budget": key or "",
        "budget_unit": key.partition("=")[0] if key else "",
        "budget_value": float(key.partition("=")[2]) if key else math.nan,
        "budget_steps": _num(spec.get("budget_steps")),
        "base_label": base,
        "optimizer_steps": steps,
        "epochs_trained": epochs if np.isfinite(steps) else math.nan,
    }


def _score_rows(rec: Mapping, run: dict) -> list[dict]:
    """One run -> its score rows: one per score (and per inference mode's score), or, for a failed run or
    an ok run without scores, one failed row of its primary metric with value NaN."""
    label, status = run["method_label"], run["status"]
    primary = rec.get("primary_metric") or ""
    main_mode = rec.get("inference_mode") or ""
    scores = rec.get("scores") or {}
    if status == "failed" or not scores:
        return [
            {
                **run,
                "status": "failed",
                "failure_reason": run["failure_reason"]
                or ("no scores in an ok record" if status == "ok" else "unknown"),
                "inference": main_mode,
                "score_source": "scores",
                "row_label": label,
                "metric": primary,
                "value": math.nan,
                "is_primary": True,
            }
        ]
    rows = [
        {
            **run,
            "inference": main_mode,
            "score_source": "scores",
            "row_label": label,
            "metric": metric,
            "value": _num(value),
            "is_primary": metric == primary,
        }
        for metric, value in scores.items()
    ]
    for mode, mscores in (rec.get("scores_by_inference") or {}).items():
        for metric, value in (mscores or {}).items():
            rows.append(
                {
                    **run,
                    "inference": mode,
                    "score_source": "scores_by_inference",
                    "row_label": f"{label} @{mode}",
                    "metric": metric,
                    "value": _num(value),
                    "is_primary": metric == primary,
                }
            )
    return rows


def runs_frame(records: Sequence[dict], suite: str = "") -> pd.DataFrame:
    """The tidy run table (see the module docstring): :data:`RUN_COLUMNS`, one row per (run, score)."""
    rows = [row for rec in records for row in _score_rows(rec, _run_fields(rec, suite))]
    return pd.DataFrame(rows, columns=RUN_COLUMNS)


def read_runs(path: str | Path) -> pd.DataFrame:
    """``runs.csv`` as :func:`runs_frame` wrote it (empty strings come back as NaN from CSV: restored)."""
    runs = pd.read_csv(path, dtype={"failure_reason": str})
    for col in ("metric", "inference", "failure_reason", "score_source"):
        runs[col] = runs[col].fillna("")
    runs["data_source"] = runs["data_source"].fillna("") if "data_source" in runs else ""  # older runs.csv: none
    for col in ("budget", "budget_unit"):  # older runs.csv: no budget columns
        runs[col] = runs[col].fillna("") if col in runs else ""
    if "base_label" not in runs:
        runs["base_label"] = runs["method_label"]
    return runs


def history_frame(records: Sequence[dict]) -> pd.DataFrame:
    """Training curves: one row per (run, history entry, metric); ``metric == "train_loss"`` for the epoch
    loss, ``"loss_curve"`` for the step-level running loss (``step`` set, ``epoch`` NaN) when recorded."""
    rows = []
    for rec in records:
        ident = _identity(rec)
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
# run status, failed runs, unavailable scores
# --------------------------------------------------------------------------------------------------
def run_status(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (row_label, task, seed) with its status (a run is failed if its record says so)."""
    return runs.groupby(["row_label", "task", "seed"], as_index=False)["status"].first()


def failed_runs(runs: pd.DataFrame) -> pd.DataFrame:
    f = runs[runs["status"] == "failed"]
    return (
        f[["task", "method_label", "seed", "failure_class", "failure_reason", "run_dir"]]
        .drop_duplicates(subset=["task", "method_label", "seed"])
        .reset_index(drop=True)
    )


def finite_scores(frame: pd.DataFrame) -> pd.DataFrame:
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
