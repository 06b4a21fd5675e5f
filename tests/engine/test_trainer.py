"""The run command end to end on a tiny BERT with the real MiniLM tokenizer and shipped SST-2 / RTE data."""

import json
import math
import os

import pytest
import torch

from adamixbench.engine import trainer
from adamixbench.engine.record import write_json_atomic
from adamixbench.metrics import Evaluation
from tests.engine.engine_testutil import SMALL_RUN, train


def run(tmp_path, model, *extra, method="adamix_adapter", task="sst2"):
    out = tmp_path / f"{task}-{method.replace(':', '_').replace('/', '_')}"
    return train(
        model,
        out,
        *extra,
        task=task,
        method=method,
        **SMALL_RUN,
        log_every=1,
    )


class EvaluationSpy:
    """Wraps the task the trainer builds: records what every evaluation saw (the trainable weights and the
    examples' input ids) and, when `scripted` is given, answers the per-epoch selection evaluations with
    those scores instead of the real ones (so the best epoch is known in advance)."""

    def __init__(self, scripted=None):
        self.scripted = list(scripted) if scripted is not None else None
        self.selection = []  # per epoch: (weights, rows)
        self.report = []  # (split, weights, rows)
        self.task = None

    def install(self, monkeypatch):
        build_task = trainer.build_task

        def build(cfg, tokenizer):
            task = build_task(cfg, tokenizer)
            evaluate = task.evaluate

            def spying_evaluate(model, loader, device, split=None):
                weights = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
                rows = [tuple(ids) for ids in loader.dataset["input_ids"]]
                if split == "selection":
                    self.selection.append((weights, rows))
                    if self.scripted is not None:
                        return Evaluation({task.primary_metric: self.scripted[len(self.selection) - 1]})
                else:
                    self.report.append((split, weights, rows))
                return evaluate(model, loader, device, split)

            task.evaluate = spying_evaluate
            self.task = task
            return task

        monkeypatch.setattr(trainer, "build_task", build)
        return self


def same_weights(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[n], b[n]) for n in a)


@pytest.mark.parametrize(
    "scripted, best",
    [
        ([50.0, 80.0, 60.0], 2),  # a clear peak in the middle
        ([60.0, 80.0, 80.0], 2),  # a tie keeps the earlier epoch
        ([-5.0, -2.0, -8.0], 2),  # a metric that stays negative (MCC) still selects its best epoch
        ([30.0, math.nan, 20.0], 1),  # an undefined score is never the best
    ],
)
def test_paper_selection_reports_the_best_epochs_weights(tmp_path, tiny_model_dir, monkeypatch, scripted, best):
    spy = EvaluationSpy(scripted).install(monkeypatch)
    code, record = run(tmp_path, tiny_model_dir, "--epochs", "3", method="lora")
    assert code == 0 and record["status"] == "ok", record.get("traceback")
    assert record["selection"] == "paper" and record["best_epoch"] == best
    logged = [h["eval"]["accuracy"] for h in record["history"]]  # the record stores NaN as null
    assert [math.nan if v is None else v for v in logged] == pytest.approx(scripted, nan_ok=True)
    assert len(spy.selection) == 3 and [split for split, _, _ in spy.report] == ["validation"]
    epoch_weights = [weights for weights, _ in spy.selection]
    assert not same_weights(epoch_weights[best - 1], epoch_weights[-1])  # training moved the weights on
    reported_weights = spy.report[0][1]
    assert same_weights(reported_weights, epoch_weights[best - 1])  # the reported scores come from the best epoch


@pytest.mark.parametrize("extra, warmup", [(["--warmup-ratio", "0.25"], 3), (["--warmup-steps", "5"], 5)])
def test_warmup_counts_steps_of_the_whole_run_and_is_recorded(tmp_path, tiny_model_dir, extra, warmup):
    """64 examples, batch 16, 3 epochs: 12 steps. A ratio of 0.25 warms up for 3 steps (of all 12, not of
    one epoch's 4); --warmup-steps overrides the ratio. Each epoch's logged LR follows the linear schedule."""
    code, record = run(tmp_path, tiny_model_dir, "--epochs", "3", "--selection", "last", *extra, method="lora")
    assert code == 0 and record["status"] == "ok", record.get("traceback")
    assert record["schedule"] == {"total_steps": 12, "warmup_steps": warmup, "processes": 1, "steps_per_epoch": 4}
    peak = record["resolved"]["learning_rate"]

    def lr_after(step):
        return peak * step / warmup if step < warmup else peak * (12 - step) / (12 - warmup)

    assert [h["step"] for h in record["history"]] == [4, 8, 12]
    assert [h["lr"] for h in record["history"]] == pytest.approx([lr_after(s) for s in (4, 8, 12)], rel=1e-6)


def test_a_step_budget_runs_exactly_its_steps_with_one_schedule_over_them(tmp_path, tiny_model_dir):
    """epochs null + max_steps 6 (a suite's budget of 6 optimiser steps, plan/budget.py): 64 examples in
    batches of 16 are 4 steps per epoch, so the run passes 1.5 times over the data, and the LR schedule
    (warm-up 0.25 of 6 = 1 step, then linear decay to 0) spans all 6 steps, not one epoch."""
    code, record = run(
        tmp_path, tiny_model_dir, "--epochs", "null", "--max-steps", "6", "--selection", "last",
        "--warmup-ratio", "0.25", method="lora",
    )  # fmt: skip
    assert code == 0 and record["status"] == "ok", record.get("traceback")
    assert record["schedule"] == {"total_steps": 6, "warmup_steps": 1, "processes": 1, "steps_per_epoch": 4}
    assert [h["step"] for h in record["history"]] == [4, 6]
    peak = record["resolved"]["learning_rate"]
    assert [h["lr"] for h in record["history"]] == pytest.approx([peak * 2 / 5, 0.0], abs=1e-12)
    assert record["spec"]["epochs"] is None and record["spec"]["max_steps"] == 6


def test_run_writes_a_complete_record(tmp_path, tiny_model_dir):
    code, record = run(tmp_path, tiny_model_dir, "--eval-inference-modes", "merge,random_sequence,fixed:0,ensemble")
    assert code == 0 and record["status"] == "ok", record.get("traceback")
    assert record["selection"] == "paper" and record["inference_mode"] == "merge"
    assert 0 <= record["scores"]["accuracy"] <= 100
    selection_scores = [h["eval"]["accuracy"] for h in record["history"]]
    assert len(selection_scores) == 2 and record["best_epoch"] == 1 + selection_scores.index(max(selection_scores))
    assert record["scores"]["accuracy"] == max(selection_scores)  # paper: the dev set it selected on, restored weights
    assert set(record["scores_by_inference"]) == {"merge", "random_sequence", "fixed:0", "ensemble"}
    assert record["scores_by_inference"]["merge"] == record["scores"]
    params = record["params"]
    assert params["inference"] == 2 * (2 * 32 * 48 + 48 + 32)  # BERT default bottleneck 48, merged, head excluded
    assert params["trainable"] == 2 * (4 * (32 * 48 + 48) + 48 * 32 + 32) + params["head"]
    cost = record["cost"]
    assert cost["train_time_s"] > 0 and cost["train_tokens_per_s"] > 0 and cost["peak_memory_mb"] > 0
    assert 0 < cost["train_real_tokens"] < 2 * 64 * 32  # real tokens only, not padding
    prov = record["provenance"]
    assert prov["versions"]["torch"] and prov["device"].startswith("cpu") and prov["started_at"] <= prov["finished_at"]
    assert record["resolved"]["learning_rate"] == 5e-4 and record["loss_curve"]
    assert record["failure_class"] is None and record["label"] == "adamix_adapter" and record["spec"]["seed"] == 1
    umask = os.umask(0)
    os.umask(umask)
    written = list((tmp_path / "sst2-adamix_adapter").rglob("*"))  # the record and the saved weights
    files, folders = [f for f in written if f.is_file()], [f for f in written if f.is_dir()]
    assert files and all(f.stat().st_mode & 0o777 == 0o666 & ~umask for f in files)  # group-readable as umask allows
    # 8 steps, warmup_ratio 0.06 -> 0 warmup steps: linear decay from the first step
    assert record["schedule"] == {"total_steps": 8, "warmup_steps": 0, "processes": 1, "steps_per_epoch": 4}
    assert record["history"][0]["lr"] == pytest.approx(5e-4 * (8 - 4) / 8)
    assert all(f.stat().st_mode & 0o777 == 0o777 & ~umask for f in folders)


def test_heldout_selection_never_uses_the_reported_dev_set(tmp_path, tiny_model_dir, monkeypatch):
    spy = EvaluationSpy().install(monkeypatch)
    code, record = run(tmp_path, tiny_model_dir, "--selection", "heldout", "--heldout-fraction", "0.25", method="lora")
    assert code == 0 and record["status"] == "ok", record.get("traceback")
    assert record["selection"] == "heldout" and all("eval" in h for h in record["history"])
    train_rows = {tuple(ids) for ids in spy.task.train["input_ids"]}
    ((split, _, report_rows),) = spy.report
    assert split == "validation" and len(report_rows) == 32
    assert len(spy.selection) == 2
    for _, rows in spy.selection:  # every selection evaluation: 16 held-out TRAIN examples (25% of 64) ...
        assert len(rows) == 16 and len(train_rows) == 48
        assert not set(rows) & set(report_rows)  # ... none of them from the reported dev set ...
        assert not set(rows) & train_rows  # ... and none of them trained on


def test_subsamples_and_heldout_split_depend_on_the_data_seed_not_the_run_seed():
    """Runs of different seeds pair (spec option data_seed): the training and evaluation subsamples and the
    held-out split are drawn with data_seed, the same for every run seed; another data_seed draws other rows."""
    from pathlib import Path

    from adamixbench.engine.config import RunConfig
    from adamixbench.tasks.classification import load_nlu_splits

    glue = str(Path(__file__).resolve().parents[2] / "data" / "glue")

    def rows(**options):
        common = dict(task="sst2", method="lora", model="minilm-l6", out="-", data_dir=glue, selection="heldout")
        splits = load_nlu_splits(RunConfig(**common, max_train_samples=20, max_eval_samples=10, **options))
        return splits.train["sentence"], splits.selection["sentence"], splits.report["validation"]["sentence"]

    assert rows(seed=1) == rows(seed=2)
    other = rows(seed=1, data_seed=1)
    assert all(a != b for a, b in zip(rows(seed=1), other))


def test_regression_loss_is_the_mean_squared_error_of_each_row():
    """STS-B: the head's (B, 1) output against the (B,) scores, row by row (not broadcast to B x B)."""
    from adamixbench.tasks.classification import NLUTask

    task = NLUTask("stsb", "glue", ("sentence1", "sentence2"), 1, True, "pearson", None, None)
    logits = torch.tensor([[1.0], [2.0], [4.0]])
    labels = torch.tensor([1.5, 2.0, 3.0])
    assert task.loss(logits, {"labels": labels}).item() == pytest.approx((0.25 + 0.0 + 1.0) / 3)


def test_last_selection_and_regression_task(tmp_path, tiny_model_dir):
    code, record = run(
        tmp_path, tiny_model_dir, "--selection", "last", "--method-params", '{"consistency_kind": "mse"}', task="stsb"
    )
    assert code == 0 and record["status"] == "ok", record.get("failure_reason")
    assert record["best_epoch"] == 2 and not any("eval" in h for h in record["history"])  # nothing to select on
    assert set(record["scores"]) == {"pearson", "spearmanr"} and all(
        math.isfinite(v) for v in record["scores"].values()
    )
    assert record["method_params"]["consistency_kind"] == "mse"


@pytest.mark.parametrize("check_every", [1, 5])  # 5: the NaN of step 3 is found at step 5, the record still says 3
def test_nan_loss_is_recorded_as_a_failed_run_that_keeps_where_it_stopped(tmp_path, tiny_model_dir, check_every):
    code, record = run(
        tmp_path,
        tiny_model_dir,
        "--method-params",
        '{"nan_at_step": 3}',
        "--finite-check-every",
        str(check_every),
        method="tests.engine.nan_method:prepare",
    )
    assert code == 0
    assert record["status"] == "failed" and record["failure_class"] == "non_finite_loss"
    assert record["failure_reason"].startswith("nan loss at step 3")
    at = record["failed_at"]
    assert at["step"] == 2 and at["epoch"] == 1 and [s for s, _ in at["last_losses"]] == [1, 2, 3]
    assert all(loss > 0 for _, loss in at["last_losses"][:2]) and at["last_losses"][2][1] is None  # NaN -> null
    assert record["params"]["trainable"] > 0 and record["params"]["backbone"] > 0


def test_finiteness_check_interval_and_loader_workers_change_no_number_of_the_record(tmp_path, tiny_model_dir):
    """Losses stay on the device between checks, and worker processes collate the batches of the loader
    built once per run: the record (per-step loss curve, epochs, scores, tokens) is the same as with a
    check every step and no workers (8 steps: the last is not a multiple of 3)."""
    records = [
        run(tmp_path / str(every), tiny_model_dir, "--finite-check-every", str(every), "--num-workers", str(workers))[1]
        for every, workers in ((1, 0), (3, 2))
    ]
    numbers = [(r["loss_curve"], r["history"], r["scores"], r["cost"]["train_real_tokens"]) for r in records]
    assert len(records[0]["loss_curve"]) == 8 and numbers[0] == numbers[1]


@pytest.mark.slow  # compiling a forward and backward graph takes a minute on 2 CPU cores
def test_compiled_model_trains_to_the_eager_losses(tmp_path, tiny_model_dir, monkeypatch):
    """--compile (torch.compile, Inductor's CPU kernels here) runs the whole loop, evaluation included,
    and trains to the eager run's per-step losses up to float32 rounding (fused kernels sum in another
    order). Inductor draws dropout masks from its own generator; `fallback_random` makes it draw them as
    eager does, so that the two runs are comparable step by step."""
    import torch._inductor.config

    monkeypatch.setattr(torch._inductor.config, "fallback_random", True)
    eager, compiled = (
        run(tmp_path / name, tiny_model_dir, *flags, method="lora")[1]
        for name, flags in (("eager", []), ("compiled", ["--compile"]))
    )
    assert compiled["status"] == "ok", compiled.get("traceback")
    assert compiled["spec"]["compile"] is True and len(compiled["loss_curve"]) == len(eager["loss_curve"]) == 8
    for (step, want), (got_step, got) in zip(eager["loss_curve"], compiled["loss_curve"]):
        assert got_step == step and got == pytest.approx(want, rel=1e-4), step


@pytest.mark.parametrize(
    "args, message",
    [
        (["--method", "no_such_method"], "Registered methods: "),
        (
            ["--method", "lora", "--method-params", "{bad json"],
            "--method-params): cannot read '{bad json'; allowed: JSON object",
        ),
        (["--method", "lora", "--method-params", '{"rank": 8}'], "unknown parameter(s) ['rank']"),
        (["--method", "lora", "--task", "sts"], "unknown glue task 'sts'"),
        (["--method", "lora", "--epochs", "0"], "option epochs (--epochs): invalid value 0.0; allowed: number > 0"),
        (["--method", "lora", "--warmup-steps", "-1"], "(--warmup-steps): invalid value -1; allowed: integer >= 0"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message_and_writes_nothing(tmp_path, tiny_model_dir, capsys, args, message):
    pairs = dict(zip(args[::2], args[1::2]))
    method, task = pairs.pop("--method"), pairs.pop("--task", "sst2")
    code, record = run(tmp_path, tiny_model_dir, *[x for pair in pairs.items() for x in pair], method=method, task=task)
    assert code == 2 and record is None
    assert message in capsys.readouterr().err


def test_atomic_write_leaves_no_partial_file(tmp_path):
    target = tmp_path / "metrics.json"
    with pytest.raises(TypeError):
        write_json_atomic(target, {"ok": 1, "bad": object()})
    assert not target.exists() and not list(tmp_path.iterdir())
    write_json_atomic(target, {"score": float("nan")})
    assert json.loads(target.read_text()) == {"score": None}
