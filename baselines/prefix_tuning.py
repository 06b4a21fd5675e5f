"""Prefix tuning (Li & Liang, 2021) via AdapterHub `PrefixTuningConfig`.

Why AdapterHub and not peft: both give the same inference size (prefix_length x layers x 2 x hidden =
10 x 12 x 2 x 768 = 184,320 on BERT-base, the paper's "0.2M" row, which comes from UniPELT), but
  * the row's source (UniPELT) trains the prefix through the Li & Liang reparametrisation MLP, which is
    AdapterHub's default (`flat=False`); peft's `prefix_projection` exists too, but
  * AdapterHub injects the prefix inside each attention module, whereas peft feeds it through
    `past_key_values`, which encoder models (BERT/RoBERTa) of recent transformers versions handle poorly
    (and peft cannot count it as "one prefix" either), and
  * UniPELT below is AdapterHub's, so prefix tuning alone and inside UniPELT are the same code.
Training-time parameters include the MLP (~9.9M on BERT-base); `param_counts()["inference"]` counts
only the prefix (what `model.eject_prefix_tuning(name)` keeps).
"""

from __future__ import annotations

from baselines._adapterhub import attach
from baselines._common import check_bool, check_int, check_number, check_positive_int
from baselines.registry import register_method


def _validate(params: dict, task_type: str) -> None:
    check_int("prefix_tuning", "prefix_length", params["prefix_length"])
    check_bool("prefix_tuning", "reparametrize", params["reparametrize"])
    check_int("prefix_tuning", "bottleneck_size", params["bottleneck_size"])
    check_number("prefix_tuning", "dropout", params["dropout"], low=0, high=1, high_open=True)


@register_method(
    "prefix_tuning",
    defaults={"prefix_length": 10, "reparametrize": True, "bottleneck_size": 512, "dropout": 0.0},
    default_lr=1e-3,
    presets={"table2_0.2M": {"prefix_length": 10}},
    validate=_validate,
    description="Prefix tuning (AdapterHub PrefixTuningConfig, reparametrised by default).",
    reference="Li & Liang 2021; paper Table 2 'Prefix-tuning 0.2M' (via UniPELT, prefix length 10)",
)
def prepare(model, task_type: str, params: dict):
    from adapters import PrefixTuningConfig

    config = PrefixTuningConfig(
        prefix_length=check_positive_int("prefix_tuning", "prefix_length", params["prefix_length"]),
        flat=not params["reparametrize"],
        bottleneck_size=check_positive_int("prefix_tuning", "bottleneck_size", params["bottleneck_size"]),
        dropout=params["dropout"],
    )
    return attach("prefix_tuning", model, task_type, params, config)
