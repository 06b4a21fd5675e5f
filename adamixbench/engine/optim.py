"""Optimizer parameter groups: which trainable parameters get weight decay.

The reference runs (microsoft/AdaMix, a fork of the Hugging Face Trainer; microsoft/LoRA's NLG code)
exempt biases and LayerNorm weights from weight decay, as the Hugging Face Trainer does. That is the
default here (`weight_decay_scope="trainer"`); `"all"` decays every trainable parameter (plain
``AdamW(params, weight_decay=wd)``), a named deviation kept for comparison with runs made before.
"""

from __future__ import annotations

from adamixbench.plan.spec import WEIGHT_DECAY_SCOPES

# The Hugging Face Trainer's rule (`Trainer.get_decay_parameter_names`, transformers 4.57): no decay for
# parameters inside nn.LayerNorm modules or whose lower-cased name matches one of these patterns. Restated
# (with the Trainer's own `get_parameter_names`) because importing `transformers.Trainer` costs ~1 s per
# run (it imports peft, accelerate, ...); tests/engine/test_standins_optim.py checks it against the
# installed Trainer on every stand-in architecture, so a change of the Trainer's rule fails that test.
TRAINER_NO_DECAY_PATTERNS = (r"bias", r"layernorm", r"rmsnorm", r"(?:^|\.)norm(?:$|\.)", r"_norm(?:$|\.)")


def decay_exempt_names(model) -> set[str]:
    """Parameter names the Hugging Face Trainer does NOT decay (biases, LayerNorm / RMSNorm weights)."""
    from torch import nn
    from transformers.trainer_pt_utils import get_parameter_names

    decay = set(get_parameter_names(model, [nn.LayerNorm], list(TRAINER_NO_DECAY_PATTERNS)))
    return {name for name, _ in model.named_parameters() if name not in decay}


def parameter_groups(model, named_trainable, weight_decay: float, scope: str = "trainer") -> list[dict]:
    """AdamW parameter groups for `named_trainable` ((name, parameter) pairs of `model`)."""
    if scope not in WEIGHT_DECAY_SCOPES:
        raise ValueError(f"weight_decay_scope {scope!r} is invalid; allowed: {WEIGHT_DECAY_SCOPES}")
    named_trainable = list(named_trainable)
    if scope == "all":
        return [{"params": [p for _, p in named_trainable], "weight_decay": weight_decay}]
    exempt = decay_exempt_names(model)
    groups = [
        {"params": [p for n, p in named_trainable if n not in exempt], "weight_decay": weight_decay},
        {"params": [p for n, p in named_trainable if n in exempt], "weight_decay": 0.0},
    ]
    return [g for g in groups if g["params"]]
