"""What the trainer needs from a task (`Task`), and the one place that picks a run's task class.

A task only computes: it gets what it needs (NLG: the tokenizer, decoding settings, label smoothing),
never the run config or its folder. The trainer keeps the rest: it writes an `Evaluation`'s `outputs` under
the run folder and its `unavailable` metrics into the record (docs/CONTRACTS.md, "Engine task interface").
The three classes are `classification.NLUTask` (GLUE and few-shot with a classifier head),
`prompting.PromptTask` (few-shot or GLUE through a masked-LM head and label words) and
`generation.NLGTask` (E2E / WebNLG / DART with a causal LM); tests/engine/test_task_facts.py checks that
each has every member of `Task`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from adamixbench.tasks import family_of, unknown_task_message

if TYPE_CHECKING:
    import datasets
    import torch

    from adamixbench.metrics import Evaluation


class Task(Protocol):
    name: str
    family: str  # tasks.FAMILIES
    primary_metric: str  # the record's `primary_metric`, the column tables and model selection read
    task_type: str  # peft's task type of the model it loads ("seq_cls", "causal_lm", ...): methods need it
    train: datasets.Dataset | None  # tokenised; None only for a task built to rescore
    selection: datasets.Dataset | None  # per-epoch model selection split (None: keep the last epoch)
    report: dict[str, datasets.Dataset]  # split -> dataset scored into the record

    def load_model(self, path: str, revision: str | None = None) -> torch.nn.Module:
        """The backbone with this task's head (a head trained on another task is re-initialised); `revision`:
        the pinned commit of a hub backbone (adamixbench/sources/pins.py), passed to `from_pretrained`."""

    def collator(self, tokenizer):
        """Pads a list of examples into a batch; `labels` / `consistency_mask` are for the loss only."""

    def loss(self, logits: torch.Tensor, batch: dict) -> torch.Tensor:
        """The task loss of one batch (fp32)."""

    def consistency_mask(self, batch: dict) -> torch.Tensor | None:
        """Positions scored by AdaMix's consistency term (None: one prediction per example)."""

    def evaluate(self, model, loader, device, split: str | None = None) -> Evaluation:
        """One split scored in paper scale (percent)."""


def build_task(cfg, tokenizer) -> Task:
    """The task of a run (`cfg`: an `engine.config.RunConfig`), tokenised: the family decides the class, a
    prompt turns classification into label-word prediction."""
    family = family_of(cfg.task, cfg.fewshot_k)
    message = unknown_task_message(cfg.task, family)
    if message:
        raise ValueError(message)
    if family == "nlg":
        from adamixbench.tasks.generation import build_nlg_task

        return build_nlg_task(cfg, tokenizer)
    if cfg.prompt:
        from adamixbench.tasks.prompting import build_prompt_task

        return build_prompt_task(cfg, tokenizer)
    from adamixbench.tasks.classification import build_nlu_task

    return build_nlu_task(cfg, tokenizer)
