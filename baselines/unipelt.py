"""UniPELT (Mao et al., 2022): gated adapter + prefix tuning (+ LoRA), AdapterHub `UniPELTConfig` parts.

variant "APL" = adapter + prefix + LoRA (AdapterHub's UniPELTConfig), "AP" = adapter + prefix.
Defaults are UniPELT's (= AdapterHub's): FFN adapter with reduction factor 16 (b=48 on BERT-base),
prefix length 10, LoRA r=8 on q and v (alpha 2, AdapterHub's UniPELT value), a gate per module.
Inference size on BERT-base (prefix counted as ejected): AP 1,097,304 (paper 1.1M), APL 1,410,672 (1.4M).
"""

from __future__ import annotations

from baselines._adapterhub import attach, check_bottleneck_params, resolve_bottleneck
from baselines._common import check_choice, check_int, check_number, check_positive_int
from baselines.registry import register_method

VARIANTS = ("AP", "APL")


def _validate(params: dict, task_type: str) -> None:
    check_choice("unipelt", "variant", params["variant"], VARIANTS)
    check_bottleneck_params("unipelt", params)
    check_int("unipelt", "prefix_length", params["prefix_length"])
    check_int("unipelt", "r", params["r"])
    check_number("unipelt", "alpha", params["alpha"], low=0, low_open=True)


@register_method(
    "unipelt",
    defaults={"variant": "APL", "bottleneck": None, "reduction_factor": None, "prefix_length": 10, "r": 8, "alpha": 2},
    presets={"table2_AP_1.1M": {"variant": "AP"}, "table2_APL_1.4M": {"variant": "APL"}},
    validate=_validate,
    description="UniPELT: gated adapter + prefix (+ LoRA for variant APL) via AdapterHub.",
    reference="Mao et al. 2022 (ACL); paper Table 2 'UniPELT (AP) 1.1M' and '(APL) 1.4M'",
)
def prepare(model, task_type: str, params: dict):
    from adapters import ConfigUnion, LoRAConfig, PrefixTuningConfig, SeqBnConfig

    variant = params["variant"]
    if variant not in VARIANTS:
        raise ValueError(f"method 'unipelt': variant must be one of {VARIANTS}, got {variant!r}")
    factor, params = resolve_bottleneck(model, "unipelt", params)
    parts = [
        PrefixTuningConfig(
            prefix_length=check_positive_int("unipelt", "prefix_length", params["prefix_length"]), use_gating=True
        ),
        SeqBnConfig(
            reduction_factor=factor,
            use_gating=True,
        ),
    ]
    if variant == "APL":
        parts.append(
            LoRAConfig(r=check_positive_int("unipelt", "r", params["r"]), alpha=params["alpha"], use_gating=True)
        )
    return attach("unipelt", model, task_type, params, ConfigUnion(*parts))
