"""AdaMix: Mixture-of-Adaptations for parameter-efficient fine-tuning (Wang et al., EMNLP 2022).

    config.py       AdaMixConfig: every option, validated
    targets.py      which modules get mixtures, per architecture
    routing.py      stochastic routing (training) and evaluation routes
    layer.py        mixture adapter / LoRA layers, merged-weight cache
    consistency.py  the consistency loss between two routed passes
    merge.py        averaging experts into one adapter, LoRA folding
    model.py        AdaMixModel: injection, fused consistency step, parameter counts, save / load
"""

from .config import AdaMixConfig
from .consistency import consistency_loss
from .model import AdaMixModel, CheckpointError, ConsistencyStepOutput, ParameterCounts, get_adamix_model

__all__ = [
    "AdaMixConfig",
    "AdaMixModel",
    "CheckpointError",
    "ConsistencyStepOutput",
    "ParameterCounts",
    "consistency_loss",
    "get_adamix_model",
]
__version__ = "0.1.0"
