"""The training loop shared by every method and task, in named steps: setup, train epoch (+ end of
epoch), select, score, record.

A lean loop rather than Hugging Face `Trainer`: AdaMix's step is a fused two-pass consistency step,
every method is trained through the same `PreparedModel.training_loss`, model selection has two named
protocols (best epoch on dev, or on a held-out split of train), a NaN loss must end the run as a
recorded failure, the record needs real (non-padding) token throughput, and a killed or preempted run
resumes from its checkpoint to the same record (adamixbench/engine/checkpoint.py). Each of those would be an
override of Trainer internals; here they are a few readable lines each.
"""

from __future__ import annotations

import math
import shutil
import time
import traceback
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm
from transformers import AutoTokenizer, get_linear_schedule_with_warmup, set_seed
from transformers.trainer_pt_utils import LengthGroupedSampler

from adamixbench.engine.checkpoint import Checkpointer, Interrupted, LoopState, StopRequest, rng_state, set_rng_state
from adamixbench.engine.config import RunConfig
from adamixbench.engine.distributed import SINGLE, Processes, launched, start
from adamixbench.engine.optim import parameter_groups
from adamixbench.engine.record import (
    DIR_MODE,
    FAILURE_CLASSES,
    FILE_MODE,
    SCHEMA_VERSION,
    now,
    peak_memory_mb,
    provenance,
)
from adamixbench.metrics import Evaluation
from adamixbench.sources.backbones import backbone_source
from adamixbench.tasks import primary_metric
from adamixbench.tasks.data_provenance import data_provenance
from adamixbench.tasks.task import Task, build_task
from baselines import PreparedModel, prepare_model

ARTIFACTS_DIR = "artifacts"
GENERATIONS_DIR = "generations"  # a task's kept outputs (NLG: decoded texts), one set of files per split
LAST_LOSSES = 20  # [step, loss] of the latest steps, kept in a failed record


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


def _features(dataset):
    return dataset.select_columns([c for c in dataset.column_names if c != "length"])


def _loader(dataset, collate, batch_size: int) -> DataLoader:
    """Evaluation batches in a fixed order. The loader gets its own generator: iterating a DataLoader
    draws a seed from its generator, which must not be the global one that dropout uses in training."""
    return DataLoader(_features(dataset), batch_size=batch_size, collate_fn=collate, generator=torch.Generator())


def epoch_batches(lengths: list[int], batch_size: int, seed: int) -> list[list[int]]:
    """Training batches of one epoch: length-grouped (less padding), in an order seeded per epoch, so a
    resumed run can skip exactly the batches it has already consumed."""
    sampler = LengthGroupedSampler(batch_size, lengths=lengths, generator=torch.Generator().manual_seed(seed))
    order = list(sampler)
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


class TrainBatches:
    """The batch sampler of the training loader, built once per run: before each epoch the loop says
    which epoch and how many of its batches are already consumed (`start`), and iterating it yields the
    rest of that epoch's `epoch_batches` (several processes: this rank's shard of them). One loader for the
    whole run keeps its worker processes alive across epochs; the batches are those of a loader rebuilt
    per epoch."""

    def __init__(self, lengths: list[int], batch_size: int, seed: int, processes: Processes = SINGLE):
        self.lengths, self.batch_size, self.seed, self.processes = lengths, batch_size, seed, processes
        self.epoch, self.skip = 0, 0

    @property
    def per_epoch(self) -> int:
        """Batches of a whole epoch (of this rank)."""
        return self.processes.batches_per_epoch(math.ceil(len(self.lengths) / self.batch_size))

    def start(self, epoch: int, skip: int) -> None:
        self.epoch, self.skip = epoch, skip

    def __iter__(self):
        batches = epoch_batches(self.lengths, self.batch_size, seed=self.seed * 1000 + self.epoch)
        yield from self.processes.shard(batches)[self.skip :]

    def __len__(self) -> int:
        return max(0, self.per_epoch - self.skip)


def train_loader(
    cfg: RunConfig, task, collate, device: torch.device, processes: Processes = SINGLE
) -> tuple[DataLoader, TrainBatches]:
    """The run's training loader and its batch sampler. On a GPU: worker processes collate the next
    batches while the device computes, into pinned memory so that the copy can be asynchronous. On a CPU
    none by default: the workers would compete with the step for the same cores."""
    workers = cfg.num_workers if cfg.num_workers is not None else (2 if device.type == "cuda" else 0)
    batches = TrainBatches(task.train["length"], cfg.batch_size, cfg.seed, processes)
    loader = DataLoader(
        _features(task.train),
        batch_sampler=batches,
        collate_fn=collate,
        generator=torch.Generator(),  # not the global one: dropout draws from that
        num_workers=workers,
        persistent_workers=workers > 0,
        pin_memory=device.type == "cuda",
    )
    return loader, batches


def _trainable_state(model) -> dict[str, torch.Tensor]:
    return {n: p.detach().to("cpu", copy=True) for n, p in model.named_parameters() if p.requires_grad}


def _restore(model, state: dict[str, torch.Tensor]) -> None:
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n in state:
                p.copy_(state[n])


# ---------------------------------------------------------------------------------------- setup
@dataclass
class Run:
    """What `setup` builds for one run: data, model and the optimisation machinery."""

    cfg: RunConfig
    device: torch.device
    backbone: str
    task: Task
    prepared: PreparedModel
    collate: object
    optimizer: torch.optim.Optimizer
    scheduler: object
    scaler: torch.amp.GradScaler
    total_steps: int
    warmup_steps: int
    loader: DataLoader  # training batches, built once (train_loader)
    batches: TrainBatches  # its batch sampler: which epoch, from which batch
    processes: Processes = SINGLE  # this process among the run's (adamixbench/engine/distributed.py)
    metric_notes: dict[str, str] = field(default_factory=dict)  # metrics unavailable, and why (into the record)

    @property
    def model(self):
        return self.prepared.model

    @property
    def name(self) -> str:
        return f"{self.cfg.task}/{self.cfg.label}/seed{self.cfg.seed}"


def load_task_and_model(cfg: RunConfig):
    """(device, backbone path, tokenizer, task, prepared model on the device): the same for training and
    re-scoring, and for a fresh and a resumed run (same seed => same initial weights, and on every rank of
    a run on several processes: the same weights and the same AdaMix router)."""
    set_seed(cfg.seed)
    device = start(launched(), pick_device(cfg))
    source = backbone_source(cfg.model)  # a pinned hub id: every load below passes its revision=
    backbone = source.location
    tokenizer = AutoTokenizer.from_pretrained(backbone, **source.kwargs())
    task = build_task(cfg, tokenizer)
    if cfg.selection != "last" and task.selection is None:
        raise ValueError(
            f"--selection {cfg.selection} needs a selection split, which {task.family} task {cfg.task} "
            f"does not have; use --selection last"
        )
    set_seed(cfg.seed)  # same initial weights for a seed whatever the data loading consumed
    model = task.load_model(backbone, **source.kwargs())
    source.record(model.config)  # the commit actually read, for provenance (sources.pins.hub_reads)
    try:
        prepared = prepare_model(cfg.method, model, task.task_type, cfg.method_params)
    except ValueError:
        raise
    except Exception as error:  # noqa: BLE001 - a plug-in's prepare() failed: its bug, named, before any training
        where = traceback.extract_tb(error.__traceback__)[-1]
        raise ValueError(
            f"method {cfg.method!r}: prepare() raised {type(error).__name__}: {error} "
            f"(at {where.filename}:{where.lineno}); fix the method"
        ) from None
    prepared.model.to(device)
    if cfg.inference is not None:  # validation rejected --inference for methods without routing
        prepared.set_inference(cfg.inference)
    return device, backbone, tokenizer, task, prepared


def fused_adamw(groups: list[dict], device: torch.device) -> bool | None:
    """Fused AdamW (one kernel for every parameter instead of several per parameter) on a GPU, where all
    trainable parameters are floating-point CUDA tensors (what it supports); torch's default elsewhere,
    so CPU runs keep their numbers."""
    params = [p for group in groups for p in group["params"]]
    return True if device.type == "cuda" and all(p.is_cuda and p.is_floating_point() for p in params) else None


def setup(cfg: RunConfig) -> Run:
    device, backbone, tokenizer, task, prepared = load_task_and_model(cfg)
    groups = parameter_groups(
        prepared.model, prepared.named_trainable_parameters(), cfg.weight_decay, cfg.weight_decay_scope
    )
    optimizer = torch.optim.AdamW(groups, lr=cfg.learning_rate, fused=fused_adamw(groups, device))
    if cfg.compile:
        prepared.model.compile()  # in place: parameter names, state dicts and checkpoints stay as they are
    collate = task.collator(tokenizer)
    processes = launched()
    loader, batches = train_loader(cfg, task, collate, device, processes)
    steps_per_epoch = math.ceil(batches.per_epoch / cfg.grad_accum_steps)
    # epochs null: no epoch limit, max_steps is the run's length (a suite's step budget, plan/budget.py)
    total_steps = cfg.max_steps if cfg.epochs is None else max(1, math.ceil(steps_per_epoch * cfg.epochs))
    if cfg.max_steps is not None:
        total_steps = min(total_steps, cfg.max_steps)
    warmup = cfg.warmup_steps if cfg.warmup_steps is not None else int(cfg.warmup_ratio * total_steps)
    scheduler = get_linear_schedule_with_warmup(optimizer, warmup, total_steps)
    scaler = torch.amp.GradScaler(device.type, enabled=cfg.precision == "fp16")
    return Run(
        cfg,
        device,
        backbone,
        task,
        prepared,
        collate,
        optimizer,
        scheduler,
        scaler,
        total_steps,
        warmup,
        loader,
        batches,
        processes,
    )


def _record_skeleton(cfg: RunConfig, task_family: str, primary_metric: str) -> dict:
    """The keys every run record has, with nothing measured yet: one layout for trained and not-run runs."""
    return {
        "schema_version": SCHEMA_VERSION,
        "status": "ok",
        "failure_class": None,
        "failure_reason": None,
        "suite": cfg.suite,
        "experiment": cfg.experiment,
        "label": cfg.label,
        "task": cfg.task,
        "task_family": task_family,
        "method": cfg.method,
        "seed": cfg.seed,
        "model": cfg.model,
        "selection": cfg.selection,
        "inference_mode": cfg.inference,
        "primary_metric": primary_metric,
        "scores": {},
        "best_epoch": None,
        "history": [],
        "loss_curve": [],
        "params": {},
        "cost": {},
        "method_params": cfg.method_params,
        "spec": cfg.spec(),
        "resolved": {"learning_rate": cfg.learning_rate, "backbone_path": None},
        "resumed_from_step": None,
        "artifacts": None,
        "schedule": None,
    }


def new_record(run: Run) -> dict:
    record = _record_skeleton(run.cfg, run.task.family, run.task.primary_metric)
    record.update(
        inference_mode=run.prepared.inference_mode,
        params=run.prepared.param_counts(),
        method_params=run.prepared.describe().get("params", {}),
        # processes: the run's world size (global batch: batch_size x processes x grad_accum_steps)
        schedule={
            "total_steps": run.total_steps,
            "warmup_steps": run.warmup_steps,
            "processes": run.processes.world_size,
            "steps_per_epoch": math.ceil(run.batches.per_epoch / run.cfg.grad_accum_steps),  # epochs trained
        },
    )
    record["resolved"]["backbone_path"] = run.backbone
    return record


def not_run_record(cfg: RunConfig, failure_class: str, reason: str) -> dict:
    """The failed record of a run that could not start (its data are unavailable): the keys of a trained
    run's record, nothing measured, so aggregation shows the cell as failed with the reason instead of
    the suite stopping. Its primary metric names the table column without loading the task."""
    started = now()
    record = _record_skeleton(cfg, cfg.family, primary_metric(cfg.task, cfg.family))
    record.update(failed_at={"step": 0, "epoch": 0, "last_losses": []}, report_splits=[], metric_notes={})
    _fail(record, failure_class, reason)
    record["provenance"] = provenance(None, started, data_provenance(cfg))
    return record


# ------------------------------------------------------------------------------- checkpointing
def checkpoint_state(run: Run, state: LoopState) -> dict:
    return {
        "loop": vars(state),
        "trainable": {n: p.detach() for n, p in run.model.named_parameters() if p.requires_grad},
        "optimizer": run.optimizer.state_dict(),
        "scheduler": run.scheduler.state_dict(),
        "scaler": run.scaler.state_dict(),
        "rng": rng_state(),
        "method_rng": run.prepared.rng_state(),
        "processes": run.processes.world_size,
    }


def resume(run: Run, saved: dict) -> LoopState:
    """Put the run back where the checkpoint left it; returns the loop state."""
    if saved.get("processes", 1) != run.processes.world_size:
        raise ValueError(
            f"the checkpoint of {run.cfg.out} was written by a run on {saved.get('processes', 1)} processes, this "
            f"one runs on {run.processes.world_size} (batches and steps differ); launch it as before, or delete "
            f"its checkpoint folder to train from the start"
        )
    _restore(run.model, saved["trainable"])
    run.optimizer.load_state_dict(saved["optimizer"])
    run.scheduler.load_state_dict(saved["scheduler"])
    run.scaler.load_state_dict(saved["scaler"])
    run.prepared.set_rng_state(saved["method_rng"])
    set_rng_state(saved["rng"])
    return LoopState(**saved["loop"])


def _stop_if_requested(run: Run, state: LoopState, checkpointer: Checkpointer, stop: StopRequest, save: bool) -> None:
    if stop.requested:
        if save:
            checkpointer.save(checkpoint_state(run, state))
        raise Interrupted(stop.signal_name, state.step, run.total_steps, checkpointer.path)


# ------------------------------------------------------------------------------------ training
def train_step(
    prepared,
    task,
    micro_batches: list[dict],
    optimizer,
    scheduler,
    scaler,
    cfg: RunConfig,
    device: torch.device,
    processes: Processes = SINGLE,
) -> torch.Tensor:
    """One optimiser step on the micro-batches of one effective batch (`grad_accum_steps` of them; one
    without accumulation), already on `device`; returns the step's loss, their mean (a tensor, not synced).

    Each micro-batch's loss is divided by their number, so the accumulated gradient is that of the mean
    loss, as for one batch of them all. AdaMix draws its routes per forward call, i.e. per micro-batch.
    The loop's step, and the one benchmarks/throughput.py times. A non-finite loss still steps the
    optimiser; the caller checks the returned loss and ends the run (fp16: GradScaler skips that step).
    On several processes the gradients and the loss are averaged over the ranks before unscaling (an inf
    on one rank then makes every rank's GradScaler skip the step) and clipping.
    """
    step_loss = None
    for batch in micro_batches:
        mask = task.consistency_mask(batch)
        if mask is not None:
            batch = {**batch, "consistency_mask": mask}
        with autocast(cfg, device):
            loss, _ = prepared.training_loss(batch, task.loss)
        loss = loss / len(micro_batches)
        scaler.scale(loss).backward()  # fp16 needs loss scaling; a no-op scaler otherwise
        step_loss = loss.detach() if step_loss is None else step_loss + loss.detach()
    step_loss = processes.average(prepared.trainable_parameters(), step_loss)
    scaler.unscale_(optimizer)
    if cfg.max_grad_norm > 0:
        torch.nn.utils.clip_grad_norm_(prepared.trainable_parameters(), cfg.max_grad_norm)
    scaler.step(optimizer)
    scaler.update()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return step_loss


def real_tokens(batch: dict) -> int:
    """Non-padding tokens of a batch, counted while it is still on the CPU (no device sync)."""
    return int(batch["attention_mask"].sum()) if "attention_mask" in batch else batch["input_ids"].numel()


def record_losses(state: LoopState, pending: list[tuple[torch.Tensor, int]], log_every: int) -> None:
    """Bring the losses of the steps since the last check to the host (one sync) and account them step by
    step, in order: last losses, real tokens, epoch mean, loss curve. The first non-finite loss raises
    `NonFiniteLoss` with the step count put back to just before it, so a failed record names the exact
    step whatever the check interval (the optimiser may have run a few steps past it; they are discarded)."""
    if not pending:
        return
    first = state.step - len(pending) + 1  # `pending` holds the losses of steps first..state.step
    values = torch.stack([loss for loss, _ in pending]).tolist()
    tokens = [n for _, n in pending]
    pending.clear()
    for step, loss, n_tokens in zip(range(first, state.step + 1), values, tokens):
        state.last_losses = [*state.last_losses[-(LAST_LOSSES - 1) :], [step, loss]]
        state.real_tokens += n_tokens  # the failing step's too: it was computed
        if not math.isfinite(loss):
            state.step = step - 1  # a failed run is not resumed: the batch position needs no rewinding
            raise NonFiniteLoss(f"nan loss at step {step} (epoch {state.epoch})")
        state.epoch_loss_sum += loss
        state.epoch_batches += 1
        if step % log_every == 0:
            state.loss_curve.append([step, state.epoch_loss_sum / state.epoch_batches])


def accumulation_groups(loader, size: int):
    """The loader's micro-batches, `size` consecutive ones at a time (the epoch's last group may be
    smaller). A checkpoint is taken between optimiser steps, so `batches_done` always ends a group and a
    resumed epoch regroups its remaining batches exactly as the uninterrupted one."""
    group = []
    for batch in loader:
        group.append(batch)
        if len(group) == size:
            yield group
            group = []
    if group:
        yield group


def train_epoch(run: Run, state: LoopState, checkpointer: Checkpointer, stop: StopRequest, progress) -> None:
    """The rest of epoch `state.epoch`: its batches not consumed yet, until the epoch or the step budget ends.

    The losses stay on the device between checks (every `finite_check_every` steps, at the last step, at
    the end of the epoch, before a checkpoint or a stop): a `.item()` per step would make the host wait for
    the device every step. A crash is preceded by a check, so a crash caused by an earlier non-finite loss
    is recorded as that loss."""
    cfg, task, prepared, device = run.cfg, run.task, run.prepared, run.device
    run.model.train()
    run.batches.start(state.epoch, skip=state.batches_done)
    pending: list[tuple[torch.Tensor, int]] = []  # (loss on the device, real tokens) of the unchecked steps
    tic = time.perf_counter()
    try:
        for group in accumulation_groups(run.loader, cfg.grad_accum_steps):
            if state.step >= run.total_steps:
                break
            n_tokens = sum(real_tokens(batch) for batch in group)
            group = [{k: v.to(device, non_blocking=True) for k, v in b.items()} for b in group]  # async if pinned
            loss = train_step(
                prepared, task, group, run.optimizer, run.scheduler, run.scaler, cfg, device, run.processes
            )
            pending.append((loss, n_tokens))
            state.step += 1
            state.batches_done += len(group)
            state.train_time += time.perf_counter() - tic  # checkpoint writes are counted apart (cost.checkpoint_*)
            progress.update(1)
            save = checkpointer.due(state.step)
            if save or stop.requested or state.step % cfg.finite_check_every == 0 or state.step == run.total_steps:
                record_losses(state, pending, cfg.log_every)
            if save:
                checkpointer.save(checkpoint_state(run, state))
            _stop_if_requested(run, state, checkpointer, stop, save=True)
            tic = time.perf_counter()
    except NonFiniteLoss:
        raise
    except Exception:
        record_losses(state, pending, cfg.log_every)
        raise
    record_losses(state, pending, cfg.log_every)


def end_epoch(run: Run, state: LoopState, progress) -> None:
    """History entry of the finished epoch; with a selection protocol, score it and keep the best weights."""
    task = run.task
    entry = {
        "epoch": state.epoch,
        "step": state.step,
        "train_loss": state.epoch_loss_sum / max(state.epoch_batches, 1),
        "lr": run.scheduler.get_last_lr()[0],
    }
    if task.selection is not None and run.cfg.selection != "last":
        tic = time.perf_counter()
        evaluation = task.evaluate(
            run.prepared.eval_model(),
            _loader(task.selection, run.collate, run.cfg.eval_batch_size),
            run.device,
            "selection",
        )
        scores = keep_outputs(run.cfg.out, "selection", evaluation, run.metric_notes)
        state.eval_time += time.perf_counter() - tic
        entry["eval"] = scores
        score = scores[task.primary_metric]
        if score is not None and math.isfinite(score) and score > state.best_score:
            state.best_score, state.best_state, state.best_epoch = score, _trainable_state(run.model), state.epoch
    state.history.append(entry)
    state.batches_done = state.epoch_batches = 0
    state.epoch_loss_sum = 0.0
    progress.set_postfix(loss=f"{entry['train_loss']:.4f}", **{k: f"{v:.2f}" for k, v in entry.get("eval", {}).items()})


def train(run: Run, state: LoopState, checkpointer: Checkpointer, stop: StopRequest) -> None:
    """Epochs until the step budget is spent. An epoch is open from its first batch until `end_epoch`."""
    progress = tqdm(total=run.total_steps, initial=state.step, desc=run.name, mininterval=5)
    epoch_open = state.batches_done > 0  # a checkpoint taken inside an epoch, or after its last batch
    while epoch_open or state.step < run.total_steps:
        if not epoch_open:
            state.epoch += 1
        train_epoch(run, state, checkpointer, stop, progress)
        end_epoch(run, state, progress)
        epoch_open = False
    progress.close()


# -------------------------------------------------------------------------------- select, score
def select(run: Run, state: LoopState) -> int:
    """Load the selected weights into the model; returns the selected epoch."""
    if run.cfg.selection == "last" or state.best_state is None:
        return state.epoch
    _restore(run.model, state.best_state)
    return state.best_epoch


def split_suffix(task, split: str) -> str:
    """Suffix of a split's metric names in `scores`: none for the main report split, "_mm" for MNLI
    mismatched (the paper's naming), "_<split>" for any other scored split."""
    if split == "validation_mismatched":
        return "_mm"
    return "" if split == next(iter(task.report)) else f"_{split}"


def scorable_splits(task) -> dict:
    """Splits a run can be scored on: the report splits, and the selection split when it is separate."""
    splits = dict(task.report)
    if task.selection is not None and not any(task.selection is ds for ds in splits.values()):
        splits["selection"] = task.selection
    return splits


def keep_outputs(out: str | Path, split: str, evaluation: Evaluation, notes: dict[str, str]) -> dict[str, float]:
    """Writes what the task kept of the split (NLG: the decoded texts) under <out>/generations and adds its
    unavailable metrics to `notes`; returns the split's scores."""
    if evaluation.outputs is not None and launched().main:  # several processes: rank 0 writes
        evaluation.outputs.write(Path(out) / GENERATIONS_DIR, split)
    notes.update(evaluation.unavailable)
    return evaluation.scores


def score_splits(
    task, prepared, collate, cfg, device, splits: list[str], check_stop=lambda: None, notes: dict | None = None
) -> dict[str, float]:
    """Scores of `splits` under their names in the record; each split's outputs are written under cfg.out
    and its unavailable metrics added to `notes` (see keep_outputs)."""
    available = scorable_splits(task)
    notes = {} if notes is None else notes
    scores = {}
    for split in splits:
        check_stop()
        evaluation = task.evaluate(
            prepared.eval_model(), _loader(available[split], collate, cfg.eval_batch_size), device, split
        )
        split_scores = keep_outputs(cfg.out, split, evaluation, notes)
        scores.update({f"{name}{split_suffix(task, split)}": value for name, value in split_scores.items()})
    return scores


def score_modes(
    task,
    prepared,
    collate,
    cfg,
    device,
    modes: list[str],
    splits: list[str],
    check_stop=lambda: None,
    notes: dict | None = None,
) -> dict[str, dict[str, float]]:
    """Scores per AdaMix evaluation routing (the model's own mode is restored afterwards)."""
    default_mode = prepared.inference_mode
    try:
        result = {}
        for mode in modes:
            prepared.set_inference(mode)
            result[mode] = score_splits(task, prepared, collate, cfg, device, splits, check_stop, notes)
        return result
    finally:
        prepared.set_inference(default_mode)


def score(run: Run, record: dict, check_stop) -> float:
    """Scores of the report splits (and per extra inference mode); returns the seconds spent."""
    tic = time.perf_counter()
    args = (run.task, run.prepared, run.collate, run.cfg, run.device)
    report = list(run.task.report)
    record["scores"] = score_splits(*args, report, check_stop, run.metric_notes)
    modes = run.cfg.eval_inference_modes  # validation allows them for methods with routing only
    if modes:
        record["scores_by_inference"] = score_modes(*args, modes, report, check_stop, run.metric_notes)
    return time.perf_counter() - tic


def save_artifacts(run: Run) -> dict | None:
    """The trained weights in their library's format under <out>/artifacts (replaced as a whole)."""
    target = Path(run.cfg.out) / ARTIFACTS_DIR
    tmp = target.with_name(f".{ARTIFACTS_DIR}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    saved = run.prepared.save_trained(tmp, full_weights=run.cfg.save_full_weights)
    for path in [tmp, *tmp.rglob("*")]:  # safetensors writes 0600: the umask decides, as for the record
        path.chmod(DIR_MODE if path.is_dir() else FILE_MODE)
    if saved is None:
        shutil.rmtree(tmp)
        return None
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return {"path": ARTIFACTS_DIR, **saved}


# ----------------------------------------------------------------------------------- the run
def train_and_evaluate(cfg: RunConfig, stop: StopRequest | None = None) -> dict:
    """Run one configuration (resuming from its checkpoint if there is one); returns its run record.

    Bad input, including a checkpoint of another configuration, raises before training starts.
    `stop` (SIGTERM / SIGINT) makes the run write a checkpoint and raise `Interrupted`: no record.
    The checkpoint is left in place: remove it (`checkpoint.remove_checkpoint`) once the record is written,
    so that a kill between the two never loses the run.
    """
    started = now()
    stop = stop or StopRequest()
    run = setup(cfg)
    record = new_record(run)
    checkpointer = Checkpointer(
        cfg.out, record["spec"], cfg.checkpoint_every_steps, cfg.checkpoint_every_minutes, writes=run.processes.main
    )
    saved = checkpointer.load()
    state = LoopState()
    if saved is not None:
        state = resume(run, saved)
        record["resumed_from_step"] = state.step
        print(
            f"{run.name}: resuming from the checkpoint at step {state.step}/{run.total_steps} ({checkpointer.path})",
            flush=True,
        )
    try:
        if state.step < run.total_steps or state.batches_done > 0:
            train(run, state, checkpointer, stop)
            if checkpointer.enabled:  # a kill while scoring then costs the scoring only
                checkpointer.save(checkpoint_state(run, state))
        record["best_epoch"] = select(run, state)
        state.eval_time += score(
            run, record, lambda: _stop_if_requested(run, state, checkpointer, stop, save=not checkpointer.path.exists())
        )
        record["artifacts"] = save_artifacts(run) if run.processes.main else None
        primary = record["scores"].get(run.task.primary_metric)
        if primary is None or not math.isfinite(primary):
            _fail(record, "undefined_metric", f"{run.task.primary_metric} is undefined (constant predictions)")
    except Interrupted:
        raise
    except NonFiniteLoss as error:
        _fail(record, "non_finite_loss", str(error))
    except Exception as error:  # noqa: BLE001 - any crash during training is recorded, not lost
        _fail(record, "crash", f"{type(error).__name__}: {error}")
        record["traceback"] = traceback.format_exc()
    if record["status"] == "failed":
        record["failed_at"] = {"step": state.step, "epoch": state.epoch, "last_losses": state.last_losses}
    record["history"], record["loss_curve"] = state.history, state.loss_curve
    state.real_tokens = run.processes.total(state.real_tokens)  # every rank's tokens (rank 0's time)
    record["cost"] = {
        "train_time_s": round(state.train_time, 3),
        "eval_time_s": round(state.eval_time, 3),
        "train_tokens_per_s": round(state.real_tokens / state.train_time, 1) if state.train_time > 0 else None,
        "train_real_tokens": state.real_tokens,
        "peak_memory_mb": round(peak_memory_mb(run.device), 1),
        **checkpointer.overhead(),
    }
    record["report_splits"] = list(run.task.report)
    record["metric_notes"] = dict(run.metric_notes)  # e.g. METEOR unavailable without Java, and why
    record["provenance"] = provenance(run.device, started, data_provenance(cfg))
    return record  # the caller writes it, then removes the checkpoint (remove_checkpoint)


def _fail(record: dict, failure_class: str, reason: str) -> None:
    assert failure_class in FAILURE_CLASSES, failure_class
    record.update(status="failed", failure_class=failure_class, failure_reason=reason)
