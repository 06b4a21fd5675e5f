"""An external method defined only in the test suite: full fine-tuning whose loss becomes NaN.

params: {"nan_at_step": k} makes the k-th training step's loss NaN (default 1); bare prepare functions
accept any params (baselines.registry.get_method)."""

import torch

from baselines.prepared import PreparedModel


class NaNPrepared(PreparedModel):
    steps = 0

    def training_loss(self, batch, task_loss_fn):
        loss, outputs = super().training_loss(batch, task_loss_fn)
        self.steps += 1
        if self.steps >= self.params.get("nan_at_step", 1):
            loss = loss * torch.tensor(float("nan"))
        return loss, outputs


def prepare(model, task_type, params):
    return NaNPrepared("nan_method", model, task_type, params)
