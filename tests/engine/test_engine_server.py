"""The warm engine (adamixbench/engine/server.py): a run forked from it gives the record of a run of its
own, keeps the engine's exit codes, and is stopped when its client goes away; clients never wait for a
server that is gone."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from adamixbench.engine import server as engine_server
from tests.engine.engine_testutil import SMALL_RUN

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="fork server: Linux")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A warm engine owned by this test process, in a scratch working directory."""
    work = tmp_path_factory.mktemp("server")
    here = os.getcwd()
    os.chdir(work)
    try:
        engine_server.start(os.getpid())
        path = engine_server.find_socket([os.getpid()], wait_s=300)
        assert path is not None, (work / engine_server.socket_path(os.getpid()).with_suffix(".log")).read_text()
        yield work, work / path
    finally:
        pid_file = work / engine_server.socket_path(os.getpid()).with_suffix(".pid")
        if pid_file.exists():
            os.kill(int(pid_file.read_text()), signal.SIGTERM)
        os.chdir(here)


def _argv(model_dir, out: Path, *extra) -> list[str]:
    flags = [x for k, v in SMALL_RUN.items() for x in (f"--{k.replace('_', '-')}", str(v))]
    return ["train", "--task", "sst2", "--method", "adamix_adapter", "--seed", "3", "--model", str(model_dir),
            "--out", str(out), *flags, *extra]  # fmt: skip


def _read(path: Path) -> str:
    return path.read_text() if path.exists() else ""  # the fork creates its log


def _env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


def test_a_forked_run_gives_the_record_of_a_run_of_its_own(server, tmp_path, tiny_model_dir):
    _, path = server
    own = subprocess.run(
        [sys.executable, "-m", "adamixbench", *_argv(tiny_model_dir, tmp_path / "own")],
        env=_env(),
        capture_output=True,
        text=True,
    )
    assert own.returncode == 0, own.stderr[-3000:]
    run = engine_server.ServerRun(path, _argv(tiny_model_dir, tmp_path / "forked"), _env(), tmp_path / "forked.log")
    assert run.wait(600) == 0, (tmp_path / "forked.log").read_text()[-3000:]
    a, b = (json.loads((tmp_path / d / "metrics.json").read_text()) for d in ("own", "forked"))
    assert a["provenance"]["engine_process"] == "own process"
    assert b["provenance"]["engine_process"] == "warm engine fork"
    assert a.keys() == b.keys()
    for key in a.keys() - {"cost", "provenance"}:  # times and memory; where and how it ran
        assert a[key] == b[key], key


def test_exit_codes_are_the_engines(server, tmp_path, tiny_model_dir):
    _, path = server
    bad = engine_server.ServerRun(path, _argv(tiny_model_dir, tmp_path / "bad", "--lr", "-1"), _env(), tmp_path / "b")
    assert bad.wait(300) == 2  # bad input
    assert "error:" in (tmp_path / "b").read_text()
    long = _argv(tiny_model_dir, tmp_path / "killed", "--epochs", "500")
    killed = engine_server.ServerRun(path, long, _env(), tmp_path / "k")
    killed.kill()
    assert killed.wait(60) == -signal.SIGKILL  # as subprocess reports a kill


def test_a_run_whose_client_goes_away_is_stopped_with_a_checkpoint(server, tmp_path, tiny_model_dir):
    _, path = server
    long = _argv(tiny_model_dir, tmp_path / "orphan", "--epochs", "500")
    run = engine_server.ServerRun(path, long, _env(), tmp_path / "orphan.log")
    deadline = time.time() + 300
    while "it/s" not in _read(tmp_path / "orphan.log") and time.time() < deadline:
        time.sleep(0.5)  # training has started
    run._conn.shutdown(socket.SHUT_RDWR)  # the client is gone (rule script killed with Snakemake)
    while engine_server.alive(run.pid) and time.time() < deadline:
        time.sleep(0.5)
    assert not engine_server.alive(run.pid)
    assert "INTERRUPTED by SIGTERM" in (tmp_path / "orphan.log").read_text()
    assert (tmp_path / "orphan" / "checkpoint" / "state.pt").exists()


def test_clients_do_not_wait_for_a_server_that_is_gone(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    pid_file = engine_server.socket_path(12345).with_suffix(".pid")
    pid_file.parent.mkdir(parents=True)
    pid_file.write_text(f"{dead.pid}\n")
    started = time.monotonic()
    assert engine_server.find_socket([999999, 12345], wait_s=60) is None
    assert time.monotonic() - started < 5
    monkeypatch.setenv(engine_server.DISABLE_VAR, "0")
    assert engine_server.find_socket([12345]) is None


def test_off_on_machines_with_a_gpu_driver(tmp_path, monkeypatch):
    monkeypatch.delenv(engine_server.DISABLE_VAR, raising=False)
    monkeypatch.setattr(engine_server, "GPU_DEVICE_FILES", (str(tmp_path / "nvidiactl"),))
    assert engine_server.enabled()
    (tmp_path / "nvidiactl").touch()
    assert not engine_server.enabled()


def test_every_preloaded_module_exists():
    """The server imports PRELOAD under suppress(ImportError) (an optional library may be missing), so a
    project module that moved would silently stop being preloaded: each entry must still be found. Checked
    in a fresh interpreter: other tests replace some of these modules in this process's sys.modules."""
    code = (
        "import importlib.util, json\n"
        "from adamixbench.engine.server import PRELOAD\n"
        "print(json.dumps([m for m in PRELOAD if importlib.util.find_spec(m) is None]))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [], "engine_server.PRELOAD names modules that are gone"
