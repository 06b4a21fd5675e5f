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


# ---- parameter checks for the methods' `validate` hooks (run before any job, without a model) --------------
def _bad(method: str, name: str, value, allowed: str) -> ValueError:
    return ValueError(
        f"method '{method}': parameter {name!r}={value!r} is invalid; allowed: {allowed} "
        f"(set it in the suite's `params:` or --method-params)"
    )


def check_number(
    method: str,
    name: str,
    value,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    optional: bool = False,
) -> None:
    """A real number (not a bool, not a string such as YAML's '5e-3') within the given bounds."""
    if value is None and optional:
        return
    lo = "" if low is None else f"{'>' if low_open else '>='} {low}"
    hi = "" if high is None else f"{'<' if high_open else '<='} {high}"
    allowed = " and ".join(x for x in ("a number", lo, hi) if x) + (" or null" if optional else "")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _bad(method, name, value, allowed)
    if low is not None and (value <= low if low_open else value < low):
        raise _bad(method, name, value, allowed)
    if high is not None and (value >= high if high_open else value > high):
        raise _bad(method, name, value, allowed)


def check_int(method: str, name: str, value, low: int = 1, optional: bool = False) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise _bad(method, name, value, f"an integer >= {low}" + (" or null" if optional else ""))


def check_bool(method: str, name: str, value) -> None:
    if not isinstance(value, bool):
        raise _bad(method, name, value, "true or false")


def check_choice(method: str, name: str, value, choices) -> None:
    if value not in choices:
        raise _bad(method, name, value, " | ".join(map(str, choices)))


def check_names(method: str, name: str, value, optional: bool = True) -> None:
    """None (the method's per-architecture default) or a list of non-empty module names."""
    if value is None and optional:
        return
    if (
        isinstance(value, str)
        or not isinstance(value, (list, tuple))
        or not value
        or not all(isinstance(v, str) and v for v in value)
    ):
        raise _bad(
            method, name, value, "a non-empty list of module names" + (" or null (the default)" if optional else "")
        )


def check_activation(method: str, name: str, value) -> None:
    """An activation name transformers knows (AdapterHub resolves them with transformers' get_activation)."""
    from transformers.activations import ACT2FN

    if not isinstance(value, str) or (value.lower() not in ACT2FN and value.lower() != "leakyrelu"):
        raise _bad(
            method,
            name,
            value,
            f"an activation name, e.g. relu, swish, gelu, tanh (transformers ACT2FN: {', '.join(sorted(ACT2FN))})",
        )
