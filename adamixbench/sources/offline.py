"""The environment defaults of every entry point: offline, quiet, one tokenizer thread pool.

Offline is this project's normal state (docs/PIPELINE.md): nothing reaches a model or dataset hub unless the
user asks for it by setting the variable (``HF_HUB_OFFLINE=0 HF_DATASETS_OFFLINE=0``); a value the user set
always wins. huggingface_hub and datasets read these variables when they are first imported, so each entry
point applies the defaults before importing them: the engine CLI (adamixbench/__main__.py), the Snakemake
process (workflow/rules/common.smk) and the test suite (tests/conftest.py).
"""

from __future__ import annotations

import os

OFFLINE_DEFAULTS: dict[str, str] = {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    # the engine forks DataLoader workers after tokenising: without this, tokenizers warns and disables itself
    "TOKENIZERS_PARALLELISM": "false",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
}


def apply_offline_defaults(environ: dict | None = None) -> None:
    """Set each of :data:`OFFLINE_DEFAULTS` in `environ` (default: ``os.environ``) unless already set."""
    env = os.environ if environ is None else environ
    for name, value in OFFLINE_DEFAULTS.items():
        env.setdefault(name, value)
