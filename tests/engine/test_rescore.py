"""`python -m adamixbench rescore`: a finished run scored again from its saved weights gives the scores
computed in the run; other splits and inference modes are scored without training."""

import json

import pytest

from adamixbench.engine.cli import main
from adamixbench.engine.rescore import SCORES_FILE
from tests.engine.engine_testutil import SMALL_RUN, train


def trained(tmp_path, model, method, *extra):
    out = tmp_path / method
    code, record = train(
        model,
        out,
        *extra,
        method=method,
        **{**SMALL_RUN, "max_train_samples": 48},
    )
    assert code == 0 and record["status"] == "ok", record.get("traceback")
    return out, record


@pytest.mark.parametrize(
    "method, modes", [("adamix_adapter", "merge,fixed:1,ensemble"), ("lora", ""), ("pfeiffer", "")]
)
def test_rescoring_equals_the_scores_computed_in_the_run(tmp_path, tiny_model_dir, method, modes):
    out, record = trained(tmp_path, tiny_model_dir, method, "--eval-inference-modes", modes)
    assert record["artifacts"]["path"] == "artifacts" and (out / "artifacts").is_dir()
    assert main(["rescore", "--run", str(out), "--inference-modes", modes]) == 0
    rescored = json.loads((out / SCORES_FILE).read_text())
    assert rescored["scores"] == record["scores"]  # best epoch of 2 (paper selection) restored, saved, reloaded
    if modes:
        assert rescored["scores_by_inference"] == record["scores_by_inference"]


def test_rescoring_another_split(tmp_path, tiny_model_dir):
    out, record = trained(tmp_path, tiny_model_dir, "lora", "--selection", "heldout", "--heldout-fraction", "0.34")
    assert main(["rescore", "--run", str(out), "--splits", "validation,selection"]) == 0
    rescored = json.loads((out / SCORES_FILE).read_text())
    assert rescored["scores"]["accuracy"] == record["scores"]["accuracy"]
    best = record["history"][record["best_epoch"] - 1]["eval"]["accuracy"]
    assert rescored["scores"]["accuracy_selection"] == best  # the held-out score that selected this epoch


def test_rescore_errors_name_the_problem(tmp_path, tiny_model_dir, capsys):
    out, _ = trained(tmp_path, tiny_model_dir, "lora", "--epochs", "1", "--selection", "last")
    assert main(["rescore", "--run", str(out), "--splits", "test"]) == 2
    assert "--splits: ['test'] not scorable for this run; allowed: ['validation']" in capsys.readouterr().err
    assert main(["rescore", "--run", str(out), "--inference-modes", "merge"]) == 2
    assert "applies to AdaMix methods only" in capsys.readouterr().err
    full, record = trained(
        tmp_path, tiny_model_dir, "full_ft", "--epochs", "1", "--selection", "last", "--max-steps", "1"
    )
    assert record["artifacts"] is None and not (full / "artifacts").exists()
    assert main(["rescore", "--run", str(full)]) == 2
    assert "--save-full-weights" in capsys.readouterr().err
    assert main(["rescore", "--run", str(tmp_path / "nothing")]) == 2
    assert "must be the folder of a finished run" in capsys.readouterr().err
    assert not (out / SCORES_FILE).exists()


def test_rescore_reads_the_data_folder_it_is_given(tmp_path, tiny_model_dir):
    """The run spec does not hold this machine's data folders (engine options): rule score passes the ones
    rule train used. Here the folder's dev labels are flipped, so only a rescore that reads it gives the
    run's own scores."""
    from pathlib import Path

    shipped = Path(__file__).resolve().parents[2] / "data" / "glue" / "SST-2"
    flipped = tmp_path / "glue" / "SST-2"
    flipped.mkdir(parents=True)
    (flipped / "train.tsv").write_text((shipped / "train.tsv").read_text())
    header, *rows = (shipped / "dev.tsv").read_text().splitlines()
    rows = [f"{text}\t{1 - int(label)}" for text, label in (row.rsplit("\t", 1) for row in rows)]
    (flipped / "dev.tsv").write_text("\n".join([header, *rows]) + "\n")
    out, record = trained(tmp_path, tiny_model_dir, "lora", "--data-dir", str(tmp_path / "glue"))
    assert main(["rescore", "--run", str(out), "--data-dir", str(tmp_path / "glue")]) == 0
    assert json.loads((out / SCORES_FILE).read_text())["scores"] == record["scores"]
    assert main(["rescore", "--run", str(out)]) == 0  # the shipped data: the true labels
    shipped_accuracy = json.loads((out / SCORES_FILE).read_text())["scores"]["accuracy"]
    assert shipped_accuracy == pytest.approx(100 - record["scores"]["accuracy"])


@pytest.mark.parametrize("modes", ["merge,fixed:0,fixed:1", "fixed:0,fixed:1"])
def test_rescore_scores_stay_the_runs_own_mode(tmp_path, tiny_model_dir, monkeypatch, modes):
    """`--inference-modes` switches the model into each listed mode (to validate it, then to score it):
    `scores` (laid over the record by the aggregation) must still be the run's own mode's (merge), not
    the last listed mode's, whether or not the own mode is listed. The scorer is wrapped to tag each
    score with the routing the model held while scoring, so modes that happen to score alike on the
    tiny model cannot hide the bookkeeping."""
    import adamixbench.engine.rescore as rescore_module
    import adamixbench.engine.trainer as trainer_module

    out, record = trained(tmp_path, tiny_model_dir, "adamix_adapter", "--eval-inference-modes", "merge")
    assert record["inference_mode"] == "merge"
    code = {"merge": 1.0, "fixed:0": 2.0, "fixed:1": 3.0}
    real = trainer_module.score_splits

    def tagged(task, prepared, *args, **kwargs):
        return {**real(task, prepared, *args, **kwargs), "routing": code[prepared.inference_mode]}

    monkeypatch.setattr(trainer_module, "score_splits", tagged)
    monkeypatch.setattr(rescore_module, "score_splits", tagged)
    assert main(["rescore", "--run", str(out), "--inference-modes", modes]) == 0
    rescored = json.loads((out / SCORES_FILE).read_text())
    assert {m: s["routing"] for m, s in rescored["scores_by_inference"].items()} == {
        m: code[m] for m in modes.split(",")
    }
    assert rescored["scores"]["routing"] == code["merge"]  # the run's own mode, not fixed:1 (listed last)
    assert rescored["scores"]["accuracy"] == record["scores"]["accuracy"]


def test_rescore_defaults_are_the_report_splits_under_the_runs_own_routing(tmp_path, tiny_model_dir):
    """Without --splits and --inference-modes: the run's report splits only (not the held-out selection
    split this run also has), under the run's own routing, and no per-mode scores (not even the modes the
    run itself scored with --eval-inference-modes)."""
    out, record = trained(
        tmp_path,
        tiny_model_dir,
        "adamix_adapter",
        "--selection",
        "heldout",
        "--heldout-fraction",
        "0.34",
        "--eval-inference-modes",
        "fixed:1",
    )
    assert "scores_by_inference" in record and record["report_splits"] == ["validation"]
    assert main(["rescore", "--run", str(out)]) == 0
    rescored = json.loads((out / SCORES_FILE).read_text())
    assert set(rescored) == {"run", "rescored_at", "record_finished_at", "splits", "inference_modes", "scores"}
    assert rescored["splits"] == ["validation"] and rescored["inference_modes"] == []
    assert rescored["scores"] == record["scores"] and not any(k.endswith("_selection") for k in rescored["scores"])
