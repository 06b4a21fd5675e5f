"""adamixbench/metrics/glue.py computes what the paper's code computed: the `glue` metric module that
`datasets.load_metric("glue", task)` ran (upstream run_glue.py; vendored from the datasets 1.18.4 sdist in
tests/resources/paper_glue_metric/, see SOURCE.md there), run offline through `evaluate`, on every GLUE task."""

from __future__ import annotations

import importlib.util
import sys
import types

import datasets
import evaluate
import numpy as np
import pytest

from adamixbench.sources.paths import REPO_ROOT
from adamixbench.tasks.classification import compute_glue_metrics
from adamixbench.tasks.glue import GLUE_TASKS

MODULE = REPO_ROOT / "tests" / "resources" / "paper_glue_metric" / "glue.py"


@pytest.fixture(scope="module")
def paper_glue():
    """The vendored module's `Glue` class. Its `datasets.Metric` / `MetricInfo` (datasets 1.x) are provided by
    `evaluate`, which forked them: the same casting of inputs to the declared features and numpy format."""
    shim = types.ModuleType("datasets")
    shim.Metric = evaluate.EvaluationModule
    shim.MetricInfo = evaluate.EvaluationModuleInfo
    shim.Features, shim.Value = datasets.Features, datasets.Value
    shim.utils = types.SimpleNamespace(
        file_utils=types.SimpleNamespace(add_start_docstrings=evaluate.utils.file_utils.add_start_docstrings)
    )
    spec = importlib.util.spec_from_file_location("paper_glue_metric", MODULE)
    module = importlib.util.module_from_spec(spec)
    real = sys.modules["datasets"]
    sys.modules["datasets"] = shim  # only while the module body runs: it keeps its own reference
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules["datasets"] = real
    return module.Glue


def _inputs(task: str, seed: int, n: int = 400):
    rng = np.random.default_rng(seed)
    spec = GLUE_TASKS[task]
    if spec.is_regression:  # multiples of 1/8: exact in float32, the paper module's feature type
        refs = rng.integers(0, 41, n) / 8
        return np.clip(refs + rng.normal(0, 1, n), 0, 5).round(3).astype(np.float32).astype(float), refs
    refs = rng.integers(0, spec.num_labels, n)
    preds = np.where(rng.random(n) < 0.7, refs, rng.integers(0, spec.num_labels, n))
    return preds, refs


@pytest.mark.parametrize("task", sorted(GLUE_TASKS))
@pytest.mark.parametrize("seed", [0, 1])
def test_equal_to_the_papers_glue_metric(paper_glue, task, seed):
    preds, refs = _inputs(task, seed)
    theirs = paper_glue(config_name=task).compute(predictions=preds, references=refs)
    ours = compute_glue_metrics(task, preds, refs)
    assert set(ours) == set(theirs)
    # STS-B: the paper's module casts scores to its declared float32 feature and correlates in float32; this
    # package correlates the same values in float64: equal to 1e-4 points (tables show 2 decimals)
    tolerance = 1e-4 if GLUE_TASKS[task].is_regression else 1e-9
    for name, value in theirs.items():
        assert ours[name] == pytest.approx(100.0 * float(value), rel=0, abs=tolerance), name


@pytest.mark.parametrize("task", ["cola", "mrpc", "qqp"])
def test_equal_on_degenerate_predictions(paper_glue, task):
    """One class predicted everywhere: MCC 0 and F1 0 in both (scikit-learn's conventions)."""
    refs = np.array([0, 1, 1, 0, 1])
    preds = np.zeros(5, dtype=int)
    theirs = paper_glue(config_name=task).compute(predictions=preds, references=refs)
    ours = compute_glue_metrics(task, preds, refs)
    assert ours == pytest.approx({k: 100.0 * float(v) for k, v in theirs.items()})
