"""A method for the checkpoint tests: adamix_adapter whose process sends itself a signal during one
training step (env SIGNAL_AT_STEP=<n>, SIGNAL_NAME=SIGKILL | SIGTERM), as a kill -9 or a Slurm
preemption would. Without SIGNAL_AT_STEP it is plain adamix_adapter, so the same command resumes.

`prepare` is a MethodSpec (a plug-in may be one): adamix_adapter's own, with its parameter checks and
inference modes, and a prepare function that installs the signal."""

import dataclasses
import os
import signal

from baselines import get_method

ADAMIX_ADAPTER = get_method("adamix_adapter")


def _prepare(model, task_type, params):
    prepared = ADAMIX_ADAPTER.prepare(model, task_type, params)
    at_step = int(os.environ.get("SIGNAL_AT_STEP", 0))
    inner, calls = prepared.training_loss, [0]

    def training_loss(batch, task_loss_fn):
        calls[0] += 1
        if calls[0] == at_step:
            os.kill(os.getpid(), getattr(signal, os.environ["SIGNAL_NAME"]))
        return inner(batch, task_loss_fn)

    prepared.training_loss = training_loss
    return prepared


prepare = dataclasses.replace(ADAMIX_ADAPTER, name="tests.engine.signal_method:prepare", prepare=_prepare)
