"""Tiny models and toy tasks shared by the baselines tests (imported as a top-level helper module;
tests/baselines has no __init__.py on purpose: a `tests/baselines` package would shadow `baselines`)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    GPT2Config,
    GPT2LMHeadModel,
)

VOCAB = 100
SIGNAL_TOKEN = 5

# Which parameters each method may train (regular expressions on names in `prepared.model`), head
# parameters included (seq_cls). Anything else requiring grad is a bug.
TRAINABLE = {
    "full_ft": [r".*"],
    "bitfit": [r".*\.bias$", r"^classifier\."],
    "houlsby": [r".*\.adapters\.houlsby\.", r"^classifier\."],
    "pfeiffer": [r".*\.adapters\.pfeiffer\.", r"^classifier\."],
    "prefix_tuning": [r".*\.prefix_tunings\.prefix_tuning\.", r"^classifier\."],
    "unipelt": [r".*\.(adapters|loras|prefix_tunings|prefix_gates)\.unipelt\b", r"^classifier\."],
    "lora": [r".*\.lora_[AB]\.default\.weight$", r"^base_model\.model\.classifier\.modules_to_save\.default\."],
    "ia3": [r".*\.ia3_l\.default$", r"^base_model\.model\.classifier\.modules_to_save\.default\."],
    "adamix_adapter": [r".*\.(down|up)\.(weight|bias)\.\d+$", r"^base_model\.classifier\."],
    "adamix_lora": [r".*\.lora_(A|B\.\d+)\.weight\.\d+$", r"^base_model\.classifier\."],
    "dora": [
        r".*\.lora_([AB]|magnitude_vector)\.default\.weight$",
        r"^base_model\.model\.classifier\.modules_to_save\.default\.",
    ],
    "vera": [r".*\.vera_lambda_[bd]\.default$", r"^base_model\.model\.classifier\.modules_to_save\.default\."],
    "loha": [r".*\.hada_w[12]_[ab]\.default$", r"^base_model\.model\.classifier\.modules_to_save\.default\."],
    # default tuner lora: M experts of lora_A, ONE lora_B (upstream sharing); the head is trained once.
    "adamix_peft": [
        r".*\.lora_A\.expert_\d+\.weight$",
        r".*\.lora_B\.expert_0\.weight$",
        r"^base_model\.base_model\.model\.classifier\.",
    ],
}


def tiny_bert(seed: int = 0, num_labels: int = 2) -> BertForSequenceClassification:
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=VOCAB,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        initializer_range=0.2,  # larger random features: a frozen random backbone then carries the signal
        num_labels=num_labels,
    )
    return BertForSequenceClassification(config)


def tiny_gpt2(seed: int = 0) -> GPT2LMHeadModel:
    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=VOCAB,
        n_positions=64,
        n_embd=32,
        n_layer=2,
        n_head=2,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        initializer_range=0.2,
    )
    return GPT2LMHeadModel(config)


def token_presence_batch(n: int = 64, length: int = 12, seed: int = 0) -> dict:
    """label = 1 iff SIGNAL_TOKEN occurs in the sequence (half the rows)."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(SIGNAL_TOKEN + 1, VOCAB, (n, length), generator=g)
    labels = torch.arange(n) % 2
    pos = torch.randint(1, length, (n,), generator=g)
    ids[labels == 1, pos[labels == 1]] = SIGNAL_TOKEN
    ids[:, 0] = 1  # a fixed [CLS]-like first token
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels}


def repetitive_lm_batch(n: int = 8, length: int = 24) -> dict:
    row = torch.arange(length) % 6 + 10
    ids = torch.stack([torch.roll(row, i) for i in range(n)])
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids.clone()}


def cls_loss(logits: torch.Tensor, batch: dict) -> torch.Tensor:
    return F.cross_entropy(logits, batch["labels"])


def lm_loss(logits: torch.Tensor, batch: dict) -> torch.Tensor:
    labels = batch["labels"]
    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1))


def train(prepared, batch: dict, loss_fn, steps: int, lr: float) -> list[float]:
    prepared.model.train()
    opt = torch.optim.AdamW(prepared.trainable_parameters(), lr=lr, weight_decay=0.0)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss, _ = prepared.training_loss(batch, loss_fn)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses
