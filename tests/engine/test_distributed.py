"""One run on several processes (adamixbench/engine/distributed.py): two CPU processes with gloo, launched by
torch.distributed.run (what `torchrun` and `accelerate launch --multi_gpu` start on GPUs)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from adamixbench.engine.distributed import Processes
from tests.engine.engine_testutil import train, train_argv
from tests.engine.test_train_step import seeded_batch, stepped_weights

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("ddp_worker.py")


def launch_two(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(WORKER)]
    done = subprocess.run([*command, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    return done


def test_each_rank_gets_as_many_batches_and_together_all_of_them():
    batches = [[i] for i in range(5)]
    shards = [Processes(rank, 2).shard(batches) for rank in range(2)]
    assert shards == [[[0], [2], [4]], [[1], [3], [0]]]  # the last round completed from the epoch's start
    assert Processes().shard(batches) is batches and Processes(1, 2).batches_per_epoch(5) == 3


def test_two_ranks_of_8_step_like_one_batch_of_16(tmp_path):
    """Gradients (and the loss) are averaged over the ranks: each rank's weights after one step on its half
    equal those of one process on the whole batch, up to float32 rounding (the same bound as gradient
    accumulation in test_train_step.py)."""
    launch_two("step", str(tmp_path))
    whole_loss, whole = stepped_weights([seeded_batch()])
    scale = max(u.abs().max().item() for u in whole.values())
    assert scale > 0
    for rank in range(2):
        got = torch.load(tmp_path / f"step_rank{rank}.pt")
        assert abs(got["loss"] - whole_loss) <= 1e-6 * abs(whole_loss)
        assert set(got["updates"]) == set(whole)
        for name in whole:
            torch.testing.assert_close(got["updates"][name], whole[name], rtol=0, atol=1e-6 * scale, msg=name)


def test_adamix_run_on_two_processes(tiny_model_dir, tmp_path, capsys):
    """AdaMix on 2 CPU processes: completes, both ranks draw the same routes and end with the same weights
    (from different batches and dropout: the averaged gradients), rank 0 alone writes. Resuming its
    checkpoint on one process is refused: the batches and steps would differ."""
    out = tmp_path / "run"
    options = dict(
        method="adamix_adapter",
        max_train_samples=36,  # 5 batches of 8: ranks take 3 each (the last round wraps), so 3 steps
        max_eval_samples=16,
        epochs=1,
        batch_size=8,
        max_seq_len=32,
        checkpoint_every_steps=1,
        eval_inference_modes="random_sequence",  # draws from the router at evaluation too
    )
    launch_two("train", str(tmp_path), "--", *train_argv(tiny_model_dir, out, "--keep-checkpoint", **options))
    routes = [json.loads((tmp_path / f"routes_rank{rank}.json").read_text()) for rank in range(2)]
    assert len(routes[0]) >= 3 and routes[0] == routes[1]
    weights = [torch.load(tmp_path / f"weights_rank{rank}.pt") for rank in range(2)]
    assert weights[0].keys() == weights[1].keys() and len(weights[0]) > 0
    for name, tensor in weights[0].items():
        assert torch.equal(tensor, weights[1][name]), name
    record = json.loads((out / "metrics.json").read_text())
    assert record["status"] == "ok", record.get("failure_reason")
    assert record["schedule"]["processes"] == 2 and record["schedule"]["total_steps"] == 3
    assert record["cost"]["train_real_tokens"] > 0
    assert sorted(p.name for p in out.iterdir()) == ["artifacts", "checkpoint", "metrics.json"]

    code, _ = train(tiny_model_dir, out, "--keep-checkpoint", **options)
    assert code == 2 and "written by a run on 2 processes, this one runs on 1" in capsys.readouterr().err
