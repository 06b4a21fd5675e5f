"""Target modules per architecture have one home (adamix.targets): the peft baselines use it, and it
agrees with peft's own mapping wherever peft has one (so 'LoRA' means the same modules in both)."""

from __future__ import annotations

import re

import pytest
from baselines_testutil import tiny_bert
from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as PEFT_LORA_TARGETS

from adamix.targets import ARCHITECTURES, lora_module_names
from baselines.lora import targets_for


@pytest.mark.parametrize("model_type", sorted(ARCHITECTURES))
def test_lora_names_are_the_adamix_patterns_and_agree_with_peft(model_type):
    names = lora_module_names(model_type)
    patterns = ARCHITECTURES[model_type].lora
    assert len(names) == len(patterns)
    for name, pattern in zip(names, patterns):
        assert pattern.endswith(r"\." + name)  # the module name the pattern ends in
    if model_type in PEFT_LORA_TARGETS:
        assert names == list(PEFT_LORA_TARGETS[model_type])


def test_baseline_defaults_come_from_adamix_targets():
    model = tiny_bert()
    names = targets_for(model, "lora")
    assert names == lora_module_names("bert") == ["query", "value"]
    adapted = [n for n, _ in model.named_modules() if n.split(".")[-1] in names]
    assert adapted and all(re.fullmatch("|".join(ARCHITECTURES["bert"].lora), n) for n in adapted)


def test_unknown_architecture_names_the_fix():
    assert lora_module_names("no-such-arch") is None
    model = tiny_bert()
    model.config.model_type = "no-such-arch"
    with pytest.raises(ValueError, match="target_modules"):
        targets_for(model, "lora")
