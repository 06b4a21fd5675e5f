"""GLUE and few-shot classification metrics in paper scale (percent).

Definitions are GLUE's: scikit-learn accuracy, binary F1 of the positive class (MRPC "equivalent", QQP
"duplicate"), Matthews correlation; scipy Pearson and Spearman. Values are multiplied by 100 because run
records and the paper's tables report percent (docs/CONTRACTS.md). The hub's `evaluate.load("glue")` is not
used (its script lives on the hub and fails offline): tests/engine/test_glue_metrics_paper.py runs the `glue`
module the paper's code loaded (`datasets.load_metric("glue", task)`, vendored in tests/resources/) and checks
these values equal to it on every GLUE task (STS-B to 1e-4 points: that module correlates in float32).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

#: metric name -> fn(predictions, references); GLUE's definitions.
METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
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


def compute_metrics(
    metrics: Sequence[str], predictions: Sequence, references: Sequence, *, regression: bool
) -> dict[str, float]:
    """The named `metrics` in percent, e.g. `{"accuracy": 91.2, "f1": 93.8}` for MRPC's pair.

    Classification takes class ids; regression (STS-B) takes float scores. Pearson/Spearman are NaN when
    either side is constant (correlation undefined), which the caller should treat as a failed evaluation.
    Which metrics a task reports is the task's fact (`adamixbench.tasks.classification.TASK_METRICS`).
    """
    unknown = [name for name in metrics if name not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; known: {', '.join(METRICS)}")
    preds = _as_vector(predictions, "predictions", regression)
    refs = _as_vector(references, "references", regression)
    if len(preds) != len(refs):
        raise ValueError(f"{len(preds)} predictions for {len(refs)} references")
    if len(refs) == 0:
        raise ValueError("cannot score an empty evaluation set")
    return {name: 100.0 * float(METRICS[name](preds, refs)) for name in metrics}
