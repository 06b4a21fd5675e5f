"""Rule `score`: `python -m adamixbench rescore` of one finished run (its saved weights, no training).

A failed run has no weights to score: its scores.json says so and aggregation keeps the record's failure.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

sm = snakemake  # noqa: F821 (injected by Snakemake)
record = Path(sm.input.record)
scores = Path(sm.output.scores)
log = Path(sm.log[0])
log.parent.mkdir(parents=True, exist_ok=True)
env = dict(os.environ)  # with the offline defaults the Snakemake process applied (workflow/rules/common.smk)
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    env[var] = str(sm.threads)

name = f"{sm.wildcards.task}/{sm.wildcards.label}/seed{sm.wildcards.seed}"
rec = json.loads(record.read_text())
if rec.get("status") != "ok":
    scores.write_text(
        json.dumps({"run": str(record.parent), "skipped": f"run failed: {rec.get('failure_reason')}"}) + "\n"
    )
    sys.exit(0)
argv = [sys.executable, "-m", "adamixbench", "rescore", "--run", str(record.parent), *sm.params.args]
with open(log, "w") as fh:
    fh.write("$ " + " ".join(argv) + "\n")
    fh.flush()
    rc = subprocess.call(argv, stdout=fh, stderr=subprocess.STDOUT, env=env)
if rc != 0:
    tail = "".join(log.read_text(errors="replace").splitlines(keepends=True)[-25:])
    sys.exit(f"[score] {name}: rescore exited with code {rc}. Log {log}:\n{tail}")
print(f"[score] {name}: {json.loads(scores.read_text()).get('inference_modes')}", file=sys.stderr, flush=True)
