"""Shared plumbing for the peft methods (lora, ia3)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch.nn as nn

from baselines.prepared import PreparedModel, find_head_modules, freeze_parameters, lm_head_parameters, require_file

# peft has no masked-LM task type: task_type=None gives the plain `PeftModel`, whose forward passes the
# batch through to the *ForMaskedLM model unchanged (TOKEN_CLS / FEATURE_EXTRACTION wrappers are for other
# heads and rewrite the forward arguments); peft freezes every non-adapter weight, the MLM head included.
PEFT_TASK_TYPES = {"seq_cls": "SEQ_CLS", "causal_lm": "CAUSAL_LM", "masked_lm": None}


@dataclass(repr=False)
class PeftPrepared(PreparedModel):
    """Saved as peft saves adapters (`PeftModel.save_pretrained`: adapter_config.json +
    adapter_model.safetensors, the seq_cls head included as `modules_to_save`), so
    `PeftModel.from_pretrained(backbone, directory)` loads a run's result without this suite."""

    def save_trained(self, directory, full_weights: bool = False):
        self.model.save_pretrained(str(directory))
        return {"format": "peft", "files": sorted(p.name for p in Path(directory).iterdir())}

    def load_trained(self, directory) -> None:
        from peft import set_peft_model_state_dict
        from safetensors.torch import load_file

        weights = load_file(str(require_file(Path(directory) / "adapter_model.safetensors")))
        result = set_peft_model_state_dict(self.model, weights)
        if result.unexpected_keys:
            raise ValueError(
                f"saved adapter in {directory} does not fit this model (unexpected keys "
                f"{result.unexpected_keys[:3]}): load it into the method and backbone it was trained with"
            )


def wrap(method: str, model: nn.Module, task_type: str, params: dict, config) -> PreparedModel:
    """get_peft_model + our conventions: the seq_cls head is a trainable `modules_to_save` copy."""
    from peft import get_peft_model

    head = find_head_modules(model, task_type)
    lm_head = lm_head_parameters(model, task_type)  # causal_lm / masked_lm: pretrained LM head, kept frozen
    peft_model = get_peft_model(model, config)
    freeze_parameters(lm_head)
    return PeftPrepared(method, peft_model, task_type, params, head_modules=head)


def head_modules(model: nn.Module, task_type: str) -> list[str] | None:
    """peft's `modules_to_save`: the task head's modules (None: no head)."""
    return list(find_head_modules(model, task_type)) or None
