"""Every check a run spec can get before any work: the pipeline runs them for every run of a suite
(`python -m adamixbench validate --specs specs.json`, once, while Snakemake builds the DAG) and the engine
runs them before it trains (`python -m adamixbench train`).

A problem names the option, parameter or file, the value, and the fix. Three kinds:
* input errors (a method parameter of the wrong type or range, an unknown preset, an inference mode the
  method or its number of experts does not have, an unimportable plug-in, a device that does not exist,
  --out naming a file): always fatal;
* a missing backbone (not available offline, a local folder that is absent or lacks config.json): fatal
  for a real run; `--resources warn` (what `snakemake -n` uses) lists it as a warning, so a dry-run on a
  machine without the weights still plans the work and says what is missing;
* unavailable data (a data file that is absent, unreadable, malformed or holds no examples): never fatal.
  The runs of that task cannot run, but the others can: the pipeline warns, naming the runs, and the
  engine writes a failed record (failure_class `data_unavailable`, the reason names the file and the fix)
  instead of training, so the suite's tables are still built and show those cells as failed.

Checks are cached by what they depend on (a suite of 300 runs has a handful of models and data sets).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from adamixbench.engine.config import RunConfig
from adamixbench.plan.spec import SpecError
from adamixbench.sources import pins


@dataclass(frozen=True)
class Problem:
    message: str
    resource: str | None = None  # MODEL / DATA: a missing backbone / unavailable data rather than a wrong value
    fetch: tuple[str, ...] = ()  # DATA: the tasks whose paper data `python -m adamixbench fetch-data` would fetch


MODEL, DATA = "model", "data"


def task_type_of(cfg: RunConfig) -> str:
    if cfg.family == "nlg":
        return "causal_lm"
    return "masked_lm" if cfg.prompt else "seq_cls"


class Validator:
    """Checks run configs; `problems(cfg)` lists what is wrong with one run."""

    def __init__(self, engine: bool = False):
        # engine=True: the engine about to train; it also checks the device and --out
        self.engine = engine
        self._cache: dict = {}

    def _cached(self, key, check) -> list[Problem]:
        if key not in self._cache:
            self._cache[key] = check()
        return self._cache[key]

    def problems(self, cfg: RunConfig) -> list[Problem]:
        found = self._cached(("task", cfg.task, cfg.family), lambda: check_task(cfg))
        if not found:
            found = found + self._cached(
                (
                    "method",
                    cfg.method,
                    json.dumps(cfg.method_params, sort_keys=True),
                    task_type_of(cfg),
                    cfg.inference,
                    tuple(cfg.eval_inference_modes),
                ),
                lambda: check_method(cfg),
            )
            found = found + check_selection(cfg) + check_data_source(cfg)
            if not found:
                found = found + self._cached(
                    (
                        "data",
                        cfg.task,
                        cfg.fewshot_k,
                        cfg.fewshot_split,
                        cfg.fewshot_protocol,
                        cfg.data_dir,
                        cfg.glue_data_dir,
                        cfg.data_source,
                        cfg.selection,
                        cfg.heldout_fraction,
                        cfg.max_train_samples,
                        cfg.max_eval_samples,
                        cfg.data_seed,
                    ),
                    lambda: check_data(cfg),
                )
        found = found + self._cached(("model", cfg.model), lambda: check_model(cfg.model))
        if self.engine:
            found = found + self._cached(("device", cfg.device), lambda: check_device(cfg.device)) + check_out(cfg.out)
        return found


def _problem(error: Exception, resource: str | None = None) -> list[Problem]:
    return [Problem(str(error).strip().strip('"'), resource)]


def check_task(cfg: RunConfig) -> list[Problem]:
    from adamixbench.tasks import unknown_task_message

    message = unknown_task_message(cfg.task, cfg.family)
    return [Problem(message)] if message else []


def check_method(cfg: RunConfig) -> list[Problem]:
    """The method exists (a plug-in imports), owns-checks its params, and has the requested routings."""
    from baselines import get_method

    try:
        method = get_method(cfg.method)
        params = method.check(cfg.method_params, task_type_of(cfg))
    except (ValueError, TypeError) as error:
        return _problem(error)
    except Exception as error:  # noqa: BLE001 - a plug-in's own validation hook failed
        return [Problem(f"method {cfg.method!r}: checking its params raised {type(error).__name__}: {error}")]
    requested = ([cfg.inference] if cfg.inference else []) + list(cfg.eval_inference_modes)
    if not requested:
        return []
    if method.inference_modes is None:
        flags = [
            name
            for name, value in (
                ("inference (--inference)", cfg.inference),
                ("eval_inference_modes (--eval-inference-modes)", cfg.eval_inference_modes),
            )
            if value
        ]
        return [
            Problem(
                f"option {' and '.join(flags)}: {requested} given, but method {cfg.method!r} has no "
                f"inference routing (AdaMix methods only); remove the option(s)"
            )
        ]
    allowed = list(method.inference_modes(params, task_type_of(cfg)))
    bad = [m for m in requested if m not in allowed]
    if bad:
        experts = sum(mode.startswith("fixed:") for mode in allowed)  # fixed:0 .. fixed:<num_experts - 1>
        return [
            Problem(
                f"option inference / eval_inference_modes: {bad} not available for method {cfg.method!r}"
                + (f" with num_experts={experts}" if experts else "")
                + f"; allowed: {', '.join(allowed)}"
            )
        ]
    return []


def check_selection(cfg: RunConfig) -> list[Problem]:
    if cfg.family == "nlg" and cfg.selection == "paper":
        return [
            Problem(
                "option selection (--selection): 'paper' (best epoch on the reported set) is not used for "
                "NLG, which decodes the last checkpoint upstream; use last or heldout"
            )
        ]
    return []


def check_data_source(cfg: RunConfig) -> list[Problem]:
    """The run's data_source is one its family has (few-shot has no hub source; GLUE from the hub takes no
    data_dir): adamixbench/tasks/data_source.py."""
    from adamixbench.tasks.data_source import resolve_data_source

    try:
        resolve_data_source(cfg)
    except ValueError as error:
        return _problem(error)
    return []


def _hub_data(cfg: RunConfig) -> bool:
    """The data come from the reachable hub at run time (nothing local to check). With the hub off, the
    loaders run (they read the local Hugging Face cache, or fail: unavailable data)."""
    from adamixbench.tasks.data_source import hub_disabled, uses_hub

    return uses_hub(cfg) and not hub_disabled()


def _load_splits(cfg: RunConfig) -> dict:
    """{split: rows} the run reads, through the engine's data loaders, untokenised (adamixbench.tasks: no
    model code is imported, which keeps `snakemake -n` quick)."""
    if cfg.family == "nlg":
        from adamixbench.tasks.nlg import load_nlg_splits

        train, report_split, report, held = load_nlg_splits(cfg)
        return {"train": train, report_split: report, **({"selection": held} if held is not None else {})}
    if cfg.family == "fewshot":
        from adamixbench.tasks.fewshot import load_fewshot_for_run

        train, evaluation = load_fewshot_for_run(cfg)
        return {"train": train, "validation": evaluation}
    from adamixbench.tasks.glue import get_task, load_glue_for_run

    return {split: load_glue_for_run(cfg, split) for split in ("train", *get_task(cfg.task).dev_splits)}


def check_data(cfg: RunConfig) -> list[Problem]:
    """Load the run's splits as the engine does: files exist, headers and rows parse (a header-only file
    is an error), and no split the run trains or reports on is empty."""
    from adamixbench.sources.paper_data import PaperDataMissing

    if _hub_data(cfg):
        return []
    try:
        splits = _load_splits(cfg)
    except PaperDataMissing as error:
        return [Problem(str(error), DATA, error.tasks)]
    except FileNotFoundError as error:
        return _problem(error, resource=DATA)
    except (ValueError, KeyError, OSError) as error:
        return [Problem(f"data of task {cfg.task}: {error}{_hub_hint(cfg)}", resource=DATA)]
    except Exception as error:  # noqa: BLE001 - `datasets` offline without the split in its cache, and the like
        return [Problem(f"data of task {cfg.task}: {type(error).__name__}: {error}{_hub_hint(cfg)}", resource=DATA)]
    empty = [name for name, rows in splits.items() if len(rows) == 0]
    if empty:
        return [
            Problem(
                f"data of task {cfg.task}: split(s) {empty} have no examples (data_dir "
                f"{cfg.data_dir or 'default'}); check the files",
                resource=DATA,
            )
        ]
    return []


def _hub_hint(cfg: RunConfig) -> str:
    from adamixbench.tasks.data_source import hub_disabled, resolve_data_source, uses_hub

    if not (uses_hub(cfg) and hub_disabled()):
        return ""
    return (
        f" (data_source {resolve_data_source(cfg)} reads the Hugging Face hub, which is off here: run once online, "
        f"`HF_HUB_OFFLINE=0 HF_DATASETS_OFFLINE=0 python -m adamixbench fetch-data --task {cfg.task}`, to fill the "
        f"local cache, or use data_source local)"
    )


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").upper() in {"1", "ON", "YES", "TRUE"}


def check_model(name: str) -> list[Problem]:
    """The backbone resolves without training: a packaged name, a local folder, or (offline) a hub name
    in the local Hugging Face cache."""
    from adamixbench.sources.packaged import PACKAGED, package_dir

    if name in PACKAGED:
        try:
            package_dir(name)
        except FileNotFoundError as error:
            return _problem(error, resource=MODEL)
        return []
    if name.startswith("standin:"):  # a tiny random stand-in (smoke runs), built on first use
        from adamixbench.sources.standins import architecture_of

        try:
            architecture_of(name)
        except ValueError as error:
            return [Problem(f"option model (--model): {error}")]
        return []
    if pins.is_pinned_id(name):  # a hub repository of the pins table (adamixbench/sources/pins.py)
        return _check_pinned_model(name)
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            return [
                Problem(
                    f"option model (--model): {name} is a local path without config.json; pass a folder "
                    f"written by save_pretrained (config.json, weights, tokenizer)",
                    resource=MODEL,
                )
            ]
        return []
    if name.startswith((".", "/", "~")) or name.count("/") > 1:  # a path, not an <org>/<name> hub id
        return [
            Problem(
                f"option model (--model): local path {name} does not exist; pass an existing folder "
                f"written by save_pretrained, a hub name, or {' / '.join(PACKAGED)}",
                resource=MODEL,
            )
        ]
    if not _offline():
        return []  # the hub resolves it when the run starts
    return _check_hub_cache(name)


def _check_pinned_model(name: str) -> list[Problem]:
    """A pinned hub backbone: not shadowed by a local folder; in the local mirror when one is set; offline,
    its pinned commit in the local Hugging Face cache."""
    try:
        repo_id = pins.hub_id(name)
        location = pins.hub_location(repo_id)
    except (pins.HubIdError, FileNotFoundError) as error:
        return [Problem(f"option model (--model): {error}", resource=MODEL)]
    if pins.mirror_root() is not None:
        if not (Path(location) / "config.json").is_file():
            return [Problem(f"option model (--model): the hub mirror {location} has no config.json", resource=MODEL)]
        return []
    if not _offline():
        return []
    return _check_hub_cache(repo_id, pins.hub_revision(repo_id))


def _check_hub_cache(name: str, revision: str | None = None) -> list[Problem]:
    """Offline, a hub name must be in the local Hugging Face cache (at `revision` when pinned)."""
    from huggingface_hub import try_to_load_from_cache

    try:
        cached = try_to_load_from_cache(name, "config.json", revision=revision)
    except ValueError as error:  # not a valid repo id
        return [
            Problem(
                f"option model (--model): {name!r} is neither a local folder nor a hub name ({error})", resource=MODEL
            )
        ]
    if isinstance(cached, str):
        return []
    at = f" at its pinned commit {revision}" if revision else ""
    args = f"'{name}', revision='{revision}'" if revision else f"'{name}'"
    return [
        Problem(
            f"option model (--model): {name} is not in the local Hugging Face cache{at} and HF_HUB_OFFLINE=1: "
            f'run once online (HF_HUB_OFFLINE=0 python -c "from transformers import AutoModel, '
            f'AutoTokenizer; AutoModel.from_pretrained({args}); AutoTokenizer.from_pretrained({args})") '
            f"or pass a local path",
            resource=MODEL,
        )
    ]


def check_device(device: str) -> list[Problem]:
    import torch

    if device in ("auto", "cpu"):
        return []
    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError):
        return [
            Problem(
                f"option device (--device): {device!r} is not a device; allowed: auto, cpu, cuda, cuda:<index>, mps"
            )
        ]
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            built = "torch was built without CUDA" if torch.version.cuda is None else "torch sees no GPU"
            return [
                Problem(
                    f"option device (--device): {device!r} but {built} (torch {torch.__version__}); use "
                    f"--device cpu or auto, or install a CUDA build of torch on a GPU machine"
                )
            ]
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            return [
                Problem(
                    f"option device (--device): {device!r} but torch sees {torch.cuda.device_count()} "
                    f"GPU(s) (cuda:0 .. cuda:{torch.cuda.device_count() - 1}); check CUDA_VISIBLE_DEVICES"
                )
            ]
        return []
    if parsed.type == "mps":
        return (
            []
            if torch.backends.mps.is_available()
            else [
                Problem(f"option device (--device): {device!r} but MPS is not available here; use --device cpu or auto")
            ]
        )
    return [
        Problem(f"option device (--device): {device!r} is not supported; allowed: auto, cpu, cuda, cuda:<index>, mps")
    ]


def check_out(out: str) -> list[Problem]:
    path = Path(out)
    if path.exists() and not path.is_dir():
        return [
            Problem(
                f"option out (--out): {out} is an existing file; the run folder must be a directory "
                f"(the record goes to <out>/metrics.json): pass another path"
            )
        ]
    return []


# --------------------------------------------------------------------------------------------------
# many specs (the pipeline)
# --------------------------------------------------------------------------------------------------
def run_name(spec: dict) -> str:
    return f"{spec.get('task')}/{spec.get('label') or spec.get('method')}/seed{spec.get('seed')}"


def validate_specs(specs: list[dict]) -> dict[Problem, list[str]]:
    """{problem: the runs that have it} over run specs (as adamixbench.plan.suite.expand writes them)."""
    validator = Validator(engine=False)
    found: dict[Problem, list[str]] = {}
    for spec in specs:
        try:
            problems = validator.problems(RunConfig(**spec, out="-"))
        except SpecError as error:
            problems = _problem(error)
        for problem in problems:
            found.setdefault(problem, []).append(run_name(spec))
    return found


def report(found: dict[Problem, list[str]], resources_fatal: bool) -> tuple[str, bool]:
    """(text, fatal) for the problems found: one entry per distinct problem with the runs it affects.
    A missing backbone is fatal when `resources_fatal`; unavailable data never is (those runs are recorded
    as failed, module docstring)."""
    lines, fatal = [], False
    for problem, runs in found.items():
        is_error = problem.resource is None or (problem.resource == MODEL and resources_fatal)
        fatal |= is_error
        shown = ", ".join(runs[:3]) + (f" and {len(runs) - 3} more" if len(runs) > 3 else "")
        lines.append(f"  - {'error' if is_error else 'warning'}: {problem.message}\n      runs: {shown}")
        if problem.resource == DATA:
            lines.append(
                f"      these {len(runs)} run(s) will be recorded as failed (data_unavailable) and shown as "
                f"failed in the tables; provide the data and delete their metrics.json to run them"
            )
    fetch = [task for problem in found for task in problem.fetch]
    if fetch:
        from adamixbench.sources.paper_data import fetch_command

        lines.append(f"  the paper's data missing above are fetched (once, verified) by: {fetch_command(fetch)}")
    return "\n".join(lines), fatal


def main(argv: list[str]) -> int:
    """`python -m adamixbench validate --specs FILE [--resources error|warn]`: exit 2 on an error, 0 (and the
    warnings on stderr) otherwise."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m adamixbench validate", description="Check run specs (a JSON list) before any job runs."
    )
    parser.add_argument("--specs", type=Path, required=True, help="JSON file: a list of run specs")
    parser.add_argument(
        "--resources",
        choices=("error", "warn"),
        default="error",
        help="missing backbones: errors (default) or warnings (dry-runs); unavailable data is always a warning",
    )
    args = parser.parse_args(argv)
    try:
        specs = json.loads(args.specs.read_text())
    except (OSError, json.JSONDecodeError) as error:
        print(f"error: --specs {args.specs}: {error}", file=sys.stderr)
        return 2
    found = validate_specs(specs)
    if not found:
        return 0
    text, fatal = report(found, args.resources == "error")
    print(
        f"{'invalid run specs' if fatal else 'warnings'} ({len(found)} problem(s) over {len(specs)} runs):\n{text}",
        file=sys.stderr,
    )
    return 2 if fatal else 0
