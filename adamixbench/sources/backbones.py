"""Backbone names -> what `from_pretrained` accepts: the packaged offline weights (adamixbench/sources/packaged.py),
tiny random stand-ins ``standin:<model>`` (adamixbench/sources/standins.py), otherwise a hub name or a local path."""

from __future__ import annotations

from adamixbench.sources.packaged import MINILM, SMOLLM2, minilm_dir, smollm2_dir
from adamixbench.sources.standins import is_standin, standin_backbone


def resolve_backbone(name: str) -> str:
    """A path or hub name that `from_pretrained` accepts."""
    if name == MINILM:
        return str(minilm_dir())
    if name == SMOLLM2:
        return str(smollm2_dir())
    if is_standin(name):
        return str(standin_backbone(name))
    return name
