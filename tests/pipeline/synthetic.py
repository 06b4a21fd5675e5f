"""Synthetic run records in the format of docs/CONTRACTS.md (realistic values, one failed run)."""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path

import numpy as np

GLUE_METRICS = {
    "sst2": ("accuracy",),
    "rte": ("accuracy",),
    "mrpc": ("accuracy", "f1"),
    "qqp": ("accuracy", "f1"),
    "cola": ("matthews_correlation",),
    "stsb": ("pearson", "spearmanr"),
    "mnli": ("accuracy",),
    "qnli": ("accuracy",),
    "subj": ("accuracy",),
    "mpqa": ("accuracy",),
}
NLG_METRICS = {
    "e2e": ("bleu", "nist", "meteor", "rouge_l", "cider"),
    "webnlg": ("bleu", "meteor", "ter"),
    "dart": ("bleu", "meteor", "ter"),
}
BASE = {
    "full_ft": 80.0,
    "houlsby": 81.0,
    "pfeiffer": 81.5,
    "lora": 82.0,
    "bitfit": 79.0,
    "adamix_adapter": 83.0,
    "adamix_lora": 82.5,
}
PARAMS = {
    "full_ft": 22_700_000,
    "houlsby": 150_000,
    "pfeiffer": 150_000,
    "lora": 147_000,
    "bitfit": 50_000,
    "adamix_adapter": 150_000,
    "adamix_lora": 147_000,
}


def make_record(
    task: str,
    method: str,
    seed: int,
    *,
    failed: bool = False,
    inference_modes=(),
    model: str = "minilm-l6",
    label: str | None = None,
    epochs: int = 2,
) -> dict:
    rng = np.random.default_rng(zlib.crc32(f"{task}/{label or method}/{seed}".encode()))
    family = "nlg" if task in NLG_METRICS else "glue"
    metrics = NLG_METRICS.get(task) or GLUE_METRICS[task]
    base = BASE.get(method.split("[")[0], 80.0) + (seed % 3) * 0.3
    scores = {}
    for m in metrics:
        if m in ("nist",):
            scores[m] = 8.0 + rng.normal(0, 0.1)
        elif m == "cider":
            scores[m] = 2.3 + rng.normal(0, 0.05)
        elif m == "ter":
            scores[m] = 0.45 + rng.normal(0, 0.01)
        else:
            scores[m] = base + rng.normal(0, 0.5)
    primary = metrics[0]
    rec = {
        "schema_version": 2,
        "status": "failed" if failed else "ok",
        "failure_class": "non_finite_loss" if failed else None,
        "failure_reason": "nan loss at step 37" if failed else None,
        "task": task,
        "task_family": family,
        "method": method,
        "seed": seed,
        "model": model,
        "selection": "paper",
        "inference_mode": "merge" if method.startswith("adamix") else None,
        "primary_metric": primary,
        "scores": {} if failed else scores,
        "best_epoch": None if failed else epochs,
        "history": [
            {
                "epoch": e,
                "step": 32 * e,
                "train_loss": 0.7 / e,
                "eval": {primary: scores.get(primary, 50.0) - (epochs - e)},
            }
            for e in range(1, epochs + 1)
        ],
        "loss_curve": [[10 * k, 0.7 - 0.03 * k + rng.normal(0, 0.01)] for k in range(1, 7)],
        "params": {
            "trainable": PARAMS.get(method, 100_000) * 2,
            "inference": PARAMS.get(method, 100_000),
            "backbone": 22_700_000,
            "head": 770,
        },
        "cost": {
            "train_time_s": 50.0 + rng.normal(0, 2),
            "eval_time_s": 5.0,
            "train_tokens_per_s": 900.0,
            "peak_memory_mb": 800.0,
        },
        "suite": "test",
        "experiment": family,
        "label": label or method,
        "spec": {
            "suite": "test",
            "experiment": family,
            "label": label or method,
            "task": task,
            "method": method,
            "seed": seed,
            "model": model,
        },
        "provenance": {
            "versions": {},
            "git_sha": "0" * 40,
            "git_dirty": False,
            "device": "cpu",
            "hostname": "test",
            "started_at": "2026-01-01T00:00:00",
            "finished_at": "2026-01-01T00:01:00",
            "command": "python -m adamixbench train ...",
        },
    }
    if inference_modes and not failed:
        rec["scores_by_inference"] = {
            mode: {m: (v if mode == "merge" else v - abs(rng.normal(0.8, 0.4))) for m, v in scores.items()}
            for mode in inference_modes
        }
    return rec


def write_record(root: Path, task: str, label: str, seed: int, rec: dict) -> Path:
    path = Path(root) / "runs" / task / label / f"seed{seed}" / "metrics.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(rec, indent=1))
    os.replace(tmp, path)
    return path
