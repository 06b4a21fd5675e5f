"""AdaMix against reference implementations: M=1 is a plain adapter / LoRA; merging is weight averaging."""

import pytest
import torch

from adamix import AdaMixConfig, get_adamix_model
from adamix.layer import MixtureLayer

from .models import tiny_bert, tiny_gpt2, tiny_llama, token_batch


def hidden(model, batch):
    return model(**batch, output_hidden_states=True).hidden_states[-1]


def test_single_expert_adapter_equals_adapterhub_bottleneck_adapter():
    adapters = pytest.importorskip("adapters")
    reference = tiny_bert()
    adapters.init(reference)
    # AdaMix's placement: h = dense(x); h = h + Up(GELU(Down(h))); LayerNorm(h + attention_output).
    reference.add_adapter(
        "a",
        adapters.BnConfig(
            mh_adapter=False,
            output_adapter=True,
            reduction_factor=4,
            non_linearity="gelu",
            original_ln_before=False,
            original_ln_after=True,
            residual_before_ln=True,
        ),
    )
    reference.set_active_adapters("a")
    reference.eval()
    model = get_adamix_model(tiny_bert(), AdaMixConfig(num_experts=1, bottleneck=8, consistency_weight=0)).eval()
    ref_params = dict(reference.named_parameters())
    with torch.no_grad():
        for i, layer in enumerate(model.mixture_layers().values()):
            prefix = f"bert.encoder.layer.{i}.output.adapters.a."
            for name in ("adapter_down.0.weight", "adapter_down.0.bias", "adapter_up.weight", "adapter_up.bias"):
                ref_params[prefix + name].normal_(std=0.3)
            layer.down.weight[0].copy_(ref_params[prefix + "adapter_down.0.weight"])
            layer.down.bias[0].copy_(ref_params[prefix + "adapter_down.0.bias"])
            layer.up.weight[0].copy_(ref_params[prefix + "adapter_up.weight"])
            layer.up.bias[0].copy_(ref_params[prefix + "adapter_up.bias"])
    batch = token_batch()
    plain = hidden(tiny_bert(), batch)
    ours = hidden(model, batch)
    assert (ours - plain).abs().max() > 1e-2  # the adapters really act
    torch.testing.assert_close(ours, hidden(reference, batch), rtol=0, atol=1e-6)


@pytest.mark.parametrize("make, targets", [(tiny_bert, ["query", "value"]), (tiny_llama, ["q_proj", "v_proj"])])
def test_single_expert_lora_equals_peft_lora(make, targets):
    peft = pytest.importorskip("peft")
    reference = peft.get_peft_model(
        make(), peft.LoraConfig(r=4, lora_alpha=32, lora_dropout=0.0, target_modules=targets)
    ).eval()
    model = get_adamix_model(
        make(),
        AdaMixConfig(adapter_type="lora", num_experts=1, r=4, lora_alpha=32, lora_dropout=0.0, consistency_weight=0),
    ).eval()
    ref_modules = {n: m for n, m in reference.named_modules() if hasattr(m, "lora_A") and len(m.lora_A)}
    assert len(ref_modules) == len(model.mixture_layers())
    with torch.no_grad():
        for (_name, layer), ref in zip(model.mixture_layers().items(), ref_modules.values()):
            ref.lora_B["default"].weight.normal_(std=0.2)
            layer.lora_A.weight[0].copy_(ref.lora_A["default"].weight)
            layer.lora_B[0].weight[0].copy_(ref.lora_B["default"].weight)
    batch = token_batch()
    out = model(**batch).logits
    assert (out - make()(**batch).logits).abs().max() > 1e-3
    torch.testing.assert_close(out, reference(**batch).logits, rtol=0, atol=1e-5)


def averaged_single_expert(model_fn, config: AdaMixConfig, mixture):
    """A fresh M=1 AdaMix model whose only expert holds the average of `mixture`'s experts."""
    single = get_adamix_model(
        model_fn(), AdaMixConfig(**{**config.to_dict(), "num_experts": 1, "target_modules": None})
    )
    with torch.no_grad():
        for layer, source in zip(single.mixture_layers().values(), mixture.mixture_layers().values()):
            for (_name, proj), (_, src) in zip(layer.projections().items(), source.projections().items()):
                proj.weight[0].copy_(torch.stack(list(src.weight)).mean(0))
                if proj.bias is not None:
                    proj.bias[0].copy_(torch.stack(list(src.bias)).mean(0))
        head = {n: p for n, p in mixture.base_model.named_parameters() if "classifier" in n}
        for n, p in single.base_model.named_parameters():
            if n in head:
                p.copy_(head[n])
    return single.eval()


@pytest.mark.parametrize("share", ["up", "down", "none"])
def test_merged_adapter_equals_model_built_from_averaged_weights(share):
    config = AdaMixConfig(num_experts=4, bottleneck=8, share=share)
    model = get_adamix_model(tiny_bert(), config).eval()
    batch = token_batch()
    expected = averaged_single_expert(tiny_bert, config, model)(**batch).logits
    torch.testing.assert_close(model(**batch).logits, expected, rtol=0, atol=1e-6)
    torch.testing.assert_close(model.merge()(**batch).logits, expected, rtol=0, atol=1e-6)


def _randomise_lora(model):
    with torch.no_grad():  # B starts at zero (upstream init): give every expert distinct non-zero weights
        for layer in model.mixture_layers().values():
            for proj in layer.projections().values():
                for w in proj.weight:
                    w.normal_(std=0.3)


@pytest.mark.parametrize("make", [tiny_gpt2, tiny_llama, tiny_bert])
def test_lora_merge_fold_and_unfolded_agree(make):
    config = AdaMixConfig(adapter_type="lora", num_experts=4, r=4, lora_alpha=8, share="none")
    model = get_adamix_model(make(), config).eval()
    _randomise_lora(model)
    batch = token_batch()
    mixture = model(**batch).logits
    folded = model.merge(fold_lora=True)
    unfolded = model.merge(fold_lora=False)
    assert not any("lora" in n for n, _ in folded.named_parameters())  # nothing left but the backbone
    torch.testing.assert_close(folded(**batch).logits, mixture, rtol=0, atol=2e-5)
    torch.testing.assert_close(unfolded(**batch).logits, mixture, rtol=0, atol=2e-5)
    expected = averaged_single_expert(make, config, model)(**batch).logits
    torch.testing.assert_close(mixture, expected, rtol=0, atol=2e-5)
    assert (mixture - make()(**batch).logits).abs().max() > 1e-4  # the update really acts


def test_gpt2_lora_touches_only_q_and_v_of_fused_c_attn():
    model = get_adamix_model(tiny_gpt2(), AdaMixConfig(adapter_type="lora", num_experts=2, r=2)).eval()
    _randomise_lora(model)
    layer = next(iter(model.mixture_layers().values()))
    x = torch.randn(3, 5, 32)
    delta = layer(x) - layer.base_layer(x)
    assert delta[..., :32].abs().max() > 1e-3  # q
    assert delta[..., 32:64].abs().max() == 0  # k untouched
    assert delta[..., 64:].abs().max() > 1e-3  # v


def test_merge_leaves_the_mixture_model_untouched_and_is_independent():
    model = get_adamix_model(tiny_bert(), AdaMixConfig(num_experts=3, bottleneck=4)).eval()
    batch = token_batch()
    before = model(**batch).logits.clone()
    merged = model.merge()
    with torch.no_grad():
        for p in merged.parameters():
            p.add_(1.0)
    torch.testing.assert_close(model(**batch).logits, before)
    assert not any(isinstance(m, MixtureLayer) for m in merged.modules())  # plain single adapters only
