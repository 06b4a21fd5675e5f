"""Shared plumbing for the peft methods (lora, ia3)."""

from __future__ import annotations

import torch.nn as nn

from baselines.prepared import PreparedModel, find_head_name, freeze_parameters, lm_head_parameters

# peft has no masked-LM task type: task_type=None gives the plain `PeftModel`, whose forward passes the
# batch through to the *ForMaskedLM model unchanged (TOKEN_CLS / FEATURE_EXTRACTION wrappers are for other
# heads and rewrite the forward arguments); peft freezes every non-adapter weight, the MLM head included.
PEFT_TASK_TYPES = {"seq_cls": "SEQ_CLS", "causal_lm": "CAUSAL_LM", "masked_lm": None}


def wrap(method: str, model: nn.Module, task_type: str, params: dict, config) -> PreparedModel:
    """get_peft_model + our conventions: the seq_cls head is a trainable `modules_to_save` copy."""
    from peft import get_peft_model

    head = find_head_name(model, task_type)
    lm_head = lm_head_parameters(model, task_type)  # causal_lm / masked_lm: pretrained LM head, kept frozen
    peft_model = get_peft_model(model, config)
    freeze_parameters(lm_head)
    return PreparedModel(method, peft_model, task_type, params, head_name=head)


def head_modules(model: nn.Module, task_type: str) -> list[str] | None:
    head = find_head_name(model, task_type)
    return [head] if head else None
