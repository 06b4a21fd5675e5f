"""The engine supervisor of adamixbench/engine/supervise.py called directly (test_resume_pipeline.py kills a
whole Snakemake run): the engine gets SIGTERM when its parent dies, signals to the parent reach it, the
watchdog stops it when the workflow's processes are gone, and every exit code is said in words."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from adamixbench.engine import supervise
from adamixbench.engine.cli import EXIT_INTERRUPTED
from adamixbench.engine.supervise import exit_message, run_engine

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs Linux /proc and PR_SET_PDEATHSIG")

# A stand-in engine: writes its pid, then waits; on SIGTERM / SIGINT it writes which signal came and exits 75.
ENGINE = """
import os, signal, sys, time
from pathlib import Path
def stop(signum, frame):
    Path(sys.argv[1] + ".signal").write_text(signal.Signals(signum).name)
    sys.exit(75)
signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
Path(sys.argv[1]).write_text(str(os.getpid()))
time.sleep(30)
"""


def _wait_for(condition, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def engine(tmp_path):
    script = tmp_path / "engine.py"
    script.write_text(ENGINE)
    marker = tmp_path / "engine.pid"
    return [sys.executable, str(script), str(marker)], marker


@pytest.fixture
def own_signal_handlers():
    """run_engine installs SIGTERM / SIGINT handlers in this (pytest's) process: put pytest's back."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def test_a_signal_to_the_supervisor_reaches_the_engine(engine, tmp_path, own_signal_handlers):
    argv, marker = engine
    timer = threading.Thread(target=lambda: (_wait_for(marker.exists), os.kill(os.getpid(), signal.SIGTERM)))
    timer.start()
    with open(tmp_path / "log", "a") as log:
        rc = run_engine(argv, log, dict(os.environ), tmp_path / "log")
    timer.join()
    assert rc == EXIT_INTERRUPTED and Path(f"{marker}.signal").read_text() == "SIGTERM"


def test_the_watchdog_stops_the_engine_when_the_workflow_is_gone(engine, tmp_path, monkeypatch, own_signal_handlers):
    argv, marker = engine
    workflow = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    monkeypatch.setattr(supervise, "_workflow_pids", lambda: [workflow.pid])
    threading.Thread(target=lambda: (_wait_for(marker.exists), workflow.kill(), workflow.wait())).start()
    with open(tmp_path / "log", "a") as log:
        rc = run_engine(argv, log, dict(os.environ), tmp_path / "log")
    assert rc == EXIT_INTERRUPTED and Path(f"{marker}.signal").read_text() == "SIGTERM"


def test_the_engine_gets_sigterm_when_its_parent_dies(engine, tmp_path):
    """The script that started the engine is killed with -9: the kernel sends the engine SIGTERM."""
    argv, marker = engine
    parent = textwrap.dedent(
        f"""
        import os, sys, time
        from adamixbench.engine.supervise import start_engine
        with open({str(tmp_path / "log")!r}, "a") as log:
            start_engine({argv!r}, log, dict(os.environ), {str(tmp_path / "log")!r})
        time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", parent], env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        _wait_for(marker.exists)
        proc.kill()
        _wait_for(Path(f"{marker}.signal").exists)
    finally:
        proc.kill()
        proc.wait()
    assert Path(f"{marker}.signal").read_text() == "SIGTERM"


def test_ancestors_stop_at_the_snakemake_process(tmp_path):
    """The watchdog watches the processes up to the Snakemake that runs the job, not beyond it."""
    child = (
        "import json; from adamixbench.engine.supervise import _ancestors; "
        "print(json.dumps([_ancestors(True), _ancestors(False)]))"
    )
    stub = tmp_path / "snakemake_stub.py"  # a parent whose command line says snakemake
    stub.write_text(f"import subprocess, sys\nsubprocess.run([sys.executable, '-c', {child!r}])\n")
    out = subprocess.run(
        [sys.executable, str(stub)], capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}
    )
    up_to_snakemake, all_of_them = json.loads(out.stdout)
    # the child's parent is the stub (its command line names snakemake), whose parent is this test
    assert len(up_to_snakemake) == 1 and all_of_them[:2] == [up_to_snakemake[0], os.getpid()]


def test_exit_messages(tmp_path):
    assert exit_message(2, tmp_path) == "bad input; nothing trained, nothing written"
    interrupted = exit_message(EXIT_INTERRUPTED, tmp_path)
    assert interrupted.startswith("killed/preempted: stopped by SIGTERM/SIGINT after writing a checkpoint")
    assert f"resume from {tmp_path / 'checkpoint'}" in interrupted and "snakemake --unlock" in interrupted
    killed = exit_message(-signal.SIGKILL, tmp_path)
    assert killed.startswith("killed/preempted: killed by SIGKILL (out of memory") and "latest checkpoint" in killed
    assert "killed by signal 99" in exit_message(-99, tmp_path)
    assert exit_message(1, tmp_path) == "the engine crashed before writing a record"
