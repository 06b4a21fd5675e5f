"""Run records: provenance, cost measurement and atomic writes (schema in docs/CONTRACTS.md)."""

from __future__ import annotations

import json
import math
import os
import platform
import resource
import socket
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import torch

from adamixbench.sources.paths import REPO_ROOT

SCHEMA_VERSION = 2  # 2: "spec" (the run spec) replaces "config"; suite, experiment, label, failure_class added

# A record's `status` is "ok" or "failed"; a failed record says why in `failure_class` (one of these) and
# `failure_reason` (the details), and keeps where it stopped in `failed_at` ({step, epoch, last_losses}).
# Bad input is not a class: it writes no record (the engine exits 2 before any work). Neither is a
# killed/preempted run: it writes a checkpoint and no record (exit 75), and the rerun resumes it.
FAILURE_CLASSES = {
    "non_finite_loss": "the training loss became NaN or infinite (diverged)",
    "undefined_metric": "training finished but the primary metric is undefined (e.g. constant predictions)",
    "crash": "an exception during training or evaluation (the record keeps its traceback)",
    "data_unavailable": "the task's data files are missing, unreadable or empty: the run never started",
}
# Files the engine writes get the permissions the user's umask allows (group-readable with the usual 022 /
# 002), as files written by open() would: tempfile.mkstemp alone would make them owner-only (0600).
_UMASK = os.umask(0)
os.umask(_UMASK)
FILE_MODE = 0o666 & ~_UMASK
DIR_MODE = 0o777 & ~_UMASK
PACKAGES = (
    "torch",
    "transformers",
    "peft",
    "adapters",
    "datasets",
    "accelerate",
    "numpy",
    "scikit-learn",
    "scipy",
    "sacrebleu",
    "adamix-suite",
)
#: "own process", or "warm engine fork" once the warm engine (adamixbench/engine/server.py) has forked this
#: run: the record's provenance says which (same code and numbers; a fork's peak memory counts only the
#: pages it touched, not the imports)
ENGINE_PROCESS = "own process"


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _git(*args: str) -> str | None:
    try:
        return subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def _code_state() -> tuple[str | None, bool | None]:
    """The commit and dirty flag of the checkout this process imported its code from."""
    status = _git("status", "--porcelain", "--untracked-files=no")
    return _git("rev-parse", "HEAD"), (bool(status) if status is not None else None)


# Read ONCE, when the engine is imported: the pre-forked engine server (engine/server.py) imports the code
# and then forks a process per run, possibly hours later; a checkout in between changes the files, not the
# code those runs execute, so their records must name the commit that was imported.
CODE_SHA, CODE_DIRTY = _code_state()


def versions() -> dict[str, str | None]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    found["python"] = platform.python_version()
    return found


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return (
        f"cpu ({platform.processor() or platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} threads)"
    )


def peak_memory_mb(device: torch.device) -> float:
    """Peak accelerator memory when on GPU, else the process's peak resident set size."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def provenance(device: torch.device | None, started_at: str, data: dict | None = None) -> dict:
    """Where and with what the run ran; `device` None: it never started (e.g. its data were unavailable).
    `data`: what its numbers were computed from (adamixbench.tasks.data_provenance: source, files, commit);
    `backbone`: the hub models this process read, each with the commit it read and the pinned one (empty for
    packaged weights, stand-ins and local folders)."""
    from adamixbench.sources.pins import hub_reads

    return {
        "versions": versions(),
        "git_sha": CODE_SHA,
        "git_dirty": CODE_DIRTY,
        "device": device_name(device) if device is not None else None,
        "hostname": socket.gethostname(),
        "started_at": started_at,
        "finished_at": now(),
        "command": " ".join([Path(sys.executable).name, "-m", "adamixbench", *sys.argv[1:]]),
        "engine_process": ENGINE_PROCESS,
        "data": data,
        "backbone": [read for read in hub_reads() if "model" in read["what"]],
    }


def _json_safe(value):
    """NaN/inf are not JSON: record them as null (a failed score is a status, not a number)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def write_json_atomic(path: Path, data: dict) -> None:
    """Write to a temporary file in the same directory, fsync, then rename: never a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "w") as handle:
            json.dump(_json_safe(data), handle, indent=2, sort_keys=False, allow_nan=False)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
