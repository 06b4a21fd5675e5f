"""Stochastic routing: which expert each mixture projection uses, in training and at evaluation.

Upstream AdaMix has no router network: on every forward call of every mixture module one expert index
is drawn uniformly (`randint(0, M)`) and the whole batch uses it; draws are independent per layer and
per projection (adapter Down / Up, LoRA A / B). Shared projections have a single module and no draw.

Routes are drawn up front for a whole forward pass, one `randint` for all projections, from a CPU
generator that can be seeded. Drawing per pass (rather than inside each module) lets the fused
consistency step give both halves of a duplicated batch their own routes, lets the two-pass
reference use exactly the same draws, and keeps gradient checkpointing's recomputation on the
routes of the original forward.

A route handed to a projection is one of
  * a tuple of k expert indices: the leading (batch) dimension is split into k equal chunks and chunk i
    uses expert route[i] (k = 1: the whole batch uses one expert; k = 2: the fused consistency step);
  * MERGED: the uniform average of the experts' weights;
  * a LongTensor of per-row expert indices (random per-token evaluation).
"""

from __future__ import annotations

import torch

MERGED = "merged"
Route = tuple | str | torch.Tensor


class Router:
    """Owns the generator all expert draws come from."""

    def __init__(self, seed: int):
        self.generator = torch.Generator(device="cpu")
        self.generator.manual_seed(seed)

    def draw(self, num_experts: int, shape: tuple[int, ...]) -> torch.Tensor:
        return torch.randint(num_experts, shape, generator=self.generator)


def draw_training_routes(router: Router, layers: list, num_passes: int) -> list[dict[str, tuple]]:
    """One independent uniform draw per (layer, routed projection, pass).

    Returns, per layer, {projection name: (expert for pass 0, expert for pass 1, ...)}.
    """
    slots = [(i, name) for i, layer in enumerate(layers) for name in layer.routed_projections()]
    num_experts = layers[0].num_experts if layers else 1
    draws = router.draw(num_experts, (len(slots), num_passes)).tolist() if slots else []
    routes: list[dict[str, tuple]] = [{} for _ in layers]
    for (i, name), experts in zip(slots, draws):
        routes[i][name] = tuple(experts)
    return routes


def select_pass(routes: list[dict[str, tuple]], index: int) -> list[dict[str, tuple]]:
    """The routes of one pass out of a multi-pass draw (the sequential consistency reference)."""
    return [{name: (experts[index],) for name, experts in layer.items()} for layer in routes]


def evaluation_route(mode: str, fixed_expert: int | None, router: Router, num_experts: int, x: torch.Tensor) -> Route:
    """The route one projection uses in eval mode for input `x` (batch-first)."""
    if mode == "merge":
        return MERGED
    if fixed_expert is not None:
        return (fixed_expert,)
    if mode == "random_sequence":  # upstream inference level 1: one expert per sequence
        return tuple(router.draw(num_experts, (x.shape[0],)).tolist())
    if mode == "random_token":  # upstream inference level 0: one expert per token
        return router.draw(num_experts, tuple(x.shape[:-1])).to(x.device)
    raise ValueError(f"evaluation_route has no route for inference mode {mode!r}")
