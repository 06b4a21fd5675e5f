"""Small helpers shared by the method modules (backbone introspection)."""

from __future__ import annotations

import torch.nn as nn


def model_type(model: nn.Module) -> str:
    """Hugging Face `config.model_type` ("bert", "roberta", "gpt2", "llama", ...), or "" if unknown."""
    config = getattr(model, "config", None)
    return str(getattr(config, "model_type", "") or "")


def hidden_size(model: nn.Module) -> int:
    config = getattr(model, "config", None)
    for attr in ("hidden_size", "n_embd", "d_model"):
        value = getattr(config, attr, None)
        if isinstance(value, int):
            return value
    raise ValueError(f"cannot read the hidden size of {type(model).__name__} from its config")


def check_positive_int(method: str, name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"method '{method}': parameter {name!r} must be an integer >= 1, got {value!r}")
    return value
