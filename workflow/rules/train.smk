# One training run = one run spec (adamixbench/plan/suite.py) = one engine call = one run record (metrics.json).
# The script writes the spec to <run dir>/spec.json and calls `python -m adamixbench train --spec ...`.
# The engine writes the record atomically and exits 0 even when the run failed (status "failed" in the
# record), so a failed run shows in the tables; it exits 2 on bad input, which fails this job with the
# engine's message. A change of the spec (params) reruns the run.


wildcard_constraints:
    task=wildcard_choice(TASKS),
    label=wildcard_choice(LABELS),
    seed=r"\d+",


rule train:
    output:
        record=f"{RUNS_DIR}/{{task}}/{{label}}/seed{{seed}}/metrics.json",
    log:
        f"{LOGS_DIR}/train/{{task}}/{{label}}/seed{{seed}}.log",
    benchmark:
        f"{BENCH_DIR}/train/{{task}}/{{label}}/seed{{seed}}.tsv"
    params:
        spec=train_spec,
        engine_args=train_engine_args,
    threads: 1
    resources:
        # gpu: GPUs per run (0 = CPU; profiles/gpu and profiles/slurm set 1). gpu_mem_mb: GPU memory the
        # run needs (suite `resources.gpu_mem_mb` or the estimate of adamixbench/plan/gpu_memory.py); the
        # GPU profile bounds its sum (`--resources gpu_mem_mb=<all GPUs' memory>`) and the rule script
        # places the run on a GPU with that much memory free. Slurm: whole GPUs, or shards (gres).
        gpu=0,
        gpu_mem_mb=train_gpu_mem_mb,
        **TRAIN_SHARD_RESOURCES,
    message:
        "train {wildcards.task} / {wildcards.label} / seed {wildcards.seed}"
    conda:
        "../envs/adamix.yaml"
    script:
        "../scripts/train.py"
