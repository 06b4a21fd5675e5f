"""Optimizer parameter groups: which trainable parameters get weight decay.

The reference runs (microsoft/AdaMix, a fork of the Hugging Face Trainer; microsoft/LoRA's NLG code)
exempt biases and LayerNorm weights from weight decay, as the Hugging Face Trainer does. That is the
default here (`weight_decay_scope="trainer"`); `"all"` decays every trainable parameter (plain
``AdamW(params, weight_decay=wd)``), a named deviation kept for comparison with runs made before.
"""

from __future__ import annotations

WEIGHT_DECAY_SCOPES = ("trainer", "all")


def decay_exempt_names(model) -> set[str]:
    """Parameter names the Hugging Face Trainer does NOT decay (biases, LayerNorm / RMSNorm weights).

    The rule is the Trainer's own `get_decay_parameter_names` (it does not use its `self`), so it follows
    the installed transformers version instead of a copy of its patterns."""
    from transformers import Trainer

    decay = set(Trainer.get_decay_parameter_names(None, model))
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
