"""`python -m adamixbench train ...`: one run -> one run record (metrics.json). `rescore`: score a finished
run again from its saved weights. `methods`: list methods.

    python -m adamixbench train --task sst2 --method adamix_adapter --seed 1 --model minilm-l6 \
        --out results/demo/sst2/adamix_adapter/seed1 --max-train-samples 2000 --epochs 2
    python -m adamixbench rescore --run results/demo/sst2/adamix_adapter/seed1 --inference-modes merge,fixed:0

Exit status: 0 when a record was written (also for a run that failed during training: the record says
status "failed" and why), 2 for bad input (nothing is trained, nothing is written), 75 when SIGTERM or
SIGINT stopped the run (Slurm preemption or time limit, scancel, Ctrl-C): a checkpoint was written and
rerunning the same command resumes from it.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from .config import RunConfig

RECORD_FILE = "metrics.json"
# Exit status of a run stopped by SIGTERM / SIGINT after writing its checkpoint (sysexits EX_TEMPFAIL,
# "temporary failure, retry"): distinct from bad input (2) and from "record written" (0).
EXIT_INTERRUPTED = 75
HELP = {
    "max_train_samples": "subsample the training set: examples (NLG: inputs, each with all its references)",
    "max_eval_samples": "subsample the evaluation sets: examples (NLG: inputs)",
    "epochs": "training epochs (fractions allowed)",
    "lr": "peak learning rate (default per method: see adamixbench/config.py)",
    "data_seed": "seed of subsamples and held-out splits, fixed across run seeds so runs pair",
    "max_steps": "stop after this many optimiser steps",
    "checkpoint_every_steps": "write a resumable checkpoint to <out>/checkpoint every N optimiser steps",
    "checkpoint_every_minutes": "also every M minutes of training (0: off); rerunning the command resumes",
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
                       ("no_repeat_ngram_size", int), ("max_new_tokens", int), ("checkpoint_every_steps", int),
                       ("checkpoint_every_minutes", float)]:
        train.add_argument(f"--{name.replace('_', '-')}", type=kind, default=defaults[name], help=HELP.get(name))
    for name in ("data_dir", "glue_data_dir", "inference", "device", "precision", "fewshot_protocol"):
        train.add_argument(f"--{name.replace('_', '-')}", default=defaults[name])
    train.add_argument("--selection", choices=["paper", "heldout", "last"], default=None,
                       help="paper: best epoch on dev, reported on dev (upstream); heldout: select on a split of "
                            "train, report dev untouched; last: last epoch (default for few-shot and NLG)")
    train.add_argument("--prompt", action="store_true",
                       help="prompt-based fine-tuning: label words at a [MASK] scored by the masked-LM head")
    train.add_argument("--eval-inference-modes", default="",
                       help="AdaMix: also score these routings at the end, e.g. merge,random_sequence,fixed:0,ensemble")
    train.add_argument("--keep-checkpoint", action="store_true",
                       help="keep <out>/checkpoint after the run finishes (default: deleted once the record is written)")
    train.add_argument("--save-full-weights", action="store_true",
                       help="full fine-tuning: save the whole trained model in <out>/artifacts (a backbone copy per run)")
    rescore = commands.add_parser("rescore", help="score a finished run again from its saved weights (no training)")
    rescore.add_argument("--run", required=True, help=f"the run directory (holds {RECORD_FILE} and artifacts/)")
    rescore.add_argument("--inference-modes", default="",
                         help="AdaMix routings to score, e.g. merge,random_sequence,fixed:0,ensemble")
    rescore.add_argument("--splits", default="", help="splits to score (default: the run's report splits; "
                                                      "'selection' = the held-out selection split)")
    return parser


def _split_list(text: str) -> list[str]:
    return [item for item in text.split(",") if item]


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "methods":
        from baselines import get_method, list_methods
        for name in list_methods():
            print(f"{name:16s} {get_method(name).description}")
        return 0
    if args.command == "rescore":
        return _rescore(args)
    from .checkpoint import Interrupted, StopRequest

    values = vars(args)
    values.pop("command")
    try:
        values["method_params"] = RunConfig.parse_method_params(values["method_params"])
        values["eval_inference_modes"] = _split_list(values["eval_inference_modes"])
        cfg = RunConfig(**values)
        from .trainer import train_and_evaluate
        with StopRequest() as stop:
            record = train_and_evaluate(cfg, stop)
    except Interrupted as stopped:
        print(f"{cfg.task}/{cfg.method}/seed{cfg.seed}: INTERRUPTED by {stopped.signal_name} at step {stopped.step}/"
              f"{stopped.total_steps}, resumable: checkpoint {stopped.path}; rerun the same command to resume",
              file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    except (ValueError, FileNotFoundError, KeyError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    from .checkpoint import remove_checkpoint
    from .record import write_json_atomic
    write_json_atomic(Path(cfg.out) / RECORD_FILE, record)
    if not cfg.keep_checkpoint:
        remove_checkpoint(cfg.out)  # only now: a kill before the record is written still resumes
    status = record["status"] if record["status"] == "ok" else f"FAILED ({record['failure_reason']})"
    resumed = f" (resumed from step {record['resumed_from_step']})" if record.get("resumed_from_step") else ""
    print(f"{cfg.task}/{cfg.method}/seed{cfg.seed}: {status}{resumed} {record['scores']} -> {Path(cfg.out) / RECORD_FILE}")
    return 0


def _rescore(args) -> int:
    from .rescore import SCORES_FILE, rescore
    try:
        result = rescore(args.run, _split_list(args.inference_modes), _split_list(args.splits))
    except (ValueError, FileNotFoundError, KeyError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{args.run}: {result['scores']} -> {Path(args.run) / SCORES_FILE}")
    return 0
