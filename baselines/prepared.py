"""`PreparedModel`: what every method hands to the training engine.

    prepared.model                      # the nn.Module that is trained; forward(**batch) like the HF model
    prepared.training_loss(batch, fn)   # -> (loss, outputs); fn(logits, batch) -> task loss
    prepared.eval_model()               # the module used at evaluation (already in eval mode)
    prepared.param_counts()             # {"trainable", "inference", "backbone", "head"}
    prepared.trainable_parameters()     # what goes to the optimizer
    prepared.describe()                 # {"method": ..., "params": {...resolved...}}
    prepared.save_trained(dir)          # the trained weights in the method library's own format
    prepared.load_trained(dir)          # ... loaded back into a model prepared the same way
    prepared.rng_state(); prepared.set_rng_state(state)   # the method's own random generators (checkpoints)

Parameter accounting follows the paper's #Param column:
  backbone  = parameters of the pretrained model, task head excluded (counted before the method ran);
  head      = trainable parameters of the task head (what the head is: `adamix.task_head_parameter_names`,
              one rule for every method; seq_cls classifier / regression head; 0 for causal_lm
              and masked_lm, whose LM head is pretrained: the tied output embedding, plus for an MLM head its
              transform (dense + LayerNorm) and output bias; it belongs to the backbone and stays frozen for
              every PEFT method; full_ft trains it, as LM-BFF does);
  inference = extra parameters the method needs at inference, task head EXCLUDED (full fine-tuning: the
              whole backbone; prefix tuning: the prefix itself, not its training-time MLP; AdaMix: one
              merged module, not M experts);
  trainable = everything the optimizer updates, head included.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn as nn

# Trained weights of a method without a library format of its own (BitFit, plug-ins): the trainable
# parameters by their names in `prepared.model`, as safetensors.
TRAINABLE_FILE = "trainable.safetensors"

# seq_cls:   *ForSequenceClassification (encoder + new classification / regression head, trainable).
# causal_lm: *ForCausalLM / *LMHeadModel (decoder; the pretrained LM head is frozen for PEFT methods).
# masked_lm: *ForMaskedLM (encoder + its pretrained MLM head, used for prompt-based fine-tuning: label
#            words scored at the mask position; no new head; the MLM head is frozen for PEFT methods).
TASK_TYPES = ("seq_cls", "causal_lm", "masked_lm")
LM_TASK_TYPES = ("causal_lm", "masked_lm")

# Batch entries that are for the loss, not for the model's forward(). "consistency_mask" (NLG: which
# positions AdaMix's consistency term scores) is set by the engine and used by AdaMix only.
NON_MODEL_KEYS = ("labels", "consistency_mask")

TaskLossFn = Callable[[torch.Tensor, dict], torch.Tensor]  # (logits, batch) -> scalar loss


def find_head_modules(model: nn.Module, task_type: str) -> tuple[str, ...]:
    """Names of the top-level submodules that hold the task head of a seq_cls model (e.g. ("classifier",),
    DeBERTa ("classifier", "pooler")); () for causal_lm and masked_lm. What the head is, is the one rule of
    `adamix.task_head_parameter_names` (call this on the plain model, before a method wraps it)."""
    if task_type == "masked_lm":
        if _output_embeddings(model) is None:
            raise ValueError(
                f"{type(model).__name__} has no masked-LM head (get_output_embeddings() is None); "
                "task_type 'masked_lm' needs an *ForMaskedLM model"
            )
        return ()
    if task_type != "seq_cls":
        return ()
    from adamix import task_head_parameter_names  # the method core: torch + transformers only

    modules = tuple(sorted({n.split(".")[0] for n in task_head_parameter_names(model)}))
    if not modules:
        raise ValueError(
            f"{type(model).__name__} has no classification head (no parameters outside its pretrained backbone, "
            "or it is a language model); task_type 'seq_cls' needs an *ForSequenceClassification model"
        )
    return modules


def is_head_param(name: str, head_modules: tuple[str, ...]) -> bool:
    """Whether a parameter, named as in the prepared (possibly wrapped) model, belongs to the task head."""
    return any(part in head_modules for part in name.split("."))


def count_unique(params: Iterator[nn.Parameter]) -> int:
    seen, total = set(), 0
    for p in params:
        if id(p) not in seen:
            seen.add(id(p))
            total += p.numel()
    return total


def backbone_size(model: nn.Module, head_modules: tuple[str, ...]) -> int:
    """Pretrained parameters (tied weights once), task head excluded."""
    return count_unique(p for n, p in model.named_parameters() if not is_head_param(n, head_modules))


def _output_embeddings(model: nn.Module) -> nn.Module | None:
    get = getattr(model, "get_output_embeddings", None)
    return get() if callable(get) else None


def lm_head_parameters(model: nn.Module, task_type: str) -> list[nn.Parameter]:
    """The pretrained LM head of a plain Hugging Face model (call it BEFORE a method wraps the model).

    causal_lm: the output embedding. masked_lm: the output embedding (tied decoder) and everything else
    outside `model.base_model`: BERT `cls.predictions.{transform.dense, transform.LayerNorm, bias}`,
    RoBERTa `lm_head.{dense, layer_norm, bias}`, DistilBERT `vocab_transform / vocab_layer_norm / ...`.
    seq_cls: none.
    """
    if task_type not in LM_TASK_TYPES:
        return []
    head = _output_embeddings(model)
    params = {id(p): p for p in head.parameters()} if head is not None else {}
    backbone = getattr(model, "base_model", model)
    if task_type == "masked_lm" and backbone is not model:
        inside = {id(p) for p in backbone.parameters()}
        params.update({id(p): p for p in model.parameters() if id(p) not in inside})
    return list(params.values())


def freeze_parameters(params) -> None:
    for p in params:
        p.requires_grad_(False)


@dataclass
class PreparedModel:
    method: str
    model: nn.Module
    task_type: str
    params: dict = field(default_factory=dict)
    backbone_params: int | None = None
    head_modules: tuple[str, ...] = ()  # find_head_modules; () = no task head
    # Extra inference parameters of the method; None = every trainable non-head parameter.
    inference_params_fn: Callable[[PreparedModel], int] | None = None
    # True when the method trains the whole model (full fine-tuning): its weights are a backbone copy per
    # run, saved only on request (save_trained(full_weights=True)).
    trains_whole_model: bool = False

    # ---- training / evaluation -------------------------------------------------------------
    def training_loss(self, batch: dict, task_loss_fn: TaskLossFn):
        """One forward pass and the task loss: returns (loss, outputs).

        Same convention as `adamix.AdaMixModel.consistency_step`: the model gets the batch without its
        "labels" / "consistency_mask" entries and `task_loss_fn(logits, batch)` computes the loss, so every method is
        trained on exactly the same loss definition. `outputs` has `.logits`.
        """
        inputs = {k: v for k, v in batch.items() if k not in NON_MODEL_KEYS}
        outputs = self.model(**inputs)
        logits = outputs.logits if hasattr(outputs, "logits") else outputs[0]
        return task_loss_fn(logits, batch), outputs

    def eval_model(self) -> nn.Module:
        """The module to evaluate, switched to eval mode (call `.model.train()` to resume training)."""
        self.model.eval()
        return self.model

    # ---- evaluation routing (AdaMix: merge, random routes, fixed:k, ensemble) -----------------------
    @property
    def inference_mode(self) -> str | None:
        """The evaluation routing in use; None for a method without routing (every method but AdaMix)."""
        return None

    def set_inference(self, mode: str) -> None:
        """Switch the evaluation routing; a method without routing has none to switch."""
        raise ValueError(f"method {self.method!r} has no inference routing (AdaMix methods only); got {mode!r}")

    # ---- parameters ----------------------------------------------------------------------
    def named_trainable_parameters(self) -> list[tuple[str, nn.Parameter]]:
        return [(n, p) for n, p in self.model.named_parameters() if p.requires_grad]

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for _, p in self.named_trainable_parameters()]

    def method_parameters(self) -> list[tuple[str, nn.Parameter]]:
        """Trainable parameters that belong to the method itself (task head excluded)."""
        return [(n, p) for n, p in self.named_trainable_parameters() if not is_head_param(n, self.head_modules)]

    def param_counts(self) -> dict:
        trainable = count_unique(iter(self.trainable_parameters()))
        head = count_unique(p for n, p in self.named_trainable_parameters() if is_head_param(n, self.head_modules))
        if self.inference_params_fn is not None:
            inference = int(self.inference_params_fn(self))
        else:
            inference = count_unique(p for _, p in self.method_parameters())
        return {
            "trainable": trainable,
            "inference": inference,
            "backbone": int(self.backbone_params or 0),
            "head": head,
        }

    # ---- saved artifacts (each method family overrides these with its library's format) ---------
    def save_trained(self, directory: str | Path, full_weights: bool = False) -> dict | None:
        """Save the trained weights into `directory`; returns {"format": ..., "files": [...]}, or None when
        nothing is saved (a whole-model method without `full_weights`)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        if self.trains_whole_model:
            if not full_weights:
                return None
            self.model.save_pretrained(directory)  # a plain Hugging Face checkpoint (from_pretrained)
            return {"format": "transformers", "files": sorted(p.name for p in directory.iterdir())}
        from safetensors.torch import save_file

        tensors = {n: p.detach().cpu().contiguous() for n, p in self.named_trainable_parameters()}
        save_file(tensors, str(directory / TRAINABLE_FILE), metadata={"method": self.method})
        return {"format": "safetensors (trainable parameters)", "files": [TRAINABLE_FILE]}

    def load_trained(self, directory: str | Path) -> None:
        """Load weights written by `save_trained` into this (identically prepared) model."""
        directory = Path(directory)
        if self.trains_whole_model:
            loaded = type(self.model).from_pretrained(directory)
            copy_parameters(self.model, dict(loaded.named_parameters()), directory, strict=True)
            return
        from safetensors.torch import load_file

        copy_parameters(
            self.model,
            load_file(str(require_file(directory / TRAINABLE_FILE))),
            directory,
            expected={n for n, _ in self.named_trainable_parameters()},
        )

    # ---- random state of the method (checkpoints) ------------------------------------------------
    def rng_state(self) -> dict:
        """Random generators the method owns besides torch's global one (AdaMix: its router)."""
        return {}

    def set_rng_state(self, state: dict) -> None:
        pass

    def describe(self) -> dict:
        return {"method": self.method, "task_type": self.task_type, "params": dict(self.params)}

    def __repr__(self) -> str:  # keep printing a PreparedModel short
        return f"PreparedModel(method={self.method!r}, params={self.params!r}, counts={self.param_counts()!r})"


def require_file(path: Path) -> Path:
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: the run's saved weights are missing (a run saves them in "
            f"<run dir>/artifacts when it finishes; full fine-tuning only with save_full_weights)"
        )
    return path


def copy_parameters(
    model: nn.Module, tensors: dict, source: Path, strict: bool = False, expected: set | None = None
) -> None:
    """Copy saved tensors into `model`'s parameters of the same names; any mismatch is an error."""
    params = dict(model.named_parameters())
    expected = set(params) if strict else (expected if expected is not None else set(tensors))
    missing, unknown = sorted(expected - set(tensors)), sorted(set(tensors) - set(params))
    wrong = sorted(n for n in set(tensors) & set(params) if tensors[n].shape != params[n].shape)
    if missing or unknown or wrong:
        raise ValueError(
            f"saved weights in {source} do not fit this model (missing {missing[:3]}, unknown "
            f"{unknown[:3]}, other shapes {wrong[:3]}): load them into the method and backbone they were "
            f"trained with"
        )
    with torch.no_grad():
        for n, t in tensors.items():
            if n in params:
                params[n].copy_(t)


def wrap_module(method: str, module: nn.Module, task_type: str, params: dict) -> PreparedModel:
    """Default PreparedModel for an external prepare() that returned a bare module."""
    return PreparedModel(method=method, model=module, task_type=task_type, params=params)
