"""AdaMix over any peft tuner: M experts of the tuner in every adapted module (adapter_type="peft").

    config = AdaMixConfig(adapter_type="peft", peft_config=LoraConfig(r=8, use_dora=True), num_experts=4)
    model = get_adamix_model(hf_model, config)        # a PeftAdaMixModel (an AdaMixModel)

Built on peft's own multi-adapter mechanics, so no tuner is re-implemented here:
  * the tuner is injected by peft with M named adapters "expert_0" .. "expert_{M-1}" in ONE PeftModel
    (`get_peft_model` + `add_adapter`), plus one more, "adamix_merged", that holds the experts' uniform
    average for merged evaluation (refreshed lazily: cached under the version counters of the expert
    tensors, as the built-in layers do);
  * a routed parameter group is one of the tuner's named weight fragments (peft's `adapter_layer_names`
    of a tuner layer: `lora_A`, `lora_B`, `lora_magnitude_vector`, `hada_w1_a`, `ia3_l`, `vera_lambda_b`,
    ...). Each group of each tuner layer gets its own uniform draw per forward call from the seedable
    router (adamix/routing.py), exactly like the built-in variants' Down/Up or A/B. The tuner layer then
    runs peft's own forward with the drawn expert's fragments: the active adapter of that layer is the
    expert of its first group, and the other groups' drawn experts are swapped into that adapter's slot
    for the call (and swapped back after it);
  * sharing ties a fragment across experts: every expert's entry is the SAME module / Parameter (for
    the LoRA family the upstream choice, B shared, is the default), so it is stored, trained and counted
    once and is never routed;
  * experts start as copies of expert 0's peft init (upstream AdaMix-LoRA: every expert a copy of one init);
  * the fused consistency step splits the doubled batch into its halves at each tuner layer and runs
    each half with its own experts: one model forward, the same numbers as two passes. This works for
    every tuner layer whose forward treats batch rows independently (all peft tuner layers do).

Each expert is a complete peft adapter: `self.base_model` is a plain peft `PeftModel`, so peft's own
tools (`get_peft_model_state_dict(model.base_model, adapter_name="expert_2")`) read single experts.
`merge()` returns a plain PeftModel of the same tuner type holding the averaged adapter as "default".

Not supported, with an error that says why: prompt-learning methods (prefix / prompt tuning,
p-tuning: their weights are one prompt encoder of the PeftModel, not per-module tuner layers, so there is
no module to put experts in), tuners whose trainable weights are shared between layers (e.g. VB-LoRA's
vector bank) or live outside tuner layers, and tuners peft refuses to hold several adapters of (AdaLoRA).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import itertools
from collections.abc import Iterator

import torch
import torch.nn as nn

from .config import (
    LORA_FAMILY_FRAGMENTS,
    AdaMixConfig,
    import_peft,
    peft_config_from_dict,
    peft_config_to_dict,
)
from .model import AdaMixModel, ParameterCounts, task_head_parameter_names
from .peft_average import uniform_average
from .routing import Router, evaluation_route

EXPERT_PREFIX = "expert_"
MERGED_ADAPTER = "adamix_merged"


def expert_names(num_experts: int) -> list[str]:
    return [f"{EXPERT_PREFIX}{i}" for i in range(num_experts)]


def shared_fragments(config: AdaMixConfig) -> tuple[str, ...]:
    """The fragments config.share ties across experts (existence is checked against the tuner layers)."""
    if config.share == "none":
        return ()
    if isinstance(config.share, str):
        return LORA_FAMILY_FRAGMENTS[config.share]
    return tuple(config.share)


# ------------------------------------------------------------------------------------------ layers
def _entries(container) -> dict:
    return dict(container.items()) if hasattr(container, "items") else {}


def _fragment_parameters(entry) -> list[nn.Parameter]:
    if isinstance(entry, nn.Parameter):
        return [entry]
    if isinstance(entry, nn.Module):
        return list(entry.parameters())
    return []


#: peft's adapter switches. On the PeftModel inside a mixture each would break it silently: peft makes only
#: the active adapter trainable (set_adapter / enable_adapter_layers / disable_adapter: 22 -> 6 trainable
#: tensors on a tiny LoRA mixture, experts 1..M-1 and the shared fragments stop training), or it adds,
#: drops or disables adapters behind the routing. The mixture refuses them (`_refuse_adapter_switches`).
PEFT_ADAPTER_SWITCHES = (
    "set_adapter",
    "disable_adapter",
    "enable_adapter_layers",
    "disable_adapter_layers",
    "add_adapter",
    "delete_adapter",
    "load_adapter",
)


def _refuse_adapter_switches(peft_model: nn.Module) -> None:
    """Shadow PEFT_ADAPTER_SWITCHES on the PeftModel and its tuner model with a clear error."""

    def refuse(name: str):
        def refused(*args, **kwargs):
            raise RuntimeError(
                f"{name}() on the peft model inside an AdaMix mixture is refused: peft would make only the "
                f"active adapter trainable or bypass the routing, so experts would silently stop training. The "
                f"mixture owns its adapters: choose the routing with AdaMixModel.set_inference(mode), or call "
                f"merge() for a plain PeftModel on which peft's adapter methods work."
            )

        return refused

    for owner in (peft_model, peft_model.base_model):
        for name in PEFT_ADAPTER_SWITCHES:
            if hasattr(owner, name):
                owner.__dict__[name] = refuse(name)


class PeftMixtureLayer:
    """Routing for ONE peft tuner layer holding M expert adapters.

    Installed as the tuner layer's `forward` (an instance attribute over the class's forward, which it
    calls), so module names and peft's state-dict layout stay exactly peft's. Same routing interface as
    adamix.layer.MixtureLayer: `routed_projections()`, `train_routes`, `inference`, `fixed_expert`.
    """

    def __init__(self, tuner: nn.Module, config: AdaMixConfig, router: Router, shared: tuple[str, ...]):
        self.tuner = tuner
        self.experts = expert_names(config.num_experts)
        self.num_experts = config.num_experts
        self.router = router
        self.unselected_experts = config.unselected_experts
        self.train_routes: dict[str, tuple] | None = None
        self.inference, self.fixed_expert = config.inference, config.fixed_expert()
        # The tuner's weight fragments present in this layer, in peft's order.
        # (dict.fromkeys: peft may list a fragment twice, e.g. DoRA's lora_magnitude_vector.)
        self.fragments = tuple(
            dict.fromkeys(f for f in tuner.adapter_layer_names if self.experts[0] in _entries(getattr(tuner, f, None)))
        )
        self.shared = tuple(f for f in self.fragments if f in shared)
        self.route_names = tuple(f for f in self.fragments if f not in self.shared)
        self._merged_key: tuple | None = None

    # ---------------------------------------------------------------------------- parameters
    def fragment(self, name: str, adapter: str):
        return getattr(self.tuner, name)[adapter]

    def expert_parameters(self, adapter: str, fragments=None) -> list[nn.Parameter]:
        fragments = self.fragments if fragments is None else fragments
        return [p for f in fragments for p in _fragment_parameters(self.fragment(f, adapter))]

    def all_expert_parameters(self) -> list[nn.Parameter]:
        unique = {id(p): p for e in self.experts for p in self.expert_parameters(e)}
        return list(unique.values())

    def inference_params(self) -> int:
        """One expert (what merging keeps), shared fragments included."""
        return sum(p.numel() for p in self.expert_parameters(self.experts[0]))

    @torch.no_grad()
    def refresh_merged(self) -> None:
        """Write the experts' uniform average into the "adamix_merged" adapter if any expert changed."""
        params = self.all_expert_parameters()
        key = tuple((p.data_ptr(), p._version) for p in params)
        if key == self._merged_key:
            return
        for f in self.fragments:
            target = self.fragment(f, MERGED_ADAPTER)
            sources = [self.fragment(f, e) for e in self.experts]
            if isinstance(target, nn.Parameter):
                target.copy_(uniform_average(sources))
                continue
            for name, p in target.named_parameters():
                p.copy_(uniform_average([s.get_parameter(name) for s in sources]))
        self._merged_key = key

    # ------------------------------------------------------------------------------ routing
    @property
    def training(self) -> bool:
        return self.tuner.training

    def routed_projections(self) -> list[str]:
        return list(self.route_names) if self.num_experts > 1 else []

    @contextlib.contextmanager
    def _experts_in_place(self, assignment: dict[str, int]) -> Iterator[None]:
        """Make the tuner's active adapter compute with `assignment` ({fragment: expert index})."""
        primary = self.experts[assignment[self.route_names[0]]] if assignment else self.experts[0]
        swaps = []
        try:
            for f, index in assignment.items():
                other = self.experts[index]
                if other != primary:
                    container = getattr(self.tuner, f)
                    container[primary], container[other] = container[other], container[primary]
                    swaps.append((container, other))
            previous = self.tuner._active_adapter
            # Set directly, not with set_adapter(): that would also freeze every other expert (requires_grad).
            self.tuner._active_adapter = [primary]
            try:
                yield
            finally:
                self.tuner._active_adapter = previous
        finally:
            for container, other in reversed(swaps):
                container[primary], container[other] = container[other], container[primary]

    def _run(self, assignment: dict[str, int], x, args, kwargs):
        with self._experts_in_place(assignment):
            return type(self.tuner).forward(self.tuner, x, *args, **kwargs)

    def _run_chunks(self, routes: dict[str, tuple], x, args, kwargs):
        """Route tuple of k experts per fragment: chunk i of the batch uses expert routes[f][i]."""
        k = len(next(iter(routes.values()))) if routes else 1
        if k == 1:
            return self._run({f: r[0] for f, r in routes.items()}, x, args, kwargs)
        if x.shape[0] % k:
            raise ValueError(f"a batch of {x.shape[0]} rows cannot be split into {k} routed chunks")
        chunks = x.split(x.shape[0] // k)
        return torch.cat(
            [self._run({f: r[i] for f, r in routes.items()}, chunk, args, kwargs) for i, chunk in enumerate(chunks)]
        )

    def _with_zero_grads_for_unselected(self, out: torch.Tensor, routes: dict[str, tuple]) -> torch.Tensor:
        """unselected_experts="decay": put every expert in the graph, so unselected ones get zero grads."""
        unused = [
            p
            for f, r in routes.items()
            for i, e in enumerate(self.experts)
            if i not in r
            for p in self.expert_parameters(e, (f,))
        ]
        if not unused:
            return out
        return out + 0.0 * sum(p.sum() for p in unused).to(out.dtype)

    def __call__(self, x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        if self.training:
            if self.train_routes is None:
                raise RuntimeError(
                    "AdaMix mixture layer called in training mode without routes: call the AdaMixModel "
                    "(or its consistency_step), not the wrapped model directly."
                )
            routes = {f: self.train_routes.get(f, (0,)) for f in self.route_names}
            out = self._run_chunks(routes, x, args, kwargs)
            if self.unselected_experts == "decay" and self.num_experts > 1:
                out = self._with_zero_grads_for_unselected(out, routes)
            return out
        if self.inference == "merge":
            self.refresh_merged()
            previous = self.tuner._active_adapter
            self.tuner._active_adapter = [MERGED_ADAPTER]
            try:
                return type(self.tuner).forward(self.tuner, x, *args, **kwargs)
            finally:
                self.tuner._active_adapter = previous
        if self.inference == "ensemble":  # mean of the M experts' outputs
            return torch.stack(
                [self._run({f: i for f in self.route_names}, x, args, kwargs) for i in range(self.num_experts)]
            ).mean(0)
        routes = {
            f: evaluation_route(self.inference, self.fixed_expert, self.router, self.num_experts, x)
            for f in self.route_names
        }
        if not routes or not isinstance(next(iter(routes.values())), torch.Tensor):
            return self._run_chunks(routes, x, args, kwargs)
        # random_token: every combination of experts over the routed fragments, then one per token.
        combos = list(itertools.product(range(self.num_experts), repeat=len(routes)))
        outs = torch.stack([self._run(dict(zip(routes, c)), x, args, kwargs) for c in combos])  # (C, ..., out)
        index = torch.zeros_like(next(iter(routes.values())))
        for r in routes.values():
            index = index * self.num_experts + r
        gather = index.unsqueeze(0).unsqueeze(-1).expand(1, *index.shape, outs.shape[-1])
        return outs.gather(0, gather).squeeze(0)


# ------------------------------------------------------------------------------------------- model
class PeftAdaMixModel(AdaMixModel):
    """AdaMixModel for adapter_type="peft"; `base_model` is a peft PeftModel holding the experts."""

    ADAPTER_TYPES = ("peft",)

    def __init__(self, model: nn.Module, config: AdaMixConfig):
        nn.Module.__init__(self)
        peft = import_peft()
        from peft.tuners.tuners_utils import BaseTunerLayer

        if isinstance(model, peft.PeftModel) or any(isinstance(m, BaseTunerLayer) for m in model.modules()):
            raise ValueError("this model already contains peft tuner layers; pass the original Hugging Face model")
        config.validate()
        self._check_adapter_type(config)
        self.config = copy.deepcopy(config)
        seed = (
            config.routing_seed
            if config.routing_seed is not None
            else int(torch.randint(2**62, (1,), device="cpu").item())
        )
        self.router = Router(seed)
        experts = expert_names(config.num_experts)

        head_names = task_head_parameter_names(model)
        head_params = {id(p) for n, p in model.named_parameters() if n in head_names}
        self._head_modules = sorted({n.split(".")[0] for n in head_names})
        train_head = config.train_head if config.train_head is not None else bool(head_names)

        peft_model = self._peft_model_with_experts(model, experts)
        tuners = self._tuner_layers_to_mix(peft_model, experts)
        self._install_mixture_layers(tuners, experts)
        self._check_experts_are_per_layer(experts)

        expert_ids = {id(p) for layer in self._layers.values() for p in layer.all_expert_parameters()}
        self._head_names = {n for n, p in peft_model.named_parameters() if id(p) in head_params}
        for _n, p in peft_model.named_parameters():
            p.requires_grad_(id(p) in expert_ids or (train_head and id(p) in head_params))
        self._train_head = train_head
        self._warned_regression = False

    def _peft_model_with_experts(self, model: nn.Module, experts: list[str]):
        """A plain PeftModel (task_type None: no per-adapter head copies) holding one trainable adapter per
        expert plus the merged one; `self.config.peft_config` becomes the config as peft resolved it (its
        target_modules, so checkpoints name what was adapted)."""
        peft = import_peft()
        user_config = peft_config_from_dict(self.config.peft_config)
        peft_type = user_config.peft_type.value
        inner = dataclasses.replace(user_config, task_type=None, inference_mode=False)
        peft_model = peft.get_peft_model(model, copy.deepcopy(inner), adapter_name=experts[0])
        for name in experts[1:] + [MERGED_ADAPTER]:
            try:
                peft_model.add_adapter(name, copy.deepcopy(inner))
            except (ValueError, TypeError, NotImplementedError) as error:
                raise ValueError(
                    f"AdaMix cannot mix {peft_type}: peft refuses to hold several {peft_type} adapters "
                    f"in one model ({error})"
                ) from error
        _refuse_adapter_switches(peft_model)
        self.base_model = peft_model
        resolved = peft_config_to_dict(peft_model.peft_config[experts[0]])
        resolved["task_type"] = self.config.peft_config.get("task_type")
        self.config.peft_config = resolved
        return peft_model

    def _tuner_layers_to_mix(self, peft_model, experts: list[str]) -> dict[str, nn.Module]:
        """name -> every peft tuner layer that holds expert 0's weights; `share` must name fragments of them."""
        from peft.tuners.tuners_utils import BaseTunerLayer

        peft_type = self.config.peft_config["peft_type"]
        tuners = {
            n: m
            for n, m in peft_model.named_modules()
            if isinstance(m, BaseTunerLayer)
            and any(experts[0] in _entries(getattr(m, f, None)) for f in m.adapter_layer_names)
        }
        if not tuners:
            raise ValueError(
                f"AdaMix cannot mix {peft_type}: its trainable weights live in no peft tuner layer "
                "(nothing to hold per-module experts)"
            )
        fragments = {
            f for m in tuners.values() for f in m.adapter_layer_names if experts[0] in _entries(getattr(m, f, None))
        }
        shared = shared_fragments(self.config)
        unknown = sorted(set(shared) - fragments - set(LORA_FAMILY_FRAGMENTS["up"] + LORA_FAMILY_FRAGMENTS["down"]))
        if unknown:
            raise ValueError(
                f"AdaMixConfig.share names {unknown}, which are not {peft_type} parameter fragments here; "
                f"the fragments of its tuner layers are {sorted(fragments)}"
            )
        return tuners

    def _install_mixture_layers(self, tuners: dict[str, nn.Module], experts: list[str]) -> None:
        """Each tuner layer's forward becomes a `PeftMixtureLayer`; experts start as copies of expert 0 (shared
        fragments ARE expert 0's, one object)."""
        shared = shared_fragments(self.config)
        self._layers: dict[str, PeftMixtureLayer] = {}
        with torch.no_grad():
            for name, tuner in tuners.items():
                layer = PeftMixtureLayer(tuner, self.config, self.router, shared)
                for f in layer.fragments:
                    container, first = getattr(tuner, f), layer.fragment(f, experts[0])
                    for e in experts[1:]:
                        if f in layer.shared:
                            container[e] = first
                        else:
                            for p, q in zip(layer.expert_parameters(e, (f,)), _fragment_parameters(first)):
                                p.copy_(q)
                tuner.forward = layer
                self._layers[name] = layer

    def _check_experts_are_per_layer(self, experts: list[str]) -> None:
        """Every weight peft created for an expert must be one layer's own fragment (else routing is wrong)."""
        owners: dict[int, str] = {}
        for name, layer in self._layers.items():
            for e in experts:
                for p in layer.expert_parameters(e, layer.route_names):
                    if owners.setdefault(id(p), name) != name:
                        raise ValueError(
                            f"AdaMix cannot mix {self.config.peft_config['peft_type']}: "
                            f"its trainable weights are shared "
                            f"between tuner layers ({owners[id(p)]} and {name}), so per-layer experts cannot be routed"
                        )
        reachable = {id(p) for layer in self._layers.values() for e in experts for p in layer.expert_parameters(e)}
        outside = [
            n
            for n, p in self.base_model.named_parameters(remove_duplicate=False)
            if any(f".{e}." in f".{n}." for e in experts) and id(p) not in reachable
        ]
        if outside:
            raise ValueError(
                f"AdaMix cannot mix {self.config.peft_config['peft_type']}: some of its trainable weights live outside "
                f"the tuner layers' adapter fragments (e.g. {outside[:3]}), where they cannot be routed per module"
            )

    # ----------------------------------------------------------------------------------- plumbing
    def mixture_layers(self) -> dict[str, PeftMixtureLayer]:
        return dict(self._layers)

    def _adapter_parameter_ids(self) -> set[int]:
        """Every expert's and the merged adapter's weights."""
        return {
            id(p)
            for layer in self._layers.values()
            for a in layer.experts + [MERGED_ADAPTER]
            for p in layer.expert_parameters(a)
        }

    def count_parameters(self) -> ParameterCounts:
        params = {id(p): p for p in self.base_model.parameters()}
        adapters = self._adapter_parameter_ids()
        head_ids = {id(p) for n, p in self.base_model.named_parameters() if n in self._head_names}
        return ParameterCounts(
            trainable=sum(p.numel() for p in params.values() if p.requires_grad),
            inference=sum(layer.inference_params() for layer in self._layers.values()),
            backbone=sum(p.numel() for i, p in params.items() if i not in adapters and i not in head_ids),
            head=sum(params[i].numel() for i in head_ids),
        )

    def _backbone_shapes(self) -> dict[str, list[int]]:
        adapters = self._adapter_parameter_ids()
        return {
            n: list(p.shape)
            for n, p in self.base_model.named_parameters()
            if id(p) not in adapters and n not in self._head_names
        }

    # -------------------------------------------------------------------------------------- merge
    def merged_state_dict(self) -> dict[str, torch.Tensor]:
        """The averaged adapter in peft's state-dict format (adapter names stripped), with a trained head."""
        from peft import get_peft_model_state_dict

        for layer in self._layers.values():
            layer.refresh_merged()
        state = get_peft_model_state_dict(self.base_model, adapter_name=MERGED_ADAPTER)
        if self._train_head:  # peft's modules_to_save entries: the head under its plain name
            state.update({n: p for n, p in self.base_model.named_parameters() if n in self._head_names})
        return {k: v.detach().clone() for k, v in state.items()}

    def merged_peft_config(self):
        """The tuner's PeftConfig for the merged model; a trained task head goes to modules_to_save."""
        config = peft_config_from_dict(self.config.peft_config)
        if self._train_head and self._head_modules:
            config.modules_to_save = sorted(set(config.modules_to_save or []) | set(self._head_modules))
        return config

    @torch.no_grad()
    def merge(self, fold_lora: bool = False) -> nn.Module:
        """A plain peft PeftModel of the same tuner type holding the experts' uniform average as "default".

        Save and serve it with peft alone (`merged.save_pretrained(dir)`, `PeftModel.from_pretrained`); its
        outputs equal this model's in eval mode with inference="merge". fold_lora=True returns instead the
        Hugging Face model with the averaged update folded into its weights (peft's merge_and_unload).
        This model is unchanged.
        """
        from peft import get_peft_model, set_peft_model_state_dict

        state = self.merged_state_dict()
        clone = copy.deepcopy(self.base_model)
        for module in clone.modules():
            for name in ("forward", *PEFT_ADAPTER_SWITCHES):  # the routing on each tuner layer, the refusals
                module.__dict__.pop(name, None)
        backbone = clone.unload()
        merged = get_peft_model(backbone, self.merged_peft_config())
        result = set_peft_model_state_dict(merged, state)
        if result.unexpected_keys:
            raise RuntimeError(f"merged adapter has weights the merged PeftModel lacks: {result.unexpected_keys[:5]}")
        merged.eval()
        return merged.merge_and_unload().eval() if fold_lora else merged
