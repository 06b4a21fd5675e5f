"""Rule `train`: run ONE engine command for one (task, method label, seed) and check its run record.

Snakemake glue only. The run spec comes from the suite's expansion (adamixbench/plan/suite.py, params.spec);
this script writes it to <run dir>/spec.json, sets the environment (offline by default, one BLAS thread per
Snakemake thread, a place on a local GPU by memory: adamixbench/engine/gpu_slots.py) and runs
`python -m adamixbench train --spec <run dir>/spec.json --out <run dir>` under adamixbench/engine/supervise.py
(the engine never outlives the workflow; what its exit code means), logging to the rule's log file.
"""

import json
import os
import sys
import time
from pathlib import Path

from adamixbench.engine.gpu_slots import gpu_placement
from adamixbench.engine.supervise import exit_message, run_engine

sm = snakemake  # noqa: F821 (injected by Snakemake)
record, log = Path(sm.output.record), Path(sm.log[0])
run_dir, spec_file = record.parent, record.parent / "spec.json"
log.parent.mkdir(parents=True, exist_ok=True)
run_dir.mkdir(parents=True, exist_ok=True)
env = {**os.environ, **{v: str(sm.threads) for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}}
tmp = spec_file.with_name(f".{spec_file.name}.tmp")  # atomic: a reader never sees half a file
tmp.write_text(json.dumps(dict(sm.params.spec), indent=2) + "\n")
os.replace(tmp, spec_file)
n_gpus = int(sm.resources.get("gpu", 0))
# A run given several GPUs (`--set-resources train:gpu=4`) runs on as many processes, one per GPU
# (adamixbench/engine/distributed.py); rank 0 writes the record. engine_args: data folders (suite `data_dirs`).
launcher = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(n_gpus)] if n_gpus > 1 else []
engine = ["-m", "adamixbench", "train", "--spec", str(spec_file), "--out", str(run_dir), *sm.params.engine_args]
argv = [sys.executable, *launcher, *engine]
name = f"{sm.wildcards.task}/{sm.wildcards.label}/seed{sm.wildcards.seed}"
t0 = time.time()
with gpu_placement(n_gpus, int(sm.resources.get("gpu_mem_mb", 0)), env), open(log, "a") as fh:
    fh.write("$ " + " ".join(argv) + "\n")  # appended: the log of a resumed run keeps the interrupted part
    placed = {k: sm.resources.get(k) for k in ("gpu", "gpu_mem_mb", "gres") if sm.resources.get(k)}
    fh.write(f"# resources {placed}, CUDA_VISIBLE_DEVICES={env.get('CUDA_VISIBLE_DEVICES', '(unset)')}\n")
    fh.flush()
    rc = run_engine(argv, fh, env, log)
took = time.time() - t0
if rc != 0:
    tail = "".join(log.read_text(errors="replace").splitlines(keepends=True)[-25:])
    sys.exit(f"[train] {name}: engine exited with code {rc} ({exit_message(rc, run_dir)}). Log {log}:\n{tail}")
if not record.exists():
    sys.exit(f"[train] {name}: the engine exited 0 but wrote no {record}; see {log}")
rec = json.loads(record.read_text())
metric = rec.get("primary_metric")
if rec.get("status") == "ok":
    msg = f"[train] {name}: ok, {metric}={rec.get('scores', {}).get(metric, float('nan')):.2f}"
else:
    msg = f"[train] {name}: FAILED [{rec.get('failure_class')}] ({rec.get('failure_reason')})"
if rec.get("resumed_from_step"):
    msg += f" (resumed from step {rec['resumed_from_step']})"
print(f"{msg} [{took:.0f} s]", file=sys.stderr, flush=True)
