"""The consistency regulariser between two stochastically routed passes of the same batch."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def consistency_loss(
    logits_a: torch.Tensor, logits_b: torch.Tensor, mask: torch.Tensor | None = None, kind: str = "sym_kl"
) -> torch.Tensor:
    """Agreement loss between two passes.

    kind="sym_kl" (upstream): 0.5 * [KL(softmax(b) || softmax(a)) + KL(softmax(a) || softmax(b))], each
    target distribution detached, "batchmean" reduction (sum over classes, mean over rows). For language
    modelling `mask` (logits_a.shape[:-1]) keeps only the positions whose tokens are scored (completion
    tokens), and the mean runs over those positions.

    kind="mse": 0.5 * [MSE(a, b.detach()) + MSE(b, a.detach())], for regression heads (for a single
    logit, log_softmax is identically 0 and the upstream KL term vanishes).
    """
    if logits_a.shape != logits_b.shape:
        raise ValueError(
            f"consistency_loss needs equal shapes, got {tuple(logits_a.shape)} and {tuple(logits_b.shape)}"
        )
    if kind not in ("sym_kl", "mse"):
        raise ValueError(f"consistency_loss kind={kind!r} is invalid; allowed: ('sym_kl', 'mse')")
    # Positions are selected BEFORE the fp32 cast: with bf16 / fp16 logits of a language model only the
    # scored rows of the full-vocabulary logits are copied to fp32 (the softmaxes stay in fp32).
    a = logits_a.reshape(-1, logits_a.shape[-1])
    b = logits_b.reshape(-1, logits_b.shape[-1])
    if mask is not None:
        if mask.shape != logits_a.shape[:-1]:
            raise ValueError(
                f"consistency mask shape {tuple(mask.shape)} must equal logits.shape[:-1]={tuple(logits_a.shape[:-1])}"
            )
        keep = mask.reshape(-1).bool()
        a, b = a[keep], b[keep]
        if a.shape[0] == 0:
            return logits_a.sum() * 0.0
    a, b = a.float(), b.float()
    if kind == "mse":
        return 0.5 * (F.mse_loss(a, b.detach()) + F.mse_loss(b, a.detach()))
    log_a, log_b = F.log_softmax(a, dim=-1), F.log_softmax(b, dim=-1)
    kl_b_a = F.kl_div(log_a, log_b.detach(), reduction="batchmean", log_target=True)
    kl_a_b = F.kl_div(log_b, log_a.detach(), reduction="batchmean", log_target=True)
    return 0.5 * (kl_b_a + kl_a_b)
