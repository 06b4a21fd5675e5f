"""The training loop shared by every method and task.

A lean loop rather than Hugging Face `Trainer`: AdaMix's step is a fused two-pass consistency step,
every method is trained through the same `PreparedModel.training_loss`, model selection has two named
protocols (best epoch on dev, or on a held-out split of train), a NaN loss must end the run as a
recorded failure, and the record needs real (non-padding) token throughput. Each of those would be an
override of Trainer internals; here they are a few readable lines each.
"""

from __future__ import annotations

import math
import time
import traceback
from collections import deque
from contextlib import nullcontext

import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm
from transformers import AutoTokenizer, get_linear_schedule_with_warmup, set_seed
from transformers.trainer_pt_utils import LengthGroupedSampler

from baselines import prepare_model

from .backbones import resolve_backbone
from .config import NLG_TASKS, RunConfig
from .optim import parameter_groups
from .record import FAILURE_CLASSES, SCHEMA_VERSION, now, peak_memory_mb, provenance

LAST_LOSSES = 20


class NonFiniteLoss(RuntimeError):
    pass


def pick_device(cfg: RunConfig) -> torch.device:
    if cfg.device != "auto":
        return torch.device(cfg.device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def autocast(cfg: RunConfig, device: torch.device):
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(cfg.precision)
    if cfg.precision == "auto" and device.type == "cuda" and torch.cuda.is_bf16_supported():
        dtype = torch.bfloat16
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext()


def build_task(cfg: RunConfig, tokenizer):
    from .nlu import build_nlu_task
    from .tasks.fewshot import FEWSHOT_TASKS
    from .tasks.glue import GLUE_TASKS

    if cfg.family == "nlg":
        from .nlg_engine import build_nlg_task
        return build_nlg_task(cfg, tokenizer)
    if cfg.family == "glue" and cfg.task not in GLUE_TASKS:
        raise ValueError(f"unknown task {cfg.task!r}; GLUE tasks: {', '.join(sorted(GLUE_TASKS))}; NLG tasks: "
                         f"{', '.join(NLG_TASKS)}; few-shot tasks ({', '.join(sorted(FEWSHOT_TASKS))}) need --fewshot-k")
    if cfg.prompt:
        from .prompting import build_prompt_task
        return build_prompt_task(cfg, tokenizer)
    return build_nlu_task(cfg, tokenizer)


def _loader(dataset, collate, batch_size: int, seed: int | None = None) -> DataLoader:
    columns = [c for c in dataset.column_names if c != "length"]
    features = dataset.select_columns(columns)
    if seed is None:  # evaluation: fixed order
        return DataLoader(features, batch_size=batch_size, collate_fn=collate)
    # Training: length-grouped batches (less padding) in a seeded random order.
    sampler = LengthGroupedSampler(batch_size, lengths=dataset["length"], generator=torch.Generator().manual_seed(seed))
    return DataLoader(features, batch_size=batch_size, sampler=sampler, collate_fn=collate)


def _set_inference(model, mode: str | None) -> None:
    if mode is not None and hasattr(model, "set_inference"):
        model.set_inference(mode)


def _trainable_state(model) -> dict[str, torch.Tensor]:
    return {n: p.detach().to("cpu", copy=True) for n, p in model.named_parameters() if p.requires_grad}


def _restore(model, state: dict[str, torch.Tensor]) -> None:
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n in state:
                p.copy_(state[n])


def train_step(prepared, task, batch: dict, optimizer, scheduler, scaler, cfg: RunConfig,
               device: torch.device) -> torch.Tensor:
    """One optimiser step on one batch already on `device`; returns the loss (a tensor, not synced).

    The loop's step, and the one benchmarks/throughput.py times. A non-finite loss still steps the
    optimiser; the caller checks the returned loss and ends the run (fp16: GradScaler skips that step).
    """
    mask = task.consistency_mask(batch)
    if mask is not None:
        batch = {**batch, "consistency_mask": mask}
    with autocast(cfg, device):
        loss, _ = prepared.training_loss(batch, task.loss)
    scaler.scale(loss).backward()  # fp16 needs loss scaling; a no-op scaler otherwise
    scaler.unscale_(optimizer)
    if cfg.max_grad_norm > 0:
        torch.nn.utils.clip_grad_norm_(prepared.trainable_parameters(), cfg.max_grad_norm)
    scaler.step(optimizer)
    scaler.update()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.detach()


def train_and_evaluate(cfg: RunConfig) -> dict:
    """Run one configuration; returns its run record. Bad input raises before training starts."""
    started = now()
    set_seed(cfg.seed)
    device = pick_device(cfg)
    backbone = resolve_backbone(cfg.model)
    tokenizer = AutoTokenizer.from_pretrained(backbone)
    task = build_task(cfg, tokenizer)
    selection = cfg.selection
    if selection != "last" and task.selection is None:
        raise ValueError(f"--selection {selection} needs a selection split, which {task.family} task {cfg.task} "
                         f"does not have; use --selection last")
    set_seed(cfg.seed)  # same initial weights for a seed whatever the data loading consumed
    model = task.load_model(backbone)
    try:
        prepared = prepare_model(cfg.method, model, task.task_type, cfg.method_params)
    except ValueError:
        raise
    except Exception as error:  # noqa: BLE001 - a plug-in's prepare() failed: its bug, named, before any training
        where = traceback.extract_tb(error.__traceback__)[-1]
        raise ValueError(f"method {cfg.method!r}: prepare() raised {type(error).__name__}: {error} "
                         f"(at {where.filename}:{where.lineno}); fix the method") from None
    model = prepared.model.to(device)
    _set_inference(model, cfg.inference)
    counts = prepared.param_counts()
    collate = task.collator(tokenizer)
    record = {
        "schema_version": SCHEMA_VERSION, "status": "ok", "failure_class": None, "failure_reason": None,
        "suite": cfg.suite, "experiment": cfg.experiment, "label": cfg.label,
        "task": cfg.task, "task_family": task.family, "method": cfg.method, "seed": cfg.seed, "model": cfg.model,
        "selection": selection, "inference_mode": getattr(getattr(model, "config", None), "inference", None)
        if hasattr(model, "set_inference") else None,
        "primary_metric": task.primary_metric, "scores": {}, "best_epoch": None, "history": [], "loss_curve": [],
        "params": counts, "cost": {}, "method_params": prepared.describe().get("params", {}),
        "spec": cfg.spec(), "resolved": {"learning_rate": cfg.learning_rate, "backbone_path": backbone},
    }
    train_time = eval_time = 0.0
    real_tokens = 0
    step = epoch = 0
    last_losses = deque(maxlen=LAST_LOSSES)  # [step, loss] of the latest steps: kept in a failed record
    try:
        groups = parameter_groups(model, prepared.named_trainable_parameters(), cfg.weight_decay, cfg.weight_decay_scope)
        optimizer = torch.optim.AdamW(groups, lr=cfg.learning_rate)
        steps_per_epoch = math.ceil(len(task.train) / cfg.batch_size)
        total_steps = max(1, math.ceil(steps_per_epoch * cfg.epochs))
        if cfg.max_steps is not None:
            total_steps = min(total_steps, cfg.max_steps)
        warmup = cfg.warmup_steps if cfg.warmup_steps is not None else int(cfg.warmup_ratio * total_steps)
        scheduler = get_linear_schedule_with_warmup(optimizer, warmup, total_steps)
        record["schedule"] = {"total_steps": total_steps, "warmup_steps": warmup}  # what the LR schedule used
        scaler = torch.amp.GradScaler(device.type, enabled=cfg.precision == "fp16")
        best_score, best_state = -math.inf, None
        progress = tqdm(total=total_steps, desc=f"{cfg.task}/{cfg.method}/seed{cfg.seed}", mininterval=5)
        while step < total_steps:
            epoch += 1
            model.train()
            tic = time.perf_counter()
            running, seen = 0.0, 0
            for batch in _loader(task.train, collate, cfg.batch_size, seed=cfg.seed * 1000 + epoch):
                if step >= total_steps:
                    break
                batch = {k: v.to(device) for k, v in batch.items()}
                real_tokens += int(batch["attention_mask"].sum()) if "attention_mask" in batch else batch["input_ids"].numel()
                loss = train_step(prepared, task, batch, optimizer, scheduler, scaler, cfg, device)
                last_losses.append([step + 1, loss.item()])
                if not math.isfinite(last_losses[-1][1]):
                    raise NonFiniteLoss(f"nan loss at step {step + 1} (epoch {epoch})")
                step += 1
                running += last_losses[-1][1]
                seen += 1
                if step % cfg.log_every == 0:
                    record["loss_curve"].append([step, running / seen])
                progress.update(1)
            train_time += time.perf_counter() - tic
            entry = {"epoch": epoch, "step": step, "train_loss": running / max(seen, 1), "lr": scheduler.get_last_lr()[0]}
            if task.selection is not None and selection != "last":
                tic = time.perf_counter()
                scores = task.evaluate(prepared.eval_model(), _loader(task.selection, collate, cfg.eval_batch_size),
                                       device, "selection")
                eval_time += time.perf_counter() - tic
                entry["eval"] = scores
                score = scores[task.primary_metric]
                if score is not None and math.isfinite(score) and score > best_score:
                    best_score, best_state, record["best_epoch"] = score, _trainable_state(model), epoch
            record["history"].append(entry)
            progress.set_postfix(loss=f"{entry['train_loss']:.4f}", **{k: f"{v:.2f}" for k, v in entry.get("eval", {}).items()})
        progress.close()
        if selection == "last" or best_state is None:
            record["best_epoch"] = epoch
        else:
            _restore(model, best_state)
        tic = time.perf_counter()
        record["scores"] = _score_report_splits(task, prepared, collate, cfg, device)
        modes = [m for m in cfg.eval_inference_modes if hasattr(model, "set_inference")]
        if modes:
            default_mode = model.config.inference
            record["scores_by_inference"] = {}
            for mode in modes:
                model.set_inference(mode)
                record["scores_by_inference"][mode] = _score_report_splits(task, prepared, collate, cfg, device)
            model.set_inference(default_mode)
        eval_time += time.perf_counter() - tic
        primary = record["scores"].get(task.primary_metric)
        if primary is None or not math.isfinite(primary):
            _fail(record, "undefined_metric", f"{task.primary_metric} is undefined (constant predictions)")
    except NonFiniteLoss as error:
        _fail(record, "non_finite_loss", str(error))
    except Exception as error:  # noqa: BLE001 - any crash during training is recorded, not lost
        _fail(record, "crash", f"{type(error).__name__}: {error}")
        record["traceback"] = traceback.format_exc()
    if record["status"] == "failed":
        record["failed_at"] = {"step": step, "epoch": epoch, "last_losses": list(last_losses)}
    record["cost"] = {
        "train_time_s": round(train_time, 3), "eval_time_s": round(eval_time, 3),
        "train_tokens_per_s": round(real_tokens / train_time, 1) if train_time > 0 else None,
        "train_real_tokens": real_tokens, "peak_memory_mb": round(peak_memory_mb(device), 1),
    }
    record["report_splits"] = list(task.report)
    record["metric_notes"] = dict(getattr(task, "notes", {}))  # e.g. METEOR unavailable without Java, and why
    record["provenance"] = provenance(device, started)
    return record


def _fail(record: dict, failure_class: str, reason: str) -> None:
    assert failure_class in FAILURE_CLASSES, failure_class
    record.update(status="failed", failure_class=failure_class, failure_reason=reason)


def _score_report_splits(task, prepared, collate, cfg, device) -> dict[str, float]:
    scores = {}
    for split, dataset in task.report.items():
        suffix = {"validation_mismatched": "_mm"}.get(split, "")
        split_scores = task.evaluate(prepared.eval_model(), _loader(dataset, collate, cfg.eval_batch_size), device, split)
        scores.update({f"{name}{suffix}": value for name, value in split_scores.items()})
    return scores
