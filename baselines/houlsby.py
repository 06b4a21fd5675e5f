"""Houlsby adapter (Houlsby et al., 2019): two bottleneck adapters per layer, after attention and FFN.

AdapterHub `DoubleSeqBnConfig`. Presets reproduce the paper rows (#Param = 2 adapters x layers x
(2*hidden*b + b + hidden)):
  table1_6.0M  RoBERTa-large, b=64 (LoRA paper, Table 9): 6,343,680 -- printed 6.0M, see tests/baselines/paper_rows.py
  table1_0.8M  RoBERTa-large, b=8:                          835,968
  table2_0.9M  BERT-base,     b=24:                          903,744
"""

from __future__ import annotations

from baselines._adapterhub import attach, resolve_bottleneck
from baselines.registry import register_method

PRESETS = {
    "table1_6.0M": {"bottleneck": 64},
    "table1_0.8M": {"bottleneck": 8},
    "table2_0.9M": {"bottleneck": 24},
}


@register_method(
    "houlsby",
    defaults={"bottleneck": None, "reduction_factor": None, "non_linearity": "swish"},
    presets=PRESETS,
    description="Houlsby adapter (AdapterHub DoubleSeqBnConfig); bottleneck None = hidden/16.",
    reference="Houlsby et al. 2019; paper Table 1 (6.0M, 0.8M) and Table 2 (0.9M)",
)
def prepare(model, task_type: str, params: dict):
    from adapters import DoubleSeqBnConfig

    factor, params = resolve_bottleneck(model, "houlsby", params)
    config = DoubleSeqBnConfig(reduction_factor=factor, non_linearity=params["non_linearity"])
    return attach("houlsby", model, task_type, params, config)
