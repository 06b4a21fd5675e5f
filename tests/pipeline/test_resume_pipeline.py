"""Killing Snakemake (kill -9) mid-training leaves no orphan engine, and rerunning the same command (after
`snakemake --unlock`, which Snakemake's own message asks for) resumes the run from its checkpoint."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from .helpers import snakemake, snakemake_command

SUITE = """
suite: resume
output_root: results
seeds: [1]
methods:
  lora: {method: lora, params: {r: 4, alpha: 8}}
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


def _processes_of(run_dir: Path, workdir: Path) -> list[int]:
    """Live (non-zombie) engine processes of `run_dir` (relative to the workflow's `workdir` in argv)."""
    marker = str(run_dir.relative_to(workdir))
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
        if marker in cmdline and "adamixbench" in cmdline and state != "Z" and Path(cwd) == workdir:
            found.append(int(proc.name))
    return found


def _wait_for(condition, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs Linux /proc to find processes")
def test_killing_snakemake_leaves_no_orphan_and_the_rerun_resumes(tmp_path):
    cfg = tmp_path / "suite.yaml"
    cfg.write_text(textwrap.dedent(SUITE))
    run_dir = tmp_path / "results" / "resume" / "runs" / "sst2" / "lora" / "seed1"
    cmd, env = snakemake_command(["--cores", "1", "--configfile", str(cfg)], tmp_path)
    workflow = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(lambda: (run_dir / "checkpoint" / "state.pt").exists(), 600, "the first checkpoint")
        assert _processes_of(run_dir, tmp_path), "the engine should be running"
        workflow.send_signal(signal.SIGKILL)
        workflow.wait()
        _wait_for(lambda: not _processes_of(run_dir, tmp_path), 120, "the engine to stop after Snakemake was killed")
    finally:
        if workflow.poll() is None:
            workflow.kill()
    assert not (run_dir / "metrics.json").exists() and (run_dir / "checkpoint" / "state.pt").exists()
    log = (tmp_path / "results" / "resume" / "logs" / "train" / "sst2" / "lora" / "seed1.log").read_text()
    assert "INTERRUPTED by SIGTERM" in log  # the watchdog stopped it cleanly: checkpoint written, exit 75

    rerun = ["--cores", "1", "--configfile", str(cfg)]
    locked = snakemake(rerun, tmp_path, timeout=300)
    assert locked.returncode != 0 and "--unlock" in locked.stdout + locked.stderr  # Snakemake's stale-lock advice
    assert snakemake(["--unlock", "--configfile", str(cfg)], tmp_path, timeout=300).returncode == 0
    done = snakemake(rerun, tmp_path, timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]
    record = json.loads((run_dir / "metrics.json").read_text())
    assert record["status"] == "ok" and record["resumed_from_step"] >= 2 and len(record["loss_curve"]) == 4
    assert not (run_dir / "checkpoint").exists()
