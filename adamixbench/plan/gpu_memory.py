"""GPU memory one training run needs: what the pipeline declares as the Snakemake resource `gpu_mem_mb` of
rule train, so that several runs share a GPU when they fit (docs/PIPELINE.md, "GPUs").

Pure Python (no torch): the workflow computes it while it builds the DAG. A suite may set the figure
itself (`resources: {gpu_mem_mb: ...}` in the suite file: one number, or rules matched per experiment /
method label / task); every other run gets `estimate_train_mb`, a deliberately generous formula from the
backbone's config.json, the batch, the sequence length, the method and the precision:

    P            backbone parameters, from config.json: V h + L (4 h^2 + k h I)   (k = 3 for gated MLPs)
    tokens       batch_size x max_seq_len                    (a padded batch is at most this long)
    weights      4 P bytes                                   (fp32 weights)
    optimiser    full_ft: 12 P (fp32 gradients + AdamW m, v); PEFT: 16 bytes x 2% of P (an upper bound
                 of its trainable weights)
    activations  tokens x L x (34 h + 5 heads x max_seq_len) bytes under bf16/fp16 autocast, x 2 in fp32
                 (Korthikanti et al. 2022, "Reducing Activation Recomputation", eq. 2)
    LM logits    tokens x V x 10 bytes for NLG and prompt-based runs (bf16 logits, fp32 copy, fp32 grad)
    AdaMix       activations and logits x 2 (two stochastic forward passes per step)
    total        1.2 x (sum) + 1024 MB (CUDA context, cuBLAS workspaces), rounded up to 256 MB

e.g. (MB) RoBERTa-large, batch 64 x 128: LoRA 13,056, AdaMix adapter 23,296, full FT (batch 32) 12,800;
GPT-2 medium E2E, batch 8 x 512: LoRA 13,824, AdaMix-LoRA 24,576; MiniLM-L6 SST-2, batch 16 x 64: LoRA
1,280, AdaMix adapter 1,536.
A backbone whose config.json cannot be found or read here (a hub model not in the local cache, a corrupt
or unfamiliar config) gets UNKNOWN_BACKBONE_MB; set `resources.gpu_mem_mb` in the suite for it. Building the
DAG never fails on a bad backbone: its run starts and fails with the engine's error, recorded as failed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path

from adamixbench.tasks import family_of

#: MB declared for a run whose backbone's config.json is not available on this machine.
UNKNOWN_BACKBONE_MB = 24_000
#: CUDA context and library workspaces of one process, MB.
PROCESS_OVERHEAD_MB = 1024
#: safety factor on the counted bytes (allocator fragmentation, temporaries the formula leaves out).
MARGIN = 1.2
GATED_MLP_ACTIVATIONS = ("silu", "swiglu", "gelu_pytorch_tanh_gated")


def _config_file(model: str) -> Path | None:
    """config.json of a backbone without loading it: a local folder, a packaged backbone, a stand-in or a
    hub name in the local Hugging Face cache."""
    from adamixbench.sources.packaged import MINILM, SMOLLM2, SMOLLM2_DIR, minilm_dir

    if model == MINILM:
        try:
            return minilm_dir() / "config.json"
        except FileNotFoundError:
            return None
    candidates = {SMOLLM2: SMOLLM2_DIR}
    folder = candidates.get(model, Path(model))
    if (folder / "config.json").is_file():
        return folder / "config.json"
    if model.startswith("standin:") or model == SMOLLM2 or Path(model).is_absolute() or model.startswith("."):
        return None
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    found = try_to_load_from_cache(model, "config.json")
    return Path(found) if isinstance(found, str) else None


def backbone_shape(model: str) -> dict | None:
    """{params, hidden, layers, heads, vocab} of a backbone from its config.json (None when not found).
    Stand-ins (`standin:<model>`, adamixbench/sources/standins.py) use their fixed tiny shape."""
    if model.startswith("standin:"):
        from adamixbench.sources.standins import SIZE

        h, layers, inter = SIZE["hidden"], SIZE["layers"], SIZE["intermediate"]
        return {
            "params": 50_265 * h + layers * (4 * h * h + 2 * h * inter),
            "hidden": h,
            "layers": layers,
            "heads": SIZE["heads"],
            "vocab": 50_265,
        }
    path = _config_file(model)
    if path is None:
        return None
    try:
        cfg = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None  # the engine rejects this backbone with a clear error when the run starts
    if not isinstance(cfg, dict):
        return None

    def first(*keys, default=None):
        return next((cfg[k] for k in keys if cfg.get(k) is not None), default)

    try:
        h = int(first("hidden_size", "n_embd", "d_model"))
        layers = int(first("num_hidden_layers", "n_layer", "num_layers"))
        heads = int(first("num_attention_heads", "n_head", default=max(1, h // 64)))
        inter = int(first("intermediate_size", "n_inner", "ffn_dim", default=4 * h))
        vocab = int(first("vocab_size", default=50_000))
    except (TypeError, ValueError):
        return None  # a config without the sizes this formula needs: UNKNOWN_BACKBONE_MB
    gated = str(first("hidden_act", "activation_function", default="")) in GATED_MLP_ACTIVATIONS
    params = vocab * h + layers * (4 * h * h + (3 if gated else 2) * h * inter)
    return {"params": params, "hidden": h, "layers": layers, "heads": heads, "vocab": vocab}


def estimate_train_mb(spec: Mapping, shape: Mapping | None) -> int:
    """GPU memory (MB) of one training run of the engine; the formula is in this module's docstring."""
    if shape is None:
        return UNKNOWN_BACKBONE_MB
    p, h, layers, heads, vocab = (shape[k] for k in ("params", "hidden", "layers", "heads", "vocab"))
    seq = int(spec.get("max_seq_len") or 128)
    tokens = int(spec["batch_size"]) * seq
    passes = 2 if str(spec["method"]).startswith("adamix") else 1
    act_bytes = 2 if spec.get("precision", "auto") == "fp32" else 1
    weights = 4 * p
    optimiser = 12 * p if spec["method"] == "full_ft" else 16 * 0.02 * p
    activations = tokens * layers * (34 * h + 5 * heads * seq) * act_bytes * passes
    lm_head = family_of(spec["task"], spec.get("fewshot_k")) == "nlg" or spec.get("prompt")
    lm_logits = tokens * vocab * 10 * passes if lm_head else 0
    total_mb = MARGIN * (weights + optimiser + activations + lm_logits) / 2**20 + PROCESS_OVERHEAD_MB
    return int(math.ceil(total_mb / 256) * 256)


def _matches(rule: Mapping, spec: Mapping) -> bool:
    return all(
        spec[field] in rule[key]
        for key, field in (("experiments", "experiment"), ("methods", "label"), ("tasks", "task"))
        if key in rule
    )


def train_gpu_mem_mb(spec: Mapping, setting, shapes: dict | None = None) -> int:
    """The `gpu_mem_mb` of one run: the suite's `resources.gpu_mem_mb` (a number for every run, or rules
    {experiments, methods, tasks, mb}: the LAST rule matching the run wins), else `estimate_train_mb`.
    `shapes` caches backbone_shape per model across the runs of a suite."""
    if isinstance(setting, int):
        return setting
    for rule in reversed(setting or []):
        if _matches(rule, spec):
            return int(rule["mb"])
    shapes = {} if shapes is None else shapes
    if spec["model"] not in shapes:
        shapes[spec["model"]] = backbone_shape(spec["model"])
    return estimate_train_mb(spec, shapes[spec["model"]])
