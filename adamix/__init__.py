"""AdaMix: Mixture-of-Adaptations for parameter-efficient fine-tuning (Wang et al., EMNLP 2022).

    config.py       AdaMixConfig: every option, validated
    targets.py      which modules get mixtures, per architecture
    routing.py      stochastic routing (training) and evaluation routes
    layer.py        mixture adapter / LoRA layers, merged-weight cache
    consistency.py  the consistency loss between two routed passes
    merge.py        averaging experts into one adapter, LoRA folding
    model.py        AdaMixModel: injection, fused consistency step, parameter counts, save / load
    peft_mixture.py adapter_type="peft": a mixture of the experts of any peft tuner
    peft_average.py average_peft_adapters: uniform weight averaging of peft adapters alone
    mapping.py      adapter type -> model class; get_adamix_model, load_adamix_model

peft is imported only when a peft mixture or an average is built (and by AdaMixConfig's validation of a
peft config): `import adamix` needs torch, transformers and safetensors alone.
"""

from .config import AdaMixConfig
from .consistency import consistency_loss
from .mapping import get_adamix_model, load_adamix_model
from .model import AdaMixModel, CheckpointError, ConsistencyStepOutput, ParameterCounts, task_head_parameter_names
from .peft_average import average_peft_adapters
from .peft_mixture import PeftAdaMixModel

__all__ = [
    "AdaMixConfig",
    "AdaMixModel",
    "CheckpointError",
    "ConsistencyStepOutput",
    "ParameterCounts",
    "PeftAdaMixModel",
    "average_peft_adapters",
    "consistency_loss",
    "get_adamix_model",
    "load_adamix_model",
    "task_head_parameter_names",
]
__version__ = "0.1.0"
