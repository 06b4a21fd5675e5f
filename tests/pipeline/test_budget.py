"""Training budget as an axis of a suite (adamixbench/plan/budget.py, issue 22): the expansion into one run
per (row, task, seed, budget), units resolved to optimiser steps, a suite without budgets unchanged, and
the validation of what a budget owns."""

from __future__ import annotations

import copy

import pytest

from adamixbench.engine.config import RunConfig
from adamixbench.plan import budget as B
from adamixbench.plan.smoke import apply_smoke
from adamixbench.plan.suite import ConfigError, SuiteError, expand
from adamixbench.plan.suite_validation import validate_suite

SUITE = {
    "suite": "b",
    "seeds": [1, 2, 3],
    "defaults": {"selection": "last", "epochs": 1},
    "methods": {
        "loha": {"method": "loha", "params": {"r": 8}},
        "adamix[loha]": {"method": "adamix_peft", "params": {"tuner": "loha", "num_experts": 4}},
    },
    "budgets": [{"steps": 128}, {"steps": 512}, {"updates_per_expert": 256}],
    "experiments": [
        {
            "name": "g",
            "family": "glue",
            "model": "minilm-l6",
            "tasks": ["sst2", "rte"],
            "methods": ["loha", "adamix[loha]"],
            "train": {"lr": 5.0e-3, "batch_size": 16},
        }
    ],
}


def test_one_run_per_row_task_seed_and_budget_each_with_its_budget_in_the_spec():
    runs = expand(SUITE)
    assert len(runs) == 2 * 2 * 3 * 3  # rows x tasks x seeds x budgets
    labels = {key[1] for key in runs}
    assert labels == {
        f"{row}@{b}" for row in SUITE["methods"] for b in ("steps=128", "steps=512", "updates_per_expert=256")
    }
    run = runs[("rte", "adamix[loha]@steps=512", 2)]
    assert (run["label"], run["base_label"], run["budget_unit"], run["budget"]) == (
        "adamix[loha]@steps=512",
        "adamix[loha]",
        "steps",
        512.0,
    )
    # a step budget: the LR schedule spans exactly its steps (no epoch limit)
    assert run["budget_steps"] == 512 and run["max_steps"] == 512 and run["epochs"] is None
    assert run["lr"] == 5.0e-3 and run["seed"] == 2  # everything else as the suite says
    for values in runs.values():  # every spec is a valid run whose recorded spec is the spec itself
        assert RunConfig(**values, out="x").spec() == values


def test_updates_per_expert_is_experts_times_the_steps_for_a_mixture_and_the_steps_for_a_plain_row():
    runs = expand(SUITE)
    mixture = runs[("sst2", "adamix[loha]@updates_per_expert=256", 1)]
    plain = runs[("sst2", "loha@updates_per_expert=256", 1)]
    assert (mixture["budget_steps"], mixture["max_steps"]) == (4 * 256, 4 * 256)
    assert (plain["budget_steps"], plain["max_steps"]) == (256, 256)
    assert mixture["budget_unit"] == plain["budget_unit"] == "updates_per_expert" and mixture["budget"] == 256.0


def test_an_epoch_budget_sets_epochs_and_leaves_the_steps_to_the_engine():
    cfg = copy.deepcopy(SUITE)
    cfg["experiments"][0]["budgets"] = [{"epochs": 0.5}, {"epochs": 4}]  # the experiment's own replace the suite's
    runs = expand(cfg)
    assert {key[1] for key in runs} == {f"{row}@epochs={v}" for row in SUITE["methods"] for v in ("0.5", "4")}
    run = runs[("sst2", "loha@epochs=4", 3)]
    assert (run["epochs"], run["max_steps"], run.get("budget_steps")) == (4.0, None, None)


def test_a_suite_without_budgets_expands_exactly_as_before():
    cfg = copy.deepcopy(SUITE)
    del cfg["budgets"]
    runs = expand(cfg)
    assert set(runs) == {(t, lab, s) for t in ("sst2", "rte") for lab in SUITE["methods"] for s in (1, 2, 3)}
    for values in runs.values():  # no budget keys in the spec (spec.json, record and checkpoint hash unchanged)
        assert not {"base_label", "budget_unit", "budget", "budget_steps"} & set(values)
        assert values["epochs"] == 1.0 and values["max_steps"] is None


def test_a_mixture_without_num_experts_cannot_resolve_updates_per_expert():
    cfg = copy.deepcopy(SUITE)
    del cfg["methods"]["adamix[loha]"]["params"]["num_experts"]
    with pytest.raises(SuiteError, match=r"adamix\[loha\].*num_experts"):
        expand(cfg)
    cfg["budgets"] = [{"steps": 128}]  # other units do not need it
    assert len(expand(cfg)) == 2 * 2 * 3


def test_smoke_mode_keeps_the_budget_runs_and_shortens_each_to_two_steps():
    runs = expand(apply_smoke(SUITE))
    assert len(runs) == 2 * 2 * 1 * 3  # first seed only, every budget
    run = runs[("sst2", "adamix[loha]@steps=512", 1)]
    assert run["max_steps"] == 2 and run["budget_steps"] == 512  # the smoke override comes last


def test_an_experiment_with_budgets_may_not_set_epochs_or_max_steps_itself():
    cfg = copy.deepcopy(SUITE)
    cfg["experiments"][0]["train"]["epochs"] = 3
    cfg["experiments"][0]["overrides"] = [{"tasks": ["rte"], "train": {"max_steps": 10}}]
    cfg["methods"]["loha"]["train"] = {"epochs": 2}
    with pytest.raises(ConfigError) as error:
        validate_suite(cfg)
    text = str(error.value)
    assert "experiments[0].train.epochs" in text and "experiments[0].overrides[0].train.max_steps" in text
    assert "methods.loha.train.epochs" in text
    validate_suite(SUITE)  # `defaults` may set epochs: the budget replaces it


@pytest.mark.parametrize(
    "budgets, message",
    [
        ([{"steps": 0}], "minimum"),
        ([{"steps": 1.5}], "integer"),
        ([{"hours": 2}], "hours"),
        ([{"steps": 1, "epochs": 1}], "properties"),
    ],
)
def test_the_schema_rejects_bad_budgets(budgets, message):
    cfg = {**copy.deepcopy(SUITE), "budgets": budgets}
    with pytest.raises(ConfigError, match=message):
        validate_suite(cfg)


def test_budget_labels_keys_and_words():
    b = B.Budget("updates_per_expert", 256.0)
    assert (b.key, b.slug, b.label("lora"), b.words) == (
        "updates_per_expert=256",
        "updates_per_expert256",
        "lora@updates_per_expert=256",
        "256 updates per expert",
    )
    assert B.split_label("adamix[lora]@steps=512") == ("adamix[lora]", "steps=512")
    assert B.split_label("adamix[lora]@steps=512 @fixed:0") == ("adamix[lora] @fixed:0", "steps=512")
    assert B.split_label("lora @fixed:0") == ("lora @fixed:0", None)
    assert B.from_key("epochs=0.5") == B.Budget("epochs", 0.5) and B.Budget("epochs", 0.5).slug == "epochs0p5"
    assert [x.key for x in B.ordered([B.Budget("steps", 512), B.Budget("epochs", 1), B.Budget("steps", 128)])] == [
        "steps=128",
        "steps=512",
        "epochs=1",
    ]
    with pytest.raises(B.BudgetError, match="listed twice"):
        B.parse([{"steps": 128}, {"steps": 128.0}])
