"""Facts about the tasks that live in one place: the task names (the suite schema cannot import Python, so
its enums are checked against the task registries here) and the data root every task family shares."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from adamixbench.plan import spec
from adamixbench.sources.paths import DATA_DIR_ENV, data_root
from adamixbench.tasks import fewshot, glue, nlg

REPO = Path(__file__).resolve().parents[2]


def test_schema_task_enums_match_the_task_registries():
    defs = yaml.safe_load(spec.SCHEMA_FILE.read_text())["$defs"]
    assert set(defs["task_glue"]["enum"]) == set(glue.GLUE_TASKS)
    assert set(defs["task_fewshot"]["enum"]) == set(fewshot.FEWSHOT_TASKS)
    assert tuple(defs["task_nlg"]["enum"]) == spec.NLG_TASKS
    assert nlg.TASKS is spec.NLG_TASKS


def test_data_root_defaults_to_the_shipped_data(monkeypatch):
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    assert data_root() == REPO / "data"
    assert glue.default_data_dir() == REPO / "data" / "glue"
    assert (glue.default_data_dir() / "RTE" / "train.tsv").is_file()


@pytest.mark.parametrize("value", ["", None])
def test_data_root_unset_or_empty_variable(monkeypatch, value):
    if value is None:
        monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    else:
        monkeypatch.setenv(DATA_DIR_ENV, value)
    assert data_root() == REPO / "data"


def test_every_task_family_honours_the_data_dir_variable(monkeypatch, tmp_path):
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    assert data_root() == tmp_path
    assert glue.default_data_dir() == tmp_path / "glue"
    assert fewshot.default_fewshot_dir() == tmp_path / "fewshot"
    assert nlg.default_data_dir("e2e") == tmp_path / "e2e"
    assert nlg.default_data_dir("webnlg") == tmp_path / "webnlg_challenge_2017"
    # a loader reads from there: a GLUE file placed under the new root is what load_glue returns
    rte = tmp_path / "glue" / "RTE"
    rte.mkdir(parents=True)
    (rte / "train.tsv").write_text("index\tsentence1\tsentence2\tlabel\n0\tA cat sat.\tA cat.\tentailment\n")
    rows = glue.load_glue("rte", "train", data_dir=glue.default_data_dir())
    assert rows[0]["sentence1"] == "A cat sat." and len(rows) == 1
