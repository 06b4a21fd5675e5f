# The suite, its run matrix and its tables, built by adamixbench/plan/ (torch-free: dry-runs and --lint
# stay fast and offline), the output paths, and the input / params functions of the rules (no lambdas in
# rules). Only what needs Snakemake's `workflow` object or a rule's wildcards lives here:
#   suite_file.py        which suite, --config merged, validation (suite_validation.py), smoke mode
#   command_line.py      typed --config values, plan-only calls (dry-run, lint, ...), the --report folder
#   runs.py              the run matrix, data folders, re-scoring options, the engine's check of every spec
#   tables.py            table specs, rows, captions, palette, figures

import os
import sys
from pathlib import Path

# workflow.current_basedir = this file's folder (workflow/rules).
WORKFLOW_DIR = Path(workflow.current_basedir).parent
REPO_ROOT = WORKFLOW_DIR.parent
PAPER_RESULTS = str(WORKFLOW_DIR / "resources" / "paper_results.csv")
CLAIMS_FILE = str(WORKFLOW_DIR / "resources" / "claims.yaml")

# The workflow runs the engine of THIS checkout: put it first on the path of the DAG-building process too.
sys.path.insert(0, str(REPO_ROOT))
from adamixbench.sources.offline import apply_offline_defaults  # noqa: E402

apply_offline_defaults()  # offline by default (docs/PIPELINE.md), before anything reads the hub variables
from adamixbench.plan import command_line, runs, suite_file, tables  # noqa: E402
from adamixbench.plan.suite import ConfigError  # noqa: E402
from adamixbench.plan.tables import PLOT_KINDS  # noqa: E402  (rule plot's wildcard constraint)
from adamixbench.plan.runs import wildcard_choice  # noqa: E402  (the rules' wildcard constraints)


def start_engine_server() -> None:
    """onstart: the warm engine (adamixbench/engine/server.py) that forks every training run of this
    Snakemake from one process that has imported torch, transformers and datasets once. Only when the jobs
    run on this machine (never under a cluster executor such as Slurm) and it has no GPU driver;
    ADAMIX_ENGINE_SERVER=0 turns it off (engine_server.enabled)."""
    from adamixbench.engine import server as engine_server

    if workflow.local_exec and engine_server.enabled():
        engine_server.start(os.getpid())


command_line.make_report_folder(sys.argv)
suite_file.check_suite_files(workflow.overwrite_configfiles)
SUITE = suite_file.load_suite(command_line.command_line_config(config, workflow.config_settings.config))
SUITE_NAME = SUITE["suite"]
# the report's front page (workflow/report/workflow.rst) shows the suite's description, e.g. which of its
# experiments is only a smoke test (mini: E2E)
config["description"] = SUITE.get("description", "")
OUT = f"{SUITE['output_root'].rstrip('/')}/{SUITE_NAME}"
RUNS_DIR = f"{OUT}/runs"
LOGS_DIR = f"{OUT}/logs"
BENCH_DIR = f"{OUT}/benchmarks"
DATA_DIRS = SUITE.get("data_dirs", {})

# --------------------------------------------------------------------------------------------------
# the run matrix: {(task, label, seed): run spec}
# --------------------------------------------------------------------------------------------------
RUNS = runs.build_runs(SUITE)
TASKS = sorted({k[0] for k in RUNS})
LABELS = sorted({k[1] for k in RUNS})
# Every spec through the engine's own checks, once, before any job. Jobs that re-read this file on a
# cluster node skip it: the main process has checked every run.
if workflow.is_main_process:
    runs.validate_runs(RUNS, SUITE, "warn" if command_line.plans_only(sys.argv, OUT) else "error")


def run_record(task, label, seed) -> str:
    return f"{RUNS_DIR}/{task}/{label}/seed{seed}/metrics.json"


def all_run_records(wildcards=None) -> list:
    return [run_record(*key) for key in RUNS]


def _run_of(wildcards) -> dict:
    key = (wildcards.task, wildcards.label, int(wildcards.seed))
    if key not in RUNS:
        raise ConfigError(f"{key} is not a run of suite {SUITE_NAME}")
    return RUNS[key]


def train_spec(wildcards) -> dict:
    """The run spec the train rule hands to the engine (written to <run dir>/spec.json). Without the
    scoring options (eval_inference_modes): those are rule score's params, so changing them never retrains."""
    return {**_run_of(wildcards), "eval_inference_modes": []}


def train_engine_args(wildcards) -> list:
    return runs.engine_data_args(_run_of(wildcards), DATA_DIRS)


_BACKBONE_SHAPES = {}  # model -> its shape from config.json, read once per model (adamixbench/plan/gpu_memory.py)


def train_gpu_mem_mb(wildcards) -> int:
    """GPU memory (MB) one training run needs: Snakemake resource `gpu_mem_mb` of rule train, so that a
    GPU profile packs runs onto GPUs by memory. From the suite's `resources.gpu_mem_mb`, else estimated
    from the backbone, batch, sequence length and method (the formula: adamixbench/plan/gpu_memory.py)."""
    from adamixbench.plan.gpu_memory import train_gpu_mem_mb as estimate

    return estimate(_run_of(wildcards), SUITE.get("resources", {}).get("gpu_mem_mb"), _BACKBONE_SHAPES)


def train_slurm_shards(wildcards) -> str:
    """Slurm GPU sharding (suite `resources.gpu_shard_mb`): the shards of one training run, as a gres."""
    shards = -(-train_gpu_mem_mb(wildcards) // SUITE["resources"]["gpu_shard_mb"])
    return f"shard:{shards}"


# rule train's `gres` resource only where Slurm shards GPUs (otherwise the profile's `gpu` applies)
TRAIN_SHARD_RESOURCES = {"gres": train_slurm_shards} if SUITE.get("resources", {}).get("gpu_shard_mb") else {}


def score_files(wildcards=None) -> list:
    """scores.json of every run with something to re-score (rule score; aggregation lays it over the record)."""
    return [
        f"{RUNS_DIR}/{t}/{l}/seed{s}/scores.json"
        for (t, l, s), run in RUNS.items()
        if any(runs.score_options(run, SUITE["experiments"]))
    ]


def score_args(wildcards) -> list:
    """`python -m adamixbench rescore` options of one run: the only params of rule score."""
    run = _run_of(wildcards)
    modes, splits = runs.score_options(run, SUITE["experiments"])
    data = runs.engine_data_args(run, DATA_DIRS)  # the same data folders as its training run
    return ["--inference-modes", ",".join(modes), "--splits", ",".join(splits), *data]


def run_identities(wildcards=None) -> list:
    """(suite, experiment, label, task, seed) of each run record, in all_run_records() order."""
    return [{k: RUNS[key][k] for k in ("suite", "experiment", "label", "task", "seed")} for key in RUNS]


def recipe_card_text(wildcards=None) -> str:
    """The suite's recipe card (rule recipe_card, workflow/rules/recipes.smk)."""
    from adamixbench.plan.recipes import recipe_card

    return recipe_card(SUITE, list(RUNS.values()))


# --------------------------------------------------------------------------------------------------
# analysis: {table name: table spec}
# --------------------------------------------------------------------------------------------------
TABLES = tables.table_specs(SUITE, RUNS)


def _layout_tasks(layout: str):
    """The tasks of a paper layout's columns (adamixbench/analysis/layouts.py), None for other layouts."""
    from adamixbench.analysis.layouts import LAYOUTS

    return [c.task for c in LAYOUTS[layout].columns] if layout in LAYOUTS else None


def table_spec(wildcards) -> dict:
    """Everything the table/compare/plot scripts need for the table {table} (JSON-serialisable)."""
    return tables.resolve_table(TABLES[wildcards.table], SUITE, RUNS, _layout_tasks)


def all_table_specs(wildcards=None) -> dict:
    """{table name: table_spec} for the claims rule (which resolves every table's layout)."""
    return {name: tables.resolve_table(spec, SUITE, RUNS, _layout_tasks) for name, spec in TABLES.items()}


# the suite's tables over budgeted runs (adamixbench/plan/budget.py): {table: the budget view's spec}
BUDGETS = tables.budget_specs(SUITE, RUNS, _layout_tasks)


def budget_spec(wildcards) -> dict:
    """Everything the budget script needs for the suite table {group} (rule budget)."""
    return BUDGETS[wildcards.group]


def claim_budgets(wildcards=None) -> dict:
    """{suite table: {budget key: the table at that budget}}: the claims rule tests a claim per budget."""
    return {name: spec["tables"] for name, spec in BUDGETS.items()}


def final_outputs(wildcards=None) -> list:
    # every run record is a target itself: a lost or interrupted record is redone even when the
    # aggregate files downstream of it are still present
    out = all_run_records() + score_files()
    out += [f"{OUT}/{name}" for name in ("runs.csv", "history.csv", "summary.csv", "tables/failed_runs.md")]
    out += [f"{OUT}/tables/claims.{ext}" for ext in ("md", "csv")]
    for name, spec in TABLES.items():
        out += [f"{OUT}/tables/{name}.{ext}" for ext in ("md", "tex", "csv", "html")]
        out += [f"{OUT}/tables/{name}_{kind}.{ext}" for kind in ("paired", "aggregate") for ext in ("md", "csv")]
        out += [f"{OUT}/plots/{name}/{kind}.{ext}" for kind in tables.plot_kinds(spec) for ext in ("png", "svg")]
        if spec.get("pairs"):
            out += [f"{OUT}/tables/{name}_vs_adamix.{ext}" for ext in ("md", "csv", "tex", "html")]
    for name in BUDGETS:  # the budget view of a table over budgeted runs (rule budget)
        out += [f"{OUT}/tables/{name}_budget.{ext}" for ext in ("md", "csv", "html")]
        out += [f"{OUT}/tables/{name}_budget_reach.csv"]
        out += [f"{OUT}/plots/{name}/{kind}.{ext}" for kind in tables.BUDGET_PLOT_KINDS for ext in ("png", "svg")]
    return out
