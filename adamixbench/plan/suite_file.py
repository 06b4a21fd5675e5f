"""From Snakemake's `config` to the resolved suite the workflow plans: which suite file, the command line's
overrides merged on top, validated, models mapped, smoke mode applied.

Pure Python (no torch): workflow/rules/common.smk calls `load_suite` while it builds the DAG. The suite
comes from one of two places:

* `--config suite=<name>` (default `mini`, config/config.yaml): config/suites/<name>.yaml, with the other
  keys of `config` (`--config 'defaults={max_steps: 2}'`) deep-merged on top;
* `--configfile <your suite file>`: `config` itself holds `experiments`. Such a file must name its suite,
  else it would inherit `suite: mini` from config/config.yaml and write into results/mini
  (`check_suite_files`).

A file that cannot be read, is not YAML or is not a mapping fails with the file, line and column.
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from adamixbench.plan.smoke import apply_smoke
from adamixbench.plan.suite import ConfigError, deep_merge
from adamixbench.plan.suite_validation import SCHEMA_PATH, validate_suite
from adamixbench.sources.paths import REPO_ROOT

SUITES_DIR = REPO_ROOT / "config" / "suites"


def read_yaml(path: Path) -> dict:
    """A YAML mapping; a syntax error names the file, line and column."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except OSError as error:
        raise ConfigError(f"{path}: cannot read it ({error.strerror})") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}, line {mark.line + 1}, column {mark.column + 1}" if mark else str(path)
        raise ConfigError(f"{where}: YAML syntax error: {getattr(error, 'problem', None) or error}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: a suite file must be a YAML mapping (suite:, methods:, experiments:, ...), "
            f"got a {type(data).__name__}"
        )
    return data


def check_suite_files(configfiles) -> None:
    """A suite file given with --configfile must name its suite: otherwise it would inherit `suite: mini`
    from config/config.yaml and write into results/mini."""
    for path in configfiles or []:
        data = read_yaml(Path(path))
        if "experiments" in data and "suite" not in data:
            raise ConfigError(
                f"{path}: the suite file has no `suite:` key; add `suite: <name>` (its outputs go to "
                f"<output_root>/<name>/)"
            )


def load_suite(config: dict, suites_dir: Path = SUITES_DIR, schema_path: Path = SCHEMA_PATH) -> dict:
    """The resolved suite: `config` itself when it holds `experiments` (e.g. --configfile a suite file),
    else <suites_dir>/<suite>.yaml with `config`'s other keys merged on top (deep merge: `--config
    'defaults={max_steps: 2}'` changes max_steps and keeps the suite's other defaults). Validated
    (adamixbench/plan/suite_validation.py), then `output_root` and `analysis` defaulted, backbones mapped
    through `models`, and shrunk to a smoke run when `smoke` is true (adamixbench/plan/smoke.py)."""
    cfg = copy.deepcopy(dict(config))
    if "experiments" not in cfg:
        name = cfg.get("suite", "mini")
        path = Path(suites_dir) / f"{name}.yaml"
        if not path.exists():
            known = sorted(p.stem for p in Path(suites_dir).glob("*.yaml"))
            raise ConfigError(
                f"config key suite: unknown suite {name!r}; allowed: {known} (or --configfile <your suite file>)"
            )
        cfg = deep_merge(read_yaml(path), {k: v for k, v in cfg.items() if k != "suite"})
    if isinstance(cfg.get("smoke"), str):  # `--config smoke=true` arrives as a string
        cfg["smoke"] = {"true": True, "false": False}.get(cfg["smoke"].lower(), cfg["smoke"])
    validate_suite(cfg, schema_path)
    cfg.setdefault("output_root", "results")
    cfg.setdefault("analysis", {})
    models = cfg.pop("models", {})
    for exp in cfg["experiments"]:
        exp["model"] = models.get(exp["model"], exp["model"])
    if cfg.pop("smoke", False):
        cfg = apply_smoke(cfg)
    return cfg
