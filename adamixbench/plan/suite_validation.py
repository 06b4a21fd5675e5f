"""Is a suite runnable? JSON-Schema validation plus the cross-references a schema cannot express, with
messages a person can act on.

Pure Python (no torch): the workflow validates the suite while it builds the DAG, before any job, so a
typo costs a second instead of a failed cluster job. Every message names the key as a path
(`experiments[0].train`), the offending value and what is allowed there, because jsonschema's own
messages ("'sst3' is not one of [...]" without the key, or "is not valid under any of the given schemas"
for an `anyOf`) do not say where to look or what to write instead.

Two passes, each reporting every problem it finds at once:

1. the schema (workflow/schemas/config.schema.yaml): unknown keys, bad enum values, types, patterns;
2. the cross-references between parts of a valid suite: method labels used by experiments, tables and
   the analysis are defined under `methods`, override and GPU-memory rules name tasks / methods /
   experiments that exist, names are unique, `models` maps only backbones some experiment uses.
"""

from __future__ import annotations

import functools
from pathlib import Path

import jsonschema
import yaml

from adamixbench.plan.budget import BUDGET_OPTIONS
from adamixbench.plan.spec import looks_numeric
from adamixbench.plan.suite import ConfigError
from adamixbench.sources.paths import REPO_ROOT

SCHEMA_PATH = REPO_ROOT / "workflow" / "schemas" / "config.schema.yaml"


@functools.lru_cache(maxsize=4)
def load_schema(path: Path = SCHEMA_PATH) -> dict:
    """The suite schema, read once per process (every `snakemake` call parses the workflow once)."""
    return yaml.safe_load(Path(path).read_text())


def validate_suite(cfg: dict, schema_path: Path = SCHEMA_PATH) -> None:
    """Raise ConfigError listing every problem of `cfg`: first the schema's (a suite that breaks the
    schema cannot be cross-checked), else the cross-references'."""
    schema = load_schema(schema_path)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(
        validator.iter_errors(cfg), key=lambda e: (len(list(e.absolute_path)), list(map(str, e.absolute_path)))
    )
    if errors:
        # deepest first is more precise for if/then failures; report every distinct message
        msgs = list(dict.fromkeys(describe_error(e, schema) for e in reversed(errors)))
        raise ConfigError(
            f"suite '{cfg.get('suite', '?')}' is invalid ({len(msgs)} problem(s)):\n  - " + "\n  - ".join(msgs)
        )
    problems = cross_reference_problems(cfg)
    if problems:
        raise ConfigError(f"suite '{cfg['suite']}' is invalid:\n  - " + "\n  - ".join(problems))


# --------------------------------------------------------------------------------------------------
# schema errors, in words
# --------------------------------------------------------------------------------------------------
def describe_error(err, schema: dict) -> str:
    """One jsonschema error as `config key <where>: <what is wrong>; allowed: <what to write>`. `schema`
    is the whole schema, to resolve the `$ref`s of the allowed values."""
    where = _where(err.absolute_path)
    if err.validator == "additionalProperties":
        extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
        allowed = sorted(err.schema.get("properties", {}))
        return f"config key {where}: unknown key(s) {extra}; allowed keys: {allowed}"
    if err.validator == "type" and isinstance(err.instance, str) and looks_numeric(err.instance):
        return (
            f"config key {where}: {err.message}. YAML 1.1 reads {err.instance!r} as a string: write the number "
            f"with a dot and a signed exponent (5.0e-3) or as a decimal (0.005)"
        )
    if err.validator in ("enum", "const", "anyOf", "oneOf", "pattern"):
        allowed = _allowed(err.schema, schema)
        return f"config key {where}: invalid value {err.instance!r}; allowed: {', '.join(allowed) or err.message}"
    return f"config key {where}: {err.message}"


def _where(path) -> str:
    """A key path as a person writes it: experiments[0].train.lr."""
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "<top level>"


def _allowed(sub: dict, schema: dict) -> list:
    """Allowed values / patterns of a (sub)schema, through `$ref`, `anyOf` and `oneOf`."""
    vals = []
    if not isinstance(sub, dict):
        return vals
    if "enum" in sub:
        vals += [repr(v) for v in sub["enum"]]
    if "const" in sub:
        vals.append(repr(sub["const"]))
    if "pattern" in sub:
        vals.append(f"a string matching /{sub['pattern']}/")
    if "$ref" in sub:
        vals += _allowed(_resolve_ref(sub["$ref"], schema), schema)
    for key in ("anyOf", "oneOf"):
        for alternative in sub.get(key, []):
            vals += _allowed(alternative, schema)
    return vals


def _resolve_ref(ref: str, schema: dict):
    node = schema
    for part in ref.lstrip("#/").split("/"):
        node = node[part]
    return node


# --------------------------------------------------------------------------------------------------
# cross-references (a schema-valid suite)
# --------------------------------------------------------------------------------------------------
def cross_reference_problems(cfg: dict) -> list[str]:
    """Every reference of a schema-valid suite to a name it does not define, and every duplicate name."""
    labels = set(cfg["methods"])
    names = [e["name"] for e in cfg["experiments"]]
    problems = []
    if len(names) != len(set(names)):
        problems.append(f"experiment names must be unique, got {names}")
    problems += _experiment_problems(cfg["experiments"], labels)
    problems += _budget_problems(cfg)
    problems += _resource_problems(cfg, names, labels)
    used_models = {e["model"] for e in cfg["experiments"]}
    for name in cfg.get("models", {}):
        if name not in used_models:
            problems.append(
                f"config key models: {name!r} is not the model of any experiment; allowed: {sorted(used_models)}"
            )
    return problems + _analysis_problems(cfg.get("analysis", {}), labels)


def _experiment_problems(experiments: list, labels: set) -> list[str]:
    """An experiment's method labels are defined; its overrides name its own tasks and methods."""
    problems = []
    for i, exp in enumerate(experiments):
        for lab in exp["methods"]:
            if lab not in labels:
                problems.append(
                    f"config key experiments[{i}].methods: unknown method label {lab!r}; "
                    f"allowed: the labels defined under `methods`: {sorted(labels)}"
                )
        for j, ov in enumerate(exp.get("overrides", [])):
            for t in ov.get("tasks", []):
                if t not in exp["tasks"]:
                    problems.append(
                        f"config key experiments[{i}].overrides[{j}].tasks: {t!r} is not a task of this "
                        f"experiment; allowed: {exp['tasks']}"
                    )
            for m in ov.get("methods", []):
                if m not in exp["methods"]:
                    problems.append(
                        f"config key experiments[{i}].overrides[{j}].methods: {m!r} is not a method of "
                        f"this experiment; allowed: {exp['methods']}"
                    )
    return problems


def _budget_problems(cfg: dict) -> list[str]:
    """An experiment with budgets (its own or the suite's) gets epochs and max_steps from each budget
    (adamixbench/plan/budget.py): its `train`, its `overrides` and its methods' `train` may not set them
    (the suite's `defaults` may, for its other experiments)."""
    problems = []
    for i, exp in enumerate(cfg["experiments"]):
        if not exp.get("budgets", cfg.get("budgets")):
            continue
        blocks = [(f"experiments[{i}].train", exp.get("train", {}))]
        blocks += [
            (f"experiments[{i}].overrides[{j}].train", ov.get("train", {}))
            for j, ov in enumerate(exp.get("overrides", []))
        ]
        blocks += [(f"methods.{lab}.train", cfg["methods"].get(lab, {}).get("train", {})) for lab in exp["methods"]]
        for where, train in blocks:
            for option in BUDGET_OPTIONS:
                if option in train:
                    problems.append(
                        f"config key {where}.{option}: experiment '{exp['name']}' has budgets, which set "
                        f"{' and '.join(BUDGET_OPTIONS)} of each run; remove it (or the budgets)"
                    )
    return problems


def _resource_problems(cfg: dict, names: list, labels: set) -> list[str]:
    """The rules of `resources.gpu_mem_mb` match experiments, method labels and tasks of the suite."""
    all_tasks = {t for e in cfg["experiments"] for t in e["tasks"]}
    gpu_mem = cfg.get("resources", {}).get("gpu_mem_mb")
    problems = []
    for j, match in enumerate(gpu_mem if isinstance(gpu_mem, list) else []):
        for key, known in (("experiments", set(names)), ("methods", labels), ("tasks", all_tasks)):
            for value in match.get(key, []):
                if value not in known:
                    problems.append(
                        f"config key resources.gpu_mem_mb[{j}].{key}: unknown value {value!r}; allowed: {sorted(known)}"
                    )
    return problems


def _analysis_problems(analysis: dict, labels: set) -> list[str]:
    """Paper rows, references, table rows / pairs / violins and the normalisation baseline are method labels
    of the suite; table names are unique."""
    problems = []
    for lab in list(analysis.get("paper_rows", {})) + analysis.get("references", []):
        if lab not in labels:
            problems.append(f"config key analysis: unknown method label {lab!r}; allowed: {sorted(labels)}")
    for k, tab in enumerate(analysis.get("tables", [])):
        pair_labels = [lab for pair in tab.get("pairs", {}).items() for lab in pair]
        for lab in tab.get("methods", []) + ([tab["routing_violin"]] if "routing_violin" in tab else []) + pair_labels:
            if lab not in labels:
                problems.append(
                    f"config key analysis.tables[{k}]: unknown method label {lab!r}; allowed: {sorted(labels)}"
                )
    norm = analysis.get("normalization", "minmax")
    if norm.startswith("baseline:") and norm.split(":", 1)[1] not in labels:
        problems.append(
            f"config key analysis.normalization: unknown method label {norm.split(':', 1)[1]!r}; "
            f"allowed: baseline:<one of {sorted(labels)}> or minmax"
        )
    tnames = [t["name"] for t in analysis.get("tables", [])]
    if len(tnames) != len(set(tnames)):
        problems.append(f"config key analysis.tables: table names must be unique, got {tnames}")
    return problems
