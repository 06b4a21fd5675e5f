# Helpers of the AdaMix benchmark workflow: suite loading + validation, the run matrix, and the input /
# params functions used by the rules (no lambdas in rules). Pure Python; nothing here imports torch, so
# dry-runs (`snakemake -n`) and `--lint` are fast and offline.

import copy
import json
import os
import re
import sys
from pathlib import Path

import yaml

# workflow.current_basedir = this file's folder (workflow/rules).
WORKFLOW_DIR = Path(workflow.current_basedir).parent
REPO_ROOT = WORKFLOW_DIR.parent
SUITES_DIR = REPO_ROOT / "config" / "suites"
SCHEMA_PATH = WORKFLOW_DIR / "schemas" / "config.schema.yaml"
PAPER_RESULTS = str(WORKFLOW_DIR / "resources" / "paper_results.csv")
CLAIMS_FILE = str(WORKFLOW_DIR / "resources" / "claims.yaml")

# The workflow runs the engine of THIS checkout: put it first on the path of the DAG-building process too.
sys.path.insert(0, str(REPO_ROOT))
from adamixbench.sources.offline import apply_offline_defaults  # noqa: E402

apply_offline_defaults()  # offline by default (docs/PIPELINE.md), before anything reads the hub variables
from adamixbench.plan.spec import family_of  # noqa: E402  (pure Python: no torch in the DAG-building process)
from adamixbench.plan.suite import SuiteError, deep_merge, expand, is_adamix  # noqa: E402


class ConfigError(Exception):
    """A suite configuration that cannot run; the message names the key and the allowed values."""


def _where(path) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "<top level>"


def _allowed(schema) -> list:
    """Allowed values / patterns of a (sub)schema, for error messages."""
    vals = []
    if not isinstance(schema, dict):
        return vals
    if "enum" in schema:
        vals += [repr(v) for v in schema["enum"]]
    if "const" in schema:
        vals.append(repr(schema["const"]))
    if "pattern" in schema:
        vals.append(f"a string matching /{schema['pattern']}/")
    if "$ref" in schema:
        vals += _allowed(_resolve_ref(schema["$ref"]))
    for key in ("anyOf", "oneOf"):
        for sub in schema.get(key, []):
            vals += _allowed(sub)
    return vals


_SCHEMA = None


def _schema():
    global _SCHEMA
    if _SCHEMA is None:
        _SCHEMA = yaml.safe_load(SCHEMA_PATH.read_text())
    return _SCHEMA


def _resolve_ref(ref: str):
    node = _schema()
    for part in ref.lstrip("#/").split("/"):
        node = node[part]
    return node


def _describe_error(err) -> str:
    where = _where(err.absolute_path)
    if err.validator == "additionalProperties":
        extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
        allowed = sorted(err.schema.get("properties", {}))
        return (f"config key {where}: unknown key(s) {extra}; allowed keys: {allowed}")
    if err.validator == "type" and isinstance(err.instance, str) and _looks_numeric(err.instance):
        return (f"config key {where}: {err.message}. YAML 1.1 reads {err.instance!r} as a string: write the number "
                f"with a dot and a signed exponent (5.0e-3) or as a decimal (0.005)")
    if err.validator in ("enum", "const", "anyOf", "oneOf", "pattern"):
        allowed = _allowed(err.schema)
        return f"config key {where}: invalid value {err.instance!r}; allowed: {', '.join(allowed) or err.message}"
    if err.validator == "required":
        return f"config key {where}: {err.message}"
    return f"config key {where}: {err.message}"


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def validate_suite(cfg: dict) -> None:
    """JSON-Schema validation (workflow/schemas/config.schema.yaml) + cross-reference checks."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(_schema())
    errors = sorted(validator.iter_errors(cfg), key=lambda e: (len(list(e.absolute_path)), list(map(str, e.absolute_path))))
    if errors:
        # deepest first is more precise for if/then failures; report every distinct message
        msgs = list(dict.fromkeys(_describe_error(e) for e in reversed(errors)))
        raise ConfigError(f"suite '{cfg.get('suite', '?')}' is invalid ({len(msgs)} problem(s)):\n  - "
                          + "\n  - ".join(msgs))
    labels = set(cfg["methods"])
    problems = []
    names = [e["name"] for e in cfg["experiments"]]
    if len(names) != len(set(names)):
        problems.append(f"experiment names must be unique, got {names}")
    for i, exp in enumerate(cfg["experiments"]):
        for lab in exp["methods"]:
            if lab not in labels:
                problems.append(f"config key experiments[{i}].methods: unknown method label {lab!r}; "
                                f"allowed: the labels defined under `methods`: {sorted(labels)}")
        for j, ov in enumerate(exp.get("overrides", [])):
            for t in ov.get("tasks", []):
                if t not in exp["tasks"]:
                    problems.append(f"config key experiments[{i}].overrides[{j}].tasks: {t!r} is not a task of this "
                                    f"experiment; allowed: {exp['tasks']}")
            for m in ov.get("methods", []):
                if m not in exp["methods"]:
                    problems.append(f"config key experiments[{i}].overrides[{j}].methods: {m!r} is not a method of "
                                    f"this experiment; allowed: {exp['methods']}")
    all_tasks = {t for e in cfg["experiments"] for t in e["tasks"]}
    gpu_mem = cfg.get("resources", {}).get("gpu_mem_mb")
    for j, match in enumerate(gpu_mem if isinstance(gpu_mem, list) else []):
        for key, known in (("experiments", set(names)), ("methods", labels), ("tasks", all_tasks)):
            for value in match.get(key, []):
                if value not in known:
                    problems.append(f"config key resources.gpu_mem_mb[{j}].{key}: unknown value {value!r}; "
                                    f"allowed: {sorted(known)}")
    used_models = {e["model"] for e in cfg["experiments"]}
    for name in cfg.get("models", {}):
        if name not in used_models:
            problems.append(f"config key models: {name!r} is not the model of any experiment; allowed: {sorted(used_models)}")
    analysis = cfg.get("analysis", {})
    for lab in list(analysis.get("paper_rows", {})) + analysis.get("references", []):
        if lab not in labels:
            problems.append(f"config key analysis: unknown method label {lab!r}; allowed: {sorted(labels)}")
    for k, tab in enumerate(analysis.get("tables", [])):
        pair_labels = [lab for pair in tab.get("pairs", {}).items() for lab in pair]
        for lab in tab.get("methods", []) + ([tab["routing_violin"]] if "routing_violin" in tab else []) + pair_labels:
            if lab not in labels:
                problems.append(f"config key analysis.tables[{k}]: unknown method label {lab!r}; allowed: {sorted(labels)}")
    norm = analysis.get("normalization", "minmax")
    if norm.startswith("baseline:") and norm.split(":", 1)[1] not in labels:
        problems.append(f"config key analysis.normalization: unknown method label {norm.split(':', 1)[1]!r}; "
                        f"allowed: baseline:<one of {sorted(labels)}> or minmax")
    tnames = [t["name"] for t in analysis.get("tables", [])]
    if len(tnames) != len(set(tnames)):
        problems.append(f"config key analysis.tables: table names must be unique, got {tnames}")
    if problems:
        raise ConfigError(f"suite '{cfg['suite']}' is invalid:\n  - " + "\n  - ".join(problems))


def read_yaml(path: Path) -> dict:
    """A YAML mapping; a syntax error names the file, line and column."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except OSError as error:
        raise ConfigError(f"{path}: cannot read it ({error.strerror})") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}, line {mark.line + 1}, column {mark.column + 1}" if mark else str(path)
        raise ConfigError(f"{where}: YAML syntax error: {getattr(error, 'problem', None) or error}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a suite file must be a YAML mapping (suite:, methods:, experiments:, ...), "
                          f"got a {type(data).__name__}")
    return data


def check_suite_files(configfiles) -> None:
    """A suite file given with --configfile must name its suite: otherwise it would inherit `suite: mini`
    from config/config.yaml and write into results/mini."""
    for path in configfiles or []:
        data = read_yaml(Path(path))
        if "experiments" in data and "suite" not in data:
            raise ConfigError(f"{path}: the suite file has no `suite:` key; add `suite: <name>` (its outputs go to "
                              f"<output_root>/<name>/)")


def load_suite(config: dict) -> dict:
    """The resolved suite: `config` itself when it holds `experiments` (e.g. --configfile a suite file),
    else config/suites/<suite>.yaml with `config`'s other keys merged on top (deep merge: `--config
    'defaults={max_steps: 2}'` changes max_steps and keeps the suite's other defaults)."""
    cfg = copy.deepcopy(dict(config))
    if "experiments" not in cfg:
        name = cfg.get("suite", "mini")
        path = SUITES_DIR / f"{name}.yaml"
        if not path.exists():
            known = sorted(p.stem for p in SUITES_DIR.glob("*.yaml"))
            raise ConfigError(f"config key suite: unknown suite {name!r}; allowed: {known} "
                              f"(or --configfile <your suite file>)")
        cfg = deep_merge(read_yaml(path), {k: v for k, v in cfg.items() if k != "suite"})
    if isinstance(cfg.get("smoke"), str):  # `--config smoke=true` arrives as a string
        cfg["smoke"] = {"true": True, "false": False}.get(cfg["smoke"].lower(), cfg["smoke"])
    validate_suite(cfg)
    cfg.setdefault("output_root", "results")
    cfg.setdefault("analysis", {})
    models = cfg.pop("models", {})
    for exp in cfg["experiments"]:
        exp["model"] = models.get(exp["model"], exp["model"])
    if cfg.pop("smoke", False):
        from adamixbench.plan.smoke import apply_smoke

        cfg = apply_smoke(cfg)
    return cfg


def start_engine_server() -> None:
    """onstart: the warm engine (adamixbench/engine/server.py) that forks every training run of this
    Snakemake from one process that has imported torch, transformers and datasets once. Only when the jobs
    run on this machine (never under a cluster executor such as Slurm) and it has no GPU driver;
    ADAMIX_ENGINE_SERVER=0 turns it off (engine_server.enabled)."""
    from adamixbench.engine import server as engine_server

    if workflow.local_exec and engine_server.enabled():
        engine_server.start(os.getpid())


def _make_report_folder(argv) -> None:
    """`snakemake --report reports/<suite>/report.html` needs the folder; Snakemake does not create it."""
    for i, arg in enumerate(argv):
        path = argv[i + 1] if arg == "--report" and i + 1 < len(argv) else (
            arg.split("=", 1)[1] if arg.startswith("--report=") else None)
        if path and path.endswith((".html", ".zip")):
            Path(path).parent.mkdir(parents=True, exist_ok=True)


def _typed(value):
    """Snakemake reads a structured --config value (`defaults={max_steps: 2}`) with YAML's BaseLoader, which
    keeps every scalar a string; read those scalars as YAML values (2 -> int, 5.0e-3 -> float, null)."""
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    if isinstance(value, str):
        try:
            return yaml.safe_load(value)
        except yaml.YAMLError:
            return value
    return value


def command_line_config(config: dict, overrides) -> dict:
    """`config` with the --config values given as structures typed (their top-level scalars Snakemake
    already reads as int / float / bool)."""
    structured = {k: _typed(v) for k, v in dict(overrides or {}).items() if isinstance(v, (dict, list))}
    return deep_merge(config, structured)


_make_report_folder(sys.argv)
check_suite_files(workflow.overwrite_configfiles)
SUITE = load_suite(command_line_config(config, workflow.config_settings.config))
SUITE_NAME = SUITE["suite"]
# the report's front page (workflow/report/workflow.rst) shows the suite's description, e.g. which of its
# experiments is only a smoke test (mini: E2E)
config["description"] = SUITE.get("description", "")
OUT = f"{SUITE['output_root'].rstrip('/')}/{SUITE_NAME}"
RUNS_DIR = f"{OUT}/runs"
LOGS_DIR = f"{OUT}/logs"
BENCH_DIR = f"{OUT}/benchmarks"


# --------------------------------------------------------------------------------------------------
# the run matrix
# --------------------------------------------------------------------------------------------------
def build_runs(cfg: dict) -> dict:
    """{(task, label, seed): run spec} (adamixbench/plan/suite.py)."""
    try:
        return expand(cfg)
    except SuiteError as error:
        raise ConfigError(str(error)) from None


def validate_runs(runs: dict) -> None:
    """Every run spec through the engine's own checks (`python -m adamixbench validate`), once, in a
    subprocess so that this process never imports torch: method params (each method's validate hook),
    plug-ins, inference modes against num_experts, data files, backbones offline. A missing backbone
    stops a real run but is a warning in a dry-run (`-n`), which still plans the work. Unavailable data
    of a task are a warning naming its runs: their train jobs write failed records (data_unavailable),
    so the other runs go on and the tables show those cells as failed. Jobs that re-read this file on a
    cluster node skip it: the main process has checked every run."""
    if not workflow.is_main_process or not runs:
        return
    import hashlib
    import subprocess
    import tempfile

    resources = "warn" if plans_only(sys.argv) else "error"
    specs = json.dumps([{**spec, **engine_data_dirs(spec)} for spec in runs.values()], sort_keys=True)
    # A clean result is remembered (.snakemake/adamix-validated/<key>) for the same specs, checker code and
    # environment, so repeated dry-runs and reruns skip the subprocess. Safe: the engine checks its method,
    # backbone, device and data again before it trains, with the same messages.
    code = sorted((str(p), p.stat().st_mtime_ns) for d in ("adamixbench", "baselines", "adamix")
                  for p in (REPO_ROOT / d).rglob("*.py"))
    env = [os.environ.get(v) for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "HF_HOME", "PYTHONPATH")]
    key = hashlib.sha256(json.dumps([specs, code, env, resources]).encode()).hexdigest()[:32]
    stamp = Path(".snakemake") / "adamix-validated" / key
    if stamp.exists():
        return
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="adamix-specs-", delete=False) as fh:
        fh.write(specs)
    try:
        result = subprocess.run([sys.executable, "-m", "adamixbench", "validate", "--specs", fh.name,
                                 "--resources", resources], capture_output=True, text=True)
    finally:
        os.unlink(fh.name)
    if result.returncode != 0:
        raise ConfigError(f"suite '{SUITE_NAME}': {result.stderr.strip() or result.stdout.strip()}")
    if result.stderr.strip():
        print(result.stderr.strip(), file=sys.stderr)  # warnings: not remembered, shown every time
    else:
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.touch()


PLANNING_FLAGS = ("-n", "--dry-run", "--dryrun", "--lint", "--report", "--unlock", "--summary", "--detailed-summary",
                  "--dag", "--rulegraph", "--filegraph", "--list-rules", "--list", "-l", "--cleanup-metadata",
                  "--list-changes", "--lc", "--list-input-changes", "--li", "--list-params-changes", "--lp",
                  "--list-code-changes", "--list-untracked", "--archive", "--export-cwl")


def plans_only(argv) -> bool:
    """Snakemake was asked to plan or inspect (dry-run, lint, report, DAG, ...), not to run jobs: then a
    missing backbone or data file is a warning (the workflow's executor is not known while it is parsed)."""
    for arg in argv[1:]:
        if arg.split("=", 1)[0] in PLANNING_FLAGS:
            return True
        if re.fullmatch(r"-[a-zA-Z]*n[a-zA-Z]*", arg):  # -n combined with other short flags, e.g. -np
            return True
    # building only recipe cards (`make recipes`) trains nothing: it needs neither backbones nor data
    wanted = [a for a in argv[1:] if a.endswith(".md") or a.startswith(OUT) or a == "all"]
    return bool(wanted) and all(a.startswith("docs/recipes/") for a in wanted)


RUNS = build_runs(SUITE)
TASKS = sorted({k[0] for k in RUNS})
LABELS = sorted({k[1] for k in RUNS})


def run_record(task, label, seed) -> str:
    return f"{RUNS_DIR}/{task}/{label}/seed{seed}/metrics.json"


def all_run_records(wildcards=None) -> list:
    return [run_record(*key) for key in RUNS]


def _run_of(wildcards) -> dict:
    key = (wildcards.task, wildcards.label, int(wildcards.seed))
    if key not in RUNS:
        raise ConfigError(f"{key} is not a run of suite {SUITE_NAME}")
    return RUNS[key]


def engine_data_dirs(run: dict) -> dict:
    """{data_dir, glue_data_dir} of one run from the suite's `data_dirs` (machine paths: engine options,
    not part of the run spec that identifies the run)."""
    dirs = SUITE.get("data_dirs", {})
    family = family_of(run["task"], run["fewshot_k"])
    found = {"data_dir": dirs.get(run["task"] if family == "nlg" else family)}
    if family == "fewshot":
        found["glue_data_dir"] = dirs.get("glue")
    return {k: v for k, v in found.items() if v}


def engine_data_args(run: dict) -> list:
    """`--data-dir` / `--glue-data-dir` flags of one run (engine_data_dirs)."""
    return [x for name, value in engine_data_dirs(run).items() for x in (f"--{name.replace('_', '-')}", value)]


validate_runs(RUNS)


def train_engine_args(wildcards) -> list:
    return engine_data_args(_run_of(wildcards))


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


def train_spec(wildcards) -> dict:
    """The run spec the train rule hands to the engine (written to <run dir>/spec.json). Without the
    scoring options (eval_inference_modes): those are rule score's params, so changing them never retrains."""
    return {**_run_of(wildcards), "eval_inference_modes": []}


def _score_options(key) -> tuple:
    """(AdaMix inference modes, splits) to score again from the saved weights (rule `score`); none = no rescoring."""
    spec = RUNS[key]
    experiment = next(e for e in SUITE["experiments"] if e["name"] == spec["experiment"])
    return list(spec.get("eval_inference_modes", [])), list(experiment.get("score_splits", []))


def score_files(wildcards=None) -> list:
    """scores.json of every run with something to re-score (rule score; aggregation lays it over the record)."""
    return [f"{RUNS_DIR}/{t}/{l}/seed{s}/scores.json" for (t, l, s) in RUNS if any(_score_options((t, l, s)))]


def score_args(wildcards) -> list:
    """`python -m adamixbench rescore` options of one run: the only params of rule score."""
    modes, splits = _score_options((wildcards.task, wildcards.label, int(wildcards.seed)))
    data = engine_data_args(_run_of(wildcards))  # the same data folders as its training run
    return ["--inference-modes", ",".join(modes), "--splits", ",".join(splits), *data]


def run_identities(wildcards=None) -> list:
    """(suite, experiment, label, task, seed) of each run record, in all_run_records() order."""
    return [{k: RUNS[key][k] for k in ("suite", "experiment", "label", "task", "seed")} for key in RUNS]


def wildcard_choice(values) -> str:
    return "|".join(re.escape(v) for v in sorted(values, key=len, reverse=True))


# --------------------------------------------------------------------------------------------------
# analysis
# --------------------------------------------------------------------------------------------------
def table_specs() -> list:
    """The suite's tables; default: one 'primary' table per experiment family."""
    tables = SUITE["analysis"].get("tables")
    if tables:
        return tables
    fams = {}
    for r in RUNS.values():
        fams.setdefault(family_of(r["task"], r["fewshot_k"]), []).append(r["task"])
    return [{"name": fam, "layout": "primary", "tasks": list(dict.fromkeys(tasks))} for fam, tasks in fams.items()]


TABLES = {t["name"]: t for t in table_specs()}


def table_spec(wildcards) -> dict:
    """Everything the table/compare/plot scripts need for the table {table} (JSON-serialisable)."""
    return resolved_table(wildcards.table)


def resolved_table(name: str) -> dict:
    from adamixbench.analysis.layouts import LAYOUTS

    spec = dict(TABLES[name])
    tasks = spec.get("tasks") or ([c.task for c in LAYOUTS[spec["layout"]].columns]
                                  if spec["layout"] in LAYOUTS else None)
    labels_in = [lab for lab in SUITE["methods"]
                 if any(k[1] == lab and (not tasks or k[0] in tasks) for k in RUNS)]
    rows = spec.get("methods") or labels_in
    if spec.get("inference_rows"):
        expanded = []
        for lab in rows:
            expanded.append(lab)
            modes = [m for (t, l, s), r in RUNS.items() if l == lab for m in r.get("eval_inference_modes", [])]
            main = SUITE["methods"][lab].get("inference") or "merge"
            expanded += [f"{lab} @{m}" for m in dict.fromkeys(modes) if m != main]
        rows = expanded
    refs = SUITE["analysis"].get("references") or [lab for lab in SUITE["methods"]
                                                  if is_adamix(SUITE["methods"][lab]["method"])]
    analysis = SUITE["analysis"]
    return {
        "name": spec["name"], "layout": spec["layout"], "tasks": spec.get("tasks"), "average": spec.get("average"),
        "rows": rows, "references": [r for r in refs if r in rows], "paper_table": spec.get("paper_table"),
        "paper_rows": SUITE["analysis"].get("paper_rows", {}), "routing_violin": spec.get("routing_violin"),
        "title": spec.get("title", f"{SUITE_NAME}: {spec['name']}"), "choices": table_choices(rows), "suite": SUITE_NAME,
        "bootstrap": analysis.get("bootstrap", {}), "normalization": analysis.get("normalization", "minmax"),
        "aso_bootstrap": analysis.get("aso", {}).get("bootstrap", 1000), "palette": palette_order(), "pairs": spec.get("pairs", {}),
    }


def palette_order() -> list:
    """Every row label of the suite in one fixed order (the suite's methods, then inference rows), so a
    label gets the same colour in every figure (adamixbench.analysis.plots.palette)."""
    rows = list(SUITE["methods"])
    for (t, lab, s), r in RUNS.items():
        rows += [f"{lab} @{m}" for m in r.get("eval_inference_modes") or []]
    return list(dict.fromkeys(rows))


def all_table_specs(wildcards=None) -> dict:
    """{table name: table_spec} for the claims rule (which resolves every table's layout)."""
    return {name: resolved_table(name) for name in TABLES}


ADAMIX_CHOICES = ("unselected_experts", "consistency_kind")  # AdaMix parameters that change the numbers


def table_choices(rows: list) -> str:
    """The choices that change a table's numbers, for its caption: seeds per cell, selection protocol,
    weight-decay scope, the AdaMix choices of ADAMIX_CHOICES, the suite's `analysis.notes` (e.g. the split
    scored) and the recipe source of every row (method `source` in the suite file)."""
    labels = list(dict.fromkeys(r.split(" @")[0] for r in rows))
    runs = [r for r in RUNS.values() if r["label"] in labels]
    def values(get):
        return ", ".join(sorted({str(get(r)) for r in runs})) or "-"
    parts = [f"Seeds per cell: {len({r['seed'] for r in runs})}",
             f"selection: {values(lambda r: r['selection'] or 'engine default')}",
             f"weight decay scope: {values(lambda r: r['weight_decay_scope'])}"]
    adamix = [r for r in runs if is_adamix(r["method"])]
    for key in ADAMIX_CHOICES if adamix else ():
        found = ", ".join(sorted({str(r["method_params"].get(key, "method default")) for r in adamix}))
        parts.append(f"AdaMix {key}: {found}")
    if any(r["task"] == "stsb" and r["method_params"].get("consistency_kind", "sym_kl") == "sym_kl" for r in adamix):
        parts.append("on STS-B the sym_kl consistency term is identically 0 (one regression logit)")
    notes = SUITE["analysis"].get("notes", "").strip()
    sources = "; ".join(f"{lab}: {SUITE['methods'][lab]['source']}" for lab in labels if SUITE["methods"][lab].get("source"))
    text = f"{'; '.join(parts)}."
    text = f"{text} {notes}" if notes else text
    text = f"{text} Row recipes: {sources}." if sources else text
    return text


def recipe_card_text(wildcards=None) -> str:
    """The suite's recipe card (rule recipe_card, workflow/rules/recipes.smk)."""
    from adamixbench.plan.recipes import recipe_card

    return recipe_card(SUITE, list(RUNS.values()))


PLOT_KINDS = ["seed_scores", "pareto", "cost", "training_curves", "aggregate", "prob_improvement",
              "performance_profile", "critical_difference"]


def plot_kinds(table: str) -> list:
    return (PLOT_KINDS + (["routing_violin"] if TABLES[table].get("routing_violin") else [])
            + (["paired_gains"] if TABLES[table].get("pairs") else []))


def final_outputs(wildcards=None) -> list:
    # every run record is a target itself: a lost or interrupted record is redone even when the
    # aggregate files downstream of it are still present
    out = all_run_records() + score_files() + [f"{OUT}/runs.csv", f"{OUT}/history.csv", f"{OUT}/summary.csv", f"{OUT}/tables/failed_runs.md"]
    out += [f"{OUT}/tables/claims.{ext}" for ext in ("md", "csv")]
    for name in TABLES:
        out += [f"{OUT}/tables/{name}.{ext}" for ext in ("md", "tex", "csv", "html")]
        out += [f"{OUT}/tables/{name}_{kind}.{ext}" for kind in ("paired", "aggregate") for ext in ("md", "csv")]
        out += [f"{OUT}/plots/{name}/{kind}.{ext}" for kind in plot_kinds(name) for ext in ("png", "svg")]
        if TABLES[name].get("pairs"):
            out += [f"{OUT}/tables/{name}_vs_adamix.{ext}" for ext in ("md", "csv", "tex", "html")]
    return out
