"""AdaMix: Mixture-of-Adaptations for parameter-efficient fine-tuning (Wang et al., EMNLP 2022).

    config.py       AdaMixConfig: every option, validated
    targets.py      which modules get mixtures, per architecture
    routing.py      stochastic routing (training) and evaluation routes
    layer.py        mixture adapter / LoRA layers, merged-weight cache
    consistency.py  the consistency loss between two routed passes
    merge.py        averaging experts into one adapter, LoRA folding
    model.py        AdaMixModel: injection, fused consistency step, parameter counts, save / load
    peft_mixture.py adapter_type="peft": a mixture of the experts of any peft tuner (imports peft)
    peft_average.py average_peft_adapters: uniform weight averaging of peft adapters alone (imports peft)

peft is imported only by the last two, i.e. only when they are used: `import adamix` needs torch,
transformers and safetensors alone.
"""

from .config import AdaMixConfig
from .consistency import consistency_loss
from .model import (
    AdaMixModel,
    CheckpointError,
    ConsistencyStepOutput,
    ParameterCounts,
    get_adamix_model,
    task_head_parameter_names,
)

__all__ = [
    "AdaMixConfig",
    "AdaMixModel",
    "CheckpointError",
    "ConsistencyStepOutput",
    "ParameterCounts",
    "consistency_loss",
    "get_adamix_model",
    "task_head_parameter_names",
]  # plus, imported on first use (they need peft): average_peft_adapters, PeftAdaMixModel
__version__ = "0.1.0"


def __getattr__(name: str):
    # Lazy: these need peft, which the rest of the package does not.
    if name == "average_peft_adapters":
        from .peft_average import average_peft_adapters

        return average_peft_adapters
    if name == "PeftAdaMixModel":
        from .peft_mixture import PeftAdaMixModel

        return PeftAdaMixModel
    raise AttributeError(f"module 'adamix' has no attribute {name!r}")
