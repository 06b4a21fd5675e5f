"""Tiny random Hugging Face models (dropout off unless asked) for the adamix tests."""

import torch

from adamixbench.sources.standins import random_model

VOCAB = 120
SHAPE = {"vocab_size": VOCAB, "hidden": 32, "layers": 2, "heads": 2}


def tiny_bert(num_labels: int = 3, dropout: float = 0.0, seed: int = 0):
    return random_model(
        "bert", "seq_cls", **SHAPE, intermediate=64, num_labels=num_labels, dropout=dropout, seed=seed
    ).eval()


def tiny_roberta(seed: int = 0):
    return random_model(
        "roberta", "seq_cls", **SHAPE, intermediate=64, num_labels=2, dropout=0.0, max_position_embeddings=40, seed=seed
    ).eval()


def tiny_deberta(seed: int = 0):
    return random_model("deberta-v2", "seq_cls", **SHAPE, intermediate=64, num_labels=2, dropout=0.0, seed=seed).eval()


def tiny_gpt2(dropout: float = 0.0, seed: int = 0, task_type: str = "causal_lm"):
    """GPT-2 with its LM head, or (task_type "seq_cls") with a classification head (`score`)."""
    return random_model("gpt2", task_type, **SHAPE, max_position_embeddings=64, dropout=dropout, seed=seed).eval()


def tiny_llama(seed: int = 0):
    return random_model(
        "llama", "causal_lm", **SHAPE, intermediate=64, num_key_value_heads=2, max_position_embeddings=64, seed=seed
    ).eval()


def token_batch(batch: int = 4, length: int = 9, seed: int = 1) -> dict:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, VOCAB, (batch, length), generator=g)
    mask = torch.ones_like(ids)
    mask[0, -3:] = 0  # one padded row, so masks matter
    return {"input_ids": ids, "attention_mask": mask}
