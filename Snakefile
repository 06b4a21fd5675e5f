# AdaMix reproducibility suite: methods x tasks x seeds -> one run record per run -> tables, plots, report.
#
#   snakemake --cores all                                  # the `mini` suite (offline, CPU, ~13 min on 2 idle cores)
#   snakemake --cores all --config suite=glue_bert_base    # another suite (config/suites/<suite>.yaml)
#   snakemake --cores all --configfile my_suite.yaml       # your own suite file
#   snakemake --report reports/mini/report.html            # self-contained HTML report
#
# See docs/PIPELINE.md (GPUs, Slurm, resuming, adding a method).

from snakemake.utils import min_version

min_version("9.0")


configfile: os.path.join(workflow.basedir, "config", "config.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/score.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/recipes.smk"


onstart:
    start_engine_server()


rule all:
    input:
        final_outputs,
    default_target: True
