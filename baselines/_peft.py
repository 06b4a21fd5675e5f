"""Shared plumbing for the peft methods (lora, ia3)."""

from __future__ import annotations

import torch.nn as nn

from baselines.prepared import PreparedModel, find_head_name, freeze_output_embeddings

PEFT_TASK_TYPES = {"seq_cls": "SEQ_CLS", "causal_lm": "CAUSAL_LM"}


def wrap(method: str, model: nn.Module, task_type: str, params: dict, config) -> PreparedModel:
    """get_peft_model + our conventions: the seq_cls head is a trainable `modules_to_save` copy."""
    from peft import get_peft_model

    head = find_head_name(model, task_type)
    peft_model = get_peft_model(model, config)
    if task_type == "causal_lm":
        freeze_output_embeddings(peft_model)
    return PreparedModel(method, peft_model, task_type, params, head_name=head)


def head_modules(model: nn.Module, task_type: str) -> list[str] | None:
    head = find_head_name(model, task_type)
    return [head] if head else None
