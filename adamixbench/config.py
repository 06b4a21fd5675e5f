"""RunConfig: one training run, resolved from the command line; invalid values fail before any work."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Optional

SELECTIONS = ("paper", "heldout", "last")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
# Default peak learning rates when a run does not set --lr. Full fine-tuning needs a small rate; the
# PEFT methods the larger rates their papers use (AdaMix GLUE scripts: 4e-4 BERT-base, 3e-4 RoBERTa-large).
DEFAULT_LR = {"full_ft": 2e-5, "bitfit": 1e-3, "prefix_tuning": 1e-3, "ia3": 3e-3}
PEFT_LR = 5e-4
NLG_TASKS = ("e2e", "webnlg", "dart")


@dataclass
class RunConfig:
    task: str
    method: str
    seed: int
    model: str
    out: str
    method_params: dict = field(default_factory=dict)
    epochs: float = 3.0
    lr: Optional[float] = None  # None: DEFAULT_LR per method, else PEFT_LR
    batch_size: int = 32
    eval_batch_size: int = 128
    max_seq_len: int = 128
    warmup_ratio: float = 0.06  # AdaMix GLUE scripts: 0.06, linear decay to 0
    warmup_steps: Optional[int] = None  # overrides warmup_ratio (AdaMix NLG scripts: 2000 / 2500 / 2000)
    weight_decay: float = 0.1  # AdaMix GLUE scripts: 0.1
    max_grad_norm: float = 1.0
    selection: Optional[str] = None  # None: "paper" for GLUE, "last" for few-shot and NLG (set on init)
    heldout_fraction: float = 0.1
    max_train_samples: Optional[int] = None
    max_eval_samples: Optional[int] = None
    data_seed: int = 0  # fixes subsamples / held-out splits across seeds and methods (paired comparisons)
    data_dir: Optional[str] = None
    glue_data_dir: Optional[str] = None
    fewshot_k: Optional[int] = None
    fewshot_split: int = 1
    fewshot_protocol: str = "list"
    # Prompt-based fine-tuning (LM-BFF / LiST style): score label words at a [MASK] with the backbone's
    # masked-LM head instead of training a classifier head. Needs a backbone with an MLM head.
    prompt: bool = False
    inference: Optional[str] = None  # AdaMix evaluation routing; None = the method's default ("merge")
    eval_inference_modes: list = field(default_factory=list)  # extra AdaMix routings scored at the end
    precision: str = "auto"  # auto = bf16 autocast on a GPU that supports it, fp32 on CPU
    device: str = "auto"
    max_steps: Optional[int] = None  # stop early (smoke tests)
    log_every: int = 10
    # Checkpoint / resume (adamixbench/checkpoint.py): a resumable checkpoint goes to <out>/checkpoint/
    # every N optimiser steps (None: off) and every M minutes of training (0: off); rerunning the same
    # command resumes from it. It is deleted when the run finishes unless keep_checkpoint.
    checkpoint_every_steps: Optional[int] = None
    checkpoint_every_minutes: float = 10.0
    keep_checkpoint: bool = False
    # Saved artifacts (<out>/artifacts/): every method saves its trained weights in its library's format;
    # full fine-tuning saves the whole model only with save_full_weights (a backbone copy per run).
    save_full_weights: bool = False
    # NLG only
    label_smoothing: float = 0.0
    num_beams: int = 10
    length_penalty: float = 0.8
    no_repeat_ngram_size: int = 4
    max_new_tokens: int = 64

    def __post_init__(self):
        def bad(name, allowed):
            raise ValueError(f"--{name.replace('_', '-')}={getattr(self, name)!r} is invalid; allowed: {allowed}")
        if self.selection is not None and self.selection not in SELECTIONS:
            bad("selection", SELECTIONS)
        if self.precision not in PRECISIONS:
            bad("precision", PRECISIONS)
        for name in ("batch_size", "eval_batch_size", "max_seq_len"):
            if getattr(self, name) < 1:
                bad(name, "an integer >= 1")
        if self.epochs <= 0:
            bad("epochs", "a number > 0")
        if self.lr is not None and self.lr <= 0:
            bad("lr", "a number > 0")
        if not 0 <= self.warmup_ratio < 1:
            bad("warmup_ratio", "a number in [0, 1)")
        if not 0 < self.heldout_fraction < 1:
            bad("heldout_fraction", "a number in (0, 1)")
        if self.warmup_steps is not None and self.warmup_steps < 0:
            bad("warmup_steps", "an integer >= 0")
        if self.checkpoint_every_minutes < 0:
            bad("checkpoint_every_minutes", "a number >= 0 (0: no time-based checkpoints)")
        for name in ("max_train_samples", "max_eval_samples", "max_steps", "checkpoint_every_steps"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                bad(name, "an integer >= 1")
        if not isinstance(self.method_params, dict):
            bad("method_params", "a JSON object, e.g. '{\"r\": 8}'")
        if self.fewshot_protocol not in ("list", "lmbff"):
            bad("fewshot_protocol", ("list", "lmbff"))
        if self.selection is None:  # upstream: best dev epoch for GLUE; last checkpoint for NLG; LiST has no dev
            self.selection = "paper" if self.family == "glue" else "last"

    @property
    def family(self) -> str:
        if self.task in NLG_TASKS:
            return "nlg"
        return "fewshot" if self.fewshot_k is not None else "glue"

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else DEFAULT_LR.get(self.method, PEFT_LR)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @staticmethod
    def parse_method_params(text: str) -> dict:
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"--method-params is not valid JSON ({error}): {text!r}; example: '{{\"r\": 8}}'") from None
        if not isinstance(value, dict):
            raise ValueError(f"--method-params must be a JSON object, e.g. '{{\"r\": 8}}', got {text!r}")
        return value
