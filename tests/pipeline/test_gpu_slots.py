"""The GPU ledger of adamixbench/engine/gpu_slots.py called directly (test_gpu_packing.py runs it through
Snakemake with a stand-in nvidia-smi): runs go to the GPU with the most memory free, share a GPU while
their memory fits, wait while none has room, release their slots when they end, and a run that can never
fit fails at once with the figures."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from types import SimpleNamespace

import pytest

from adamixbench.engine import gpu_slots
from adamixbench.engine.gpu_slots import gpu_placement, local_gpus


@pytest.fixture
def two_gpus(monkeypatch, tmp_path):
    """Two GPUs of 4096 MB (4 slots each); no scheduler's or user's CUDA_VISIBLE_DEVICES; the ledger in tmp."""
    monkeypatch.setattr(gpu_slots, "local_gpus", lambda: {"0": 4096, "1": 4096})
    monkeypatch.setattr(gpu_slots, "WAIT_S", 0.1)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    return tmp_path / "gpu-locks"


def test_runs_spread_over_gpus_then_share_them(two_gpus):
    envs = [{} for _ in range(4)]
    with gpu_placement(1, 2048, envs[0], two_gpus):
        with gpu_placement(1, 2048, envs[1], two_gpus):
            with gpu_placement(1, 1024, envs[2], two_gpus), gpu_placement(1, 1024, envs[3], two_gpus):
                pass
    assert [e["CUDA_VISIBLE_DEVICES"] for e in envs] == ["0", "1", "0", "1"]


def test_a_run_on_two_gpus_gets_both(two_gpus):
    env = {}
    with gpu_placement(2, 3000, env, two_gpus):
        assert sorted(env["CUDA_VISIBLE_DEVICES"].split(",")) == ["0", "1"]


def test_slots_are_released_when_the_run_ends(two_gpus):
    first, second = {}, {}
    with gpu_placement(2, 4096, first, two_gpus):
        pass
    for slot in sorted(two_gpus.glob("gpu*.slot*.lock")):  # every slot free again
        with open(slot) as fh:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    with gpu_placement(2, 4096, second, two_gpus):  # would wait forever if a slot were still held
        assert sorted(second["CUDA_VISIBLE_DEVICES"].split(",")) == ["0", "1"]


def test_a_run_waits_while_no_gpu_has_room(two_gpus, capsys, monkeypatch):
    placed = {}
    retrying = threading.Event()  # the event: the placement found no room and sleeps before trying again

    def retry_after(seconds):
        retrying.set()
        time.sleep(seconds)

    monkeypatch.setattr(gpu_slots, "time", SimpleNamespace(sleep=retry_after))

    def second_run():
        with gpu_placement(1, 2048, placed, two_gpus):
            placed["at"] = time.monotonic()

    with gpu_placement(1, 3000, {}, two_gpus), gpu_placement(1, 3000, {}, two_gpus):
        waiting = threading.Thread(target=second_run)
        waiting.start()
        assert retrying.wait(timeout=60), "the second run neither waited nor got a GPU"
        assert "at" not in placed  # 1 GiB left on each GPU: it waits
        assert "[train] waiting for 2048 MB free on 1 GPU(s)" in capsys.readouterr().err
        released = time.monotonic()
    waiting.join(timeout=60)
    assert placed["at"] >= released and placed["CUDA_VISIBLE_DEVICES"] in ("0", "1")


def test_a_run_that_can_never_fit_fails_at_once_with_the_figures(two_gpus):
    with pytest.raises(SystemExit, match=r"needs 5000 MB on each of 1 GPU\(s\), but the GPUs have \[4096, 4096\] MB"):
        with gpu_placement(1, 5000, {}, two_gpus):
            pass
    with pytest.raises(SystemExit, match=r"asks for 3 GPU\(s\) but nvidia-smi lists 2"):
        with gpu_placement(3, 1000, {}, two_gpus):
            pass


@pytest.mark.parametrize("preset", ["CUDA_VISIBLE_DEVICES", "SLURM_JOB_ID", None])
def test_nothing_to_place_under_a_scheduler_or_without_a_gpu(two_gpus, monkeypatch, preset):
    env = {}
    if preset:
        monkeypatch.setenv(preset, "7")
    with gpu_placement(0 if preset is None else 1, 2048, env, two_gpus):
        pass
    assert env == {} and not two_gpus.exists()


def test_local_gpus_reads_nvidia_smi(tmp_path, monkeypatch):
    smi = tmp_path / "nvidia-smi"
    smi.write_text("#!/bin/sh\nprintf '0, 81559\\n1, 40960.0\\n'\n")
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    assert local_gpus() == {"0": 81559, "1": 40960}
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    assert local_gpus() == {}  # no driver, no GPUs
