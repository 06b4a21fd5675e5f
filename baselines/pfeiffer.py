"""Pfeiffer adapter (Pfeiffer et al., 2021): one bottleneck adapter per layer, after the FFN.

AdapterHub `SeqBnConfig`. Presets reproduce the paper rows (#Param = layers x (2*hidden*b + b + hidden)):
  table1_3.0M  RoBERTa-large, b=64 (LoRA paper, Table 9): 3,171,840 -- printed 3.0M, see tests/baselines/paper_rows.py
  table1_0.8M  RoBERTa-large, b=16:                          811,392
  table2_0.9M  BERT-base,     b=48:                          894,528 (UniPELT's adapter: FFN-only, b=48)
"""

from __future__ import annotations

from baselines._adapterhub import register_bottleneck_adapter

prepare = register_bottleneck_adapter(
    "pfeiffer",
    config_class="SeqBnConfig",
    non_linearity="relu",
    presets={
        "table1_3.0M": {"bottleneck": 64},
        "table1_0.8M": {"bottleneck": 16},
        "table2_0.9M": {"bottleneck": 48},
    },
    description="Pfeiffer adapter (AdapterHub SeqBnConfig); bottleneck None = hidden/16.",
    reference="Pfeiffer et al. 2021 (AdapterFusion); paper Table 1 (3.0M, 0.8M)",
)
