"""task_type "masked_lm" (prompt-based fine-tuning on a *ForMaskedLM model) for every registered method:
it trains through label words at the mask position, only the method's parameters train, and the
pretrained MLM head (tied output embedding + transform + bias) stays frozen for every PEFT method."""

from __future__ import annotations

import dataclasses
import logging
import math
import re

import baselines_testutil as U
import pytest
import torch
import torch.nn.functional as F
from transformers import BertForMaskedLM, RobertaForMaskedLM

from adamixbench.sources.standins import random_model
from baselines import TASK_TYPES, get_method, list_methods, prepare_model

torch.set_num_threads(1)

TINY_PARAMS = {
    "houlsby": {"bottleneck": 8},
    "pfeiffer": {"bottleneck": 8},
    "unipelt": {"bottleneck": 8},
    "adamix_adapter": {"bottleneck": 8},
}
METHODS = [m for m in list_methods() if "masked_lm" in get_method(m).task_types]
# The reparametrised prefix (embedding + MLP) diverges to a constant prediction at 1e-2 with the head frozen.
LR = {"prefix_tuning": 3e-3}
MASK, WORDS = 4, (40, 41)  # the mask token id and the two label words of the toy prompt task


def tiny_mlm(seed: int = 0) -> BertForMaskedLM:
    return random_model("bert", "masked_lm", **U.SHAPE, intermediate=64, max_position_embeddings=64, seed=seed)


def tiny_roberta_mlm(seed: int = 0) -> RobertaForMaskedLM:
    return random_model(
        "roberta", "masked_lm", **U.SHAPE, intermediate=64, max_position_embeddings=70, pad_token_id=1, seed=seed
    )


def mlm_head_names(model) -> set[str]:
    """Names (in the plain model) of the MLM head's own parameters; the tied decoder weight is listed
    under the word embeddings by named_parameters()."""
    return {n for n, _ in model.named_parameters() if n.startswith(("cls.", "lm_head."))}


def prompt_batch(n: int = 32, length: int = 12, seed: int = 0) -> dict:
    """label = 1 iff SIGNAL_TOKEN occurs; one MASK token at the end, like "<sentence> It was [MASK].\""""
    batch = U.token_presence_batch(n=n, length=length - 2, seed=seed)  # ids > SIGNAL_TOKEN > MASK
    batch["input_ids"] = torch.cat([batch["input_ids"], torch.tensor([[MASK, 2]]).expand(n, 2)], dim=1)
    batch["attention_mask"] = torch.ones_like(batch["input_ids"])
    return batch


def prompt_loss(logits: torch.Tensor, batch: dict) -> torch.Tensor:
    at_mask = logits[batch["input_ids"] == MASK]  # (B, V): exactly one mask per row
    return F.cross_entropy(at_mask[:, list(WORDS)].float(), batch["labels"])


def _prepare(method: str, model=None):
    return prepare_model(method, model if model is not None else tiny_mlm(), "masked_lm", TINY_PARAMS.get(method, {}))


def test_masked_lm_is_a_task_type_of_every_builtin_method():
    assert "masked_lm" in TASK_TYPES
    assert set(METHODS) == set(list_methods())


def test_masked_lm_needs_a_model_with_an_mlm_head():
    with pytest.raises(ValueError, match="needs an \\*ForMaskedLM model"):
        prepare_model("lora", U.tiny_bert().bert, "masked_lm")  # a bare encoder: no output embeddings


@pytest.mark.parametrize("method", METHODS)
def test_masked_lm_loss_falls_and_only_the_method_trains(method, caplog):
    plain = tiny_mlm()
    head_ids = {id(p) for n, p in plain.named_parameters() if n in mlm_head_names(plain)}
    head_ids.add(id(plain.get_output_embeddings().weight))
    total = sum(p.numel() for p in plain.parameters())  # unique parameters (the decoder weight is tied)
    prepared = _prepare(method, plain)

    # 1. exactly the expected parameters train; the MLM head stays frozen except for full fine-tuning
    patterns = [re.compile(p) for p in U.TRAINABLE[method]]
    trainable = prepared.named_trainable_parameters()
    unexpected = [n for n, _ in trainable if not any(p.match(n) for p in patterns)]
    assert not unexpected, f"{method}: unexpected trainable parameters {unexpected[:5]}"
    head_trainable = [n for n, p in trainable if id(p) in head_ids]
    if method == "full_ft":
        assert len(head_trainable) == len(head_ids) and all(p.requires_grad for p in prepared.model.parameters())
    else:
        assert not head_trainable, f"{method}: the MLM head trains: {head_trainable}"
    counts = prepared.param_counts()
    assert counts["head"] == 0 and counts["backbone"] == total
    assert counts["trainable"] == sum(p.numel() for _, p in trainable)
    if method == "full_ft":
        assert counts["inference"] == counts["trainable"] == total
    else:
        assert 0 < counts["inference"] < total  # (prefix tuning's training MLP may exceed a tiny model)

    # 2. the prompt loss (label words at the mask) falls, the adapter is active, method params change
    frozen = {n: p.detach().clone() for n, p in prepared.model.named_parameters() if id(p) in head_ids}
    before = {n: p.detach().clone() for n, p in prepared.method_parameters()}
    torch.manual_seed(0)
    with caplog.at_level(logging.WARNING):
        losses = U.train(prepared, prompt_batch(), prompt_loss, steps=40, lr=LR.get(method, 1e-2))
    assert not [r for r in caplog.records if "none are activated" in r.getMessage()], "adapter not active"
    assert all(math.isfinite(x) for x in losses)
    assert min(losses[-5:]) < 0.85 * losses[0], f"{method}: loss did not fall: {losses[0]:.3f} -> {losses[-5:]}"
    changed = [n for n, p in prepared.method_parameters() if not torch.equal(p.detach(), before[n])]
    assert changed, f"{method}: training changed none of the method's parameters"
    head_moved = [n for n, p in prepared.model.named_parameters() if n in frozen and not torch.equal(p, frozen[n])]
    assert bool(head_moved) == (method == "full_ft"), f"{method}: MLM head moved: {head_moved}"


@pytest.mark.parametrize("method", [m for m in METHODS if m != "full_ft"])
def test_masked_lm_method_is_active_in_forward_pass(method):
    prepared = _prepare(method)
    inputs = {k: v for k, v in prompt_batch(n=4).items() if k != "labels"}
    with torch.no_grad():
        reference = prepared.eval_model()(**inputs).logits.clone()
        assert reference.shape == (4, 12, U.VOCAB)
        torch.manual_seed(1)
        for _, p in prepared.method_parameters():
            p.add_(torch.randn_like(p) * 0.5)
        perturbed = prepared.eval_model()(**inputs).logits
    assert not torch.allclose(reference, perturbed, atol=1e-5), f"{method} parameters do not reach the output"


@pytest.mark.parametrize("method", ["houlsby", "pfeiffer", "prefix_tuning", "unipelt"])
def test_adapterhub_on_roberta_mlm_is_active_and_lm_head_frozen(method, caplog):
    """AdapterHub's train_adapter freezes `roberta` only: `lm_head.dense` / `layer_norm` / `bias` sit outside."""
    model = tiny_roberta_mlm()
    with caplog.at_level(logging.WARNING):
        prepared = _prepare(method, model)
        inputs = {"input_ids": torch.tensor([[0, 7, 8, MASK, 2]]), "attention_mask": torch.ones(1, 5, dtype=torch.long)}
        prepared.eval_model()(**inputs)
    assert not [r for r in caplog.records if "none are activated" in r.getMessage()]
    assert method in prepared.model.active_adapters.flatten()
    assert not [n for n, p in prepared.model.named_parameters() if n.startswith("lm_head.") and p.requires_grad]
    assert not prepared.model.get_output_embeddings().weight.requires_grad
    assert prepared.param_counts()["head"] == 0


def test_adamix_masked_lm_counts_and_consistency_over_the_vocabulary_at_the_mask():
    prepared = _prepare("adamix_adapter")
    assert prepared.params["num_experts"] == 4 and prepared.params["consistency_weight"] == 1.0  # seq_cls defaults
    counts = prepared.param_counts()
    library = prepared.model.count_parameters()
    transform = 32 * 32 + 32 + 2 * 32  # cls.predictions.transform: dense + LayerNorm, frozen
    assert counts == dataclasses.asdict(library)  # one head rule: the library's counts are the record's
    assert counts["head"] == 0 and not prepared.model.head_parameter_names  # the MLM head is no task head ...
    plain = tiny_mlm()
    assert counts["backbone"] == sum(p.numel() for p in plain.parameters())  # ... but backbone, transform included
    assert transform < counts["backbone"]
    assert counts["inference"] == 2 * (2 * 32 * 8 + 8 + 32)
    batch = prompt_batch(n=4)
    batch["consistency_mask"] = batch["input_ids"] == MASK
    prepared.model.train()
    loss, step = prepared.training_loss(batch, prompt_loss)
    assert step.logits.shape == (4, 12, U.VOCAB) and float(step.consistency.detach()) > 0
    assert torch.allclose(loss, step.task_loss + step.consistency)


def test_seq_cls_head_detection_unchanged():
    model = random_model("bert", "seq_cls", vocab_size=U.VOCAB, hidden=32, layers=1, heads=2, intermediate=64)
    assert prepare_model("lora", model, "seq_cls").param_counts()["head"] == 32 * 2 + 2
