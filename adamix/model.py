"""AdaMixModel: injects mixture layers into a Hugging Face model, routes them, merges and saves them."""

from __future__ import annotations

import copy
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
from safetensors.torch import load_file, save_file

from .config import AdaMixConfig
from .consistency import consistency_loss
from .layer import MixtureAdapterLayer, MixtureLayer, MixtureLoRALayer
from .merge import merged_module
from .routing import Router, draw_training_routes, select_pass
from .targets import find_target_modules, fused_qkv_slices

CONFIG_FILE = "adamix_config.json"
RESAVE = "the checkpoint is corrupt or truncated: save it again with AdaMixModel.save_pretrained"
WEIGHTS_FILE = "adamix_model.safetensors"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class ParameterCounts:
    trainable: int  # what the optimiser updates: all experts (+ the task head when trained)
    inference: int  # after merging, task head excluded: what the paper's #Param column counts
    backbone: int  # frozen pretrained weights (task head excluded)
    head: int  # task head (classifier / regressor), counted apart as the paper does


@dataclass
class ConsistencyStepOutput:
    loss: torch.Tensor  # task_loss + consistency_weight * consistency
    task_loss: torch.Tensor  # on the first pass only, as upstream
    consistency: torch.Tensor
    logits: torch.Tensor  # first pass


def _logits(outputs) -> torch.Tensor:
    return outputs.logits if hasattr(outputs, "logits") else outputs[0]


def task_head_parameter_names(model: nn.Module) -> set[str]:
    """Names of the task head's parameters in a Hugging Face model: every parameter outside its pretrained
    backbone (`model.base_model`), e.g. BERT's `classifier`, RoBERTa's `classifier` (dense + out_proj),
    DeBERTa's `pooler` + `classifier`. A language model (causal or masked: `get_output_embeddings()` is
    not None) has none: what lies outside its backbone is its pretrained LM head (output embedding, MLM
    transform), part of the backbone. The suite's one rule: AdaMix trains and counts these as the head,
    and every method of `baselines` derives its head from it."""
    get_output_embeddings = getattr(model, "get_output_embeddings", None)
    if callable(get_output_embeddings) and get_output_embeddings() is not None:
        return set()
    backbone = getattr(model, "base_model", model)
    if backbone is model:
        return set()
    inside = {id(p) for p in backbone.parameters()}
    return {n for n, p in model.named_parameters() if id(p) not in inside}


class AdaMixModel(nn.Module):
    """A Hugging Face model whose target modules carry AdaMix mixtures; forward() is the model's.

    Builds the built-in mixtures (adapter_type "adapter" / "lora"); a subclass builds each other adapter
    type (ADAPTER_TYPES). `get_adamix_model` and `load_adamix_model` (adamix/mapping.py) pick the class."""

    ADAPTER_TYPES = ("adapter", "lora")

    @classmethod
    def _check_adapter_type(cls, config: AdaMixConfig) -> None:
        if config.adapter_type not in cls.ADAPTER_TYPES:
            raise ValueError(
                f"{cls.__name__} builds adapter_type {list(cls.ADAPTER_TYPES)}, not {config.adapter_type!r}: use "
                "adamix.get_adamix_model(model, config) / adamix.load_adamix_model(model, dir), which pick the class"
            )

    def __init__(self, model: nn.Module, config: AdaMixConfig):
        super().__init__()
        if any(isinstance(m, MixtureLayer) for m in model.modules()):
            raise ValueError("this model already contains AdaMix layers; pass the original Hugging Face model")
        config.validate()
        self._check_adapter_type(config)
        self.config = copy.deepcopy(config)
        self.base_model = model
        model_type = getattr(getattr(model, "config", None), "model_type", None)
        seed = (
            config.routing_seed
            if config.routing_seed is not None
            else int(torch.randint(2**62, (1,), device="cpu").item())
        )
        self.router = Router(seed)
        names = find_target_modules(model, model_type, config.adapter_type, config.placement, config.target_modules)
        self.config.target_modules = names  # resolved: saved checkpoints name exactly what was adapted
        self._layers: dict[str, MixtureLayer] = {}
        for name in names:
            parent_name, _, attr = name.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            base = getattr(parent, attr)
            if self.config.adapter_type == "adapter":
                layer = MixtureAdapterLayer(base, self.config, self.router)
            else:
                slices = fused_qkv_slices(model_type, name, base, self.config.fused_qkv_parts)
                layer = MixtureLoRALayer(base, self.config, self.router, slices)
            layer.to(device=base.weight.device, dtype=base.weight.dtype)
            setattr(parent, attr, layer)
            self._layers[name] = layer
        self._head_names = task_head_parameter_names(model)
        train_head = config.train_head if config.train_head is not None else bool(self._head_names)
        adamix_ids = {id(p) for layer in self._layers.values() for p in self._expert_parameters(layer)}
        for n, p in model.named_parameters():
            p.requires_grad_(id(p) in adamix_ids or (train_head and n in self._head_names))
        self._warned_regression = False

    # ----------------------------------------------------------------------------------- plumbing
    @staticmethod
    def _expert_parameters(layer: MixtureLayer):
        return [p for proj in layer.projections().values() for p in proj.parameters()]

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.base_model, name)

    def mixture_layers(self) -> dict[str, MixtureLayer]:
        return dict(self._layers)

    def _assign_routes(self, routes: list[dict[str, tuple]]) -> None:
        for layer, layer_routes in zip(self._layers.values(), routes):
            layer.train_routes = layer_routes

    def forward(self, *args, **kwargs):
        if self.training:  # a fresh, independent route for every mixture projection
            self._assign_routes(draw_training_routes(self.router, list(self._layers.values()), 1))
        return self.base_model(*args, **kwargs)

    def set_inference(self, mode: str) -> None:
        """Switch the evaluation routing (e.g. for the merge / random / fixed / ensemble ablation)."""
        checked = copy.copy(self.config)
        checked.inference = mode
        checked.validate()
        self.config.inference = mode
        for layer in self._layers.values():
            layer.inference, layer.fixed_expert = mode, checked.fixed_expert()

    # ------------------------------------------------------------------------------- consistency
    def consistency_step(
        self, batch: dict, task_loss_fn, mask: torch.Tensor | None = None, fused: bool = True
    ) -> ConsistencyStepOutput:
        """Task loss on one routed pass + consistency_weight * agreement with a second routed pass.

        `batch` holds the model inputs (a "labels" entry is passed to `task_loss_fn(logits, batch)` but
        not to the model). fused=True runs both passes as ONE forward over the duplicated batch, each half
        with its own routes and its own dropout; fused=False runs two forwards with the same routes.
        """
        if not self.training:
            raise RuntimeError("consistency_step is a training step: call model.train() first")
        inputs = {k: v for k, v in batch.items() if k != "labels"}
        weight = self.config.consistency_weight
        if weight == 0:
            logits = _logits(self(**inputs))
            task = task_loss_fn(logits, batch)
            return ConsistencyStepOutput(task, task, task.new_zeros(()), logits)
        routes = draw_training_routes(self.router, list(self._layers.values()), 2)
        if fused:
            size = next(v.shape[0] for v in inputs.values() if torch.is_tensor(v) and v.dim() > 0)
            doubled = {
                k: torch.cat([v, v]) if torch.is_tensor(v) and v.dim() > 0 and v.shape[0] == size else v
                for k, v in inputs.items()
            }
            self._assign_routes(routes)
            logits_a, logits_b = _logits(self.base_model(**doubled)).chunk(2)
        else:
            self._assign_routes(select_pass(routes, 0))
            logits_a = _logits(self.base_model(**inputs))
            self._assign_routes(select_pass(routes, 1))
            logits_b = _logits(self.base_model(**inputs))
        if self.config.consistency_kind == "sym_kl" and logits_a.shape[-1] == 1 and not self._warned_regression:
            warnings.warn(
                "consistency_kind='sym_kl' on a single-logit (regression) head is identically zero, as "
                "upstream; use consistency_kind='mse' for a real regulariser",
                stacklevel=2,
            )
            self._warned_regression = True
        task = task_loss_fn(logits_a, batch)
        agreement = consistency_loss(logits_a, logits_b, mask, self.config.consistency_kind)
        return ConsistencyStepOutput(task + weight * agreement, task, agreement, logits_a)

    @property
    def head_parameter_names(self) -> frozenset[str]:
        """Names (in `base_model`) of the task head's parameters (`task_head_parameter_names`)."""
        return frozenset(self._head_names)

    # ------------------------------------------------------------------------------ accounting
    def count_parameters(self) -> ParameterCounts:
        adamix = sum(p.numel() for layer in self._layers.values() for p in self._expert_parameters(layer))
        params = dict(self.base_model.named_parameters())
        head = sum(params[n].numel() for n in self._head_names)
        total = sum(p.numel() for p in params.values())
        return ParameterCounts(
            trainable=sum(p.numel() for p in params.values() if p.requires_grad),
            inference=sum(layer.inference_params() for layer in self._layers.values()),
            backbone=total - adamix - head,
            head=head,
        )

    # ---------------------------------------------------------------------------------- merging
    @torch.no_grad()
    def merge(self, fold_lora: bool = True) -> nn.Module:
        """A plain copy of the model with each mixture averaged into one adapter (or folded LoRA update).

        Its outputs equal this model's in eval mode with inference="merge". This model is unchanged.
        """
        replacements = {id(layer): merged_module(layer, fold_lora) for layer in self._layers.values()}
        merged = copy.deepcopy(self.base_model, memo=dict(replacements))
        return merged.eval()

    # ------------------------------------------------------------------------------ save / load
    def _saved_parameters(self) -> dict[str, torch.Tensor]:
        return {n: p for n, p in self.base_model.named_parameters() if p.requires_grad}

    def _backbone_shapes(self) -> dict[str, list[int]]:
        """Shapes of the frozen pretrained weights: the fingerprint a checkpoint must be loaded into."""
        return {
            n: list(p.shape)
            for n, p in self.base_model.named_parameters()
            if not p.requires_grad and n not in self._head_names
        }

    def save_pretrained(self, directory: str | Path) -> None:
        """Trainable weights (experts + head) as safetensors, and the config as JSON."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        tensors = {n: p.detach().cpu().contiguous() for n, p in self._saved_parameters().items()}
        save_file(tensors, str(directory / WEIGHTS_FILE), metadata={"format": "adamix", "version": str(FORMAT_VERSION)})
        meta = {
            "format_version": FORMAT_VERSION,
            "config": self.config.to_dict(),
            "base_model": {
                "class": type(self.base_model).__name__,
                "model_type": getattr(getattr(self.base_model, "config", None), "model_type", None),
                "name_or_path": getattr(getattr(self.base_model, "config", None), "_name_or_path", None),
            },
            "parameters": {n: list(t.shape) for n, t in tensors.items()},
            "backbone_shapes": self._backbone_shapes(),
        }
        (directory / CONFIG_FILE).write_text(json.dumps(meta, indent=2) + "\n")

    @classmethod
    def from_pretrained(cls, model: nn.Module, directory: str | Path) -> AdaMixModel:
        """Rebuild the mixtures on `model` and load saved weights; any mismatch is an error.

        Everything is checked before `model` is touched: the files (complete, parseable, finite weights,
        consistent with each other) and their fit to `model`, by building the mixtures on a weightless
        (meta-device) copy of it first (a full copy for peft tuners, which initialise from real weights).
        On any error `model` is left exactly as it was."""
        directory = Path(directory)
        meta, config, tensors = _read_checkpoint(directory)
        cls._check_adapter_type(config)
        saved_type = meta["base_model"]["model_type"]
        model_type = getattr(getattr(model, "config", None), "model_type", None)
        if saved_type != model_type:
            raise ValueError(
                f"checkpoint {directory} was trained on model_type={saved_type!r} but the given "
                f"backbone is model_type={model_type!r}; load it into the same architecture"
            )
        # peft tuners initialise experts from real weights (copies of expert 0, DoRA's weight norms), which a
        # meta-device copy has not got: they are tried on a full copy of the backbone instead.
        trial = copy.deepcopy(model) if config.adapter_type == "peft" else _weightless_copy(model)
        try:
            shadow = cls(trial, config)
        except ValueError as error:
            raise ValueError(f"checkpoint {directory} does not fit the given backbone: {error}") from error
        saved_shapes, shapes = meta["backbone_shapes"], shadow._backbone_shapes()
        if saved_shapes != shapes:
            differ = sorted(n for n in set(saved_shapes) | set(shapes) if saved_shapes.get(n) != shapes.get(n))
            raise ValueError(
                f"checkpoint {directory} was trained on a different backbone: {len(differ)} backbone weights differ "
                f"in name or shape (e.g. {differ[:3]}). Load it into the backbone it was trained on "
                f"({meta['base_model']})."
            )
        expected = {n: tuple(p.shape) for n, p in shadow._saved_parameters().items()}
        problems = _name_shape_problems(expected, {n: tuple(t.shape) for n, t in tensors.items()}, "model")
        if problems:
            raise ValueError(
                f"checkpoint {directory} does not match the given backbone ({problems}). "
                f"Load it into the backbone it was trained on ({meta['base_model']})."
            )
        adamix = cls(model, config)  # checked on the copy above: cannot fail half-way on the caller's model
        with torch.no_grad():
            for n, p in adamix._saved_parameters().items():
                p.copy_(tensors[n].to(p.device, p.dtype))
        return adamix


class CheckpointError(ValueError):
    """An AdaMix checkpoint directory that cannot be loaded: a file missing, corrupt or incomplete, or
    holding non-finite weights. The message names the file and what to do."""


META_KEYS = ("format_version", "config", "base_model", "parameters", "backbone_shapes")


def read_checkpoint_config(directory: str | Path) -> tuple[dict, AdaMixConfig]:
    """(metadata, config) of a checkpoint directory, both files there and the metadata checked;
    CheckpointError otherwise. The weights are not read."""
    directory = Path(directory)
    config_path, weights_path = directory / CONFIG_FILE, directory / WEIGHTS_FILE
    for path in (config_path, weights_path):
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} not found: an AdaMix checkpoint directory holds "
                f"{CONFIG_FILE} and {WEIGHTS_FILE} (written by AdaMixModel.save_pretrained)"
            )
    try:
        meta = json.loads(config_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{config_path}: not valid JSON ({error}); {RESAVE}") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{config_path}: expected a JSON object, got {type(meta).__name__}; {RESAVE}")
    missing = [k for k in META_KEYS if k not in meta]
    if not missing and not (isinstance(meta["base_model"], dict) and "model_type" in meta["base_model"]):
        missing = ["base_model.model_type"]
    if missing:
        raise CheckpointError(
            f"{config_path}: incomplete, missing {missing} (a complete file has {list(META_KEYS)}); {RESAVE}"
        )
    if meta["format_version"] != FORMAT_VERSION:
        raise CheckpointError(
            f"{config_path}: format_version {meta['format_version']!r} is not supported (expected {FORMAT_VERSION})"
        )
    try:
        config = AdaMixConfig.from_dict(meta["config"])
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{config_path}: invalid `config`: {error}") from None
    return meta, config


def _read_checkpoint(directory: Path) -> tuple[dict, AdaMixConfig, dict[str, torch.Tensor]]:
    """(metadata, config, tensors) of a checkpoint directory, every file checked; CheckpointError otherwise."""
    meta, config = read_checkpoint_config(directory)
    config_path, weights_path = directory / CONFIG_FILE, directory / WEIGHTS_FILE
    try:
        tensors = load_file(str(weights_path))
    except Exception as error:  # noqa: BLE001 - safetensors raises its own SafetensorError, OSError, ...
        raise CheckpointError(
            f"{weights_path}: cannot read it as safetensors ({type(error).__name__}: {error}); {RESAVE}"
        ) from None
    problems = _name_shape_problems(
        {n: tuple(s) for n, s in meta["parameters"].items()},
        {n: tuple(t.shape) for n, t in tensors.items()},
        CONFIG_FILE,
    )
    if problems:
        raise CheckpointError(
            f"{weights_path} does not hold the weights {config_path.name} lists ({problems}); {RESAVE}"
        )
    bad = sorted(n for n, t in tensors.items() if t.is_floating_point() and not bool(torch.isfinite(t).all()))
    if bad:
        raise CheckpointError(
            f"{weights_path}: non-finite weights (NaN or inf) in {len(bad)} tensor(s), e.g. "
            f"{bad[:3]}: the run that saved it diverged; retrain (or load an earlier checkpoint)"
        )
    return meta, config, tensors


def _name_shape_problems(expected: dict, found: dict, what: str) -> str:
    """'' when `found` has exactly `expected`'s names and shapes, else what differs (missing / unexpected /
    shape mismatches) in words."""
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    wrong = sorted(
        f"{n}: checkpoint {found[n]} vs {what} {expected[n]}"
        for n in set(expected) & set(found)
        if tuple(found[n]) != tuple(expected[n])
    )
    if not (missing or unexpected or wrong):
        return ""
    return (
        f"missing: {missing[:5]}{'...' if len(missing) > 5 else ''}; "
        f"unexpected: {unexpected[:5]}{'...' if len(unexpected) > 5 else ''}; "
        f"shape mismatches: {wrong[:5]}{'...' if len(wrong) > 5 else ''}"
    )


def _weightless_copy(model: nn.Module) -> nn.Module:
    """A structural copy of `model` whose parameters and buffers live on the meta device (no memory, no
    copy of the weights); tied weights stay tied. Used to try an injection without touching `model`."""
    memo: dict[int, torch.Tensor] = {}
    for tensor in [*model.parameters(), *model.buffers()]:
        if id(tensor) not in memo:
            empty = torch.empty_like(tensor, device="meta")
            memo[id(tensor)] = (
                nn.Parameter(empty, requires_grad=tensor.requires_grad) if isinstance(tensor, nn.Parameter) else empty
            )
    return copy.deepcopy(model, memo)
