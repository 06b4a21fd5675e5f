"""NLU tasks for the trainer: GLUE and few-shot classification / regression with a classifier head."""

from __future__ import annotations

from dataclasses import dataclass, field

import datasets
import numpy as np
import torch
import torch.nn.functional as F
from transformers import AutoModelForSequenceClassification, DataCollatorWithPadding

from adamixbench.metrics import Evaluation
from adamixbench.metrics.glue import compute_metrics
from adamixbench.tasks import family_of, primary_metric
from adamixbench.tasks.fewshot import FEWSHOT_TASKS, load_fewshot_for_run
from adamixbench.tasks.glue import GLUE_TASKS, get_task, load_glue_for_run

#: metric names per task: the GLUE tasks' own, plus the few-shot sentence tasks (accuracy, as in LM-BFF).
TASK_METRICS: dict[str, tuple[str, ...]] = {
    **{name: spec.metrics for name, spec in GLUE_TASKS.items()},
    "mpqa": ("accuracy",),
    "subj": ("accuracy",),
}


def compute_glue_metrics(task: str, predictions, references) -> dict[str, float]:
    """All metrics of `task` in percent (`adamixbench.metrics.glue.compute_metrics`), e.g.
    `{"accuracy": 91.2, "f1": 93.8}` for MRPC; STS-B takes float scores, the others class ids."""
    if task not in TASK_METRICS:
        raise ValueError(f"no metrics defined for task {task!r}; known tasks: {', '.join(TASK_METRICS)}")
    regression = task in GLUE_TASKS and GLUE_TASKS[task].is_regression
    return compute_metrics(TASK_METRICS[task], predictions, references, regression=regression)


@dataclass
class NLUTask:
    """Tokenised splits plus the loss and scoring rules of one classification / regression task."""

    name: str
    family: str  # "glue" | "fewshot"
    text_fields: tuple[str, ...]
    num_labels: int
    is_regression: bool
    primary_metric: str
    train: datasets.Dataset
    selection: datasets.Dataset | None  # per-epoch model selection split (None: keep the last epoch)
    report: dict[str, datasets.Dataset] = field(default_factory=dict)  # split -> dataset scored in the record
    task_type: str = "seq_cls"

    def load_model(self, path: str, revision: str | None = None):
        # A checkpoint fine-tuned on another task keeps its backbone; the task head is re-initialised.
        return AutoModelForSequenceClassification.from_pretrained(
            path, num_labels=self.num_labels, ignore_mismatched_sizes=True, revision=revision
        )

    def collator(self, tokenizer):
        return DataCollatorWithPadding(tokenizer)

    def loss(self, logits: torch.Tensor, batch: dict) -> torch.Tensor:
        if self.is_regression:
            return F.mse_loss(logits.squeeze(-1).float(), batch["labels"].float())
        return F.cross_entropy(logits.float(), batch["labels"])

    def consistency_mask(self, batch: dict) -> None:
        return None  # one prediction per example

    def predict(self, logits: torch.Tensor, batch: dict) -> torch.Tensor:
        return logits.float().squeeze(-1) if self.is_regression else logits.argmax(-1)

    @torch.no_grad()
    def evaluate(self, model, loader, device, split: str | None = None) -> Evaluation:
        predictions, references = [], []
        for batch in loader:
            batch = {k: v.to(device) for k, v in batch.items()}
            labels = batch.pop("labels")
            predictions.append(self.predict(model(**batch).logits, batch))
            references.append(labels)
        preds = torch.cat(predictions).cpu().numpy()
        refs = torch.cat(references).cpu().numpy()
        return Evaluation(compute_glue_metrics(self.name, preds, refs))


def _tokenize(dataset: datasets.Dataset, tokenizer, text_fields, max_len: int) -> datasets.Dataset:
    def encode(rows):
        encoded = tokenizer(*[rows[f] for f in text_fields], truncation=True, max_length=max_len)
        encoded["labels"] = rows["label"]
        return encoded

    tokenized = dataset.map(encode, batched=True, remove_columns=dataset.column_names)
    return tokenized.add_column("length", [len(ids) for ids in tokenized["input_ids"]])


def _subsample(dataset: datasets.Dataset, limit: int | None, seed: int) -> datasets.Dataset:
    if limit is None or limit >= len(dataset):
        return dataset
    order = np.random.RandomState(seed).permutation(len(dataset))[:limit]
    return dataset.select(sorted(order.tolist()))


@dataclass
class NLUSplits:
    """Untokenised splits of one run, loaded, subsampled and split by the run config's rules."""

    family: str
    text_fields: tuple[str, ...]
    num_labels: int
    is_regression: bool
    primary_metric: str
    train: datasets.Dataset
    selection: datasets.Dataset | None
    report: dict[str, datasets.Dataset]

    def encoded(self, encode) -> tuple[datasets.Dataset, datasets.Dataset | None, dict[str, datasets.Dataset]]:
        """(train, selection, report) through `encode` (which adds a "length" column), each distinct dataset
        once (with `paper` selection the selection split IS the first report split).

        The evaluation splits come sorted by length (a stable sort): evaluation batches then hold
        sentences of similar length and carry little padding. Every GLUE metric is a function of the
        (prediction, label) pairs, not of their order, so no score depends on it.
        """

        def for_evaluation(ds):
            return encode(ds).sort("length")

        report = {split: for_evaluation(ds) for split, ds in self.report.items()}
        same = [split for split, ds in self.report.items() if ds is self.selection]
        selection = (
            report[same[0]] if same else (for_evaluation(self.selection) if self.selection is not None else None)
        )
        return encode(self.train), selection, report


def load_nlu_splits(cfg) -> NLUSplits:
    """GLUE (from the run's data source: tasks/data_source.py) or a few-shot split; subsampled; selection split
    chosen."""
    family = family_of(cfg.task, cfg.fewshot_k)
    few_shot = family == "fewshot"
    if few_shot:
        spec = FEWSHOT_TASKS[cfg.task]
        train, evaluation = load_fewshot_for_run(cfg)
        report = {"validation": evaluation}
        text_fields, regression = spec.text_fields, False
        num_labels = len(spec.label_names)
    else:
        spec = get_task(cfg.task)
        train = load_glue_for_run(cfg, "train")
        report = {split: load_glue_for_run(cfg, split) for split in spec.dev_splits}
        text_fields, regression = spec.text_fields, spec.is_regression
        num_labels = spec.num_labels
    train = _subsample(train, cfg.max_train_samples, cfg.data_seed)
    report = {split: _subsample(ds, cfg.max_eval_samples, cfg.data_seed) for split, ds in report.items()}
    selection = None
    if cfg.selection == "heldout":
        # Carve the selection split out of train, so the reported dev set never influences the choice.
        parts = train.train_test_split(
            test_size=cfg.heldout_fraction,
            seed=cfg.data_seed,
            stratify_by_column=None if regression or few_shot else "label",
        )
        train, selection = parts["train"], parts["test"]
    elif cfg.selection == "paper":
        selection = report[next(iter(report))]  # upstream: best epoch on the dev set that is reported
    return NLUSplits(
        family, text_fields, num_labels, regression, primary_metric(cfg.task, family), train, selection, report
    )


def build_nlu_task(cfg, tokenizer) -> NLUTask:
    """The classifier-head task of `cfg.task`: its splits, tokenised."""
    splits = load_nlu_splits(cfg)
    train, selection, report = splits.encoded(lambda ds: _tokenize(ds, tokenizer, splits.text_fields, cfg.max_seq_len))
    return NLUTask(
        name=cfg.task,
        family=splits.family,
        text_fields=splits.text_fields,
        num_labels=splits.num_labels,
        is_regression=splits.is_regression,
        primary_metric=splits.primary_metric,
        train=train,
        selection=selection,
        report=report,
    )
