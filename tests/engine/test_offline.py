"""The offline defaults (adamixbench/sources/offline.py): set what the user left unset, never override a choice."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from adamixbench.sources.offline import OFFLINE_DEFAULTS, apply_offline_defaults

REPO = Path(__file__).resolve().parents[2]


def test_unset_variables_get_the_defaults_and_set_ones_are_kept():
    env = {"HF_HUB_OFFLINE": "0", "PATH": "/bin"}
    apply_offline_defaults(env)
    assert env["HF_HUB_OFFLINE"] == "0"  # an online user's explicit choice wins
    assert env["HF_DATASETS_OFFLINE"] == "1" and env["TOKENIZERS_PARALLELISM"] == "false"
    assert set(OFFLINE_DEFAULTS) <= set(env) and env["PATH"] == "/bin"


def test_engine_entry_point_applies_them_before_huggingface_is_imported():
    env = {k: v for k, v in os.environ.items() if k not in OFFLINE_DEFAULTS}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    probe = (
        "import runpy, sys; sys.argv = ['adamixbench', '--help']\n"
        "try:\n    runpy.run_module('adamixbench', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "import huggingface_hub.constants as c; print('offline', c.HF_HUB_OFFLINE)"
    )
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "offline True"
