"""The paper's #Param rows, as (method, preset, backbone) -> expected count (test data of
test_baselines_param_counts.py).

`exact` is the closed-form count of our configuration (inference parameters, task head excluded);
`paper` is the number printed in the paper. `tolerance` is 5% unless a row's note explains why the
printed number cannot be met by the configuration the row was actually run with.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from adamixbench.sources.standins import paper_shaped_model


@dataclass(frozen=True)
class PaperRow:
    table: str
    method: str
    preset: str | None
    backbone: str  # "roberta-large" | "bert-base" | "gpt2-medium"
    paper: float  # printed #Param
    exact: int  # our closed-form inference count
    tolerance: float = 0.05
    note: str = ""

    @property
    def params(self) -> dict:
        return {"preset": self.preset} if self.preset else {}


def _bn(layers: int, hidden: int, b: int, per_layer: int = 1) -> int:
    return layers * per_layer * (2 * hidden * b + b + hidden)


_ROUNDING_3_6 = (
    "bottleneck 64 is the setting the LoRA paper (Table 9) ran for this row; with biases it has "
    "{:,} parameters, which the LoRA paper prints as {}M (it equals {:.2f} x 2^20). Deviation ~5.7%."
)

PAPER_ROWS: list[PaperRow] = [
    # Table 1: RoBERTa-large (24 layers, hidden 1024)
    PaperRow("1", "full_ft", None, "roberta-large", 355.0e6, 354_310_144),
    PaperRow(
        "1",
        "pfeiffer",
        "table1_3.0M",
        "roberta-large",
        3.0e6,
        _bn(24, 1024, 64),
        0.06,
        _ROUNDING_3_6.format(_bn(24, 1024, 64), "3.0", _bn(24, 1024, 64) / 2**20),
    ),
    PaperRow("1", "pfeiffer", "table1_0.8M", "roberta-large", 0.8e6, _bn(24, 1024, 16)),
    PaperRow(
        "1",
        "houlsby",
        "table1_6.0M",
        "roberta-large",
        6.0e6,
        _bn(24, 1024, 64, 2),
        0.06,
        _ROUNDING_3_6.format(_bn(24, 1024, 64, 2), "6.0", _bn(24, 1024, 64, 2) / 2**20),
    ),
    PaperRow("1", "houlsby", "table1_0.8M", "roberta-large", 0.8e6, _bn(24, 1024, 8, 2)),
    PaperRow("1", "lora", "table1_0.8M", "roberta-large", 0.8e6, 24 * 2 * 8 * (1024 + 1024)),
    PaperRow("1", "adamix_adapter", "table1_0.8M", "roberta-large", 0.8e6, _bn(24, 1024, 16)),
    # Table 2: BERT-base (12 layers, hidden 768)
    PaperRow("2", "full_ft", None, "bert-base", 110e6, 109_482_240),
    PaperRow("2", "houlsby", "table2_0.9M", "bert-base", 0.9e6, _bn(12, 768, 24, 2)),
    PaperRow(
        "2", "bitfit", None, "bert-base", 0.1e6, 102_912, note="all bias terms incl. LayerNorm betas and the pooler"
    ),
    PaperRow(
        "2",
        "prefix_tuning",
        "table2_0.2M",
        "bert-base",
        0.2e6,
        10 * 12 * 2 * 768,
        0.08,
        "prefix length 10 (UniPELT's setting, the row's source; also what makes the UniPELT rows "
        "match) gives 184,320 = 0.18M, printed 0.2M at one decimal. Deviation 7.8%.",
    ),
    PaperRow("2", "lora", "table2_0.3M", "bert-base", 0.3e6, 12 * 2 * 8 * (768 + 768)),
    PaperRow(
        "2", "unipelt", "table2_AP_1.1M", "bert-base", 1.1e6, _bn(12, 768, 48) + 10 * 12 * 2 * 768 + 2 * 12 * (768 + 1)
    ),
    PaperRow(
        "2",
        "unipelt",
        "table2_APL_1.4M",
        "bert-base",
        1.4e6,
        _bn(12, 768, 48) + 10 * 12 * 2 * 768 + 12 * 2 * 8 * 1536 + 4 * 12 * (768 + 1),
    ),
    PaperRow("2", "adamix_adapter", "table2_0.9M", "bert-base", 0.9e6, _bn(12, 768, 48)),
]


def build_backbone(name: str, task_type: str = "seq_cls"):
    """A paper backbone (adamixbench.sources.standins.PAPER_SHAPES) with random weights on the meta device: only
    shapes matter for counting, and nothing is allocated."""
    with torch.device("meta"):
        return paper_shaped_model(name, task_type)
