"""Every registered method on tiny random models: it trains, it is active in the forward pass, and it
trains exactly the parameters it should."""

from __future__ import annotations

import logging
import math
import re

import baselines_testutil as U
import pytest
import torch

from baselines import get_method, list_methods, prepare_model

torch.set_num_threads(1)  # tiny models: threads only add overhead on the shared 2-core machines

# Tiny models have hidden 32: AdapterHub's default reduction factor 16 would give bottleneck 2.
TINY_PARAMS = {
    "houlsby": {"bottleneck": 8},
    "pfeiffer": {"bottleneck": 8},
    "unipelt": {"bottleneck": 8},
    "adamix_adapter": {"bottleneck": 8},
}
METHODS = list_methods()
CAUSAL_METHODS = [m for m in METHODS if "causal_lm" in get_method(m).task_types]


def test_every_builtin_method_has_a_trainable_pattern():
    assert set(METHODS) == set(U.TRAINABLE), "add the new method to baselines_testutil.TRAINABLE"


def _prepare(method: str, task_type: str):
    model = U.tiny_bert() if task_type == "seq_cls" else U.tiny_gpt2()
    return prepare_model(method, model, task_type, TINY_PARAMS.get(method, {}))


def _inputs(batch: dict) -> dict:
    return {k: v for k, v in batch.items() if k != "labels"}


@pytest.mark.parametrize("method", METHODS)
def test_seq_cls_loss_falls_and_method_params_learn(method, caplog):
    prepared = _prepare(method, "seq_cls")
    batch = U.token_presence_batch()
    before = {n: p.detach().clone() for n, p in prepared.method_parameters()}
    assert before, f"{method}: no trainable parameters besides the head"
    torch.manual_seed(0)
    with caplog.at_level(logging.WARNING):
        losses = U.train(prepared, batch, U.cls_loss, steps=40, lr=1e-2)
    assert not [r for r in caplog.records if "none are activated" in r.getMessage()], "adapter not active"
    assert all(math.isfinite(x) for x in losses)
    assert min(losses[-5:]) < 0.85 * losses[0], f"{method}: loss did not fall: {losses[0]:.3f} -> {losses[-5:]}"
    changed = [n for n, p in prepared.method_parameters() if not torch.equal(p.detach(), before[n])]
    assert changed, f"{method}: training changed none of the method's (non-head) parameters"


@pytest.mark.parametrize("method", CAUSAL_METHODS)
def test_causal_lm_loss_falls(method):
    prepared = _prepare(method, "causal_lm")
    torch.manual_seed(0)
    losses = U.train(prepared, U.repetitive_lm_batch(), U.lm_loss, steps=40, lr=1e-2)
    assert all(math.isfinite(x) for x in losses)
    assert min(losses[-5:]) < min(0.85 * losses[0], math.log(U.VOCAB)), f"{method}: {losses[0]:.3f} -> {losses[-5:]}"
    assert prepared.param_counts()["head"] == 0


@pytest.mark.parametrize("task_type", ["seq_cls", "causal_lm"])
@pytest.mark.parametrize("method", METHODS)
def test_method_is_active_in_forward_pass(method, task_type):
    """Perturbing only the method's own (non-head) parameters must change the output in eval mode."""
    if task_type not in get_method(method).task_types:
        pytest.skip(f"{method} does not support {task_type}")
    prepared = _prepare(method, task_type)
    batch = U.token_presence_batch(n=4) if task_type == "seq_cls" else U.repetitive_lm_batch(n=2)
    with torch.no_grad():
        reference = prepared.eval_model()(**_inputs(batch)).logits.clone()
        again = prepared.eval_model()(**_inputs(batch)).logits
        assert torch.allclose(reference, again), "eval forward must be deterministic"
        torch.manual_seed(1)
        for _, p in prepared.method_parameters():
            p.add_(torch.randn_like(p) * 0.5)
        perturbed = prepared.eval_model()(**_inputs(batch)).logits
    assert not torch.allclose(reference, perturbed, atol=1e-5), f"{method} parameters do not reach the output"


@pytest.mark.parametrize("task_type", ["seq_cls", "causal_lm"])
@pytest.mark.parametrize("method", METHODS)
def test_only_expected_parameters_train(method, task_type):
    if task_type not in get_method(method).task_types:
        pytest.skip(f"{method} does not support {task_type}")
    prepared = _prepare(method, task_type)
    patterns = [re.compile(p) for p in U.TRAINABLE[method]]
    trainable = [n for n, _ in prepared.named_trainable_parameters()]
    unexpected = [n for n in trainable if not any(p.match(n) for p in patterns)]
    assert not unexpected, f"{method}: unexpected trainable parameters {unexpected[:5]}"
    frozen = [n for n, p in prepared.model.named_parameters() if not p.requires_grad]
    counts = prepared.param_counts()
    if method == "full_ft":
        assert not frozen
    else:
        assert frozen and counts["inference"] < counts["backbone"]
    assert counts["trainable"] == sum(p.numel() for p in prepared.trainable_parameters())
    if task_type == "seq_cls":  # the classification head always trains
        head = sum(p.numel() for n, p in U.tiny_bert().named_parameters() if n.startswith("classifier."))
        assert counts["head"] == head == 32 * 2 + 2
        assert counts["backbone"] == sum(p.numel() for p in U.tiny_bert().parameters()) - head
    else:  # the tied LM head / output embedding stays frozen for PEFT methods
        lm_head = prepared.model.get_output_embeddings().weight
        assert lm_head.requires_grad == (method == "full_ft")
        assert counts["head"] == 0
        assert counts["backbone"] == sum(p.numel() for p in U.tiny_gpt2().parameters())


def test_bitfit_trains_biases_and_head_only():
    prepared = _prepare("bitfit", "seq_cls")
    names = {n for n, _ in prepared.named_trainable_parameters()}
    model = U.tiny_bert()
    biases = {n for n, _ in model.named_parameters() if n.endswith(".bias") and not n.startswith("classifier.")}
    assert names == biases | {"classifier.weight", "classifier.bias"}
    assert prepared.param_counts()["inference"] == sum(p.numel() for n, p in model.named_parameters() if n in biases)
    no_ln = prepare_model("bitfit", U.tiny_bert(), "seq_cls", {"layernorm_bias": False})
    assert not [n for n, _ in no_ln.named_trainable_parameters() if "LayerNorm" in n]


def test_lora_targets_and_fan_in_fan_out():
    bert = _prepare("lora", "seq_cls")
    assert bert.describe()["params"]["target_modules"] == ["query", "value"]
    gpt2 = _prepare("lora", "causal_lm")
    assert gpt2.describe()["params"]["target_modules"] == ["c_attn"]
    assert gpt2.model.peft_config["default"].fan_in_fan_out is True
    # 2 layers x r=8 x (32 + 96) for the fused c_attn of the tiny GPT-2
    assert gpt2.param_counts()["inference"] == 2 * 8 * (32 + 96)


def test_lora_update_is_scaled_by_alpha_over_r():
    """The `lora` baseline's alpha reaches peft: the paper's GLUE setting r=8, alpha=16 scales the update by
    2, the NLG preset r=4, alpha=32 by 8 (alpha = r would scale both by 1)."""
    for params, scaling in (({}, 2.0), ({"preset": "nlg_0.35M"}, 8.0)):
        prepared = prepare_model("lora", U.tiny_bert(), "seq_cls", params)
        modules = prepared.model.modules()
        scalings = {m.scaling["default"] for m in modules if isinstance(getattr(m, "scaling", None), dict)}
        assert scalings == {scaling}, params


def test_adapter_bottleneck_and_reduction_factor():
    a = prepare_model("pfeiffer", U.tiny_bert(), "seq_cls", {"bottleneck": 3})
    assert a.param_counts()["inference"] == 2 * (2 * 32 * 3 + 3 + 32)  # 32 / (32/3) float rounding handled
    b = prepare_model("pfeiffer", U.tiny_bert(), "seq_cls", {"reduction_factor": 4})
    assert b.param_counts()["inference"] == 2 * (2 * 32 * 8 + 8 + 32)
    with pytest.raises(ValueError, match="not both"):
        prepare_model("pfeiffer", U.tiny_bert(), "seq_cls", {"bottleneck": 8, "reduction_factor": 4})
    with pytest.raises(ValueError, match="parameter 'bottleneck'=0 is invalid; allowed: an integer >= 1"):
        prepare_model("houlsby", U.tiny_bert(), "seq_cls", {"bottleneck": 0})
    with pytest.raises(ValueError, match=r"bottleneck must be an integer in \[1, 32\], got 33"):  # needs the model
        prepare_model("houlsby", U.tiny_bert(), "seq_cls", {"bottleneck": 33})


def test_prefix_inference_count_is_the_prefix_not_the_mlp():
    prepared = _prepare("prefix_tuning", "seq_cls")
    counts = prepared.param_counts()
    assert counts["inference"] == 10 * 2 * 2 * 32  # prefix_length x layers x (k, v) x hidden
    assert counts["trainable"] > 10 * counts["inference"]  # the reparametrisation MLP trains too
    flat = prepare_model("prefix_tuning", U.tiny_bert(), "seq_cls", {"reparametrize": False})
    assert flat.param_counts()["inference"] == flat.param_counts()["trainable"] - flat.param_counts()["head"] == 1280


def test_unipelt_variants():
    ap = prepare_model("unipelt", U.tiny_bert(), "seq_cls", {"preset": "table2_AP_1.1M", "bottleneck": 8})
    apl = prepare_model("unipelt", U.tiny_bert(), "seq_cls", {"preset": "table2_APL_1.4M", "bottleneck": 8})
    assert not [n for n, _ in ap.named_trainable_parameters() if ".loras." in n]
    lora_part = 2 * 2 * 8 * (32 + 32) + 2 * 2 * (32 + 1)  # q, v LoRA r=8 + their gates
    assert apl.param_counts()["inference"] - ap.param_counts()["inference"] == lora_part
    with pytest.raises(ValueError, match="variant"):
        prepare_model("unipelt", U.tiny_bert(), "seq_cls", {"variant": "ALP"})


def test_adamix_uses_consistency_step_and_eval_mode():
    assert _prepare("adamix_adapter", "seq_cls").describe()["params"]["consistency_weight"] == 1.0  # GLUE default
    # a weight != 1, so that a weight applied twice (or not at all) changes the loss; experts initialised
    # far apart (init_std 0.5), so that the two routed passes clearly disagree
    prepared = prepare_model(
        "adamix_adapter", U.tiny_bert(), "seq_cls", {"bottleneck": 8, "consistency_weight": 3.0, "init_std": 0.5}
    )
    assert prepared.describe()["params"]["num_experts"] == 4
    assert prepared.describe()["params"]["consistency_weight"] == 3.0
    batch = U.token_presence_batch(n=4)
    prepared.model.train()
    loss, step = prepared.training_loss(batch, U.cls_loss)
    assert step.consistency > 1e-3
    torch.testing.assert_close(loss, step.task_loss + 3.0 * step.consistency)
    torch.testing.assert_close(step.task_loss, U.cls_loss(step.logits, batch))  # task loss of the returned pass
    assert step.logits.shape == (4, 2)
    model = prepared.eval_model()
    assert not model.training
    counts = prepared.param_counts()
    assert counts == {k: getattr(model.count_parameters(), k) for k in counts}
    # bottleneck 8, 2 layers, one merged adapter per layer: inference; 4 Down experts + 1 shared Up: training
    assert counts["inference"] == 2 * (2 * 32 * 8 + 8 + 32)
    assert counts["trainable"] - counts["head"] == 2 * (4 * (32 * 8 + 8) + (8 * 32 + 32))


def test_adamix_per_backbone_defaults():
    nlg = prepare_model("adamix_lora", U.tiny_gpt2(), "causal_lm", {})
    assert {k: nlg.params[k] for k in ("r", "lora_alpha", "num_experts", "consistency_weight")} == {
        "r": 4,
        "lora_alpha": 32.0,
        "num_experts": 8,
        "consistency_weight": 100.0,
    }
    glue = prepare_model("adamix_lora", U.tiny_bert(), "seq_cls", {})
    assert {k: glue.params[k] for k in ("r", "lora_alpha", "num_experts")} == {
        "r": 8,
        "lora_alpha": 16.0,
        "num_experts": 4,
    }
    adapter = prepare_model("adamix_adapter", U.tiny_bert(), "seq_cls", {})
    assert adapter.params["bottleneck"] == 48  # BERT-base's paper value
    passthrough = prepare_model("adamix_adapter", U.tiny_bert(), "seq_cls", {"bottleneck": 8, "inference": "fixed:0"})
    assert passthrough.model.config.inference == "fixed:0"


@pytest.mark.parametrize("method", ["lora", "adamix_adapter"])
def test_consistency_mask_in_batch_is_not_fed_to_the_model(method):
    """The engine adds batch["consistency_mask"] for NLG; only AdaMix uses it (as its `mask`)."""
    prepared = _prepare(method, "causal_lm")
    batch = U.repetitive_lm_batch(n=2)
    batch["consistency_mask"] = torch.zeros_like(batch["input_ids"], dtype=torch.bool)
    prepared.model.train()
    loss, outputs = prepared.training_loss(batch, U.lm_loss)
    assert torch.isfinite(loss) and outputs.logits.shape == (2, 24, U.VOCAB)
    if method == "adamix_adapter":  # experts differ at init (LoRA experts start equal);
        # an all-False mask leaves no position to compare: consistency term 0
        assert float(outputs.consistency.detach()) == 0.0
        batch["consistency_mask"][:, 5:] = True
        loss, outputs = prepared.training_loss(batch, U.lm_loss)
        assert float(outputs.consistency.detach()) > 0.0


@pytest.mark.parametrize(
    "method, params",
    [
        ("dora", {"r": 16, "lora_alpha": 8}),
        ("adamix_peft", {"tuner": "dora", "tuner_params": {"r": 16, "lora_alpha": 8}, "num_experts": 2}),
    ],
)
def test_tuner_params_win_over_the_tuner_tables_defaults(method, params):
    """DoRA's table defaults are r=8, alpha=16: the user's r=16, alpha=8 are what gets built (rank-16 A
    matrices, scaling 8 / 16) and recorded, for the plain tuner and for the experts of AdaMix(DoRA)."""
    prepared = prepare_model(method, U.tiny_bert(), "seq_cls", params)
    config = next(_peft_configs(prepared.model))
    assert (config.r, config.lora_alpha, config.use_dora) == (16, 8, True)
    ranks = {p.shape[0] for n, p in prepared.model.named_parameters() if re.search(r"\.lora_A\.[^.]+\.weight$", n)}
    assert ranks == {16}
    recorded = prepared.describe()["params"]
    tuner = recorded["tuner_params"] if method == "adamix_peft" else recorded
    assert (tuner["r"], tuner["lora_alpha"]) == (16, 8)


def _peft_configs(model):
    """The peft configs of a (possibly AdaMix-wrapped) peft model."""
    for module in model.modules():
        yield from (getattr(module, "peft_config", None) or {}).values()


def test_adamix_peft_share_takes_a_list_of_fragments():
    """A suite can route only some of a tuner's fragments: `share: [hada_w1_a, hada_w1_b]` keeps LoHa's first
    Hadamard factor one tensor per layer (expert 0's) and routes the second; a bad entry names the fragments."""
    params = {"tuner": "loha", "tuner_params": {"r": 2}, "num_experts": 2, "share": ["hada_w1_a", "hada_w1_b"]}
    prepared = prepare_model("adamix_peft", U.tiny_bert(), "seq_cls", params)
    trained = {n for n, p in prepared.model.named_parameters() if p.requires_grad}
    assert any(".hada_w1_a.expert_0" in n for n in trained)
    assert not any(".hada_w1_a.expert_1" in n for n in trained)
    assert any(".hada_w2_a.expert_1" in n for n in trained)
    assert prepared.describe()["params"]["share"] == ["hada_w1_a", "hada_w1_b"]
    with pytest.raises(ValueError, match="not .*parameter fragments here"):
        prepare_model("adamix_peft", U.tiny_bert(), "seq_cls", {**params, "share": ["hada_w9"]})
    with pytest.raises(ValueError, match="share"):
        prepare_model("adamix_peft", U.tiny_bert(), "seq_cls", {**params, "share": "sideways"})
