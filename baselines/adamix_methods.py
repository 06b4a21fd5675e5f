"""AdaMix (this suite's `adamix` library) behind the common interface: adamix_adapter, adamix_lora, adamix_peft.

`adamix` is imported lazily, so `import baselines` works without it. Per-backbone defaults (a param
left at None is resolved here; `describe()` shows the resolved value):

  adamix_adapter  num_experts 4 (seq_cls) / 8 (causal_lm); bottleneck 16 RoBERTa, 48 BERT, 8 GPT-2,
                  16 otherwise; consistency_weight 1 (seq_cls) / 100 (causal_lm)  -- upstream scripts.
  adamix_lora     causal_lm: r=4, alpha=32, M=8, consistency_weight 100 (upstream NLG scripts).
                  (masked_lm, i.e. prompt-based few-shot, takes the seq_cls defaults of both methods.)
                  seq_cls: NO upstream code exists for GLUE. We use M=4 (the GLUE adapter setting) and
                  r=8, alpha=16, i.e. the `lora` baseline's rank and scaling, so that the mixture is the
                  only difference from that baseline. Override with params.
Every other AdaMixConfig field (share, placement, inference, consistency_kind, ...) may be passed too.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from baselines._common import model_type
from baselines.prepared import PreparedModel, copy_parameters, find_head_modules, require_file
from baselines.registry import PRESET_KEY, register_method

MERGED_FILE = "merged_adapter.safetensors"  # built-in variants: the averaged adapter / LoRA update + head
MERGED_PEFT_DIR = "merged_peft"  # adamix_peft: the averaged adapter as a plain peft adapter folder
ADAPTER_BOTTLENECK = {"roberta": 16, "xlm-roberta": 16, "bert": 48, "gpt2": 8}
COMMON_DEFAULTS = {"num_experts": None, "consistency_weight": None, "inference": "merge", "share": "up"}


def _adamix_fields() -> list[str]:
    from adamix import AdaMixConfig

    return [f.name for f in dataclasses.fields(AdaMixConfig) if f.name != "adapter_type"]


@dataclass(repr=False)
class AdaMixPrepared(PreparedModel):
    """AdaMix's training step is its fused two-pass consistency step; evaluation (the base class's
    `eval_model`) uses `inference` (merged experts by default) through the model's eval mode; counts come
    from the library."""

    def training_loss(self, batch, task_loss_fn):
        # ConsistencyStepOutput: .loss (task + weight * consistency), .task_loss, .consistency, .logits
        # batch["consistency_mask"] (set by the engine for NLG: completion tokens) goes to `mask`.
        mask = batch.get("consistency_mask")
        batch = {k: v for k, v in batch.items() if k != "consistency_mask"}
        step = self.model.consistency_step(batch, task_loss_fn, mask=mask)
        return step.loss, step

    @property
    def inference_mode(self) -> str:
        return self.model.config.inference

    def set_inference(self, mode: str) -> None:
        self.model.set_inference(mode)  # validates the mode (e.g. fixed:k needs k < num_experts)

    def save_trained(self, directory, full_weights: bool = False):
        """`AdaMixModel.save_pretrained` (experts + head: `adamix.load_adamix_model(backbone, dir)`) plus
        the merged plain adapter in its own library's format: for the built-in variants the weights of
        `model.merge(fold_lora=False)` that are not the backbone's (averaged adapter / LoRA update per layer,
        and the head), named as in the merged model's state_dict; for adamix_peft the merged PeftModel's own
        `save_pretrained` folder (`PeftModel.from_pretrained(backbone, dir / "merged_peft")`), which also
        stores tuner state shared across layers (VeRA's projections) the way peft expects it."""
        from safetensors.torch import save_file

        directory = Path(directory)
        self.model.save_pretrained(directory)
        merged_model = self.model.merge(fold_lora=False)
        if self.model.config.adapter_type == "peft":
            merged_model.save_pretrained(str(directory / MERGED_PEFT_DIR))
        else:
            layers = tuple(f"{name}." for name in self.model.mixture_layers())
            keep = {
                n: t.detach().cpu().contiguous()
                for n, t in merged_model.state_dict().items()
                if (n.startswith(layers) and ".base_layer." not in n) or n in self.model.head_parameter_names
            }
            save_file(
                keep,
                str(directory / MERGED_FILE),
                metadata={"format": "adamix-merged", "adapter_type": self.model.config.adapter_type},
            )
        return {"format": "adamix", "files": sorted(p.name for p in directory.iterdir())}

    def load_trained(self, directory) -> None:
        from safetensors.torch import load_file

        from adamix.model import WEIGHTS_FILE

        weights = load_file(str(require_file(Path(directory) / WEIGHTS_FILE)))
        copy_parameters(
            self.model.base_model,
            weights,
            Path(directory),
            expected={n for n, p in self.model.base_model.named_parameters() if p.requires_grad},
        )

    def rng_state(self) -> dict:
        return {"router": self.model.router.generator.get_state()}

    def set_rng_state(self, state: dict) -> None:
        self.model.router.generator.set_state(state["router"])

    def param_counts(self) -> dict:
        # adamix.ParameterCounts, for either AdaMix model; its head is the one of baselines (one rule:
        # adamix.task_head_parameter_names), so the counts need no translation.
        return {k: int(v) for k, v in dataclasses.asdict(self.model.count_parameters()).items()}


def _resolve(adapter_type: str, model, task_type: str, params: dict) -> dict:
    nlg = task_type == "causal_lm"
    resolved = dict(params)
    if resolved.get("num_experts") is None:
        resolved["num_experts"] = 8 if nlg else 4
    if resolved.get("consistency_weight") is None:
        resolved["consistency_weight"] = 100.0 if nlg else 1.0
    if adapter_type == "peft":
        pass  # the tuner's own settings come from baselines.peft_tuners
    elif adapter_type == "adapter":
        if resolved.get("bottleneck") is None:
            resolved["bottleneck"] = ADAPTER_BOTTLENECK.get(model_type(model), 16)
    else:
        if resolved.get("r") is None:
            resolved["r"] = 4 if nlg else 8
        if resolved.get("lora_alpha") is None:
            resolved["lora_alpha"] = 32.0 if nlg else 16.0
    return resolved


def _config(adapter_type: str, resolved: dict):
    from adamix import AdaMixConfig

    fields = {k: v for k, v in resolved.items() if k != PRESET_KEY}  # the preset name is for describe() only
    return AdaMixConfig.from_dict({"adapter_type": adapter_type, **fields})


def _without_model(adapter_type: str, params: dict, task_type: str) -> dict:
    """The params resolved as far as possible without a model (the adapter bottleneck default depends on
    the backbone; any valid placeholder checks the rest)."""
    placeholder = {"bottleneck": ADAPTER_BOTTLENECK["roberta"]} if params.get("bottleneck") is None else {}
    return _resolve(adapter_type, None, task_type, {**params, **placeholder})


def _validator(adapter_type: str, method: str):
    def validate(params: dict, task_type: str) -> None:
        """Every field through AdaMixConfig's own validation (types, ranges, choices)."""
        try:
            _config(adapter_type, _without_model(adapter_type, params, task_type))
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"method '{method}': {error} (set it in the suite's `params:` or --method-params)"
            ) from None

    return validate


def _inference_modes(adapter_type: str):
    def modes(params: dict, task_type: str) -> list[str]:
        """merge, random_sequence, random_token, ensemble and fixed:0 .. fixed:<num_experts - 1>."""
        experts = _without_model(adapter_type, params, task_type)["num_experts"]
        return ["merge", "random_sequence", "random_token", "ensemble"] + [f"fixed:{k}" for k in range(experts)]

    return modes


def _prepare(adapter_type: str, method: str, model, task_type: str, params: dict) -> AdaMixPrepared:
    from adamix import get_adamix_model

    resolved = _resolve(adapter_type, model, task_type, params)
    config = _config(adapter_type, resolved)
    head = find_head_modules(model, task_type)
    wrapped = get_adamix_model(model, config)
    return AdaMixPrepared(method, wrapped, task_type, resolved, head_modules=head)


@register_method(
    "adamix_adapter",
    defaults={**COMMON_DEFAULTS, "bottleneck": None},
    allowed_params=_adamix_fields,
    validate=_validator("adapter", "adamix_adapter"),
    inference_modes=_inference_modes("adapter"),
    presets={
        "table1_0.8M": {"bottleneck": 16, "num_experts": 4},
        "table2_0.9M": {"bottleneck": 48, "num_experts": 4},
        "nlg_0.42M": {"bottleneck": 8, "num_experts": 8},
    },
    description="AdaMix mixture of adapters (stochastic routing, consistency loss, merged at inference).",
    reference="Wang et al. 2022 (EMNLP); paper Table 1 'AdaMix 0.8M', Table 2 '0.9M', Table 3 'AdaMix Adapter 0.42M'",
)
def prepare_adapter(model, task_type: str, params: dict):
    return _prepare("adapter", "adamix_adapter", model, task_type, params)


@register_method(
    "adamix_lora",
    defaults={**COMMON_DEFAULTS, "r": None, "lora_alpha": None},
    allowed_params=_adamix_fields,
    validate=_validator("lora", "adamix_lora"),
    inference_modes=_inference_modes("lora"),
    presets={"nlg_0.35M": {"r": 4, "lora_alpha": 32.0, "num_experts": 8}},
    description="AdaMix mixture of LoRA modules on W_q, W_v (upstream NLG variant).",
    reference="Wang et al. 2022 (EMNLP); paper Table 3 'AdaMix LoRA 0.35M'",
)
def prepare_lora(model, task_type: str, params: dict):
    return _prepare("lora", "adamix_lora", model, task_type, params)


# ---------------------------------------------------------------------------------------- adamix_peft
# AdaMix over a peft tuner: params {"tuner": <a name in baselines.peft_tuners.TUNERS>, "tuner_params":
# {<that tuner's peft config settings>}, + AdaMixConfig fields}. The experts are built from exactly the
# peft config the plain method `tuner` builds from the same tuner_params, so AdaMix(X) and X have equal
# inference parameters. share None = upstream choice (LoRA family: B shared; other tuners: none).
def _adamix_peft_fields() -> list[str]:
    """The AdaMixConfig fields adamix_peft params may set: `tuner` / `tuner_params` stand for adapter_type and
    peft_config, and the built-in mixtures' own fields do not apply (adamix refuses them with a peft tuner)."""
    from adamix import AdaMixConfig
    from adamix.config import BUILT_IN_ONLY_FIELDS

    excluded = ("adapter_type", "peft_config", *BUILT_IN_ONLY_FIELDS)
    return [f.name for f in dataclasses.fields(AdaMixConfig) if f.name not in excluded]


def _validate_peft(params: dict, task_type: str) -> None:
    """The tuner and its settings (the peft config's own fields), and the mixture's AdaMix fields."""
    from baselines._common import check_choice, check_int, check_number
    from baselines.peft_tuners import TUNERS, config_fields

    check_choice("adamix_peft", "tuner", params["tuner"], sorted(TUNERS))
    if not isinstance(params["tuner_params"], dict):
        raise ValueError(
            f"method 'adamix_peft': parameter 'tuner_params'={params['tuner_params']!r} is invalid; "
            f"allowed: a mapping of {params['tuner']} settings"
        )
    unknown = sorted(set(params["tuner_params"]) - set(config_fields(params["tuner"])))
    if unknown:
        raise ValueError(
            f"method 'adamix_peft': tuner_params {unknown} are not settings of peft's "
            f"{TUNERS[params['tuner']].config_class}; allowed: {sorted(config_fields(params['tuner']))}"
        )
    check_int("adamix_peft", "num_experts", params["num_experts"], optional=True)
    check_number("adamix_peft", "consistency_weight", params["consistency_weight"], low=0, optional=True)
    share = params["share"]
    fragments = isinstance(share, (list, tuple)) and share and all(isinstance(s, str) and s for s in share)
    if not fragments:
        check_choice("adamix_peft", "share", share, (None, "up", "down", "none", "a list of fragment names"))


@register_method(
    "adamix_peft",
    defaults={
        "tuner": "lora",
        "tuner_params": {},
        "num_experts": None,
        "consistency_weight": None,
        "inference": "merge",
        "share": None,
    },
    allowed_params=_adamix_peft_fields,
    validate=_validate_peft,
    inference_modes=_inference_modes("peft"),
    description="AdaMix mixture of any peft tuner (tuner: lora, dora, rslora, vera, ia3, loha, lokr).",
    reference="Wang et al. 2022 (EMNLP), 'a mixture of adaptation modules, given the underlying PEFT method'",
)
def prepare_peft(model, task_type: str, params: dict):
    from adamix import AdaMixConfig, get_adamix_model
    from baselines.peft_tuners import TUNERS, peft_config

    resolved = _resolve("peft", model, task_type, params)
    tuner_params = resolved.get("tuner_params") or {}
    if not isinstance(tuner_params, dict):
        raise ValueError(
            f"method 'adamix_peft': tuner_params must be a mapping of peft config settings, got {tuner_params!r}"
        )
    config = peft_config(resolved["tuner"], model, None, tuner_params, "adamix_peft")
    fields = {k: v for k, v in resolved.items() if k not in (PRESET_KEY, "tuner", "tuner_params")}
    head = find_head_modules(model, task_type)
    wrapped = get_adamix_model(model, AdaMixConfig.from_dict({"adapter_type": "peft", "peft_config": config, **fields}))
    resolved["tuner_params"] = {
        **TUNERS[resolved["tuner"]].defaults,
        **tuner_params,
        "target_modules": wrapped.config.peft_config["target_modules"],
    }
    resolved["share"] = wrapped.config.share
    return AdaMixPrepared("adamix_peft", wrapped, task_type, resolved, head_modules=head)
