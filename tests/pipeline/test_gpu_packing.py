"""Several training runs per GPU: rule train declares `gpu_mem_mb` (suite `resources.gpu_mem_mb` or the
estimate), Snakemake bounds its sum, and the rule script places each run on a GPU with that much memory
free. Two fake GPUs of 4096 MB (a stand-in `nvidia-smi` on PATH) and the fake engine, which records the
CUDA_VISIBLE_DEVICES it got and when it ran."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest

from .helpers import REPO, fake_engine_env, snakemake

SUITE = """
suite: packing
output_root: results
seeds: [1, 2, 3, 4]
methods:
  lora: {method: lora, params: {r: 4}}
experiments:
  - name: cls
    family: glue
    model: minilm-l6
    tasks: [sst2]
    methods: [lora]
    train: {epochs: 1, max_train_samples: 32, batch_size: 8, max_seq_len: 32}
resources:
  gpu_mem_mb: RULES
"""
RUN_SECONDS = 12  # each fake run lasts this long once its group is together: a misplaced run would overlap


def _fake_gpus(tmp_path: Path) -> dict:
    """A `nvidia-smi` that lists two GPUs of 4096 MB, first on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    smi = bin_dir / "nvidia-smi"
    smi.write_text("#!/bin/sh\nprintf '0, 4096\\n1, 4096\\n'\n")
    smi.chmod(0o755)
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


def _run(tmp_path: Path, rules: str, total_mb: int, *extra: str, seeds=(1, 2, 3, 4), together=1) -> list[dict]:
    """The fake engine's train calls; the first `together` runs wait for each other (FAKE_ENGINE_TOGETHER),
    so runs that the pipeline starts at once are seen at once however slowly the machine starts them."""
    calls = tmp_path / "calls.jsonl"
    suite = tmp_path / "suite.yaml"
    suite.write_text(textwrap.dedent(SUITE).replace("RULES", rules))
    env = {
        **fake_engine_env(calls),
        **_fake_gpus(tmp_path),
        "FAKE_ENGINE_SLEEP": str(RUN_SECONDS),
        "FAKE_ENGINE_TOGETHER": f"{tmp_path / 'together'}:{together}",
    }
    env.pop("CUDA_VISIBLE_DEVICES", None)
    targets = [f"results/packing/runs/sst2/lora/seed{s}/metrics.json" for s in seeds]
    # the local GPU profile as shipped (gpu: 1 per run, 2 threads each), with this test's GPU memory
    r = snakemake(
        [
            *targets,
            "--profile",
            str(REPO / "profiles" / "gpu"),
            "--cores",
            "8",
            "--configfile",
            str(suite),
            "--resources",
            f"gpu_mem_mb={total_mb}",
            *extra,
        ],
        tmp_path,
        env,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return [c for c in map(json.loads, calls.read_text().splitlines()) if c["cmd"] == "train"]


def _most_at_once(runs: list[dict]) -> tuple[int, dict]:
    """The largest number of runs that ran at the same moment, overall and per GPU."""

    def peak(group):
        return max(sum(o["start"] <= r["start"] < o["end"] for o in group) for r in group)

    gpus = {r["cuda_visible_devices"] for r in runs}
    return peak(runs), {g: peak([r for r in runs if r["cuda_visible_devices"] == g]) for g in gpus}


@pytest.mark.slow
def test_runs_share_a_gpu_when_their_memory_fits(tmp_path):
    """2,048 MB per run (the suite's number for every run): two runs fit on a 4,096 MB GPU, so the four
    runs run at once, two on each GPU."""
    runs = _run(tmp_path, "2048", total_mb=8192, together=4)
    assert len(runs) == 4 and {r["cuda_visible_devices"] for r in runs} == {"0", "1"}
    overall, per_gpu = _most_at_once(runs)
    assert max(per_gpu.values()) == 2 and overall == 4, (overall, per_gpu)
    log = (tmp_path / "results" / "packing" / "logs" / "train" / "sst2" / "lora" / "seed1.log").read_text()
    assert "'gpu': 1, 'gpu_mem_mb': 2048}, CUDA_VISIBLE_DEVICES=" in log, log


@pytest.mark.slow
def test_a_suite_rule_that_does_not_fit_twice_keeps_one_run_per_gpu(tmp_path):
    """A suite rule for the method sets 3,000 MB: one run per 4,096 MB GPU. Snakemake's bound (16,384 MB)
    would start all four; the rule script's placement makes the others wait for a GPU with room."""
    runs = _run(tmp_path, "[{mb: 1024}, {methods: [lora], tasks: [sst2], mb: 3000}]", total_mb=16384, together=2)
    assert len(runs) == 4 and {r["cuda_visible_devices"] for r in runs} == {"0", "1"}
    overall, per_gpu = _most_at_once(runs)
    assert max(per_gpu.values()) == 1 and overall == 2, (overall, per_gpu)


@pytest.mark.slow
def test_a_run_given_two_gpus_runs_on_two_processes(tmp_path):
    """`--set-resources train:gpu=2`: the rule script places the run on both GPUs and starts the engine
    under torch.distributed.run, one process per GPU (adamixbench/engine/distributed.py); rank 0 writes the record."""
    runs = _run(tmp_path, "2048", 8192, "--set-resources", "train:gpu=2", seeds=(1,))
    assert sorted((r["rank"], r["world_size"]) for r in runs) == [(0, 2), (1, 2)]
    assert {tuple(sorted(r["cuda_visible_devices"].split(","))) for r in runs} == {("0", "1")}
    log = (tmp_path / "results" / "packing" / "logs" / "train" / "sst2" / "lora" / "seed1.log").read_text()
    assert "-m torch.distributed.run --standalone --nproc_per_node 2 -m adamixbench train" in log, log


def test_slurm_shards_follow_the_runs_gpu_memory(tmp_path):
    """With `resources.gpu_shard_mb` (a Slurm cluster that shards its GPUs), rule train asks for
    ceil(gpu_mem_mb / gpu_shard_mb) shards as its `gres`; the rule script logs the resources it got."""
    suite = tmp_path / "suite.yaml"
    suite.write_text(textwrap.dedent(SUITE).replace("RULES", "2048"))
    target = "results/packing/runs/sst2/lora/seed1/metrics.json"
    r = snakemake(
        [target, "--cores", "1", "--configfile", str(suite), "--config", "resources={gpu_shard_mb: 1000}"],
        tmp_path,
        fake_engine_env(tmp_path / "calls.jsonl"),
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    log = (tmp_path / "results" / "packing" / "logs" / "train" / "sst2" / "lora" / "seed1.log").read_text()
    assert "'gpu_mem_mb': 2048, 'gres': 'shard:3'" in log, log
