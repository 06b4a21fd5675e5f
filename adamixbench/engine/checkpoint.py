"""Resumable training checkpoints, and the stop request that SIGTERM / SIGINT turn into one.

A run folder holds at most one checkpoint, `<run dir>/checkpoint/state.pt`, replaced atomically
(temporary file, fsync, rename), so a kill at any moment leaves either the previous checkpoint or the
new one, never a torn file. It holds everything the rest of the run depends on: trainable weights,
optimiser, scheduler and grad-scaler states, the loop position (step, epoch, batches of the epoch
already consumed), partial accumulators, best-so-far weights, history, loss curve, and every random
number generator (python, numpy, torch CPU and CUDA, plus the method's own, e.g. the AdaMix router).
Restoring all of them makes the resumed run continue with exactly the batches, dropout masks and
expert routes of an uninterrupted run, so on CPU it ends with the same record.

The folder is deliberately NOT a declared Snakemake output: Snakemake deletes the declared outputs of
an incomplete or failed job before rerunning it, and the checkpoint must survive exactly that.

The checkpoint stores a hash of the run spec (the options that change what is trained; not the
checkpoint options, nor the engine's output folder or device, which are not in the spec). A checkpoint
written under another spec is refused with the options that differ.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from adamixbench.engine.record import FILE_MODE

CHECKPOINT_DIR = "checkpoint"
STATE_FILE = "state.pt"
FORMAT_VERSION = 1
# Options that do not change what a run computes: a checkpoint stays valid when only these differ.
NOT_HASHED = (
    "checkpoint_every_steps",
    "checkpoint_every_minutes",
    "keep_checkpoint",
    "save_full_weights",
    "eval_inference_modes",
    "finite_check_every",
    "num_workers",
)


class CheckpointMismatch(ValueError):
    """The run folder holds a checkpoint of a different configuration."""


class Interrupted(Exception):
    """Training stopped on request (SIGTERM / SIGINT); a checkpoint to resume from has been written."""

    def __init__(self, signal_name: str, step: int, total_steps: int, path: Path):
        self.signal_name, self.step, self.total_steps, self.path = signal_name, step, total_steps, path
        super().__init__(f"stopped by {signal_name} at step {step}/{total_steps}; checkpoint {path}")


# ------------------------------------------------------------------------------------------ signals
class StopRequest:
    """Set by SIGTERM (Slurm preemption or time limit, `scancel`, a parent that is going away) or SIGINT;
    the training loop polls it between optimiser steps, checkpoints and stops. Polling rather than raising
    from the handler keeps a step from being cut between the optimiser and scheduler updates."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self):
        self.signal_name: str | None = None
        self._previous: dict = {}

    @property
    def requested(self) -> bool:
        return self.signal_name is not None

    def _handle(self, signum, frame) -> None:
        self.signal_name = signal.Signals(signum).name

    def __enter__(self) -> StopRequest:
        self._previous = {sig: signal.signal(sig, self._handle) for sig in self.SIGNALS}
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


# ---------------------------------------------------------------------------------- loop state
@dataclass
class LoopState:
    """The training loop's position and everything it has accumulated (checkpointed as is)."""

    step: int = 0  # optimiser steps done
    epoch: int = 0  # epochs started
    batches_done: int = 0  # batches of the current epoch already consumed
    epoch_loss_sum: float = 0.0  # partial accumulators of the current epoch
    epoch_batches: int = 0
    best_score: float = float("-inf")
    best_state: dict | None = None  # best-so-far trainable weights (CPU)
    best_epoch: int | None = None
    history: list = field(default_factory=list)
    loss_curve: list = field(default_factory=list)
    train_time: float = 0.0
    eval_time: float = 0.0
    real_tokens: int = 0
    last_losses: list = field(default_factory=list)  # [step, loss] of the latest steps (a failed record keeps them)


def config_hash(config: dict) -> str:
    hashed = {k: v for k, v in sorted(config.items()) if k not in NOT_HASHED}
    return hashlib.sha256(json.dumps(hashed, sort_keys=True, default=str).encode()).hexdigest()[:16]


def rng_state() -> dict:
    """Every global generator; numpy's and python's as plain values (loadable with weights_only=True)."""
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    state = {
        "python": [version, list(internal), gauss_next],
        "numpy": [name, keys.tolist(), pos, has_gauss, gauss],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    name, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# --------------------------------------------------------------------------------- checkpointer
class Checkpointer:
    """Writes, finds, checks and removes the checkpoint of one run folder; decides when one is due."""

    def __init__(
        self, run_dir: str | Path, config: dict, every_steps: int | None, every_minutes: float, writes: bool = True
    ):
        self.dir = Path(run_dir) / CHECKPOINT_DIR
        self.path = self.dir / STATE_FILE
        self.config = {k: v for k, v in config.items() if k not in NOT_HASHED}
        self.hash = config_hash(config)
        self.every_steps, self.every_seconds = every_steps, every_minutes * 60
        self.enabled = every_steps is not None or every_minutes > 0
        self.writes = writes  # False on the ranks other than 0 of a run on several processes: rank 0 writes
        self.last_saved = time.monotonic()
        self.seconds_spent, self.bytes_written, self.saves = 0.0, 0, 0  # overhead, reported in the record

    def due(self, step: int) -> bool:
        """A periodic checkpoint is due after optimiser step `step`."""
        by_steps = self.every_steps is not None and step % self.every_steps == 0
        by_time = self.every_seconds > 0 and time.monotonic() - self.last_saved >= self.every_seconds
        return by_steps or by_time

    def save(self, state: dict) -> None:
        if not self.writes:
            return
        tic = time.perf_counter()
        self.dir.mkdir(parents=True, exist_ok=True)
        payload = {"format_version": FORMAT_VERSION, "config_hash": self.hash, "config": self.config, **state}
        fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=f".{STATE_FILE}.", suffix=".tmp")
        try:
            os.fchmod(fd, FILE_MODE)  # mkstemp makes 0600: the umask decides, as for every file the engine writes
            with os.fdopen(fd, "wb") as handle:
                torch.save(payload, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self.bytes_written = self.path.stat().st_size
        self.saves += 1
        self.last_saved = time.monotonic()
        self.seconds_spent += time.perf_counter() - tic

    def load(self) -> dict | None:
        """The saved state, None when there is none; a checkpoint of another configuration is refused."""
        if not self.path.is_file():
            return None
        try:
            payload = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as error:  # noqa: BLE001 - any unreadable file gets the same advice
            raise CheckpointMismatch(
                f"{self.path} cannot be read ({type(error).__name__}: {error}); delete "
                f"{self.dir} to train this run from the start"
            ) from None
        if payload.get("format_version") != FORMAT_VERSION:
            raise CheckpointMismatch(
                f"{self.path} has format version {payload.get('format_version')!r}, this "
                f"engine writes {FORMAT_VERSION}; delete {self.dir} to train from the start"
            )
        if payload["config_hash"] != self.hash:
            saved = payload.get("config", {})
            differ = sorted(k for k in set(saved) | set(self.config) if saved.get(k) != self.config.get(k))
            details = "; ".join(f"{k}: checkpoint {saved.get(k)!r}, now {self.config.get(k)!r}" for k in differ[:6])
            raise CheckpointMismatch(
                f"{self.path} was written by a run with a different configuration ({details}). Rerun with the "
                f"original options to resume it, or delete {self.dir} (or pick another --out) to start afresh"
            )
        return payload

    def overhead(self) -> dict:
        return {
            "checkpoint_saves": self.saves,
            "checkpoint_time_s": round(self.seconds_spent, 3),
            "checkpoint_mb": round(self.bytes_written / 2**20, 3),
        }


def remove_checkpoint(run_dir: str | Path) -> None:
    """Delete a run's checkpoint (and the temporary file of a save cut short by a kill)."""
    folder = Path(run_dir) / CHECKPOINT_DIR
    (folder / STATE_FILE).unlink(missing_ok=True)
    for leftover in folder.glob(f".{STATE_FILE}.*.tmp"):
        leftover.unlink()
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
