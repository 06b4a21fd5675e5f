"""The engine's optimiser step (adamixbench.engine.trainer.train_step) on a tiny BERT: gradient accumulation."""

import os

import torch
import torch.nn.functional as F
from transformers import BertConfig, BertForSequenceClassification

from adamixbench.engine.config import RunConfig
from adamixbench.engine.distributed import SINGLE, Processes
from adamixbench.engine.trainer import train_step
from baselines import prepare_model


class ClassificationLoss:
    """What train_step needs of a task: the loss (the NLU tasks' cross-entropy) and no consistency mask."""

    def loss(self, logits, batch):
        return F.cross_entropy(logits.float(), batch["labels"])

    def consistency_mask(self, batch):
        return None


def seeded_batch() -> dict:
    """16 examples of 12 tokens, seeded."""
    generator = torch.Generator().manual_seed(1)
    return {
        "input_ids": torch.randint(5, 100, (16, 12), generator=generator),
        "attention_mask": torch.ones(16, 12, dtype=torch.long),
        "labels": torch.randint(0, 2, (16,), generator=generator),
    }


def two_halves() -> list[dict]:
    """`seeded_batch` as two micro-batches of 8."""
    batch = seeded_batch()
    return [{k: v[:8] for k, v in batch.items()}, {k: v[8:] for k, v in batch.items()}]


def stepped_weights(micro_batches: list[dict], processes: Processes = SINGLE) -> tuple[float, dict]:
    """LoRA on a seeded tiny BERT, one train_step over `micro_batches` with SGD(lr=1): the change of every
    trainable weight is minus its (clipped) gradient. Dropout is off (eval mode) so that the micro-batches
    see the same function as the whole batch; LoRA has no routing. `processes`: this rank of a run on
    several (tests/engine/ddp_worker.py)."""
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64
    )
    prepared = prepare_model("lora", BertForSequenceClassification(config), "seq_cls", {})
    with torch.no_grad():  # LoRA's B starts at zero (A's gradient would be zero): give both a gradient
        for name, p in prepared.model.named_parameters():
            if "lora_B" in name:
                p.normal_(std=0.1)
    prepared.model.eval()
    before = {n: p.detach().clone() for n, p in prepared.named_trainable_parameters()}
    optimizer = torch.optim.SGD(prepared.trainable_parameters(), lr=1.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    cfg = RunConfig(task="sst2", method="lora", seed=0, model="tiny", out=os.devnull, max_grad_norm=1.0)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    loss = train_step(
        prepared, ClassificationLoss(), micro_batches, optimizer, scheduler, scaler, cfg, torch.device("cpu"), processes
    )
    return loss.item(), {n: before[n] - p.detach() for n, p in prepared.named_trainable_parameters()}


def test_two_accumulated_micro_batches_of_8_step_like_one_batch_of_16():
    whole_loss, whole = stepped_weights([seeded_batch()])
    accumulated_loss, accumulated = stepped_weights(two_halves())
    # float32 sums in another order: equal up to rounding (1e-6 relative to the largest update)
    assert abs(whole_loss - accumulated_loss) <= 1e-6 * abs(whole_loss)
    scale = max(u.abs().max().item() for u in whole.values())
    assert scale > 0 and set(whole) == set(accumulated)
    for name in whole:
        torch.testing.assert_close(accumulated[name], whole[name], rtol=0, atol=1e-6 * scale, msg=name)
