"""Rule `train`: run ONE engine command for one (task, method label, seed) and check its run record.

Thin on purpose: the run spec comes from the suite's expansion (adamixbench/plan/suite.py, params.spec); this
script writes it to <run dir>/spec.json, sets the environment (offline by default, one BLAS thread per
Snakemake thread, a place on a local GPU by memory) and calls `python -m adamixbench train --spec <run dir>/spec.json
--out <run dir>`, logging to the rule's log file. The engine's exit code says what happened (cli.py):
0 record written (status ok or failed), 2 bad input (nothing trained or written), 75 stopped by SIGTERM /
SIGINT after writing a checkpoint, a negative code a kill by that signal; anything else is a crash of
the engine itself. After 75 or a kill, rerunning the same Snakemake command resumes from the checkpoint.

The engine never outlives the workflow: it gets SIGTERM when this script dies (Linux PR_SET_PDEATHSIG),
SIGTERM / SIGINT sent to this script are forwarded to it, and a watchdog stops it when Snakemake itself
disappears (a kill -9 of Snakemake kills neither the shell nor this script that it started).
"""

import contextlib
import ctypes
import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from adamixbench.engine.cli import EXIT_INTERRUPTED
from adamixbench.engine.server import STOP_GRACE_S, ServerRun, alive, find_socket

sm = snakemake  # noqa: F821 (injected by Snakemake)
record = Path(sm.output.record)
run_dir = record.parent
log = Path(sm.log[0])
log.parent.mkdir(parents=True, exist_ok=True)

env = dict(os.environ)
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    env[var] = str(sm.threads)


GPU_SLOT_MB = 1024  # granularity of the local GPU memory ledger (one lock file per GiB of a GPU)
GPU_LOCK_DIR = Path(".snakemake/gpu-locks")


def _local_gpus() -> dict[str, int]:
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


def _free_slots(gid: str, slots: int) -> list:
    """Lock every free memory slot of GPU `gid` (non-blocking); the open, locked files."""
    held = []
    for k in range(slots):
        fh = open(GPU_LOCK_DIR / f"gpu{gid}.slot{k}.lock", "w")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            held.append(fh)
        except BlockingIOError:
            fh.close()
    return held


@contextlib.contextmanager
def gpu_placement(n_gpus: int, mem_mb: int):
    """Pin the run to `n_gpus` local GPUs with `mem_mb` of memory free on each, so that several runs share
    a GPU when they fit (docs/PIPELINE.md, "GPUs"). Each GPU's memory is a ledger of GPU_SLOT_MB slots,
    one lock file each under .snakemake/gpu-locks: a run holds ceil(mem_mb / GPU_SLOT_MB) slot locks of
    each of its GPUs while its engine runs, and the kernel frees them when this script ends, however it
    ends. Placement happens under one placement lock: the run goes to the GPUs with the MOST memory free
    (spreading runs, so each gets compute), and waits while none has enough. Snakemake's `gpu_mem_mb`
    resource bounds the sum over all runs; this decides the GPU. Nothing to do when a scheduler (Slurm)
    or the user already set CUDA_VISIBLE_DEVICES."""
    if n_gpus <= 0 or os.environ.get("CUDA_VISIBLE_DEVICES") or os.environ.get("SLURM_JOB_ID"):
        yield
        return
    gpus = _local_gpus()
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
    GPU_LOCK_DIR.mkdir(parents=True, exist_ok=True)
    waited = False
    while True:
        with open(GPU_LOCK_DIR / "placement.lock", "w") as mutex:
            fcntl.flock(mutex, fcntl.LOCK_EX)
            free = {gid: _free_slots(gid, n) for gid, n in slots.items()}
            chosen = sorted((g for g in free if len(free[g]) >= need), key=lambda g: -len(free[g]))[:n_gpus]
            held = [fh for g in chosen for fh in free[g][:need]] if len(chosen) == n_gpus else []
            keep = {id(fh) for fh in held}
            for fh in (fh for g in free for fh in free[g] if id(fh) not in keep):
                fh.close()
        if held:
            break
        if not waited:
            print(f"[train] waiting for {mem_mb} MB free on {n_gpus} GPU(s)", file=sys.stderr, flush=True)
            waited = True
        time.sleep(2)
    env["CUDA_VISIBLE_DEVICES"] = ",".join(chosen)
    try:
        yield
    finally:
        for fh in held:
            fh.close()


def write_spec(path: Path, spec: dict) -> None:
    """Atomically (a reader never sees half a file); mode from the umask, as every file the engine writes."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(spec, indent=2) + "\n")
    os.replace(tmp, path)


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _die_with_parent() -> None:
    """preexec_fn of the engine: the kernel sends it SIGTERM when this script exits, however it exits."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the watchdog and the signal forwarding still apply
        pass


def _ancestors(until_snakemake: bool) -> list[int]:
    """This script's ancestor pids, nearest first: up to the first Snakemake process (the one that runs
    the job; the shell it starts the script with is in between), or up to 8 of them."""
    pids, pid = [], os.getppid()
    for _ in range(8):
        if pid <= 1:
            break
        pids.append(pid)
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            break
        if until_snakemake and b"snakemake" in cmdline:
            break
        pid = int(stat.rsplit(")", 1)[1].split()[1])
    return pids


def _workflow_pids() -> list[int]:
    """The processes between this script and the Snakemake that runs the job: when any of them is gone,
    the workflow was killed."""
    return _ancestors(until_snakemake=True)


def _stop(proc) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            proc.kill()


def start_engine(argv: list[str], log_handle):
    """The engine process: a fork of the workflow's warm engine (adamixbench/engine/server.py) when the
    Snakemake that runs this job started one and the run is a single process, else a new process."""
    server = find_socket(_ancestors(until_snakemake=False)) if argv[1:3] == ["-m", "adamixbench"] else None
    if server is not None:
        try:
            run = ServerRun(server, argv[3:], env, log)
            log_handle.write(f"# engine: forked by the warm engine {server} (pid {run.pid})\n")
            log_handle.flush()
            return run
        except OSError as error:  # gone since: start the engine as its own process
            log_handle.write(f"# warm engine {server} unavailable ({error}); starting the engine\n")
            log_handle.flush()
    return subprocess.Popen(argv, stdout=log_handle, stderr=subprocess.STDOUT, env=env, preexec_fn=_die_with_parent)


def run_engine(argv: list[str], log_handle) -> int:
    proc = start_engine(argv, log_handle)

    def forward(signum, frame):
        if proc.poll() is None:
            proc.send_signal(signum)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, forward)
    watched = _workflow_pids()

    def watchdog():
        while proc.poll() is None:
            if not all(alive(pid) for pid in watched):
                _stop(proc)
                return
            time.sleep(1)

    threading.Thread(target=watchdog, daemon=True).start()
    return proc.wait()


def exit_message(rc: int) -> str:
    """What a non-zero exit of the engine means (cli.py's exit codes)."""
    resume = (
        f"rerun the same snakemake command to resume from {run_dir / 'checkpoint'} (if Snakemake itself was "
        f"killed, its lock is stale: run `snakemake --unlock` with the same arguments first)"
    )
    if rc == 2:
        return "bad input; nothing trained, nothing written"
    if rc == EXIT_INTERRUPTED:
        return f"killed/preempted: stopped by SIGTERM/SIGINT after writing a checkpoint; {resume}"
    if rc < 0:
        name = signal.Signals(-rc).name if -rc in signal.Signals._value2member_map_ else f"signal {-rc}"
        return (
            f"killed/preempted: killed by {name} (out of memory, a time limit, preemption or a user); {resume} "
            f"(from its latest checkpoint, if it wrote one)"
        )
    return "the engine crashed before writing a record"


run_dir.mkdir(parents=True, exist_ok=True)
spec_file = run_dir / "spec.json"
write_spec(spec_file, dict(sm.params.spec))
n_gpus = int(sm.resources.get("gpu", 0))
# A run given several GPUs (`--set-resources train:gpu=4`) runs on as many processes, one per GPU
# (adamixbench/engine/distributed.py); rank 0 writes the record.
launcher = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(n_gpus)] if n_gpus > 1 else []
argv = [
    sys.executable,
    *launcher,
    "-m",
    "adamixbench",
    "train",
    "--spec",
    str(spec_file),
    "--out",
    str(run_dir),
    *sm.params.engine_args,
]  # data folders (suite `data_dirs`)
name = f"{sm.wildcards.task}/{sm.wildcards.label}/seed{sm.wildcards.seed}"
t0 = time.time()
with gpu_placement(n_gpus, int(sm.resources.get("gpu_mem_mb", 0))), open(log, "a") as fh:
    fh.write("$ " + " ".join(argv) + "\n")  # appended: the log of a resumed run keeps the interrupted part
    placed = {k: sm.resources.get(k) for k in ("gpu", "gpu_mem_mb", "gres") if sm.resources.get(k)}
    fh.write(f"# resources {placed}, CUDA_VISIBLE_DEVICES={env.get('CUDA_VISIBLE_DEVICES', '(unset)')}\n")
    fh.flush()
    rc = run_engine(argv, fh)
took = time.time() - t0
if rc != 0:
    tail = "".join(log.read_text(errors="replace").splitlines(keepends=True)[-25:])
    sys.exit(f"[train] {name}: engine exited with code {rc} ({exit_message(rc)}). Log {log}:\n{tail}")
if not record.exists():
    sys.exit(f"[train] {name}: the engine exited 0 but wrote no {record}; see {log}")
rec = json.loads(record.read_text())
status = rec.get("status")
score = rec.get("scores", {}).get(rec.get("primary_metric"), float("nan")) if status == "ok" else None
msg = (
    f"[train] {name}: ok, {rec.get('primary_metric')}={score:.2f}"
    if status == "ok"
    else f"[train] {name}: FAILED [{rec.get('failure_class')}] ({rec.get('failure_reason')})"
)
if rec.get("resumed_from_step"):
    msg += f" (resumed from step {rec['resumed_from_step']})"
print(f"{msg} [{took:.0f} s]", file=sys.stderr, flush=True)
