"""Checkpoint and resume: a run killed (SIGKILL) or preempted (SIGTERM) mid-training and rerun with the
same command ends with the record of an uninterrupted run; checkpoints of another configuration are
refused; checkpoints are removed once the record is written."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from adamixbench.engine.checkpoint import CHECKPOINT_DIR, STATE_FILE, Checkpointer, CheckpointMismatch
from adamixbench.engine.cli import EXIT_INTERRUPTED, RECORD_FILE
from adamixbench.engine.config import RunConfig
from adamixbench.plan.spec import BY_NAME, OPTIONS
from tests.engine.engine_testutil import SMALL_RUN, train, train_argv

REPO = Path(__file__).resolve().parents[2]
METHOD = "tests.engine.signal_method:prepare"
RUN = {"method": METHOD, **SMALL_RUN, "log_every": 1}  # in-process runs of the signal method
# Fields that must not depend on an interruption (timing, provenance and the resume marker excluded).
SAME = (
    "status",
    "scores",
    "scores_by_inference",
    "history",
    "loss_curve",
    "best_epoch",
    "params",
    "method_params",
    "spec",
    "resolved",
    "inference_mode",
    "report_splits",
    "failure_class",
)


def engine_args(model: str, out: Path, *extra: str) -> list[str]:
    return train_argv(
        model,
        out,
        "--eval-inference-modes",
        "merge,random_sequence",
        *extra,
        method=METHOD,
        **SMALL_RUN,
        log_every=1,
    )


def engine(args: list[str], signal_at: int | None = None, signal_name: str = "SIGKILL") -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    if signal_at is not None:
        env.update(SIGNAL_AT_STEP=str(signal_at), SIGNAL_NAME=signal_name)
    return subprocess.run(
        [sys.executable, "-m", "adamixbench", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=600
    )


def saved_step(out: Path) -> int:
    return torch.load(out / CHECKPOINT_DIR / STATE_FILE, weights_only=True)["loop"]["step"]


@pytest.mark.slow
@pytest.mark.parametrize(
    "signal_name, signal_at, resumed_from, code",
    [
        ("SIGKILL", 6, 3, -9),  # kill -9 in step 6: the checkpoint of step 3 (every 3 steps) survives
        ("SIGTERM", 5, 5, EXIT_INTERRUPTED),  # preemption in step 5: step 5 finishes, is checkpointed, exit 75
    ],
)
def test_interrupted_run_resumes_to_the_uninterrupted_record(
    tmp_path, tiny_model_dir, signal_name, signal_at, resumed_from, code
):
    reference = engine(engine_args(tiny_model_dir, tmp_path / "reference", "--checkpoint-every-steps", "3"))
    assert reference.returncode == 0, reference.stderr[-3000:]
    args = engine_args(tiny_model_dir, tmp_path / "run", "--checkpoint-every-steps", "3")
    stopped = engine(args, signal_at=signal_at, signal_name=signal_name)
    assert stopped.returncode == code, stopped.stderr[-3000:]
    assert not (tmp_path / "run" / RECORD_FILE).exists() and saved_step(tmp_path / "run") == resumed_from
    if signal_name == "SIGTERM":
        assert "INTERRUPTED by SIGTERM at step 5/8 (killed/preempted), resumable" in stopped.stderr
    resumed = engine(args)  # the identical command
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resuming from the checkpoint at step {resumed_from}/8" in resumed.stdout
    want = json.loads((tmp_path / "reference" / RECORD_FILE).read_text())
    got = json.loads((tmp_path / "run" / RECORD_FILE).read_text())
    assert got["status"] == "ok", got.get("traceback")
    assert len(got["loss_curve"]) == 8 and len(got["history"]) == 2
    for key in SAME:
        assert got[key] == want[key], key
    assert want["resumed_from_step"] is None and got["resumed_from_step"] == resumed_from
    assert not (tmp_path / "run" / CHECKPOINT_DIR).exists()  # removed once the record is written


def quick(model: str, out: Path, *extra: str) -> int:
    return train(
        model,
        out,
        "--selection",
        "last",
        *extra,
        **{**SMALL_RUN, "max_train_samples": 32, "max_eval_samples": 16, "epochs": 1},
    )[0]


def test_checkpoint_of_another_configuration_is_refused(tmp_path, tiny_model_dir, capsys):
    out = tmp_path / "run"
    assert quick(tiny_model_dir, out, "--checkpoint-every-steps", "1", "--keep-checkpoint") == 0
    assert (out / CHECKPOINT_DIR / STATE_FILE).is_file()  # kept on request
    (out / RECORD_FILE).unlink()
    assert quick(tiny_model_dir, out, "--lr", "0.01") == 2
    err = capsys.readouterr().err
    assert "different configuration" in err and "lr: checkpoint None, now 0.01" in err and "delete" in err
    assert not (out / RECORD_FILE).exists()


def test_checkpoint_is_removed_after_the_record_and_options_that_do_not_matter_resume(tmp_path, tiny_model_dir):
    out = tmp_path / "run"
    assert quick(tiny_model_dir, out, "--checkpoint-every-steps", "1", "--keep-checkpoint") == 0
    first = json.loads((out / RECORD_FILE).read_text())
    assert first["cost"]["checkpoint_saves"] >= 2 and first["cost"]["checkpoint_mb"] > 0
    (out / RECORD_FILE).unlink()
    # device and checkpoint cadence are not part of the configuration hash: the run resumes (at its end)
    assert quick(tiny_model_dir, out, "--device", "cpu", "--checkpoint-every-minutes", "0") == 0
    second = json.loads((out / RECORD_FILE).read_text())
    assert second["resumed_from_step"] == 2 and second["scores"] == first["scores"]
    assert second["loss_curve"] == first["loss_curve"]
    assert not (out / CHECKPOINT_DIR).exists()


@pytest.mark.slow
def test_preempted_run_with_gradient_accumulation_resumes_to_the_uninterrupted_record(
    tmp_path, tiny_model_dir, monkeypatch
):
    """A checkpoint is taken between optimiser steps, never between the micro-batches of one: preempted in
    the first micro-batch of step 3 (forward call 5: 2 micro-batches per step), the run finishes step 3,
    checkpoints it mid-epoch (2 of the epoch's 4 batches consumed) and resumes to the same record."""
    args = ["--checkpoint-every-minutes", "0", "--grad-accum-steps", "2"]
    assert train(tiny_model_dir, tmp_path / "reference", *args, **RUN)[0] == 0
    monkeypatch.setenv("SIGNAL_AT_STEP", "5")
    monkeypatch.setenv("SIGNAL_NAME", "SIGTERM")
    assert train(tiny_model_dir, tmp_path / "run", *args, **RUN)[0] == EXIT_INTERRUPTED
    saved = torch.load(tmp_path / "run" / CHECKPOINT_DIR / STATE_FILE, weights_only=True)["loop"]
    assert (saved["step"], saved["epoch"], saved["batches_done"]) == (3, 2, 2)
    monkeypatch.delenv("SIGNAL_AT_STEP")
    code, got = train(tiny_model_dir, tmp_path / "run", *args, **RUN)
    want = json.loads((tmp_path / "reference" / RECORD_FILE).read_text())
    assert code == 0 and got["resumed_from_step"] == 3 and want["schedule"]["total_steps"] == 4
    for key in SAME:
        assert got.get(key) == want.get(key), key  # scores_by_inference: in neither


# ---------------------------------------------------------------------------- the configuration hash
# A base run per task family (every option is varied on a family it applies to) and, per run option,
# another valid value. Every option must be listed: a new option has to be classified here.
BASES = {
    "glue": {"task": "rte", "method": "adamix_adapter", "seed": 1, "model": "minilm-l6", "out": "runs/a"},
    "fewshot": {
        "task": "sst2",
        "method": "adamix_adapter",
        "seed": 1,
        "model": "minilm-l6",
        "out": "runs/a",
        "fewshot_k": 16,
    },
    "nlg": {"task": "e2e", "method": "adamix_lora", "seed": 1, "model": "smollm2-135m", "out": "runs/a"},
}
#: options valid only with a partner: the base run of their case sets both
SET_TOGETHER = {
    "budget_unit": {"budget_unit": "steps", "budget": 128.0},
    "budget": {"budget_unit": "steps", "budget": 128.0},
}
CHANGED = {
    "suite": "other",
    "experiment": "other",
    "label": "other",
    "task": "sst2",
    "method": "lora",
    "method_params": {"num_experts": 8},
    "seed": 2,
    "model": "smollm2-135m",
    "fewshot_k": 30,
    "fewshot_split": 2,
    "fewshot_protocol": "lmbff",
    "inference": "fixed:0",
    "eval_inference_modes": ["merge", "fixed:0"],
    "epochs": 5.0,
    "lr": 1e-3,
    "batch_size": 8,
    "grad_accum_steps": 2,
    "eval_batch_size": 64,
    "max_seq_len": 64,
    "warmup_ratio": 0.1,
    "warmup_steps": 100,
    "weight_decay": 0.0,
    "weight_decay_scope": "all",
    "max_grad_norm": 0.0,
    "selection": "heldout",
    "heldout_fraction": 0.2,
    "max_train_samples": 100,
    "max_eval_samples": 50,
    "data_source": "hub",
    "base_label": "other",
    "budget_unit": "epochs",
    "budget": 512.0,
    "budget_steps": 64,
    "data_seed": 1,
    "max_steps": 10,
    "log_every": 1,
    "compile": True,
    "num_workers": 2,
    "finite_check_every": 1,
    "precision": "fp32",
    "prompt": True,
    "label_smoothing": 0.1,
    "num_beams": 4,
    "length_penalty": 1.0,
    "no_repeat_ngram_size": 0,
    "max_new_tokens": 32,
    "checkpoint_every_steps": 5,
    "checkpoint_every_minutes": 0.0,
    "keep_checkpoint": True,
    "save_full_weights": True,
    "out": "runs/b",
    "device": "cpu",
    "data_dir": "/data/glue",
    "glue_data_dir": "/data/glue-dev",
}
# What a run computes does not depend on these: checkpoint cadence and keeping, saving the full weights,
# extra inference modes scored after training, how often the loss is checked, data-loader workers
# (the batches are the same), and the engine options (output folder, device, data folders: not in the spec).
RESULT_UNCHANGED = {
    "checkpoint_every_steps",
    "checkpoint_every_minutes",
    "keep_checkpoint",
    "save_full_weights",
    "eval_inference_modes",
    "finite_check_every",
    "num_workers",
    "out",
    "device",
    "data_dir",
    "glue_data_dir",
}


@pytest.mark.parametrize("option", [o.name for o in OPTIONS])
def test_every_option_that_changes_the_result_is_in_the_checkpoint_hash(tmp_path, option):
    """Changing one option: a checkpoint written under the base run is refused (naming the option) exactly
    when the option changes what the run computes; otherwise it is resumed. In particular a checkpoint of
    seed 1 is never resumed by seed 2."""
    family = next(f for f in ("glue", "fewshot", "nlg") if f in BY_NAME[option].families)
    base_values = {**BASES[family], **SET_TOGETHER.get(option, {})}
    base = RunConfig(**base_values)
    changed = RunConfig(**{**base_values, option: CHANGED[option]})
    assert getattr(changed, option) != getattr(base, option)
    saved = Checkpointer(tmp_path, base.spec(), every_steps=1, every_minutes=0)
    saved.save({"loop": {"step": 3}})
    resumed = Checkpointer(tmp_path, changed.spec(), every_steps=1, every_minutes=0)
    if option in RESULT_UNCHANGED:
        assert resumed.hash == saved.hash
        assert resumed.load()["loop"] == {"step": 3}
    else:
        assert resumed.hash != saved.hash
        with pytest.raises(CheckpointMismatch, match=f"different configuration \\(.*\\b{option}: checkpoint"):
            resumed.load()
