"""An external method defined only in the test suite: full fine-tuning whose loss is NaN."""

import torch

from baselines.prepared import PreparedModel


class NaNPrepared(PreparedModel):
    def training_loss(self, batch, task_loss_fn):
        loss, outputs = super().training_loss(batch, task_loss_fn)
        return loss * torch.tensor(float("nan")), outputs


def prepare(model, task_type, params):
    return NaNPrepared("nan_method", model, task_type, params)
