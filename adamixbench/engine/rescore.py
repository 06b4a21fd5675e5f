"""Re-score a finished run from its saved weights, without training: other AdaMix inference modes, other
splits. `python -m adamixbench rescore --run <run dir> [--inference-modes merge,fixed:0] [--splits ...]`.

The scores go to a sibling of the record, `<run dir>/scores.json` (written atomically), never into the
record itself: in the pipeline the record is the `train` rule's output and `scores.json` the `score`
rule's, so adding an inference mode or a split to a suite reruns scoring only. Aggregation reads a
run's record with its scores.json on top (adamixbench.analysis.records.load_record).
"""

from __future__ import annotations

import json
from pathlib import Path

from adamixbench.engine.config import RunConfig
from adamixbench.engine.record import now, write_json_atomic
from adamixbench.engine.trainer import ARTIFACTS_DIR, load_task_and_model, scorable_splits, score_modes, score_splits

RECORD_FILE = "metrics.json"
SCORES_FILE = "scores.json"


def run_config(record: dict, run_dir: Path, machine: dict | None = None) -> RunConfig:
    """The run's configuration: the run spec the record embeds, pointed at `run_dir`, with this machine's
    engine options (`machine`: device, data folders; the spec does not hold them)."""
    return RunConfig(**{**record["spec"], **(machine or {}), "out": str(run_dir), "eval_inference_modes": []})


def rescore(
    run_dir: str | Path,
    inference_modes: list[str] | None = None,
    splits: list[str] | None = None,
    machine: dict | None = None,
) -> dict:
    """Scores of the run's saved weights; written to <run dir>/scores.json and returned.

    `splits`: default the run's report splits; "selection" may be asked for when the run selected on a
    held-out split (never added by default).
    `inference_modes` (AdaMix only): scored one by one under `scores_by_inference`. Random routings
    (random_sequence / random_token) are a fresh random draw, so they vary like a rerun's would.
    """
    run_dir = Path(run_dir)
    record_path = run_dir / RECORD_FILE
    if not record_path.is_file():
        raise FileNotFoundError(
            f"{record_path} not found: --run must be the folder of a finished run "
            f"(the --out of `python -m adamixbench train`)"
        )
    record = json.loads(record_path.read_text())
    if record.get("artifacts") is None:
        why = (
            ("it failed: " + str(record.get("failure_reason")))
            if record.get("status") != "ok"
            else ("its weights were not saved (full fine-tuning saves them only with --save-full-weights)")
        )
        raise ValueError(f"run {run_dir} cannot be re-scored: {why}")
    cfg = run_config(record, run_dir, machine)
    device, _, tokenizer, task, prepared = load_task_and_model(cfg)
    available = scorable_splits(task)
    splits = splits or list(task.report)
    unknown = [s for s in splits if s not in available]
    if unknown:
        raise ValueError(f"--splits: {unknown} not scorable for this run; allowed: {sorted(available)}")
    modes = list(inference_modes or [])
    if modes and prepared.inference_mode is None:
        raise ValueError(f"--inference-modes applies to AdaMix methods only; run {run_dir} trained {cfg.method!r}")
    own_mode = prepared.inference_mode  # the run's own routing: `scores` are scored under it
    for mode in modes:
        prepared.set_inference(mode)  # validates the mode (e.g. fixed:k with k < num_experts) before scoring
    if modes:
        prepared.set_inference(own_mode)  # back to the run's own routing (score_modes restores this one)
    prepared.load_trained(run_dir / record["artifacts"].get("path", ARTIFACTS_DIR))
    args = (task, prepared, task.collator(tokenizer), cfg, device)
    result = {
        "run": str(run_dir),
        "rescored_at": now(),
        "record_finished_at": record.get("provenance", {}).get("finished_at"),
        "splits": splits,
        "inference_modes": modes,
    }
    if modes:
        result["scores_by_inference"] = score_modes(*args, modes, splits)
        result["scores"] = result["scores_by_inference"].get(own_mode) or score_splits(*args, splits)
    else:
        result["scores"] = score_splits(*args, splits)
    write_json_atomic(run_dir / SCORES_FILE, result)
    return result
