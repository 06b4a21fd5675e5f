"""A plug-in method for the interruption tests: `lora` whose training holds still at one step until its
process is signalled, so that a test interrupts a run at a known step from an event the run writes, never
from how far a progress bar got in some number of seconds.

With `ADAMIX_TEST_HOLD=<marker file>:<step>` in the engine's environment, training step <step> (1-based,
counted in this process) writes <marker file> (its content: the step), then waits, before the step runs,
until the process receives SIGTERM or SIGINT (Slurm's requeue or scancel, a dying parent). The engine's
own handler still gets the signal, so the engine finishes this step, checkpoints at <step> and stops, as it
would on a signal that arrived in the middle of the step. The hold happens once: a process that finds the
marker already written (the resumed run) trains straight through, and so does a process without the
variable, where the method is plain `lora` step for step (the uninterrupted reference run).

A hold that no signal ends within HOLD_TIMEOUT_S fails the run with that reason instead of hanging.
Used in a suite as `method: tests.hold_method:prepare` (PYTHONPATH = the repository)."""

import dataclasses
import os
import signal
import time
from pathlib import Path

from baselines import get_method

LORA = get_method("lora")
HOLD_TIMEOUT_S = 600
WAKING_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _hold_until_signalled(marker: Path, step: int) -> None:
    received: list[int] = []
    previous = {sig: signal.getsignal(sig) for sig in WAKING_SIGNALS}

    def handler(signum, frame):
        received.append(signum)
        chained = previous[signum]
        if callable(chained):
            chained(signum, frame)

    for sig in WAKING_SIGNALS:
        signal.signal(sig, handler)
    try:
        tmp = marker.with_name(marker.name + ".tmp")
        tmp.write_text(str(step))
        tmp.replace(marker)  # the test sees the whole file or none
        deadline = time.monotonic() + HOLD_TIMEOUT_S
        while not received:
            if time.monotonic() > deadline:
                raise RuntimeError(f"held at step {step} for {HOLD_TIMEOUT_S} s and no signal came ({marker})")
            time.sleep(0.05)
    finally:
        for sig, chained in previous.items():
            signal.signal(sig, chained)


def _prepare(model, task_type, params):
    prepared = LORA.prepare(model, task_type, params)
    hold = os.environ.get("ADAMIX_TEST_HOLD")
    if not hold:
        return prepared
    marker, at_step = hold.rsplit(":", 1)
    marker, at_step = Path(marker), int(at_step)
    inner, steps = prepared.training_loss, [0]

    def training_loss(batch, task_loss_fn):
        steps[0] += 1
        if steps[0] == at_step and not marker.exists():
            _hold_until_signalled(marker, at_step)
        return inner(batch, task_loss_fn)

    prepared.training_loss = training_loss
    return prepared


prepare = dataclasses.replace(LORA, name="tests.hold_method:prepare", prepare=_prepare)
