"""Merging: turn each mixture into ONE adapter / LoRA module by averaging its experts' weights.

Upstream averages weights and biases per projection uniformly (nothing is folded into the backbone);
the merged model then costs exactly one adapter at inference. For LoRA the merged update
(alpha / r) * mean(B) @ mean(A) can also be folded into the base weight, removing the adapter entirely.
"""

from __future__ import annotations

import copy

import torch
import torch.nn as nn
from transformers.activations import ACT2FN
from transformers.pytorch_utils import Conv1D

from .layer import ExpertLinear, MixtureAdapterLayer, MixtureLayer, MixtureLoRALayer


def _merged_linear(proj: ExpertLinear) -> nn.Linear:
    weight, bias = proj.merged()
    linear = nn.Linear(proj.in_features, proj.out_features, bias=bias is not None)
    with torch.no_grad():
        linear.weight.copy_(weight)
        if bias is not None:
            linear.bias.copy_(bias)
    return linear.to(weight.device, weight.dtype)


class BottleneckAdapter(nn.Module):
    """A plain single adapter after a wrapped module: h = base(x); h + up(act(down(h)))."""

    def __init__(self, base_layer: nn.Module, down: nn.Linear, up: nn.Linear, activation: str):
        super().__init__()
        self.base_layer, self.down, self.up = base_layer, down, up
        self.act = ACT2FN[activation]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.base_layer(x)
        return h + self.up(self.act(self.down(h)))


class LoRALinear(nn.Module):
    """A plain single LoRA update on a wrapped module (kept unfolded)."""

    def __init__(self, base_layer: nn.Module, delta_weight: torch.Tensor):
        super().__init__()
        self.base_layer = base_layer
        self.delta_weight = nn.Parameter(delta_weight.clone(), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base_layer(x) + nn.functional.linear(x, self.delta_weight)


def fold_lora(layer: MixtureLoRALayer) -> nn.Module:
    """The wrapped Linear/Conv1D with the merged LoRA update added to its weight."""
    base = copy.deepcopy(layer.base_layer)
    delta = layer.merged_delta_weight().to(base.weight.dtype)
    with torch.no_grad():
        base.weight += delta.T if isinstance(base, Conv1D) else delta
    return base


def merged_module(layer: MixtureLayer, fold: bool) -> nn.Module:
    """The plain module that replaces one mixture layer in a merged model."""
    if isinstance(layer, MixtureAdapterLayer):
        return BottleneckAdapter(
            copy.deepcopy(layer.base_layer),
            _merged_linear(layer.down),
            _merged_linear(layer.up),
            layer.config.activation,
        )
    if fold:
        return fold_lora(layer)
    return LoRALinear(copy.deepcopy(layer.base_layer), layer.merged_delta_weight())
