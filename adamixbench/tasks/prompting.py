"""Prompt-based fine-tuning (LM-BFF / LiST style): label words at a mask token, scored by the MLM head.

Each example is wrapped in its task's manual template (`tasks.fewshot.PROMPTS`, LM-BFF's templates and
label words), e.g. SST-2: "<sentence> It was [MASK]." with label words terrible / great. The model is the
backbone's *ForMaskedLM; no classifier head is added. Its logits at the mask position, restricted to the
label-word ids, are the class logits:

* loss:     cross-entropy over the label words at the mask position (LM-BFF's `prompt` loss);
* evaluate: argmax over the label words, scored by `compute_glue_metrics` (accuracy; F1 for QQP on GLUE);
* every method trains through task_type "masked_lm" (`baselines`): PEFT methods keep the pretrained MLM
  head (tied output embedding + transform + bias) frozen, full fine-tuning trains it, as LM-BFF does.

AdaMix's consistency term (a choice of this suite: upstream AdaMix has no few-shot code, and LiST's
prompt code has no consistency term): `consistency_mask` marks the mask position, so the term is
AdaMix's symmetric KL between the two routed passes over the FULL vocabulary distribution at the mask
token, averaged over examples (one position per example), as its NLG code does over the vocabulary at
target tokens. The alternative, KL over the label words only, would leave the rest of the MLM
distribution unregularised; with the MLM head frozen both agree whenever the encoder outputs agree.

Data: the same loaders, subsampling and selection rules as classifier-head runs (`nlu.build_nlu_task`):
few-shot (`fewshot_k` set; LiST K-in-total splits or LM-BFF 16-per-class seeds) and full GLUE data for
the tasks that have a template (sst2, rte, mnli, qqp). MNLI / QQP few-shot evaluation needs their GLUE
dev sets, which are not shipped: the loader's error says how to provide them.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

import datasets
import torch
import torch.nn.functional as F
from transformers import AutoModelForMaskedLM

from adamixbench.tasks.classification import NLUTask, load_nlu_splits
from adamixbench.tasks.fewshot import build_prompt_inputs, get_prompt, label_word_ids
from adamixbench.tasks.glue import get_task


def no_mlm_head_error(name: str, detail: str) -> ValueError:
    return ValueError(
        f"backbone {name} has no masked-LM head ({detail}); prompt-based fine-tuning needs one "
        f"(e.g. roberta-large, bert-base-uncased); drop --prompt to train a classifier head"
    )


@contextlib.contextmanager
def _quiet_loading_report():
    """from_pretrained logs "Some weights ... were newly initialized" for a missing head; we raise instead."""
    logger = logging.getLogger("transformers.modeling_utils")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def load_masked_lm(path: str, name: str | None = None, revision: str | None = None):
    """AutoModelForMaskedLM with its pretrained MLM head, or a ValueError naming the problem and the fix.

    A checkpoint saved without the head (e.g. sentence-transformers' all-MiniLM-L6-v2: a bare BertModel)
    loads without error in transformers, with a randomly initialised head; that is detected from the
    loading report (missing weights outside the encoder, e.g. `cls.predictions.*` / `lm_head.*`).
    """
    name = repr(name) if name and name != path else repr(path)
    try:
        with _quiet_loading_report():
            model, info = AutoModelForMaskedLM.from_pretrained(path, output_loading_info=True, revision=revision)
    except ValueError as error:  # an architecture without a masked-LM class (GPT-2, LLaMA, ...)
        if "Unrecognized configuration class" in str(error):
            raise no_mlm_head_error(
                name, f"AutoModelForMaskedLM cannot load it: {str(error).splitlines()[0]}"
            ) from None
        raise
    prefix = f"{model.base_model_prefix}."
    missing = sorted(k for k in info.get("missing_keys", []) if not k.startswith(prefix))
    if missing:
        shown = ", ".join(missing[:4]) + (", ..." if len(missing) > 4 else "")
        raise no_mlm_head_error(name, f"the checkpoint at {path} lacks {shown}")
    return model


@dataclass
class PromptTask(NLUTask):
    """An NLUTask whose predictions are label words at the mask token (see the module docstring)."""

    mask_token_id: int = -1
    label_words: tuple[int, ...] = ()  # vocabulary ids, indexed by label id
    backbone_name: str | None = None  # for error messages (the trainer passes a resolved path)
    task_type: str = "masked_lm"

    def load_model(self, path: str, revision: str | None = None):
        return load_masked_lm(path, self.backbone_name, revision=revision)

    def label_logits(self, logits: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
        """(B, T, V) MLM logits -> (B, num_labels): the label words' logits at each row's mask token."""
        at_mask = input_ids == self.mask_token_id
        if at_mask.shape != logits.shape[:-1] or not bool((at_mask.sum(-1) == 1).all()):
            raise ValueError(
                f"prompt scoring needs exactly one mask token (id {self.mask_token_id}) per row; "
                f"found {at_mask.sum(-1).tolist()} for logits of shape {tuple(logits.shape)}"
            )
        return logits[at_mask][:, list(self.label_words)].float()

    def loss(self, logits: torch.Tensor, batch: dict) -> torch.Tensor:
        return F.cross_entropy(self.label_logits(logits, batch["input_ids"]), batch["labels"])

    def consistency_mask(self, batch: dict) -> torch.Tensor:
        return batch["input_ids"] == self.mask_token_id  # AdaMix: symmetric KL over the vocabulary at [MASK]

    def predict(self, logits: torch.Tensor, batch: dict) -> torch.Tensor:
        return self.label_logits(logits, batch["input_ids"]).argmax(-1)


def _encode(dataset: datasets.Dataset, tokenizer, task: str, max_len: int) -> datasets.Dataset:
    def encode(row):
        enc = dict(build_prompt_inputs(tokenizer, row, task, max_len))
        enc["labels"] = enc.pop("label")
        enc["length"] = len(enc["input_ids"])
        return enc

    return dataset.map(encode, remove_columns=dataset.column_names)


def build_prompt_task(cfg, tokenizer) -> PromptTask:
    """Load, subsample, split and tokenise `cfg.task` inside its prompt (the rules of `build_nlu_task`)."""
    get_prompt(cfg.task)  # a task without a template (cola, stsb, ...) fails here, before any data is read
    words = tuple(label_word_ids(tokenizer, cfg.task))  # also: the tokenizer must have a mask token
    if cfg.fewshot_k is None and get_task(cfg.task).is_regression:
        raise ValueError(f"--prompt does not support regression task {cfg.task}; drop --prompt")
    splits = load_nlu_splits(cfg)
    if len(words) != splits.num_labels:
        raise ValueError(f"the {cfg.task} prompt has {len(words)} label words for {splits.num_labels} classes")
    train, selection, report = splits.encoded(lambda ds: _encode(ds, tokenizer, cfg.task, cfg.max_seq_len))
    return PromptTask(
        name=cfg.task,
        family=splits.family,
        text_fields=splits.text_fields,
        num_labels=splits.num_labels,
        is_regression=False,
        primary_metric=splits.primary_metric,
        train=train,
        selection=selection,
        report=report,
        mask_token_id=tokenizer.mask_token_id,
        label_words=words,
        backbone_name=cfg.model,
    )
