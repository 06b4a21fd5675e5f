"""One run on several processes (GPUs; CPU processes with gloo for testing), launched by `accelerate
launch` or `torchrun`: data parallelism with the engine's own step.

    accelerate launch --multi_gpu --num_processes 4 -m adamixbench train --spec spec.json --out RUN
    torchrun --nproc_per_node 4 -m adamixbench train --spec spec.json --out RUN

Why not torch's DistributedDataParallel (or `Accelerator.prepare`, which wraps in it): `PreparedModel`
calls its own model, and AdaMix's consistency step runs two passes through it before one backward; DDP's
reducer hooks expect one forward per backward and, by default, every parameter used (AdaMix leaves the
unselected experts without a gradient). Instead every rank runs the same `train_step` on its own shard of
the epoch's batches, and the gradients of the trainable parameters are averaged (one all-reduce per
dtype of the flattened gradients) after the backward passes and before unscaling and clipping. Every
rank then takes the same optimiser step from the same gradients, so the weights stay identical without
any broadcast.

AdaMix's routing is identical on every rank: the router's generator is seeded from torch's global RNG
right after `set_seed(cfg.seed)` (trainer.load_task_and_model), so every rank builds the same router and,
drawing once per forward call, the same routes at every step. The ranks' gradients are thus gradients of
the same experts (the same parameters have none), which is what makes averaging them valid. Every rank
evaluates too (evaluation with random routing draws from the router: the ranks' routers stay in step),
and only rank 0 writes (record, checkpoint, artifacts, generations).

Batch size: `batch_size` is the micro-batch of ONE rank; the global batch of an optimiser step is
batch_size x world size x grad_accum_steps. The epoch's batches (`epoch_batches`, the same list on every
rank) are dealt round-robin, batch i to rank i mod world size; the last round is completed with the
epoch's first batches (as torch's DistributedSampler pads), so every rank takes the same number of steps.
Steps, warm-up and the schedule count optimiser steps, so a run on W processes has about 1/W of the steps
of the same spec on one. World size 1 takes none of these paths: a single-process run is unchanged.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Processes:
    """This process's place among the run's processes (world size 1: a single-process run)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """The process that writes the run's files."""
        return self.rank == 0

    def shard(self, batches: list) -> list:
        """This rank's batches of an epoch: every world_size-th one, the last round completed from the start."""
        if self.world_size == 1 or not batches:
            return batches
        rounds = math.ceil(len(batches) / self.world_size)
        return [batches[(self.rank + self.world_size * i) % len(batches)] for i in range(rounds)]

    def batches_per_epoch(self, batches: int) -> int:
        """Batches one rank takes of an epoch of `batches`."""
        return math.ceil(batches / self.world_size)

    def average(self, parameters, loss: torch.Tensor) -> torch.Tensor:
        """Averages the gradients of `parameters` over the ranks in place; returns the ranks' mean loss.

        Grouped by dtype, one flattened all-reduce per group (the loss travels with its dtype's gradients).
        Parameters without a gradient are skipped; identical routing makes them the same on every rank."""
        if self.world_size == 1:
            return loss
        grads = [p.grad for p in parameters if p.grad is not None]
        for dtype in dict.fromkeys(t.dtype for t in [loss, *grads]):
            group = [t for t in [loss, *grads] if t.dtype == dtype]
            flat = torch.cat([t.reshape(-1) for t in group])
            torch.distributed.all_reduce(flat)  # a sum: gloo has no average
            flat /= self.world_size
            for tensor, part in zip(group, flat.split([t.numel() for t in group])):
                tensor.copy_(part.view_as(tensor))
        return loss

    def total(self, value: int) -> int:
        """The sum of an integer over the ranks (once per run: it waits for every rank)."""
        if self.world_size == 1:
            return value
        tensor = torch.tensor([value], dtype=torch.float64)
        if torch.distributed.get_backend() == "nccl":
            tensor = tensor.cuda()
        torch.distributed.all_reduce(tensor)
        return int(tensor.item())

    def finish(self) -> None:
        """Wait for every rank (rank 0 has written the record), then leave the process group."""
        if self.world_size > 1 and torch.distributed.is_initialized():
            torch.distributed.barrier()
            torch.distributed.destroy_process_group()


SINGLE = Processes()


def launched() -> Processes:
    """The processes of this run, from the environment `accelerate launch` / `torchrun` set (RANK,
    WORLD_SIZE, LOCAL_RANK); SINGLE when the engine was started on its own."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return SINGLE
    return Processes(int(os.environ["RANK"]), world_size, int(os.environ.get("LOCAL_RANK", "0")))


def start(processes: Processes, device: torch.device) -> torch.device:
    """Joins the run's process group (through accelerate: gloo for CPU processes, nccl for GPUs) and
    returns the device of this rank (GPU: the one of its LOCAL_RANK). Unchanged for a single process."""
    if processes.world_size == 1:
        return device
    if device.type not in ("cpu", "cuda") or device.index is not None:
        raise ValueError(
            f"--device {device}: a run on {processes.world_size} processes places each on its own device; "
            f"give --device auto, cuda or cpu"
        )
    from accelerate import PartialState

    state = PartialState(cpu=device.type == "cpu")
    if state.num_processes != processes.world_size:
        raise ValueError(
            f"launched as {processes.world_size} processes (WORLD_SIZE) but accelerate joined "
            f"{state.num_processes} ({state.distributed_type}); launch with torchrun or accelerate launch"
        )
    return state.device
