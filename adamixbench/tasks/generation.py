"""NLG tasks for the trainer: E2E / WebNLG / DART with a causal LM, completion-only loss, beam search.

Sequence layout, as the LoRA/AdaMix NLG code feeds GPT-2 (`gpt2_encode.py --add_bos --add_eos`):
`<bos> <source> <space + target> <eos>`; the loss and AdaMix's consistency term cover only the target
tokens and the closing eos. Decoding continues `<bos> <source>` with beam search (upstream: beam 10,
length penalty 0.8, no_repeat_ngram_size 4, at most 64 new tokens) and stops at eos. A tokenizer without
a bos token uses eos in its place (GPT-2's bos and eos are the same token).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import datasets
import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM

from adamixbench.metrics import Evaluation
from adamixbench.metrics.nlg import numeric_scores, score_e2e, score_webnlg, write_e2e_files, write_webnlg_files
from adamixbench.tasks.nlg import PRIMARY_METRIC, load_nlg_splits

IGNORE = -100


@dataclass
class NLGCollator:
    """Right-pads training rows (with labels); left-pads generation prompts (no labels)."""

    pad_id: int

    def __call__(self, features: list[dict]) -> dict:
        width = max(len(f["input_ids"]) for f in features)
        generation = "labels" not in features[0]
        ids, mask, labels, groups = [], [], [], []
        for f in features:
            pad = width - len(f["input_ids"])
            if generation:
                ids.append([self.pad_id] * pad + f["input_ids"])
                mask.append([0] * pad + [1] * len(f["input_ids"]))
                groups.append(f["group"])
            else:
                ids.append(f["input_ids"] + [self.pad_id] * pad)
                mask.append([1] * len(f["input_ids"]) + [0] * pad)
                labels.append(f["labels"] + [IGNORE] * pad)
        batch = {"input_ids": torch.tensor(ids), "attention_mask": torch.tensor(mask)}
        batch["group" if generation else "labels"] = torch.tensor(groups if generation else labels)
        return batch


@dataclass(frozen=True)
class Decoding:
    """How a run decodes: the run's decoding options, all the task needs of its run config to decode."""

    num_beams: int
    length_penalty: float
    no_repeat_ngram_size: int
    max_new_tokens: int

    @classmethod
    def of(cls, cfg) -> Decoding:
        return cls(cfg.num_beams, cfg.length_penalty, cfg.no_repeat_ngram_size, cfg.max_new_tokens)


@dataclass(frozen=True)
class Generations:
    """The decoded texts of one split with their grouped references, written in the files the official
    scorers read (E2E: e2e-metrics' hypothesis / reference files; WebNLG and DART: GenerationEval's)."""

    task: str
    hypotheses: list[str]
    references: list[list[str]]

    def write(self, folder: Path, split: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        hyp = folder / f"{split}.hyp.txt"
        if self.task == "e2e":
            write_e2e_files(self.hypotheses, self.references, hyp, folder / f"{split}.ref.txt")
        else:
            write_webnlg_files(self.hypotheses, self.references, hyp, folder / f"{split}.ref")


@dataclass
class NLGTask:
    name: str
    tokenizer: object
    decoding: Decoding
    label_smoothing: float
    train: datasets.Dataset | None
    selection: datasets.Dataset | None
    report: dict[str, datasets.Dataset]
    references: dict[str, list[list[str]]]  # split -> references per group (index = group id)
    primary_metric: str = PRIMARY_METRIC
    family: str = "nlg"
    task_type: str = "causal_lm"

    def load_model(self, path: str, revision: str | None = None):
        return AutoModelForCausalLM.from_pretrained(path, revision=revision)

    def collator(self, tokenizer):
        return NLGCollator(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id)

    def loss(self, logits: torch.Tensor, batch: dict) -> torch.Tensor:
        # Position t predicts token t + 1: the labels move left instead of the logits, so the full-vocabulary
        # logits are used as they are (a view), not copied as a shifted slice. Cross-entropy runs in fp32
        # (autocast casts its input), on every position; the last one and the prompt / padding are ignored.
        labels = batch["labels"]
        targets = torch.cat([labels[:, 1:], labels.new_full((labels.shape[0], 1), IGNORE)], dim=1)
        return F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]),
            targets.reshape(-1),
            ignore_index=IGNORE,
            label_smoothing=self.label_smoothing,
        )

    def consistency_mask(self, batch: dict) -> torch.Tensor:
        """Logit positions that predict a completion token (the upstream NLG consistency positions)."""
        mask = torch.zeros_like(batch["labels"], dtype=torch.bool)
        mask[:, :-1] = batch["labels"][:, 1:] != IGNORE
        return mask

    @torch.no_grad()
    def generate(self, model, batch: dict) -> torch.Tensor:
        """The new tokens of one left-padded batch of prompts, decoded with the run's settings."""
        decoding, tok = self.decoding, self.tokenizer
        beam = (
            {"num_beams": decoding.num_beams, "length_penalty": decoding.length_penalty}
            if decoding.num_beams > 1
            else {}
        )
        generated = model.generate(
            **batch,
            **beam,
            no_repeat_ngram_size=decoding.no_repeat_ngram_size,
            max_new_tokens=decoding.max_new_tokens,
            eos_token_id=tok.eos_token_id,
            pad_token_id=self.collator(tok).pad_id,
            do_sample=False,
        )
        return generated[:, batch["input_ids"].shape[1] :]

    @torch.no_grad()
    def evaluate(self, model, loader, device, split: str) -> Evaluation:
        """Scores of the split's decoded texts, with the texts (the trainer writes them next to the record)."""
        model = decoding_model(model)
        hypotheses: dict[int, str] = {}
        for batch in loader:  # prompts sorted by length (see _generation_rows): little left padding
            groups = batch.pop("group").tolist()
            batch = {k: v.to(device) for k, v in batch.items()}
            texts = self.tokenizer.batch_decode(self.generate(model, batch), skip_special_tokens=True)
            hypotheses.update({g: t.strip() for g, t in zip(groups, texts)})
        refs = self.references[split]
        hyps = [hypotheses[i] for i in range(len(refs))]
        result = (score_e2e if self.name == "e2e" else score_webnlg)(hyps, refs)
        return Evaluation(numeric_scores(result), Generations(self.name, hyps, refs), result.get("unavailable", {}))


def decoding_model(model):
    """The module that decodes: an AdaMix-LoRA model with merged inference is folded into its weights
    (W + (alpha / r) * mean(B) @ mean(A), as loralib merges LoRA for evaluation upstream), which makes
    every decoding step cost the plain backbone; any other model decodes as it is."""
    config = getattr(model, "config", None)
    if (
        hasattr(model, "merge")
        and getattr(config, "adapter_type", None) == "lora"
        and getattr(config, "inference", None) == "merge"
    ):
        return model.merge(fold_lora=True)
    return model


def _prompt_ids(tokenizer, source: str) -> list[int]:
    bos = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    return [bos] + tokenizer(source, add_special_tokens=False)["input_ids"]


def _training_rows(examples, tokenizer, max_len: int) -> datasets.Dataset:
    eos = tokenizer.eos_token_id
    rows = []
    for ex in examples:
        prompt = _prompt_ids(tokenizer, ex.source)
        completion = tokenizer(" " + ex.target, add_special_tokens=False)["input_ids"] + [eos]
        ids = (prompt + completion)[:max_len]
        labels = ([IGNORE] * len(prompt) + completion)[:max_len]
        rows.append({"input_ids": ids, "labels": labels, "length": len(ids)})
    return datasets.Dataset.from_list(rows)


def _generation_rows(groups, tokenizer, max_len: int) -> datasets.Dataset:
    rows = [{"input_ids": _prompt_ids(tokenizer, g.source)[-max_len:], "group": i} for i, g in enumerate(groups)]
    for row in rows:
        row["length"] = len(row["input_ids"])
    # Decoded in order of prompt length: batches of similar prompts need little padding (hypotheses are
    # keyed by group, so the order does not change any score).
    return datasets.Dataset.from_list(sorted(rows, key=lambda row: row["length"]))


def build_nlg_task(cfg, tokenizer) -> NLGTask:
    """Training rows (one per reference), generation prompts (one per input) and grouped references."""
    if tokenizer.eos_token_id is None:
        raise ValueError(f"tokenizer of {cfg.model!r} has no eos token; NLG training needs one to end completions")
    train, report_split, report_groups, held = load_nlg_splits(cfg)
    references = {report_split: [list(g.references) for g in report_groups]}
    selection = None
    if held is not None:
        references["selection"] = [list(g.references) for g in held]
        selection = _generation_rows(held, tokenizer, cfg.max_seq_len)
    return NLGTask(
        name=cfg.task,
        tokenizer=tokenizer,
        decoding=Decoding.of(cfg),
        label_smoothing=cfg.label_smoothing,
        train=_training_rows(train, tokenizer, cfg.max_seq_len),
        selection=selection,
        report={report_split: _generation_rows(report_groups, tokenizer, cfg.max_seq_len)},
        references=references,
    )
