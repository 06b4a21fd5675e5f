"""The run matrix of a resolved suite and what each run needs besides its run spec: the engine's data
folders, its re-scoring options, and one check of every spec by the engine before any job starts.

Pure Python (no torch): workflow/rules/common.smk builds the matrix while it builds the DAG; the check runs
the engine in a subprocess (`python -m adamixbench validate`), so the DAG-building process never imports
torch and a dry-run stays fast.

A run is keyed (task, method label, seed); its spec is the flat object of adamixbench/plan/spec.py, which
identifies the run (a change reruns it). Machine paths (the suite's `data_dirs`) and scoring options are
not part of it: moving the data or adding an inference mode must not retrain.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from adamixbench.plan.suite import ConfigError, SuiteError, expand
from adamixbench.sources.paths import REPO_ROOT
from adamixbench.tasks import family_of

#: where a clean validation of a set of specs is remembered (relative to the workflow's working directory)
VALIDATED_DIR = Path(".snakemake") / "adamix-validated"


def build_runs(cfg: dict) -> dict:
    """{(task, label, seed): run spec} (adamixbench/plan/suite.py), its problems as ConfigError."""
    try:
        return expand(cfg)
    except SuiteError as error:
        raise ConfigError(str(error)) from None


def engine_data_dirs(run: dict, data_dirs: dict) -> dict:
    """{data_dir, glue_data_dir} of one run from the suite's `data_dirs` (machine paths: engine options,
    not part of the run spec that identifies the run). NLG tasks have a folder each (data_dirs.e2e, ...),
    the other families one per family; few-shot runs also read GLUE (their test split)."""
    dirs = data_dirs or {}
    family = family_of(run["task"], run["fewshot_k"])
    found = {"data_dir": dirs.get(run["task"] if family == "nlg" else family)}
    if family == "fewshot":
        found["glue_data_dir"] = dirs.get("glue")
    return {k: v for k, v in found.items() if v}


def engine_data_args(run: dict, data_dirs: dict) -> list:
    """`--data-dir` / `--glue-data-dir` flags of one run (engine_data_dirs)."""
    dirs = engine_data_dirs(run, data_dirs)
    return [x for name, value in dirs.items() for x in (f"--{name.replace('_', '-')}", value)]


def score_options(run: dict, experiments: list) -> tuple:
    """(AdaMix inference modes, splits) to score again from the saved weights (rule `score`) for one run;
    both empty = nothing to re-score."""
    experiment = next(e for e in experiments if e["name"] == run["experiment"])
    return list(run.get("eval_inference_modes", [])), list(experiment.get("score_splits", []))


def wildcard_choice(values) -> str:
    """A wildcard constraint matching exactly these values: escaped, longest first (so that `lora` never
    matches the start of `lora[fail]`)."""
    return "|".join(re.escape(v) for v in sorted(values, key=len, reverse=True))


def validate_runs(runs: dict, suite: dict, resources: str, validated_dir: Path = VALIDATED_DIR) -> None:
    """Every run spec through the engine's own checks (`python -m adamixbench validate`), once, in a
    subprocess so that this process never imports torch: method params (each method's validate hook),
    plug-ins, inference modes against num_experts, data files, backbones offline. `resources` is "warn"
    when Snakemake only plans (a dry-run, `-n`, still plans the work with a missing backbone) and "error"
    when it runs jobs (a missing backbone stops it). Unavailable data of a task are a warning naming its
    runs: their train jobs write failed records (data_unavailable), so the other runs go on and the tables
    show those cells as failed. Problems raise ConfigError naming the suite; warnings go to stderr."""
    if not runs:
        return
    data_dirs = suite.get("data_dirs", {})
    specs = json.dumps([{**spec, **engine_data_dirs(spec, data_dirs)} for spec in runs.values()], sort_keys=True)
    stamp = validated_dir / _validation_key(specs, resources)
    if stamp.exists():
        return
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="adamix-specs-", delete=False) as fh:
        fh.write(specs)
    try:
        command = [sys.executable, "-m", "adamixbench", "validate", "--specs", fh.name, "--resources", resources]
        result = subprocess.run(command, capture_output=True, text=True)
    finally:
        os.unlink(fh.name)
    if result.returncode != 0:
        raise ConfigError(f"suite '{suite['suite']}': {result.stderr.strip() or result.stdout.strip()}")
    if result.stderr.strip():
        print(result.stderr.strip(), file=sys.stderr)  # warnings: not remembered, shown every time
    else:
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.touch()


def _validation_key(specs: str, resources: str) -> str:
    """A clean result is remembered (<validated_dir>/<key>) for the same specs, checker code and
    environment, so repeated dry-runs and reruns skip the subprocess. Safe: the engine checks its method,
    backbone, device and data again before it trains, with the same messages."""
    code = sorted(
        (str(p), p.stat().st_mtime_ns)
        for d in ("adamixbench", "baselines", "adamix")
        for p in (REPO_ROOT / d).rglob("*.py")
    )
    env = [os.environ.get(v) for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "HF_HOME", "PYTHONPATH")]
    return hashlib.sha256(json.dumps([specs, code, env, resources]).encode()).hexdigest()[:32]
