"""Full fine-tuning: every parameter trains (the paper's 355.0M / 110M / 354.92M rows)."""

from __future__ import annotations

from baselines.prepared import PreparedModel
from baselines.registry import register_method


@register_method(
    "full_ft",
    defaults={},
    default_lr=2e-5,
    description="Full fine-tuning: all backbone and head parameters are trained.",
    reference="Devlin et al. 2019 / Liu et al. 2019; paper Tables 1-3 first row",
)
def prepare(model, task_type: str, params: dict) -> PreparedModel:
    for p in model.parameters():
        p.requires_grad_(True)
    # Paper #Param for full fine-tuning = the whole backbone (a full copy per task).
    return PreparedModel(
        "full_ft", model, task_type, params, inference_params_fn=lambda pm: pm.backbone_params, trains_whole_model=True
    )
