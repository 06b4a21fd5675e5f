"""Smoke-mode stand-ins (adamixbench/sources/standins.py, adamixbench/tasks/standin_data.py) and the
weight-decay parameter groups (adamixbench/engine/optim.py)."""

from __future__ import annotations

import pytest
import torch

from adamixbench.engine.optim import parameter_groups
from adamixbench.sources import standins
from adamixbench.sources.paths import GPT2_TOKENIZER_DIR
from adamixbench.tasks import standin_data
from adamixbench.tasks.glue import GLUE_TASKS, load_glue


@pytest.mark.parametrize(
    "name,arch",
    [
        ("roberta-large", "roberta"),
        ("standin:bert-base-uncased", "bert"),
        ("minilm-l6", "bert"),
        ("gpt2-medium", "gpt2"),
        ("smollm2-135m", "llama"),
        ("/scratch/hf/roberta-large", "roberta"),
    ],
)
def test_architecture_of(name, arch):
    assert standins.architecture_of(name) == arch


def test_unknown_architecture_names_the_supported_ones():
    with pytest.raises(ValueError, match="stand-ins exist for RoBERTa"):
        standins.architecture_of("t5-base")


def test_standin_glue_dir_has_every_task_and_split(tmp_path, monkeypatch):
    monkeypatch.setattr(standins, "STANDIN_DIR", tmp_path)
    root = standin_data.standin_glue_dir(rows=6)
    for spec in GLUE_TASKS.values():
        for split in spec.splits:
            data = load_glue(spec.name, split, root)
            assert len(data) == 6, (spec.name, split)
            if not spec.is_regression and split == "train":  # stand-in labels cycle over the classes
                assert len(set(data["label"])) >= 2 or spec.name == "cola"
    assert "stand-in (not shipped)" in (root / "COMPLETE").read_text()


@pytest.mark.parametrize(
    "arch_name,model_cls,mask",
    [
        ("standin:roberta-large", "RobertaForMaskedLM", True),
        ("standin:bert-base-uncased", "BertForMaskedLM", True),
        ("standin:gpt2-medium", "GPT2LMHeadModel", False),
    ],
)
def test_standin_backbone_has_the_real_architecture_and_head(tmp_path, monkeypatch, arch_name, model_cls, mask):
    if standins.architecture_of(arch_name) != "bert" and not (GPT2_TOKENIZER_DIR / "vocab.json").is_file():
        pytest.skip("GPT-2 tokenizer not fetched (scripts/fetch_gpt2_tokenizer.sh)")
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    from adamixbench.tasks.prompting import load_masked_lm

    monkeypatch.setattr(standins, "STANDIN_DIR", tmp_path)
    path = standins.standin_backbone(arch_name)
    assert standins.standin_backbone(arch_name) == path  # built once
    config = AutoConfig.from_pretrained(path)
    assert config.architectures == [model_cls] and config.num_hidden_layers == standins.SIZE["layers"]
    tokenizer = AutoTokenizer.from_pretrained(path)
    assert len(tokenizer) <= config.vocab_size
    if mask:
        assert load_masked_lm(str(path)).config.vocab_size == config.vocab_size  # the MLM head is saved
        cls = AutoModelForSequenceClassification.from_pretrained(path, num_labels=3)
        ids = tokenizer(["a b", "c"], ["d", "e f"], padding=True, return_tensors="pt")
        assert cls(**ids).logits.shape == (2, 3)


def test_weight_decay_exempts_biases_and_layernorm_like_the_trainer():
    model = standins.random_model("bert", "seq_cls", vocab_size=50, hidden=16, layers=1, heads=2, intermediate=32)
    named = list(model.named_parameters())
    names = {id(p): n for n, p in named}
    decay, exempt = parameter_groups(model, named, 0.1)
    assert decay["weight_decay"] == 0.1 and exempt["weight_decay"] == 0.0
    exempt_names = {names[id(p)] for p in exempt["params"]}
    assert exempt_names and all(n.endswith("bias") or "LayerNorm" in n for n in exempt_names)
    assert "bert.embeddings.LayerNorm.weight" in exempt_names and "classifier.bias" in exempt_names
    assert all(not n.endswith("bias") and "LayerNorm" not in n for n in (names[id(p)] for p in decay["params"]))
    (everything,) = parameter_groups(model, named, 0.1, "all")
    assert len(everything["params"]) == len(named) and everything["weight_decay"] == 0.1
    with pytest.raises(ValueError, match="allowed"):
        parameter_groups(model, named, 0.1, "none")


@pytest.mark.parametrize("name", ["roberta-large", "bert-base-uncased", "gpt2-medium", "smollm2-135m"])
def test_weight_decay_exemptions_are_the_installed_trainers(name):
    """optim.py restates the Trainer's rule (importing the Trainer costs ~1 s per run): the same names as
    the installed transformers' own Trainer.get_decay_parameter_names, on every stand-in architecture
    wrapped by an AdaMix method (adapter layers inside the backbone)."""
    from transformers import Trainer

    from adamixbench.engine.optim import decay_exempt_names
    from adamixbench.sources.backbones import resolve_backbone
    from baselines import prepare_model

    path = resolve_backbone(f"standin:{name}")
    arch = standins.architecture_of(name)
    if arch in ("gpt2", "llama"):
        from transformers import AutoModelForCausalLM

        model, task_type = AutoModelForCausalLM.from_pretrained(path), "causal_lm"
    else:
        from transformers import AutoModelForSequenceClassification

        model, task_type = AutoModelForSequenceClassification.from_pretrained(path, num_labels=2), "seq_cls"
    model = prepare_model("adamix_adapter", model, task_type, {}).model
    decay = set(Trainer.get_decay_parameter_names(None, model))
    exempt = decay_exempt_names(model)
    assert exempt and exempt == {n for n, _ in model.named_parameters()} - decay


def test_exempt_parameters_do_not_decay_in_an_optimizer_step():
    model = standins.random_model("bert", "seq_cls", vocab_size=50, hidden=16, layers=1, heads=2, intermediate=32)
    ln = model.bert.embeddings.LayerNorm.weight
    dense = model.classifier.weight
    before_ln, before_dense = ln.detach().clone(), dense.detach().clone()
    optimizer = torch.optim.AdamW(parameter_groups(model, list(model.named_parameters()), 0.5), lr=0.1)
    for p in model.parameters():
        p.grad = torch.zeros_like(p)  # no gradient signal: only weight decay can move a parameter
    optimizer.step()
    assert torch.equal(ln, before_ln)
    assert torch.allclose(dense, before_dense * (1 - 0.1 * 0.5))
