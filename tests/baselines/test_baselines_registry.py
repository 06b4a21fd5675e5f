"""The registry: names, external 'module:callable' methods, parameter validation, error messages."""

from __future__ import annotations

from pathlib import Path

import baselines_testutil as U
import pytest
import torch

from baselines import MethodSpec, PreparedModel, get_method, list_methods, prepare_model, register_method
from baselines.registry import _REGISTRY

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

#: the built-in methods: one list, `baselines_testutil.TRAINABLE` (each with the parameters it trains)
EXPECTED = set(U.TRAINABLE)


def test_builtin_methods_are_registered():
    assert set(list_methods()) == EXPECTED
    for name in EXPECTED:
        spec = get_method(name)
        assert spec.name == name and spec.description and spec.reference


def test_unknown_method_lists_known_ones_and_the_external_form():
    with pytest.raises(ValueError) as err:
        get_method("lorra")
    message = str(err.value)
    assert "'lorra'" in message and "lora" in message and "houlsby" in message
    assert "module:callable" in message


@pytest.mark.parametrize(
    "ref,why",
    [
        ("no_such_module_xyz:prepare", "cannot import module"),
        ("baselines.registry:no_such_function", "has no attribute"),
        ("baselines.registry:PRESET_KEY", "neither a MethodSpec nor callable"),
        ("missing/dir/file.py:prepare", "does not exist"),
    ],
)
def test_bad_external_references(ref, why):
    with pytest.raises(ValueError, match=why):
        get_method(ref)


def test_unknown_param_names_the_key_and_the_allowed_ones():
    with pytest.raises(ValueError) as err:
        prepare_model("lora", U.tiny_bert(), "seq_cls", {"rank": 8})
    message = str(err.value)
    assert "'rank'" in message and "'r'" in message and "'alpha'" in message and "lora" in message


def test_adamix_accepts_every_adamix_config_field_and_rejects_others():
    with pytest.raises(ValueError, match="'num_expert'.*allowed.*num_experts"):
        prepare_model("adamix_adapter", U.tiny_bert(), "seq_cls", {"num_expert": 4})
    ok = prepare_model("adamix_adapter", U.tiny_bert(), "seq_cls", {"bottleneck": 4, "routing_seed": 3})
    assert ok.describe()["params"]["routing_seed"] == 3


def test_presets_resolve_and_explicit_params_override():
    spec = get_method("houlsby")
    assert spec.resolve_params({"preset": "table1_0.8M"})["bottleneck"] == 8
    assert spec.resolve_params({"preset": "table1_0.8M", "bottleneck": 12})["bottleneck"] == 12
    with pytest.raises(ValueError, match="no preset 'table9'.*table1_0.8M"):
        spec.resolve_params({"preset": "table9"})
    prepared = prepare_model("houlsby", U.tiny_bert(), "seq_cls", {"preset": "table1_0.8M"})
    assert prepared.describe() == {
        "method": "houlsby",
        "task_type": "seq_cls",
        "params": {"bottleneck": 8, "reduction_factor": 4.0, "non_linearity": "swish", "preset": "table1_0.8M"},
    }


def test_adamix_inference_modes_name_every_expert():
    """--inference / --eval-inference-modes accept fixed:k for every expert k of the run's num_experts (the
    per-task-type default or the given one), and no other k."""
    cases = [
        ("adamix_adapter", {}, "seq_cls", ["fixed:0", "fixed:1", "fixed:2", "fixed:3"]),
        ("adamix_lora", {"num_experts": 2}, "causal_lm", ["fixed:0", "fixed:1"]),
        ("adamix_peft", {"num_experts": 3}, "seq_cls", ["fixed:0", "fixed:1", "fixed:2"]),
    ]
    for method, params, task_type, fixed in cases:
        spec = get_method(method)
        modes = list(spec.inference_modes(spec.check(params, task_type), task_type))
        assert modes == ["merge", "random_sequence", "random_token", "ensemble", *fixed], method


def test_bad_task_type():
    with pytest.raises(ValueError, match="unknown task_type 'seq2seq'"):
        prepare_model("lora", U.tiny_bert(), "seq2seq")
    with pytest.raises(ValueError, match="no classification head"):
        prepare_model("lora", U.tiny_gpt2(), "seq_cls")


def _check_external(prepared: PreparedModel):
    names = {n for n, _ in prepared.named_trainable_parameters()}
    assert names == {
        "bert.encoder.layer.1.output.dense.weight",
        "bert.encoder.layer.1.output.dense.bias",
        "classifier.weight",
        "classifier.bias",
    }
    counts = prepared.param_counts()
    assert counts["inference"] == 64 * 32 + 32 and counts["head"] == 66
    assert counts["backbone"] == sum(p.numel() for p in U.tiny_bert().parameters()) - 66
    torch.manual_seed(0)
    losses = U.train(prepared, U.token_presence_batch(), U.cls_loss, steps=15, lr=1e-2)
    assert losses[-1] < losses[0]


def test_external_method_by_dotted_module_path(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO))  # makes `tests.baselines.external_method` importable
    spec = get_method("tests.baselines.external_method:prepare")
    assert spec.defaults == {"layers": 1} and not spec.accept_any
    prepared = prepare_model("tests.baselines.external_method:prepare", U.tiny_bert(), "seq_cls")
    assert prepared.method == "tests.baselines.external_method:prepare"
    _check_external(prepared)
    with pytest.raises(ValueError, match="'depth'.*allowed.*'layers'"):
        prepare_model("tests.baselines.external_method:prepare", U.tiny_bert(), "seq_cls", {"depth": 2})


def test_external_method_by_module_on_sys_path_and_by_file(monkeypatch):
    monkeypatch.syspath_prepend(str(HERE))
    _check_external(prepare_model("external_method:prepare", U.tiny_bert(), "seq_cls", {"layers": 1}))
    _check_external(prepare_model(f"{HERE / 'external_method.py'}:prepare", U.tiny_bert(), "seq_cls"))


def test_external_function_returning_a_bare_module_is_wrapped(monkeypatch):
    monkeypatch.syspath_prepend(str(HERE))
    prepared = prepare_model("external_method:prepare_module", U.tiny_bert(), "seq_cls", {"anything": 1})
    assert isinstance(prepared, PreparedModel)
    assert prepared.param_counts() == {"trainable": 66, "inference": 0, "backbone": 23520, "head": 66}


def test_register_method_decorator_and_duplicates():
    @register_method("test_head_only", defaults={"scale": 1.0}, task_types=["seq_cls"])
    def head_only(model, task_type, params):
        """Head only."""
        for name, p in model.named_parameters():
            p.requires_grad_(name.startswith("classifier."))
        return model

    try:
        spec = get_method("test_head_only")
        assert isinstance(spec, MethodSpec) and spec.description == "Head only."
        prepared = prepare_model("test_head_only", U.tiny_bert(), "seq_cls", {"scale": 2.0})
        assert prepared.describe()["params"] == {"scale": 2.0}
        with pytest.raises(ValueError, match="does not support task_type 'causal_lm'"):
            prepare_model("test_head_only", U.tiny_gpt2(), "causal_lm")
        with pytest.raises(ValueError, match="already registered"):
            register_method("test_head_only", head_only)
    finally:
        _REGISTRY.pop("test_head_only", None)


def test_routing_is_part_of_the_prepared_model_interface():
    """The engine never asks what kind of method it holds: every PreparedModel answers inference_mode,
    and set_inference either switches the routing (AdaMix) or says the method has none."""
    adamix = prepare_model("adamix_adapter", U.tiny_bert(), "seq_cls", {"bottleneck": 4, "num_experts": 2})
    assert adamix.inference_mode == "merge"
    adamix.set_inference("fixed:1")
    assert adamix.inference_mode == "fixed:1" and adamix.model.config.inference == "fixed:1"
    with pytest.raises(ValueError, match="fixed:5"):
        adamix.set_inference("fixed:5")
    lora = prepare_model("lora", U.tiny_bert(), "seq_cls", {"r": 2})
    assert lora.inference_mode is None
    with pytest.raises(ValueError, match="has no inference routing"):
        lora.set_inference("merge")
