"""The method registry: one name -> one `MethodSpec` -> one `prepare(model, task_type, params)`.

A method is a function that takes a freshly loaded Hugging Face model, modifies or wraps it so that
exactly the method's parameters are trainable, and returns a `PreparedModel`. Built-in methods live
in this package (one small module each) and register themselves on import. A NEW method does not need
this package to change: a run config can name it as ``"package.module:callable"`` (or
``"path/to/file.py:callable"``); the callable is either a `MethodSpec` or a bare ``prepare`` function.

    from baselines import prepare_model
    prepared = prepare_model("lora", hf_model, "seq_cls", {"r": 8})
    loss, outputs = prepared.training_loss(batch, task_loss_fn)
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch.nn as nn

from baselines.prepared import TASK_TYPES, PreparedModel, backbone_size, find_head_modules, wrap_module

PrepareFn = Callable[[nn.Module, str, dict], "PreparedModel | nn.Module"]

# The one reserved parameter: {"preset": "<name>"} expands to the method's named preset first,
# explicit params then override it.
PRESET_KEY = "preset"


#: the default peak learning rate of a method that registers none (`MethodSpec.default_lr`)
DEFAULT_PEFT_LR = 5e-4


@dataclass
class MethodSpec:
    """Everything the engine needs to know about one fine-tuning method.

    name:            registry name (also what run records call the method).
    prepare:         prepare(model, task_type, params) -> PreparedModel (or a bare nn.Module, which is
                     then wrapped with the default training step and parameter counts).
    defaults:        every parameter the method accepts, with its default. A value of None means
                     "resolved per backbone / task at prepare time" (see each method's module).
    presets:         named parameter sets, e.g. the paper rows {"table1_3.0M": {"bottleneck": 64}}.
    task_types:      subset of ("seq_cls", "causal_lm", "masked_lm").
    allowed_params:  optional callable returning extra accepted keys (e.g. every AdaMixConfig field),
                     None = only `defaults`' keys. `accept_any=True` skips the check entirely
                     (external bare functions whose parameters are unknown).
    validate:        validate(params, task_type): raises ValueError naming a parameter whose type or
                     range is wrong; gets the resolved params (defaults <- preset <- given). It runs
                     without a model, before any job (`snakemake -n`, `python -m adamixbench validate`),
                     so every method owns the check of its own parameters.
    inference_modes: inference_modes(params, task_type) -> the evaluation routings the method accepts
                     (AdaMix: merge, ..., fixed:0..M-1); None = the method has no routing, so the
                     engine's --inference / --eval-inference-modes do not apply to it.
    default_lr:      the peak learning rate of a run that sets none (--lr null): PEFT methods train few
                     parameters and take large rates (DEFAULT_PEFT_LR; AdaMix's GLUE scripts 3e-4 / 4e-4),
                     full fine-tuning a small one.
    """

    name: str
    prepare: PrepareFn
    defaults: dict = field(default_factory=dict)
    description: str = ""
    reference: str = ""
    presets: dict[str, dict] = field(default_factory=dict)
    task_types: tuple[str, ...] = TASK_TYPES
    allowed_params: Callable[[], Iterable[str]] | None = None
    accept_any: bool = False
    validate: Callable[[dict, str], None] | None = None
    inference_modes: Callable[[dict, str], Sequence[str]] | None = None
    default_lr: float = DEFAULT_PEFT_LR

    def check(self, params: Mapping[str, Any] | None, task_type: str) -> dict:
        """The resolved params for `task_type`, or ValueError naming what is wrong and how to fix it.
        Needs no model: the pipeline runs it for every run before any job starts."""
        if task_type not in self.task_types:
            raise ValueError(
                f"method '{self.name}' does not support task_type {task_type!r} (supports {list(self.task_types)})"
            )
        resolved = self.resolve_params(params)
        if self.validate is not None:
            self.validate(resolved, task_type)
        return resolved

    def allowed_keys(self) -> set[str]:
        keys = set(self.defaults)
        if self.allowed_params is not None:
            keys |= set(self.allowed_params())
        return keys

    def resolve_params(self, params: Mapping[str, Any] | None = None) -> dict:
        """defaults <- preset <- explicit params, with unknown keys rejected."""
        params = dict(params or {})
        resolved = copy.deepcopy(self.defaults)
        preset = params.pop(PRESET_KEY, None)
        if preset is not None:
            if not isinstance(preset, str) or preset not in self.presets:
                raise ValueError(
                    f"method '{self.name}' has no preset {preset!r}; presets: {sorted(self.presets) or 'none'}"
                )
            resolved.update(copy.deepcopy(self.presets[preset]))
        if not self.accept_any:
            allowed = self.allowed_keys()
            unknown = sorted(set(params) - allowed)
            if unknown:
                raise ValueError(
                    f"method '{self.name}' got unknown parameter(s) {unknown}; allowed: "
                    f"{sorted(allowed) + [PRESET_KEY]}"
                    + (f" (presets: {sorted(self.presets)})" if self.presets else "")
                )
        resolved.update(params)
        if preset is not None:
            resolved[PRESET_KEY] = preset
        return resolved


_REGISTRY: dict[str, MethodSpec] = {}


def register_method(
    name: str,
    prepare: PrepareFn | None = None,
    *,
    defaults: dict | None = None,
    description: str = "",
    reference: str = "",
    presets: dict[str, dict] | None = None,
    task_types: Iterable[str] = TASK_TYPES,
    allowed_params: Callable[[], Iterable[str]] | None = None,
    validate: Callable[[dict, str], None] | None = None,
    inference_modes: Callable[[dict, str], Sequence[str]] | None = None,
    default_lr: float = DEFAULT_PEFT_LR,
    overwrite: bool = False,
):
    """Register a method. Usable directly or as a decorator (``@register_method("bitfit", defaults=...)``)."""

    def _register(fn: PrepareFn) -> PrepareFn:
        if name in _REGISTRY and not overwrite:
            raise ValueError(f"method '{name}' is already registered (pass overwrite=True to replace it)")
        bad = sorted(set(task_types) - set(TASK_TYPES))
        if bad:
            raise ValueError(f"method '{name}': unknown task types {bad}; allowed: {list(TASK_TYPES)}")
        _REGISTRY[name] = MethodSpec(
            name=name,
            prepare=fn,
            defaults=dict(defaults or {}),
            description=description or (inspect.getdoc(fn) or "").split("\n")[0],
            reference=reference,
            presets=dict(presets or {}),
            task_types=tuple(task_types),
            allowed_params=allowed_params,
            validate=validate,
            inference_modes=inference_modes,
            default_lr=default_lr,
        )
        return fn

    return _register(prepare) if prepare is not None else _register


def list_methods() -> list[str]:
    return sorted(_REGISTRY)


def _unknown_method_error(name: str, why: str = "") -> ValueError:
    return ValueError(
        f"unknown method {name!r}{': ' + why if why else ''}. Registered methods: {', '.join(list_methods())}. "
        "A method defined outside the `baselines` package can be named as 'package.module:callable' "
        "(importable from sys.path) or 'path/to/file.py:callable', where the callable is a "
        "baselines.MethodSpec or a prepare(model, task_type, params) function returning a "
        "baselines.PreparedModel (or the nn.Module to train)."
    )


def _import_reference(ref: str) -> Any:
    module_part, _, attr_path = ref.partition(":")
    if not module_part or not attr_path:
        raise _unknown_method_error(ref, "an external reference needs the form 'module:callable'")
    from_file = module_part.endswith(".py") or "/" in module_part
    path = Path(module_part).expanduser().resolve() if from_file else None
    if from_file and not path.is_file():
        raise _unknown_method_error(ref, f"file {path} does not exist")
    try:
        if from_file:
            mod_name = f"_baselines_external_{abs(hash(str(path)))}"
            module = sys.modules.get(mod_name)
            if module is None:
                spec = importlib.util.spec_from_file_location(mod_name, path)
                module = importlib.util.module_from_spec(spec)
                sys.modules[mod_name] = module
                try:
                    spec.loader.exec_module(module)
                except BaseException:
                    del sys.modules[mod_name]  # a later attempt must not get the half-executed module
                    raise
        else:
            module = importlib.import_module(module_part)
    except ImportError as exc:
        raise _unknown_method_error(ref, f"cannot import module {module_part!r} ({exc})") from exc
    except Exception as exc:  # noqa: BLE001 - the plug-in's own code failed while it was imported
        raise ValueError(
            f"method {ref!r}: importing the plug-in module {module_part!r} raised "
            f"{type(exc).__name__}: {exc}; fix the module (try `python -c 'import {module_part}'`)"
        ) from exc
    obj: Any = module
    for part in attr_path.split("."):
        if not hasattr(obj, part):
            raise _unknown_method_error(ref, f"module {module_part!r} has no attribute {attr_path!r}")
        obj = getattr(obj, part)
    return obj


def get_method(name_or_ref: str | MethodSpec) -> MethodSpec:
    """A registered name, or an external 'module:callable' / 'file.py:callable' reference."""
    if isinstance(name_or_ref, MethodSpec):
        return name_or_ref
    if not isinstance(name_or_ref, str):
        raise TypeError(f"method must be a name or 'module:callable' string, got {type(name_or_ref).__name__}")
    if name_or_ref in _REGISTRY:
        return _REGISTRY[name_or_ref]
    if ":" not in name_or_ref:
        raise _unknown_method_error(name_or_ref)
    obj = _import_reference(name_or_ref)
    if isinstance(obj, MethodSpec):
        return obj
    if not callable(obj):
        raise _unknown_method_error(name_or_ref, f"{type(obj).__name__} object is neither a MethodSpec nor callable")
    # A bare prepare function: it may declare `default_params` (then those keys are checked) and
    # `task_types` as attributes; otherwise every param is passed through unchecked.
    defaults = getattr(obj, "default_params", None)
    return MethodSpec(
        name=name_or_ref,
        prepare=obj,
        defaults=dict(defaults or {}),
        description=(inspect.getdoc(obj) or "").split("\n")[0],
        reference=name_or_ref,
        task_types=tuple(getattr(obj, "task_types", TASK_TYPES)),
        accept_any=defaults is None,
    )


def prepare_model(
    method: str | MethodSpec,
    model: nn.Module,
    task_type: str,
    params: Mapping[str, Any] | None = None,
) -> PreparedModel:
    """Apply `method` to `model` (modified in place or wrapped) and return the `PreparedModel`.

    task_type: "seq_cls" (encoder + classification/regression head; the head stays trainable),
    "causal_lm" (decoder LM; its LM head is the tied/pretrained output embedding and is frozen by every
    PEFT method) or "masked_lm" (*ForMaskedLM encoder for prompt-based fine-tuning; no new head, the
    pretrained MLM head -- tied output embedding + transform + bias -- is frozen by every PEFT method).
    """
    spec = get_method(method)
    if task_type not in TASK_TYPES:
        raise ValueError(f"unknown task_type {task_type!r}; allowed: {list(TASK_TYPES)}")
    resolved = spec.check(params, task_type)
    head_modules = find_head_modules(model, task_type)
    backbone = backbone_size(model, head_modules)  # counted before the method adds or wraps anything
    result = spec.prepare(model, task_type, resolved)
    if isinstance(result, PreparedModel):
        prepared = result
    elif isinstance(result, nn.Module):
        prepared = wrap_module(spec.name, result, task_type, resolved)
    else:
        raise TypeError(
            f"method '{spec.name}': prepare() returned {type(result).__name__}; expected a PreparedModel or nn.Module"
        )
    prepared.method = spec.name
    if prepared.backbone_params is None:
        prepared.backbone_params = backbone
    if not prepared.head_modules:
        prepared.head_modules = head_modules
    return prepared
