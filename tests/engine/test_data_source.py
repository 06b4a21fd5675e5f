"""The run option data_source, resolved once per run for every family (adamixbench/tasks/data_source.py); what
the run record says about the data (provenance.data); the pre-run validation's message for missing paper data;
smoke runs stay offline on local data."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from adamixbench.engine.config import RunConfig
from adamixbench.engine.validate import DATA, report, validate_specs
from adamixbench.plan.smoke import apply_smoke
from adamixbench.plan.suite import expand
from adamixbench.sources import paper_data
from adamixbench.sources.paths import REPO_ROOT
from adamixbench.tasks.data_provenance import data_provenance
from adamixbench.tasks.data_source import resolve_data_source
from tests.engine.engine_testutil import SMALL_RUN, train

SHIPPED = REPO_ROOT / "data"


def _cfg(task, data_source="auto", data_dir=None, fewshot_k=None, **over):
    values = dict(
        task=task,
        fewshot_k=fewshot_k,
        fewshot_split=1,
        fewshot_protocol="list",
        data_dir=data_dir,
        glue_data_dir=None,
        data_source=data_source,
        selection="last",
        heldout_fraction=0.1,
        max_train_samples=None,
        max_eval_samples=None,
    )
    return SimpleNamespace(**{**values, **over})


@pytest.fixture
def hub_on(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "0")


@pytest.fixture
def hub_off(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")


@pytest.fixture
def empty_data_root(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "data"
    root.mkdir()
    monkeypatch.setenv("ADAMIXBENCH_DATA_DIR", str(root))
    return root


# ------------------------------------------------------------------------------------------ resolution
@pytest.mark.parametrize("task, k", [("e2e", None), ("sst2", None), ("rte", 30)], ids=["nlg", "glue", "fewshot"])
def test_auto_is_local_offline_or_with_a_data_dir_else_paper(task, k, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert resolve_data_source(_cfg(task, fewshot_k=k)) == "local"
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    assert resolve_data_source(_cfg(task, fewshot_k=k)) == "local"  # either variable turns the hub off
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "0")
    assert resolve_data_source(_cfg(task, fewshot_k=k)) == "paper"
    assert resolve_data_source(_cfg(task, fewshot_k=k, data_dir="/some/folder")) == "local"


@pytest.mark.parametrize("task, k", [("dart", None), ("cola", None), ("mpqa", 16)], ids=["nlg", "glue", "fewshot"])
def test_an_explicit_source_wins_over_the_environment(task, k, hub_off):
    assert resolve_data_source(_cfg(task, "paper", fewshot_k=k)) == "paper"
    assert resolve_data_source(_cfg(task, "local", fewshot_k=k)) == "local"
    if k is None:
        assert resolve_data_source(_cfg(task, "hub", fewshot_k=k)) == "hub"


def test_sources_a_family_does_not_have_are_errors_naming_the_option_and_the_fix(hub_on):
    with pytest.raises(ValueError, match=r"option data_source \(--data-source\): 'hub' has no few-shot data"):
        resolve_data_source(_cfg("rte", "hub", fewshot_k=30))
    with pytest.raises(ValueError, match="reads GLUE from the Hugging Face hub, so data_dir /x would be ignored"):
        resolve_data_source(_cfg("rte", "paper", data_dir="/x"))
    assert resolve_data_source(_cfg("e2e", "paper", data_dir="/x")) == "paper"  # NLG: a folder of the paper's files
    assert resolve_data_source(_cfg("rte", "local", data_dir="/x")) == "local"


def test_the_validator_rejects_them_before_any_job(hub_off):
    spec = {"task": "rte", "method": "lora", "seed": 1, "model": "minilm-l6", "fewshot_k": 30, "data_source": "hub"}
    found = validate_specs([spec])
    assert [p.resource for p in found] == [None]  # an input error (fatal), not unavailable data
    assert "'hub' has no few-shot data" in next(iter(found)).message
    assert report(found, resources_fatal=False)[1] is True


# ------------------------------------------------------------------------------------------ loaders
def test_nlg_local_is_the_shipped_data_with_its_carving_and_paper_the_pinned_files(hub_off):
    from adamixbench.tasks.nlg import load_nlg_splits

    train, report_split, report_groups, held = load_nlg_splits(_cfg("e2e"))  # auto, offline: local
    assert (report_split, len(report_groups), held) == ("test", 630, None)
    assert len({r.source for r in train}) == 547 - 55  # carved out of valid.txt (55 MRs held out)
    _, split, groups, _ = load_nlg_splits(_cfg("webnlg"))
    assert split == "validation" and groups  # no test file shipped: the carved held-out part of dev


def test_glue_paper_reads_the_hub_and_local_the_tsvs(hub_off):
    from adamixbench.tasks.glue import load_glue_for_run

    local = load_glue_for_run(_cfg("rte", "local"), "validation")
    assert len(local) == 277
    with pytest.raises(Exception) as err:  # noqa: B017 - datasets offline, nothing cached: its own error
        load_glue_for_run(_cfg("rte", "paper"), "validation")
    assert "rte" in str(err.value) or "glue" in str(err.value).lower()


def test_fewshot_paper_and_local_read_the_shipped_splits(hub_off):
    from adamixbench.tasks.fewshot import load_fewshot_for_run

    for source in ("paper", "local"):
        train, evaluation = load_fewshot_for_run(_cfg("sst2", source, fewshot_k=30))
        assert (len(train), len(evaluation)) == (30, 872)
    with pytest.raises(ValueError, match="few-shot"):
        load_fewshot_for_run(_cfg("sst2", "hub", fewshot_k=30))


# ------------------------------------------------------------------------------------------ provenance
def test_provenance_of_local_nlg_glue_and_fewshot_names_the_files_and_their_sha256(hub_off):
    e2e = data_provenance(_cfg("e2e"))
    assert e2e["source"] == "local" and e2e["data_source"] == "auto"
    assert e2e["files"] == {
        "e2e/valid.txt": paper_data.paper_file("e2e", "validation").sha256,  # train carved out of it
        "e2e/test.txt": paper_data.paper_file("e2e", "test").sha256,
    }
    glue = data_provenance(_cfg("sst2", "local"))
    assert glue["files"]["glue/SST-2/dev.tsv"] == "54a9c12c77e402fc14d6a66a506f24d999f596b0176eb777c972cccc2f9cc4b0"
    assert set(glue["files"]) == {"glue/SST-2/train.tsv", "glue/SST-2/dev.tsv"}
    fewshot = data_provenance(_cfg("sst2", "paper", fewshot_k=30))
    assert fewshot["source"] == "paper" and set(fewshot["files"]) == {
        "fewshot/SST-2/30-1/train.tsv",
        "fewshot/SST-2/test.tsv",
    }


def test_provenance_of_paper_nlg_names_the_commit_and_the_repository_paths(empty_data_root):
    cfg = _cfg("e2e", "paper")
    missing = data_provenance(cfg)  # never raises: a run that could not start still says what it needed
    assert missing["source"] == "paper" and missing["lora_commit"] == paper_data.LORA_COMMIT
    assert missing["files"] == {"examples/NLG/data/e2e/train.txt": None, "examples/NLG/data/e2e/test.txt": None}
    shutil.copytree(SHIPPED / "e2e", empty_data_root / "e2e")  # the identical shipped test file is the paper's
    found = data_provenance(cfg)["files"]
    assert found["examples/NLG/data/e2e/test.txt"] == paper_data.paper_file("e2e", "test").sha256


def test_a_run_record_says_which_source_produced_it(tmp_path, tiny_model_dir, hub_off):
    code, record = train(tiny_model_dir, tmp_path / "run", "--data-dir", str(tmp_path / "none"), **SMALL_RUN)
    assert code == 0 and record["failure_class"] == "data_unavailable"
    data = record["provenance"]["data"]
    assert data["source"] == "local" and data["data_source"] == "auto"
    assert all(sha is None for sha in data["files"].values()) and len(data["files"]) == 2


def test_the_record_of_a_paper_nlg_run_without_its_files_names_the_fetch_command(
    tmp_path, tiny_model_dir, empty_data_root, hub_off
):
    code, record = train(tiny_model_dir, tmp_path / "run", task="dart", data_source="paper", selection="last")
    assert code == 0 and record["failure_class"] == "data_unavailable"
    assert "python -m adamixbench fetch-data --task dart" in record["failure_reason"]
    assert record["provenance"]["data"]["source"] == "paper"


# ------------------------------------------------------------------------------------------ validation
def test_a_dry_run_names_the_missing_paper_data_and_one_command_that_fetches_them(empty_data_root, hub_off):
    specs = [
        {"task": task, "method": "lora", "seed": 1, "model": "standin:gpt2-medium", "data_source": "paper"}
        for task in ("e2e", "webnlg", "dart")
    ]
    found = validate_specs(specs)
    assert [p.resource for p in found] == [DATA] * 3
    text, fatal = report(found, resources_fatal=True)
    assert not fatal  # unavailable data: those runs are recorded as failed, the others run
    for name in ("e2e/train.txt", "webnlg_challenge_2017/train.json", "dart/dart-v1.1.1-full-test.json"):
        assert name in text
    assert text.splitlines()[-1].endswith("python -m adamixbench fetch-data --task e2e --task webnlg --task dart")


# ------------------------------------------------------------------------------------------ smoke
@pytest.mark.parametrize("name", ["nlg_gpt2_medium", "glue_bert_base"])
def test_smoke_runs_read_local_data_whatever_the_suite_says(name, hub_on):
    suite = yaml.safe_load((REPO_ROOT / "config" / "suites" / f"{name}.yaml").read_text())
    assert suite["defaults"]["data_source"] == "paper"  # the paper suites read the paper's data
    specs = list(expand(apply_smoke(suite)).values())
    assert {spec["data_source"] for spec in specs} == {"local"}
    cfg = RunConfig(**specs[0], out="-")
    assert resolve_data_source(cfg) == "local"  # even with the hub on
