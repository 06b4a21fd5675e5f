"""Killing Snakemake (kill -9) mid-training leaves no orphan engine, and rerunning the same command (after
`snakemake --unlock`, which Snakemake's own message asks for) resumes the run from its checkpoint; with the
engine started as its own process and as a fork of the warm engine (adamixbench/engine/server.py).

"Mid-training" is an event the run writes: the run trains with tests/hold_method.py, which holds at step
HOLD_AT_STEP (after the checkpoint of step 2) and writes a marker file until a signal comes, so the kill
lands in the middle of the run however fast or slow the machine is."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from .helpers import snakemake, snakemake_command

REPO = Path(__file__).resolve().parents[2]
HOLD_AT_STEP = 3
SUITE = """
suite: resume
output_root: results
seeds: [1]
methods:
  lora: {method: "tests.hold_method:prepare", params: {r: 4, alpha: 8}}
experiments:
  - name: sst2
    family: glue
    model: minilm-l6
    tasks: [sst2]
    methods: [lora]
    train: {epochs: 1, lr: 1.0e-3, batch_size: 8, max_seq_len: 32, max_train_samples: 320, max_eval_samples: 16,
            selection: last, checkpoint_every_steps: 2}
analysis:
  bootstrap: {n: 100}
"""


def _processes_of(run_dir: Path, workdir: Path, log: Path) -> list[int]:
    """Live (non-zombie) engine processes of `run_dir`: started with it (relative to the workflow's
    `workdir`) in argv, or forked by the warm engine (its pid is in the run's log)."""
    marker = str(run_dir.relative_to(workdir))
    forked = {m for m in re.findall(r"forked by the warm engine \S+ \(pid (\d+)\)", _read(log))}
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        started = marker in cmdline and "adamixbench" in cmdline
        if (started or proc.name in forked) and state != "Z" and Path(cwd) == workdir:
            found.append(int(proc.name))
    return found


def _read(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def _wait_for(condition, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs Linux /proc to find processes")
@pytest.mark.parametrize("engine_server", ["0", "1"], ids=["own-process", "warm-engine-fork"])
def test_killing_snakemake_leaves_no_orphan_and_the_rerun_resumes(tmp_path, engine_server):
    cfg = tmp_path / "suite.yaml"
    cfg.write_text(textwrap.dedent(SUITE))
    run_dir = tmp_path / "results" / "resume" / "runs" / "sst2" / "lora" / "seed1"
    log_file = tmp_path / "results" / "resume" / "logs" / "train" / "sst2" / "lora" / "seed1.log"
    cmd, env = snakemake_command(["--cores", "1", "--configfile", str(cfg)], tmp_path)
    marker = tmp_path / "lora-holds"
    env.update(
        ADAMIX_ENGINE_SERVER=engine_server,
        ADAMIX_TEST_HOLD=f"{marker}:{HOLD_AT_STEP}",
        PYTHONPATH=os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]),
    )
    workflow = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(marker.exists, 600, f"the run to hold at step {HOLD_AT_STEP} ({marker})")
        assert (run_dir / "checkpoint" / "state.pt").exists()  # step 2's
        assert _processes_of(run_dir, tmp_path, log_file), "the engine should be running"
        assert ("forked by the warm engine" in _read(log_file)) == (engine_server == "1")
        workflow.send_signal(signal.SIGKILL)
        workflow.wait()
        _wait_for(
            lambda: not _processes_of(run_dir, tmp_path, log_file), 120, "the engine to stop after Snakemake was killed"
        )
    finally:
        if workflow.poll() is None:
            workflow.kill()
    assert not (run_dir / "metrics.json").exists() and (run_dir / "checkpoint" / "state.pt").exists()
    assert "INTERRUPTED by SIGTERM" in log_file.read_text()  # stopped cleanly: checkpoint written, exit 75

    rerun = ["--cores", "1", "--configfile", str(cfg)]
    server = {"ADAMIX_ENGINE_SERVER": engine_server, "PYTHONPATH": env["PYTHONPATH"]}
    locked = snakemake(rerun, tmp_path, env=server, timeout=300)
    assert locked.returncode != 0 and "--unlock" in locked.stdout + locked.stderr  # Snakemake's stale-lock advice
    assert snakemake(["--unlock", "--configfile", str(cfg)], tmp_path, env=server, timeout=300).returncode == 0
    done = snakemake(rerun, tmp_path, env=server, timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]
    record = json.loads((run_dir / "metrics.json").read_text())
    assert record["status"] == "ok" and record["resumed_from_step"] == HOLD_AT_STEP and len(record["loss_curve"]) == 4
    assert record["provenance"]["engine_process"] == {"0": "own process", "1": "warm engine fork"}[engine_server]
    assert not (run_dir / "checkpoint").exists()
