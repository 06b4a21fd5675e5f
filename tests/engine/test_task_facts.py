"""Facts about the tasks that live in one place: the task names (the suite schema cannot import Python, so
its enums are checked against the task registries here) and the data root every task family shares."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from adamixbench.plan import spec
from adamixbench.sources.paths import DATA_DIR_ENV, data_root
from adamixbench.tasks import fewshot, glue, nlg, primary_metric, task, unknown_task_message

REPO = Path(__file__).resolve().parents[2]


def test_schema_task_enums_match_the_task_registries():
    defs = yaml.safe_load(spec.SCHEMA_FILE.read_text())["$defs"]
    assert set(defs["task_glue"]["enum"]) == set(glue.GLUE_TASKS)
    assert set(defs["task_fewshot"]["enum"]) == set(fewshot.FEWSHOT_TASKS)
    assert tuple(defs["task_nlg"]["enum"]) == nlg.TASKS


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


def _members(cls) -> set[str]:
    """Attributes and methods of a task class: dataclass fields count (they are not class attributes)."""
    return set(dir(cls)) | set(getattr(cls, "__dataclass_fields__", {}))


@pytest.mark.parametrize(
    "module,name",
    [("classification", "NLUTask"), ("prompting", "PromptTask"), ("generation", "NLGTask")],
)
def test_every_task_class_has_every_member_of_the_task_protocol(module, name):
    import importlib

    cls = getattr(importlib.import_module(f"adamixbench.tasks.{module}"), name)
    protocol = set(task.Task.__annotations__) | {
        n for n, v in vars(task.Task).items() if callable(v) and not n.startswith("_")
    }
    assert {"load_model", "evaluate", "report", "primary_metric"} <= protocol
    assert protocol - _members(cls) == set()


def test_primary_metric_per_family():
    assert primary_metric("cola", "glue") == "matthews_correlation"
    assert primary_metric("stsb", "glue") == "pearson"
    assert primary_metric("cola", "fewshot") == "accuracy"
    assert primary_metric("e2e", "nlg") == "bleu"


def test_unknown_task_message_names_every_family_and_the_fewshot_flag():
    assert unknown_task_message("sst2", "glue") is None
    assert unknown_task_message("mpqa", "fewshot") is None
    message = unknown_task_message("mpqa", "glue")
    assert "unknown glue task 'mpqa'" in message and "need --fewshot-k" in message and "e2e" in message
