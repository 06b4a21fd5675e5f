# Re-scoring from saved weights: extra AdaMix inference modes and extra splits of a finished run.
# Its params are the scoring options (and the data folders its training run used, suite `data_dirs`), and
# rule train's params never include the scoring options, so adding an inference mode or a split to a
# suite reruns this rule, never training.


rule score:
    input:
        record=f"{RUNS_DIR}/{{task}}/{{label}}/seed{{seed}}/metrics.json",
    output:
        scores=f"{RUNS_DIR}/{{task}}/{{label}}/seed{{seed}}/scores.json",
    log:
        f"{LOGS_DIR}/score/{{task}}/{{label}}/seed{{seed}}.log",
    params:
        args=score_args,
    threads: 1
    resources:
        gpu=0,
    message:
        "score {wildcards.task} / {wildcards.label} / seed {wildcards.seed}"
    conda:
        "../envs/adamix.yaml"
    script:
        "../scripts/score.py"
