"""Which class builds which adapter type, and the two entry points that pick it: peft's pattern of one
type -> class table, so that the base class never names a subclass.

    model = get_adamix_model(hf_model, AdaMixConfig(adapter_type="peft", peft_config=LoraConfig(r=8)))
    model = load_adamix_model(fresh_hf_model, "ckpt")   # the class the checkpoint's adapter_type needs
"""

from __future__ import annotations

from pathlib import Path

import torch.nn as nn

from .config import ADAPTER_TYPES, AdaMixConfig, _fail
from .model import AdaMixModel, read_checkpoint_config
from .peft_mixture import PeftAdaMixModel  # imports peft only when a peft mixture is built

MODEL_CLASS_BY_ADAPTER_TYPE: dict[str, type[AdaMixModel]] = {
    adapter_type: cls for cls in (AdaMixModel, PeftAdaMixModel) for adapter_type in cls.ADAPTER_TYPES
}


def model_class(adapter_type: str) -> type[AdaMixModel]:
    if adapter_type not in MODEL_CLASS_BY_ADAPTER_TYPE:
        _fail("adapter_type", adapter_type, ADAPTER_TYPES)
    return MODEL_CLASS_BY_ADAPTER_TYPE[adapter_type]


def get_adamix_model(model: nn.Module, config: AdaMixConfig) -> AdaMixModel:
    """Inject AdaMix mixtures into a Hugging Face model and freeze its backbone (task head stays trainable)."""
    return model_class(config.adapter_type)(model, config)


def load_adamix_model(model: nn.Module, directory: str | Path) -> AdaMixModel:
    """Rebuild a saved AdaMix model (`save_pretrained`) on a fresh copy of the backbone it was trained on,
    with the class its adapter type needs; every check of `AdaMixModel.from_pretrained` applies."""
    _, config = read_checkpoint_config(directory)
    return model_class(config.adapter_type).from_pretrained(model, directory)
