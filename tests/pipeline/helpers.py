"""Run the workflow in a scratch directory (its own .snakemake/, so tests never lock the checkout)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SNAKEFILE = REPO / "Snakefile"
FAKE_ENGINE = Path(__file__).resolve().parent / "fake_engine"


def snakemake_command(args: list[str], workdir: Path) -> tuple[list[str], dict]:
    """(command, environment) of a Snakemake run of this workflow in `workdir`, offline."""
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(SNAKEFILE),
        "--directory",
        str(workdir),
        "--workflow-profile",
        str(REPO / "profiles" / "default"),
        *args,
    ]
    return cmd, {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


def snakemake(
    args: list[str], workdir: Path, env: dict | None = None, timeout: int = 600
) -> subprocess.CompletedProcess:
    cmd, base_env = snakemake_command(args, workdir)
    return subprocess.run(cmd, capture_output=True, text=True, env={**base_env, **(env or {})}, timeout=timeout)


def fake_engine_env(calls_file: Path) -> dict:
    path = os.environ.get("PYTHONPATH", "")
    return {
        "PYTHONPATH": f"{FAKE_ENGINE}{os.pathsep}{path}" if path else str(FAKE_ENGINE),
        "FAKE_ENGINE_CALLS": str(calls_file),
        "ADAMIX_ENGINE_SERVER": "0",  # the fake engine has no `serve`: every run spawns it
    }
