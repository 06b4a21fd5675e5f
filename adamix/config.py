"""AdaMixConfig: every knob of the method, validated up front.

Defaults follow the reference code (microsoft/AdaMix); each deliberate deviation is a named option.
"""

from __future__ import annotations

import copy
import dataclasses
import enum
from dataclasses import dataclass, field
from typing import Any

from transformers.activations import ACT2FN

ADAPTER_TYPES = ("adapter", "lora", "peft")
SHARE_OPTIONS = ("up", "down", "none")
PLACEMENTS = ("ffn", "houlsby")
CONSISTENCY_KINDS = ("sym_kl", "mse")
INFERENCE_MODES = ("merge", "random_sequence", "random_token", "fixed:<k>", "ensemble")
UNSELECTED_EXPERTS = ("frozen", "decay")


def _fail(field_name: str, value, allowed) -> None:
    raise ValueError(f"AdaMixConfig.{field_name}={value!r} is invalid; allowed: {allowed}")


@dataclass
class AdaMixConfig:
    # "adapter": a bottleneck adapter mixture (Down -> act -> Up, residual) after the chosen sublayer
    # outputs; "lora": a mixture of low-rank updates on the attention projections; "peft": a mixture of
    # the experts of any peft tuner given as `peft_config` (adamix/peft_mixture.py; needs peft).
    adapter_type: str = "adapter"
    # M experts per mixture module. Paper: 4 for GLUE, 8 for NLG.
    num_experts: int = 4
    # Adapter bottleneck size. Paper: 16 (RoBERTa-large), 48 (BERT-base), 8 (GPT-2 medium).
    # Inference params per adapter = 2*hidden*bottleneck + bottleneck + hidden,
    # e.g. RoBERTa-large: 24 layers * (2*1024*16 + 16 + 1024) = 811,392.
    bottleneck: int = 16
    # LoRA rank / alpha (update scaled by alpha / r) / dropout on the LoRA input. Paper NLG: 4 / 32 / 0.1.
    r: int = 4
    lora_alpha: float = 32.0
    lora_dropout: float = 0.1
    # Module names (suffixes or regular expressions) to adapt; None = the architecture's default
    # (adamix/targets.py). For adapters these are the sublayer OUTPUT projections the adapter follows.
    target_modules: list[str] | None = None
    # Which projection is a single module shared by all experts. Upstream: "up" (adapter Up / LoRA B).
    # adapter_type="peft": "none", "up" / "down" (LoRA family: B / A), or a list of the tuner's parameter
    # fragments (peft `adapter_layer_names`, e.g. ["lora_B"]). None = the upstream choice: "up" for
    # "adapter" / "lora" and the LoRA family, "none" for other peft tuners (resolved on construction).
    share: str | list | None = None
    # Adapter placement: "ffn" = upstream AdaMix (after the FFN output only);
    # "houlsby" = after the attention output projection too.
    placement: str = "ffn"
    # Adapter non-linearity; "gelu" is the exact (erf) GELU used upstream.
    activation: str = "gelu"
    # Std of the N(0, std) init of adapter experts (biases zero, Up NOT zero-initialised, as upstream).
    init_std: float = 0.02
    # Weight of the consistency term (upstream: 1 for GLUE, 100 for NLG). 0 disables the second pass.
    consistency_weight: float = 1.0
    # "sym_kl" = upstream symmetric KL with detached targets; "mse" = regression-aware variant
    # (upstream's KL is identically zero for a single-logit regression head such as STS-B).
    consistency_kind: str = "sym_kl"
    # Evaluation routing: "merge" (uniform weight average; what the paper reports), "random_sequence"
    # (upstream level 1), "random_token" (upstream level 0), "fixed:<k>" (always expert k),
    # "ensemble" (average of the experts' outputs; not in upstream).
    inference: str = "merge"
    # What AdamW does to experts not selected in a step. "frozen": their grad is None, so the optimiser
    # skips them (what upstream code does on torch>=2). "decay": their grad is zero, so momentum and
    # weight decay keep moving them (what upstream did on torch<2, where the paper's runs were made).
    unselected_experts: str = "frozen"
    # Seed of the routing generator; None derives it from torch's global RNG (so torch.manual_seed
    # makes routing reproducible).
    routing_seed: int | None = None
    # Keep a task head (classifier / regression head) trainable. None = automatic: trainable when the
    # model has one (adamix.task_head_parameter_names: parameters outside the backbone of a model that
    # is not a language model).
    train_head: bool | None = None
    # Fused GPT-2 `c_attn` (q|k|v in one Conv1D): which of its parts get LoRA. Upstream: q and v.
    fused_qkv_parts: list[str] = field(default_factory=lambda: ["q", "v"])
    # adapter_type="peft" only: the underlying tuner, a peft PeftConfig (e.g. LoraConfig(r=8, use_dora=True))
    # or its to_dict(); stored as a JSON-able dict. r, lora_alpha, bottleneck, target_modules, ... above
    # are the built-in types' options: with "peft" the tuner's own settings live here.
    peft_config: Any | None = None

    def __post_init__(self) -> None:
        if self.share is None and self.adapter_type != "peft":
            self.share = "up"
        self.validate()

    def validate(self) -> None:
        if self.adapter_type not in ADAPTER_TYPES:
            _fail("adapter_type", self.adapter_type, ADAPTER_TYPES)
        for name in ("num_experts", "bottleneck", "r"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                _fail(name, value, "an integer >= 1")
        if not isinstance(self.lora_alpha, (int, float)) or self.lora_alpha <= 0:
            _fail("lora_alpha", self.lora_alpha, "a number > 0")
        if not isinstance(self.lora_dropout, (int, float)) or not 0 <= self.lora_dropout < 1:
            _fail("lora_dropout", self.lora_dropout, "a number in [0, 1)")
        if not isinstance(self.init_std, (int, float)) or self.init_std <= 0:
            _fail("init_std", self.init_std, "a number > 0")
        if self.adapter_type == "peft":
            validate_peft_options(self)  # imports peft: only this adapter type needs it
        else:
            if self.peft_config is not None:
                _fail(
                    "peft_config",
                    "<given>",
                    f"None for adapter_type={self.adapter_type!r} (peft_config needs adapter_type='peft')",
                )
            if self.share not in SHARE_OPTIONS:
                _fail("share", self.share, SHARE_OPTIONS)
        if self.placement not in PLACEMENTS:
            _fail("placement", self.placement, PLACEMENTS)
        if self.activation not in ACT2FN:
            _fail("activation", self.activation, sorted(ACT2FN))
        if not isinstance(self.consistency_weight, (int, float)) or self.consistency_weight < 0:
            _fail("consistency_weight", self.consistency_weight, "a number >= 0")
        if self.consistency_kind not in CONSISTENCY_KINDS:
            _fail("consistency_kind", self.consistency_kind, CONSISTENCY_KINDS)
        self.fixed_expert()  # validates `inference`
        if self.unselected_experts not in UNSELECTED_EXPERTS:
            _fail("unselected_experts", self.unselected_experts, UNSELECTED_EXPERTS)
        if self.target_modules is not None and (
            isinstance(self.target_modules, str) or not all(isinstance(t, str) and t for t in self.target_modules)
        ):
            _fail("target_modules", self.target_modules, "None or a list of non-empty strings")
        if (
            not self.fused_qkv_parts
            or not set(self.fused_qkv_parts) <= {"q", "k", "v"}
            or len(set(self.fused_qkv_parts)) != len(self.fused_qkv_parts)
        ):
            _fail("fused_qkv_parts", self.fused_qkv_parts, "a non-empty subset of ['q', 'k', 'v']")
        if self.routing_seed is not None and (
            isinstance(self.routing_seed, bool) or not isinstance(self.routing_seed, int)
        ):
            _fail("routing_seed", self.routing_seed, "None or an integer")
        if self.train_head not in (None, True, False):
            _fail("train_head", self.train_head, "None, True or False")

    def fixed_expert(self) -> int | None:
        """The expert index of a "fixed:<k>" inference mode (None for the other modes)."""
        mode = self.inference
        if not isinstance(mode, str):
            _fail("inference", mode, INFERENCE_MODES)
        if mode.startswith("fixed:"):
            index = mode.split(":", 1)[1]
            if not index.isdigit() or int(index) >= self.num_experts:
                _fail("inference", mode, f"'fixed:<k>' with 0 <= k < num_experts={self.num_experts}")
            return int(index)
        if mode not in INFERENCE_MODES:
            _fail("inference", mode, INFERENCE_MODES)
        return None

    @property
    def lora_scaling(self) -> float:
        return self.lora_alpha / self.r

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> AdaMixConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"AdaMixConfig got unknown fields {unknown}; known fields: {sorted(known)}")
        return cls(**data)


# ------------------------------------------------------------------ adapter_type='peft': the tuner's options
# PeftConfig fields that say where an adapter came from (which backbone, which peft), not what it is: the
# checkpoint's metadata records the backbone, and peft's version is not a setting
PEFT_PROVENANCE_FIELDS = ("base_model_name_or_path", "revision", "peft_version")
# The LoRA family's up / down projections (DoRA, rsLoRA are LoraConfig options of the same tuner).
LORA_FAMILY_FRAGMENTS = {"up": ("lora_B", "lora_embedding_B"), "down": ("lora_A", "lora_embedding_A")}
LORA_FAMILY = ("LORA",)
# AdaMixConfig fields that configure the built-in adapter / LoRA mixtures; the peft tuner has its own.
BUILT_IN_ONLY_FIELDS = (
    "bottleneck",
    "r",
    "lora_alpha",
    "lora_dropout",
    "target_modules",
    "placement",
    "activation",
    "init_std",
    "fused_qkv_parts",
)


def import_peft():
    try:
        import peft
    except ImportError as error:  # pragma: no cover - peft is a project dependency
        raise ImportError("AdaMixConfig(adapter_type='peft') needs the `peft` package: pip install peft") from error
    return peft


def _jsonable(value):
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (set, frozenset)):
        return sorted(_jsonable(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _jsonable(dataclasses.asdict(value))
    return value


def peft_config_to_dict(peft_config) -> dict:
    """A PeftConfig (or its dict) as a JSON-able dict (sets as sorted lists, enums as strings)."""
    data = peft_config.to_dict() if hasattr(peft_config, "to_dict") else dict(peft_config)
    for name in PEFT_PROVENANCE_FIELDS:
        data.pop(name, None)
    return _jsonable(data)


def peft_config_from_dict(data: dict):
    """The peft PeftConfig of the tuner a dict describes."""
    peft = import_peft()
    if "peft_type" not in data:
        raise ValueError(
            "AdaMixConfig.peft_config needs a 'peft_type' (pass a peft config object, e.g. peft.LoraConfig(...))"
        )
    return peft.PeftConfig.from_peft_type(**copy.deepcopy(data))


def _is_lora_family(peft_config) -> bool:
    return str(getattr(peft_config.peft_type, "value", peft_config.peft_type)) in LORA_FAMILY


def validate_peft_options(config: AdaMixConfig) -> None:
    """AdaMixConfig.validate() for adapter_type="peft": normalises peft_config and resolves share=None."""
    if config.peft_config is None:
        _fail("peft_config", None, "a peft PeftConfig (e.g. peft.LoraConfig(r=8)) when adapter_type='peft'")
    try:
        peft_config = peft_config_from_dict(peft_config_to_dict(config.peft_config))
    except (TypeError, ValueError) as error:
        raise ValueError(f"AdaMixConfig.peft_config is not a valid peft config: {error}") from error
    if peft_config.is_prompt_learning:
        raise ValueError(
            f"AdaMixConfig(adapter_type='peft') cannot mix {peft_config.peft_type.value}: peft's prompt-learning "
            "methods (prefix tuning, prompt tuning, p-tuning) keep all their weights in ONE prompt encoder of "
            "the PeftModel that feeds every layer through past_key_values / input embeddings, not in per-module "
            "tuner layers, so there is no module to hold and route experts. Use a tuner-layer method (LoRA, "
            "DoRA, VeRA, IA3, LoHa, LoKr, ...) or adapter_type='adapter' / 'lora'."
        )
    if peft_config.modules_to_save:
        raise ValueError(
            f"AdaMixConfig.peft_config.modules_to_save={sorted(peft_config.modules_to_save)}: peft would keep one "
            "copy of those modules per expert. AdaMix trains the task head once, outside the mixture "
            "(AdaMixConfig.train_head); remove modules_to_save from the peft config."
        )
    defaults = {
        f.name: (f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default)
        for f in dataclasses.fields(AdaMixConfig)
    }
    for name in BUILT_IN_ONLY_FIELDS:
        if getattr(config, name) != defaults[name]:
            _fail(
                name,
                getattr(config, name),
                f"its default ({defaults[name]!r}) with adapter_type='peft': it configures the built-in "
                "mixtures; set the tuner's own options in peft_config",
            )
    share = config.share
    if share is None:
        share = "up" if _is_lora_family(peft_config) else "none"
    if isinstance(share, str):
        if share in ("up", "down") and not _is_lora_family(peft_config):
            _fail(
                "share",
                share,
                f"'none' or a list of {peft_config.peft_type.value} parameter fragments (its "
                "peft adapter_layer_names, e.g. LoHa's ['hada_w1_a']): 'up' / 'down' name LoRA's B / A",
            )
        if share not in ("up", "down", "none"):
            _fail("share", share, "'none', 'up', 'down' or a list of parameter fragments (e.g. ['lora_B'])")
    elif not isinstance(share, (list, tuple)) or not all(isinstance(s, str) and s for s in share):
        _fail("share", share, "'none', 'up', 'down' or a list of parameter fragments (e.g. ['lora_B'])")
    else:
        share = list(share)
    config.share = share
    config.peft_config = peft_config_to_dict(peft_config)
