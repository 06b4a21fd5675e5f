"""Suite-level overrides a cluster user needs (model map, data directories, output root), merged into the
suite rather than replacing its blocks, and the smoke transformation of every paper suite."""

from __future__ import annotations

import copy

import pytest
import yaml

from adamixbench.plan.smoke import SMOKE_TRAIN, SUFFIX, apply_smoke
from adamixbench.sources.standins import PREFIX, SIZE

from .helpers import REPO, snakemake

PAPER_SUITES = ["glue_roberta_large", "glue_bert_base", "nlg_gpt2_medium", "fewshot", "ablations"]


def _suite(name: str) -> dict:
    return yaml.safe_load((REPO / "config" / "suites" / f"{name}.yaml").read_text())


@pytest.mark.parametrize("name", PAPER_SUITES)
def test_smoke_keeps_the_matrix_and_shrinks_everything_else(name):
    suite = _suite(name)
    before = copy.deepcopy(suite)
    smoke = apply_smoke(suite)
    assert suite == before  # not modified in place
    assert smoke["suite"] == name + SUFFIX and smoke["seeds"] == suite["seeds"][:1]
    assert smoke["methods"] == suite["methods"]
    for exp, orig in zip(smoke["experiments"], suite["experiments"]):
        assert (exp["tasks"], exp["methods"]) == (orig["tasks"], orig["methods"])
        assert exp["model"] == PREFIX + orig["model"]
        last = exp["overrides"][-1]
        assert set(last) == {"train"} and SMOKE_TRAIN.items() <= last["train"].items()  # wins over every option
        assert exp["overrides"][:-1] == orig.get("overrides", [])
    assert smoke["data_dirs"]["glue"].endswith("glue-32")  # GLUE runs + few-shot MNLI / QQP evaluation
    assert all(t["title"].startswith("SMOKE") for t in smoke["analysis"]["tables"])


def test_smoke_keeps_the_first_seed_of_an_experiment_with_its_own_seeds():
    """An experiment's own `seeds` (which win over the suite's) are cut to their first one too: the smoke
    run of such an experiment is one run per task and label, as everywhere else."""
    from adamixbench.plan.suite import expand

    suite = _suite("glue_bert_base")
    suite["experiments"][0]["seeds"] = [7, 8, 9]
    smoke = apply_smoke(suite)
    assert smoke["experiments"][0]["seeds"] == [7]
    exp = smoke["experiments"][0]
    runs = [key for key, spec in expand(smoke).items() if spec["experiment"] == exp["name"]]
    assert {seed for _, _, seed in runs} == {7} and len(runs) == len(exp["tasks"]) * len(exp["methods"])


def _card(tmp_path, *config) -> str:
    r = snakemake(
        ["--cores", "1", "--config", "suite=nlg_gpt2_medium", *config, "-f", "docs/recipes/nlg_gpt2_medium.md"],
        tmp_path,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    return (tmp_path / "docs" / "recipes" / "nlg_gpt2_medium.md").read_text()


def test_model_map_and_merged_defaults(tmp_path):
    card = _card(tmp_path, "models={gpt2-medium: /scratch/hf/gpt2-medium}", "defaults={selection: heldout}")
    assert "Model `/scratch/hf/gpt2-medium`" in card and "Model `gpt2-medium`" not in card
    assert "| `selection` | heldout |" in card
    assert "| `batch_size` | 8 |" in card and "| `num_beams` | 10 |" in card  # the rest of `defaults` is kept


def test_model_map_with_an_unknown_model_fails_before_any_job(tmp_path):
    r = snakemake(["-n", "--config", "suite=nlg_gpt2_medium", "models={roberta-large: /x}"], tmp_path)
    assert r.returncode != 0
    assert "config key models: 'roberta-large' is not the model of any experiment" in r.stderr + r.stdout


def test_data_dirs_reach_the_engine_flags(tmp_path):
    r = snakemake(["-n", "--config", "suite=fewshot", "data_dirs={glue: /scratch/glue}"], tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    r = snakemake(["-n", "--config", "suite=fewshot", "data_dirs={gleu: /scratch/glue}"], tmp_path)
    assert r.returncode != 0 and "data_dirs" in r.stderr + r.stdout and "gleu" in r.stderr + r.stdout


@pytest.mark.parametrize("name", PAPER_SUITES)
def test_standins_are_wide_enough_for_every_adapter_size(name):
    """An adapter bottleneck wider than the stand-in's hidden size is rejected by the method (a smoke run
    of the NLG suite failed that way with Houlsby's bottleneck 112 on hidden 64)."""
    suite = _suite(name)
    sizes = [m.get("params", {}).get("bottleneck") for m in suite["methods"].values()]
    assert all(b is None or b <= SIZE["hidden"] for b in sizes), (sizes, SIZE)


def test_nlg_data_dirs_are_per_task(tmp_path):
    """An NLG run reads `data_dirs.<its task>` (e2e / webnlg / dart: a folder each, in the LoRA layout), not
    a folder per family: the dry-run's data check looks for E2E's paper files (the suite's data_source) in the
    folder given for e2e (absent here: a warning naming them and E2E's runs only) and for WebNLG's and DART's
    in the cache of fetched files (offline and not fetched here: a warning each, and the one command that
    fetches them)."""
    missing = tmp_path / "no-e2e-here"
    r = snakemake(["-n", "--config", "suite=nlg_gpt2_medium", f"data_dirs={{e2e: {missing}}}"], tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    warning = next((line for line in r.stderr.splitlines() if str(missing) in line), "")
    assert "the paper's e2e data are missing" in warning
    assert f"{missing / 'train.txt'}, {missing / 'test.txt'}" in warning
    runs = r.stderr.split(warning, 1)[1].splitlines()[1]
    assert runs.strip().startswith("runs: e2e/") and "webnlg/" not in runs and "dart/" not in runs
    for task in ("webnlg", "dart"):  # unless a developer fetched them into this checkout's cache
        if any(f"the paper's {task} data are missing" in line for line in r.stderr.splitlines()):
            assert f"python -m adamixbench fetch-data --task {task}" in r.stderr
