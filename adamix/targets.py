"""Which modules of a Hugging Face model receive mixture modules, per architecture.

Patterns are regular expressions matched against full module names (`model.named_modules()`).
A user-given `target_modules` entry matches a module when it equals the module name, is a dotted
suffix of it (peft's convention), or fully matches it as a regular expression.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch.nn as nn
from transformers.pytorch_utils import Conv1D


@dataclass(frozen=True)
class ArchitectureTargets:
    ffn_output: str  # the FFN output projection (upstream AdaMix adapter position)
    attention_output: str  # the attention output projection (second Houlsby position)
    lora: tuple[str, ...]  # LoRA targets: W_q and W_v (or GPT-2's fused c_attn)


_BERT_LIKE = ArchitectureTargets(
    ffn_output=r".*layer\.\d+\.output\.dense",
    attention_output=r".*layer\.\d+\.attention\.output\.dense",
    lora=(r".*layer\.\d+\.attention\.self\.query", r".*layer\.\d+\.attention\.self\.value"),
)
_LLAMA_LIKE = ArchitectureTargets(
    ffn_output=r".*layers\.\d+\.mlp\.down_proj",
    attention_output=r".*layers\.\d+\.self_attn\.o_proj",
    lora=(r".*layers\.\d+\.self_attn\.q_proj", r".*layers\.\d+\.self_attn\.v_proj"),
)

ARCHITECTURES: dict[str, ArchitectureTargets] = {
    "bert": _BERT_LIKE,
    "roberta": _BERT_LIKE,
    "xlm-roberta": _BERT_LIKE,
    "electra": _BERT_LIKE,
    "deberta-v2": ArchitectureTargets(
        ffn_output=_BERT_LIKE.ffn_output,
        attention_output=_BERT_LIKE.attention_output,
        lora=(r".*layer\.\d+\.attention\.self\.query_proj", r".*layer\.\d+\.attention\.self\.value_proj"),
    ),
    "distilbert": ArchitectureTargets(
        ffn_output=r".*layer\.\d+\.ffn\.lin2",
        attention_output=r".*layer\.\d+\.attention\.out_lin",
        lora=(r".*layer\.\d+\.attention\.q_lin", r".*layer\.\d+\.attention\.v_lin"),
    ),
    "gpt2": ArchitectureTargets(
        ffn_output=r".*h\.\d+\.mlp\.c_proj",
        attention_output=r".*h\.\d+\.attn\.c_proj",
        lora=(r".*h\.\d+\.attn\.c_attn",),
    ),
    "llama": _LLAMA_LIKE,
    "mistral": _LLAMA_LIKE,
    "qwen2": _LLAMA_LIKE,
}


def default_patterns(model_type: str, adapter_type: str, placement: str) -> list[str]:
    targets = ARCHITECTURES.get(model_type)
    if targets is None:
        return []
    if adapter_type == "lora":
        return list(targets.lora)
    if placement == "houlsby":
        return [targets.attention_output, targets.ffn_output]
    return [targets.ffn_output]


def lora_module_names(model_type: str) -> list[str] | None:
    """The LoRA targets of an architecture as peft's `target_modules` names (the last component of each
    module name: "query", "value", "c_attn", ...), None for an architecture without defaults.

    This table is the one home of "which modules LoRA adapts per architecture": AdaMix-LoRA uses the
    patterns, and the peft-based baselines (baselines/lora.py, baselines/peft_tuners.py) these names, so
    AdaMix and the baselines it is compared with adapt the same modules. tests/baselines checks it against
    peft's own mapping (TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING) wherever peft has an entry.
    """
    targets = ARCHITECTURES.get(model_type)
    if targets is None:
        return None
    names = [pattern.rsplit(r"\.", 1)[-1] for pattern in targets.lora]
    assert all(re.fullmatch(r"\w+", n) for n in names), names  # each pattern ends in a plain module name
    return names


def _matches(pattern: str, name: str) -> bool:
    if name == pattern or name.endswith("." + pattern):
        return True
    try:
        return re.fullmatch(pattern, name) is not None
    except re.error:
        return False


def find_target_modules(
    model: nn.Module, model_type: str, adapter_type: str, placement: str, target_modules: list[str] | None
) -> list[str]:
    """Names of the Linear / Conv1D modules to wrap, in model order; a clear error when none match."""
    patterns = target_modules or default_patterns(model_type, adapter_type, placement)
    names = [
        name
        for name, module in model.named_modules()
        if isinstance(module, (nn.Linear, Conv1D)) and any(_matches(p, name) for p in patterns)
    ]
    if not names:
        known = ", ".join(sorted(ARCHITECTURES))
        linear_names = sorted(
            {n.split(".")[-1] for n, m in model.named_modules() if isinstance(m, (nn.Linear, Conv1D))}
        )
        raise ValueError(
            f"AdaMix found no modules to adapt in model_type={model_type!r} "
            f"(adapter_type={adapter_type!r}, placement={placement!r}). "
            f"Looked for: {patterns or 'nothing: no default for this architecture'}. "
            f"Architectures with defaults: {known}. Pass AdaMixConfig(target_modules=[...]) with module "
            f"names, dotted suffixes or regular expressions; Linear/Conv1D names in this model: {linear_names}."
        )
    return names


def fused_qkv_slices(
    model_type: str, module_name: str, module: nn.Module, parts: list[str]
) -> list[tuple[int, int]] | None:
    """Output slices of GPT-2's fused q|k|v projection that LoRA adapts (None for ordinary modules)."""
    if model_type != "gpt2" or not module_name.endswith("c_attn") or not isinstance(module, Conv1D):
        return None
    width = module.nf // 3
    offsets = {"q": 0, "k": width, "v": 2 * width}
    return [(offsets[p], offsets[p] + width) for p in sorted(parts, key="qkv".index)]
