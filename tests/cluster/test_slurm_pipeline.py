"""The Slurm path for real: a tiny suite through profiles/slurm on a single-node Slurm cluster.

The profile is used as a user is told to (docs/PIPELINE.md, "Run on a Slurm cluster"): a copy of
profiles/slurm with the cluster-specific values filled in (partition, account, and the memory / CPUs of
this small node), given with --profile, so Snakemake adds profiles/default as the workflow profile;
everything else (executor, requeue, retries, GPU request, latency wait ...) is the file itself. The node has
two fake GPUs, so the profile's `gpu: 1` request is scheduled as on a GPU cluster.

1. main suite: every job goes through sbatch (sacct lists each one, COMPLETED), every record lands with
   status ok, runs.csv / tables / plots are built; the training jobs were allocated one GPU each.
2. a second suite, run in the background: a run on a corrupt model folder (bad input: engine exit 2)
   fails ONCE (no retry, no second sbatch), while another run is requeued by `scontrol requeue` in the
   middle of its training; Slurm starts it again, and it resumes from the checkpoint the engine wrote on
   SIGTERM and ends with the same record as the uninterrupted run of the same spec in suite 1.
3. the same run killed by `scancel` in the middle of its training: the job fails once (CANCELLED, no
   retry), and rerunning the same snakemake command resumes from the checkpoint and ends with the
   uninterrupted record.
   "In the middle of its training" is an event, not a guess from the clock: the interrupted runs train
   with tests/hold_method.py (lora that holds still at step HOLD_AT_STEP, writes a marker file and waits
   for a signal), so the test interrupts when the marker appears, on an idle or a loaded machine alike.
4. the cluster is torn down: no daemon and no job process left.

Run with `make cluster-test` (wall time: see docs/PIPELINE.md).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from .conftest import REPO

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

# SST-2 on MiniLM-L6: `lora` trains 64 steps, `adamix_adapter` 3 steps. The requeued run in suite 2 has
# exactly the spec of `lora` here. `lora` is tests/hold_method.py's lora: plain lora step for step, unless
# ADAMIX_TEST_HOLD is set (the interrupted runs), when it holds at HOLD_AT_STEP until it is signalled.
TRAIN = {
    "epochs": 1,
    "lr": 1.0e-3,
    "batch_size": 8,
    "max_seq_len": 32,
    "max_train_samples": 512,
    "max_eval_samples": 24,
    "selection": "last",
}
HOLD_AT_STEP = 5
METHODS = {"lora": {"method": "tests.hold_method:prepare", "params": {"r": 4, "alpha": 8}}}
MAIN_SUITE = {
    "suite": "cluster_main",
    "output_root": "results",
    "seeds": [1],
    "methods": {
        **METHODS,
        "adamix_adapter": {
            "method": "adamix_adapter",
            "params": {"num_experts": 2, "bottleneck": 8},
            "train": {"max_train_samples": 24},
        },
    },
    "experiments": [
        {
            "name": "sst2",
            "family": "glue",
            "model": "minilm-l6",
            "tasks": ["sst2"],
            "methods": ["lora", "adamix_adapter"],
            "train": TRAIN,
        }
    ],
    "analysis": {"tables": [{"name": "sst2", "layout": "primary", "tasks": ["sst2"]}], "bootstrap": {"n": 200}},
}
BAD_LABEL = "lora_on_corrupt_model"


def preempt_suite(broken_model: Path) -> dict:
    return {
        "suite": "cluster_preempt",
        "output_root": "results",
        "seeds": [1],
        "methods": {**METHODS, BAD_LABEL: {"method": "lora", "params": {"r": 4, "alpha": 8}}},
        "experiments": [
            {
                "name": "sst2",
                "family": "glue",
                "model": "minilm-l6",
                "tasks": ["sst2"],
                "methods": ["lora"],
                "train": TRAIN,
            },
            {
                "name": "corrupt",
                "family": "glue",
                "model": str(broken_model),
                "tasks": ["sst2"],
                "methods": [BAD_LABEL],
                "train": {**TRAIN, "max_train_samples": 24},
            },
        ],
        "analysis": {"tables": [{"name": "sst2", "layout": "primary", "tasks": ["sst2"]}]},
    }


def cluster_profile(folder: Path) -> Path:
    """profiles/slurm with this cluster's values, as docs/PIPELINE.md tells a user to make one."""
    cfg = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    cfg["default-resources"].update(slurm_partition="debug", slurm_account="adamix", mem_mb=1000, runtime=10)
    cfg["set-resources"]["train"].update(mem_mb=2500, runtime=20, cpus_per_task=1)  # a 2-CPU node
    cfg["set-threads"]["train"] = 1
    # test speed only: first status check after 2 s instead of 40 s; keep the Slurm logs for the asserts
    cfg["slurm-init-seconds-before-status-checks"] = 2
    cfg["slurm-keep-successful-logs"] = True
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return folder


def snakemake_cmd(workdir: Path, suite_file: Path, targets: list[str] = ()) -> list[str]:
    return [
        sys.executable,
        "-m",
        "snakemake",
        *targets,
        "-s",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--profile",
        str(cluster_profile(workdir / "profile")),
        "--configfile",
        str(suite_file),
    ]


def write_suite(workdir: Path, suite: dict) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "suite.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False))
    return path


def run_id(head_log: str) -> str:
    found = re.search(r"SLURM run ID: (\S+)", head_log)
    assert found, "the Slurm executor printed no run ID:\n" + head_log[-3000:]
    return found.group(1)


def sacct(cluster, name: str) -> list[dict]:
    """Every accounting record (requeued attempts included) of the jobs named `name` (the run ID)."""
    fields = ["JobIDRaw", "State", "ExitCode", "Comment", "AllocTRES"]
    r = cluster.cmd(
        "sacct",
        "--duplicates",
        "-X",
        "--parsable2",
        "--noheader",
        "--starttime",
        "now-1days",
        "--name",
        name,
        f"--format={','.join(fields)}",
    )
    return [dict(zip(fields, line.split("|"))) for line in r.stdout.splitlines() if line.strip()]


def snakemake_env(cluster, hold_marker: Path | None = None) -> dict:
    """The cluster's environment for Snakemake (sbatch passes it on to the jobs: --export=ALL); with
    `hold_marker`, tests/hold_method.py's runs hold at HOLD_AT_STEP and write that file."""
    env = cluster.env()
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", PYTHONPATH=str(REPO))
    if hold_marker is not None:
        env["ADAMIX_TEST_HOLD"] = f"{hold_marker}:{HOLD_AT_STEP}"
    return env


# ------------------------------------------------------------------------------------------- 1. main
@pytest.fixture(scope="module")
def main_run(slurm_cluster, tmp_path_factory):
    work = tmp_path_factory.mktemp("main")
    suite = write_suite(work, MAIN_SUITE)
    t0 = time.time()
    r = subprocess.run(
        snakemake_cmd(work, suite), env=snakemake_env(slurm_cluster), capture_output=True, text=True, timeout=1500
    )
    log = r.stdout + r.stderr
    (work / "head.log").write_text(log)
    print(f"main suite through Slurm: {time.time() - t0:.0f} s")
    assert r.returncode == 0, log[-6000:]
    return {
        "work": work,
        "log": log,
        "out": work / "results" / "cluster_main",
        "jobs": sacct(slurm_cluster, run_id(log)),
    }


def test_every_job_ran_through_sbatch(main_run):
    log, jobs = main_run["log"], main_run["jobs"]
    submitted = dict(re.findall(r"Job (\d+) has been submitted with SLURM jobid (\d+)", log))
    steps = re.findall(r"(\d+) of (\d+) steps \(100%\) done", log)
    assert steps, log[-3000:]
    n_steps = int(steps[-1][1])
    # every DAG job but the target rule `all` (no command: Snakemake finishes it locally) was an sbatch job
    assert len(submitted) == n_steps - 1
    assert sorted(j["JobIDRaw"] for j in jobs) == sorted(submitted.values())
    assert {j["State"] for j in jobs} == {"COMPLETED"}, jobs
    rules = sorted(re.match(r"rule_([a-z]+)", j["Comment"]).group(1) for j in jobs)
    assert rules.count("train") == 2 and rules.count("aggregate") == 1 and rules.count("table") == 1
    # profiles/slurm's own settings were in force, not profiles/default's (loaded too, as workflow profile)
    slurm_logs = list((main_run["work"] / ".snakemake" / "slurm_logs" / "rule_train").rglob("*.log"))
    assert slurm_logs and all("--latency-wait 60" in p.read_text() for p in slurm_logs)
    # the profile's GPU request (set-resources train: gpu: 1 -> sbatch --gpus=1) got one GPU per training job
    for job in jobs:
        gpus = "gres/gpu=1" in job["AllocTRES"]
        assert gpus == job["Comment"].startswith("rule_train"), job


def test_every_record_landed_and_the_tables_were_built(main_run):
    out = main_run["out"]
    for label in ("lora", "adamix_adapter"):
        record = json.loads((out / "runs" / "sst2" / label / "seed1" / "metrics.json").read_text())
        assert record["status"] == "ok", record.get("failure_reason")
    runs = pd.read_csv(out / "runs.csv")
    assert sorted(set(runs["method_label"])) == ["adamix_adapter", "lora"]
    table = (out / "tables" / "sst2.md").read_text()
    assert "lora" in table and "adamix_adapter" in table
    assert (out / "plots" / "sst2" / "seed_scores.png").stat().st_size > 1000


# -------------------------------------------------------------------------- 2. bad input + preemption
def _job_of(cluster, comment: str) -> tuple[str, str] | None:
    r = cluster.cmd("squeue", "-h", "-o", "%i|%k|%T", check=False)
    for line in r.stdout.splitlines():
        job_id, job_comment, state = line.split("|")
        if job_comment == comment:
            return job_id, state
    return None


def _interrupt_mid_training(
    cluster, head: subprocess.Popen, marker: Path, comment: str, action, head_log: Path, deadline: float
) -> int:
    """Wait until the job `comment`'s engine holds at HOLD_AT_STEP (tests/hold_method.py wrote `marker`),
    then call action(slurm job id); returns the step it held at. The run holds until a signal comes, so
    nothing here races the training."""
    while head.poll() is None and time.time() < deadline:
        job = _job_of(cluster, comment)
        if job and marker.exists():
            assert job[1] == "RUNNING", job
            action(job[0])
            return int(marker.read_text())
        time.sleep(0.5)
    raise AssertionError(
        f"never saw {comment} hold at step {HOLD_AT_STEP} (no {marker}); head log:\n{head_log.read_text()[-4000:]}"
    )


def _requeue(cluster, job_id: str) -> None:
    cluster.cmd("scontrol", "requeue", job_id)
    # Once its processes have ended, Slurm holds a requeued job back for ~2 min (reason BeginTime);
    # release it then, to keep the test short
    for _ in range(120):
        r = cluster.cmd("squeue", "-h", "-j", job_id, "-o", "%T|%r", check=False)
        if r.stdout.strip() == "PENDING|BeginTime":
            cluster.cmd("scontrol", "update", f"jobid={job_id}", "StartTime=now")
            return
        time.sleep(1)
    raise AssertionError(f"requeued job {job_id} never became PENDING|BeginTime: {r.stdout.strip()}")


def _run_interrupted(cluster, work: Path, suite: Path, targets: list[str], action, name: str):
    """Run Snakemake in the background, interrupt the lora run at HOLD_AT_STEP with action(job id), wait."""
    head_log = work / f"head-{name}.log"
    marker = work / "lora-holds"
    t0 = time.time()
    with open(head_log, "w") as fh:
        head = subprocess.Popen(
            snakemake_cmd(work, suite, targets),
            env=snakemake_env(cluster, hold_marker=marker),
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.time() + 900
        at = _interrupt_mid_training(
            cluster, head, marker, "rule_train_wildcards_sst2_lora_1", action, head_log, deadline
        )
        head.wait(timeout=max(60, deadline - time.time()))
    finally:
        if head.poll() is None:
            head.terminate()
            head.wait(timeout=60)
    log = head_log.read_text()
    print(f"{name}: {time.time() - t0:.0f} s; interrupted at step {at}")
    return head.returncode, log, at


@pytest.fixture(scope="module")
def preempt_run(slurm_cluster, main_run, tmp_path_factory):
    work = tmp_path_factory.mktemp("preempt")
    broken = work / "corrupt-model"
    broken.mkdir()
    (broken / "config.json").write_text('{"model_type": "bert", "hidden_size": ')  # truncated JSON
    suite = write_suite(work, preempt_suite(broken))
    runs = "results/cluster_preempt/runs/sst2"
    targets = [f"{runs}/lora/seed1/metrics.json", f"{runs}/{BAD_LABEL}/seed1/metrics.json"]
    rc, log, at = _run_interrupted(
        slurm_cluster, work, suite, targets, lambda job_id: _requeue(slurm_cluster, job_id), "bad input + requeue"
    )
    return {
        "rc": rc,
        "log": log,
        "out": work / "results" / "cluster_preempt",
        "jobs": sacct(slurm_cluster, run_id(log)),
        "requeued_at": at,
    }


@pytest.fixture(scope="module")
def cancel_run(slurm_cluster, main_run, tmp_path_factory):
    """The lora run killed by scancel mid-training (Snakemake reports the job failed and does not retry
    it), then the same snakemake command again."""
    work = tmp_path_factory.mktemp("cancel")
    suite = write_suite(
        work,
        {
            **MAIN_SUITE,
            "suite": "cluster_cancel",
            "methods": METHODS,
            "experiments": [{**MAIN_SUITE["experiments"][0], "methods": ["lora"]}],
        },
    )
    run_dir = work / "results" / "cluster_cancel" / "runs" / "sst2" / "lora" / "seed1"
    targets = ["results/cluster_cancel/runs/sst2/lora/seed1/metrics.json"]
    rc, log, at = _run_interrupted(
        slurm_cluster, work, suite, targets, lambda job_id: slurm_cluster.cmd("scancel", job_id), "scancel"
    )
    after_cancel = {
        "rc": rc,
        "log": log,
        "jobs": sacct(slurm_cluster, run_id(log)),
        "record": (run_dir / "metrics.json").exists(),
        "checkpoint": (run_dir / "checkpoint").exists(),
    }
    t0 = time.time()
    r = subprocess.run(
        snakemake_cmd(work, suite, targets),
        env=snakemake_env(slurm_cluster),
        capture_output=True,
        text=True,
        timeout=900,
    )
    print(f"rerun after scancel: {time.time() - t0:.0f} s")
    return {
        "cancelled": after_cancel,
        "cancelled_at": at,
        "rerun_rc": r.returncode,
        "rerun_log": r.stdout + r.stderr,
        "record": run_dir / "metrics.json",
    }


def test_bad_input_job_fails_once_and_is_not_retried(preempt_run):
    assert preempt_run["rc"] != 0, "a failed job must fail the workflow"
    bad = [j for j in preempt_run["jobs"] if j["Comment"] == f"rule_train_wildcards_sst2_{BAD_LABEL}_1"]
    assert len(bad) == 1, f"the bad-input job must be submitted once, sacct shows {bad}"
    assert bad[0]["State"] == "FAILED", bad
    assert "Trying to restart job" not in preempt_run["log"]
    assert not (preempt_run["out"] / "runs" / "sst2" / BAD_LABEL / "seed1" / "metrics.json").exists()
    bad_log = preempt_run["out"] / "logs" / "train" / "sst2" / BAD_LABEL / "seed1.log"
    assert "not a valid JSON file" in bad_log.read_text(), bad_log.read_text()[-2000:]


def test_requeued_job_ends_with_the_record_of_an_uninterrupted_run(preempt_run, main_run):
    attempts = [j for j in preempt_run["jobs"] if j["Comment"] == "rule_train_wildcards_sst2_lora_1"]
    # one Slurm job, two accounting records: the attempt stopped by the requeue, then the one that finished
    assert [j["State"] for j in attempts] == ["REQUEUED", "COMPLETED"], attempts
    assert len({j["JobIDRaw"] for j in attempts}) == 1
    record = json.loads((preempt_run["out"] / "runs" / "sst2" / "lora" / "seed1" / "metrics.json").read_text())
    reference = json.loads((main_run["out"] / "runs" / "sst2" / "lora" / "seed1" / "metrics.json").read_text())
    assert record["status"] == "ok", record.get("failure_reason")
    for key in ("status", "primary_metric", "scores", "best_epoch", "history", "loss_curve", "params", "method_params"):
        assert record[key] == reference[key], key  # same seed, same data order, CPU: bit for bit


def test_requeued_job_resumed_from_its_checkpoint(preempt_run):
    # held at HOLD_AT_STEP when SIGTERM came: the engine finished that step, checkpointed it and stopped
    assert preempt_run["requeued_at"] == HOLD_AT_STEP
    record = json.loads((preempt_run["out"] / "runs" / "sst2" / "lora" / "seed1" / "metrics.json").read_text())
    assert record["resumed_from_step"] == HOLD_AT_STEP, record.get("resumed_from_step")


def test_cancelled_job_fails_once_and_the_rerun_ends_with_the_uninterrupted_record(cancel_run, main_run):
    cancelled = cancel_run["cancelled"]
    assert cancelled["rc"] != 0, "a cancelled job fails the workflow"
    # sacct says "CANCELLED by <uid>"; one record: the job was not retried
    assert [j["State"].split()[0] for j in cancelled["jobs"]] == ["CANCELLED"], cancelled["jobs"]
    assert not cancelled["record"]
    assert cancel_run["rerun_rc"] == 0, cancel_run["rerun_log"][-6000:]
    record = json.loads(cancel_run["record"].read_text())
    reference = json.loads((main_run["out"] / "runs" / "sst2" / "lora" / "seed1" / "metrics.json").read_text())
    for key in ("status", "primary_metric", "scores", "best_epoch", "history", "loss_curve", "params", "method_params"):
        assert record[key] == reference[key], key
    assert cancelled["checkpoint"], "SIGTERM from scancel must leave a checkpoint in the run folder"
    assert cancel_run["cancelled_at"] == HOLD_AT_STEP
    assert record["resumed_from_step"] == HOLD_AT_STEP, record.get("resumed_from_step")


# ----------------------------------------------------------------------------------------- 4. teardown
def test_cluster_is_torn_down(slurm_cluster, main_run, preempt_run, cancel_run):
    slurm_cluster.stop()
    assert slurm_cluster.alive() == {}
    marker = str(slurm_cluster.root)
    left = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            environ = (proc / "environ").read_bytes().decode(errors="replace")
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if marker in environ or marker in cmdline:
            left.append(f"{proc.name}: {cmdline.replace(chr(0), ' ')[:200]}")
    assert not left, "processes of the test cluster still running:\n" + "\n".join(left)
