"""A suite (config/suites/*.yaml, validated by workflow/schemas/config.schema.yaml) -> one run spec per run.

Pure Python (no torch): the Snakemake workflow expands a suite here while it builds the DAG. A run spec
is the flat {option: value} object of adamixbench/plan/spec.py with every option of the run's family filled in
(identity: suite, experiment, label, task, method, method_params, seed, model; then the training options).

Precedence of training options: `defaults` < experiment `train` < method `train` < matching `overrides`
(an override's `params` are merged over the row's method parameters for the runs it matches).
Options limited to other task families (e.g. NLG beam search on a GLUE experiment) are dropped when they
come from the shared `defaults` or a method's `train`, so one suite can hold GLUE and NLG experiments.

Budgets (a suite's or experiment's `budgets`, adamixbench/plan/budget.py): one run per (row, task, seed,
budget), labelled `<label>@<unit>=<value>`; a budget sets the run's `epochs` and `max_steps` after the
`train` blocks and before the `overrides` (smoke mode's last override still shortens every run).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

from adamixbench.plan import budget as budgets_of
from adamixbench.plan.spec import BY_NAME, SpecError, complete_spec

RunKey = tuple  # (task, label, seed)


class SuiteError(ValueError):
    """A suite that cannot run; the message names the key, the value and the fix."""


class ConfigError(SuiteError):
    """A suite configuration that cannot run, as the workflow reports it while it builds the DAG (Snakemake
    prints the class name before the message: `ConfigError: suite 'tiny' is invalid ...`); the message
    names the key and the allowed values."""


def deep_merge(base: Mapping, override: Mapping) -> dict:
    """`override` on top of `base`, recursively for mappings (lists and scalars replace):
    `--config 'defaults={max_steps: 2}'` changes max_steps and keeps the rest of `defaults`."""
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def is_adamix(method: str) -> bool:
    """Whether a registered method name is an AdaMix variant (the one rule: the name starts with "adamix"):
    only those take inference modes, and the analysis groups and colours them together."""
    return str(method).startswith("adamix")


def _family_filter(train: Mapping, family: str) -> dict:
    return {k: v for k, v in train.items() if family in BY_NAME[k].families}


def expand(cfg: Mapping) -> dict[RunKey, dict]:
    """{(task, label, seed): run spec} over every experiment of a schema-valid suite; a run defined twice, or
    a combination no single key can express (e.g. inference modes on a non-AdaMix label), is a SuiteError.
    With budgets, each (row, task, seed) gives one run per budget, labelled `<label>@<unit>=<value>`."""
    runs: dict[RunKey, dict] = {}
    for i, exp in enumerate(cfg["experiments"]):
        family = exp["family"]
        seeds = exp.get("seeds", cfg.get("seeds", [1, 2, 3]))
        try:
            budgets = budgets_of.experiment_budgets(cfg, exp)
        except budgets_of.BudgetError as error:
            raise SuiteError(f"suite '{cfg['suite']}', experiments[{i}] ('{exp['name']}'): {error}") from None
        for task in exp["tasks"]:
            for label in exp["methods"]:
                for budget in budgets or [None]:
                    for seed in seeds:
                        key, values = _run_values(cfg, i, exp, family, task, label, budget, int(seed))
                        if key in runs:
                            raise SuiteError(
                                f"run {task}/{key[1]}/seed{seed} is defined by experiments "
                                f"'{runs[key]['experiment']}' and '{exp['name']}'; give one of them other seeds "
                                f"or a distinct method label"
                            )
                        try:
                            runs[key] = complete_spec(values)
                        except SpecError as error:
                            raise SuiteError(
                                f"suite '{cfg['suite']}', experiments[{i}] ('{exp['name']}'), run "
                                f"{task}/{key[1]}/seed{seed}: {error}"
                            ) from None
    return runs


def _run_values(cfg: Mapping, i: int, exp: Mapping, family: str, task: str, label: str, budget, seed: int):
    """(run key, the run's values before completion) of one (task, label, budget, seed) of experiment `exp`:
    `defaults` < experiment `train` < method `train` < the budget's epochs / max_steps < matching overrides."""
    mdef = cfg["methods"][label]
    train = {
        **_family_filter(cfg.get("defaults", {}), family),
        **exp.get("train", {}),
        **_family_filter(mdef.get("train", {}), family),
    }
    params = dict(mdef.get("params", {}))
    matching = [
        ov for ov in exp.get("overrides", []) if task in ov.get("tasks", [task]) and label in ov.get("methods", [label])
    ]
    for ov in matching:
        params.update(ov.get("params", {}))  # per-task method parameters (e.g. DART dropout)
    identity, run_label = {}, label
    if budget is not None:
        try:
            experts = budgets_of.experts_of(label, is_adamix(mdef["method"]), params, budget)
        except budgets_of.BudgetError as error:
            raise SuiteError(f"suite '{cfg['suite']}', experiments[{i}] ('{exp['name']}'): {error}") from None
        train.update(budget.train(experts))
        identity, run_label = budget.identity(label, experts), budget.label(label)
    for ov in matching:
        train.update(ov.get("train", {}))
    values = {
        "suite": cfg["suite"],
        "experiment": exp["name"],
        "label": run_label,
        "task": task,
        "method": mdef["method"],
        "method_params": params,
        "seed": seed,
        "model": exp["model"],
        **identity,
        **train,
    }
    if mdef.get("inference") is not None:
        values["inference"] = mdef["inference"]
    if is_adamix(mdef["method"]):
        values["eval_inference_modes"] = list(exp.get("eval_inference_modes", []))
    if family == "fewshot":
        fs = exp["fewshot"]
        split = fs.get("split", "seed")
        values.update(
            fewshot_k=fs["k"],
            fewshot_split=seed if split == "seed" else split,
            fewshot_protocol=fs.get("protocol", "list"),
        )
    return (task, run_label, seed), values
