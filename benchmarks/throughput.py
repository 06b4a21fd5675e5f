"""Throughput of the REAL engine step per method: step time, real tokens/s, peak memory, MFU, and the
GPU-hours this projects for the paper suites.

    python benchmarks/throughput.py --preset minilm-l6 --device cpu --threads 1 --json
    python benchmarks/throughput.py --preset roberta-large --device cuda --batch-size 64 --project glue_roberta_large
    python benchmarks/throughput.py --preset gpt2-medium --lengths e2e --batch-size 8 --project nlg_gpt2_medium

Backbones are built from their architecture configs with random weights (no hub, no download); the
cost of a step does not depend on the weights. Each method runs in its own child process (clean peak
memory), builds its model with `baselines.prepare_model` exactly as the engine does and times
`adamixbench.engine.trainer.train_step` (forward, AdaMix's two-pass consistency step, backward, clipping,
AdamW, scheduler) on length-grouped batches drawn with the engine's own sampler. Evaluation times the
engine's `evaluate` on one batch (AdaMix: merged experts, the default inference); for causal-LM
presets, decoding times the engine's `NLGTask.generate` on one batch of prompts.

Rows: every method of --methods; `adapter` is a single adapter (AdaMix's adapter with one expert and
no consistency term), the reference point of AdaMix's two-pass overhead.

MFU = FLOPs of one step (counted by torch.utils.flop_counter on the executed step, padding included)
/ step time / the device's dense peak (--peak-tflops, or the table below for known GPUs; null on CPU
unless given).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO_ROOT), str(Path(__file__).resolve().parent)]

DEFAULT_METHODS = ("full_ft", "lora", "houlsby", "pfeiffer", "adapter", "adamix_adapter", "adamix_lora")
# `adapter`: a registered method with fixed params (one expert, no consistency: one pass per step).
ALIASES = {"adapter": ("adamix_adapter", {"num_experts": 1, "consistency_weight": 0.0})}

# Dense (no sparsity) tensor-core peaks in TFLOP/s, from NVIDIA's data sheets (SXM parts).
# fp32 = TF32 tensor cores (what torch uses for fp32 matmuls with allow_tf32).
PEAK_TFLOPS = {
    "H200": {"bf16": 989.4, "fp16": 989.4, "fp32": 494.7},
    "H100": {"bf16": 989.4, "fp16": 989.4, "fp32": 494.7},
    "A100": {"bf16": 312.0, "fp16": 312.0, "fp32": 156.0},
}


@dataclass(frozen=True)
class Preset:
    """A paper backbone (its shape: adamixbench.sources.standins.PAPER_SHAPES) and how it is trained."""

    name: str
    task_type: str  # seq_cls | causal_lm


PRESETS = {
    p.name: p
    for p in (
        Preset("roberta-large", "seq_cls"),
        Preset("bert-base", "seq_cls"),
        Preset("minilm-l6", "seq_cls"),
        Preset("gpt2-medium", "causal_lm"),
    )
}


def sample_lengths(kind: str, n: int, max_len: int, generator):
    """Token lengths of `n` examples: (total, prompt) pairs.

    glue: log-normal, median 38 word pieces, sigma 0.6 (mean ~45, the issue's GLUE-average figure; single
          sentences are shorter, pairs longer), clipped to [4, max_len].
    e2e:  prompt (bos + meaning representation) ~ N(30, 6), completion (reference + eos) ~ N(27, 9),
          (LoRA-paper E2E: ~28 + ~26 GPT-2 tokens), clipped to max_len.
    """
    import torch

    if kind == "glue":
        total = torch.exp(math.log(38) + 0.6 * torch.randn(n, generator=generator)).round().clamp(4, max_len).long()
        return [(int(t), 0) for t in total]
    prompt = (30 + 6 * torch.randn(n, generator=generator)).round().clamp(8, max_len // 2).long()
    completion = (27 + 9 * torch.randn(n, generator=generator)).round().clamp(4, max_len).long()
    return [(min(int(p + c), max_len), int(p)) for p, c in zip(prompt, completion)]


def build_backbone(preset: Preset, num_layers: int | None = None, num_labels: int = 2):
    """Random weights in the preset's shape; `num_layers` shortens it (CPU measurements)."""
    from adamixbench.sources.standins import paper_shaped_model

    return paper_shaped_model(preset.name, preset.task_type, num_layers=num_layers, num_labels=num_labels)


def engine_task(preset: Preset, cfg, config):
    """The engine's task object (its loss, consistency mask, evaluation and decoding), without data;
    `config`: the backbone's."""
    from adamixbench.tasks.classification import NLUTask
    from adamixbench.tasks.generation import Decoding, NLGTask

    if preset.task_type == "causal_lm":
        eos = config.eos_token_id
        tokenizer = SimpleNamespace(eos_token_id=eos, bos_token_id=eos, pad_token_id=None)
        return NLGTask(
            name="e2e",
            tokenizer=tokenizer,
            decoding=Decoding.of(cfg),
            label_smoothing=cfg.label_smoothing,
            train=None,
            selection=None,
            report={},
            references={},
        )
    return NLUTask(
        name="sst2",
        family="glue",
        text_fields=("sentence",),
        num_labels=2,
        is_regression=False,
        primary_metric="accuracy",
        train=None,
        selection=None,
    )


def make_batches(preset: Preset, config, task, args, count: int, evaluation: bool = False):
    """`count` batches of random token ids, grouped by length with the engine's sampler and padded
    with the engine's collator (NLG) or as DataCollatorWithPadding pads (NLU). `evaluation`: batches of
    --eval-batch-size; for a causal LM, prompts only (the decoding input)."""
    import torch
    from transformers.trainer_pt_utils import LengthGroupedSampler

    generator = torch.Generator().manual_seed(0)
    batch_size = args.eval_batch_size if evaluation else args.batch_size
    generation = evaluation and preset.task_type == "causal_lm"
    pool = sample_lengths(args.lengths, 50 * batch_size * max(1, math.ceil(count / 50)), args.max_seq_len, generator)
    order = list(LengthGroupedSampler(batch_size, lengths=[t for t, _ in pool], generator=generator))
    vocab = config.vocab_size
    # Every megabatch of the sampler starts with its longest batch: take `count` batches spread evenly over
    # the whole order so that the timed batches follow the length distribution.
    n_batches = len(order) // batch_size
    batches = []
    for b in range(count):
        start = (b * n_batches // count) * batch_size
        rows = [pool[i] for i in order[start : start + batch_size]]
        if preset.task_type == "causal_lm":
            collate = task.collator(task.tokenizer)
            features = []
            for total, prompt in rows:
                ids = torch.randint(3, vocab - 1, (total,)).tolist()
                if generation:
                    features.append({"input_ids": ids[:prompt], "group": len(features)})
                else:
                    features.append({"input_ids": ids, "labels": [-100] * prompt + ids[prompt:]})
            batch = collate(features)
            batch.pop("group", None)
        else:
            width = max(t for t, _ in rows)
            ids = torch.full((len(rows), width), config.pad_token_id or 0)
            mask = torch.zeros((len(rows), width), dtype=torch.long)
            for i, (total, _) in enumerate(rows):
                ids[i, :total] = torch.randint(5, vocab - 1, (total,))
                mask[i, :total] = 1
            batch = {"input_ids": ids, "attention_mask": mask, "labels": torch.randint(0, 2, (len(rows),))}
        batches.append(batch)
    return batches


def _sync(device):
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn, device, warmup: int, repeats: int, cpu_times: list | None = None) -> list[float]:
    """Wall seconds of each of `repeats` calls after `warmup`; with `cpu_times`, also this process's CPU
    seconds per call (on a shared CPU these barely move with the load; with one thread they are the
    compute time)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        _sync(device)
        tic, cpu = time.perf_counter(), time.process_time()
        fn()
        _sync(device)
        times.append(time.perf_counter() - tic)
        if cpu_times is not None:
            cpu_times.append(time.process_time() - cpu)
    return times


def measure_method(args) -> dict:
    """One method, in this process: the row printed by the parent."""
    import torch
    from transformers import get_linear_schedule_with_warmup

    from adamixbench.engine.config import RunConfig
    from adamixbench.engine.record import peak_memory_mb
    from adamixbench.engine.trainer import train_step
    from baselines import prepare_model

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    preset = PRESETS[args.preset]
    method, params = ALIASES.get(args.child, (args.child, {}))
    cfg = RunConfig(
        task="e2e" if preset.task_type == "causal_lm" else "sst2",
        method=method,
        seed=0,
        model=args.preset,
        out=os.devnull,
        method_params=params,
        batch_size=args.batch_size,
        eval_batch_size=args.eval_batch_size,
        max_seq_len=args.max_seq_len,
        precision=args.precision,
        device=args.device,
        num_beams=args.num_beams,
        max_new_tokens=args.max_new_tokens,
    )
    torch.manual_seed(0)
    backbone = build_backbone(preset, args.num_layers)
    task = engine_task(preset, cfg, backbone.config)
    prepared = prepare_model(method, backbone, preset.task_type, params)
    model = prepared.model.to(device)
    optimizer = torch.optim.AdamW(prepared.trainable_parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    scheduler = get_linear_schedule_with_warmup(optimizer, 0, 10**9)
    scaler = torch.amp.GradScaler(device.type, enabled=cfg.precision == "fp16")
    batches = [
        {k: v.to(device) for k, v in b.items()}
        for b in make_batches(preset, backbone.config, task, args, args.warmup + args.repeats)
    ]
    cursor = iter(range(10**9))

    def step():
        model.train()
        return train_step(
            prepared, task, [batches[next(cursor) % len(batches)]], optimizer, scheduler, scaler, cfg, device
        )

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    cpu_times = [] if device.type == "cpu" else None
    train_times = _timed(step, device, args.warmup, args.repeats, cpu_times)
    peak = peak_memory_mb(device)
    real_tokens = statistics.mean(int(b["attention_mask"].sum()) for b in batches)
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        step()
    flops = counter.get_total_flops()

    eval_batch = make_batches(preset, backbone.config, task, args, 1, evaluation=True)[0]
    eval_batch = {k: v.to(device) for k, v in eval_batch.items()}
    row = {
        "method": args.child,
        "preset": args.preset,
        "num_layers": args.num_layers,
        "device": str(device),
        "threads": torch.get_num_threads(),
        "precision": cfg.precision,
        "batch_size": args.batch_size,
        "lengths": args.lengths,
        "real_tokens_per_step": real_tokens,
        "trainable_params": prepared.param_counts()["trainable"],
        "train_step_s": statistics.median(train_times),
        "train_step_spread_s": [min(train_times), max(train_times)],
        "train_step_cpu_s": statistics.median(cpu_times) if cpu_times else None,
        "tokens_per_s": real_tokens / statistics.median(train_times),
        "peak_memory_mb": round(peak, 1),
        "train_flops": flops,
    }
    if preset.task_type == "causal_lm":
        from adamixbench.tasks.generation import decoding_model

        eval_model = decoding_model(prepared.eval_model())
        decode_cpu = [] if device.type == "cpu" else None
        times = _timed(
            lambda: task.generate(eval_model, dict(eval_batch)), device, 1, max(1, args.repeats // 3), decode_cpu
        )  # no autocast: the engine evaluates and decodes without it
        row["decode_s"] = statistics.median(times)
        row["decode_cpu_s"] = statistics.median(decode_cpu) if decode_cpu else None
        row["eval_forward_s"] = None
    else:
        loader = [{**eval_batch, "labels": eval_batch["labels"]}]
        eval_cpu = [] if device.type == "cpu" else None
        times = _timed(
            lambda: task.evaluate(prepared.eval_model(), loader, device), device, args.warmup, args.repeats, eval_cpu
        )
        row["eval_forward_s"] = statistics.median(times)
        row["eval_forward_cpu_s"] = statistics.median(eval_cpu) if eval_cpu else None
    peak_tflops = args.peak_tflops or lookup_peak(device, cfg.precision)
    row["achieved_tflops"] = flops / row["train_step_s"] / 1e12
    row["mfu"] = row["achieved_tflops"] / peak_tflops if peak_tflops else None
    return row


def lookup_peak(device, precision: str) -> float | None:
    import torch

    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    dtype = (
        "bf16"
        if precision in ("auto", "bf16") and torch.cuda.is_bf16_supported()
        else ("fp16" if precision == "fp16" else "fp32")
    )
    for gpu, peaks in PEAK_TFLOPS.items():
        if gpu in name:
            return peaks[dtype]
    return None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="minilm-l6")
    parser.add_argument(
        "--methods", default=",".join(DEFAULT_METHODS), help="comma-separated registered methods (and `adapter`)"
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="auto", help="engine --precision: auto | fp32 | bf16 | fp16")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--eval-batch-size", type=int, default=128)
    parser.add_argument(
        "--lengths",
        choices=("glue", "e2e"),
        default=None,
        help="sequence-length distribution (default: glue for encoders, e2e for gpt2-medium)",
    )
    parser.add_argument("--max-seq-len", type=int, default=128)
    parser.add_argument(
        "--num-layers",
        type=int,
        default=None,
        help="fewer layers than the preset (cheaper CPU measurements; projections need the full depth)",
    )
    parser.add_argument("--num-beams", type=int, default=10, help="decoding (causal-LM presets); paper: 10")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=None, help="torch threads per method (1 = stable CPU timings)")
    parser.add_argument("--peak-tflops", type=float, default=None, help="device peak for MFU (known GPUs: looked up)")
    parser.add_argument("--project", default="", help="comma-separated suites (config/suites) to project GPU-hours for")
    parser.add_argument("--json", action="store_true", help="one JSON object per line instead of a table")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.lengths = args.lengths or ("e2e" if PRESETS[args.preset].task_type == "causal_lm" else "glue")
    if args.child:
        print(json.dumps(measure_method(args)))
        return 0
    if args.project and args.num_layers:
        parser.error("--project needs the preset's full depth: drop --num-layers")
    methods = [m for m in args.methods.split(",") if m]
    from baselines import list_methods

    unknown = [m for m in methods if m not in ALIASES and m not in list_methods()]
    if unknown:
        parser.error(f"unknown method(s) {unknown}; registered: {sorted(list_methods())} and {sorted(ALIASES)}")
    rows = {}
    for method in methods:
        child = [sys.executable, __file__, "--child", method, *(argv if argv is not None else sys.argv[1:])]
        done = subprocess.run(child, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"{method}: failed\n{done.stderr[-3000:]}", file=sys.stderr)
            continue
        row = json.loads(done.stdout.strip().splitlines()[-1])
        rows[method] = row
        print(json.dumps(row) if args.json else _table_line(row, first=len(rows) == 1), flush=True)
    for suite in [s for s in args.project.split(",") if s]:
        from suite_cost import project

        result = project(suite, args.preset, rows, args.batch_size, args.eval_batch_size)
        if args.json:
            print(json.dumps({"projection": result}))
        else:
            print(
                f"\n{suite}: {result['runs']} runs, {result['hours']:.1f} device-hours on {args.device}"
                + (
                    f"; runs on other backbones, excluded: {result['other_backbone_runs']}"
                    if result["other_backbone_runs"]
                    else ""
                )
                + (
                    f"; methods not measured, excluded: {result['missing_methods']}"
                    if result["missing_methods"]
                    else ""
                )
            )
            for label, entry in result["per_label"].items():
                print(f"  {label:20s} {entry['runs']:4d} runs {entry['steps']:>10,d} steps {entry['hours']:8.2f} h")
    return 0 if len(rows) == len(methods) else 1


def _table_line(row: dict, first: bool) -> str:
    head = (
        (
            "| method | train step s (min-max) | CPU s/step | real tokens/s | eval s/batch | decode s/batch | peak MB "
            "| MFU |\n|---|---|---|---|---|---|---|---|\n"
        )
        if first
        else ""
    )
    lo, hi = row["train_step_spread_s"]
    fmt = lambda v, spec: format(v, spec) if v is not None else "-"  # noqa: E731
    return (
        f"{head}| {row['method']} | {row['train_step_s']:.4f} ({lo:.4f}-{hi:.4f}) | "
        f"{fmt(row['train_step_cpu_s'], '.4f')} | {row['tokens_per_s']:.0f} | "
        f"{fmt(row['eval_forward_s'], '.4f')} | {fmt(row.get('decode_s'), '.3f')} | {row['peak_memory_mb']:.0f} | "
        f"{fmt(row['mfu'], '.3f')} |"
    )


if __name__ == "__main__":
    sys.exit(main())
