"""Run ONE engine command for the pipeline so that it never outlives the workflow, and say in words how it
ended.

Why: Snakemake runs rule train's script, which runs the engine. When Snakemake goes away, the engine must
stop too, and stop cleanly (SIGTERM: it finishes the optimiser step, writes a checkpoint, exits 75), or a
rerun would find a second engine writing into the same run folder. Three ways Snakemake can go, three
guards (docs/PIPELINE.md, "Resuming, preemption and re-scoring"):

* the script itself dies (any way, kill -9 included): the engine was started with Linux PR_SET_PDEATHSIG,
  so the kernel sends it SIGTERM (`_die_with_parent`);
* the script gets SIGTERM / SIGINT (Ctrl-C, Slurm preemption, Snakemake cancelling the job): it forwards
  the signal to the engine and waits for it (`run_engine`);
* Snakemake is killed with -9: that kills neither the shell nor the script it started, so a watchdog
  thread watches the processes between the script and Snakemake and stops the engine when one is gone.

When the Snakemake that runs the job started a warm engine (adamixbench/engine/server.py), the run is a
fork of it instead of a new process (`start_engine`); the same guards apply through its ServerRun handle.

The engine's exit code says what happened (adamixbench/engine/cli.py): 0 record written (status ok or
failed), 2 bad input (nothing trained or written), 75 stopped by SIGTERM / SIGINT after writing a
checkpoint, a negative code a kill by that signal; anything else is a crash of the engine itself
(`exit_message`). After 75 or a kill, rerunning the same Snakemake command resumes from the checkpoint.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

from adamixbench.engine.cli import EXIT_INTERRUPTED
from adamixbench.engine.server import STOP_GRACE_S, ServerRun, alive, find_socket

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def run_engine(argv: list[str], log_handle, env: dict, log: Path) -> int:
    """Run `argv` (the engine command) with its output appended to `log_handle` (the open file `log`), under
    the three guards above; its exit code (negative: killed by that signal)."""
    proc = start_engine(argv, log_handle, env, log)

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


def start_engine(argv: list[str], log_handle, env: dict, log: Path):
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


def exit_message(rc: int, run_dir: Path) -> str:
    """What a non-zero exit of the engine means (cli.py's exit codes), with how to resume the run of
    `run_dir` where it can be resumed."""
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


def _die_with_parent() -> None:
    """preexec_fn of the engine: the kernel sends it SIGTERM when this process exits, however it exits."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the watchdog and the signal forwarding still apply
        pass


def _ancestors(until_snakemake: bool) -> list[int]:
    """This process's ancestor pids, nearest first: up to the first Snakemake process (the one that runs
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
    """The processes between this process and the Snakemake that runs the job: when any of them is gone,
    the workflow was killed."""
    return _ancestors(until_snakemake=True)


def _stop(proc) -> None:
    """SIGTERM (the engine checkpoints and exits 75), then SIGKILL after STOP_GRACE_S."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
