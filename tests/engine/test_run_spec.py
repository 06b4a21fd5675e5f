"""The run spec (adamixbench/plan/spec.py) is the only source of run options: the CLI, RunConfig, the suite
schema's train block and docs/RUN_OPTIONS.md agree with it; a suite expands into complete run specs;
--config-style overrides merge; `--spec` and flags build the same run."""

from __future__ import annotations

import json

import pytest
import yaml

from adamixbench.engine.cli import _parser, config_from_args
from adamixbench.engine.config import RunConfig
from adamixbench.plan import spec as run_spec
from adamixbench.plan.suite import SuiteError, deep_merge, expand
from tests.engine.engine_testutil import train_argv

BASE = dict(task="sst2", method="lora", seed=1, model="minilm-l6", out="o")


def test_generated_schema_block_and_docs_table_are_up_to_date():
    assert run_spec.SCHEMA_FILE.read_text() == run_spec.render_schema(run_spec.SCHEMA_FILE.read_text()), (
        "workflow/schemas/config.schema.yaml is stale: python -m adamixbench.plan.spec --write"
    )
    assert run_spec.DOCS_FILE.read_text() == run_spec.docs_table(), (
        "docs/RUN_OPTIONS.md is stale: python -m adamixbench.plan.spec --write"
    )


def test_schema_train_block_is_exactly_the_train_options():
    schema = yaml.safe_load(run_spec.SCHEMA_FILE.read_text())
    train = schema["$defs"]["train"]["properties"]
    assert list(train) == [o.name for o in run_spec.TRAIN_OPTIONS]
    for option in run_spec.TRAIN_OPTIONS:
        assert train[option.name] == run_spec.json_schema(option)


def test_every_option_is_a_flag_with_its_type():
    parser = _parser()
    train = parser._subparsers._group_actions[0].choices["train"]
    flags = {a.dest: a for a in train._actions if a.option_strings}
    assert set(flags) - {"help", "spec"} == set(run_spec.BY_NAME)
    for option in run_spec.OPTIONS:
        assert flags[option.name].option_strings == [option.flag]


NUMERIC_BOUNDS = [
    (o, bound, is_open, step)
    for o in run_spec.OPTIONS
    if o.kind in (int, float)
    for bound, is_open, step in ((o.low, o.low_open, -1), (o.high, o.high_open, +1))
    if bound is not None
]


@pytest.mark.parametrize(
    "option,bound,is_open,step",
    NUMERIC_BOUNDS,
    ids=[f"{o.name}-{'low' if s < 0 else 'high'}" for o, _, _, s in NUMERIC_BOUNDS],
)
def test_numeric_bounds_are_the_same_in_runconfig_and_schema(option, bound, is_open, step):
    """A value on the bound passes both or fails both; a value just outside fails both."""
    import jsonschema

    schema = run_spec.json_schema(option)
    delta = 1 if option.kind is int else 1e-6
    outside = option.kind(bound if is_open else bound + step * delta)
    on_bound = option.kind(bound)
    nlg = {**BASE, "task": "e2e"}  # every numeric option applies to NLG runs except the few-shot ones
    family = {"fewshot_k": 16} if "fewshot" in option.families and "nlg" not in option.families else {}
    values = {**BASE, **family} if family else nlg
    with pytest.raises(ValueError, match=option.name):
        RunConfig(**{**values, option.name: outside})
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(outside, schema)
    if is_open:
        with pytest.raises(ValueError, match=option.name):
            RunConfig(**{**values, option.name: on_bound})
    else:
        assert getattr(RunConfig(**{**values, option.name: on_bound}), option.name) == on_bound
        jsonschema.validate(on_bound, schema)


def test_drift_listed_in_issue_8_is_fixed():
    with pytest.raises(ValueError, match="warmup_ratio"):
        RunConfig(**BASE, warmup_ratio=1.0)
    with pytest.raises(ValueError, match="max_seq_len"):
        RunConfig(**BASE, max_seq_len=2)
    assert RunConfig(**BASE, max_grad_norm=0.0).max_grad_norm == 0.0  # 0 = no clipping, in both places
    assert RunConfig(**{**BASE, "seed": 7}).data_seed == 0 == run_spec.BY_NAME["data_seed"].default
    assert "default 0" in run_spec.BY_NAME["data_seed"].help


def test_yaml_number_read_as_string_gets_a_hint():
    with pytest.raises(ValueError, match=r"option lr .*'5e-3'.*5\.0e-3"):
        RunConfig(**BASE, lr="5e-3")


def test_family_specific_option_on_another_family_is_rejected():
    with pytest.raises(ValueError, match="num_beams.*nlg runs only.*sst2 is a glue run"):
        RunConfig(**BASE, num_beams=4)
    assert RunConfig(**{**BASE, "task": "e2e"}, num_beams=4).num_beams == 4


def test_spec_file_and_flags_build_the_same_run(tmp_path):
    flags = train_argv("minilm-l6", "x", "--method-params", '{"r": 4}', "--label", "lora_r4", seed=2, epochs=1)
    by_flags = config_from_args(_parser().parse_args(flags))
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(by_flags.spec()))
    by_spec = config_from_args(_parser().parse_args(["train", "--spec", str(path), "--out", "x"]))
    assert by_spec == by_flags and by_spec.label == "lora_r4" and by_spec.method_params == {"r": 4}
    # a flag given with --spec overrides the file
    override = config_from_args(_parser().parse_args(["train", "--spec", str(path), "--out", "x", "--epochs", "3"]))
    assert override.epochs == 3.0 and override.seed == 2


def test_missing_required_option_names_the_flag():
    with pytest.raises(ValueError, match="missing --task"):
        config_from_args(
            _parser().parse_args(["train", "--method", "lora", "--seed", "1", "--model", "m", "--out", "x"])
        )


SUITE = {
    "suite": "s",
    "seeds": [1, 2],
    "defaults": {"selection": "last", "warmup_ratio": 0.1, "num_beams": 2},
    "methods": {
        "lora": {"method": "lora", "params": {"r": 4}, "train": {"lr": 1e-3}},
        "ada": {"method": "adamix_adapter", "params": {"num_experts": 2}},
    },
    "experiments": [
        {
            "name": "g",
            "family": "glue",
            "model": "minilm-l6",
            "tasks": ["sst2", "rte"],
            "methods": ["lora", "ada"],
            "train": {"epochs": 1},
            "eval_inference_modes": ["merge", "fixed:1"],
            "overrides": [{"tasks": ["rte"], "methods": ["lora"], "train": {"epochs": 5}}],
        },
        {"name": "n", "family": "nlg", "model": "smollm2-135m", "tasks": ["e2e"], "methods": ["lora"], "seeds": [3]},
        {
            "name": "f",
            "family": "fewshot",
            "model": "minilm-l6",
            "tasks": ["subj"],
            "methods": ["ada"],
            "seeds": [13],
            "fewshot": {"k": 30},
        },
    ],
}


def test_suite_expands_into_one_complete_spec_per_run():
    runs = expand(SUITE)
    assert len(runs) == 2 * 2 * 2 + 1 + 1
    lora = runs[("rte", "lora", 1)]
    assert (lora["suite"], lora["experiment"], lora["label"], lora["method"]) == ("s", "g", "lora", "lora")
    assert lora["epochs"] == 5.0 and lora["lr"] == 1e-3 and lora["warmup_ratio"] == 0.1 and lora["selection"] == "last"
    assert "num_beams" not in lora and lora["max_grad_norm"] == 1.0  # defaults of every applicable option
    assert "eval_inference_modes" in lora and lora["eval_inference_modes"] == []
    assert runs[("sst2", "ada", 2)]["eval_inference_modes"] == ["merge", "fixed:1"]
    assert runs[("e2e", "lora", 3)]["num_beams"] == 2
    few = runs[("subj", "ada", 13)]
    assert (few["fewshot_k"], few["fewshot_split"], few["fewshot_protocol"]) == (30, 13, "list")
    # every spec is a valid RunConfig whose recorded spec is the spec itself
    for values in runs.values():
        assert RunConfig(**values, out="x").spec() == values


def test_train_options_follow_the_documented_precedence():
    """defaults < experiment `train` < method `train` < a matching override (adamixbench/plan/suite.py): each
    option below is set on its level and on every level under it, so any two levels swapped show."""
    suite = {
        "suite": "s",
        "seeds": [1],
        "defaults": {"epochs": 1, "lr": 1e-5, "weight_decay": 0.01},
        "methods": {"lora": {"method": "lora", "train": {"lr": 3e-4, "weight_decay": 0.03}}},
        "experiments": [
            {
                "name": "g",
                "family": "glue",
                "model": "minilm-l6",
                "tasks": ["rte"],
                "methods": ["lora"],
                "train": {"epochs": 2, "lr": 2e-4, "weight_decay": 0.02},
                "overrides": [{"tasks": ["rte"], "methods": ["lora"], "train": {"weight_decay": 0.04}}],
            }
        ],
    }
    spec = expand(suite)[("rte", "lora", 1)]
    assert spec["epochs"] == 2.0  # experiment over defaults
    assert spec["lr"] == 3e-4  # method over experiment
    assert spec["weight_decay"] == 0.04  # override over method


def test_default_containers_are_not_shared_between_specs():
    """A spec's default method_params / eval_inference_modes are its own objects: changing one run's (a
    caller resolving params in place) changes neither another run's spec nor the option's default."""
    values = {k: v for k, v in BASE.items() if k != "out"}
    first = run_spec.check_values(values, engine=False)
    first["method_params"]["r"] = 4
    first["eval_inference_modes"].append("merge")
    second = run_spec.check_values(values, engine=False)
    assert second["method_params"] == {} and second["eval_inference_modes"] == []
    assert run_spec.BY_NAME["method_params"].default == {} and run_spec.BY_NAME["eval_inference_modes"].default == []


def test_suite_run_defined_twice_is_an_error():
    twice = deep_merge(SUITE, {})
    twice["experiments"].append(dict(twice["experiments"][1], name="n2"))
    with pytest.raises(SuiteError, match="e2e/lora/seed3 is defined by experiments 'n' and 'n2'"):
        expand(twice)


def test_config_override_merges_into_the_suite():
    merged = deep_merge(SUITE, {"defaults": {"max_steps": 2}})
    assert merged["defaults"] == {**SUITE["defaults"], "max_steps": 2}
    assert merged["experiments"] == SUITE["experiments"] and SUITE["defaults"].get("max_steps") is None


def test_fewshot_runs_keep_their_last_epoch_by_default():
    """A few-shot run has no dev set of its own (LiST) and reports its evaluation set: by default it keeps its
    last epoch, so nothing is selected on the reported set; GLUE selects the best dev epoch (paper). The
    same defaults through a suite without any `selection`, where the protocol is LiST's and the split the seed."""
    few = RunConfig(**BASE, fewshot_k=10)
    assert (few.selection, few.fewshot_protocol) == ("last", "list")
    assert RunConfig(**BASE, fewshot_k=16, fewshot_protocol="lmbff", fewshot_split=13).selection == "last"
    assert RunConfig(**BASE).selection == "paper"
    suite = {
        "suite": "s",
        "methods": {"lora": {"method": "lora"}},
        "experiments": [
            {"name": "g", "family": "glue", "model": "minilm-l6", "tasks": ["rte"], "methods": ["lora"], "seeds": [1]},
            {
                "name": "f",
                "family": "fewshot",
                "model": "minilm-l6",
                "tasks": ["subj"],
                "methods": ["lora"],
                "seeds": [2],
                "fewshot": {"k": 10},
            },
        ],
    }
    runs = expand(suite)
    assert runs[("rte", "lora", 1)]["selection"] == "paper"
    spec = runs[("subj", "lora", 2)]
    assert (spec["selection"], spec["fewshot_protocol"], spec["fewshot_split"]) == ("last", "list", 2)
    from adamixbench.tasks.classification import load_nlu_splits

    splits = load_nlu_splits(RunConfig(**spec, out="x"))
    assert splits.selection is None and len(splits.train) == 10  # no selection split; all 10 shots trained on


def test_an_overrides_params_stay_in_the_runs_it_matches():
    """An override's `params` apply to the runs it matches only: the suite's shared `methods:` params, the
    other tasks of its experiment (also those expanded after it) and other experiments keep theirs."""
    suite = {
        "suite": "s",
        "seeds": [1],
        "methods": {"lora": {"method": "lora", "params": {"r": 4, "lora_dropout": 0.1}}},
        "experiments": [
            {
                "name": "a",
                "family": "glue",
                "model": "minilm-l6",
                "tasks": ["rte", "sst2"],
                "methods": ["lora"],
                "overrides": [{"tasks": ["rte"], "methods": ["lora"], "params": {"r": 16}}],
            },
            {"name": "b", "family": "glue", "model": "minilm-l6", "tasks": ["cola"], "methods": ["lora"]},
        ],
    }
    runs = expand(suite)
    assert runs[("rte", "lora", 1)]["method_params"] == {"r": 16, "lora_dropout": 0.1}
    assert runs[("sst2", "lora", 1)]["method_params"] == {"r": 4, "lora_dropout": 0.1}
    assert runs[("cola", "lora", 1)]["method_params"] == {"r": 4, "lora_dropout": 0.1}
    assert suite["methods"]["lora"]["params"] == {"r": 4, "lora_dropout": 0.1}


def test_an_option_with_a_misspelt_scope_is_refused():
    from adamixbench.plan.spec import SCOPES, Option

    assert {o.scope for o in run_spec.OPTIONS} <= set(SCOPES)
    with pytest.raises(ValueError, match="scope 'engin' is not one of"):
        Option("device_x", str, "cpu", "where it runs", scope="engin")


def test_the_schemas_names_come_from_the_registries():
    """The schema's method / task / inference-mode enums are generated (python -m adamixbench.plan.spec --write):
    a method registered, or a task added, shows up in them; the torch-free copy of AdaMix's inference modes
    that suite validation uses is the library's own list."""
    from adamix.config import INFERENCE_MODES as LIBRARY_MODES
    from baselines import list_methods

    assert run_spec.INFERENCE_MODES == tuple(m for m in LIBRARY_MODES if m != "fixed:<k>")
    schema = yaml.safe_load(run_spec.SCHEMA_FILE.read_text())["$defs"]
    assert schema["method_name"]["enum"] == list_methods()
    names = {**run_spec.registered_names(), "method_name": [*list_methods(), "my_new_method"]}
    regenerated = yaml.safe_load(run_spec.render_schema(run_spec.SCHEMA_FILE.read_text(), names))["$defs"]
    assert regenerated["method_name"]["enum"][-1] == "my_new_method"


def test_a_run_without_lr_takes_its_methods_registered_default():
    """The default learning rate is a field of the method's registration (one place), also for a plug-in."""
    from baselines import get_method

    assert RunConfig(**{**BASE, "method": "full_ft"}).learning_rate == get_method("full_ft").default_lr == 2e-5
    assert RunConfig(**{**BASE, "method": "ia3"}).learning_rate == 3e-3
    assert RunConfig(**BASE).learning_rate == get_method("lora").default_lr == 5e-4
    assert RunConfig(**{**BASE, "lr": 1e-4}).learning_rate == 1e-4
    plugin = "tests.engine.signal_method:prepare"  # a MethodSpec plug-in: adamix_adapter's own default
    assert RunConfig(**{**BASE, "method": plugin}).learning_rate == get_method("adamix_adapter").default_lr
