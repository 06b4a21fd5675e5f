"""LoRA (Hu et al., 2022) via peft, on W_q and W_v.

Defaults are the LoRA paper's GLUE setting: r=8, alpha=16 on query and value (RoBERTa-large:
24 x 2 x 8 x (1024+1024) = 786,432 = "0.8M"; BERT-base: 294,912 = "0.3M").
Targets per architecture (target_modules=None) come from adamix.targets (the one table, shared with
AdaMix-LoRA), e.g. BERT / RoBERTa / ELECTRA: "query", "value"; LLaMA / Mistral / Qwen2: "q_proj", "v_proj";
GPT-2: "c_attn" with fan_in_fan_out=True. peft cannot adapt only the q and v slices of GPT-2's fused
q|k|v Conv1D (the LoRA repo's MergedLinear can), so q, k and v all get the update; the parameter count
is identical by coincidence: r x (1024 + 3072) = 2 x r x (1024 + 1024) per layer on GPT-2 medium.
"""

from __future__ import annotations

from baselines._common import check_int, check_names, check_number, check_positive_int, model_type
from baselines._peft import PEFT_TASK_TYPES, head_modules, wrap
from baselines.registry import register_method

FAN_IN_FAN_OUT = {"gpt2"}  # Conv1D stores weights transposed


def targets_for(model, method: str) -> list[str]:
    """Default peft `target_modules` of `model`: the LoRA targets of adamix.targets (their one home, shared
    with AdaMix-LoRA so both adapt the same modules; imported here lazily to keep `import baselines` cheap)."""
    from adamix.targets import ARCHITECTURES, lora_module_names

    mtype = model_type(model)
    names = lora_module_names(mtype)
    if names is None:
        raise ValueError(
            f"method '{method}': no default target modules for model_type {mtype!r}; "
            f"pass params {{'target_modules': [...]}} (known defaults: {sorted(ARCHITECTURES)})"
        )
    return names


def _validate(params: dict, task_type: str) -> None:
    check_int("lora", "r", params["r"])
    check_number("lora", "alpha", params["alpha"], low=0, low_open=True)
    check_number("lora", "dropout", params["dropout"], low=0, high=1, high_open=True)
    check_names("lora", "target_modules", params["target_modules"])


@register_method(
    "lora",
    defaults={"r": 8, "alpha": 16, "dropout": 0.1, "target_modules": None},
    presets={
        "table1_0.8M": {"r": 8, "alpha": 16},
        "table2_0.3M": {"r": 8, "alpha": 16},
        "nlg_0.35M": {"r": 4, "alpha": 32},
    },
    validate=_validate,
    description="LoRA via peft on W_q, W_v (r=8, alpha=16); seq_cls head trainable (modules_to_save).",
    reference="Hu et al. 2022; paper Table 1 'LoRA 0.8M', Table 2 'LoRA 0.3M', Table 3 'LoRA 0.35M'",
)
def prepare(model, task_type: str, params: dict):
    from peft import LoraConfig

    targets = params["target_modules"] or targets_for(model, "lora")
    config = LoraConfig(
        task_type=PEFT_TASK_TYPES[task_type],
        r=check_positive_int("lora", "r", params["r"]),
        lora_alpha=params["alpha"],
        lora_dropout=params["dropout"],
        target_modules=targets,
        fan_in_fan_out=model_type(model) in FAN_IN_FAN_OUT,
        modules_to_save=head_modules(model, task_type),
    )
    params = {**params, "target_modules": targets}
    return wrap("lora", model, task_type, params, config)
