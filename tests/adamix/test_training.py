"""Training behaviour: routing statistics, the fused consistency step, gradients, unselected experts, caching."""

import pytest
import torch
import torch.nn.functional as F
from scipy import stats

from adamix import AdaMixConfig, consistency_loss, get_adamix_model
from adamix.routing import Router, draw_training_routes

from .models import tiny_bert, tiny_gpt2, tiny_llama, token_batch
from .test_equivalence import averaged_single_expert


def classification_loss(logits, batch):
    return F.cross_entropy(logits, batch["labels"])


def lm_loss(logits, batch):
    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), batch["labels"][:, 1:].reshape(-1))


def grads(model):
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


CASES = {
    "bert-adapter-up-shared": (tiny_bert, AdaMixConfig(num_experts=4, bottleneck=8), classification_loss),
    "bert-adapter-houlsby-no-sharing": (
        tiny_bert,
        AdaMixConfig(num_experts=3, bottleneck=8, share="none", placement="houlsby"),
        classification_loss,
    ),
    "bert-adapter-decay": (
        tiny_bert,
        AdaMixConfig(num_experts=4, bottleneck=8, unselected_experts="decay"),
        classification_loss,
    ),
    "gpt2-lora-fused-c_attn": (
        tiny_gpt2,
        AdaMixConfig(adapter_type="lora", num_experts=4, r=2, lora_dropout=0.0, consistency_weight=100),
        lm_loss,
    ),
    "llama-lora-share-down": (
        tiny_llama,
        AdaMixConfig(adapter_type="lora", num_experts=3, r=2, lora_dropout=0.0, share="down"),
        lm_loss,
    ),
    "gpt2-adapter": (tiny_gpt2, AdaMixConfig(num_experts=4, bottleneck=4, consistency_weight=100), lm_loss),
}


def hand_symmetric_kl(a, b, mask=None):
    """0.5 * [KL(p_b || p_a) + KL(p_a || p_b)], targets detached, mean over the (kept) positions."""
    if mask is not None:
        a, b = a[mask.bool()], b[mask.bool()]
    log_pa, log_pb = a.log_softmax(-1), b.log_softmax(-1)
    pa, pb = log_pa.exp().detach(), log_pb.exp().detach()
    kl_b_a = (pb * (pb.log() - log_pa)).sum(-1).mean()
    kl_a_b = (pa * (pa.log() - log_pb)).sum(-1).mean()
    return 0.5 * (kl_b_a + kl_a_b)


def _perturbed_model(make, config):
    model = get_adamix_model(make(), AdaMixConfig(**{**config.to_dict(), "routing_seed": 7})).train()
    with torch.no_grad():  # LoRA B starts at zero; give the experts distinct weights so routes matter
        for layer in model.mixture_layers().values():
            for proj in layer.projections().values():
                for w in proj.weight:
                    w.add_(torch.randn_like(w) * 0.2)
    return model


@pytest.mark.parametrize("case", sorted(CASES))
def test_fused_step_equals_two_sequential_passes_and_a_hand_computed_loss(case):
    make, config, loss_fn = CASES[case]
    batch = token_batch()
    is_lm = loss_fn is lm_loss
    batch["labels"] = batch["input_ids"] if is_lm else torch.tensor([0, 2, 1, 2])
    mask = batch["attention_mask"].bool() if is_lm else None
    results = []
    for fused in (True, False):
        model = _perturbed_model(make, config)
        out = model.consistency_step(batch, loss_fn, mask=mask, fused=fused)
        out.loss.backward()
        results.append((out, grads(model)))
    (fused_out, fused_grads), (seq_out, seq_grads) = results
    assert fused_out.consistency > 0  # the two halves really took different routes
    torch.testing.assert_close(fused_out.loss, seq_out.loss, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(fused_out.consistency, seq_out.consistency, rtol=1e-4, atol=1e-7)
    assert fused_grads.keys() == seq_grads.keys()
    for name in fused_grads:
        torch.testing.assert_close(fused_grads[name], seq_grads[name], rtol=1e-4, atol=1e-6, msg=name)
    # Independent reference, sharing no loss code with consistency_step: the same two routes (a fresh
    # router with the same seed draws them), one plain forward per pass, the loss written out by hand:
    # task loss on pass 1 + consistency_weight * symmetric KL (or MSE) between the passes.
    model = _perturbed_model(make, config)
    layers = list(model.mixture_layers().values())
    routes = draw_training_routes(Router(7), layers, 2)
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    logits = []
    for index in (0, 1):
        for layer, layer_routes in zip(layers, routes):
            layer.train_routes = {name: (experts[index],) for name, experts in layer_routes.items()}
        logits.append(model.base_model(**inputs).logits)
    expected = loss_fn(logits[0], batch) + config.consistency_weight * hand_symmetric_kl(logits[0], logits[1], mask)
    expected.backward()
    torch.testing.assert_close(fused_out.loss, expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(fused_out.task_loss, loss_fn(logits[0].detach(), batch), rtol=1e-5, atol=1e-6)
    hand_grads = grads(model)
    assert hand_grads.keys() == fused_grads.keys()
    for name in fused_grads:
        torch.testing.assert_close(fused_grads[name], hand_grads[name], rtol=1e-4, atol=1e-6, msg=name)


def test_routing_draws_are_uniform_and_independent_between_projections():
    model = get_adamix_model(tiny_bert(), AdaMixConfig(num_experts=4, bottleneck=4, share="none", routing_seed=3))
    layers = list(model.mixture_layers().values())
    draws = torch.tensor(
        [
            [r for layer in step for r in (layer["down"][0], layer["up"][0])]
            for step in (draw_training_routes(model.router, layers, 1) for _ in range(4000))
        ]
    )
    assert draws.shape == (4000, 4)  # 2 layers x (down, up)
    for column in draws.T:  # each projection: uniform over the 4 experts
        counts = torch.bincount(column, minlength=4).numpy()
        assert stats.chisquare(counts).pvalue > 1e-3, counts
    for a, b in [(0, 1), (0, 2), (1, 3)]:  # down vs up of a layer, and across layers: independent
        table = torch.zeros(4, 4)
        for x, y in zip(draws[:, a], draws[:, b]):
            table[x, y] += 1
        assert stats.chi2_contingency(table.numpy()).pvalue > 1e-3
    assert len({tuple(row.tolist()) for row in draws}) > 200  # not a short cycle


def test_routing_is_reproducible_from_its_seed_and_from_torch_manual_seed():
    def routes(**kwargs):
        model = get_adamix_model(tiny_bert(), AdaMixConfig(num_experts=8, bottleneck=4, **kwargs))
        return [draw_training_routes(model.router, list(model.mixture_layers().values()), 2) for _ in range(5)]

    assert routes(routing_seed=1) == routes(routing_seed=1)
    assert routes(routing_seed=1) != routes(routing_seed=2)
    torch.manual_seed(5)
    first = routes()
    torch.manual_seed(5)
    assert routes() == first


def test_training_forward_routes_every_call_and_eval_is_deterministic():
    model = get_adamix_model(tiny_bert(), AdaMixConfig(num_experts=4, bottleneck=8, routing_seed=0))
    with torch.no_grad():
        for layer in model.mixture_layers().values():
            for w in layer.down.weight:
                w.normal_(std=0.5)
    batch = token_batch()
    model.train()
    train_outputs = {tuple(model(**batch).logits.flatten().tolist()) for _ in range(12)}
    assert len(train_outputs) > 1
    model.eval()
    first = model(**batch).logits
    for _ in range(3):
        assert torch.equal(model(**batch).logits, first)
    for mode in ("fixed:1", "ensemble"):
        model.set_inference(mode)
        assert torch.equal(model(**batch).logits, model(**batch).logits)


def test_only_experts_and_head_receive_gradients():
    model = get_adamix_model(tiny_bert(), AdaMixConfig(num_experts=2, bottleneck=4)).train()
    batch = {**token_batch(), "labels": torch.tensor([0, 1, 2, 0])}
    model.consistency_step(batch, classification_loss).loss.backward()
    with_grad = {n for n, p in model.named_parameters() if p.grad is not None}
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert with_grad <= trainable
    assert all(".down." in n or ".up." in n or n.startswith("base_model.classifier.") for n in trainable)
    assert any(n.startswith("base_model.classifier.") for n in with_grad)
    lm = get_adamix_model(tiny_gpt2(), AdaMixConfig(adapter_type="lora", num_experts=2))
    assert all("lora_" in n for n, p in lm.named_parameters() if p.requires_grad)  # LM head stays frozen


def _down_experts_and_chosen(model):
    layer = next(iter(model.mixture_layers().values()))
    return layer.down.weight, set(layer.train_routes["down"])  # the experts of both consistency passes


@pytest.mark.parametrize("policy", ["frozen", "decay"])
def test_unselected_experts_follow_the_configured_policy(policy):
    model = get_adamix_model(
        tiny_bert(), AdaMixConfig(num_experts=4, bottleneck=4, unselected_experts=policy, routing_seed=0)
    ).train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2, weight_decay=0.1)
    batch = {**token_batch(), "labels": torch.tensor([0, 1, 2, 0])}
    # Step 1 trains every expert once (experts get momentum); then step and watch the unselected ones.
    for expert in range(4):
        layer_routes = [{"down": (expert,)} for _ in model.mixture_layers()]
        for layer, routes in zip(model.mixture_layers().values(), layer_routes):
            layer.train_routes = routes
        classification_loss(model.base_model(**batch).logits, batch).backward()
    optimizer.step()
    optimizer.zero_grad()  # set_to_none=True, the torch>=2 default
    model.consistency_step(batch, classification_loss).loss.backward()
    weights, chosen = _down_experts_and_chosen(model)
    before = [w.detach().clone() for w in weights]
    unselected = [i for i in range(4) if i not in chosen]
    assert unselected
    if policy == "frozen":
        assert all(weights[i].grad is None for i in unselected)
    else:
        assert all(weights[i].grad is not None and weights[i].grad.abs().max() == 0 for i in unselected)
    optimizer.step()
    moved = [not torch.equal(before[i], weights[i].detach()) for i in unselected]
    assert all(moved) if policy == "decay" else not any(moved)
    assert all(not torch.equal(before[i], weights[i].detach()) for i in chosen)


def test_merged_weights_are_computed_once_and_refreshed_after_an_update(monkeypatch):
    model = get_adamix_model(tiny_bert(), AdaMixConfig(num_experts=4, bottleneck=4))
    batch = {**token_batch(), "labels": torch.tensor([0, 1, 2, 0])}
    calls = {"n": 0}
    original_stack = torch.stack

    def counting_stack(*args, **kwargs):
        calls["n"] += 1
        return original_stack(*args, **kwargs)

    model.eval()
    model(**batch)
    monkeypatch.setattr(torch, "stack", counting_stack)
    with torch.no_grad():
        first = model(**batch).logits
        model(**batch)
    assert calls["n"] == 0  # cached: no averaging on later eval forwards
    monkeypatch.setattr(torch, "stack", original_stack)
    model.train()
    experts = [p for layer in model.mixture_layers().values() for p in layer.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(
        experts, lr=1.0
    )  # experts only: the head stays, so only the experts can move the logits
    before = [p.detach().clone() for p in experts]
    model.consistency_step(batch, classification_loss).loss.backward()
    optimizer.step()
    assert any(not torch.equal(b, p) for b, p in zip(before, experts))
    for layer in model.mixture_layers().values():  # the cache now holds the average of the CURRENT experts
        for proj in layer.projections().values():
            weight, bias = proj.merged()
            torch.testing.assert_close(weight, torch.stack(list(proj.weight)).mean(0), rtol=0, atol=1e-7)
            torch.testing.assert_close(bias, torch.stack(list(proj.bias)).mean(0), rtol=0, atol=1e-7)
    model.eval()
    with torch.no_grad():
        after = model(**batch).logits
        rebuilt = averaged_single_expert(tiny_bert, model.config, model)(**batch).logits
    assert not torch.equal(first, after)
    torch.testing.assert_close(after, rebuilt, rtol=0, atol=1e-6)


def test_consistency_loss_matches_its_definition():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    pa, pb = a.softmax(-1), b.softmax(-1)

    def kl(p, q):  # KL(p || q), mean over rows
        return (p * (p.log() - q.log())).sum(-1).mean()

    torch.testing.assert_close(consistency_loss(a, b), 0.5 * (kl(pb, pa) + kl(pa, pb)))
    assert consistency_loss(a, a).abs() < 1e-7
    torch.testing.assert_close(consistency_loss(a, b, kind="mse"), ((a - b) ** 2).mean())
    # token mask: only the kept positions count, the mean runs over them
    la, lb = torch.randn(2, 4, 3, generator=g), torch.randn(2, 4, 3, generator=g)
    mask = torch.tensor([[1, 1, 0, 0], [0, 1, 0, 0]])
    keep = mask.bool()
    torch.testing.assert_close(consistency_loss(la, lb, mask), consistency_loss(la[keep], lb[keep]))
    # both targets are detached: each side's gradient comes only from the KL term in which it is the
    # input, d/da 0.5 * KL(p_b || p_a) = 0.5 * (p_a - p_b) / rows, and symmetrically for b
    a.requires_grad_(True)
    b.requires_grad_(True)
    consistency_loss(a, b).backward()
    torch.testing.assert_close(a.grad, 0.5 * (pa - pb) / 5)
    torch.testing.assert_close(b.grad, 0.5 * (pb - pa) / 5)
    a.grad = b.grad = None
    consistency_loss(a, b, kind="mse").backward()  # d/da 0.5 * MSE(a, b) = (a - b) / numel, and for b
    torch.testing.assert_close(a.grad, (a - b).detach() / a.numel())
    torch.testing.assert_close(b.grad, (b - a).detach() / b.numel())
    a, b = a.detach(), b.detach()
    # the upstream KL is identically zero for a single regression output; MSE is not
    r1, r2 = torch.randn(6, 1, generator=g), torch.randn(6, 1, generator=g)
    assert consistency_loss(r1, r2) == 0
    assert consistency_loss(r1, r2, kind="mse") > 0


def test_regression_head_warns_that_sym_kl_is_a_no_op():
    model = get_adamix_model(tiny_bert(num_labels=1), AdaMixConfig(num_experts=2, bottleneck=4)).train()
    batch = {**token_batch(), "labels": torch.randn(4)}
    with pytest.warns(UserWarning, match="identically zero"):
        out = model.consistency_step(batch, lambda logits, b: F.mse_loss(logits.squeeze(-1), b["labels"]))
    assert out.consistency == 0
    mse = get_adamix_model(
        tiny_bert(num_labels=1), AdaMixConfig(num_experts=2, bottleneck=4, consistency_kind="mse")
    ).train()
    assert mse.consistency_step(batch, lambda logits, b: F.mse_loss(logits.squeeze(-1), b["labels"])).consistency > 0


def test_zero_consistency_weight_runs_a_single_pass():
    model = get_adamix_model(tiny_bert(), AdaMixConfig(num_experts=2, bottleneck=4, consistency_weight=0)).train()
    calls = []
    model.base_model.register_forward_hook(lambda m, i, o: calls.append(i))
    batch = {**token_batch(), "labels": torch.tensor([0, 1, 2, 0])}
    out = model.consistency_step(batch, classification_loss)
    assert len(calls) == 1 and out.consistency == 0


def test_calling_the_wrapped_model_in_training_without_routes_is_an_error():
    model = get_adamix_model(tiny_bert(), AdaMixConfig(num_experts=2, bottleneck=4)).train()
    with pytest.raises(RuntimeError, match="without routes"):
        model.base_model(**token_batch())


def test_router_draws_from_its_own_generator():
    torch.manual_seed(0)
    router = Router(seed=11)
    state = torch.random.get_rng_state()
    router.draw(4, (10,))
    assert torch.equal(state, torch.random.get_rng_state())  # global RNG untouched (data order unaffected)


def _layer(share: str, adapter_type: str = "adapter"):
    model = get_adamix_model(
        tiny_bert(),
        AdaMixConfig(adapter_type=adapter_type, num_experts=3, bottleneck=4, r=2, share=share, routing_seed=0),
    ).eval()
    layer = next(iter(model.mixture_layers().values()))
    with torch.no_grad():
        for proj in layer.projections().values():
            for w in proj.weight:
                w.normal_(std=0.5)
    return layer


@pytest.mark.parametrize("share, adapter_type", [("none", "adapter"), ("up", "adapter"), ("none", "lora")])
def test_evaluation_routes_at_the_layer(share, adapter_type):
    layer = _layer(share, adapter_type)
    x = torch.randn(5, 7, 32)
    fixed = []
    for k in range(3):
        layer.inference, layer.fixed_expert = f"fixed:{k}", k
        fixed.append(layer.delta(x))
    fixed = torch.stack(fixed)  # (expert, batch, tokens, hidden)
    assert (fixed[0] - fixed[1]).abs().max() > 1e-3
    layer.inference, layer.fixed_expert = "ensemble", None
    torch.testing.assert_close(layer.delta(x), fixed.mean(0), rtol=1e-5, atol=1e-6)  # mean of the experts' outputs
    first, second = layer.route_names
    combos = torch.stack([layer._mix(x, {first: (i,), second: (j,)}) for i in range(3) for j in range(3)])
    tolerance = 1e-6 * float(combos.detach().abs().max())  # float32 rounding of outputs in the hundreds (bmm vs linear)
    layer.inference = "random_sequence"
    per_sequence = layer.delta(x)
    used = set()
    for row in range(5):  # each sequence went through one expert per projection, all its tokens alike
        distance = (per_sequence[row] - combos[:, row]).abs().flatten(1).amax(1)
        assert distance.min() < tolerance
        used.add(int(distance.argmin()))
    assert len(used) > 1
    if share == "up":  # one routed projection: every token's output is one expert's
        layer.inference = "random_token"
        per_token = layer.delta(x)
        distance = (per_token.unsqueeze(0) - fixed).abs().amax(-1)  # (expert, batch, tokens)
        assert (distance.min(0).values < tolerance).all()
        used = distance.argmin(0)
        assert len(used.unique()) == 3 and (used != used[:, :1]).any()  # tokens of one sequence differ
