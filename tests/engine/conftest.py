"""Fixtures shared by the engine tests."""

from pathlib import Path

import pytest
from transformers import AutoTokenizer

from adamixbench.sources import pins
from tests import hub_mirror
from tests.engine.engine_testutil import MINILM, save_tiny_bert


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    """A 2-layer BERT classifier with MiniLM's vocabulary, saved like any local checkpoint."""
    return save_tiny_bert("seq_cls", tmp_path_factory.mktemp("tiny-bert"), AutoTokenizer.from_pretrained(MINILM))


@pytest.fixture(scope="module")
def mirror(tmp_path_factory) -> Path:
    """A local copy of the hub repositories the suites load, laid out as on the hub (tests/hub_mirror.py)."""
    return hub_mirror.build_mirror(tmp_path_factory.mktemp("hub-mirror"))


@pytest.fixture
def use_mirror(mirror, monkeypatch) -> Path:
    """Hub loads go to the mirror (ADAMIXBENCH_HUB_MIRROR); the record of what was read starts empty."""
    monkeypatch.setenv(pins.MIRROR_ENV, str(mirror))
    pins.clear_hub_reads()
    yield mirror
    pins.clear_hub_reads()
