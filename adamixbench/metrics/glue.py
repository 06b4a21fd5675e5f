"""GLUE and few-shot classification metrics in paper scale (percent).

Definitions are GLUE's: scikit-learn accuracy, binary F1 of the positive class (MRPC "equivalent", QQP
"duplicate"), Matthews correlation; scipy Pearson and Spearman. Values are multiplied by 100 because run
records and the paper's tables report percent (docs/CONTRACTS.md). The hub's `evaluate.load("glue")` is not
used: its script lives on the hub and fails offline, and it computes the same scikit-learn / scipy values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

from adamixbench.tasks.glue import GLUE_TASKS

#: metric names per task: the GLUE tasks' own, plus the few-shot sentence tasks (accuracy, as in LM-BFF).
TASK_METRICS: dict[str, tuple[str, ...]] = {
    **{name: spec.metrics for name, spec in GLUE_TASKS.items()},
    "mpqa": ("accuracy",),
    "subj": ("accuracy",),
}
REGRESSION_TASKS = frozenset(name for name, spec in GLUE_TASKS.items() if spec.is_regression)

_METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "accuracy": lambda p, r: accuracy_score(r, p),
    "f1": lambda p, r: f1_score(r, p),
    "matthews_correlation": lambda p, r: matthews_corrcoef(r, p),
    "pearson": lambda p, r: pearsonr(p, r)[0],
    "spearmanr": lambda p, r: spearmanr(p, r)[0],
}


def _as_vector(values: Sequence, name: str, regression: bool) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(
            f"{name} must be one value per example (1-D), got shape {array.shape}"
            + ("" if regression else "; pass class ids, e.g. logits.argmax(-1)")
        )
    if regression:
        return array.astype(np.float64)
    if array.dtype.kind == "f" and not np.all(np.mod(array, 1) == 0):
        raise ValueError(f"{name} must be integer class ids for a classification task, got non-integer floats")
    return array.astype(np.int64)


def compute_glue_metrics(task: str, predictions: Sequence, references: Sequence) -> dict[str, float]:
    """All metrics of `task` in percent, e.g. `{"accuracy": 91.2, "f1": 93.8}` for MRPC.

    Classification tasks take class ids; STS-B takes float scores. Pearson/Spearman are NaN when either
    side is constant (correlation undefined), which the caller should treat as a failed evaluation.
    """
    if task not in TASK_METRICS:
        raise ValueError(f"no metrics defined for task {task!r}; known tasks: {', '.join(TASK_METRICS)}")
    regression = task in REGRESSION_TASKS
    preds = _as_vector(predictions, "predictions", regression)
    refs = _as_vector(references, "references", regression)
    if len(preds) != len(refs):
        raise ValueError(f"{len(preds)} predictions for {len(refs)} references")
    if len(refs) == 0:
        raise ValueError("cannot score an empty evaluation set")
    return {name: 100.0 * float(_METRICS[name](preds, refs)) for name in TASK_METRICS[task]}
