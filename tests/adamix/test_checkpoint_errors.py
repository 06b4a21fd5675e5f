"""AdaMixModel.from_pretrained checks everything before it touches the caller's model: corrupt or incomplete
files and non-finite weights are named CheckpointErrors, and a failed load leaves the model as it was (a
retry into the right backbone then works)."""

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from adamix import AdaMixConfig, AdaMixModel, CheckpointError, get_adamix_model
from adamix.model import CONFIG_FILE, WEIGHTS_FILE

from .models import tiny_bert


@pytest.fixture
def checkpoint(tmp_path):
    get_adamix_model(tiny_bert(), AdaMixConfig(num_experts=2, bottleneck=4)).save_pretrained(tmp_path)
    return tmp_path


def _state(model):
    return {n: p.detach().clone() for n, p in model.state_dict().items()}


def _corrupt_json(path):
    (path / CONFIG_FILE).write_text('{"format_version": 1, "config": {')


def _incomplete_json(path):
    meta = json.loads((path / CONFIG_FILE).read_text())
    del meta["base_model"]
    (path / CONFIG_FILE).write_text(json.dumps(meta))


def _bad_config_field(path):
    meta = json.loads((path / CONFIG_FILE).read_text())
    meta["config"]["num_experts"] = 0
    (path / CONFIG_FILE).write_text(json.dumps(meta))


def _truncated_safetensors(path):
    data = (path / WEIGHTS_FILE).read_bytes()
    (path / WEIGHTS_FILE).write_bytes(data[: len(data) // 2])


def _garbage_safetensors(path):
    (path / WEIGHTS_FILE).write_bytes(b"not a safetensors file at all")


def _nan_weights(path):
    tensors = load_file(str(path / WEIGHTS_FILE))
    name = sorted(tensors)[0]
    tensors[name][0] = float("nan")
    save_file(tensors, str(path / WEIGHTS_FILE))


def _dropped_tensor(path):
    tensors = load_file(str(path / WEIGHTS_FILE))
    tensors.pop(sorted(tensors)[0])
    save_file(tensors, str(path / WEIGHTS_FILE))


@pytest.mark.parametrize(
    "damage, message",
    [
        (_corrupt_json, f"{CONFIG_FILE}: not valid JSON"),
        (_incomplete_json, f"{CONFIG_FILE}: incomplete, missing ['base_model']"),
        (_bad_config_field, "invalid `config`: AdaMixConfig.num_experts=0"),
        (_truncated_safetensors, f"{WEIGHTS_FILE}: cannot read it as safetensors"),
        (_garbage_safetensors, f"{WEIGHTS_FILE}: cannot read it as safetensors"),
        (_nan_weights, "non-finite weights (NaN or inf) in 1 tensor(s)"),
        (_dropped_tensor, "does not hold the weights adamix_config.json lists (missing: ["),
    ],
    ids=lambda v: getattr(v, "__name__", "")[1:] if callable(v) else None,
)
def test_damaged_checkpoint_is_a_named_error_and_leaves_the_model_untouched(checkpoint, damage, message):
    damage(checkpoint)
    model = tiny_bert()
    before = _state(model)
    with pytest.raises(CheckpointError) as error:
        AdaMixModel.from_pretrained(model, checkpoint)
    assert message in str(error.value) and str(checkpoint) in str(error.value)
    after = _state(model)
    assert after.keys() == before.keys() and all(torch.equal(after[k], before[k]) for k in before)


def test_failed_load_into_the_wrong_backbone_leaves_it_reusable(checkpoint):
    wrong = tiny_bert(num_labels=5)  # the classifier does not fit: found only after injection on the copy
    names = [n for n, _ in wrong.named_modules()]
    trainable = {n for n, p in wrong.named_parameters() if p.requires_grad}
    with pytest.raises(ValueError, match="shape mismatches.*classifier"):
        AdaMixModel.from_pretrained(wrong, checkpoint)
    assert [n for n, _ in wrong.named_modules()] == names  # no mixture injected
    assert {n for n, p in wrong.named_parameters() if p.requires_grad} == trainable  # nothing frozen
    right = tiny_bert()
    loaded = AdaMixModel.from_pretrained(right, checkpoint)
    assert isinstance(loaded, AdaMixModel)
    # the model that failed is still a plain model: AdaMix can be injected into it (no "already contains")
    get_adamix_model(wrong, AdaMixConfig(num_experts=2, bottleneck=4))
