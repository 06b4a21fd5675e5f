"""Houlsby adapter (Houlsby et al., 2019): two bottleneck adapters per layer, after attention and FFN.

AdapterHub `DoubleSeqBnConfig`. Presets reproduce the paper rows (#Param = 2 adapters x layers x
(2*hidden*b + b + hidden)):
  table1_6.0M  RoBERTa-large, b=64 (LoRA paper, Table 9): 6,343,680 -- printed 6.0M, see tests/baselines/paper_rows.py
  table1_0.8M  RoBERTa-large, b=8:                          835,968
  table2_0.9M  BERT-base,     b=24:                          903,744
"""

from __future__ import annotations

from baselines._adapterhub import register_bottleneck_adapter

prepare = register_bottleneck_adapter(
    "houlsby",
    config_class="DoubleSeqBnConfig",
    non_linearity="swish",
    presets={
        "table1_6.0M": {"bottleneck": 64},
        "table1_0.8M": {"bottleneck": 8},
        "table2_0.9M": {"bottleneck": 24},
    },
    description="Houlsby adapter (AdapterHub DoubleSeqBnConfig); bottleneck None = hidden/16.",
    reference="Houlsby et al. 2019; paper Table 1 (6.0M, 0.8M) and Table 2 (0.9M)",
)
