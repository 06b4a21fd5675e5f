"""(IA)^3 (Liu et al., 2022) via peft: learned rescaling vectors on keys, values and the FFN.

No row in the AdaMix paper; included as a cheap extra baseline. target_modules / feedforward_modules
None = peft's per-architecture defaults (BERT: key, value, output.dense; feed-forward: output.dense).
"""

from __future__ import annotations

from baselines._common import check_names, model_type
from baselines._peft import PEFT_TASK_TYPES, head_modules, wrap
from baselines.registry import register_method


def _validate(params: dict, task_type: str) -> None:
    check_names("ia3", "target_modules", params["target_modules"])
    check_names("ia3", "feedforward_modules", params["feedforward_modules"])
    if (params["target_modules"] is None) != (params["feedforward_modules"] is None):
        raise ValueError("method 'ia3': give both target_modules and feedforward_modules, or neither")


@register_method(
    "ia3",
    defaults={"target_modules": None, "feedforward_modules": None},
    default_lr=3e-3,
    description="(IA)^3 via peft (peft's default targets per architecture).",
    validate=_validate,
    reference="Liu et al. 2022 (T-Few); not in the AdaMix paper",
)
def prepare(model, task_type: str, params: dict):
    from peft import IA3Config

    if (params["target_modules"] is None) != (params["feedforward_modules"] is None):
        raise ValueError("method 'ia3': give both target_modules and feedforward_modules, or neither")
    config = IA3Config(
        task_type=PEFT_TASK_TYPES[task_type],
        target_modules=params["target_modules"],
        feedforward_modules=params["feedforward_modules"],
        fan_in_fan_out=model_type(model) == "gpt2",
        modules_to_save=head_modules(model, task_type),
    )
    prepared = wrap("ia3", model, task_type, params, config)
    resolved = prepared.model.peft_config["default"]
    prepared.params = {
        **params,
        "target_modules": sorted(resolved.target_modules),
        "feedforward_modules": sorted(resolved.feedforward_modules),
    }
    return prepared
