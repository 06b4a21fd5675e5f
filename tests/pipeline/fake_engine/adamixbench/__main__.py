"""Fake `python -m adamixbench train`: parse the engine's flags, write a synthetic record atomically.
Fake `rescore --run <dir>`: synthetic scores of the requested inference modes into <dir>/scores.json.

A method whose params contain {"fail": true} yields a failed record (exit 0), like the engine's contract.
FAKE_ENGINE_CALLS (a file path), when set, gets one line per call, so tests can count reruns.
"""

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from synthetic import make_record  # noqa: E402

p = argparse.ArgumentParser(prog="python -m adamixbench")
sub = p.add_subparsers(dest="cmd", required=True)
t = sub.add_parser("train")
for flag in ("--task", "--method", "--model", "--out"):
    t.add_argument(flag, required=True)
t.add_argument("--seed", type=int, required=True)
for flag in ("--epochs", "--batch-size", "--max-seq-len", "--max-train-samples", "--max-eval-samples",
             "--num-beams", "--max-new-tokens", "--fewshot-k"):
    t.add_argument(flag, type=int)
for flag in ("--lr", "--warmup-ratio", "--weight-decay"):
    t.add_argument(flag, type=float)
for flag in ("--selection", "--method-params", "--inference", "--fewshot-split", "--fewshot-protocol",
             "--eval-inference-modes"):
    t.add_argument(flag)
r = sub.add_parser("rescore")
r.add_argument("--run", required=True)
r.add_argument("--inference-modes", default="")
r.add_argument("--splits", default="")
a = p.parse_args()


def log_call(values: dict) -> None:
    if os.environ.get("FAKE_ENGINE_CALLS"):
        with open(os.environ["FAKE_ENGINE_CALLS"], "a") as fh:
            fh.write(json.dumps(values) + "\n")


if a.cmd == "rescore":
    run = Path(a.run)
    cfg = json.loads((run / "metrics.json").read_text())["config"]
    modes = [m for m in a.inference_modes.split(",") if m]
    rec = make_record(cfg["task"], cfg["method"], cfg["seed"], inference_modes=modes, model=cfg["model"])
    (run / "scores.json.tmp").write_text(json.dumps({"scores": rec["scores"], "inference_modes": modes,
                                                     "scores_by_inference": rec.get("scores_by_inference", {})}))
    os.replace(run / "scores.json.tmp", run / "scores.json")
    log_call(vars(a))
    sys.exit(0)
params = json.loads(a.method_params) if a.method_params else {}
modes = a.eval_inference_modes.split(",") if a.eval_inference_modes else ()
rec = make_record(a.task, a.method, a.seed, failed=bool(params.get("fail")), inference_modes=modes,
                  model=a.model, epochs=a.epochs or 2)
rec["config"] = vars(a)
out = Path(a.out)
out.mkdir(parents=True, exist_ok=True)
(out / "metrics.json.tmp").write_text(json.dumps(rec))
os.replace(out / "metrics.json.tmp", out / "metrics.json")
log_call(vars(a))
print(f"fake engine: {a.task} {a.method} seed {a.seed} -> {out}")
