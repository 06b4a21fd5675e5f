"""`python -m adamixbench train ...`: one run -> one run record (metrics.json). `rescore`: score a finished
run again from its saved weights. `methods`: list methods. `validate`: check run specs (the pipeline's
first step). `fetch-data`: fetch the paper's data once (adamixbench/engine/fetch_data.py). (`serve`, the warm
engine a local pipeline forks its runs from, is dispatched by adamixbench/__main__.py to
adamixbench/engine/server.py before this module is imported.)

    python -m adamixbench train --task sst2 --method adamix_adapter --seed 1 --model minilm-l6 \
        --out results/demo/sst2/adamix_adapter/seed1 --max-train-samples 2000 --epochs 2
    python -m adamixbench train --spec spec.json --out results/demo/run   # a run spec (what the pipeline does)
    python -m adamixbench rescore --run results/demo/run --inference-modes merge,fixed:0   # no training

On several GPUs (one run, data parallel): `accelerate launch --multi_gpu --num_processes 4 -m adamixbench
train ...` or `torchrun --nproc_per_node 4 -m adamixbench train ...` (adamixbench/engine/distributed.py).

The flags are generated from the run options of adamixbench/plan/spec.py (docs/RUN_OPTIONS.md). With --spec,
the file gives the options and any flag given as well overrides it.

Exit status: 0 when a record was written (also for a run that failed during training, or could not start
because its data are unavailable: the record says status "failed" and why), 2 for bad input (nothing is
trained, nothing is written), 75 when SIGTERM or SIGINT stopped the run (killed/preempted: Slurm
preemption or time limit, scancel, Ctrl-C): a checkpoint was written and rerunning the same command
resumes from it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from adamixbench.engine.config import RunConfig
from adamixbench.plan.spec import BY_NAME, FAMILIES, OPTIONS, REQUIRED, SpecError

RECORD_FILE = "metrics.json"
#: engine options `rescore` takes as well: the run's spec is in its record, but not this machine's folders
ENGINE_OPTIONS_OF_RESCORE = ("device", "data_dir", "glue_data_dir")
# Exit status of a run stopped by SIGTERM / SIGINT after writing its checkpoint (sysexits EX_TEMPFAIL,
# "temporary failure, retry"): distinct from bad input (2) and from "record written" (0).
EXIT_INTERRUPTED = 75


def _add_option(parser: argparse.ArgumentParser, option) -> None:
    # default=SUPPRESS: a flag that is not given is absent, so a --spec file's value stands.
    shown = "required unless given by --spec" if option.required else f"default: {json.dumps(option.default)}"
    families = "" if option.families == FAMILIES else f"[{' / '.join(option.families)} only] "
    kwargs = {
        "default": argparse.SUPPRESS,
        "help": f"{families}{option.help} [{option.allowed()}; {shown}]",
        "dest": option.name,
    }
    if option.kind is bool:
        parser.add_argument(option.flag, action="store_true", **kwargs)
    else:  # read as text; Option.parse converts it with a message naming the flag (not argparse's)
        parser.add_argument(option.flag, metavar=option.name.upper(), **kwargs)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m adamixbench", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("methods", help="list the registered fine-tuning methods")
    commands.add_parser("validate", help="check run specs before any job (the pipeline runs this)", add_help=False)
    commands.add_parser("fetch-data", help="fetch the paper's data of tasks or suites once, verified", add_help=False)
    train = commands.add_parser(
        "train",
        help="train and evaluate one run (task, method, seed, options)",
        description="Train and evaluate one run. Options: docs/RUN_OPTIONS.md.",
    )
    train.add_argument(
        "--spec",
        type=Path,
        help="run spec: a JSON object {option: value} (as the pipeline writes); flags given as well override it",
    )
    for option in OPTIONS:
        _add_option(train, option)
    rescore = commands.add_parser("rescore", help="score a finished run again from its saved weights (no training)")
    rescore.add_argument("--run", required=True, help=f"the run folder (holds {RECORD_FILE} and artifacts/)")
    rescore.add_argument(
        "--inference-modes", default="", help="AdaMix routings to score, e.g. merge,random_sequence,fixed:0,ensemble"
    )
    rescore.add_argument(
        "--splits",
        default="",
        help="splits to score (default: the run's report splits; 'selection' = the held-out selection split)",
    )
    for option in ENGINE_OPTIONS_OF_RESCORE:  # where THIS machine keeps the data: not part of the run spec
        _add_option(rescore, BY_NAME[option])
    return parser


def _split_list(text: str) -> list[str]:
    return [item for item in text.split(",") if item]


def read_spec(path: Path) -> dict:
    """A run spec file: a JSON object of run options (checked by RunConfig)."""
    try:
        spec = json.loads(path.read_text())
    except OSError as error:
        raise SpecError(f"--spec {path}: cannot read it ({error.strerror})") from None
    except json.JSONDecodeError as error:
        raise SpecError(f"--spec {path}: not valid JSON ({error})") from None
    if not isinstance(spec, dict):
        raise SpecError(f"--spec {path}: must hold a JSON object {{option: value}}, got {type(spec).__name__}")
    return spec


def config_from_args(args: argparse.Namespace) -> RunConfig:
    values = vars(args)
    values.pop("command")
    spec_path = values.pop("spec")
    flags = {name: BY_NAME[name].parse(text) if isinstance(text, str) else text for name, text in values.items()}
    merged = {**(read_spec(spec_path) if spec_path else {}), **flags}
    missing = [o.flag for o in OPTIONS if o.default is REQUIRED and o.name not in merged]
    if missing:
        raise SpecError(f"missing {', '.join(missing)} (give the flags, or a --spec file holding them)")
    return RunConfig(**merged)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["validate"]:
        from adamixbench.engine.validate import main as validate_main

        return validate_main(argv[1:])
    if argv[:1] == ["fetch-data"]:
        from adamixbench.engine.fetch_data import main as fetch_main

        return fetch_main(argv[1:])
    args = _parser().parse_args(argv)
    if args.command == "methods":
        return _list_methods()
    if args.command == "rescore":
        return _rescore(args)
    return _train(args)


def _list_methods() -> int:
    from baselines import get_method, list_methods

    print(f"{'method':16s} {'default lr':>10s}  description")
    for name in list_methods():
        spec = get_method(name)
        print(f"{name:16s} {spec.default_lr:>10g}  {spec.description}")
    return 0


def _train(args) -> int:
    """`train`: check the run, train and evaluate it (or record it as not run when only its data are
    unavailable), write the record on the main process, then drop the checkpoint. Exit codes: module
    docstring."""
    from adamixbench.engine.checkpoint import Interrupted, StopRequest, remove_checkpoint
    from adamixbench.engine.record import write_json_atomic

    try:
        cfg = config_from_args(args)
        from adamixbench.engine.validate import DATA, Validator

        problems = Validator(engine=True).problems(cfg)
        errors = [p for p in problems if p.resource != DATA]
        if errors:
            print("error: " + "\nerror: ".join(p.message for p in errors), file=sys.stderr)
            return 2
        if problems:  # only its data are unavailable: the run cannot run, the others of a suite can
            from adamixbench.engine.trainer import not_run_record

            reason = "; ".join(p.message.rstrip(". ") for p in problems)
            record = not_run_record(
                cfg, "data_unavailable", f"{reason}; once the data are there, delete this record and rerun"
            )
        else:
            from adamixbench.engine.trainer import train_and_evaluate

            with StopRequest() as stop:
                record = train_and_evaluate(cfg, stop)
    except Interrupted as stopped:
        print(
            f"{cfg.task}/{cfg.label}/seed{cfg.seed}: INTERRUPTED by {stopped.signal_name} at step {stopped.step}/"
            f"{stopped.total_steps} (killed/preempted), resumable: checkpoint {stopped.path}; rerun the same "
            f"command to resume",
            file=sys.stderr,
            flush=True,
        )
        return EXIT_INTERRUPTED
    except (ValueError, FileNotFoundError, KeyError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    from adamixbench.engine.distributed import launched

    processes = launched()  # a run on several processes (adamixbench/engine/distributed.py): rank 0 writes
    if processes.main:
        write_json_atomic(Path(cfg.out) / RECORD_FILE, record)
        if not cfg.keep_checkpoint:
            remove_checkpoint(cfg.out)  # only now: a kill before the record is written still resumes
        _print_outcome(cfg, record)
    processes.finish()
    return 0


def _print_outcome(cfg, record: dict) -> None:
    status = (
        record["status"]
        if record["status"] == "ok"
        else f"FAILED [{record['failure_class']}] ({record['failure_reason']})"
    )
    resumed = f" (resumed from step {record['resumed_from_step']})" if record.get("resumed_from_step") else ""
    print(
        f"{cfg.task}/{cfg.label}/seed{cfg.seed}: {status}{resumed} {record['scores']} -> {Path(cfg.out) / RECORD_FILE}"
    )


def _rescore(args) -> int:
    from adamixbench.engine.rescore import SCORES_FILE, rescore

    try:
        machine = {name: BY_NAME[name].parse(getattr(args, name)) for name in ENGINE_OPTIONS_OF_RESCORE if name in args}
        result = rescore(args.run, _split_list(args.inference_modes), _split_list(args.splits), machine)
    except (ValueError, FileNotFoundError, KeyError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{args.run}: {result['scores']} -> {Path(args.run) / SCORES_FILE}")
    return 0
