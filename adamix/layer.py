"""Mixture layers: a wrapped Linear/Conv1D plus M experts of an adapter or a LoRA update.

`ExpertLinear` holds the experts of one projection (adapter Down or Up, LoRA A or B) and applies a
route (adamix/routing.py) to them. Each expert is its own Parameter, so an expert not selected in a
step gets no gradient at all (grad None) and AdamW leaves it alone ("frozen"); with
unselected_experts="decay" every expert takes part in the graph and receives a zero gradient, so
AdamW's momentum and weight decay keep moving it, as on the torch<2 stack the paper ran on.

The merged weights (uniform average of the experts) used at evaluation are computed once and
cached; the cache key is the version counter of every expert tensor, which every in-place update
(optimiser step, load_state_dict, copy_) increments.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from transformers.activations import ACT2FN
from transformers.pytorch_utils import Conv1D

from .config import AdaMixConfig
from .routing import MERGED, Route, Router, evaluation_route


def linear_shape(module: nn.Module) -> tuple[int, int]:
    """(in_features, out_features) of an nn.Linear or a GPT-2 Conv1D."""
    if isinstance(module, nn.Linear):
        return module.in_features, module.out_features
    if isinstance(module, Conv1D):
        return module.weight.shape[0], module.nf
    raise TypeError(f"AdaMix can wrap nn.Linear or transformers Conv1D modules, not {type(module).__name__}")


class ExpertLinear(nn.Module):
    """`num_experts` linear maps of the same shape (weight (out, in), optional bias)."""

    def __init__(
        self, in_features: int, out_features: int, num_experts: int, bias: bool, unselected_experts: str = "frozen"
    ):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.ParameterList(nn.Parameter(torch.zeros(out_features, in_features)) for _ in range(num_experts))
        self.bias = (
            nn.ParameterList(nn.Parameter(torch.zeros(out_features)) for _ in range(num_experts)) if bias else None
        )
        self.unselected_experts = unselected_experts
        self._merged_cache: tuple | None = None

    @property
    def num_experts(self) -> int:
        return len(self.weight)

    def single_expert_params(self) -> int:
        return self.in_features * self.out_features + (self.out_features if self.bias is not None else 0)

    def _stacked(self, experts) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.unselected_experts == "decay" and self.num_experts > 1:
            # Every expert enters the graph, so the unselected ones get zero (not None) gradients.
            index = torch.tensor(experts, device=self.weight[0].device)
            weight = torch.stack(list(self.weight))[index]
            bias = torch.stack(list(self.bias))[index] if self.bias is not None else None
            return weight, bias
        weight = torch.stack([self.weight[e] for e in experts])
        bias = torch.stack([self.bias[e] for e in experts]) if self.bias is not None else None
        return weight, bias

    @torch.no_grad()
    def merged(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Uniform average of the experts' weights and biases, cached until any expert changes."""
        params = list(self.weight) + (list(self.bias) if self.bias is not None else [])
        key = tuple((p.data_ptr(), p._version) for p in params)
        if self._merged_cache is None or self._merged_cache[0] != key:
            weight = torch.stack([w.detach() for w in self.weight]).mean(0)
            bias = torch.stack([b.detach() for b in self.bias]).mean(0) if self.bias is not None else None
            self._merged_cache = (key, weight, bias)
        return self._merged_cache[1], self._merged_cache[2]

    def forward(self, x: torch.Tensor, route: Route) -> torch.Tensor:
        if isinstance(route, torch.Tensor):  # per-row experts
            return self._per_row(x, route)
        if route == MERGED:
            weight, bias = self.merged()
            return F.linear(x, weight, bias)
        if self.num_experts == 1:  # a shared projection: nothing to route
            return F.linear(x, self.weight[0], self.bias[0] if self.bias is not None else None)
        weight, bias = self._stacked(list(route))
        if len(route) == 1:
            return F.linear(x, weight[0], bias[0] if bias is not None else None)
        # Split the leading (batch) dimension into k chunks; chunk i goes through expert route[i].
        k = len(route)
        if x.shape[0] % k:
            raise ValueError(f"a batch of {x.shape[0]} rows cannot be split into {k} routed chunks")
        out = torch.bmm(x.reshape(k, -1, self.in_features), weight.transpose(1, 2))
        if bias is not None:
            out = out + bias.unsqueeze(1)
        return out.reshape(*x.shape[:-1], self.out_features)

    def _per_row(self, x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        weight, bias = self._stacked(list(range(self.num_experts)))
        every = torch.einsum("...i,moi->...mo", x, weight)
        if bias is not None:
            every = every + bias
        index = index if self.num_experts > 1 else torch.zeros_like(index)
        gather_index = index[..., None, None].expand(*index.shape, 1, self.out_features)
        return every.gather(-2, gather_index).squeeze(-2)


class MixtureLayer(nn.Module):
    """Routing plumbing shared by the adapter and LoRA mixtures around a wrapped module."""

    route_names: tuple[str, str]  # the two routed projections, in the order they are applied

    def __init__(self, base_layer: nn.Module, config: AdaMixConfig, router: Router):
        super().__init__()
        self.base_layer = base_layer
        self.config = config
        self.num_experts = config.num_experts
        self.router = router  # plain attribute: one generator for all layers, not a submodule
        self.train_routes: dict[str, tuple] | None = None  # set by AdaMixModel before each training pass
        self.inference, self.fixed_expert = config.inference, config.fixed_expert()

    def projections(self) -> dict[str, ExpertLinear]:
        raise NotImplementedError

    def routed_projection(self, route_name: str) -> ExpertLinear:
        raise NotImplementedError

    def routed_projections(self) -> list[str]:
        """Route names that have several experts (shared projections need no draw)."""
        return [n for n in self.route_names if self.routed_projection(n).num_experts > 1]

    def _route(self, name: str, x: torch.Tensor) -> Route:
        if self.training:
            if self.train_routes is None:
                raise RuntimeError(
                    "AdaMix mixture layer called in training mode without routes: call the AdaMixModel "
                    "(or its consistency_step), not the wrapped model directly."
                )
            return self.train_routes.get(name, (0,))
        return evaluation_route(self.inference, self.fixed_expert, self.router, self.num_experts, x)

    def delta(self, x: torch.Tensor) -> torch.Tensor:
        """The mixture's contribution for input x, routed as the current mode says."""
        if not self.training and self.inference == "ensemble":
            # Average of the M experts' outputs: the M experts run as M routed chunks of a repeated batch.
            m = self.num_experts
            routes = {name: tuple(range(m)) for name in self.route_names}
            out = self._mix(x.repeat(m, *([1] * (x.dim() - 1))), routes)
            return out.reshape(m, *x.shape[:-1], out.shape[-1]).mean(0)
        return self._mix(x, {name: self._route(name, x) for name in self.route_names})

    def _mix(self, x: torch.Tensor, routes: dict[str, Route]) -> torch.Tensor:
        raise NotImplementedError

    def inference_params(self) -> int:
        """Parameters left after merging: one expert per projection."""
        return sum(p.single_expert_params() for p in self.projections().values())


class MixtureAdapterLayer(MixtureLayer):
    """h = base(x); out = h + Up(act(Down(h))) -- the upstream AdaMix adapter after a sublayer output."""

    def __init__(self, base_layer: nn.Module, config: AdaMixConfig, router: Router):
        super().__init__(base_layer, config, router)
        _, hidden = linear_shape(base_layer)
        m = config.num_experts
        self.down = ExpertLinear(
            hidden, config.bottleneck, 1 if config.share == "down" else m, True, config.unselected_experts
        )
        self.up = ExpertLinear(
            config.bottleneck, hidden, 1 if config.share == "up" else m, True, config.unselected_experts
        )
        self.act = ACT2FN[config.activation]
        for proj in (self.down, self.up):  # experts drawn independently from N(0, init_std), zero biases
            for w in proj.weight:
                nn.init.normal_(w, std=config.init_std)

    route_names = ("down", "up")

    def projections(self) -> dict[str, ExpertLinear]:
        return {"down": self.down, "up": self.up}

    def routed_projection(self, route_name: str) -> ExpertLinear:
        return self.projections()[route_name]

    def _mix(self, h: torch.Tensor, routes: dict[str, Route]) -> torch.Tensor:
        return self.up(self.act(self.down(h, routes["down"])), routes["up"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.base_layer(x)
        return h + self.delta(h)


class MixtureLoRALayer(MixtureLayer):
    """out = base(x) + (alpha / r) * B(A(dropout(x))), with A and B mixtures of experts.

    For GPT-2's fused q|k|v projection, A maps to len(parts) * r dims and each part has its own B
    that writes only its slice of the output (upstream loralib MergedLinear with enable_lora=[q, v]).
    """

    route_names = ("A", "B")  # all parts' B matrices share one route, as upstream's single B module

    def __init__(
        self, base_layer: nn.Module, config: AdaMixConfig, router: Router, slices: list[tuple[int, int]] | None = None
    ):
        super().__init__(base_layer, config, router)
        in_features, out_features = linear_shape(base_layer)
        self.out_features = out_features
        self.slices = slices or [(0, out_features)]
        m, r = config.num_experts, config.r
        self.lora_A = ExpertLinear(
            in_features, r * len(self.slices), 1 if config.share == "down" else m, False, config.unselected_experts
        )
        self.lora_B = nn.ModuleList(
            ExpertLinear(r, end - start, 1 if config.share == "up" else m, False, config.unselected_experts)
            for start, end in self.slices
        )
        self.dropout = nn.Dropout(config.lora_dropout) if config.lora_dropout > 0 else nn.Identity()
        self.scaling = config.lora_scaling
        # Upstream: every expert starts as a copy of ONE init (A kaiming-uniform as loralib, B zeros).
        init = torch.empty_like(self.lora_A.weight[0])
        nn.init.kaiming_uniform_(init, a=math.sqrt(5))
        with torch.no_grad():
            for w in self.lora_A.weight:
                w.copy_(init)

    def projections(self) -> dict[str, ExpertLinear]:
        return {"A": self.lora_A, **{f"B{i}": b for i, b in enumerate(self.lora_B)}}

    def routed_projection(self, route_name: str) -> ExpertLinear:
        return self.lora_A if route_name == "A" else self.lora_B[0]

    def _mix(self, x: torch.Tensor, routes: dict[str, Route]) -> torch.Tensor:
        a = self.lora_A(self.dropout(x), routes["A"])
        r = self.config.r
        parts = [b(a[..., i * r : (i + 1) * r], routes["B"]) for i, b in enumerate(self.lora_B)]
        return self.scaling * self._scatter(parts, a.shape[:-1], a)

    def _scatter(self, parts: list[torch.Tensor], lead: torch.Size, like: torch.Tensor) -> torch.Tensor:
        """Place each part's update in its output slice (zeros elsewhere)."""
        if self.slices == [(0, self.out_features)]:
            return parts[0]
        pieces, cursor = [], 0
        for (start, end), part in zip(self.slices, parts):
            if start > cursor:
                pieces.append(like.new_zeros(*lead, start - cursor))
            pieces.append(part)
            cursor = end
        if cursor < self.out_features:
            pieces.append(like.new_zeros(*lead, self.out_features - cursor))
        return torch.cat(pieces, dim=-1)

    def merged_delta_weight(self) -> torch.Tensor:
        """(alpha / r) * mean(B) @ mean(A) as an (out, in) matrix (zeros outside the adapted slices)."""
        a, _ = self.lora_A.merged()
        r = self.config.r
        delta = a.new_zeros(self.out_features, a.shape[1])
        for i, ((start, end), b) in enumerate(zip(self.slices, self.lora_B)):
            delta[start:end] = b.merged()[0] @ a[i * r : (i + 1) * r]
        return self.scaling * delta

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base_layer(x) + self.delta(x)
