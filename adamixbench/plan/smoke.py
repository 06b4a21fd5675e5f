"""Smoke mode: a suite's whole run matrix on tiny stand-ins, a couple of steps each, offline on CPU.

    snakemake --cores all --config suite=glue_roberta_large smoke=true

`apply_smoke(suite)` is ONE transformation of the resolved suite (the workflow applies it after the
suite's overrides are merged and before the runs are built), so a smoke run goes through exactly the
code of a real run: the same run matrix (every experiment, method label, task and table; the FIRST seed
only), the same engine, aggregation, tables, plots and report. What changes:

* outputs: ``<output_root>/<suite>-smoke/`` (the suite is renamed ``<suite>-smoke``; ``smoke_of`` keeps its
  name, so that the claims of the suite are tested on the smoke runs too);
* models: every backbone becomes its stand-in ``standin:<model>`` (adamixbench/sources/standins.py: same
  architecture and head types, 2 layers, hidden 64, random weights, real tokenizers where shipped);
* data: GLUE runs read a GLUE-layout directory with a few examples per split (stand-in files for the
  GLUE files the repository does not ship); few-shot runs read the shipped LiST splits and evaluate
  MNLI / QQP on that directory; NLG runs read the shipped development files (``data_source: local`` for
  every run, whatever the suite sets: a smoke run never fetches the paper's files or reads the hub);
* training: the options of :data:`SMOKE_TRAIN` (NLG: and :data:`SMOKE_NLG`) win over every suite option
  (they are appended as the last override of every experiment), e.g. 2 optimiser steps, 16 examples,
  greedy-ish short decoding.

Scores of a smoke run mean nothing; tables and the report say so in their titles.
"""

from __future__ import annotations

import copy

from adamixbench.sources.standins import PREFIX
from adamixbench.tasks.standin_data import standin_glue_dir

SUFFIX = "-smoke"
#: training options of every smoke run (engine option names); they override the suite's.
SMOKE_TRAIN = {
    "epochs": 1,
    "max_steps": 2,
    "max_train_samples": 16,
    "max_eval_samples": 16,
    "batch_size": 8,
    "eval_batch_size": 16,
    "max_seq_len": 64,
    "warmup_steps": 0,
    "data_source": "local",  # stand-in and shipped data, offline: never the paper's fetched files or the hub
}
SMOKE_NLG = {"num_beams": 2, "max_new_tokens": 8}  # decoding of NLG runs
BOOTSTRAP_RESAMPLES = 100  # one seed per cell: the interval is "—" anyway
TITLE_PREFIX = "SMOKE (random stand-ins, 2 steps; scores mean nothing): "


def apply_smoke(suite: dict) -> dict:
    """The smoke version of a resolved, validated suite (a new dict; `suite` is not modified)."""
    cfg = copy.deepcopy(suite)
    cfg["suite"] = f"{cfg['suite']}{SUFFIX}"
    cfg["smoke_of"] = suite["suite"]  # the claims rule tests the suite's claims (on smoke runs: meaningless)
    cfg["description"] = f"SMOKE of {suite['suite']}: {cfg.get('description', '')}".strip()
    first = cfg.get("seeds", [1, 2, 3])[:1]
    cfg["seeds"] = first
    # GLUE runs read it; few-shot runs evaluate MNLI / QQP on it; NLG runs keep the shipped dev files.
    cfg["data_dirs"] = {**cfg.get("data_dirs", {}), "glue": str(standin_glue_dir())}
    for exp in cfg["experiments"]:
        if "seeds" in exp:
            exp["seeds"] = exp["seeds"][:1]
        if not exp["model"].startswith(PREFIX):
            exp["model"] = f"{PREFIX}{exp['model']}"
        train = {**SMOKE_TRAIN, **(SMOKE_NLG if exp["family"] == "nlg" else {})}
        exp["overrides"] = [*exp.get("overrides", []), {"train": train}]
    analysis = cfg.setdefault("analysis", {})
    analysis["bootstrap"] = {**analysis.get("bootstrap", {}), "n": BOOTSTRAP_RESAMPLES}
    for table in analysis.get("tables", []):
        table["title"] = TITLE_PREFIX + table.get("title", table["name"])
    return cfg
