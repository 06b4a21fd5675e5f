"""CPU cost of ONE AdaMix-LoRA mixture layer on GPT-2-medium's fused q|k|v projection (1024 -> 3 x 1024,
q and v adapted, 8 experts, r 4): forward + backward of a batch of 16 x 56 tokens routed as two chunks
(the fused consistency step). Prints the median CPU milliseconds of 20 calls after 5 warm-up calls.

    python benchmarks/lora_mixture_layer.py
"""

import statistics
import time

import torch
from transformers.pytorch_utils import Conv1D

from adamix import AdaMixConfig
from adamix.layer import MixtureLoRALayer
from adamix.routing import Router


def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    config = AdaMixConfig(adapter_type="lora", num_experts=8, r=4, lora_alpha=32)
    base = Conv1D(3 * 1024, 1024)
    base.requires_grad_(False)
    layer = MixtureLoRALayer(base, config, Router(0), slices=[(0, 1024), (2048, 3072)]).train()
    layer.train_routes = {"A": (1, 5), "B": (2, 3)}
    x = torch.randn(16, 56, 1024, requires_grad=True)  # earlier layers are trainable: x needs a gradient
    times = []
    for i in range(25):
        tic = time.process_time()
        layer(x).sum().backward()
        if i >= 5:
            times.append(time.process_time() - tic)
    print(f"{statistics.median(times) * 1000:.2f} ms (min {min(times) * 1000:.2f}, max {max(times) * 1000:.2f})")


if __name__ == "__main__":
    main()
