"""`python -m adamixbench train ...`: one run -> one run record (metrics.json). `methods`: list methods.

    python -m adamixbench train --task sst2 --method adamix_adapter --seed 1 --model minilm-l6 \
        --out results/demo/sst2/adamix_adapter/seed1 --max-train-samples 2000 --epochs 2

Exit status: 0 when a record was written (also for a run that failed during training: the record says
status "failed" and why), 2 for bad input (nothing is trained, nothing is written).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from .config import RunConfig

RECORD_FILE = "metrics.json"
HELP = {
    "max_train_samples": "subsample the training set: examples (NLG: inputs, each with all its references)",
    "max_eval_samples": "subsample the evaluation sets: examples (NLG: inputs)",
    "epochs": "training epochs (fractions allowed)",
    "lr": "peak learning rate (default per method: see adamixbench/config.py)",
    "data_seed": "seed of subsamples and held-out splits, fixed across run seeds so runs pair",
    "max_steps": "stop after this many optimiser steps",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m adamixbench", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("methods", help="list the registered fine-tuning methods")
    train = commands.add_parser("train", help="train and evaluate one (task, method, seed)")
    defaults = {f.name: f.default for f in dataclasses.fields(RunConfig) if f.default is not dataclasses.MISSING}
    train.add_argument("--task", required=True, help="GLUE task (sst2, rte, ...), few-shot task with --fewshot-k, or NLG task (e2e, webnlg, dart)")
    train.add_argument("--method", required=True, help="registered method (see `methods`) or 'package.module:callable'")
    train.add_argument("--seed", type=int, required=True)
    train.add_argument("--model", required=True, help="minilm-l6 | smollm2-135m (offline, packaged) | hub name | local path")
    train.add_argument("--out", required=True, help=f"run directory; the record is <out>/{RECORD_FILE}")
    train.add_argument("--method-params", default="{}", help="JSON object of method parameters, e.g. '{\"r\": 8}'")
    for name, kind in [("epochs", float), ("lr", float), ("batch_size", int), ("eval_batch_size", int),
                       ("max_seq_len", int), ("warmup_ratio", float), ("warmup_steps", int),
                       ("weight_decay", float), ("max_grad_norm", float),
                       ("heldout_fraction", float), ("max_train_samples", int), ("max_eval_samples", int),
                       ("data_seed", int), ("fewshot_k", int), ("fewshot_split", int), ("max_steps", int),
                       ("log_every", int), ("label_smoothing", float), ("num_beams", int), ("length_penalty", float),
                       ("no_repeat_ngram_size", int), ("max_new_tokens", int)]:
        train.add_argument(f"--{name.replace('_', '-')}", type=kind, default=defaults[name], help=HELP.get(name))
    for name in ("data_dir", "glue_data_dir", "inference", "device", "precision", "fewshot_protocol",
                 "weight_decay_scope"):
        train.add_argument(f"--{name.replace('_', '-')}", default=defaults[name])
    train.add_argument("--selection", choices=["paper", "heldout", "last"], default=None,
                       help="paper: best epoch on dev, reported on dev (upstream); heldout: select on a split of "
                            "train, report dev untouched; last: last epoch (default for few-shot and NLG)")
    train.add_argument("--prompt", action="store_true",
                       help="prompt-based fine-tuning: label words at a [MASK] scored by the masked-LM head")
    train.add_argument("--eval-inference-modes", default="",
                       help="AdaMix: also score these routings at the end, e.g. merge,random_sequence,fixed:0,ensemble")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "methods":
        from baselines import get_method, list_methods
        for name in list_methods():
            print(f"{name:16s} {get_method(name).description}")
        return 0
    values = vars(args)
    values.pop("command")
    try:
        values["method_params"] = RunConfig.parse_method_params(values["method_params"])
        values["eval_inference_modes"] = [m for m in values["eval_inference_modes"].split(",") if m]
        cfg = RunConfig(**values)
        from .record import write_json_atomic
        from .trainer import train_and_evaluate
        record = train_and_evaluate(cfg)
    except (ValueError, FileNotFoundError, KeyError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    write_json_atomic(Path(cfg.out) / RECORD_FILE, record)
    status = record["status"] if record["status"] == "ok" else f"FAILED ({record['failure_reason']})"
    print(f"{cfg.task}/{cfg.method}/seed{cfg.seed}: {status} {record['scores']} -> {Path(cfg.out) / RECORD_FILE}")
    return 0
