"""`python -m adamixbench fetch-data`: bring the paper's data of some tasks (or of a suite's tasks) here, once.

    python -m adamixbench fetch-data --task e2e --task webnlg --task dart
    python -m adamixbench fetch-data --suite nlg_gpt2_medium          # = make fetch-data

NLG (E2E, WebNLG, DART): microsoft/LoRA's files at the pinned commit, downloaded into the cache under the data
root and verified by git blob id (adamixbench/sources/paper_data.py); files already there are verified, the
shipped E2E dev / test files are copied. GLUE (data_source paper / hub = the hub's nyu-mll/glue at its pinned
commit): read once through `datasets`, which fills the local Hugging Face cache, when the hub is on
(``HF_HUB_OFFLINE=0 HF_DATASETS_OFFLINE=0``); offline the command says so. Few-shot: the paper's splits ship
in data/fewshot (nothing to fetch). Exit 0 when everything asked for is here, 1 otherwise, 2 for bad input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from adamixbench.sources import paper_data
from adamixbench.sources.paths import REPO_ROOT

SUITES_DIR = REPO_ROOT / "config" / "suites"


def suite_tasks(suite: str) -> list[str]:
    """The tasks of a suite's experiments (a suite name under config/suites, or a suite file), in order."""
    path = Path(suite)
    if not path.is_file():
        path = SUITES_DIR / f"{suite}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in SUITES_DIR.glob("*.yaml"))
        raise ValueError(f"--suite {suite}: no such suite file ({path}); suites: {', '.join(known)}")
    cfg = yaml.safe_load(path.read_text()) or {}
    tasks = [task for exp in cfg.get("experiments", []) for task in exp.get("tasks", [])]
    return list(dict.fromkeys(tasks))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m adamixbench fetch-data",
        description="Fetch the paper's data of tasks or suites once, verified (docs/PIPELINE.md, 'Data sources').",
    )
    parser.add_argument("--task", action="append", default=[], help="a task (repeat): e2e, webnlg, dart, a GLUE task")
    parser.add_argument("--suite", action="append", default=[], help="a suite's tasks (repeat), e.g. nlg_gpt2_medium")
    parser.add_argument(
        "--split",
        action="append",
        choices=paper_data.SPLITS,
        help="NLG splits to fetch (repeat; default: all three)",
    )
    parser.add_argument(
        "--base-url",
        default=None,
        help=f"raw-content host serving <commit>/<path> (default: ${paper_data.BASE_URL_ENV} or "
        f"{paper_data.DEFAULT_BASE_URL})",
    )
    return parser


def _fetch_glue(tasks: list[str]) -> bool:
    """Read each GLUE task's splits from the hub once (fills the local Hugging Face cache); False when it failed."""
    from adamixbench.tasks.data_source import hub_disabled
    from adamixbench.tasks.glue import get_task, load_glue_hub

    if hub_disabled():
        print(
            f"GLUE {', '.join(tasks)}: data_source paper / hub read nyu-mll/glue from the hub, which is off here; "
            f"run `HF_HUB_OFFLINE=0 HF_DATASETS_OFFLINE=0 python -m adamixbench fetch-data "
            f"{' '.join(f'--task {t}' for t in tasks)}` (data_source local reads data/glue instead)",
            file=sys.stderr,
        )
        return False
    for task in tasks:
        for split in get_task(task).splits:
            rows = len(load_glue_hub(task, split))
            print(f"ok       nyu-mll/glue {task}/{split} ({rows:,} rows, in the Hugging Face cache)")
    return True


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    from adamixbench.tasks import FEWSHOT_TASKS, GLUE_TASKS

    try:
        tasks = list(dict.fromkeys([*args.task, *(t for s in args.suite for t in suite_tasks(s))]))
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    unknown = [t for t in tasks if t not in paper_data.TASKS and t not in GLUE_TASKS and t not in FEWSHOT_TASKS]
    if not tasks or unknown:
        problem = f"unknown task(s) {unknown}" if unknown else "no task"
        print(f"error: {problem}; give --task (e2e, webnlg, dart, a GLUE task) or --suite", file=sys.stderr)
        return 2
    nlg = [t for t in tasks if t in paper_data.TASKS]
    glue = [t for t in tasks if t in GLUE_TASKS]
    ok = True
    if nlg:
        try:
            paper_data.fetch(paper_data.files_of(nlg, args.split or paper_data.SPLITS), base=args.base_url)
        except Exception as error:  # noqa: BLE001 - the network, a mismatch: say which file and stop
            print(f"error: {type(error).__name__}: {error}", file=sys.stderr)
            ok = False
    if glue:
        ok = _fetch_glue(glue) and ok
    shipped = [t for t in tasks if t in FEWSHOT_TASKS and t not in glue]
    if shipped:
        print(f"few-shot {', '.join(shipped)}: the paper's splits ship in data/fewshot (nothing to fetch)")
    return 0 if ok else 1
