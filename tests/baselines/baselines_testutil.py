"""Tiny models and toy tasks shared by the baselines tests (imported as a top-level helper module;
tests/baselines has no __init__.py on purpose: a `tests/baselines` package would shadow `baselines`)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers import BertForSequenceClassification, GPT2LMHeadModel

from adamixbench.sources.standins import random_model

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


#: larger random features (initializer_range 0.2): a frozen random backbone then carries the toy signal
SHAPE = {"vocab_size": VOCAB, "hidden": 32, "layers": 2, "heads": 2, "dropout": 0.0, "initializer_range": 0.2}


def tiny_bert(seed: int = 0, num_labels: int = 2) -> BertForSequenceClassification:
    return random_model(
        "bert", "seq_cls", **SHAPE, intermediate=64, max_position_embeddings=64, num_labels=num_labels, seed=seed
    )


def tiny_gpt2(seed: int = 0) -> GPT2LMHeadModel:
    return random_model("gpt2", "causal_lm", **SHAPE, max_position_embeddings=64, seed=seed)


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
