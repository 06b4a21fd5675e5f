"""`make online-check`'s logic, offline, against the local hub mirror of tests/hub_mirror.py (the same loaders and
`datasets` / `transformers` resolution as online; only the location differs)."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import sys
from pathlib import Path

from adamixbench.engine import online_check
from adamixbench.sources import pins
from adamixbench.sources.paths import REPO_ROOT
from adamixbench.tasks.glue import GLUE_TASKS, load_glue
from tests import hub_mirror

DATA = REPO_ROOT / "data"


def mirror_table() -> tuple[pins.HubPin, ...]:
    """The pins with the checks the mirror's content can meet (its splits and sizes, the tiny stand-in model);
    the real table's ids, branches and layouts."""
    glue_checks = tuple(
        pins.SplitCheck(
            config=task,
            split=split,
            columns=(*GLUE_TASKS[task].text_fields, "label"),
            rows=len(load_glue(task, split, data_dir=DATA / "glue")),
        )
        for task, split in hub_mirror.shipped_glue_splits()
        if split != "train"
    )
    counts = hub_mirror.webnlg_test_counts()
    dart_rows = len(json.loads((DATA / "dart" / "dart-v1.1.1-full-dev.json").read_text()))
    table = []
    for entry in pins.PINS:
        if entry.repo_id == "nyu-mll/glue":
            entry = dataclasses.replace(entry, checks=glue_checks)
        elif entry.repo_id == "tuetschek/e2e_nlg":
            entry = dataclasses.replace(entry, checks=(dataclasses.replace(entry.checks[0], rows=4693),))
        elif entry.repo_id == "webnlg-challenge/web_nlg":
            check = dataclasses.replace(
                entry.checks[0], rows=sum(counts.values()), where_rows=counts["testdata_with_lex"]
            )
            entry = dataclasses.replace(entry, checks=(check,))
        elif entry.repo_id == "Yale-LILY/dart":
            entry = dataclasses.replace(entry, checks=(dataclasses.replace(entry.checks[0], rows=dart_rows),))
        elif entry.repo_id == "google-bert/bert-base-uncased":
            entry = dataclasses.replace(
                entry, model=pins.ModelCheck(model_type="bert", hidden_size=128, num_layers=2, vocab_size=30522)
            )
        else:
            continue  # RoBERTa-large and GPT-2 medium are not mirrored (no offline tokenizer for both)
        table.append(entry)
    return tuple(table)


def test_offline_it_says_why_and_checks_nothing(monkeypatch, capsys):
    monkeypatch.delenv(pins.MIRROR_ENV, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "0")
    assert online_check.offline_reason().startswith("HF_HUB_OFFLINE set: nothing may reach the hub")
    assert online_check.main([]) == 0
    assert capsys.readouterr().out.startswith("online-check skipped: HF_HUB_OFFLINE")


def test_no_network_is_a_skip_too(monkeypatch):
    monkeypatch.delenv(pins.MIRROR_ENV, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "0")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # the discard port: nothing listens
    assert online_check.offline_reason().startswith("no network: cannot reach 127.0.0.1:9")


def test_every_item_passes_on_the_mirror(use_mirror, capsys):
    table = mirror_table()
    assert online_check.main([], table=table) == 0
    out = capsys.readouterr().out
    header, rule, *body = out.splitlines()
    assert [c.strip() for c in header.split("|")] == ["item", "source", "revision", "rows", "ok"]
    assert "nyu-mll/glue rte/validation" in out and "Yale-LILY/dart default/validation" in out
    assert "google-bert/bert-base-uncased config+tokenizer" in out
    assert hub_mirror.MIRROR_REVISIONS["webnlg-challenge/web_nlg"] in out  # the revision read is shown
    assert "FAIL" not in out


def test_a_wrong_count_or_column_fails(use_mirror, capsys):
    table = mirror_table()
    bad = []
    for entry in table:
        if entry.repo_id == "tuetschek/e2e_nlg":
            entry = dataclasses.replace(entry, checks=(dataclasses.replace(entry.checks[0], rows=4692),))
        if entry.repo_id == "Yale-LILY/dart":
            check = dataclasses.replace(entry.checks[0], columns=("tripleset", "no_such_column"))
            entry = dataclasses.replace(entry, checks=(check,))
        if entry.repo_id == "google-bert/bert-base-uncased":
            entry = dataclasses.replace(entry, model=dataclasses.replace(entry.model, hidden_size=768))
        bad.append(entry)
    rows = {r.item: r for r in online_check.run_checks(tuple(bad))}
    assert rows["tuetschek/e2e_nlg default/test"].problems == ["rows 4693, pinned 4692"]
    assert "no_such_column" in rows["Yale-LILY/dart default/validation"].problems[0]
    assert rows["google-bert/bert-base-uncased config+tokenizer"].problems == ["hidden_size 128, pinned 768"]
    assert online_check.main([], table=tuple(bad)) == 1
    assert capsys.readouterr().out.count("FAIL") == 3


def test_pin_writes_the_commits_and_values_seen(use_mirror, tmp_path, monkeypatch):
    table = mirror_table()
    copy = tmp_path / "pins_copy.py"
    copy.write_text(Path(pins.__file__).read_text(encoding="utf-8"), encoding="utf-8")
    assert online_check.main(["--pin"], table=table, pins_file=copy) == 0
    spec = importlib.util.spec_from_file_location("pins_copy", copy)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "pins_copy", module)
    spec.loader.exec_module(module)
    written = {p.repo_id: p for p in module.PINS}
    for repo_id, revision in hub_mirror.MIRROR_REVISIONS.items():
        assert written[repo_id].revision == revision
    assert all(c.rows is not None and len(c.sha256) == 64 for p in written.values() for c in p.checks)
    assert len(written["google-bert/bert-base-uncased"].model.config_sha256) == 64
    # the re-pinned values check clean: every digest now compared, nothing left "not pinned yet"
    again = online_check.run_checks(online_check.repinned(table, online_check.run_checks(table)))
    assert all(r.ok and not r.notes for r in again)
