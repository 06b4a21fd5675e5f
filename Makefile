# One-command setup. `make run` = set up + run the default (offline, CPU) pipeline;
# `make test` = set up + run the test suite. Both are idempotent.
PYTHON ?= python3
VENV   ?= .venv
# torch goes in FIRST: installing transformers/peft before it pulls a multi-GB CUDA build on CPU-only
# machines. GPU users: `make setup TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128"`.
TORCH_SPEC ?= torch==2.13.0
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Offline by default: every Python entry point applies adamixbench/sources/offline.py itself (engine CLI, Snakemake,
# pytest), so no environment is exported here.

.PHONY: setup run test mutants cluster-test lint clean recipes smoke online-check fetch-data
setup: $(STAMP)

$(STAMP): pyproject.toml Makefile scripts/setup_assets.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(TORCH_SPEC)
	$(BIN)/pip install --quiet -e ".[bench,dev]"
	bash scripts/setup_assets.sh $(BIN)/pip
	touch $(STAMP)

run: setup
	$(BIN)/snakemake --cores all

test: setup
	$(BIN)/pytest -n 2 -q tests

# Inject each bug of scripts/mutants.toml in turn and check the tests catch it (docs/TESTING.md).
mutants: setup
	$(BIN)/python scripts/mutants.py

# The Slurm path for real: installs Slurm + munge + MariaDB from Debian's packages (root), starts a
# single-node cluster on localhost with all state in a temporary folder, runs a tiny suite through
# profiles/slurm (with a requeued, a cancelled and a bad-input run), tears the cluster down. ~12-20 min on 2 cores.
cluster-test: setup
	bash scripts/install_slurm.sh
	ADAMIX_CLUSTER_TEST=1 $(BIN)/pytest -q -p no:cacheprovider -m cluster tests/cluster

# ruff (lint + format, configured in pyproject.toml) and Snakemake's own linter
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakemake --lint

# docs/recipes/<suite>.md from config/suites/<suite>.yaml (checked by tests/pipeline/test_recipe_cards.py)
PAPER_SUITES := glue_roberta_large glue_bert_base nlg_gpt2_medium fewshot ablations
recipes: setup
	for s in $(PAPER_SUITES); do $(BIN)/snakemake --cores 1 --config suite=$$s -f docs/recipes/$$s.md || exit 1; done

# Every paper suite's whole DAG on tiny random stand-ins, a couple of steps per run, offline on CPU
# (results/<suite>-smoke/). Slow: all five suites, ~250 runs.
smoke: setup
	for s in $(PAPER_SUITES); do $(BIN)/snakemake --cores all --config suite=$$s smoke=true || exit 1; done

# FIRST, before a paper suite, on a machine with internet: load one split of every pinned hub dataset and the
# config + tokenizer of every pinned backbone, check them against adamixbench/sources/pins.py (docs/PIPELINE.md).
# `make online-check PIN=1` resolves the current commit of each and writes it into the pins table.
online-check: setup
	$(BIN)/python scripts/online_check.py $(if $(PIN),--pin)

# The paper's data of a suite, once (docs/PIPELINE.md, "Data sources"): for the NLG suite, microsoft/LoRA's E2E /
# WebNLG / DART files at the pinned commit, downloaded into data/paper/ and verified by git blob id.
FETCH_SUITE ?= nlg_gpt2_medium
fetch-data: setup
	$(BIN)/python -m adamixbench fetch-data --suite $(FETCH_SUITE)

clean:
	rm -rf $(VENV) .snakemake
