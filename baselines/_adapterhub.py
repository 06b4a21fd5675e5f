"""Shared plumbing for the AdapterHub (`adapters` 1.x) methods: houlsby, pfeiffer, prefix_tuning, unipelt.

AdapterHub needs three steps, and forgetting the last one is silent except for a log line ("There are
adapters available but none are activated for the forward pass") -- the model then trains only its head:
    adapters.init(model)                 # turn a plain HF model into an adapter-aware one (in place)
    model.add_adapter(name, config)      # create the modules
    model.train_adapter(name)            # freeze the base model, unfreeze the adapter AND activate it
`attach()` does all three and then checks that the adapter is in `model.active_adapters`.

AdapterHub 1.3 also logs that same warning as a FALSE alarm during setup: `set_active_adapters` (called
by `train_adapter`) first runs `reset_adapter()` inside a ForwardContext, before it stores the new active
setup. We filter that one message during setup only, so a warning seen at training time is real.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path

import torch.nn as nn

from baselines._common import check_activation, check_int, check_number, hidden_size
from baselines.prepared import (
    PreparedModel,
    copy_parameters,
    count_unique,
    find_head_modules,
    freeze_parameters,
    lm_head_parameters,
    require_file,
)
from baselines.registry import register_method

HEAD_FILE = "head.safetensors"  # the model's own task head (AdapterHub saves adapters, not static heads)


def reduction_factor(model: nn.Module, method: str, bottleneck=None, reduction=None) -> float:
    """AdapterHub sizes bottleneck adapters by `reduction_factor` (down dim = hidden // factor).

    We expose `bottleneck` (the paper's unit) and convert; `reduction_factor` is accepted as is.
    Neither given: AdapterHub's default factor 16 (bottleneck 64 on RoBERTa-large, 48 on BERT-base).
    """
    if bottleneck is not None and reduction is not None:
        raise ValueError(f"method '{method}': give 'bottleneck' or 'reduction_factor', not both")
    if reduction is not None:
        if not isinstance(reduction, (int, float)) or reduction <= 0:
            raise ValueError(f"method '{method}': reduction_factor must be a number > 0, got {reduction!r}")
        return float(reduction)
    if bottleneck is None:
        return 16.0
    hidden = hidden_size(model)
    if isinstance(bottleneck, bool) or not isinstance(bottleneck, int) or not 1 <= bottleneck <= hidden:
        raise ValueError(f"method '{method}': bottleneck must be an integer in [1, {hidden}], got {bottleneck!r}")
    factor = hidden / bottleneck
    if int(hidden // factor) != bottleneck:  # float rounding (e.g. 32 / (32 / 3) = 2.999...)
        factor = hidden / (bottleneck + 0.5)
    return factor


_NOT_ACTIVE = "none are activated for the forward pass"


@contextlib.contextmanager
def _setup_without_false_alarm():
    logger = logging.getLogger("adapters.model_mixin")
    drop = logging.Filter()
    drop.filter = lambda record: _NOT_ACTIVE not in record.getMessage()
    logger.addFilter(drop)
    try:
        yield
    finally:
        logger.removeFilter(drop)


def check_bottleneck_params(method: str, params: dict) -> None:
    """`bottleneck` / `reduction_factor` without a model (the upper bound, the hidden size, is checked at
    prepare time)."""
    check_int(method, "bottleneck", params["bottleneck"], optional=True)
    check_number(method, "reduction_factor", params["reduction_factor"], low=0, low_open=True, optional=True)
    if params["bottleneck"] is not None and params["reduction_factor"] is not None:
        raise ValueError(f"method '{method}': give 'bottleneck' or 'reduction_factor', not both")


def resolve_bottleneck(model: nn.Module, method: str, params: dict) -> tuple[float, dict]:
    """(reduction_factor for AdapterHub, params with the effective bottleneck and factor filled in)."""
    factor = reduction_factor(model, method, params["bottleneck"], params["reduction_factor"])
    return factor, {**params, "bottleneck": int(hidden_size(model) // factor), "reduction_factor": round(factor, 6)}


def register_bottleneck_adapter(
    name: str, config_class: str, non_linearity: str, presets: dict[str, dict], description: str, reference: str
):
    """Registers a bottleneck-adapter method of AdapterHub (houlsby: `DoubleSeqBnConfig`, pfeiffer:
    `SeqBnConfig`): params `bottleneck` (None: hidden / 16) or `reduction_factor`, and `non_linearity`
    (default: the method's paper's); returns its prepare function."""

    def validate(params: dict, task_type: str) -> None:
        check_bottleneck_params(name, params)
        check_activation(name, "non_linearity", params["non_linearity"])

    @register_method(
        name,
        defaults={"bottleneck": None, "reduction_factor": None, "non_linearity": non_linearity},
        presets=presets,
        validate=validate,
        description=description,
        reference=reference,
    )
    def prepare(model, task_type: str, params: dict):
        import adapters

        factor, params = resolve_bottleneck(model, name, params)
        config = getattr(adapters, config_class)(reduction_factor=factor, non_linearity=params["non_linearity"])
        return attach(name, model, task_type, params, config)

    return prepare


@dataclass(repr=False)
class AdapterHubPrepared(PreparedModel):
    """Saved as AdapterHub saves adapters (`model.save_adapter`: adapter_config.json + weights, loadable
    with `model.load_adapter(directory)` after `adapters.init(model)`), plus the trained task head of a
    seq_cls model as safetensors (AdapterHub's save_adapter covers flex heads only)."""

    def save_trained(self, directory, full_weights: bool = False):
        from safetensors.torch import save_file

        directory = Path(directory)
        self.model.save_adapter(str(directory), self.method)
        if self.head_modules:
            save_file(
                {
                    f"{module}.{n}": p.detach().cpu().contiguous()
                    for module in self.head_modules
                    for n, p in getattr(self.model, module).named_parameters()
                },
                str(directory / HEAD_FILE),
            )
        return {"format": "adapterhub", "files": sorted(p.name for p in directory.iterdir())}

    def load_trained(self, directory) -> None:
        from safetensors.torch import load_file

        directory = Path(directory)
        require_file(directory / "adapter_config.json")
        with _setup_without_false_alarm():
            self.model.delete_adapter(self.method)
            self.model.load_adapter(str(directory), load_as=self.method, set_active=True)
        if self.head_modules:
            copy_parameters(self.model, load_file(str(require_file(directory / HEAD_FILE))), directory)


def attach(method: str, model: nn.Module, task_type: str, params: dict, config) -> PreparedModel:
    import adapters

    head = find_head_modules(model, task_type)
    # `train_adapter` freezes `model.base_model` only: a masked-LM head (BERT `cls.predictions.transform`,
    # RoBERTa `lm_head.dense` / `layer_norm`) lies outside it and would stay trainable, so it is frozen here.
    lm_head = lm_head_parameters(model, task_type)
    with _setup_without_false_alarm():
        if not hasattr(model, "adapters_config"):
            adapters.init(model)
        model.add_adapter(method, config=config)
        model.train_adapter(method)  # freezes model.base_model, activates the adapter; the head lies outside
    active = model.active_adapters
    if active is None or method not in active.flatten():
        raise RuntimeError(f"AdapterHub did not activate adapter '{method}' (active: {active})")
    for module in head:
        for p in getattr(model, module).parameters():
            p.requires_grad_(True)
    freeze_parameters(lm_head)
    return AdapterHubPrepared(method, model, task_type, params, head_modules=head, inference_params_fn=inference_params)


def inference_params(prepared: PreparedModel) -> int:
    """Trainable non-head parameters, except that a reparametrised prefix (embedding + MLP, Li & Liang)
    counts as the prefix it produces: prefix_length x layers x 2 (key, value) x hidden -- what is kept
    after `model.eject_prefix_tuning(name)` and what the paper's #Param column counts."""
    from adapters.methods.prefix_tuning import PrefixTuning

    reparam_ids: set[int] = set()
    prefix = 0
    for module in prepared.model.modules():
        if isinstance(module, PrefixTuning) and any(p.requires_grad for p in module.parameters()):
            reparam_ids |= {id(p) for p in module.parameters()}
            prefix += module.config.prefix_length * module.n_layers * 2 * module.n_heads * module.n_embd_per_head
    rest = count_unique(p for _, p in prepared.method_parameters() if id(p) not in reparam_ids)
    return rest + prefix
