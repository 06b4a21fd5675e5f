"""adamixbench/plan/gpu_memory.py: the GPU memory a training run declares (rule train's `gpu_mem_mb`)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import transformers

from adamixbench.plan.gpu_memory import UNKNOWN_BACKBONE_MB, backbone_shape, estimate_train_mb, train_gpu_mem_mb
from adamixbench.sources.backbones import resolve_backbone

ROBERTA_LARGE = {"params": 355_000_000, "hidden": 1024, "layers": 24, "heads": 16, "vocab": 50_265}


def _spec(**kw):
    return {
        "method": "lora",
        "batch_size": 64,
        "max_seq_len": 128,
        "task": "sst2",
        "experiment": "glue",
        "label": "lora",
        "model": "roberta-large",
        **kw,
    }


@pytest.mark.parametrize(
    "config",
    [
        transformers.GPT2Config(vocab_size=5000, n_embd=256, n_layer=4, n_head=4, n_positions=128),
        transformers.LlamaConfig(
            vocab_size=5000,
            hidden_size=256,
            intermediate_size=688,
            num_hidden_layers=4,
            num_attention_heads=4,
            num_key_value_heads=4,
            tie_word_embeddings=True,
        ),
        transformers.RobertaConfig(
            vocab_size=5000,
            hidden_size=256,
            num_hidden_layers=4,
            num_attention_heads=4,
            intermediate_size=1024,
            max_position_embeddings=130,
        ),
    ],
    ids=["gpt2", "llama", "roberta"],
)
def test_parameter_count_from_config_json_matches_the_model(tmp_path, config):
    """The count read from config.json (no torch) is within 5% of the model's real parameter count."""
    config.save_pretrained(tmp_path)
    real = sum(p.numel() for p in transformers.AutoModel.from_config(config).parameters())
    assert backbone_shape(str(tmp_path))["params"] == pytest.approx(real, rel=0.05)


def test_packaged_backbone_shape_matches_its_weights():
    model = transformers.AutoModel.from_pretrained(resolve_backbone("minilm-l6"))
    shape = backbone_shape("minilm-l6")
    assert shape["params"] == pytest.approx(sum(p.numel() for p in model.parameters()), rel=0.05)
    assert (shape["hidden"], shape["layers"]) == (model.config.hidden_size, model.config.num_hidden_layers)


def test_estimate_grows_with_what_costs_memory():
    base = estimate_train_mb(_spec(), ROBERTA_LARGE)
    assert estimate_train_mb(_spec(batch_size=128), ROBERTA_LARGE) > base
    assert estimate_train_mb(_spec(max_seq_len=256), ROBERTA_LARGE) > base
    assert estimate_train_mb(_spec(precision="fp32"), ROBERTA_LARGE) > base
    assert estimate_train_mb(_spec(method="adamix_adapter"), ROBERTA_LARGE) > base  # two passes per step
    assert estimate_train_mb(_spec(method="full_ft", batch_size=1), ROBERTA_LARGE) > estimate_train_mb(
        _spec(batch_size=1), ROBERTA_LARGE
    )  # gradients + AdamW states of every weight
    assert estimate_train_mb(_spec(task="e2e"), ROBERTA_LARGE) > base  # full-vocabulary logits
    assert estimate_train_mb(_spec(), ROBERTA_LARGE) % 256 == 0
    assert estimate_train_mb(_spec(), None) == UNKNOWN_BACKBONE_MB


def test_estimate_is_at_least_what_the_weights_and_activations_take():
    """A floor that needs no GPU: fp32 weights + one bf16 copy of every layer's input per token."""
    p, h, layers = ROBERTA_LARGE["params"], ROBERTA_LARGE["hidden"], ROBERTA_LARGE["layers"]
    floor_mb = (4 * p + 64 * 128 * layers * h * 2) / 2**20
    assert estimate_train_mb(_spec(), ROBERTA_LARGE) > floor_mb


def test_suite_setting_wins_and_the_last_matching_rule_wins():
    spec = _spec(label="adamix", experiment="glue", task="mnli")
    shapes = {"roberta-large": ROBERTA_LARGE}
    assert train_gpu_mem_mb(spec, 5000, shapes) == 5000
    rules = [{"mb": 1000}, {"methods": ["adamix"], "mb": 2000}, {"tasks": ["qqp"], "mb": 3000}]
    assert train_gpu_mem_mb(spec, rules, shapes) == 2000
    assert train_gpu_mem_mb({**spec, "task": "qqp"}, rules, shapes) == 3000
    assert train_gpu_mem_mb({**spec, "label": "lora"}, rules, shapes) == 1000
    assert train_gpu_mem_mb(spec, [{"experiments": ["other"], "mb": 9}], shapes) == estimate_train_mb(
        spec, ROBERTA_LARGE
    )


def test_no_torch_in_the_dag_building_process(tmp_path):
    """The workflow computes gpu_mem_mb while it builds the DAG: importing the module must not import torch."""
    code = "import sys, adamixbench.plan.gpu_memory as g; g.backbone_shape('minilm-l6'); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_config_file_of_an_unknown_hub_name_is_not_found_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert backbone_shape("no-such-org/no-such-model-xyz") is None


@pytest.mark.parametrize(
    "config_text",
    ['{"model_type": "bert", "hidden_size": ', '["not", "a", "mapping"]', '{"model_type": "bert"}'],
    ids=["truncated", "not-a-mapping", "no-sizes"],
)
def test_a_bad_config_gets_the_unknown_figure_instead_of_failing_the_dag(tmp_path, config_text):
    """A corrupt backbone must fail its own run (recorded as failed), not the DAG of the whole suite."""
    (tmp_path / "config.json").write_text(config_text)
    assert backbone_shape(str(tmp_path)) is None
    spec = {"method": "lora", "label": "lora", "task": "sst2", "batch_size": 8, "model": str(tmp_path)}
    assert train_gpu_mem_mb(spec, None) == UNKNOWN_BACKBONE_MB
