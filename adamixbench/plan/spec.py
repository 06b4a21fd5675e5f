"""The run spec: ONE typed definition of every run option, the only source of truth.

Everything that names a run option is generated from `OPTIONS` or checked against it by a test:

* the engine's command line (`python -m adamixbench train --help`: one flag per option, adamixbench/engine/cli.py),
* `RunConfig` (adamixbench/engine/config.py: the attributes, defaults, type and range checks),
* the suite schema's `train` block (workflow/schemas/config.schema.yaml, between the GENERATED markers;
  `python -m adamixbench.plan.spec --write` regenerates it, tests/engine/test_run_spec.py fails when it drifts),
* the options table in docs/RUN_OPTIONS.md (same command, same test),
* the pipeline's expansion of a suite into one spec per run (adamixbench/plan/suite.py).

A run spec is a flat JSON object {option name: value}; `python -m adamixbench train --spec spec.json`
runs it, and the run record embeds it (docs/CONTRACTS.md). This module imports nothing heavy (no torch):
Snakemake's DAG-building process uses it.

Adding an option is one entry below (plus its use in the engine); run `python -m adamixbench.plan.spec --write`.
"""

from __future__ import annotations

import json
import math
import re
import sys
from dataclasses import dataclass
from typing import Any

from adamixbench.sources.paths import REPO_ROOT
from adamixbench.tasks import FAMILIES, NLG_TASKS, family_of

WEIGHT_DECAY_SCOPES = ("trainer", "all")  # adamixbench/engine/optim.py applies them
DATA_SOURCES = ("auto", "paper", "hub", "local")  # resolved per run by the task loaders (tasks/)
#: units of a training budget (a suite's `budgets`, adamixbench/plan/budget.py; docs/PIPELINE.md, "Budget"):
#: optimiser steps; passes over the training set; optimiser steps per expert of a mixture (M x the steps of
#: a mixture of M experts, the steps themselves for a plain method)
BUDGET_UNITS = ("steps", "epochs", "updates_per_expert")
REQUIRED = object()  # default of an option every run must set


class SpecError(ValueError):
    """A run option with an invalid value; the message names the option, the value and what is allowed."""


# Scopes: where an option is set.
#   run    identity and structure of a run, set by the suite's structure (methods, experiments, seeds,
#          fewshot, eval_inference_modes) or by the engine's flags;
#   train  training options: the suite's `train` blocks (defaults / experiment / method / overrides);
#   engine where and how this process runs (output folder, device, data folders): flags only.
SCOPES = ("run", "train", "engine")


@dataclass(frozen=True)
class Option:
    """One run option. `kind` is the JSON type: int, float, str, bool, dict (JSON object) or list (of str).
    `low`/`high` bound numbers (`*_open`: the bound itself is excluded); `choices` lists allowed strings;
    `families` the task families it applies to (a non-default value on another family is an error);
    `nullable`: None is allowed (it then means what `help` says); `omit_unset`: left out of a run spec while
    None, so that the specs (and records, checkpoints) of runs that do not use it stay as they were."""

    name: str
    kind: type
    default: Any
    help: str
    scope: str = "train"
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple | None = None
    nullable: bool = False
    families: tuple = FAMILIES
    omit_unset: bool = False

    def __post_init__(self):
        if self.scope not in SCOPES:  # a misspelt scope would silently drop the option from its group
            raise ValueError(f"option {self.name}: scope {self.scope!r} is not one of {SCOPES}")

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def allowed(self) -> str:
        """What the option accepts, in words (error messages and the docs table)."""
        if self.choices:
            text = " | ".join(self.choices)
        elif self.kind in (int, float):
            word = "integer" if self.kind is int else "number"
            lo = None if self.low is None else f"{'>' if self.low_open else '>='} {_num(self.low)}"
            hi = None if self.high is None else f"{'<' if self.high_open else '<='} {_num(self.high)}"
            if lo and hi:
                lb = "(" if self.low_open else "["
                rb = ")" if self.high_open else "]"
                text = f"{word} in {lb}{_num(self.low)}, {_num(self.high)}{rb}"
            else:
                text = " ".join(x for x in (word, lo or hi) if x)
        else:
            text = {str: "string", bool: "true | false", dict: "JSON object", list: "list of strings"}[self.kind]
        return text + (" or null" if self.nullable else "")

    def parse(self, text: str) -> Any:
        """A command-line value -> the option's type ('null' for a nullable option), or SpecError."""
        if self.nullable and text.lower() in ("null", "none"):
            return None
        try:
            if self.kind is int:
                return int(text)
            if self.kind is float:
                return float(text)
            if self.kind is list:
                return [item for item in text.split(",") if item]
            if self.kind is dict:
                value = json.loads(text)
                if not isinstance(value, dict):
                    raise ValueError
                return value
        except ValueError:
            example = ", e.g. '{\"r\": 8}'" if self.kind is dict else ""
            raise SpecError(
                f"option {self.name} ({self.flag}): cannot read {text!r}; allowed: {self.allowed()}{example}"
            ) from None
        return text

    def check(self, value: Any) -> Any:
        """The value, coerced where lossless (1 -> 1.0 for a float option), or SpecError."""
        if value is None:
            if self.nullable:
                return None
            raise self.error(value)
        if self.kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if self.kind is list and isinstance(value, tuple):
            value = list(value)
        if isinstance(value, bool) is not (self.kind is bool) or not isinstance(value, self.kind):
            raise self.error(value)
        if self.kind is float and not math.isfinite(value):
            raise self.error(value)
        if self.kind is list and not all(isinstance(v, str) for v in value):
            raise self.error(value)
        if self.choices and value not in self.choices:
            raise self.error(value)
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            raise self.error(value)
        if self.high is not None and (value >= self.high if self.high_open else value > self.high):
            raise self.error(value)
        return value

    def error(self, value: Any) -> SpecError:
        hint = ""
        if isinstance(value, str) and self.kind in (int, float) and looks_numeric(value):
            hint = (
                f" (the string {value!r} looks like a number: YAML 1.1 reads '5e-3' as a string; "
                f"write it with a dot and a signed exponent, 5.0e-3, or as 0.005)"
            )
        return SpecError(f"option {self.name} ({self.flag}): invalid value {value!r}; allowed: {self.allowed()}{hint}")


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


def looks_numeric(text: str) -> bool:
    """'5e-3' is a string to YAML 1.1 (no dot, no signed exponent) but a number to the person who wrote it."""
    try:
        float(text)
    except ValueError:
        return False
    return True


NLG = ("nlg",)
CLS = ("glue", "fewshot")
OPTIONS: tuple[Option, ...] = (
    # ---- run identity and structure ------------------------------------------------------------------
    Option(
        "suite",
        str,
        None,
        "suite the run belongs to (set by the pipeline; recorded for aggregation)",
        "run",
        nullable=True,
    ),
    Option("experiment", str, None, "experiment of the suite (set by the pipeline)", "run", nullable=True),
    Option(
        "label",
        str,
        None,
        "method label: the table row (suite `methods:` key); default the method name",
        "run",
        nullable=True,
    ),
    Option(
        "task",
        str,
        REQUIRED,
        "GLUE task (sst2, rte, ...), few-shot task with --fewshot-k, or NLG task (e2e, webnlg, dart)",
        "run",
    ),
    Option(
        "method",
        str,
        REQUIRED,
        "registered method (see `python -m adamixbench methods`) or 'package.module:callable'",
        "run",
    ),
    Option(
        "method_params",
        dict,
        {},
        "the method's parameters as a JSON object, e.g. '{\"r\": 8}' or '{\"preset\": "
        '"table1_0.8M"}\'; each method checks its own keys, types and ranges',
        "run",
    ),
    Option("seed", int, REQUIRED, "run seed: initial weights, data order, AdaMix routing", "run", low=0),
    Option(
        "model", str, REQUIRED, "backbone: minilm-l6 | smollm2-135m (offline, packaged) | hub name | local path", "run"
    ),
    Option(
        "fewshot_k",
        int,
        None,
        "few-shot: labelled examples (LiST: in total; LM-BFF: per class); makes the run few-shot",
        "run",
        low=1,
        nullable=True,
    ),
    Option(
        "fewshot_split",
        int,
        1,
        "few-shot: id of the released split (the pipeline uses the run seed)",
        "run",
        low=0,
        families=("fewshot",),
    ),
    Option(
        "fewshot_protocol",
        str,
        "list",
        "few-shot protocol: list (LiST, no dev set) | lmbff (LM-BFF, dev set of k per class)",
        "run",
        choices=("list", "lmbff"),
        families=("fewshot",),
    ),
    Option(
        "inference",
        str,
        None,
        "AdaMix only: routing of the main score: merge | random_sequence | random_token | "
        "ensemble | fixed:<k> (default: the method's, merge)",
        "run",
        nullable=True,
    ),
    Option(
        "eval_inference_modes",
        list,
        [],
        "AdaMix only: also score these routings at the end (one training run), "
        "e.g. merge,random_sequence,fixed:0,ensemble",
        "run",
    ),
    Option(
        "base_label",
        str,
        None,
        "a run of a suite's training budget: its method label (suite `methods:` key); the run's label is "
        "<base_label>@<budget_unit>=<budget> (docs/PIPELINE.md, Budget)",
        "run",
        nullable=True,
        omit_unset=True,
    ),
    Option(
        "budget_unit",
        str,
        None,
        "unit of the run's training budget (set by a suite's `budgets`): steps = optimiser steps, epochs = "
        "passes over the training set, updates_per_expert = optimiser steps per expert (a mixture of M experts "
        "trains M x that many steps, a plain method that many). Recorded for the analysis; the length itself is "
        "epochs / max_steps",
        "run",
        choices=BUDGET_UNITS,
        nullable=True,
        omit_unset=True,
    ),
    Option(
        "budget",
        float,
        None,
        "value of the run's budget in budget_unit",
        "run",
        low=0,
        low_open=True,
        nullable=True,
        omit_unset=True,
    ),
    Option(
        "budget_steps",
        int,
        None,
        "optimiser steps the run's budget resolves to (steps: the value; updates_per_expert: value x experts); "
        "null for epochs (the engine resolves it: the record's schedule.total_steps)",
        "run",
        low=1,
        nullable=True,
        omit_unset=True,
    ),
    # ---- training (suite `train` blocks) ---------------------------------------------------------------
    Option(
        "epochs",
        float,
        3.0,
        "training epochs (fractions allowed); null = no epoch limit: max_steps is the run's length (a suite's "
        "step budget)",
        low=0,
        low_open=True,
        nullable=True,
    ),
    Option(
        "lr",
        float,
        None,
        "peak learning rate; null = the method's default_lr (`python -m adamixbench methods` lists them)",
        low=0,
        low_open=True,
        nullable=True,
    ),
    Option(
        "batch_size",
        int,
        32,
        "training batch size (of each process, in a run on several: docs/PIPELINE.md, One run on several GPUs)",
        low=1,
    ),
    Option(
        "grad_accum_steps",
        int,
        1,
        "micro-batches of batch_size per optimiser step (gradient accumulation): the effective batch is "
        "batch_size x grad_accum_steps (x processes); steps, warmup and the schedule count optimiser steps",
        low=1,
    ),
    Option("eval_batch_size", int, 128, "evaluation batch size", low=1),
    Option("max_seq_len", int, 128, "maximum tokens per example (longer inputs are truncated)", low=8),
    Option(
        "warmup_ratio",
        float,
        0.06,
        "share of the optimiser steps spent on linear warm-up (AdaMix GLUE scripts: 0.06); then linear decay to 0",
        low=0,
        high=1,
        high_open=True,
    ),
    Option(
        "warmup_steps",
        int,
        None,
        "warm-up steps; overrides warmup_ratio (AdaMix NLG scripts: 2000 / 2500 / 2000)",
        low=0,
        nullable=True,
    ),
    Option("weight_decay", float, 0.1, "AdamW weight decay (AdaMix GLUE scripts: 0.1)", low=0),
    Option(
        "weight_decay_scope",
        str,
        "trainer",
        "which parameters weight decay applies to (adamixbench/engine/optim.py): trainer = "
        "all but biases and LayerNorm weights, as the Hugging Face Trainer of the reference code; all = every "
        "trainable parameter",
        choices=WEIGHT_DECAY_SCOPES,
    ),
    Option("max_grad_norm", float, 1.0, "gradient clipping norm; 0 disables clipping", low=0),
    Option(
        "selection",
        str,
        None,
        "model selection: paper = best epoch on dev, reported on dev (upstream GLUE); heldout = "
        "select on a held-out split of train, report dev untouched; last = last epoch. null = paper for GLUE, last "
        "for few-shot and NLG",
        choices=("paper", "heldout", "last"),
        nullable=True,
    ),
    Option(
        "heldout_fraction",
        float,
        0.1,
        "selection heldout: share of train held out",
        low=0,
        high=1,
        low_open=True,
        high_open=True,
    ),
    Option(
        "max_train_samples",
        int,
        None,
        "subsample the training set: examples (NLG: inputs, each with all its references); null = all",
        low=1,
        nullable=True,
    ),
    Option(
        "data_source",
        str,
        "auto",
        "where the task data come from: paper = the paper's data (NLG: microsoft/LoRA's files at a pinned commit, "
        "fetched once and verified by git blob id; GLUE: the hub's nyu-mll/glue; few-shot: the shipped splits), "
        "hub = the Hugging Face datasets (pinned revisions), local = the files under data_dir or the data root "
        "(the shipped subsets); auto = local when data_dir is set or the hub is off, else paper",
        choices=DATA_SOURCES,
    ),
    Option(
        "max_eval_samples",
        int,
        None,
        "subsample the evaluation sets: examples (NLG: inputs); null = all",
        low=1,
        nullable=True,
    ),
    Option(
        "data_seed",
        int,
        0,
        "seed of subsamples and held-out splits; the same for every run seed and method, so runs "
        "pair (default 0, not the run seed)",
        low=0,
    ),
    Option(
        "max_steps",
        int,
        None,
        "stop after this many optimiser steps (smoke tests; with epochs null: the run's length, the LR schedule "
        "spans it); null = no limit",
        low=1,
        nullable=True,
    ),
    Option("log_every", int, 10, "optimiser steps between loss-curve points", low=1),
    Option(
        "compile",
        bool,
        False,
        "torch.compile the model (its forward; backward through AOTAutograd): fewer kernel launches on a GPU. "
        "Not bit-identical to eager: fused kernels round differently and Inductor draws dropout masks from its "
        "own generator. Off by default until the equivalence tests pass on a GPU (docs/PERFORMANCE.md)",
    ),
    Option(
        "num_workers",
        int,
        None,
        "data-loader worker processes for training batches; null = 2 on a GPU (pinned memory, asynchronous "
        "copies), 0 on a CPU (the workers would compete with the step for the cores). The batches are the same",
        low=0,
        nullable=True,
    ),
    Option(
        "finite_check_every",
        int,
        10,
        "optimiser steps between checks that the loss is finite (each check waits for the device); the last step "
        "is always checked and a failed record names the exact first non-finite step whatever the interval",
        low=1,
    ),
    Option(
        "precision",
        str,
        "auto",
        "auto = bf16 autocast on a GPU that supports it, fp32 on CPU",
        choices=("auto", "fp32", "bf16", "fp16"),
    ),
    Option(
        "prompt",
        bool,
        False,
        "prompt-based fine-tuning (LM-BFF / LiST style): label words at a [MASK] scored by the "
        "backbone's masked-LM head instead of a classifier head",
        families=CLS,
    ),
    Option(
        "label_smoothing",
        float,
        0.0,
        "label smoothing (paper 0.1 E2E / WebNLG, 0.0 DART)",
        low=0,
        high=1,
        high_open=True,
        families=NLG,
    ),
    Option("num_beams", int, 10, "beam size (paper 10)", low=1, families=NLG),
    Option("length_penalty", float, 0.8, "beam-search length penalty (paper 0.8)", families=NLG),
    Option(
        "no_repeat_ngram_size",
        int,
        4,
        "no repeated n-grams of this size in a generation (paper 4); 0 = off",
        low=0,
        families=NLG,
    ),
    Option("max_new_tokens", int, 64, "maximum generated tokens (paper 64)", low=1, families=NLG),
    # ---- checkpoints and saved weights (adamixbench/engine/checkpoint.py; not part of the checkpoint's config hash) --
    Option(
        "checkpoint_every_steps",
        int,
        None,
        "write a resumable checkpoint to <out>/checkpoint every N optimiser steps; null = by time only",
        low=1,
        nullable=True,
    ),
    Option(
        "checkpoint_every_minutes",
        float,
        10.0,
        "also every M minutes of training; 0 = off. Rerunning the same command resumes from the latest checkpoint",
        low=0,
    ),
    Option("keep_checkpoint", bool, False, "keep <out>/checkpoint once the record is written (default: deleted)"),
    Option(
        "save_full_weights",
        bool,
        False,
        "full fine-tuning: save the whole trained model in <out>/artifacts (a "
        "backbone copy per run; the other methods always save their weights)",
    ),
    # ---- this process ----------------------------------------------------------------------------------
    Option("out", str, REQUIRED, "run folder; the record is <out>/metrics.json", "engine"),
    Option("device", str, "auto", "auto (a GPU when torch sees one, else CPU) | cpu | cuda | cuda:<i> | mps", "engine"),
    Option(
        "data_dir",
        str,
        None,
        "data folder of the task (default: the shipped data/ or the hub)",
        "engine",
        nullable=True,
    ),
    Option(
        "glue_data_dir",
        str,
        None,
        "few-shot: folder with the GLUE dev sets of MNLI / QQP (not shipped)",
        "engine",
        nullable=True,
    ),
)
BY_NAME: dict[str, Option] = {o.name: o for o in OPTIONS}
TRAIN_OPTIONS = tuple(o for o in OPTIONS if o.scope == "train")
#: AdaMix's named inference modes (adamix/config.py's, whose "fixed:<k>" is the pattern below); torch-free
#: here for suite validation, tests/engine/test_run_spec.py checks the two agree
INFERENCE_MODES = ("merge", "random_sequence", "random_token", "ensemble")
INFERENCE_MODE_RE = re.compile(rf"^({'|'.join(INFERENCE_MODES)}|fixed:[0-9]+)$")


def check_values(values: dict, engine: bool = True) -> dict:
    """Every option of `values` checked and defaults filled in; unknown or missing keys are SpecErrors.
    Checks one value at a time (type, range, choices) and the family of family-specific options, then
    resolves `selection` None to the family's protocol and `label` None to the method name.
    engine=False: a run spec without the options of this process (out, device, data folders)."""
    unknown = sorted(set(values) - set(BY_NAME))
    if unknown:
        raise SpecError(f"unknown run option(s) {unknown}; allowed: {sorted(BY_NAME)}")
    resolved = {}
    for option in OPTIONS:
        if option.scope == "engine" and not engine:
            continue
        if option.name not in values:
            if option.required:
                raise SpecError(f"option {option.name} ({option.flag}) is required: {option.help}")
            resolved[option.name] = _copy(option.default)
        else:
            resolved[option.name] = option.check(values[option.name])
    family = family_of(resolved["task"], resolved["fewshot_k"])
    for option in OPTIONS:
        if family not in option.families and option.name in values and values[option.name] != option.default:
            raise SpecError(
                f"option {option.name} ({option.flag}={values[option.name]!r}) applies to "
                f"{' / '.join(option.families)} runs only; task {resolved['task']} is a {family} run: "
                f"remove it"
            )
    for mode in ([resolved["inference"]] if resolved["inference"] else []) + resolved["eval_inference_modes"]:
        if not INFERENCE_MODE_RE.match(mode):
            raise SpecError(
                f"inference mode {mode!r} (--inference / --eval-inference-modes) is unknown; allowed: "
                f"{', '.join(INFERENCE_MODES)}, fixed:<k> with k < num_experts"
            )
    if resolved["epochs"] is None and resolved["max_steps"] is None:
        raise SpecError(
            "option epochs (--epochs) is null (no epoch limit): set max_steps (--max-steps), the run's length"
        )
    if (resolved["budget_unit"] is None) != (resolved["budget"] is None):
        raise SpecError("options budget_unit (--budget-unit) and budget (--budget) go together: set both or neither")
    if resolved["selection"] is None:  # upstream: best dev epoch for GLUE; last checkpoint for NLG; LiST has no dev
        resolved["selection"] = "paper" if family == "glue" else "last"
    if resolved["label"] is None:
        resolved["label"] = resolved["method"]
    return resolved


def _copy(value):
    return type(value)(value) if isinstance(value, (dict, list)) else value


def spec_of(values: dict) -> dict:
    """The run spec as recorded: every option that applies to the run's family, in definition order."""
    family = family_of(values["task"], values.get("fewshot_k"))
    return {
        o.name: values[o.name]
        for o in OPTIONS
        if family in o.families and o.scope != "engine" and not (o.omit_unset and values.get(o.name) is None)
    }


def complete_spec(values: dict) -> dict:
    """A run spec checked and completed with every default (what the pipeline writes for a run)."""
    return spec_of(check_values(values, engine=False))


# --------------------------------------------------------------------------------------------------
# generated artefacts: the schema's train block and the docs table
# --------------------------------------------------------------------------------------------------
SCHEMA_FILE = REPO_ROOT / "workflow" / "schemas" / "config.schema.yaml"
DOCS_FILE = REPO_ROOT / "docs" / "RUN_OPTIONS.md"
BEGIN = "    # BEGIN GENERATED from adamixbench/plan/spec.py (python -m adamixbench.plan.spec --write); do not edit"
END = "    # END GENERATED"
NAMES_BEGIN = (
    "  # BEGIN GENERATED names (python -m adamixbench.plan.spec --write): from where each is defined; do not edit"
)
NAMES_END = "  # END GENERATED names"


def registered_names() -> dict[str, list[str]]:
    """The names the schema's enums list, read from where each is defined: the method registry, the task
    tables, AdaMix's inference modes. Imports the engine side (torch): --write / --check and tests only."""
    from adamix.config import INFERENCE_MODES as ADAMIX_INFERENCE_MODES
    from adamixbench.tasks import FEWSHOT_TASKS, GLUE_TASKS
    from baselines import list_methods

    return {
        "family": list(FAMILIES),
        "task_glue": list(GLUE_TASKS),
        "task_fewshot": list(FEWSHOT_TASKS),
        "task_nlg": list(NLG_TASKS),
        "method_name": list_methods(),
        "inference_mode_name": [m for m in ADAMIX_INFERENCE_MODES if m != "fixed:<k>"],
        "budget_unit": list(BUDGET_UNITS),
    }


def names_block(names: dict[str, list[str]]) -> str:
    lines = [NAMES_BEGIN, *(f"  {key}: {{enum: [{', '.join(values)}]}}" for key, values in names.items()), NAMES_END]
    return "\n".join(lines) + "\n"


def json_schema(option: Option) -> dict:
    """The JSON-Schema of one option's value (the suite's train block)."""
    types = {int: "integer", float: "number", str: "string", bool: "boolean", dict: "object", list: "array"}
    out: dict = {}
    if option.choices:
        out["enum"] = list(option.choices) + ([None] if option.nullable else [])
    else:
        out["type"] = [types[option.kind], "null"] if option.nullable else types[option.kind]
    if option.low is not None:
        out["exclusiveMinimum" if option.low_open else "minimum"] = option.low
    if option.high is not None:
        out["exclusiveMaximum" if option.high_open else "maximum"] = option.high
    if option.default is not REQUIRED and option.default is not None:
        out["default"] = option.default
    families = "" if option.families == FAMILIES else f"[{' / '.join(option.families)} only] "
    out["description"] = families + option.help
    return out


def _yaml_scalar(value) -> str:
    if isinstance(value, float):
        return repr(value)
    return json.dumps(value)


def schema_block() -> str:
    """The generated `properties:` lines of `$defs.train` (flow-style YAML, one option per line)."""
    lines = [BEGIN]
    for option in TRAIN_OPTIONS:
        items = ", ".join(
            f"{k}: {_yaml_scalar(v) if not isinstance(v, list) else '[' + ', '.join(_yaml_scalar(x) for x in v) + ']'}"
            for k, v in json_schema(option).items()
        )
        lines.append(f"      {option.name}: {{{items}}}")
    lines.append(END)
    return "\n".join(lines) + "\n"


def _replace_block(text: str, begin: str, end_marker: str, block: str) -> str:
    start, end = text.index(begin), text.index(end_marker)
    end = text.index("\n", end) + 1
    return text[:start] + block + text[end:]


def render_schema(current: str, names: dict[str, list[str]] | None = None) -> str:
    """`current` schema text with its generated blocks replaced: the train options (`schema_block()`) and
    the names (`names_block()`, default `registered_names()`)."""
    current = _replace_block(current, BEGIN, END, schema_block())
    return _replace_block(current, NAMES_BEGIN, NAMES_END, names_block(names or registered_names()))


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def docs_table() -> str:
    rows = [
        "# Run options",
        "",
        "Generated from `adamixbench/plan/spec.py` by `python -m adamixbench.plan.spec --write`; do not edit by hand.",
        "Every option is a flag of `python -m adamixbench train` (dashes for underscores) and a key of a run",
        "spec (`--spec spec.json`). Options of scope `train` are also the keys of a suite's `train` blocks",
        "(`defaults`, experiment `train`, method `train`, `overrides`); `run` options come from the suite's",
        "structure (methods, experiments, seeds, `budgets`, `fewshot`, `eval_inference_modes`); `engine` options are",
        "flags only. An option limited to some task families is an error with a non-default value on another.",
        "",
        "| option | flag | scope | type / allowed | default | families | description |",
        "|---|---|---|---|---|---|---|",
    ]
    for o in OPTIONS:
        default = "required" if o.required else f"`{_yaml_scalar(o.default)}`"
        fams = "all" if o.families == FAMILIES else ", ".join(o.families)
        rows.append(
            f"| `{o.name}` | `{o.flag}` | {o.scope} | {_md(o.allowed())} | {default} | {fams} | {_md(o.help)} |"
        )
    return "\n".join(rows) + "\n"


def main(argv: list[str]) -> int:
    """--write: regenerate the schema block and the docs table; --check: exit 1 when they are stale."""
    if argv not in (["--write"], ["--check"]):
        print("usage: python -m adamixbench.plan.spec --write | --check", file=sys.stderr)
        return 2
    wanted = {SCHEMA_FILE: render_schema(SCHEMA_FILE.read_text()), DOCS_FILE: docs_table()}
    stale = [p for p, text in wanted.items() if not p.exists() or p.read_text() != text]
    if argv == ["--write"]:
        for path in stale:
            path.write_text(wanted[path])
            print(f"wrote {path.relative_to(REPO_ROOT)}")
        return 0
    for path in stale:
        print(
            f"{path.relative_to(REPO_ROOT)} is out of date: run python -m adamixbench.plan.spec --write",
            file=sys.stderr,
        )
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
