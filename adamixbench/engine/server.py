"""A warm engine for local pipelines: one process that has imported the engine's dependencies once and
forks a copy of itself for every training run.

Why: a run starts by importing torch, transformers, datasets and scikit-learn (~8-9 CPU-s on this kind
of machine, docs/PERFORMANCE.md "Engine start-up"), which is all of a smoke run's cost and a tenth of a
short CPU run's. A forked copy of a process that has already imported them starts the run at once; the
run itself is exactly `python -m adamixbench <argv>` (same CLI, same code path, same exit codes).

How the pipeline uses it (workflow/Snakefile `onstart`, workflow/scripts/train.py):

    python -m adamixbench serve --socket .snakemake/engine-server/<snakemake pid>.sock --owner <snakemake pid>

* Snakemake's `onstart` starts it only when the jobs run on this machine (local execution: never under
  the Slurm executor, where a job must run inside its own allocation) and the machine has no GPU driver;
  `ADAMIX_ENGINE_SERVER=0` turns it off. It exits within a second of its owner (the Snakemake process,
  its parent: `--owner`); runs in flight finish on their own.
* rule train's script looks for the socket of one of its ancestor processes (so only the jobs of that
  Snakemake use it) and, when there is one and the run is a single process, sends the engine argv,
  environment, working directory and log file; otherwise it starts `python -m adamixbench` itself.
  Both paths give the same run record.
* Per request the server forks a handler, which forks the run. The run restores the default signal
  handlers, takes the request's environment, working directory and thread count, appends its output to
  the log file and calls `adamixbench.engine.cli.main(argv)`. The handler sends the run's pid (the client
  forwards SIGTERM / SIGINT to it: checkpoint and exit 75, as for a spawned engine), then its exit status
  in `subprocess` terms (negative = killed by that signal). When the client goes away first (Snakemake
  killed), the handler stops the run with SIGTERM, then SIGKILL after a grace period.
* Nothing in the server touches torch's thread pools before forking (imports only), so each run
  initialises them itself. It is for CPU machines: where a GPU driver is present it stays off (`enabled`).

The protocol is one JSON object per line over a Unix socket in a folder only this user can open; no
pickles. The server never runs a run in its own process.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import sys
import threading
import time
import traceback
from pathlib import Path

#: the folder (relative to the workflow's working directory) holding `<snakemake pid>.sock`
SOCKET_DIR = Path(".snakemake") / "engine-server"
#: set to 0 / false / no to run every engine as its own process
DISABLE_VAR = "ADAMIX_ENGINE_SERVER"
#: seconds between SIGTERM (the engine finishes its step and writes its checkpoint) and SIGKILL, here
#: when the client of a run goes away and in rule train's script when Snakemake does
STOP_GRACE_S = 60
#: what a run imports, so that the forked runs do not: the engine, both task families, every method's
#: library, the metric packages and the model classes of the architectures the suites use
PRELOAD = (
    "torch",
    "datasets",
    "sklearn.metrics",
    "scipy.stats",
    "transformers",
    "adamixbench.engine.cli",
    "adamixbench.engine.validate",
    "adamixbench.engine.trainer",
    "adamixbench.tasks.classification",
    "adamixbench.tasks.generation",
    "baselines",
    "peft",
    "adapters",
    "transformers.models.roberta.modeling_roberta",
    "transformers.models.bert.modeling_bert",
    "transformers.models.gpt2.modeling_gpt2",
    "transformers.models.llama.modeling_llama",
)


#: device files of GPU drivers (NVIDIA, AMD ROCm): their presence turns the warm engine off
GPU_DEVICE_FILES = ("/dev/nvidiactl", "/dev/kfd")


def enabled() -> bool:
    """On unless ADAMIX_ENGINE_SERVER=0, and only on machines without a GPU driver: a library that queries
    the GPU while the server imports it would initialise CUDA in the server, and a CUDA context does not
    survive a fork. GPU runs are long, so the imports they would save are negligible anyway."""
    if os.environ.get(DISABLE_VAR, "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    return not any(Path(device).exists() for device in GPU_DEVICE_FILES)


def socket_path(owner_pid: int) -> Path:
    return SOCKET_DIR / f"{owner_pid}.sock"


# ------------------------------------------------------------------------------------------- server
def alive(pid: int) -> bool:
    """Running: a process that died but is not reaped yet (a zombie) is not (also rule train's watchdog)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        pass
    try:
        os.kill(pid, 0)  # no /proc (not Linux)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _send(conn: socket.socket, message: dict) -> None:
    conn.sendall((json.dumps(message) + "\n").encode())


def _exit_code(status: int) -> int:
    """A waitpid status as subprocess reports it: the exit code, or -signal for a run killed by one."""
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def _run(request: dict) -> None:
    """The forked run: become `python -m adamixbench <argv>` in the request's environment; never returns."""
    code = 1
    try:
        for sig in (signal.SIGTERM, signal.SIGCHLD, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        from adamixbench.sources.offline import apply_offline_defaults

        apply_offline_defaults()  # as `python -m adamixbench` does before anything else
        log = os.open(request["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        sys.stdin = open(os.devnull)  # noqa: SIM115 (the process ends with the run)
        import torch

        torch.set_num_threads(max(1, int(request["env"].get("OMP_NUM_THREADS") or 1)))
        sys.argv = ["python -m adamixbench", *request["argv"]]
        from adamixbench.engine import record
        from adamixbench.engine.cli import main

        record.ENGINE_PROCESS = "warm engine fork"
        code = main(request["argv"])
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
        if not isinstance(stop.code, int | None):
            print(stop.code, file=sys.stderr)
    except BaseException:  # noqa: BLE001 (a crash of the engine: its traceback goes to the run's log)
        traceback.print_exc()
        code = 1
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _handle(conn: socket.socket) -> None:
    """The forked handler of one request: fork the run, tell the client its pid, then its exit status."""
    try:
        request = json.loads(conn.makefile("r").readline())
        pid = os.fork()
        if pid == 0:
            conn.close()
            _run(request)
        _send(conn, {"pid": pid})
        conn.setblocking(False)
        killed_at = None
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                with contextlib.suppress(OSError):
                    _send(conn, {"returncode": _exit_code(status)})
                break
            if killed_at is not None:  # stopping it: wait (a closed socket would always be readable)
                time.sleep(0.5)
                if time.monotonic() - killed_at > STOP_GRACE_S:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                continue
            readable, _, _ = select.select([conn], [], [], 0.5)
            if readable and not conn.recv(1):  # the client went away: SIGTERM = checkpoint and exit 75
                os.kill(pid, signal.SIGTERM)
                killed_at = time.monotonic()
    finally:
        os._exit(0)


def serve(path: Path, owner: int) -> int:
    """Preload, then accept requests until `owner` is gone or SIGTERM; in-flight runs finish on their own."""
    import importlib

    for module in PRELOAD:
        with contextlib.suppress(ImportError):  # an optional library missing: its runs import it themselves
            importlib.import_module(module)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    staging = path.with_name(f".{path.name}.{os.getpid()}")
    server.bind(str(staging))
    server.listen(64)
    os.replace(staging, path)  # clients see the socket only once it accepts
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the runs themselves; the owner decides
    try:
        while not stop and os.getppid() == owner:  # the owner's death reparents the server
            readable, _, _ = select.select([server], [], [], 1.0)
            with contextlib.suppress(ChildProcessError):
                while os.waitpid(-1, os.WNOHANG)[0]:
                    pass
            if not readable:
                continue
            conn, _ = server.accept()
            if os.fork() == 0:
                server.close()
                _handle(conn)
            conn.close()
    finally:
        server.close()
        for leftover in (path, path.with_suffix(".pid")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
    return 0


# ------------------------------------------------------------------------------------------- client
def find_socket(pids: list[int], wait_s: float = 300.0) -> Path | None:
    """The socket of the first of `pids` (the caller's ancestors) that started an engine server, if any.
    A server still importing (its pid file is there, its socket not yet) is waited for while it lives, up
    to `wait_s`: the first runs of a workflow start while it preloads."""
    if not enabled():
        return None
    for owner in pids:
        path, pid_file = socket_path(owner), socket_path(owner).with_suffix(".pid")
        if not pid_file.exists():
            continue
        deadline = time.monotonic() + wait_s
        while not path.is_socket() and time.monotonic() < deadline:
            try:
                server_pid = int(pid_file.read_text())
            except (OSError, ValueError):
                break
            if not alive(server_pid):
                break
            time.sleep(0.2)
        return path if path.is_socket() else None
    return None


class ServerRun:
    """A run in the engine server, with the part of `subprocess.Popen`'s interface rule train's script uses
    (poll, wait, send_signal, terminate, kill). Raises OSError when the server cannot be reached, so the
    caller can start the engine itself."""

    def __init__(self, path: Path, argv: list[str], env: dict, log: Path):
        self._conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._conn.connect(str(path))
        request = {"argv": argv, "env": env, "cwd": os.getcwd(), "log": str(Path(log).resolve())}
        _send(self._conn, request)
        self._reader = self._conn.makefile("r")
        reply = self._reader.readline()
        if not reply:
            raise ConnectionError(f"engine server {path} closed the connection before starting the run")
        self.pid = json.loads(reply)["pid"]
        self.returncode: int | None = None
        self._done = threading.Event()
        threading.Thread(target=self._await_exit, daemon=True).start()

    def _await_exit(self) -> None:
        """One reader of the socket (a thread: poll and wait may be called from several threads)."""
        try:
            line = self._reader.readline()
        except OSError:
            line = ""
        # no line: the handler died without an answer (trouble on the server's side); report a crash
        self.returncode = json.loads(line)["returncode"] if line else 1
        self._conn.close()
        self._done.set()

    def poll(self) -> int | None:
        return self.returncode if self._done.is_set() else None

    def wait(self, timeout: float | None = None) -> int:
        if not self._done.wait(timeout):
            import subprocess

            raise subprocess.TimeoutExpired("engine server run", timeout)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def start(owner: int, python: str = sys.executable) -> None:
    """Start a server for the Snakemake process `owner` in the background (its output: <socket>.log). It
    exits by itself when `owner` is gone."""
    import subprocess

    path = socket_path(owner)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".log"), "w") as log:
        server = subprocess.Popen(
            [python, "-m", "adamixbench", "serve", "--socket", str(path), "--owner", str(owner)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    path.with_suffix(".pid").write_text(f"{server.pid}\n")  # clients wait for its socket while it lives


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m adamixbench serve", description=__doc__.split("\n")[0])
    parser.add_argument("--socket", type=Path, required=True, help="Unix socket to listen on")
    parser.add_argument("--owner", type=int, required=True, help="exit when this process is gone (Snakemake)")
    args = parser.parse_args(argv)
    return serve(args.socket, args.owner)
