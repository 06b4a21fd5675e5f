"""The suite checks of adamixbench/plan/ called directly (before, they were reachable only through a
Snakemake run): schema problems and cross-references in words, suite files, --config overrides, and the
calls that only plan. test_workflow.py checks the same messages end to end through `snakemake -n`."""

from __future__ import annotations

import copy
import textwrap

import pytest
import yaml

from adamixbench.plan.command_line import command_line_config, make_report_folder, plans_only
from adamixbench.plan.suite import ConfigError, SuiteError
from adamixbench.plan.suite_file import SUITES_DIR, check_suite_files, load_suite, read_yaml
from adamixbench.plan.suite_validation import validate_suite

SUITE = yaml.safe_load(
    textwrap.dedent(
        """
        suite: tiny
        seeds: [1, 2]
        methods:
          lora: {method: lora, params: {r: 4}}
          adamix_adapter: {method: adamix_adapter, params: {num_experts: 2}}
        experiments:
          - name: cls
            family: glue
            model: minilm-l6
            tasks: [sst2]
            methods: [lora, adamix_adapter]
            train: {epochs: 1, max_seq_len: 32}
            eval_inference_modes: [merge, "fixed:0"]
        """
    )
)


def _problems(cfg: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        validate_suite(cfg)
    return str(caught.value)


def _changed(path: str, value) -> dict:
    """SUITE with the value at `path` (keys and list indices separated by dots) set."""
    cfg = copy.deepcopy(SUITE)
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    node = cfg
    for p in parents:
        node = node[p]
    node[last] = value
    return cfg


def test_a_valid_suite_and_every_shipped_suite_pass():
    validate_suite(copy.deepcopy(SUITE))
    for path in sorted(SUITES_DIR.glob("*.yaml")):
        validate_suite(read_yaml(path))


def test_an_unknown_key_names_its_place_and_the_allowed_keys():
    message = _problems(_changed("experiments.0.train.epoch", 1))
    assert message.startswith("suite 'tiny' is invalid (1 problem(s)):")
    assert "config key experiments[0].train: unknown key(s) ['epoch']; allowed keys: [" in message
    assert "'epochs'" in message and "'max_seq_len'" in message


def test_a_bad_enum_value_lists_the_allowed_values():
    message = _problems(_changed("experiments.0.tasks", ["sst3"]))
    assert "config key experiments[0].tasks[0]: invalid value 'sst3'; allowed: 'cola', 'sst2'" in message


def test_allowed_values_are_found_through_refs_and_alternatives():
    """An inference mode is anyOf [a $ref to the mode names, a pattern]: both kinds are listed."""
    message = _problems(_changed("experiments.0.eval_inference_modes", ["merge", "fixed:x"]))
    assert "config key experiments[0].eval_inference_modes[1]: invalid value 'fixed:x'" in message
    assert "'merge', 'random_sequence'" in message and "a string matching /^fixed:[0-9]+$/" in message


def test_a_number_yaml_reads_as_a_string_gets_the_spelling_that_works():
    message = _problems(_changed("experiments.0.train.lr", "5e-3"))
    assert "config key experiments[0].train.lr:" in message and "5.0e-3" in message and "0.005" in message


def test_every_schema_problem_is_reported_at_once():
    cfg = _changed("experiments.0.tasks", ["sst3"])
    cfg["experiments"][0]["train"]["epoch"] = 1
    assert "(2 problem(s))" in _problems(cfg)


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (
            "experiments.0.methods",
            ["lora", "lorra"],
            "config key experiments[0].methods: unknown method label 'lorra'; allowed: the labels defined "
            "under `methods`: ['adamix_adapter', 'lora']",
        ),
        (
            "experiments.0.overrides",
            [{"tasks": ["cola"], "train": {"lr": 1.0e-4}}],
            "config key experiments[0].overrides[0].tasks: 'cola' is not a task of this experiment; allowed: ['sst2']",
        ),
        (
            "experiments.0.overrides",
            [{"methods": ["bitfit"], "train": {"lr": 1.0e-4}}],
            "config key experiments[0].overrides[0].methods: 'bitfit' is not a method of this experiment",
        ),
        (
            "resources",
            {"gpu_mem_mb": [{"tasks": ["cola"], "mb": 4000}]},
            "config key resources.gpu_mem_mb[0].tasks: unknown value 'cola'; allowed: ['sst2']",
        ),
        (
            "models",
            {"roberta-large": "/x"},
            "config key models: 'roberta-large' is not the model of any experiment; allowed: ['minilm-l6']",
        ),
        (
            "analysis",
            {"normalization": "baseline:nope"},
            "config key analysis.normalization: unknown method label 'nope'; allowed: baseline:<one of",
        ),
        (
            "analysis",
            {"tables": [{"name": "t", "layout": "primary", "routing_violin": "lorra"}]},
            "config key analysis.tables[0]: unknown method label 'lorra'",
        ),
        (
            "analysis",
            {"tables": [{"name": "t", "layout": "primary"}, {"name": "t", "layout": "primary"}]},
            "config key analysis.tables: table names must be unique, got ['t', 't']",
        ),
    ],
    ids=["label", "override-task", "override-method", "gpu-mem-rule", "models", "normalization", "violin", "tables"],
)
def test_cross_references_name_the_key_the_value_and_the_allowed_ones(path, value, expected):
    message = _problems(_changed(path, value))
    assert message.startswith("suite 'tiny' is invalid:\n  - ")
    assert expected in message


def test_duplicate_experiment_names_are_rejected():
    cfg = copy.deepcopy(SUITE)
    cfg["experiments"].append(copy.deepcopy(cfg["experiments"][0]))
    assert "experiment names must be unique, got ['cls', 'cls']" in _problems(cfg)


def test_config_error_is_a_suite_error():
    """Callers that catch the expansion's SuiteError see the loading's problems too."""
    assert issubclass(ConfigError, SuiteError)


# --------------------------------------------------------------------------------------------------
# suite files and loading
# --------------------------------------------------------------------------------------------------
def test_read_yaml_names_the_file_line_and_column(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("suite: x\nmethods: [a\n")
    with pytest.raises(ConfigError, match=r"bad.yaml, line \d+, column \d+: YAML syntax error"):
        read_yaml(bad)
    bad.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="a suite file must be a YAML mapping .* got a list"):
        read_yaml(bad)
    with pytest.raises(ConfigError, match="missing.yaml: cannot read it"):
        read_yaml(tmp_path / "missing.yaml")
    bad.write_text("")
    assert read_yaml(bad) == {}


def test_a_suite_file_without_its_name_is_rejected(tmp_path):
    named, unnamed = tmp_path / "named.yaml", tmp_path / "unnamed.yaml"
    named.write_text(yaml.safe_dump(SUITE))
    unnamed.write_text(yaml.safe_dump({k: v for k, v in SUITE.items() if k != "suite"}))
    check_suite_files([named])
    with pytest.raises(ConfigError, match="unnamed.yaml: the suite file has no `suite:` key; add `suite: <name>`"):
        check_suite_files([named, unnamed])


def test_an_unknown_suite_lists_the_known_ones(tmp_path):
    (tmp_path / "one.yaml").write_text(yaml.safe_dump(SUITE))
    with pytest.raises(ConfigError, match=r"unknown suite 'two'; allowed: \['one'\] \(or --configfile"):
        load_suite({"suite": "two"}, suites_dir=tmp_path)


def test_load_suite_merges_the_command_line_into_the_named_suite(tmp_path):
    """`--config suite=one 'defaults={max_steps: 2}'`: config's other keys are merged deeply on top of the
    suite file (its other defaults stay), and the suite is validated after the merge."""
    (tmp_path / "one.yaml").write_text(yaml.safe_dump({**SUITE, "defaults": {"max_steps": 5, "warmup_ratio": 0.1}}))
    cfg = load_suite({"suite": "one", "defaults": {"max_steps": 2}}, suites_dir=tmp_path)
    assert cfg["defaults"] == {"max_steps": 2, "warmup_ratio": 0.1}
    assert cfg["output_root"] == "results" and cfg["analysis"] == {}
    with pytest.raises(ConfigError, match="config key defaults: unknown key"):
        load_suite({"suite": "one", "defaults": {"max_stepz": 2}}, suites_dir=tmp_path)


def test_load_suite_maps_models_and_applies_smoke_given_as_a_string():
    cfg = load_suite({**copy.deepcopy(SUITE), "models": {"minilm-l6": "/local/minilm"}})
    assert cfg["experiments"][0]["model"] == "/local/minilm" and "models" not in cfg
    smoke = load_suite({**copy.deepcopy(SUITE), "smoke": "True"})  # `--config smoke=True` is a string
    assert smoke["suite"].endswith("-smoke") and "smoke" not in smoke
    with pytest.raises(ConfigError, match="config key smoke"):
        load_suite({**copy.deepcopy(SUITE), "smoke": "yes please"})


# --------------------------------------------------------------------------------------------------
# the command line
# --------------------------------------------------------------------------------------------------
def test_structured_command_line_values_are_typed():
    """Snakemake hands `defaults={max_steps: 2, lr: 5.0e-3, seed: null}` over with every scalar a string."""
    config = {"suite": "mini", "defaults": {"warmup_ratio": 0.1}}
    overrides = {"defaults": {"max_steps": "2", "lr": "5.0e-3", "note": "null"}, "seeds": ["1", "2"], "smoke": "x"}
    merged = command_line_config(config, overrides)
    assert merged["defaults"] == {"warmup_ratio": 0.1, "max_steps": 2, "lr": 5.0e-3, "note": None}
    assert merged["seeds"] == [1, 2]
    assert "smoke" not in merged  # a top-level scalar: Snakemake's own value in `config` stands
    assert config == {"suite": "mini", "defaults": {"warmup_ratio": 0.1}}  # not changed in place


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["snakemake", "--cores", "2"], False),
        (["snakemake", "-n"], True),
        (["snakemake", "-pn", "--cores", "1"], True),
        (["snakemake", "--report=reports/mini/report.html"], True),
        (["snakemake", "--lint"], True),
        (["snakemake", "-f", "docs/recipes/mini.md"], True),
        (["snakemake", "-f", "docs/recipes/mini.md", "results/mini/runs.csv"], False),
        (["snakemake", "-p", "results/mini/runs.csv"], False),
    ],
)
def test_plans_only(argv, expected):
    assert plans_only(argv, "results/mini") is expected


def test_the_report_folder_is_created(tmp_path):
    make_report_folder(["snakemake", "--report", str(tmp_path / "a" / "report.html")])
    make_report_folder(["snakemake", f"--report={tmp_path / 'b' / 'report.zip'}"])
    make_report_folder(["snakemake", "--report", str(tmp_path / "c" / "notes.txt")])
    assert (tmp_path / "a").is_dir() and (tmp_path / "b").is_dir() and not (tmp_path / "c").exists()
