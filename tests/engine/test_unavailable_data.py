"""A run whose data are unavailable (a missing folder or file, a file without examples) cannot run, but is
not bad input: the engine writes a failed record (failure_class data_unavailable, the reason names the
file and the fix) and exits 0, so a suite goes on and its tables show the cell as failed (issue 9, item 3;
the pipeline end to end: tests/pipeline/test_engine_pipeline.py). Bad input still wins: exit 2, no record."""

import shutil
from pathlib import Path

import pytest

from adamixbench.engine.record import FAILURE_CLASSES
from tests.engine.engine_testutil import SMALL_RUN, train

REPO = Path(__file__).resolve().parents[2]


def _header_only_glue(tmp_path: Path) -> Path:
    root = tmp_path / "glue"
    shutil.copytree(REPO / "data" / "glue" / "SST-2", root / "SST-2")
    train_file = root / "SST-2" / "train.tsv"
    train_file.write_text(train_file.read_text().splitlines()[0] + "\n")
    return root


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")


@pytest.mark.parametrize(
    "data_dir, expected",
    [
        (lambda tmp: tmp / "does" / "not" / "exist", ["does/not/exist/SST-2/train.tsv does not exist", "data_dir"]),
        (_header_only_glue, ["SST-2/train.tsv: no examples", "another data_dir"]),
    ],
    ids=["missing_folder", "header_only_train_file"],
)
def test_unavailable_data_is_a_failed_record_with_the_reason_and_the_fix(tmp_path, tiny_model_dir, data_dir, expected):
    code, record = train(tiny_model_dir, tmp_path / "run", "--data-dir", str(data_dir(tmp_path)), **SMALL_RUN)
    assert code == 0 and record is not None
    assert record["status"] == "failed" and record["failure_class"] == "data_unavailable"
    assert "data_unavailable" in FAILURE_CLASSES
    for text in [*expected, "delete this record and rerun"]:
        assert text in record["failure_reason"], record["failure_reason"]
    # what aggregation needs to place the failed cell: identity, family and the task's primary metric
    assert (record["task"], record["label"], record["seed"], record["task_family"]) == ("sst2", "lora", 1, "glue")
    assert record["primary_metric"] == "accuracy" and record["scores"] == {}
    assert record["provenance"]["device"] is None and record["failed_at"]["step"] == 0


def test_a_not_run_record_has_the_keys_of_a_trained_runs_record(tmp_path, tiny_model_dir):
    code, trained = train(tiny_model_dir, tmp_path / "ok", **SMALL_RUN)
    assert code == 0 and trained["status"] == "ok", trained.get("traceback")
    code, not_run = train(tiny_model_dir, tmp_path / "no-data", "--data-dir", str(tmp_path / "none"), **SMALL_RUN)
    assert code == 0 and not_run["status"] == "failed"
    # a trained failed run adds failed_at; an ok one may add scores_by_inference
    assert set(trained) - {"scores_by_inference"} == set(not_run) - {"failed_at"}


def test_bad_input_wins_over_unavailable_data(tmp_path, tiny_model_dir, capsys):
    out = tmp_path / "run"
    code, record = train(
        tiny_model_dir, out, "--data-dir", str(tmp_path / "none"), "--method-params", '{"rank": 8}', **SMALL_RUN
    )
    assert code == 2 and record is None and not out.exists()
    err = capsys.readouterr().err
    assert "unknown parameter(s) ['rank']" in err and "does not exist" not in err


def test_validation_warns_about_unavailable_data_naming_its_runs_and_stops_on_bad_input(tmp_path, tiny_model_dir):
    """`python -m adamixbench validate` (what the pipeline runs before any job): unavailable data is a
    warning even where a missing backbone is an error, and a bad value next to it still stops the suite."""
    from adamixbench.engine.validate import report, validate_specs

    base = {"method": "lora", "model": tiny_model_dir, "data_dir": str(tmp_path / "none")}
    specs = [{**base, "task": "rte", "seed": seed} for seed in (1, 2)]
    text, fatal = report(validate_specs(specs), resources_fatal=True)
    assert not fatal and text.count("warning: ") == 1 and "RTE/train.tsv does not exist" in text
    assert "rte/lora/seed1, rte/lora/seed2" in text and "recorded as failed (data_unavailable)" in text
    bad = {**base, "task": "sst2", "seed": 1, "method_params": {"rank": 8}}
    text, fatal = report(validate_specs([*specs, bad]), resources_fatal=True)
    assert fatal and "error: " in text and "unknown parameter(s) ['rank']" in text
    missing_model = {"task": "sst2", "seed": 1, "method": "lora", "model": "./no/such/model"}
    _, fatal = report(validate_specs([missing_model]), resources_fatal=True)
    assert fatal
    _, fatal = report(validate_specs([missing_model]), resources_fatal=False)
    assert not fatal


def test_validation_checks_a_method_for_each_task_type(tmp_path, tiny_model_dir):
    """The method check is cached per method, params, task type and routings: a method without causal_lm
    (LoHa) passes the GLUE run and still fails the NLG run of the same suite checked after it."""
    from adamixbench.engine.validate import report, validate_specs

    base = {"method": "loha", "model": tiny_model_dir, "seed": 1, "data_dir": str(tmp_path / "none")}
    text, fatal = report(validate_specs([{**base, "task": "rte"}, {**base, "task": "e2e"}]), resources_fatal=True)
    assert fatal and "does not support task_type 'causal_lm'" in text and "runs: e2e/loha/seed1" in text
    assert "runs: rte/loha/seed1" in text and text.count("error: ") == 1  # rte: its data warning only
