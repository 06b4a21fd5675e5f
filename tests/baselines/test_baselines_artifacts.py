"""Saved artifacts: every method family saves its trained weights in its library's own format, and they
load back with that library alone (adamix / peft / AdapterHub / transformers + safetensors) into a fresh
backbone, giving the trained model's outputs; `load_trained` restores them into a prepared model."""

from __future__ import annotations

import json

import pytest
import torch
from baselines_testutil import tiny_bert, token_presence_batch
from safetensors.torch import load_file

from baselines import prepare_model


def _perturbed(method: str, params: dict | None = None):
    """A prepared tiny BERT whose trainable weights are moved away from their init (as training would)."""
    prepared = prepare_model(method, tiny_bert(), "seq_cls", params or {})
    torch.manual_seed(1)
    with torch.no_grad():
        for p in prepared.trainable_parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return prepared


def _logits(model, batch) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits


def _load_adamix(directory):
    from adamix import load_adamix_model

    return load_adamix_model(tiny_bert(), directory)


def _load_peft(directory):
    from peft import PeftModel

    return PeftModel.from_pretrained(tiny_bert(), directory)


def _load_adapterhub(directory):
    import adapters

    model = tiny_bert()
    adapters.init(model)
    name = model.load_adapter(str(directory))
    model.set_active_adapters(name)
    model.load_state_dict(load_file(str(directory / "head.safetensors")), strict=False)
    return model


def _load_trainable(directory):
    model = tiny_bert()
    missing = model.load_state_dict(load_file(str(directory / "trainable.safetensors")), strict=False)
    assert not missing.unexpected_keys
    return model


def _load_transformers(directory):
    from transformers import BertForSequenceClassification

    return BertForSequenceClassification.from_pretrained(directory)


@pytest.mark.parametrize(
    "method, params, fmt, loader",
    [
        ("adamix_adapter", {"num_experts": 2, "bottleneck": 4}, "adamix", _load_adamix),
        ("adamix_lora", {"num_experts": 2, "r": 2}, "adamix", _load_adamix),
        ("adamix_peft", {"tuner": "lora", "tuner_params": {"r": 2}, "num_experts": 2}, "adamix", _load_adamix),
        # VeRA's frozen projections are one tensor shared by every layer (safetensors refuses shared memory)
        ("adamix_peft", {"tuner": "vera", "tuner_params": {"r": 8}, "num_experts": 2}, "adamix", _load_adamix),
        ("lora", {"r": 2}, "peft", _load_peft),
        ("ia3", {}, "peft", _load_peft),
        ("pfeiffer", {"bottleneck": 4}, "adapterhub", _load_adapterhub),
        ("prefix_tuning", {"prefix_length": 3, "bottleneck_size": 8}, "adapterhub", _load_adapterhub),
        ("bitfit", {}, "safetensors (trainable parameters)", _load_trainable),
    ],
)
def test_saved_weights_load_back_with_the_library_alone(tmp_path, method, params, fmt, loader):
    prepared = _perturbed(method, params)
    batch = token_presence_batch(8)
    want = _logits(prepared.eval_model(), batch)
    saved = prepared.save_trained(tmp_path / "artifacts")
    assert saved["format"] == fmt and saved["files"]
    loaded = loader(tmp_path / "artifacts")
    torch.testing.assert_close(_logits(loaded, batch), want)
    # and back into a model prepared the same way (what `rescore` does)
    fresh = prepare_model(method, tiny_bert(), "seq_cls", params)
    assert not torch.allclose(_logits(fresh.eval_model(), batch), want)
    fresh.load_trained(tmp_path / "artifacts")
    torch.testing.assert_close(_logits(fresh.eval_model(), batch), want)


def test_adamix_saves_the_merged_plain_adapter(tmp_path):
    prepared = _perturbed("adamix_adapter", {"num_experts": 3, "bottleneck": 4})
    prepared.save_trained(tmp_path)
    merged_file = load_file(str(tmp_path / "merged_adapter.safetensors"))
    merged = prepared.model.merge(fold_lora=False)
    assert any(".down." in n for n in merged_file) and any(n.startswith("classifier.") for n in merged_file)
    state = merged.state_dict()
    for name, tensor in merged_file.items():
        torch.testing.assert_close(tensor, state[name])
    # the merged adapter alone, loaded into the merged structure, gives the AdaMix model's merged outputs
    plain = _load_adamix(tmp_path).merge(fold_lora=False)
    with torch.no_grad():
        for name, p in plain.named_parameters():
            if name in merged_file:
                p.zero_()
    plain.load_state_dict(merged_file, strict=False)
    batch = token_presence_batch(8)
    torch.testing.assert_close(_logits(plain, batch), _logits(prepared.eval_model(), batch))


@pytest.mark.parametrize("tuner, tuner_params", [("lora", {"r": 2}), ("vera", {"r": 8}), ("ia3", {})])
def test_adamix_peft_saves_the_merged_adapter_as_a_plain_peft_folder(tmp_path, tuner, tuner_params):
    params = {"tuner": tuner, "tuner_params": tuner_params, "num_experts": 3}
    prepared = _perturbed("adamix_peft", params)
    prepared.save_trained(tmp_path)
    merged = _load_peft(tmp_path / "merged_peft")  # peft alone, no adamix
    batch = token_presence_batch(8)
    torch.testing.assert_close(_logits(merged, batch), _logits(prepared.eval_model(), batch))


def test_full_fine_tuning_saves_weights_only_on_request(tmp_path):
    prepared = _perturbed("full_ft")
    assert prepared.save_trained(tmp_path / "off") is None
    saved = prepared.save_trained(tmp_path / "on", full_weights=True)
    assert saved["format"] == "transformers" and json.loads((tmp_path / "on" / "config.json").read_text())
    batch = token_presence_batch(8)
    torch.testing.assert_close(_logits(_load_transformers(tmp_path / "on"), batch), _logits(prepared.model, batch))
    fresh = prepare_model("full_ft", tiny_bert(seed=3), "seq_cls", {})
    fresh.load_trained(tmp_path / "on")
    torch.testing.assert_close(_logits(fresh.model, batch), _logits(prepared.model, batch))


def test_loading_into_another_method_is_a_named_error(tmp_path):
    _perturbed("bitfit").save_trained(tmp_path)
    with pytest.raises(FileNotFoundError, match="adamix_model.safetensors not found"):
        prepare_model("adamix_adapter", tiny_bert(), "seq_cls", {}).load_trained(tmp_path)
    _perturbed("adamix_adapter", {"bottleneck": 4}).save_trained(tmp_path / "b4")
    with pytest.raises(ValueError, match="do not fit this model"):
        prepare_model("adamix_adapter", tiny_bert(), "seq_cls", {"bottleneck": 8}).load_trained(tmp_path / "b4")
