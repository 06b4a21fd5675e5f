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

# Offline by default (docs/PIPELINE.md): set before any job starts; a user's explicit value wins.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# workflow.current_basedir = this file's folder (workflow/rules).
WORKFLOW_DIR = Path(workflow.current_basedir).parent
REPO_ROOT = WORKFLOW_DIR.parent
SUITES_DIR = REPO_ROOT / "config" / "suites"
SCHEMA_PATH = WORKFLOW_DIR / "schemas" / "config.schema.yaml"
PAPER_RESULTS = str(WORKFLOW_DIR / "resources" / "paper_results.csv")

TRAIN_FLAGS = {  # config key -> engine flag (python -m adamixbench train --help)
    "epochs": "--epochs", "lr": "--lr", "batch_size": "--batch-size", "max_seq_len": "--max-seq-len",
    "max_train_samples": "--max-train-samples", "max_eval_samples": "--max-eval-samples",
    "warmup_ratio": "--warmup-ratio", "warmup_steps": "--warmup-steps", "weight_decay": "--weight-decay", "selection": "--selection",
    "num_beams": "--num-beams", "max_new_tokens": "--max-new-tokens", "eval_batch_size": "--eval-batch-size",
    "max_grad_norm": "--max-grad-norm", "max_steps": "--max-steps", "heldout_fraction": "--heldout-fraction",
    "data_seed": "--data-seed", "label_smoothing": "--label-smoothing", "length_penalty": "--length-penalty",
    "no_repeat_ngram_size": "--no-repeat-ngram-size", "precision": "--precision",
    "checkpoint_every_steps": "--checkpoint-every-steps", "checkpoint_every_minutes": "--checkpoint-every-minutes",
    "keep_checkpoint": "--keep-checkpoint", "save_full_weights": "--save-full-weights",  # booleans: flag if true
}
NLG_ONLY = ("num_beams", "max_new_tokens", "label_smoothing", "length_penalty", "no_repeat_ngram_size")


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
    if err.validator in ("enum", "const", "anyOf", "oneOf", "pattern"):
        allowed = _allowed(err.schema)
        return f"config key {where}: invalid value {err.instance!r}; allowed: {', '.join(allowed) or err.message}"
    if err.validator == "required":
        return f"config key {where}: {err.message}"
    return f"config key {where}: {err.message}"


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
    analysis = cfg.get("analysis", {})
    for lab in list(analysis.get("paper_rows", {})) + analysis.get("references", []):
        if lab not in labels:
            problems.append(f"config key analysis: unknown method label {lab!r}; allowed: {sorted(labels)}")
    for k, tab in enumerate(analysis.get("tables", [])):
        for lab in tab.get("methods", []) + ([tab["routing_violin"]] if "routing_violin" in tab else []):
            if lab not in labels:
                problems.append(f"config key analysis.tables[{k}]: unknown method label {lab!r}; allowed: {sorted(labels)}")
    tnames = [t["name"] for t in analysis.get("tables", [])]
    if len(tnames) != len(set(tnames)):
        problems.append(f"config key analysis.tables: table names must be unique, got {tnames}")
    if problems:
        raise ConfigError(f"suite '{cfg['suite']}' is invalid:\n  - " + "\n  - ".join(problems))


def load_suite(config: dict) -> dict:
    """The resolved suite: `config` itself when it holds `experiments` (e.g. --configfile a suite file),
    else config/suites/<suite>.yaml with `config`'s other top-level keys (e.g. output_root) on top."""
    cfg = copy.deepcopy(dict(config))
    if "experiments" not in cfg:
        name = cfg.get("suite", "mini")
        path = SUITES_DIR / f"{name}.yaml"
        if not path.exists():
            known = sorted(p.stem for p in SUITES_DIR.glob("*.yaml"))
            raise ConfigError(f"config key suite: unknown suite {name!r}; allowed: {known} "
                              f"(or --configfile <your suite file>)")
        suite = yaml.safe_load(path.read_text()) or {}
        for key, value in cfg.items():
            if key != "suite":
                suite[key] = value
        cfg = suite
    validate_suite(cfg)
    cfg.setdefault("output_root", "results")
    cfg.setdefault("analysis", {})
    return cfg


def _make_report_folder(argv) -> None:
    """`snakemake --report reports/<suite>/report.html` needs the folder; Snakemake does not create it."""
    for i, arg in enumerate(argv):
        path = argv[i + 1] if arg == "--report" and i + 1 < len(argv) else (
            arg.split("=", 1)[1] if arg.startswith("--report=") else None)
        if path and path.endswith((".html", ".zip")):
            Path(path).parent.mkdir(parents=True, exist_ok=True)


_make_report_folder(sys.argv)
SUITE = load_suite(config)
SUITE_NAME = SUITE["suite"]
OUT = f"{SUITE['output_root'].rstrip('/')}/{SUITE_NAME}"
RUNS_DIR = f"{OUT}/runs"
LOGS_DIR = f"{OUT}/logs"
BENCH_DIR = f"{OUT}/benchmarks"


# --------------------------------------------------------------------------------------------------
# the run matrix
# --------------------------------------------------------------------------------------------------
def _is_adamix(method: str) -> bool:
    return method.startswith("adamix")


def build_runs(cfg: dict) -> dict:
    """{(task, label, seed): run spec} over every experiment; a run listed twice is an error."""
    runs = {}
    for exp in cfg["experiments"]:
        seeds = exp.get("seeds", cfg.get("seeds", [1, 2, 3]))
        for task in exp["tasks"]:
            for label in exp["methods"]:
                mdef = cfg["methods"][label]
                train = {**cfg.get("defaults", {}), **exp.get("train", {}), **mdef.get("train", {})}
                for ov in exp.get("overrides", []):
                    if task in ov.get("tasks", [task]) and label in ov.get("methods", [label]):
                        train.update(ov["train"])
                if exp["family"] != "nlg":
                    train = {k: v for k, v in train.items() if k not in NLG_ONLY}
                for seed in seeds:
                    key = (task, label, int(seed))
                    if key in runs:
                        raise ConfigError(
                            f"run {task}/{label}/seed{seed} is defined by experiments '{runs[key]['experiment']}' "
                            f"and '{exp['name']}'; give one of them other seeds or a distinct method label")
                    runs[key] = {
                        "experiment": exp["name"], "family": exp["family"], "task": task, "label": label,
                        "seed": int(seed), "model": exp["model"], "method": mdef["method"],
                        "params": mdef.get("params", {}), "inference": mdef.get("inference"),
                        "train": train, "fewshot": exp.get("fewshot"),
                        "eval_inference_modes": exp.get("eval_inference_modes", []) if _is_adamix(mdef["method"]) else [],
                        "score_splits": exp.get("score_splits", []),
                    }
    return runs


RUNS = build_runs(SUITE)
TASKS = sorted({k[0] for k in RUNS})
LABELS = sorted({k[1] for k in RUNS})


def _fmt_value(v) -> str:
    if isinstance(v, float):
        return repr(v)
    return str(v)


def engine_args(run: dict) -> list:
    """The engine's command-line arguments for one run (everything but --out)."""
    args = ["--task", run["task"], "--method", run["method"], "--seed", str(run["seed"]), "--model", run["model"]]
    for key, flag in TRAIN_FLAGS.items():
        value = run["train"].get(key)
        if isinstance(value, bool):
            args += [flag] if value else []
        elif value is not None:
            args += [flag, _fmt_value(value)]
    if run["params"]:
        args += ["--method-params", json.dumps(run["params"], sort_keys=True)]
    if run["inference"]:
        args += ["--inference", run["inference"]]
    if run["fewshot"]:
        fs = run["fewshot"]
        split = run["seed"] if fs.get("split", "seed") == "seed" else fs["split"]
        args += ["--fewshot-k", str(fs["k"]), "--fewshot-split", str(split),
                 "--fewshot-protocol", fs.get("protocol", "list")]
    return args  # scoring options (eval_inference_modes, score_splits) are the score rule's: see score_args


def run_record(task, label, seed) -> str:
    return f"{RUNS_DIR}/{task}/{label}/seed{seed}/metrics.json"


def all_run_records(wildcards=None) -> list:
    return [run_record(*key) for key in RUNS]


def _run_of(wildcards) -> dict:
    key = (wildcards.task, wildcards.label, int(wildcards.seed))
    if key not in RUNS:
        raise ConfigError(f"{key} is not a run of suite {SUITE_NAME}")
    return RUNS[key]


def train_args(wildcards) -> list:
    return engine_args(_run_of(wildcards))


def _scored_again(key) -> bool:
    """Runs the score rule re-scores from their saved weights (extra inference modes or splits)."""
    return bool(RUNS[key]["eval_inference_modes"] or RUNS[key]["score_splits"])


def score_files(wildcards=None) -> list:
    return [f"{RUNS_DIR}/{t}/{l}/seed{s}/scores.json" for (t, l, s) in RUNS if _scored_again((t, l, s))]


def score_args(wildcards) -> list:
    """`python -m adamixbench rescore` options of one run: the only params of rule score, so that changing
    them reruns scoring only, never training."""
    run = _run_of(wildcards)
    return ["--inference-modes", ",".join(run["eval_inference_modes"]), "--splits", ",".join(run["score_splits"])]


def train_family(wildcards) -> str:
    return _run_of(wildcards)["family"]


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
        fams.setdefault(r["family"], []).append(r["task"])
    return [{"name": fam, "layout": "primary", "tasks": list(dict.fromkeys(tasks))} for fam, tasks in fams.items()]


TABLES = {t["name"]: t for t in table_specs()}


def table_spec(wildcards) -> dict:
    """Everything the table/plot scripts need for one table (JSON-serialisable)."""
    from adamixbench.aggregate import LAYOUTS

    spec = dict(TABLES[wildcards.table])
    tasks = spec.get("tasks") or ([c.task for c in LAYOUTS[spec["layout"]].columns]
                                  if spec["layout"] in LAYOUTS else None)
    labels_in = [lab for lab in SUITE["methods"]
                 if any(k[1] == lab and (not tasks or k[0] in tasks) for k in RUNS)]
    rows = spec.get("methods") or labels_in
    if spec.get("inference_rows"):
        expanded = []
        for lab in rows:
            expanded.append(lab)
            modes = [m for (t, l, s), r in RUNS.items() if l == lab for m in r["eval_inference_modes"]]
            main = SUITE["methods"][lab].get("inference") or "merge"
            expanded += [f"{lab} @{m}" for m in dict.fromkeys(modes) if m != main]
        rows = expanded
    refs = SUITE["analysis"].get("references") or [lab for lab in SUITE["methods"]
                                                  if _is_adamix(SUITE["methods"][lab]["method"])]
    return {
        "name": spec["name"], "layout": spec["layout"], "tasks": spec.get("tasks"), "average": spec.get("average"),
        "rows": rows, "references": [r for r in refs if r in rows], "paper_table": spec.get("paper_table"),
        "paper_rows": SUITE["analysis"].get("paper_rows", {}), "routing_violin": spec.get("routing_violin"),
        "title": spec.get("title", f"{SUITE_NAME}: {spec['name']}"), "suite": SUITE_NAME,
        "bootstrap": SUITE["analysis"].get("bootstrap", {}),
    }


PLOT_KINDS = ["seed_scores", "pareto", "cost", "training_curves"]


def plot_kinds(table: str) -> list:
    return PLOT_KINDS + (["routing_violin"] if TABLES[table].get("routing_violin") else [])


def final_outputs(wildcards=None) -> list:
    # every run record is a target itself: a lost or interrupted record is redone even when the
    # aggregate files downstream of it are still present
    out = all_run_records() + score_files() + [f"{OUT}/runs.csv", f"{OUT}/history.csv", f"{OUT}/summary.csv", f"{OUT}/tables/failed_runs.md"]
    for name in TABLES:
        out += [f"{OUT}/tables/{name}.{ext}" for ext in ("md", "tex", "csv", "html")]
        out += [f"{OUT}/tables/{name}_paired.{ext}" for ext in ("md", "csv")]
        out += [f"{OUT}/plots/{name}/{kind}.{ext}" for kind in plot_kinds(name) for ext in ("png", "svg")]
    return out
