"""peft tuners by name, as plain methods (dora, vera, loha) and as the experts of `adamix_peft`.

One table, `TUNERS`, says how a tuner name becomes a peft config: its config class, its default
settings and its default target modules. The plain method X and the mixture `adamix_peft` with
`tuner: X` build the SAME peft config from the same params, so "X vs AdaMix(X)" differs only by the
mixture (M experts, routing, consistency, merging); at inference both have exactly one X module per
adapted projection, so equal inference parameters.

Method params are the tuner's own peft config fields (e.g. dora: {"r": 16, "lora_alpha": 32}); any
field of the peft config class is accepted. Default targets, by one rule: a tuner that adapts what LoRA
adapts (the LoRA family, VeRA, LoHa, LoKr) takes W_q and W_v from adamix.targets through
baselines.lora.targets_for (GPT-2: the fused c_attn with fan_in_fan_out), the table AdaMix-LoRA uses too;
a tuner with no LoRA counterpart (IA3: keys, values, FFN output) takes peft's own per-architecture defaults.
Defaults: LoRA / DoRA / rsLoRA r=8, alpha=16,
dropout 0.1 (the `lora` baseline); VeRA r=256 (peft's default; the VeRA paper's GLUE rank is 1024 on
RoBERTa-large); LoHa / LoKr r=8, alpha=8 (LoHa has two rank-r factor pairs, so it costs what LoRA r=16
costs).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from baselines._common import model_type
from baselines._peft import PEFT_TASK_TYPES, head_modules, wrap
from baselines.lora import FAN_IN_FAN_OUT, targets_for
from baselines.registry import register_method


@dataclass(frozen=True)
class Tuner:
    config_class: str  # the peft config class
    defaults: dict = field(default_factory=dict)
    attention_targets: bool = True  # False: peft's own per-architecture default targets


TUNERS = {
    "lora": Tuner("LoraConfig", {"r": 8, "lora_alpha": 16, "lora_dropout": 0.1}),
    "dora": Tuner("LoraConfig", {"r": 8, "lora_alpha": 16, "lora_dropout": 0.1, "use_dora": True}),
    "rslora": Tuner("LoraConfig", {"r": 8, "lora_alpha": 16, "lora_dropout": 0.1, "use_rslora": True}),
    "vera": Tuner("VeraConfig", {"r": 256, "vera_dropout": 0.0}),
    "ia3": Tuner("IA3Config", {}, attention_targets=False),
    "loha": Tuner("LoHaConfig", {"r": 8, "alpha": 8}),
    "lokr": Tuner("LoKrConfig", {"r": 8, "alpha": 8}),
}


def _config_class(tuner: str):
    import peft

    if tuner not in TUNERS:
        raise ValueError(f"unknown peft tuner {tuner!r}; known tuners: {sorted(TUNERS)}")
    return getattr(peft, TUNERS[tuner].config_class)


def config_fields(tuner: str) -> list[str]:
    """Every setting of the tuner's peft config (the params its methods accept)."""
    return [f.name for f in dataclasses.fields(_config_class(tuner)) if f.init]


def peft_config(tuner: str, model, task_type: str | None, params: dict, method: str):
    """The peft config of `tuner` for `model`: TUNERS defaults <- params, targets resolved per backbone.

    task_type None: no peft task type and no modules_to_save (the mixture trains its head itself).
    """
    cls = _config_class(tuner)
    settings = {**TUNERS[tuner].defaults, **{k: v for k, v in params.items() if v is not None}}
    unknown = sorted(set(settings) - set(config_fields(tuner)))
    if unknown:
        raise ValueError(
            f"method '{method}': {sorted(unknown)} are not {cls.__name__} settings; allowed: {config_fields(tuner)}"
        )
    if settings.get("target_modules") is None and TUNERS[tuner].attention_targets:
        settings["target_modules"] = targets_for(model, method)
    if model_type(model) in FAN_IN_FAN_OUT and "fan_in_fan_out" in config_fields(tuner):
        settings.setdefault("fan_in_fan_out", True)
    if task_type is not None:
        settings["task_type"] = PEFT_TASK_TYPES[task_type]
        settings["modules_to_save"] = head_modules(model, task_type)
    try:
        return cls(**settings)
    except (TypeError, ValueError) as error:
        raise ValueError(f"method '{method}': invalid {cls.__name__} settings {settings}: {error}") from error


def _register_plain(name: str, description: str, reference: str, task_types=("seq_cls", "causal_lm", "masked_lm")):
    def prepare(model, task_type: str, params: dict):
        config = peft_config(name, model, task_type, params, name)
        resolved = {
            **TUNERS[name].defaults,
            **params,
            "target_modules": sorted(config.target_modules) if config.target_modules else None,
        }
        return wrap(name, model, task_type, resolved, config)

    register_method(
        name,
        prepare,
        defaults={**TUNERS[name].defaults, "target_modules": None},
        allowed_params=lambda: config_fields(name),
        description=description,
        reference=reference,
        task_types=task_types,
    )


_register_plain(
    "dora",
    "DoRA via peft (LoraConfig use_dora) on W_q, W_v; seq_cls head trainable.",
    "Liu et al. 2024 (ICML); not in the AdaMix paper",
)
_register_plain(
    "vera",
    "VeRA via peft on W_q, W_v: trained scaling vectors on shared frozen random projections.",
    "Kopiczko et al. 2024 (ICLR); not in the AdaMix paper",
)
# peft's LoHa adapts Linear / Conv layers, not GPT-2's Conv1D (the paper's NLG backbone): no causal_lm.
_register_plain(
    "loha",
    "LoHa via peft (Hadamard product of two low-rank updates) on W_q, W_v.",
    "Hyeon-Woo et al. 2022 (FedPara; LyCORIS); not in the AdaMix paper",
    task_types=("seq_cls", "masked_lm"),
)
