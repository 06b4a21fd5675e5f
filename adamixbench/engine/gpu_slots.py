"""Where a training run goes on this machine's GPUs: several runs share a GPU when their memory fits
(docs/PIPELINE.md, "GPUs").

Snakemake's `gpu_mem_mb` resource bounds the SUM of the memory the running jobs declare, but it does not
know that memory comes in GPUs: four runs of 3 GB fit into 2 x 4 GB, yet not two to a GPU. So rule
train's script calls `gpu_placement` around its engine, which picks the GPU(s) and sets
CUDA_VISIBLE_DEVICES.

The ledger is lock files, not a server or a state file: each GPU's memory is cut into GPU_SLOT_MB slots,
one file each under .snakemake/gpu-locks, and a run holds an exclusive `flock` on ceil(mem_mb /
GPU_SLOT_MB) slots of each of its GPUs while its engine runs. The kernel drops the locks when the process
ends, however it ends (kill -9, OOM, a crash), so no reservation ever goes stale. Placement itself happens
under one more lock (placement.lock), so two runs never pick the same free slots: the run goes to the
GPUs with the MOST memory free (spreading runs, so each gets compute), and waits while none has enough.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path

GPU_SLOT_MB = 1024  # granularity of the ledger (one lock file per GiB of a GPU)
GPU_LOCK_DIR = Path(".snakemake/gpu-locks")  # relative to the workflow's working directory
WAIT_S = 2  # between two looks at the ledger while no GPU has room


def local_gpus() -> dict[str, int]:
    """{GPU index: total memory in MB} of this machine (nvidia-smi; none without a driver)."""
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=index,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    return {
        index.strip(): int(float(total))
        for index, total in (line.split(",")[:2] for line in out.splitlines() if line.count(",") >= 1)
    }


@contextlib.contextmanager
def gpu_placement(n_gpus: int, mem_mb: int, env: dict, lock_dir: Path = GPU_LOCK_DIR):
    """Pin the run to `n_gpus` local GPUs with `mem_mb` of memory free on each: set CUDA_VISIBLE_DEVICES in
    `env` (the engine's environment) and hold the GPUs' slots until the block ends. Nothing to do when
    the run asks for no GPU, or a scheduler (Slurm) or the user already set CUDA_VISIBLE_DEVICES. A run
    that can never fit (fewer GPUs than it asks for, or more memory than any GPU has) exits at once with
    the figures (SystemExit: the rule fails with that message)."""
    if n_gpus <= 0 or os.environ.get("CUDA_VISIBLE_DEVICES") or os.environ.get("SLURM_JOB_ID"):
        yield
        return
    gpus = local_gpus()
    if len(gpus) < n_gpus:
        sys.exit(f"rule train asks for {n_gpus} GPU(s) but nvidia-smi lists {len(gpus)}")
    need = max(1, -(-mem_mb // GPU_SLOT_MB))
    slots = {gid: total // GPU_SLOT_MB for gid, total in gpus.items()}
    if sum(n >= need for n in slots.values()) < n_gpus:
        sys.exit(
            f"rule train: the run needs {mem_mb} MB on each of {n_gpus} GPU(s), but the GPUs have "
            f"{sorted(gpus.values())} MB; lower its batch size or max_seq_len, or set the suite's "
            f"`resources.gpu_mem_mb` if the estimate is too high (docs/PIPELINE.md, GPUs)"
        )
    lock_dir.mkdir(parents=True, exist_ok=True)
    chosen, held = _wait_for_slots(slots, need, n_gpus, lock_dir, f"{mem_mb} MB free on {n_gpus} GPU(s)")
    env["CUDA_VISIBLE_DEVICES"] = ",".join(chosen)
    try:
        yield
    finally:
        for fh in held:
            fh.close()


def _wait_for_slots(slots: dict, need: int, n_gpus: int, lock_dir: Path, what: str) -> tuple[list, list]:
    """(the chosen GPUs, the locked slot files): `need` slots on each of the `n_gpus` GPUs with the most
    free slots, taken under the placement lock; tries again every WAIT_S seconds while no GPUs have room."""
    waited = False
    while True:
        with open(lock_dir / "placement.lock", "w") as mutex:
            fcntl.flock(mutex, fcntl.LOCK_EX)
            free = {gid: _free_slots(gid, n, lock_dir) for gid, n in slots.items()}
            chosen = sorted((g for g in free if len(free[g]) >= need), key=lambda g: -len(free[g]))[:n_gpus]
            held = [fh for g in chosen for fh in free[g][:need]] if len(chosen) == n_gpus else []
            keep = {id(fh) for fh in held}
            for fh in (fh for g in free for fh in free[g] if id(fh) not in keep):
                fh.close()
        if held:
            return chosen, held
        if not waited:
            print(f"[train] waiting for {what}", file=sys.stderr, flush=True)
            waited = True
        time.sleep(WAIT_S)


def _free_slots(gid: str, slots: int, lock_dir: Path) -> list:
    """Lock every free memory slot of GPU `gid` (non-blocking); the open, locked files."""
    held = []
    for k in range(slots):
        fh = open(lock_dir / f"gpu{gid}.slot{k}.lock", "w")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            held.append(fh)
        except BlockingIOError:
            fh.close()
    return held
