"""CPU seconds of single runs of a suite, through the real engine, to estimate the suite's wall time on an
idle machine from per-run costs (on a loaded machine wall times say little; CPU seconds barely move).

Each run is the suite's own run spec (adamixbench/plan/suite.py) given to `python -m adamixbench train --spec`
with OMP_NUM_THREADS=1 (as the pipeline runs it with `threads: 1`); its CPU time is exact: user + system
time of the engine process (getrusage of the finished child), start-up, training, evaluation and
decoding included. Prints one JSON object per run: the run, `cpu_s`, `wall_s`, and the record's
`train_time_s` / `eval_time_s` (wall) and score.

    python benchmarks/run_cpu_cost.py --suite mini --runs sst2/full_ft/1,sst2/lora/1,e2e/lora_nlg/1
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from adamixbench.plan.suite import expand  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--suite", default="mini")
    ap.add_argument("--runs", required=True, help="comma-separated task/label/seed")
    ap.add_argument("--out", default=None, help="folder for the run folders (default: a temporary one)")
    args = ap.parse_args()
    runs = expand(yaml.safe_load((REPO_ROOT / "config" / "suites" / f"{args.suite}.yaml").read_text()))
    out = Path(args.out or tempfile.mkdtemp(prefix="run-cpu-cost-"))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    for item in args.runs.split(","):
        task, label, seed = item.rsplit("/", 2)
        key = (task, label, int(seed))
        if key not in runs:
            sys.exit(f"{item} is not a run of suite {args.suite}")
        run_dir = out / task / label / f"seed{seed}"
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "spec.json").write_text(json.dumps({**runs[key], "eval_inference_modes": []}))
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.time()
        with open(run_dir / "engine.log", "w") as log:
            rc = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "adamixbench",
                    "train",
                    "--spec",
                    str(run_dir / "spec.json"),
                    "--out",
                    str(run_dir),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            ).returncode
        wall = time.time() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if rc != 0:
            sys.exit(f"{item}: engine exited {rc}; see {run_dir / 'engine.log'}")
        rec = json.loads((run_dir / "metrics.json").read_text())
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        print(
            json.dumps(
                {
                    "run": item,
                    "cpu_s": round(cpu, 1),
                    "wall_s": round(wall, 1),
                    "status": rec["status"],
                    "score": rec["scores"].get(rec["primary_metric"]),
                    "metric": rec["primary_metric"],
                    "train_time_s": rec["cost"].get("train_time_s"),
                    "eval_time_s": rec["cost"].get("eval_time_s"),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
