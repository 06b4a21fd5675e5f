"""Uniform weight averaging of peft adapters on its own ("model soup"), without mixture training.

AdaMix's merge is one idea; its mixture training (routing + consistency) is another. This module is
the first alone: average several SEPARATELY trained adapters of one peft tuner, fine-tuned from the
same backbone, into one adapter of that tuner.

    from peft import PeftModel
    from adamix import average_peft_adapters
    runs = [PeftModel.from_pretrained(load_backbone(), path) for path in ("run_seed1", "run_seed2", "run_seed3")]
    soup = average_peft_adapters(runs)          # a PeftModel, same tuner, averaged "default" adapter
    soup.save_pretrained("soup")                # served with peft alone

Every tensor of the adapter's peft state dict is averaged uniformly, as AdaMix merges its experts: for
LoRA that is mean(A) and mean(B) separately (NOT the mean of the updates B @ A; peft's
`add_weighted_adapter(..., combination_type="linear")` also combines A and B separately, but scales
each by sqrt(weight)). Task heads saved by the adapters (peft `modules_to_save`) are averaged too.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch

from .config import PEFT_PROVENANCE_FIELDS  # where an adapter came from (backbone, peft), not what it is


def uniform_average(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    """The element-wise mean of equally shaped tensors (AdaMix's merge of its experts)."""
    return torch.stack([t.detach() for t in tensors]).mean(0)


def average_peft_adapters(models: Sequence, adapter_name: str = "default"):
    """A copy of models[0] whose adapter `adapter_name` is the uniform average of all models' adapters.

    models: peft PeftModels of ONE tuner type and configuration (same target modules, rank, ...), on the
    same backbone architecture. The inputs are not changed.
    """
    from peft import PeftModel, get_peft_model_state_dict, set_peft_model_state_dict

    models = list(models)
    if len(models) < 2:
        raise ValueError(f"average_peft_adapters needs at least 2 models, got {len(models)}")
    for i, model in enumerate(models):
        if not isinstance(model, PeftModel):
            raise TypeError(f"average_peft_adapters: models[{i}] is a {type(model).__name__}, not a peft PeftModel")
        if adapter_name not in model.peft_config:
            raise ValueError(
                f"average_peft_adapters: models[{i}] has no adapter {adapter_name!r} "
                f"(it has {sorted(model.peft_config)})"
            )

    def structure(model) -> dict:
        config = model.peft_config[adapter_name].to_dict()
        return {
            k: sorted(v) if isinstance(v, (set, frozenset)) else v
            for k, v in config.items()
            if k not in PEFT_PROVENANCE_FIELDS + ("inference_mode",)
        }

    reference = structure(models[0])
    for i, model in enumerate(models[1:], start=1):
        differ = sorted(
            k for k in set(reference) | set(structure(model)) if reference.get(k) != structure(model).get(k)
        )
        if differ:
            raise ValueError(
                f"average_peft_adapters: models[{i}] has another adapter configuration than models[0] "
                f"(fields {differ}); only adapters of one tuner and configuration can be averaged"
            )
    states = [get_peft_model_state_dict(m, adapter_name=adapter_name) for m in models]
    for i, state in enumerate(states[1:], start=1):
        if state.keys() != states[0].keys() or any(state[k].shape != states[0][k].shape for k in state):
            raise ValueError(
                f"average_peft_adapters: models[{i}]'s adapter weights differ from models[0]'s in names or "
                "shapes (different backbones?)"
            )
    averaged = {k: uniform_average([s[k] for s in states]) for k in states[0]}
    soup = copy.deepcopy(models[0])
    set_peft_model_state_dict(soup, averaged, adapter_name=adapter_name)
    return soup
