"""GLUE metrics: hand-computed values, agreement with scikit-learn/scipy."""

import math

import numpy as np
import pytest
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

from adamixbench.tasks.classification import TASK_METRICS, compute_glue_metrics


def _pairs(tp, fn, fp, tn):
    """references, predictions with the given confusion-matrix counts (positive class = 1)."""
    refs = [1] * tp + [1] * fn + [0] * fp + [0] * tn
    preds = [1] * tp + [0] * fn + [1] * fp + [0] * tn
    return refs, preds


def test_mcc_hand_computed():
    refs, preds = _pairs(tp=3, fn=1, fp=1, tn=3)  # (3*3 - 1*1) / sqrt(4*4*4*4) = 8/16
    assert compute_glue_metrics("cola", preds, refs) == {"matthews_correlation": pytest.approx(50.0)}
    refs, preds = _pairs(tp=6, fn=2, fp=1, tn=3)  # (6*3 - 1*2) / sqrt(7*8*4*5) = 16/sqrt(1120)
    assert compute_glue_metrics("cola", preds, refs)["matthews_correlation"] == pytest.approx(
        100 * 16 / math.sqrt(1120)
    )


def test_mcc_of_a_constant_predictor_is_zero():
    assert compute_glue_metrics("cola", [1, 1, 1, 1], [1, 0, 1, 0]) == {"matthews_correlation": 0.0}


def test_accuracy_and_f1_hand_computed():
    # TP=2, FP=1, FN=0, TN=1: accuracy 3/4; precision 2/3, recall 1 -> F1 = 0.8
    assert compute_glue_metrics("mrpc", [1, 0, 1, 1], [1, 0, 0, 1]) == pytest.approx({"accuracy": 75.0, "f1": 80.0})
    # F1 is the positive class's: all-negative predictions give F1 0 while accuracy is 50
    assert compute_glue_metrics("qqp", [0, 0, 0, 0], [1, 1, 0, 0]) == pytest.approx({"accuracy": 50.0, "f1": 0.0})
    assert compute_glue_metrics("mnli", [0, 1, 2, 2], [0, 1, 2, 0]) == pytest.approx({"accuracy": 75.0})


def test_correlations_hand_computed():
    # x = (1,2,3), y = (1,2,4): deviations (-1,0,1) and (-4/3,-1/3,5/3); r = 3 / sqrt(2 * 42/9) = 9/sqrt(84)
    scores = compute_glue_metrics("stsb", [1.0, 2.0, 3.0], [1.0, 2.0, 4.0])
    assert scores == pytest.approx({"pearson": 100 * 9 / math.sqrt(84), "spearmanr": 100.0})
    # ranks (1,2,3) vs (3,1,2): d = (-2,1,1), rho = 1 - 6*6/(3*8) = -0.5
    assert compute_glue_metrics("stsb", [0.5, 1.0, 4.0], [5.0, 1.0, 2.5])["spearmanr"] == pytest.approx(-50.0)


@pytest.mark.parametrize("task", sorted(TASK_METRICS))
def test_agrees_with_sklearn_and_scipy(task):
    rng = np.random.default_rng(0)
    if task == "stsb":
        refs = rng.uniform(0, 5, 200)
        preds = refs + rng.normal(0, 1, 200)
        reference = {"pearson": lambda: pearsonr(preds, refs)[0], "spearmanr": lambda: spearmanr(preds, refs)[0]}
    else:
        n_classes = 3 if task == "mnli" else 2
        refs = rng.integers(0, n_classes, 200)
        preds = np.where(rng.random(200) < 0.7, refs, rng.integers(0, n_classes, 200))
        reference = {
            "accuracy": lambda: accuracy_score(refs, preds),
            "f1": lambda: f1_score(refs, preds),
            "matthews_correlation": lambda: matthews_corrcoef(refs, preds),
        }
    scores = compute_glue_metrics(task, preds.tolist(), refs.tolist())
    assert set(scores) == set(TASK_METRICS[task])
    for name, value in scores.items():
        assert value == pytest.approx(100 * reference[name](), abs=1e-9)


def test_input_errors():
    with pytest.raises(ValueError, match="argmax"):
        compute_glue_metrics("sst2", [[0.1, 0.9], [0.8, 0.2]], [1, 0])
    with pytest.raises(ValueError, match="3 predictions for 2 references"):
        compute_glue_metrics("sst2", [1, 0, 1], [1, 0])
    with pytest.raises(ValueError, match="integer class ids"):
        compute_glue_metrics("rte", [0.4, 1.0], [0, 1])
    with pytest.raises(ValueError, match="empty"):
        compute_glue_metrics("rte", [], [])
    with pytest.raises(ValueError, match="known tasks"):
        compute_glue_metrics("squad", [1], [1])
