"""What the `snakemake` command line asks for, read while the workflow is parsed.

Pure Python (no torch). Three things the workflow must know before it builds the DAG, and which Snakemake
does not tell a workflow in a usable form:

* the --config values, typed: Snakemake reads a structured value (`defaults={max_steps: 2}`) with YAML's
  BaseLoader, so every scalar inside it is a string (`command_line_config`);
* whether the call only plans or inspects (dry-run, lint, report, DAG, ...): then a missing backbone or
  data file is a warning, not an error (`plans_only`; the executor is not known while the workflow is
  parsed);
* the folder of `--report <file>`, which Snakemake does not create (`make_report_folder`).
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from adamixbench.plan.suite import deep_merge


def command_line_config(config: dict, overrides) -> dict:
    """`config` with the --config values given as structures typed (their top-level scalars Snakemake
    already reads as int / float / bool)."""
    structured = {k: _typed(v) for k, v in dict(overrides or {}).items() if isinstance(v, (dict, list))}
    return deep_merge(config, structured)


def _typed(value):
    """Snakemake reads a structured --config value (`defaults={max_steps: 2}`) with YAML's BaseLoader, which
    keeps every scalar a string; read those scalars as YAML values (2 -> int, 5.0e-3 -> float, null)."""
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    if isinstance(value, str):
        try:
            return yaml.safe_load(value)
        except yaml.YAMLError:
            return value
    return value


#: the flags of a Snakemake call that runs no job
PLANNING_FLAGS = tuple(
    """-n --dry-run --dryrun --lint --report --unlock --summary --detailed-summary --dag --rulegraph --filegraph
    --list-rules --list -l --cleanup-metadata --list-changes --lc --list-input-changes --li --list-params-changes
    --lp --list-code-changes --list-untracked --archive --export-cwl""".split()
)


def plans_only(argv, out: str) -> bool:
    """Snakemake was asked to plan or inspect (dry-run, lint, report, DAG, ...), not to run jobs: then a
    missing backbone or data file is a warning (the workflow's executor is not known while it is parsed).
    `out` is the suite's output folder (<output_root>/<suite>): targets under it are runs or tables."""
    for arg in argv[1:]:
        if arg.split("=", 1)[0] in PLANNING_FLAGS:
            return True
        if re.fullmatch(r"-[a-zA-Z]*n[a-zA-Z]*", arg):  # -n combined with other short flags, e.g. -np
            return True
    # building only recipe cards (`make recipes`) trains nothing: it needs neither backbones nor data
    wanted = [a for a in argv[1:] if a.endswith(".md") or a.startswith(out) or a == "all"]
    return bool(wanted) and all(a.startswith("docs/recipes/") for a in wanted)


def make_report_folder(argv) -> None:
    """`snakemake --report reports/<suite>/report.html` needs the folder; Snakemake does not create it."""
    for i, arg in enumerate(argv):
        path = (
            argv[i + 1]
            if arg == "--report" and i + 1 < len(argv)
            else (arg.split("=", 1)[1] if arg.startswith("--report=") else None)
        )
        if path and path.endswith((".html", ".zip")):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
