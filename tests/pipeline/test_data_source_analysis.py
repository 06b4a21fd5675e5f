"""The analysis says which data source produced the numbers: the run frame's column ``data_source`` (from the
record's ``provenance.data.source``) and a caption note when a table's runs read different sources."""

from __future__ import annotations

from adamixbench.analysis.layouts import Column, Layout
from adamixbench.analysis.records import read_runs, runs_frame
from adamixbench.analysis.tables import data_source_note

from .synthetic import make_record

LAYOUT = Layout("t", (Column("sst2", "accuracy", "SST-2"), Column("rte", "accuracy", "RTE")), average=True)


def _records(sources: dict[tuple[str, int], str | None]) -> list[dict]:
    records = []
    for (task, seed), source in sources.items():
        rec = make_record(task, "lora", seed)
        if source is not None:
            rec["provenance"]["data"] = {"source": source, "data_source": "auto", "files": {}}
        records.append(rec)
    return records


def test_the_run_frame_has_the_source_of_each_run(tmp_path):
    runs = runs_frame(_records({("sst2", 1): "paper", ("sst2", 2): "local", ("rte", 1): None}))
    by_run = runs.drop_duplicates(["task", "seed"]).set_index(["task", "seed"])["data_source"]
    assert by_run.to_dict() == {("sst2", 1): "paper", ("sst2", 2): "local", ("rte", 1): ""}
    runs.to_csv(tmp_path / "runs.csv", index=False)
    assert read_runs(tmp_path / "runs.csv")["data_source"].tolist() == runs["data_source"].tolist()
    old = runs.drop(columns="data_source")  # a runs.csv written before the column existed
    old.to_csv(tmp_path / "old.csv", index=False)
    assert set(read_runs(tmp_path / "old.csv")["data_source"]) == {""}


def test_a_table_notes_its_data_sources_only_when_they_differ():
    same = runs_frame(_records({("sst2", 1): "paper", ("rte", 1): "paper"}))
    assert data_source_note(same, LAYOUT, ["lora"]) == ""
    mixed = runs_frame(_records({("sst2", 1): "paper", ("sst2", 2): "paper", ("rte", 1): "local"}))
    note = data_source_note(mixed, LAYOUT, ["lora"])
    assert (
        note
        == "Data sources differ across runs: local (1 run: rte); paper (2 runs: sst2) (runs.csv, column data_source)."
    )
    assert data_source_note(mixed, LAYOUT, ["houlsby"]) == ""  # rows of the table only
