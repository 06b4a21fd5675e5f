"""Rule `train`: run ONE engine command for one (task, method label, seed) and check its run record.

Thin on purpose: the run spec comes from the suite's expansion (adamixbench/suite.py, params.spec); this
script writes it to <run dir>/spec.json, sets the environment (offline by default, one BLAS thread per
Snakemake thread, a local GPU slot) and calls `python -m adamixbench train --spec <run dir>/spec.json
--out <run dir>`, logging to the rule's log file. The engine's exit code says what happened (cli.py):
0 record written (status ok or failed), 2 bad input (nothing trained or written), a negative code a
kill by that signal; anything else is a crash of the engine itself.
"""

import contextlib
import fcntl
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sm = snakemake  # noqa: F821 (injected by Snakemake)
record = Path(sm.output.record)
run_dir = record.parent
log = Path(sm.log[0])
log.parent.mkdir(parents=True, exist_ok=True)

env = dict(os.environ)
env.setdefault("HF_HUB_OFFLINE", "1")
env.setdefault("HF_DATASETS_OFFLINE", "1")
env.setdefault("TOKENIZERS_PARALLELISM", "false")
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    env[var] = str(sm.threads)


def _local_gpus() -> list[str]:
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [str(i) for i, line in enumerate(out.splitlines()) if line.startswith("GPU")]


@contextlib.contextmanager
def gpu_slot(n_gpus: int):
    """Pin the run to `n_gpus` free local GPUs (file locks under .snakemake/gpu-locks) unless a scheduler
    (Slurm) or the user already set CUDA_VISIBLE_DEVICES. Snakemake's `gpu` resource bounds how many
    jobs run at once; the locks decide which GPU each one gets."""
    if n_gpus <= 0 or os.environ.get("CUDA_VISIBLE_DEVICES") or os.environ.get("SLURM_JOB_ID"):
        yield
        return
    ids = _local_gpus()
    if len(ids) < n_gpus:
        sys.exit(f"rule train asks for {n_gpus} GPU(s) but nvidia-smi lists {len(ids)}")
    lock_dir = Path(".snakemake/gpu-locks")
    lock_dir.mkdir(parents=True, exist_ok=True)
    held = []
    while len(held) < n_gpus:
        for gid in ids:
            if any(g == gid for g, _ in held):
                continue
            fh = open(lock_dir / f"gpu{gid}.lock", "w")
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                held.append((gid, fh))
                if len(held) == n_gpus:
                    break
            except BlockingIOError:
                fh.close()
        else:
            time.sleep(2)
    env["CUDA_VISIBLE_DEVICES"] = ",".join(g for g, _ in held)
    try:
        yield
    finally:
        for _, fh in held:
            fh.close()


def write_spec(path: Path, spec: dict) -> None:
    """Atomically (a reader never sees half a file); mode from the umask, as every file the engine writes."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(spec, indent=2) + "\n")
    os.replace(tmp, path)


def exit_message(rc: int) -> str:
    """What a non-zero exit of the engine means (cli.py's exit codes)."""
    if rc == 2:
        return "bad input; nothing trained, nothing written"
    if rc < 0:
        import signal

        name = signal.Signals(-rc).name if -rc in signal.Signals._value2member_map_ else f"signal {-rc}"
        return f"killed by {name} (out of memory, a time limit, preemption or a user); rerun to redo it"
    return "the engine crashed before writing a record"


run_dir.mkdir(parents=True, exist_ok=True)
spec_file = run_dir / "spec.json"
write_spec(spec_file, dict(sm.params.spec))
argv = [sys.executable, "-m", "adamixbench", "train", "--spec", str(spec_file), "--out", str(run_dir),
        *sm.params.engine_args]  # data folders (suite `data_dirs`)
name = f"{sm.wildcards.task}/{sm.wildcards.label}/seed{sm.wildcards.seed}"
t0 = time.time()
with gpu_slot(int(sm.resources.get("gpu", 0))), open(log, "w") as fh:
    fh.write("$ " + " ".join(argv) + "\n")
    fh.flush()
    rc = subprocess.call(argv, stdout=fh, stderr=subprocess.STDOUT, env=env)
took = time.time() - t0
if rc != 0:
    tail = "".join(log.read_text(errors="replace").splitlines(keepends=True)[-25:])
    sys.exit(f"[train] {name}: engine exited with code {rc} ({exit_message(rc)}). Log {log}:\n{tail}")
if not record.exists():
    sys.exit(f"[train] {name}: the engine exited 0 but wrote no {record}; see {log}")
rec = json.loads(record.read_text())
status = rec.get("status")
score = rec.get("scores", {}).get(rec.get("primary_metric"), float("nan")) if status == "ok" else None
msg = (f"[train] {name}: ok, {rec.get('primary_metric')}={score:.2f}" if status == "ok"
       else f"[train] {name}: FAILED [{rec.get('failure_class')}] ({rec.get('failure_reason')})")
print(f"{msg} [{took:.0f} s]", file=sys.stderr, flush=True)
