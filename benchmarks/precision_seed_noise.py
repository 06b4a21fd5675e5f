"""Does a lower-precision training step change scores by more than seed noise?

Runs the SAME runs of a suite (default: the `mini` suite's SST-2 runs, so exactly the default suite's data
size, steps and hyper-parameters) once per precision, through the real engine (`python -m adamixbench
train --spec`), alternating precisions seed by seed so that a partial result is still paired, and then
compares, per method label, the scores paired by seed:

* the seed noise: the standard deviation over seeds of the reference precision (ddof=1);
* the paired difference (other - reference) per seed, its mean with a 95% t interval;
* the exact Wilcoxon signed-rank test and the paired t-test of "no difference";
* the verdict `within seed noise` when the 95% interval of the mean paired difference lies inside
  +- the seed std of the reference precision (a two-one-sided-tests equivalence check at alpha 0.025 per
  side with the seed std as the margin), `outside` when it lies wholly outside, else `inconclusive`.

    python benchmarks/precision_seed_noise.py --labels lora,adamix_adapter --seeds 1,2,3,4,5 \
        --precisions fp32,bf16 --out benchmarks/out/precision_seed_noise

Each run writes its record under <out>/<precision>/<task>/<label>/seed<k>/metrics.json; a run with a
record is not run again, so the command resumes, and several processes may share --out (e.g. one per
core: each trains the runs no other holds; run the command once more at the end for the full summary).
The summary is printed (and written as summary.json).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml
from scipy import stats

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from adamixbench.plan.suite import expand  # noqa: E402


def suite_runs(suite: str, task: str, labels: list[str], seeds: list[int]) -> dict:
    cfg = yaml.safe_load((REPO_ROOT / "config" / "suites" / f"{suite}.yaml").read_text())
    runs = expand(cfg)
    missing = [(task, lab, s) for lab in labels for s in seeds if (task, lab, s) not in runs]
    if missing:
        sys.exit(f"suite {suite} has no runs {missing}; pick --labels / --seeds / --task among its runs")
    return {(lab, s): runs[(task, lab, s)] for s in seeds for lab in labels}


def run_one(spec: dict, precision: str, out: Path, threads: int, train: bool = True) -> dict | None:
    """The run's record; trains it first unless it has one (or `train` is off). None when another process
    of this script is training it (several processes may share --out: each takes the runs nobody holds)."""
    run_dir = out / precision / spec["task"] / spec["label"] / f"seed{spec['seed']}"
    record = run_dir / "metrics.json"
    if not train and not record.exists():
        return None
    run_dir.mkdir(parents=True, exist_ok=True)
    claim = open(run_dir / ".claim", "w")
    try:
        fcntl.flock(claim, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return None
    if not record.exists():
        spec_file = run_dir / "spec.json"
        spec_file.write_text(json.dumps({**spec, "precision": precision, "eval_inference_modes": []}, indent=2))
        env = {**os.environ, **{v: str(threads) for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}}
        with open(run_dir / "engine.log", "w") as log:
            rc = subprocess.run(
                [sys.executable, "-m", "adamixbench", "train", "--spec", str(spec_file), "--out", str(run_dir)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            ).returncode
        if rc != 0:
            sys.exit(f"engine exited {rc}; see {run_dir / 'engine.log'}")
    claim.close()
    rec = json.loads(record.read_text())
    print(
        f"{precision} {spec['label']} seed{spec['seed']}: {rec['status']} "
        f"{rec['scores'].get(rec['primary_metric'])} train {rec['cost'].get('train_time_s')} s",
        flush=True,
    )
    return rec


def compare(scores: dict, labels: list[str], ref: str, other: str) -> list[dict]:
    rows = []
    for lab in labels:
        seeds = sorted(s for (p, lab_, s) in scores if p == ref and lab_ == lab and (other, lab, s) in scores)
        a = np.array([scores[(ref, lab, s)] for s in seeds])
        b = np.array([scores[(other, lab, s)] for s in seeds])
        d = b - a
        n = len(d)
        row = {"label": lab, "n": n, f"{ref}_mean": a.mean() if n else None, f"{other}_mean": b.mean() if n else None}
        if n >= 2:
            noise = a.std(ddof=1)
            half = stats.t.ppf(0.975, n - 1) * d.std(ddof=1) / math.sqrt(n)
            lo, hi = d.mean() - half, d.mean() + half
            verdict = (
                "within seed noise"
                if -noise < lo and hi < noise
                else "outside seed noise"
                if lo > noise or hi < -noise
                else "inconclusive"
            )
            row.update(
                {
                    f"{ref}_std": noise,
                    f"{other}_std": b.std(ddof=1),
                    "diff_mean": d.mean(),
                    "diff_ci95": [lo, hi],
                    "ttest_p": stats.ttest_rel(b, a).pvalue if d.any() else 1.0,
                    "wilcoxon_p": stats.wilcoxon(b, a).pvalue if n >= 5 and d.any() else None,
                    "verdict": verdict,
                }
            )
        rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--suite", default="mini")
    ap.add_argument("--task", default="sst2")
    ap.add_argument("--labels", default="lora,adamix_adapter")
    ap.add_argument("--seeds", default="1,2,3,4,5")
    ap.add_argument("--precisions", default="fp32,bf16", help="reference first")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="benchmarks/out/precision_seed_noise")
    ap.add_argument("--summary-only", action="store_true", help="train nothing: summarise the records there are")
    args = ap.parse_args()
    labels, precisions = args.labels.split(","), args.precisions.split(",")
    runs = suite_runs(args.suite, args.task, labels, [int(s) for s in args.seeds.split(",")])
    out = Path(args.out)
    scores, cost = {}, {}
    for (lab, seed), spec in runs.items():  # seed-major, precisions alternating: partial results stay paired
        for precision in precisions:
            rec = run_one(spec, precision, out, args.threads, train=not args.summary_only)
            if rec is None:
                continue
            if rec["status"] == "ok":
                scores[(precision, lab, seed)] = rec["scores"][rec["primary_metric"]]
            cost.setdefault((precision, lab), []).append(rec["cost"].get("train_time_s"))
    summary = {
        "suite": args.suite,
        "task": args.task,
        "comparisons": {p: compare(scores, labels, precisions[0], p) for p in precisions[1:]},
        "train_time_s_median": {f"{p}/{lab}": float(np.median(v)) for (p, lab), v in cost.items()},
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=float))
    print(json.dumps(summary, indent=2, default=float))


if __name__ == "__main__":
    main()
