"""Fixtures shared by the engine tests."""

import pytest
from transformers import AutoTokenizer

from tests.engine.engine_testutil import MINILM, save_tiny_bert


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    """A 2-layer BERT classifier with MiniLM's vocabulary, saved like any local checkpoint."""
    return save_tiny_bert("seq_cls", tmp_path_factory.mktemp("tiny-bert"), AutoTokenizer.from_pretrained(MINILM))
