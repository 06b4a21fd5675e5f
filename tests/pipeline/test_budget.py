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
    assert apply_smoke(SUITE)["smoke_of"] == "b"  # the claims rule tests the suite's claims on the smoke runs


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


# --------------------------------------------------------------------------------------------------
# the analysis: synthetic records of a suite with budgets
# --------------------------------------------------------------------------------------------------
def _records(means: dict, steps_of: dict | None = None, per_epoch: int = 128, seeds=(1, 2, 3), task="sst2"):
    """Records of {(label, budget key): mean score} (key None: no budget), each seed `mean + noise(seed)`;
    `steps_of[(label, key)]`: the optimiser steps its record says it trained (default: the key's value)."""
    from tests.pipeline.synthetic import make_record

    noise = {1: -1.0, 2: 0.0, 3: 1.5, 4: 0.3, 5: -0.6}
    recs = []
    for (label, key), mean in means.items():
        run_label = f"{label}@{key}" if key else label
        steps = (steps_of or {}).get((label, key), int(float(key.split("=")[1])) if key else per_epoch)
        for seed in seeds:
            r = make_record(task, "lora", seed, label=run_label)
            wobble = {1: 0.3, 2: -0.3, 3: 0.0}.get(seed, 0.0) if label.startswith("adamix") else 0.0  # mean 0
            r["scores"] = {"accuracy": mean + noise[seed] + wobble}
            r["schedule"] = {"total_steps": steps, "warmup_steps": 0, "processes": 1, "steps_per_epoch": per_epoch}
            r["cost"]["train_time_s"] = 0.1 * steps * (2 if label.startswith("adamix") else 1)
            recs.append(r)
    return recs


def _frame(recs):
    from adamixbench.analysis.layouts import resolve_layout
    from adamixbench.analysis.records import runs_frame

    runs = runs_frame(recs)
    return runs, resolve_layout("primary", runs, tasks=sorted(set(runs["task"])))


KEYS = ["steps=128", "steps=512", "steps=1024"]
CURVES = {
    "x": (70.0, 75.0, 80.0),
    "adamix_x": (60.0, 81.0, 85.0),
    "y": (70.0, 72.0, 74.0),
    "adamix_y": (50.0, 60.0, 73.0),
}


def _budget_runs():
    return _frame(_records({(lab, key): m for lab, ms in CURVES.items() for key, m in zip(KEYS, ms)}))


def test_runs_csv_carries_each_runs_budget_and_the_steps_it_trained():
    runs, _ = _budget_runs()
    row = runs[runs["method_label"] == "adamix_x@steps=512"].iloc[0]
    assert (row["base_label"], row["budget"], row["budget_unit"], row["budget_value"]) == (
        "adamix_x",
        "steps=512",
        "steps",
        512.0,
    )
    assert (row["optimizer_steps"], row["epochs_trained"]) == (512, 4.0)
    plain = _frame(_records({("lora", None): 80.0}))[0].iloc[0]
    assert (plain["budget"], plain["base_label"], plain["optimizer_steps"], plain["epochs_trained"]) == (
        "",
        "lora",
        128,
        1.0,
    )


def test_the_budget_table_has_one_cell_per_method_and_budget_with_the_seed_interval():
    from adamixbench.analysis.budget import budget_cell, budget_markdown, budget_summary

    runs, layout = _budget_runs()
    summary = budget_summary(runs, layout, list(CURVES), KEYS, n_boot=1000, seed=0)
    assert len(summary) == len(CURVES) * len(KEYS)
    cell = summary[(summary["row"] == "adamix_x") & (summary["budget"] == "steps=512")].iloc[0]
    assert cell["mean"] == pytest.approx(81.0 + 0.5 / 3) and cell["n"] == 3 and cell["steps"] == 512
    assert cell["ci_low"] < cell["mean"] < cell["ci_high"] and cell["epochs"] == 4.0
    assert (
        budget_cell(cell) == f"81.2 ± {cell['std']:.1f} (3) [{cell['ci_low']:.1f}, {cell['ci_high']:.1f}]"
    )  # 1 digit: accuracy
    md = budget_markdown(summary, list(CURVES), KEYS, "CAPTION")
    assert (
        md.startswith("CAPTION")
        and "| Method | 128 optimiser steps | 512 optimiser steps | 1024 optimiser steps |" in md
    )
    assert md.index("| x |") < md.index("| adamix_x |") < md.index("| y |")  # the rows in the suite's order


def test_budget_to_reach_is_the_smallest_budget_where_adamix_reaches_the_plain_methods_final_mean():
    from adamixbench.analysis.budget import budget_summary, budget_to_reach

    runs, layout = _budget_runs()
    summary = budget_summary(runs, layout, list(CURVES), KEYS, n_boot=200)
    reach = budget_to_reach(summary, {"x": "adamix_x", "y": "adamix_y"}, KEYS).set_index("base")
    # x's final mean (1024 steps) is 80.17: adamix_x reaches it at 512 steps (81.17), not at 128 (60.17)
    assert reach.loc["x", "target_budget"] == "steps=1024" and reach.loc["x", "reached_budget"] == "steps=512"
    assert reach.loc["x", "result"].startswith("reached at 512 optimiser steps")
    # y's final 74.17 is never reached (adamix_y's best is 73.17 at 1024 steps)
    assert reach.loc["y", "result"] == "not reached (best 73.2 at 1024 optimiser steps)"
    assert not isinstance(reach.loc["y", "reached_budget"], str)


def test_captions_name_the_budget_and_the_fairness_basis_from_the_records():
    from adamixbench.analysis.budget import budget_note

    runs, layout = _frame(_records({("lora", None): 80.0, ("pfeiffer", None): 79.0}))
    assert budget_note(runs, layout, ["lora", "pfeiffer"]) == (
        "Budget: 128 optimiser steps (1 epoch) per run; fairness basis: equal optimiser steps."
    )
    runs, layout = _frame(_records({("lora", None): 80.0, ("full_ft", None): 79.0}, {("full_ft", None): 384}))
    assert budget_note(runs, layout, ["lora", "full_ft"]) == (
        "Budget: optimiser steps per run (from the records): 128 optimiser steps (1 epoch) for lora; "
        "384 optimiser steps (3 epochs) for full_ft; fairness basis: none: the rows' optimiser steps differ "
        "(each row's recipe)."
    )
    upe = {("lora", "updates_per_expert=128"): 80.0, ("adamix_lora", "updates_per_expert=128"): 81.0}
    runs, layout = _frame(_records(upe, {("adamix_lora", "updates_per_expert=128"): 512}))
    note = budget_note(runs, layout, ["lora@updates_per_expert=128", "adamix_lora@updates_per_expert=128"])
    assert note.startswith("Budget: 128 updates per expert; trained: optimiser steps per run (from the records): ")
    assert "128 optimiser steps (1 epoch) for lora; 512 optimiser steps (4 epochs) for adamix_lora" in note
    assert note.endswith(
        "fairness basis: equal updates per expert (a mixture of M experts trains M x the optimiser steps "
        "of a plain method)."
    )
    runs, layout = _budget_runs()
    note = budget_note(runs, layout, ["x@steps=512", "adamix_x@steps=512"])
    assert (
        note == "Budget: 512 optimiser steps; trained: 512 optimiser steps (4 epochs) per run; fairness basis: equal "
        "optimiser steps."
    )


def test_claims_are_tested_per_budget_in_one_holm_family():
    from adamixbench.analysis import claims as C
    from adamixbench.analysis.layouts import resolve_layout
    from adamixbench.analysis.stats import holm

    runs, _ = _budget_runs()
    layouts = {f"glue_steps{k.split('=')[1]}": resolve_layout("primary", runs, tasks=["sst2"]) for k in KEYS}
    budgets = {"glue": {k: f"glue_steps{k.split('=')[1]}" for k in KEYS}}
    claim = {
        "id": "c",
        "claim": "AdaMix(X) > X",
        "source": "s",
        "suites": ["t"],
        "table": "glue",
        "a": "adamix_x",
        "b": "x",
        "relation": ">",
    }
    other = {**claim, "id": "d", "a": "adamix_y", "b": "y"}
    res = C.evaluate_claims(runs, [claim, other], layouts, budgets=budgets)
    assert list(res["budget"]) == KEYS * 2 and list(res["table"]) == [budgets["glue"][k] for k in KEYS] * 2
    assert res["claim"].iloc[1] == "AdaMix(X) > X at 512 optimiser steps" and res["a"].iloc[1] == "adamix_x@steps=512"
    assert list(res["effect"].round(6)) == [-10.0, 6.0, 5.0, -20.0, -12.0, -1.0]  # a - b at each budget
    # the six statements are ONE family: Holm over all of them, not per budget or per claim
    assert list(res["p_holm"]) == pytest.approx(list(holm(res["p"].to_numpy(dtype=float))), nan_ok=True)
    assert res["p"].notna().all() and res["mde"].notna().all() and (res["p_holm"] >= res["p"]).all()
    assert res["p_holm"].min() == pytest.approx(6 * res["p"].min())  # the smallest p x 6: a family of six
    only = C.evaluate_claims(runs, [{**claim, "budgets": ["steps=1024"]}], layouts, budgets=budgets)
    assert list(only["budget"]) == ["steps=1024"]
    assert "Budget" in C.claims_markdown(res, "t") and "one Holm family" in C.claims_markdown(res, "t")


def test_tables_over_budgeted_runs_become_one_table_per_budget_and_a_budget_view():
    from adamixbench.plan import tables as T

    cfg = copy.deepcopy(SUITE)
    cfg["analysis"] = {"tables": [{"name": "glue", "layout": "primary", "pairs": {"loha": "adamix[loha]"}}]}
    runs = expand(cfg)
    specs = T.table_specs(cfg, runs)
    assert list(specs) == ["glue_steps128", "glue_steps512", "glue_updates_per_expert256"]
    at = T.resolve_table(specs["glue_steps512"], cfg, runs, lambda layout: None)
    assert at["rows"] == ["loha@steps=512", "adamix[loha]@steps=512"] and at["budget"] == "steps=512"
    assert at["pairs"] == {"loha@steps=512": "adamix[loha]@steps=512"} and at["references"] == [
        "adamix[loha]@steps=512"
    ]
    assert at["title"].endswith("; budget: 512 optimiser steps") and at["choices"].startswith("Seeds per cell: 3")
    view = T.budget_specs(cfg, runs, lambda layout: None)["glue"]
    assert view["rows"] == ["loha", "adamix[loha]"] and view["budgets"] == [
        "steps=128",
        "steps=512",
        "updates_per_expert=256",
    ]
    assert view["tables"]["steps=512"] == "glue_steps512"
    del cfg["budgets"]  # without budgets: the suite's tables as they are, no budget view
    assert list(T.table_specs(cfg, expand(cfg))) == ["glue"] and T.budget_specs(cfg, expand(cfg), lambda x: None) == {}


def test_the_figures_put_the_budget_on_a_log2_axis_and_time_on_a_log_axis():
    from adamixbench.analysis import plots
    from adamixbench.analysis.budget import budget_summary

    runs, layout = _budget_runs()
    summary = budget_summary(runs, layout, list(CURVES), KEYS, n_boot=200)
    fig = plots.budget_curve(summary, list(CURVES), KEYS, pairs={"x": "adamix_x", "y": "adamix_y"})
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.xaxis.get_transform().base == 2
    assert [t.get_text() for t in ax.get_xticklabels()] == ["128", "512", "1024"] and len(ax.get_lines()) >= len(CURVES)
    # each pair reads as one solid (X) and one dashed (AdaMix(X)) line
    styles = {bars.get_label(): bars.lines[0].get_linestyle() for bars in ax.containers}
    assert styles == {"x": "-", "adamix_x": "--", "y": "-", "adamix_y": "--"}
    wall = plots.wall_time(runs, layout, list(CURVES), KEYS)
    assert wall.axes[0].get_xscale() == "log" and "measured wall time" in wall._suptitle.get_text()
