"""BitFit (Ben Zaken et al., 2022): train only the bias terms (plus the task head)."""

from __future__ import annotations

from baselines._common import check_bool
from baselines.prepared import PreparedModel, find_head_modules, is_head_param, lm_head_parameters
from baselines.registry import register_method


@register_method(
    "bitfit",
    defaults={"layernorm_bias": True},
    default_lr=1e-3,
    validate=lambda params, task_type: check_bool("bitfit", "layernorm_bias", params["layernorm_bias"]),
    description="BitFit: bias terms only (+ task head). layernorm_bias=False leaves LayerNorm betas frozen.",
    reference="Ben Zaken, Ravfogel, Goldberg 2022 (ACL); paper Table 2 'BitFit 0.1M' (BERT-base: 102,912 biases)",
)
def prepare(model, task_type: str, params: dict) -> PreparedModel:
    head = find_head_modules(model, task_type)
    lm_head_ids = {id(p) for p in lm_head_parameters(model, task_type)}  # pretrained LM / MLM head: frozen
    layernorm_modules = {
        name
        for name, module in model.named_modules()
        if "layernorm" in type(module).__name__.lower() or "rmsnorm" in type(module).__name__.lower()
    }
    n_bias = 0
    for name, p in model.named_parameters():
        owner = name.rsplit(".", 1)[0]
        if is_head_param(name, head):
            train = True
        elif id(p) in lm_head_ids:
            train = False
        elif name.endswith("bias"):
            train = params["layernorm_bias"] or owner not in layernorm_modules
        else:
            train = False
        p.requires_grad_(train)
        n_bias += p.numel() if train and not is_head_param(name, head) else 0
    if n_bias == 0:
        raise ValueError(f"bitfit: {type(model).__name__} has no bias terms to train (e.g. LLaMA-style models)")
    return PreparedModel("bitfit", model, task_type, params)
