"""AdaMix over peft tuners (adapter_type="peft"): equivalence with plain peft, merging, routing, training, I/O."""

import copy
import subprocess
import sys
import textwrap

import pytest
import torch
from scipy import stats

peft = pytest.importorskip("peft")
from peft import (  # noqa: E402
    IA3Config,
    LoHaConfig,
    LoKrConfig,
    LoraConfig,
    PrefixTuningConfig,
    VBLoRAConfig,
    VeraConfig,
    get_peft_model,
    get_peft_model_state_dict,
    set_peft_model_state_dict,
)

from adamix import AdaMixConfig, AdaMixModel, average_peft_adapters, get_adamix_model, load_adamix_model  # noqa: E402
from adamix.peft_mixture import MERGED_ADAPTER  # noqa: E402
from adamix.routing import draw_training_routes  # noqa: E402

from .models import tiny_bert, tiny_llama, token_batch  # noqa: E402

BACKBONES = {  # builder, attention targets, feed-forward target
    "bert": (tiny_bert, ["query", "value"], "output.dense"),
    "llama": (tiny_llama, ["q_proj", "v_proj"], "down_proj"),
}
TUNERS = {
    "lora": lambda t, ff: LoraConfig(r=2, lora_alpha=4, lora_dropout=0.0, target_modules=t),
    "dora": lambda t, ff: LoraConfig(r=2, lora_alpha=4, lora_dropout=0.0, target_modules=t, use_dora=True),
    "rslora": lambda t, ff: LoraConfig(r=2, lora_alpha=4, lora_dropout=0.0, target_modules=t, use_rslora=True),
    "vera": lambda t, ff: VeraConfig(r=4, target_modules=t),
    "ia3": lambda t, ff: IA3Config(target_modules=t + [ff], feedforward_modules=[ff]),
    "loha": lambda t, ff: LoHaConfig(r=2, alpha=4, target_modules=t),
    "lokr": lambda t, ff: LoKrConfig(r=2, alpha=4, target_modules=t),
}
CASES = [(tuner, backbone) for tuner in TUNERS for backbone in BACKBONES]
# The cheaper tests take each tuner once, alternating the backbone.
ONE_PER_TUNER = [(tuner, list(BACKBONES)[i % 2]) for i, tuner in enumerate(TUNERS)]


def build(tuner, backbone, **options):
    make, targets, ff = BACKBONES[backbone]
    options.setdefault("routing_seed", 0)
    return get_adamix_model(
        make(), AdaMixConfig(adapter_type="peft", peft_config=TUNERS[tuner](targets, ff), **options)
    )


def plain(tuner, backbone):
    """The plain peft model of the same tuner on a fresh copy of the same backbone."""
    make, targets, ff = BACKBONES[backbone]
    return get_peft_model(make(), TUNERS[tuner](targets, ff))


@torch.no_grad()
def perturb(model, scale=0.3, seed=0):
    """Distinct random expert weights (peft zero-inits parts of most tuners, which would hide routing)."""
    g = torch.Generator().manual_seed(seed)
    for layer in model.mixture_layers().values():
        for p in layer.all_expert_parameters():
            p.add_(torch.randn(p.shape, generator=g) * scale)


def loss_of(logits):
    g = torch.Generator().manual_seed(5)
    return (logits * torch.randn(logits.shape, generator=g)).sum()


def expert_state(model, index):
    return get_peft_model_state_dict(model.base_model, adapter_name=f"expert_{index}")


def adapter_grads(peft_model, adapter):
    """Gradients of one adapter's weights, keyed by name without the adapter segment."""
    return {
        ".".join(s for s in n.split(".") if s != adapter): p.grad.clone()
        for n, p in peft_model.named_parameters()
        if adapter in n.split(".") and p.grad is not None
    }


@pytest.mark.parametrize("tuner, backbone", CASES)
def test_one_expert_equals_the_plain_peft_tuner(tuner, backbone):
    mix = build(tuner, backbone, num_experts=1, consistency_weight=0)
    perturb(mix)
    reference = plain(tuner, backbone)
    set_peft_model_state_dict(reference, expert_state(mix, 0))
    batch = token_batch()
    for mode in ("train", "eval"):
        getattr(mix, mode)(), getattr(reference, mode)()
        out, expected = mix(**batch).logits, reference(**batch).logits
        torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)
    assert (out - BACKBONES[backbone][0]()(**batch).logits).abs().max() > 1e-4  # the adapter does something
    mix.train(), reference.train()
    loss_of(mix(**batch).logits).backward()
    loss_of(reference(**batch).logits).backward()
    got, want = adapter_grads(mix.base_model, "expert_0"), adapter_grads(reference, "default")
    assert got and got.keys() == want.keys()
    for name in got:
        torch.testing.assert_close(got[name], want[name], rtol=1e-4, atol=1e-6, msg=name)


@pytest.mark.parametrize("tuner, backbone", CASES)
def test_merged_evaluation_equals_a_plain_peft_model_with_averaged_weights_and_merge(tuner, backbone):
    mix = build(tuner, backbone, num_experts=3).eval()
    perturb(mix)
    states = [expert_state(mix, i) for i in range(3)]
    averaged = {k: torch.stack([s[k] for s in states]).mean(0) for k in states[0]}
    reference = plain(tuner, backbone).eval()
    set_peft_model_state_dict(reference, averaged)
    batch = token_batch()
    out = mix(**batch).logits
    torch.testing.assert_close(out, reference(**batch).logits, rtol=1e-5, atol=1e-6)
    merged = mix.merge()
    assert isinstance(merged, peft.PeftModel) and merged.peft_config["default"].peft_type == reference.peft_type
    torch.testing.assert_close(merged(**batch).logits, out, rtol=1e-5, atol=1e-6)
    folded = mix.merge(fold_lora=True)  # the average folded into the backbone weights (peft merge_and_unload)
    assert not isinstance(folded, peft.PeftModel)
    torch.testing.assert_close(folded(**batch).logits, out, rtol=1e-4, atol=1e-5)
    mix.set_inference("fixed:1")
    assert (mix(**batch).logits - out).abs().max() > 1e-6  # the experts really differ from their average


def test_merged_adapter_is_cached_and_refreshed_after_an_update(monkeypatch):
    mix = build("dora", "bert", num_experts=3).eval()
    perturb(mix)
    batch = token_batch()
    first = mix(**batch).logits
    import adamix.peft_mixture as module

    calls = {"n": 0}
    original = module.uniform_average
    monkeypatch.setattr(module, "uniform_average", lambda t: (calls.__setitem__("n", calls["n"] + 1), original(t))[1])
    with torch.no_grad():
        assert torch.equal(mix(**batch).logits, first)
    assert calls["n"] == 0  # no averaging while the experts are unchanged
    mix.train()
    optimizer = torch.optim.SGD([p for p in mix.parameters() if p.requires_grad], lr=0.5)
    mix.consistency_step(
        {**batch, "labels": torch.tensor([0, 1, 2, 0])},
        lambda logits, b: torch.nn.functional.cross_entropy(logits, b["labels"]),
    ).loss.backward()
    optimizer.step()
    mix.eval()
    after = mix(**batch).logits
    assert calls["n"] > 0 and not torch.equal(after, first)
    torch.testing.assert_close(after, mix.merge()(**batch).logits, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("tuner, backbone", ONE_PER_TUNER)
def test_a_route_computes_with_the_drawn_expert_of_each_fragment(tuner, backbone):
    mix = build(tuner, backbone, num_experts=3, share="none").train()
    perturb(mix)
    layers = list(mix.mixture_layers().values())
    fragments = layers[0].route_names
    assert len(fragments) >= 1
    assignment = {f: (i + 1) % 3 for i, f in enumerate(fragments)}  # fragments of one layer from different experts
    for layer in layers:
        layer.train_routes = {f: (e,) for f, e in assignment.items()}
    batch = token_batch()
    out = mix.base_model(**batch).logits
    states = [expert_state(mix, i) for i in range(3)]

    def expert_of(key):  # weights outside the routed fragments (e.g. VeRA's projections) are expert 0's
        return next((e for f, e in assignment.items() if f in key.split(".")), 0)

    composite = {k: states[expert_of(k)][k] for k in states[0]}
    reference = plain(tuner, backbone).train()
    set_peft_model_state_dict(reference, composite)
    torch.testing.assert_close(out, reference(**batch).logits, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("tuner", ["loha", "lora"])
def test_training_routes_are_uniform_and_independent(tuner):
    mix = build(tuner, "bert", num_experts=4, share="none", routing_seed=3)
    layers = list(mix.mixture_layers().values())
    slots = [(i, f) for i, layer in enumerate(layers) for f in layer.route_names]
    draws = torch.tensor(
        [
            [step[i][f][0] for i, f in slots]
            for step in (draw_training_routes(mix.router, layers, 1) for _ in range(3000))
        ]
    )
    assert draws.shape[1] == len(slots) >= 8  # 4 layers x >= 2 routed fragments
    for column in draws.T:
        assert stats.chisquare(torch.bincount(column, minlength=4).numpy()).pvalue > 1e-3
    for a, b in [(0, 1), (0, len(layers[0].route_names)), (1, len(slots) - 1)]:  # within a layer, across layers
        table = torch.zeros(4, 4)
        for x, y in zip(draws[:, a], draws[:, b]):
            table[x, y] += 1
        assert stats.chi2_contingency(table.numpy()).pvalue > 1e-3


@pytest.mark.parametrize("tuner, backbone", ONE_PER_TUNER)
def test_fused_consistency_step_equals_two_sequential_passes(tuner, backbone):
    batch = token_batch()
    batch["labels"] = batch["input_ids"]

    def lm_like_loss(logits, b):
        return loss_of(logits) / logits.numel()

    results = []
    for fused in (True, False):
        mix = build(tuner, backbone, num_experts=3, routing_seed=7).train()
        perturb(mix)
        step = mix.consistency_step(batch, lm_like_loss, fused=fused)
        step.loss.backward()
        results.append((step, {n: p.grad.clone() for n, p in mix.named_parameters() if p.grad is not None}))
    (fused_step, fused_grads), (seq_step, seq_grads) = results
    assert fused_step.consistency > 0
    torch.testing.assert_close(fused_step.loss, seq_step.loss, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(fused_step.consistency, seq_step.consistency, rtol=1e-4, atol=1e-7)
    assert fused_grads.keys() == seq_grads.keys()
    for name in fused_grads:
        torch.testing.assert_close(fused_grads[name], seq_grads[name], rtol=1e-4, atol=1e-6, msg=name)


@pytest.mark.parametrize("tuner, backbone", ONE_PER_TUNER)
def test_only_experts_and_head_get_gradients_and_counts(tuner, backbone):
    mix = build(tuner, backbone, num_experts=3).train()
    perturb(mix)
    batch = {**token_batch(), "labels": torch.tensor([0, 1, 2, 0])}
    loss = (
        (lambda logits, b: torch.nn.functional.cross_entropy(logits, b["labels"]))
        if backbone == "bert"
        else (lambda logits, b: loss_of(logits))
    )
    mix.consistency_step(batch, loss).loss.backward()
    experts = {id(p) for layer in mix.mixture_layers().values() for p in layer.all_expert_parameters()}
    head = {id(p) for n, p in mix.base_model.named_parameters() if n in mix._head_names}
    trainable = {id(p) for p in mix.parameters() if p.requires_grad}
    with_grad = {id(p) for p in mix.parameters() if p.grad is not None}
    assert trainable == experts | head and with_grad <= trainable and with_grad & experts
    assert bool(head) == (backbone == "bert")  # a classifier is trained; an LM head stays frozen
    merged = {id(p) for layer in mix.mixture_layers().values() for p in layer.expert_parameters(MERGED_ADAPTER)}
    assert not merged & trainable

    counts = mix.count_parameters()
    reference = plain(tuner, backbone)
    one_expert = sum(p.numel() for p in reference.parameters() if p.requires_grad)
    assert counts.inference == one_expert  # inference = one expert = the plain tuner
    shared = sum(
        p.numel() for layer in mix.mixture_layers().values() for p in layer.expert_parameters("expert_0", layer.shared)
    )
    head_size = sum(p.numel() for n, p in mix.base_model.named_parameters() if n in mix._head_names)
    assert counts.head == head_size
    assert counts.trainable == head_size + shared + 3 * (one_expert - shared)
    assert counts.backbone == sum(p.numel() for p in BACKBONES[backbone][0]().parameters()) - head_size
    if tuner in ("lora", "dora", "rslora"):
        assert shared > 0  # upstream default: LoRA B shared


@pytest.mark.parametrize("tuner, backbone", ONE_PER_TUNER)
def test_evaluation_is_deterministic_and_modes_mean_what_they_say(tuner, backbone):
    mix = build(tuner, backbone, num_experts=3).eval()
    perturb(mix)
    batch = token_batch()
    fixed = []
    for mode in ("merge", "fixed:0", "fixed:1", "fixed:2", "ensemble"):
        mix.set_inference(mode)
        first = mix(**batch).logits
        assert torch.equal(first, mix(**batch).logits), mode
        fixed.append(first)
    assert (fixed[1] - fixed[2]).abs().max() > 1e-4
    mix.set_inference("random_sequence")  # every row is some expert combination; rows differ in which
    assert mix(**batch).logits.shape == fixed[0].shape
    mix.set_inference("random_token")
    assert mix(**batch).logits.shape == fixed[0].shape


@pytest.mark.parametrize("tuner, backbone", ONE_PER_TUNER)
def test_save_and_load_round_trip(tuner, backbone, tmp_path):
    mix = build(tuner, backbone, num_experts=2).eval()
    perturb(mix)
    mix.save_pretrained(tmp_path)
    loaded = load_adamix_model(BACKBONES[backbone][0](), tmp_path).eval()
    assert type(loaded) is type(mix) and loaded.config == mix.config
    with pytest.raises(ValueError, match="use adamix.get_adamix_model"):  # the base class builds no peft mixture
        AdaMixModel.from_pretrained(BACKBONES[backbone][0](), tmp_path)
    batch = token_batch()
    for mode in ("merge", "fixed:1"):
        mix.set_inference(mode), loaded.set_inference(mode)
        torch.testing.assert_close(loaded(**batch).logits, mix(**batch).logits, rtol=0, atol=0)
    saved = {n for n, p in mix.named_parameters() if p.requires_grad}
    assert saved == {n for n, p in loaded.named_parameters() if p.requires_grad}


def test_merged_peft_model_saves_and_loads_with_peft_alone(tmp_path):
    mix = build("lora", "bert", num_experts=3).eval()
    perturb(mix)
    with torch.no_grad():
        mix.base_model.get_base_model().classifier.weight.add_(1.0)  # a trained head must travel with it
    mix.merge().save_pretrained(tmp_path)
    served = peft.PeftModel.from_pretrained(tiny_bert(), tmp_path).eval()
    batch = token_batch()
    torch.testing.assert_close(served(**batch).logits, mix(**batch).logits, rtol=1e-5, atol=1e-6)


def test_share_options():
    assert build("lora", "bert", num_experts=2).config.share == "up"
    assert build("ia3", "bert", num_experts=2).config.share == "none"
    mix = build("loha", "bert", num_experts=3, share=["hada_w1_a", "hada_w2_a"])
    layer = next(iter(mix.mixture_layers().values()))
    assert layer.route_names == ("hada_w1_b", "hada_w2_b")
    assert layer.fragment("hada_w1_a", "expert_0") is layer.fragment("hada_w1_a", "expert_2")
    lora = next(iter(build("lora", "bert", num_experts=3, share="none").mixture_layers().values()))
    assert lora.route_names == ("lora_A", "lora_B")
    with pytest.raises(ValueError, match="'up' / 'down' name LoRA's B / A"):
        build("ia3", "bert", share="up")
    with pytest.raises(ValueError, match=r"not LOHA parameter fragments here; the fragments .*hada_w1_a"):
        build("loha", "bert", share=["lora_B_typo"])


def test_unselected_experts_decay_gets_zero_gradients():
    for policy in ("frozen", "decay"):
        mix = build("lora", "bert", num_experts=4, unselected_experts=policy).train()
        perturb(mix)
        mix(**token_batch()).logits.sum().backward()
        layer = next(iter(mix.mixture_layers().values()))
        chosen = layer.train_routes["lora_A"][0]
        for i in range(4):
            grad = layer.fragment("lora_A", f"expert_{i}").weight.grad
            if i == chosen:
                assert grad is not None and grad.abs().max() > 0
            elif policy == "frozen":
                assert grad is None
            else:
                assert grad is not None and grad.abs().max() == 0


@pytest.mark.parametrize(
    "peft_config, message",
    [
        (PrefixTuningConfig(num_virtual_tokens=4), "prompt encoder"),
        (
            VBLoRAConfig(r=2, num_vectors=8, vector_length=16, target_modules=["query", "value"]),
            "shared between tuner layers",
        ),
        (LoraConfig(r=2, target_modules=["query"], modules_to_save=["classifier"]), "trains the task head once"),
    ],
)
def test_unsupported_tuners_and_options_say_why(peft_config, message):
    with pytest.raises(ValueError, match=message):
        get_adamix_model(tiny_bert(), AdaMixConfig(adapter_type="peft", peft_config=peft_config, num_experts=2))


def test_config_errors_and_json_round_trip():
    with pytest.raises(ValueError, match="peft_config"):
        AdaMixConfig(adapter_type="peft")
    with pytest.raises(ValueError, match="AdaMixConfig.r=8 .*set the tuner's own options in peft_config"):
        AdaMixConfig(adapter_type="peft", peft_config=LoraConfig(r=2), r=8)
    with pytest.raises(ValueError, match="peft_config"):
        AdaMixConfig(adapter_type="lora", peft_config=LoraConfig(r=2))
    config = AdaMixConfig(adapter_type="peft", peft_config=LoraConfig(r=2, target_modules=["query"], use_dora=True))
    assert isinstance(config.peft_config, dict) and config.peft_config["target_modules"] == ["query"]
    import json

    assert AdaMixConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_average_peft_adapters_is_a_uniform_soup():
    runs = []
    for seed in range(3):
        model = plain("loha", "bert")
        with torch.no_grad():
            for p in model.parameters():
                if p.requires_grad:
                    p.normal_(generator=torch.Generator().manual_seed(seed + p.numel()))
        runs.append(model)
    before = [copy.deepcopy(get_peft_model_state_dict(m)) for m in runs]
    soup = average_peft_adapters(runs)
    state = get_peft_model_state_dict(soup)
    for key in state:
        torch.testing.assert_close(state[key], sum(b[key] for b in before) / 3)
    assert all(torch.equal(get_peft_model_state_dict(m)[k], b[k]) for m, b in zip(runs, before) for k in b)
    with pytest.raises(ValueError, match="another adapter configuration"):
        average_peft_adapters([runs[0], plain("lora", "bert")])


def test_adamix_imports_and_runs_without_peft():
    code = textwrap.dedent("""
        import sys
        sys.modules["peft"] = None  # as if peft were not installed: `import peft` raises ImportError
        import adamix
        from tests.adamix.models import tiny_bert
        adamix.get_adamix_model(tiny_bert(), adamix.AdaMixConfig(num_experts=2, bottleneck=4))
        assert not [m for m in sys.modules if m.startswith("peft.")]
        try:
            adamix.AdaMixConfig(adapter_type="peft", peft_config={"peft_type": "LORA"})
        except ImportError as error:
            assert "needs the `peft` package" in str(error)
        else:
            raise AssertionError("expected an ImportError")
    """)
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("changed", [1, 2])
def test_merged_adapter_is_refreshed_when_any_expert_changes(changed):
    """An optimiser step that moves only expert `changed` (not expert 0): the merged evaluation is the
    average of the experts as they are now, not the cached average of before the step."""
    mix = build("lora", "bert", num_experts=3, share="none").eval()
    perturb(mix)
    batch = token_batch()
    before = mix(**batch).logits  # computes and caches the merged adapter
    moved = [p for layer in mix.mixture_layers().values() for p in layer.expert_parameters(f"expert_{changed}")]
    optimizer = torch.optim.SGD(moved, lr=1.0)
    for p in moved:
        p.grad = torch.full_like(p, -0.5)
    optimizer.step()
    states = [expert_state(mix, i) for i in range(3)]
    reference = plain("lora", "bert").eval()
    set_peft_model_state_dict(reference, {k: torch.stack([s[k] for s in states]).mean(0) for k in states[0]})
    after = mix(**batch).logits
    assert (after - before).abs().max() > 1e-4  # the step changed the average (100x the tolerance below)
    torch.testing.assert_close(after, reference(**batch).logits, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("tuner", ["lora", "loha"])
def test_experts_start_as_copies_of_expert_0(tuner):
    """Upstream AdaMix starts every expert from one init: right after construction each routed fragment of
    every expert equals expert 0's, as a copy (its own tensor), although peft draws a random init (LoRA's
    A, LoHa's factors) for each adapter it adds."""
    mix = build(tuner, "bert", num_experts=3, share="none")
    reference = plain(tuner, "bert")  # what peft draws for one adapter: random, so copies are not trivial
    assert any(p.abs().sum() > 0 for n, p in reference.named_parameters() if "default" in n.split("."))
    for layer in mix.mixture_layers().values():
        for f in layer.route_names:
            first = layer.expert_parameters("expert_0", (f,))
            for e in ("expert_1", "expert_2"):
                for p, q in zip(layer.expert_parameters(e, (f,)), first, strict=True):
                    assert p is not q and torch.equal(p, q), (f, e)


@pytest.mark.parametrize("assignment", [(1, 2), (2, 0)])
def test_random_token_uses_the_drawn_expert_of_each_fragment(monkeypatch, assignment):
    """random_token with two routed fragments (LoRA's A and B, share none): each token runs the expert
    combination drawn for it, A from one expert and B from another. The draws are scripted (fragment A of
    every layer -> assignment[0], B -> assignment[1]); the reference is the same model with that
    composite route as its training route (dropout 0, so train and eval mode compute the same)."""
    import adamix.peft_mixture as peft_mixture

    mix = build("lora", "bert", num_experts=3, share="none").eval()
    perturb(mix)
    layers = list(mix.mixture_layers().values())
    assert all(layer.route_names == ("lora_A", "lora_B") for layer in layers)
    calls = iter(range(10_000))

    def scripted(mode, fixed_expert, router, num_experts, x):  # called once per fragment, in route_names order
        assert mode == "random_token"
        return torch.full(tuple(x.shape[:-1]), assignment[next(calls) % 2], dtype=torch.long)

    monkeypatch.setattr(peft_mixture, "evaluation_route", scripted)
    mix.set_inference("random_token")
    batch = token_batch()
    out = mix(**batch).logits
    mix.train()
    for layer in layers:
        layer.train_routes = {"lora_A": (assignment[0],), "lora_B": (assignment[1],)}
    expected = mix.base_model(**batch).logits
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)
    for layer in layers:
        layer.train_routes = {"lora_A": (assignment[1],), "lora_B": (assignment[0],)}
    assert (mix.base_model(**batch).logits - out).abs().max() > 1e-4  # the fragments' experts matter


@pytest.mark.parametrize("switch", ["set_adapter", "disable_adapter", "enable_adapter_layers", "delete_adapter"])
def test_peft_adapter_switches_on_the_mixture_are_refused_and_training_is_untouched(switch):
    """peft's set_adapter() / disable_adapter() / enable_adapter_layers() make only the active adapter
    trainable (22 -> 6 tensors here): on a mixture they would silently stop experts 1..M-1 and the shared
    fragment from training. The mixture refuses them; peft's own methods still work on merge()'s result."""
    model = build("lora", "bert", num_experts=4)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    owner = model.base_model if hasattr(model.base_model, switch) else model.base_model.base_model
    args = ("expert_0",) if switch in ("set_adapter", "delete_adapter") else ()
    with pytest.raises(RuntimeError, match=f"{switch}\\(\\) on the peft model inside an AdaMix mixture is refused"):
        getattr(owner, switch)(*args)
    assert {n for n, p in model.named_parameters() if p.requires_grad} == trainable
    assert len(trainable) > 6
    merged = model.merge(fold_lora=False)
    merged.set_adapter("default")  # a plain PeftModel: peft's methods are its own again
    with merged.disable_adapter():
        pass
