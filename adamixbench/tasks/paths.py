"""Where the task data lives: the one rule every task family (GLUE, few-shot, NLG) follows.

The repository ships small subsets under ``data/`` (data/README.md). ``ADAMIXBENCH_DATA_DIR`` points every
family at another root with the same layout (``glue/``, ``fewshot/``, ``e2e/``, ``webnlg_challenge_2017/``,
``dart/``), e.g. full datasets on a cluster's shared disk, without passing a path to each run.
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "ADAMIXBENCH_DATA_DIR"


def data_root() -> Path:
    """``$ADAMIXBENCH_DATA_DIR`` when set (and not empty), else the repository's ``data/`` folder."""
    root = os.environ.get(DATA_DIR_ENV)
    return Path(root) if root else Path(__file__).resolve().parents[2] / "data"
