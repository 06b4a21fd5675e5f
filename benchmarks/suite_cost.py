"""GPU-hour projection of a paper suite: its runs (from the pipeline's own run matrix), the optimiser
steps and evaluations of each run (from public dataset sizes), and per-method costs measured by
benchmarks/throughput.py.

The dataset sizes below are the ONE place this repository writes them down.
"""

from __future__ import annotations

import math
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

# GLUE training / dev set sizes (examples), as distributed by GLUE and the `glue` dataset on the hub.
GLUE_TRAIN = {
    "cola": 8_551,
    "sst2": 67_349,
    "mrpc": 3_668,
    "qqp": 363_846,
    "stsb": 5_749,
    "mnli": 392_702,
    "qnli": 104_743,
    "rte": 2_490,
}
GLUE_DEV = {
    "cola": 1_043,
    "sst2": 872,
    "mrpc": 408,
    "qqp": 40_430,
    "stsb": 1_500,
    "mnli": 9_815 + 9_832,
    "qnli": 5_463,
    "rte": 277,
}  # MNLI: matched + mismatched
# NLG: training ROWS (one per reference) and decoded INPUTS of the reported split, as in the LoRA paper's
# data (E2E test: 4,693 references of 630 inputs; WebNLG 2017 "all" test inputs; DART v1.1.1 test inputs).
NLG_TRAIN_ROWS = {"e2e": 42_061, "webnlg": 18_025, "dart": 62_659}
NLG_TEST_INPUTS = {"e2e": 630, "webnlg": 1_862, "dart": 5_097}
# Training INPUTS (an engine's max_train_samples counts inputs, each with all its references); E2E exact,
# WebNLG 2017 and DART v1.1.1 approximate. Only used to convert a subsample of inputs into rows.
NLG_TRAIN_INPUTS = {"e2e": 4_862, "webnlg": 6_940, "dart": 30_526}
# A few-shot split has k examples per class; its evaluation set is the task's full test/dev set, which the
# projection ignores (few-shot runs are a rounding error next to the GLUE suites).
FEWSHOT_CLASSES = {"sst2": 2, "mnli": 3, "qqp": 2, "rte": 2, "mpqa": 2, "subj": 2}


def suite_runs(suite: str) -> dict:
    """The pipeline's run matrix {(task, label, seed): run spec} of config/suites/<suite>.yaml (the
    expansion the workflow itself uses, adamixbench/plan/suite.py)."""
    import yaml

    from adamixbench.plan.suite import expand

    return expand(yaml.safe_load((REPO_ROOT / "config" / "suites" / f"{suite}.yaml").read_text()))


def run_budget(run: dict) -> dict:
    """Optimiser steps, evaluation passes and evaluated examples of one run, as the engine would do them."""
    from adamixbench.tasks import family_of

    train = {k: v for k, v in run.items() if v is not None}  # a run spec: every option of its family
    task, family = run["task"], family_of(run["task"], run.get("fewshot_k"))
    batch = int(train.get("batch_size", 32))
    epochs = float(train.get("epochs", 3.0))
    if family == "nlg":
        n_train = NLG_TRAIN_ROWS[task]
        n_eval = NLG_TEST_INPUTS[task]
        if train.get("max_train_samples"):  # inputs -> rows at the task's references per input
            inputs = min(int(train["max_train_samples"]), NLG_TRAIN_INPUTS[task])
            n_train = round(inputs * NLG_TRAIN_ROWS[task] / NLG_TRAIN_INPUTS[task])
    elif family == "fewshot":
        n_train = run["fewshot_k"] * FEWSHOT_CLASSES.get(task, 2)
        n_eval = 0
    else:
        n_train, n_eval = GLUE_TRAIN[task], GLUE_DEV[task]
    if train.get("max_train_samples") and family != "nlg":
        n_train = min(n_train, int(train["max_train_samples"]))
    if train.get("max_eval_samples"):
        n_eval = min(n_eval, int(train["max_eval_samples"]))
    selection = train.get("selection") or ("last" if family != "glue" else "paper")
    if selection == "heldout":
        n_train = int(n_train * (1 - float(train.get("heldout_fraction", 0.1))))
    steps_per_epoch = math.ceil(n_train / batch)
    if "epochs" in run and run["epochs"] is None:  # no epoch limit: max_steps is the length (a step budget)
        epochs = int(train["max_steps"]) / steps_per_epoch
    steps = max(1, math.ceil(steps_per_epoch * epochs))
    if train.get("max_steps"):
        steps = min(steps, int(train["max_steps"]))
    # selection paper/heldout: one evaluation per epoch, then the report splits once (plus extra routings)
    passes = (math.ceil(epochs) if selection != "last" else 0) + 1 + len(run.get("eval_inference_modes") or [])
    return {
        "steps": steps,
        "batch_size": batch,
        "eval_passes": passes,
        "eval_examples": n_eval,
        "eval_batch_size": int(train.get("eval_batch_size", 128)),
    }


# Suite `model` -> the benchmark preset of the same architecture.
PRESET_OF_MODEL = {
    "roberta-large": "roberta-large",
    "bert-base-uncased": "bert-base",
    "gpt2-medium": "gpt2-medium",
    "minilm-l6": "minilm-l6",
}


def project(suite: str, preset: str, rows: dict[str, dict], bench_batch: int, bench_eval_batch: int) -> dict:
    """Device-seconds of the runs of `suite` on the `preset` backbone from measured per-method rows
    (method name -> row); runs on other backbones are counted in `other_backbone_runs`.

    Assumptions (stated in docs/PERFORMANCE.md): a step's time scales linearly with the batch above the
    measured batch and stays flat below it (small steps are launch-bound); every task has the measured
    length distribution; evaluation time scales with the number of eval batches; NLG decoding of one
    eval batch costs the measured `decode_s`.
    """
    total, missing, per_label, other = 0.0, set(), {}, 0
    runs = suite_runs(suite)
    for (_task, label, _seed), run in runs.items():
        if PRESET_OF_MODEL.get(run["model"]) != preset:
            other += 1
            continue
        row = rows.get(run["method"])
        if row is None:
            missing.add(run["method"])
            continue
        budget = run_budget(run)
        step_s = row["train_step_s"] * max(1.0, budget["batch_size"] / bench_batch)
        eval_batches = math.ceil(budget["eval_examples"] / budget["eval_batch_size"]) * budget["eval_passes"]
        per_batch = row.get("decode_s") if run["task"] in NLG_TRAIN_ROWS else row["eval_forward_s"]
        eval_s = eval_batches * (per_batch or 0.0) * max(1.0, budget["eval_batch_size"] / bench_eval_batch)
        seconds = budget["steps"] * step_s + eval_s
        total += seconds
        entry = per_label.setdefault(label, {"runs": 0, "steps": 0, "hours": 0.0})
        entry["runs"] += 1
        entry["steps"] += budget["steps"]
        entry["hours"] += seconds / 3600
    return {
        "suite": suite,
        "preset": preset,
        "runs": len(runs),
        "other_backbone_runs": other,
        "hours": total / 3600,
        "missing_methods": sorted(missing),
        "per_label": per_label,
    }
