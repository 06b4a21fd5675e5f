"""The hub loaders through the REAL `datasets.load_dataset` / `from_pretrained` resolution, offline: a local
mirror laid out exactly as the hub repositories (tests/hub_mirror.py: GLUE's card + parquet per config, the
parquet export branch of E2E / WebNLG / DART with no card, a model repository), read through
``ADAMIXBENCH_HUB_MIRROR`` by the same code that reads the hub online. Nothing here fakes `load_dataset`."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import datasets
import pytest
import yaml

from adamixbench.sources import backbones, pins
from adamixbench.sources.paths import REPO_ROOT
from adamixbench.tasks import glue, nlg
from adamixbench.tasks.hub import load_hub_split, rows_digest
from tests import hub_mirror

DATA = REPO_ROOT / "data"


# ------------------------------------------------------------------------------------- the layout is the hub's
def test_mirror_reproduces_the_old_webnlg_call_failures(use_mirror):
    """The call the loader used to make fails on this layout exactly as on the hub's parquet branch: no card,
    so one config `default`; the `dev` folder is split `validation`; without data_dir configs mix."""
    repo = str(use_mirror / "webnlg-challenge" / "web_nlg")
    with pytest.raises(ValueError, match="BuilderConfig 'webnlg_challenge_2017' not found"):
        datasets.load_dataset(repo, name="webnlg_challenge_2017", split="dev")
    with pytest.raises(ValueError, match='Unknown split "dev"'):
        datasets.load_dataset(repo, data_dir="webnlg_challenge_2017", split="dev")
    mixed = datasets.load_dataset(repo, split="train")  # both config folders' train files
    alone = datasets.load_dataset(repo, data_dir="webnlg_challenge_2017", split="train")
    assert len(mixed) == 2 * len(alone)


def test_hub_split_uses_the_pinned_layout(use_mirror):
    ds = load_hub_split("webnlg-challenge/web_nlg", "webnlg_challenge_2017", "validation")
    assert "test_category" in ds.column_names
    test = load_hub_split("web_nlg", "webnlg_challenge_2017", "test")  # the bare alias maps to the namespaced id
    counts = hub_mirror.webnlg_test_counts()
    assert len(test) == sum(counts.values())
    assert {c: test["test_category"].count(c) for c in counts} == counts


# ------------------------------------------------------------------------------------------------ GLUE
@pytest.mark.parametrize("task,split", hub_mirror.shipped_glue_splits())
def test_glue_from_the_hub_layout_equals_the_shipped_files(use_mirror, task, split):
    hub = glue.load_glue(task, split)  # data_dir=None + mirror: nyu-mll/glue through load_dataset(name=task)
    local = glue.load_glue(task, split, data_dir=DATA / "glue")
    assert hub.column_names == [*glue.get_task(task).text_fields, "label"]
    assert hub.features["label"] == local.features["label"]  # ClassLabel names from the card's dataset_info
    assert hub.to_list() == local.to_list()


def test_glue_records_the_revision_read(use_mirror):
    glue.load_glue("rte", "validation")
    (read,) = pins.hub_reads()
    assert read["repo_id"] == "nyu-mll/glue"
    assert read["revision"] == hub_mirror.MIRROR_REVISIONS["nyu-mll/glue"]  # the mirror's claimed commit
    assert read["pinned"] == pins.hub_revision("nyu-mll/glue")
    assert read["what"] == ["dataset rte/validation"]


def test_provenance_lists_the_datasets_read_not_the_model(use_mirror):
    from adamixbench.tasks.data_provenance import _hub_reads

    glue.load_glue("rte", "validation")
    backbones.backbone_source("bert-base-uncased").record(type("Config", (), {"_commit_hash": None})())
    assert [r["repo_id"] for r in pins.hub_reads()] == ["nyu-mll/glue", "google-bert/bert-base-uncased"]
    (read,) = _hub_reads()
    assert read["repo_id"] == "nyu-mll/glue" and read["revision"] == hub_mirror.MIRROR_REVISIONS["nyu-mll/glue"]


def test_the_record_provenance_lists_the_backbone_read_with_its_commit(use_mirror):
    """The datasets go to provenance.data.hub, the model to provenance.backbone (the commit read and the pin)."""
    from adamixbench.engine.record import provenance

    backbones.backbone_source("bert-base-uncased").record(type("Config", (), {"_commit_hash": None})())
    (read,) = provenance(None, "2026-01-01T00:00:00")["backbone"]
    assert read["repo_id"] == "google-bert/bert-base-uncased" and read["what"] == ["model"]
    assert read["revision"] == hub_mirror.MIRROR_REVISIONS["google-bert/bert-base-uncased"]
    assert read["pinned"] == pins.hub_revision("google-bert/bert-base-uncased")


def test_glue_mnli_split_names_are_the_hubs():
    assert glue.get_task("mnli").dev_splits == ("validation_matched", "validation_mismatched")
    checks = {c.split for c in pins.pin("nyu-mll/glue").checks if c.config == "mnli"}
    assert checks == {"validation_matched", "validation_mismatched"}


# ------------------------------------------------------------------------------------------------ NLG
def test_e2e_hub_rows_equal_loras_files_after_conversion(use_mirror):
    """Hub MRs (``priceRange[£20-25]``) convert to LoRA's (``price : £ 20 - 25``): the mirror, built from the
    shipped LoRA test file, reads back as that file."""
    assert nlg.load_nlg("e2e", "test", hub=True) == nlg.read_e2e_file(DATA / "e2e" / "test.txt")
    assert len(nlg.load_nlg("e2e", "validation", hub=True)) > 0  # split `validation` from its folder


def test_webnlg_hub_test_is_loras_test_file(use_mirror, tmp_path):
    """The hub's test split merges three files; only `testdata_with_lex` (LoRA's 1,862-input file) is kept."""
    expected = nlg.read_webnlg_json(hub_mirror.webnlg_expected_test_json(tmp_path / "test.json"))
    rows = nlg.load_nlg("webnlg", "test", hub=True)
    assert rows == expected
    groups = nlg.group_references(rows)
    assert len(groups) == len(nlg.group_references(expected))
    unseen = nlg.load_nlg("webnlg", "test", hub=True, category="unseen")
    assert unseen and all(r.category in nlg.WEBNLG_UNSEEN_CATEGORIES for r in unseen)
    assert len(unseen) < len(rows)


def test_webnlg_hub_dev_folder_is_the_validation_split(use_mirror):
    rows = nlg.load_nlg("webnlg", "validation", hub=True)
    assert rows == nlg.read_webnlg_json(DATA / "webnlg_challenge_2017" / "dev.json")
    assert nlg.load_nlg("webnlg", "dev", hub=True) == rows  # the loader's alias, not the hub's split name


def test_dart_hub_rows_equal_the_release_file(use_mirror):
    assert nlg.load_nlg("dart", "validation", hub=True) == nlg.read_dart_json(
        DATA / "dart" / "dart-v1.1.1-full-dev.json"
    )
    reads = {r["repo_id"]: r for r in pins.hub_reads()}
    assert reads["Yale-LILY/dart"]["what"] == ["dataset default/validation"]


def test_nlg_hub_ids_are_pinned_and_namespaced():
    for repo_id, config in nlg.HUB_DATASETS.values():
        entry = pins.pin(repo_id)
        assert entry.repo_id == repo_id and entry.kind == "dataset"
        assert entry.branch == pins.PARQUET_BRANCH and entry.layout == "parquet-branch"
        assert pins.dataset_kwargs(repo_id, config) == {"data_dir": config}
    assert pins.dataset_kwargs(glue.HUB_DATASET, "rte") == {"name": "rte"}


# ------------------------------------------------------------------------------------------------ models
def test_pinned_backbone_loads_through_from_pretrained(use_mirror):
    from transformers import AutoTokenizer

    from adamixbench.tasks.classification import NLUTask

    source = backbones.backbone_source("bert-base-uncased")
    assert source.repo_id == "google-bert/bert-base-uncased"
    assert Path(source.location) == use_mirror / "google-bert" / "bert-base-uncased"
    assert source.kwargs() == {}  # a local mirror has no revisions
    tokenizer = AutoTokenizer.from_pretrained(source.location, **source.kwargs())
    task = NLUTask.__new__(NLUTask)
    task.num_labels = 2
    model = task.load_model(source.location, **source.kwargs())
    assert tokenizer("a test")["input_ids"][0] == tokenizer.cls_token_id
    source.record(model.config)
    (read,) = pins.hub_reads()
    assert read["repo_id"] == "google-bert/bert-base-uncased" and read["what"] == ["model"]
    assert read["revision"] == hub_mirror.MIRROR_REVISIONS["google-bert/bert-base-uncased"]


def test_pinned_backbone_online_passes_the_pinned_revision(monkeypatch):
    monkeypatch.delenv(pins.MIRROR_ENV, raising=False)
    source = backbones.backbone_source("roberta-large")
    assert source.location == "FacebookAI/roberta-large"
    assert source.kwargs() == {"revision": pins.hub_revision("FacebookAI/roberta-large")}
    assert backbones.resolve_backbone("gpt2-medium") == "openai-community/gpt2-medium"


def test_revision_to_load(monkeypatch):
    """Pinned: the sha. Not pinned and the hub off: the branch (the local cache's copy), never a hub call."""
    monkeypatch.delenv(pins.MIRROR_ENV, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert pins.load_revision("nyu-mll/glue") == pins.hub_revision("nyu-mll/glue")
    unpinned = dataclasses.replace(pins.pin("tuetschek/e2e_nlg"), revision=None)  # whatever the table holds now
    monkeypatch.setitem(pins._BY_ID, unpinned.repo_id, unpinned)
    assert pins.load_revision(unpinned.repo_id) == unpinned.branch

    def no_hub(*args):
        raise AssertionError("asked the hub")

    monkeypatch.setattr(pins, "resolve_current", no_hub)
    assert pins.load_revision(unpinned.repo_id) == unpinned.branch


def test_record_model_read_takes_the_configs_commit_hash():
    pins.clear_hub_reads()

    class Config:
        _commit_hash = "a" * 40

    backbones.BackboneSource("roberta-large", "FacebookAI/roberta-large", "a" * 40, "FacebookAI/roberta-large").record(
        Config()
    )
    assert pins.hub_reads()[0]["revision"] == "a" * 40
    pins.clear_hub_reads()


# ------------------------------------------------------------------------------------------------ hub ids
@pytest.mark.parametrize("name", ["roberta-large", "FacebookAI/roberta-large"])
def test_a_local_folder_shadowing_a_backbone_hub_id_is_refused(tmp_path, monkeypatch, name):
    (tmp_path / name).mkdir(parents=True)
    with pytest.raises(pins.HubIdError, match="local path .* would be read instead of the hub"):
        pins.hub_id(name, cwd=tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(pins.MIRROR_ENV, raising=False)
    with pytest.raises(pins.HubIdError):
        backbones.backbone_source("roberta-large")


def test_a_local_dart_folder_no_longer_shadows_the_dataset(tmp_path, monkeypatch):
    """`load_dataset("dart")` would read ./dart; the loaders use `Yale-LILY/dart`, and refuse a folder of THAT
    name in the working directory."""
    (tmp_path / "dart").mkdir()
    with pytest.raises(pins.HubIdError, match="dart"):
        pins.hub_id("dart", cwd=tmp_path)
    assert pins.hub_id("Yale-LILY/dart", cwd=tmp_path) == "Yale-LILY/dart"
    (tmp_path / "Yale-LILY" / "dart").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(pins.MIRROR_ENV, raising=False)
    with pytest.raises(pins.HubIdError, match="Yale-LILY/dart"):
        nlg.load_nlg("dart", "validation", hub=True)


def test_bare_aliases_map_to_namespaced_ids(tmp_path):
    assert pins.hub_id("dart", cwd=tmp_path) == "Yale-LILY/dart"
    assert pins.hub_id("web_nlg", cwd=tmp_path) == "webnlg-challenge/web_nlg"
    assert pins.hub_id("bert-base-uncased", cwd=tmp_path) == "google-bert/bert-base-uncased"


# ------------------------------------------------------------------------------------------------ the table
def test_the_table_is_in_the_form_write_pins_writes():
    text = Path(pins.__file__).read_text(encoding="utf-8")
    start = text.index("\n", text.index(pins.BEGIN_MARK)) + 1
    assert text[start : text.index(pins.END_MARK)] == pins.render_pins()


def test_write_pins_round_trips(tmp_path, monkeypatch):
    import importlib.util

    copy = tmp_path / "pins_copy.py"
    copy.write_text(Path(pins.__file__).read_text(encoding="utf-8"), encoding="utf-8")
    changed = tuple(
        dataclasses.replace(
            p,
            revision="f" * 40,
            checks=tuple(dataclasses.replace(c, rows=7, sha256="e" * 64) for c in p.checks),
        )
        for p in pins.PINS
    )
    pins.write_pins(changed, copy)
    spec = importlib.util.spec_from_file_location("pins_copy", copy)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "pins_copy", module)  # dataclasses look their module up while defining
    spec.loader.exec_module(module)
    assert [p.revision for p in module.PINS] == ["f" * 40] * len(pins.PINS)
    assert all(c.rows == 7 and c.sha256 == "e" * 64 for p in module.PINS for c in p.checks)


def test_every_suite_backbone_is_packaged_or_pinned():
    from adamixbench.sources.packaged import PACKAGED

    models = set()
    for path in (REPO_ROOT / "config" / "suites").glob("*.yaml"):
        for experiment in (yaml.safe_load(path.read_text()) or {}).get("experiments", []):
            if isinstance(experiment, dict) and "model" in experiment:
                models.add(experiment["model"])
    assert models, "no suite names a model"
    unpinned = sorted(m for m in models if m not in PACKAGED and not pins.is_pinned_id(m))
    assert not unpinned, f"suite backbones missing from adamixbench/sources/pins.py: {unpinned}"
    for entry in pins.PINS:
        assert "/" in entry.repo_id
        assert entry.revision is None or len(entry.revision) == 40


def test_rows_digest_depends_on_content_and_order():
    a = datasets.Dataset.from_dict({"x": ["a", "b"], "y": [1, 2]})
    b = datasets.Dataset.from_dict({"x": ["b", "a"], "y": [2, 1]})
    assert rows_digest(a) != rows_digest(b)
    assert rows_digest(a, ["x"]) == rows_digest(datasets.Dataset.from_dict({"x": ["a", "b"]}))
