"""The suite projection counts the runs and optimiser steps the engine would do."""

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from suite_cost import GLUE_DEV, GLUE_TRAIN, project, run_budget, suite_runs  # noqa: E402


def _run(**train):
    return {"task": "rte", "method": "lora", "model": "roberta-large", "eval_inference_modes": [], **train}


def test_steps_follow_dataset_size_batch_and_epochs():
    budget = run_budget(_run(batch_size=64, epochs=20))
    assert budget["steps"] == math.ceil(GLUE_TRAIN["rte"] / 64) * 20
    assert budget["eval_passes"] == 20 + 1  # paper selection: every epoch, then the report split
    assert budget["eval_examples"] == GLUE_DEV["rte"]


def test_subsampling_max_steps_and_last_selection():
    budget = run_budget(_run(batch_size=16, epochs=1, max_train_samples=2048, selection="last"))
    assert budget["steps"] == 128 and budget["eval_passes"] == 1
    assert run_budget(_run(batch_size=16, epochs=3, max_steps=7))["steps"] == 7


def test_a_step_budget_costs_its_steps_whatever_the_epochs_they_take():
    """A suite's step budget (epochs null, max_steps = the budget) runs past one epoch."""
    budget = run_budget(_run(batch_size=16, epochs=None, max_steps=1024, max_train_samples=2048, selection="paper"))
    assert budget["steps"] == 1024 and budget["eval_passes"] == 8 + 1  # 8 epochs of 128 steps, then the report


def test_table1_suite_matrix():
    runs = suite_runs("glue_roberta_large")
    assert len(runs) == 7 * 8 * 5
    per_seed = sum(run_budget(r)["steps"] for (_, _, seed), r in runs.items() if seed == 0)
    assert 2.0e6 < per_seed < 2.2e6  # ~2.1M optimiser steps per seed (MNLI and QQP dominate)


def test_projection_uses_measured_rows_and_reports_what_it_could_not_cost():
    row = {"train_step_s": 0.01, "eval_forward_s": 0.0}
    result = project("glue_roberta_large", "roberta-large", {"lora": row}, bench_batch=64, bench_eval_batch=128)
    assert result["missing_methods"] == ["adamix_adapter", "full_ft", "houlsby", "pfeiffer"]
    lora = result["per_label"]["lora"]
    assert lora["runs"] == 40
    assert lora["hours"] == pytest.approx(lora["steps"] * 0.01 / 3600)
    with_eval = project("glue_roberta_large", "roberta-large", {"lora": {**row, "eval_forward_s": 0.02}}, 64, 128)
    assert with_eval["hours"] > result["hours"]
    other = project("glue_roberta_large", "bert-base", {"lora": row}, bench_batch=64, bench_eval_batch=128)
    assert other["other_backbone_runs"] == 280 and other["hours"] == 0
