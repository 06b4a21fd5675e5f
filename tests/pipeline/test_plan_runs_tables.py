"""The run matrix's extras and the table specs of adamixbench/plan/{runs,tables}.py called directly (before,
they were reachable only through a Snakemake run): data folders per run, re-scoring options, wildcard
constraints, the engine's check of every spec (remembered when clean), and what each table script gets."""

from __future__ import annotations

import copy
import re
import subprocess
import textwrap
from types import SimpleNamespace

import pytest
import yaml

from adamixbench.plan import runs as plan_runs
from adamixbench.plan.runs import (
    build_runs,
    engine_data_args,
    engine_data_dirs,
    score_options,
    validate_runs,
    wildcard_choice,
)
from adamixbench.plan.suite import ConfigError
from adamixbench.plan.tables import palette_order, plot_kinds, resolve_table, table_choices, table_specs

SUITE = yaml.safe_load(
    textwrap.dedent(
        """
        suite: tiny
        seeds: [1, 2]
        methods:
          lora: {method: lora, params: {r: 4}, source: "paper Table 2"}
          "lora[fail]": {method: lora, params: {r: 4}}
          adamix_adapter: {method: adamix_adapter, params: {num_experts: 2}}
        experiments:
          - name: cls
            family: glue
            model: minilm-l6
            tasks: [sst2, stsb]
            methods: [lora, "lora[fail]", adamix_adapter]
            train: {epochs: 1, max_seq_len: 32, selection: last}
            eval_inference_modes: [merge, random_sequence, "fixed:0"]
            score_splits: [test]
          - name: nlg
            family: nlg
            model: smollm2-135m
            tasks: [e2e, dart]
            methods: [lora]
            seeds: [1]
        analysis: {notes: "Dev split."}
        """
    )
)
RUNS = build_runs(SUITE)


def test_nlg_data_dirs_are_per_task_and_few_shot_runs_also_read_glue():
    data_dirs = {"glue": "/d/glue", "e2e": "/d/e2e", "nlg": "/d/nlg", "fewshot": "/d/fs"}
    assert engine_data_dirs(RUNS[("e2e", "lora", 1)], data_dirs) == {"data_dir": "/d/e2e"}
    assert engine_data_dirs(RUNS[("dart", "lora", 1)], data_dirs) == {}  # no data_dirs.dart: the default
    assert engine_data_dirs(RUNS[("sst2", "lora", 1)], data_dirs) == {"data_dir": "/d/glue"}
    fewshot = {**RUNS[("sst2", "lora", 1)], "fewshot_k": 16}
    assert engine_data_args(fewshot, data_dirs) == ["--data-dir", "/d/fs", "--glue-data-dir", "/d/glue"]
    assert engine_data_args(fewshot, {}) == []


def test_score_options_come_from_the_run_and_its_experiment():
    modes, splits = score_options(RUNS[("sst2", "adamix_adapter", 2)], SUITE["experiments"])
    assert modes == ["merge", "random_sequence", "fixed:0"] and splits == ["test"]
    assert score_options(RUNS[("sst2", "lora", 1)], SUITE["experiments"]) == ([], ["test"])
    assert score_options(RUNS[("e2e", "lora", 1)], SUITE["experiments"]) == ([], [])


def test_wildcard_choice_matches_whole_labels_longest_first():
    pattern = wildcard_choice(["lora", "lora[fail]"])
    assert pattern == r"lora\[fail\]|lora"
    assert re.fullmatch(f"({pattern})/seed1", "lora[fail]/seed1")


def test_a_run_defined_twice_is_a_config_error():
    cfg = copy.deepcopy(SUITE)
    cfg["experiments"].append({**cfg["experiments"][1], "name": "nlg2"})
    with pytest.raises(ConfigError, match="run e2e/lora/seed1 is defined by experiments 'nlg' and 'nlg2'"):
        build_runs(cfg)


def test_validate_runs_remembers_a_clean_check_and_reports_problems(tmp_path, monkeypatch):
    """The engine's check runs in a subprocess: once per set of specs when clean; its warnings are shown every
    time (not remembered); its errors fail with the suite's name."""
    calls, answer = [], SimpleNamespace(returncode=0, stdout="", stderr="")

    def fake_run(command, **kwargs):
        calls.append(command)
        with open(command[command.index("--specs") + 1]) as fh:
            assert '"data_dir": "/d/e2e"' in fh.read()  # the specs carry the runs' data folders
        return answer

    monkeypatch.setattr(subprocess, "run", fake_run)
    small = {k: v for k, v in RUNS.items() if k[0] == "e2e"}
    suite = {**SUITE, "data_dirs": {"e2e": "/d/e2e"}}
    validate_runs(small, suite, "warn", validated_dir=tmp_path)
    validate_runs(small, suite, "warn", validated_dir=tmp_path)
    assert len(calls) == 1 and calls[0][-2:] == ["--resources", "warn"] and len(list(tmp_path.iterdir())) == 1
    validate_runs(small, suite, "error", validated_dir=tmp_path)  # another question: asked again
    assert len(calls) == 2
    answer.stderr = "warning: no data for e2e"
    validate_runs({**small, **RUNS}, suite, "warn", validated_dir=tmp_path)
    validate_runs({**small, **RUNS}, suite, "warn", validated_dir=tmp_path)
    assert len(calls) == 4
    answer.returncode, answer.stderr = 2, "error: method 'lora' got unknown parameter(s) ['fail']"
    with pytest.raises(ConfigError, match=r"^suite 'tiny': error: method 'lora' got unknown parameter"):
        validate_runs(RUNS, suite, "error", validated_dir=tmp_path / "other")
    validate_runs({}, suite, "error", validated_dir=tmp_path / "other")  # nothing to check, nothing run
    assert len(calls) == 5 and not (tmp_path / "other").exists()


def test_the_validation_key_follows_the_checker_code(tmp_path, monkeypatch):
    """A change of the engine's code (its mtime) asks the checker again."""
    key = plan_runs._validation_key("[]", "warn")
    assert key == plan_runs._validation_key("[]", "warn") != plan_runs._validation_key("[]", "error")
    monkeypatch.setattr(plan_runs, "REPO_ROOT", tmp_path)
    (tmp_path / "adamix").mkdir()
    (tmp_path / "adamix" / "a.py").write_text("")
    before = plan_runs._validation_key("[]", "warn")
    (tmp_path / "adamix" / "b.py").write_text("")
    assert plan_runs._validation_key("[]", "warn") != before


# --------------------------------------------------------------------------------------------------
# tables
# --------------------------------------------------------------------------------------------------
def _no_layout(layout):
    return None


def test_default_tables_are_one_primary_table_per_family():
    assert table_specs(SUITE | {"analysis": {}}, RUNS) == {
        "glue": {"name": "glue", "layout": "primary", "tasks": ["sst2", "stsb"]},
        "nlg": {"name": "nlg", "layout": "primary", "tasks": ["e2e", "dart"]},
    }
    own = [{"name": "t", "layout": "primary", "tasks": ["sst2"]}]
    assert table_specs({**SUITE, "analysis": {"tables": own}}, RUNS) == {"t": own[0]}


def test_resolved_table_rows_references_and_inference_rows():
    spec = {"name": "t", "layout": "primary", "tasks": ["sst2"], "inference_rows": True}
    table = resolve_table(spec, SUITE, RUNS, _no_layout)
    # the merged row is the method's main mode: no extra row for it
    rows = ["lora", "lora[fail]", "adamix_adapter", "adamix_adapter @random_sequence", "adamix_adapter @fixed:0"]
    assert table["rows"] == rows
    assert table["references"] == ["adamix_adapter"]
    assert table["title"] == "tiny: t" and table["suite"] == "tiny" and table["normalization"] == "minmax"
    assert table["aso_bootstrap"] == 1000 and table["palette"] == palette_order(SUITE, RUNS)
    nlg = resolve_table({"name": "n", "layout": "primary", "tasks": ["e2e"]}, SUITE, RUNS, _no_layout)
    assert nlg["rows"] == ["lora"] and nlg["references"] == []


def test_a_table_without_tasks_covers_its_layouts_columns():
    spec = {"name": "e", "layout": "nlg_e2e", "methods": None}
    asked = []

    def layout_tasks(layout):
        asked.append(layout)
        return ["e2e"]

    assert resolve_table(spec, SUITE, RUNS, layout_tasks)["rows"] == ["lora"]
    assert asked == ["nlg_e2e"]
    everything = resolve_table({"name": "a", "layout": "primary"}, SUITE, RUNS, _no_layout)
    assert everything["rows"] == ["lora", "lora[fail]", "adamix_adapter"]


def test_table_choices_state_what_changes_the_numbers():
    text = table_choices(["lora", "adamix_adapter @fixed:0"], SUITE, RUNS)
    assert text.startswith("Seeds per cell: 2; selection: last; weight decay scope: ")
    assert "AdaMix unselected_experts: method default" in text
    assert "on STS-B the sym_kl consistency term is identically 0" in text
    assert text.endswith("Dev split. Row recipes: lora: paper Table 2.")
    plain = table_choices(["lora[fail]"], SUITE, RUNS)
    assert "AdaMix" not in plain and "Row recipes" not in plain
    without_stsb = {k: r for k, r in RUNS.items() if k[0] != "stsb"}
    assert "STS-B" not in table_choices(["adamix_adapter"], SUITE, without_stsb)


def test_palette_order_and_plot_kinds():
    assert palette_order(SUITE, RUNS) == [
        "lora",
        "lora[fail]",
        "adamix_adapter",
        "adamix_adapter @merge",
        "adamix_adapter @random_sequence",
        "adamix_adapter @fixed:0",
    ]
    assert plot_kinds({"name": "t"})[-1] == "critical_difference"
    assert plot_kinds({"routing_violin": "x", "pairs": {"a": "b"}})[-2:] == ["routing_violin", "paired_gains"]
