"""A method for the checkpoint tests: adamix_adapter whose process sends itself a signal during one
training step (env SIGNAL_AT_STEP=<n>, SIGNAL_NAME=SIGKILL | SIGTERM), as a kill -9 or a Slurm
preemption would. Without SIGNAL_AT_STEP it is plain adamix_adapter, so the same command resumes."""

import os
import signal

from baselines import get_method


def prepare(model, task_type, params):
    spec = get_method("adamix_adapter")
    prepared = spec.prepare(model, task_type, spec.resolve_params(params))
    at_step = int(os.environ.get("SIGNAL_AT_STEP", 0))
    inner, calls = prepared.training_loss, [0]

    def training_loss(batch, task_loss_fn):
        calls[0] += 1
        if calls[0] == at_step:
            os.kill(os.getpid(), getattr(signal, os.environ["SIGNAL_NAME"]))
        return inner(batch, task_loss_fn)

    prepared.training_loss = training_loss
    return prepared
