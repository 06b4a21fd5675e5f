"""Fake `python -m adamixbench train --spec spec.json --out DIR`: read the run spec the pipeline wrote,
write a synthetic record atomically. `validate` accepts every spec (the tests' suites use made-up params).
Fake `rescore --run DIR --inference-modes ...`: synthetic scores of those inference modes into DIR/scores.json.

A method whose params contain {"fail": true} yields a failed record (exit 0), like the engine's contract.
FAKE_ENGINE_CALLS (a file path), when set, gets one line per call (the spec as JSON), so tests can count
reruns and check what the pipeline handed over; a train call's line also has `cuda_visible_devices` (the
GPU the rule script placed it on) and `start` / `end` (time.time()), and FAKE_ENGINE_SLEEP (seconds) makes
it last that long, so tests can see which runs overlapped. FAKE_ENGINE_TOGETHER=<dir>:<n> makes each train
call sign in to <dir> and wait (before its sleep) until n calls have signed in: runs that the pipeline
starts together then overlap for sure, on an idle or a loaded machine (after 300 s alone it fails).
Started on several processes (torchrun sets RANK / WORLD_SIZE), each logs its `rank` and `world_size` and,
as the engine, only rank 0 writes the record.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from synthetic import make_record  # noqa: E402

p = argparse.ArgumentParser(prog="python -m adamixbench")
sub = p.add_subparsers(dest="cmd", required=True)
t = sub.add_parser("train")
t.add_argument("--spec", required=True)
t.add_argument("--out", required=True)
v = sub.add_parser("validate")  # the fake trains anything: nothing to check
v.add_argument("--specs", required=True)
v.add_argument("--resources")
r = sub.add_parser("rescore")
r.add_argument("--run", required=True)
r.add_argument("--inference-modes", default="")
r.add_argument("--splits", default="")
a = p.parse_args()
if a.cmd == "validate":
    raise SystemExit(0)


def log_call(values: dict) -> None:
    if os.environ.get("FAKE_ENGINE_CALLS"):
        with open(os.environ["FAKE_ENGINE_CALLS"], "a") as fh:
            fh.write(json.dumps(values) + "\n")


if a.cmd == "rescore":
    run = Path(a.run)
    spec = json.loads((run / "metrics.json").read_text())["spec"]
    modes = [m for m in a.inference_modes.split(",") if m]
    rec = make_record(
        spec["task"], spec["method"], spec["seed"], inference_modes=modes, model=spec["model"], label=spec["label"]
    )
    (run / "scores.json.tmp").write_text(
        json.dumps(
            {
                "scores": rec["scores"],
                "inference_modes": modes,
                "scores_by_inference": rec.get("scores_by_inference", {}),
            }
        )
    )
    os.replace(run / "scores.json.tmp", run / "scores.json")
    log_call({"cmd": "rescore", **vars(a)})
    sys.exit(0)
start = time.time()
if os.environ.get("FAKE_ENGINE_TOGETHER"):
    together, n_together = os.environ["FAKE_ENGINE_TOGETHER"].rsplit(":", 1)
    Path(together).mkdir(parents=True, exist_ok=True)
    (Path(together) / f"{os.getpid()}-{os.environ.get('RANK', 0)}").touch()
    deadline = time.monotonic() + 300
    while len(list(Path(together).iterdir())) < int(n_together):
        if time.monotonic() > deadline:
            raise SystemExit(f"fake engine: waited 300 s for {n_together} runs to run together in {together}")
        time.sleep(0.1)
time.sleep(float(os.environ.get("FAKE_ENGINE_SLEEP", 0)))
spec = json.loads(Path(a.spec).read_text())
params = spec.get("method_params") or {}
rec = make_record(
    spec["task"],
    spec["method"],
    spec["seed"],
    failed=bool(params.get("fail")),
    inference_modes=spec.get("eval_inference_modes") or (),
    model=spec["model"],
    label=spec["label"],
    epochs=int(spec.get("epochs") or 2),
)
rec.update(suite=spec["suite"], experiment=spec["experiment"], spec=spec)
out = Path(a.out)
rank = int(os.environ.get("RANK", 0))
if rank == 0:
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json.tmp").write_text(json.dumps(rec))
    os.replace(out / "metrics.json.tmp", out / "metrics.json")
log_call(
    {
        "cmd": "train",
        **spec,
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "rank": rank,
        "world_size": int(os.environ.get("WORLD_SIZE", 1)),
        "start": start,
        "end": time.time(),
    }
)
print(f"fake engine: {spec['task']} {spec['label']} seed {spec['seed']} -> {out}")
