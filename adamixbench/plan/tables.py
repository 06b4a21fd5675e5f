"""The tables of a suite and everything the analysis scripts need to build one, decided from the suite and
its run matrix while the workflow builds the DAG.

Pure Python (no torch, no analysis code): a table's rows, references, caption text and colour order are
plain data handed to the rule scripts as params (workflow/rules/analysis.smk), so a change of the suite's
tables reruns only those rules, and the analysis never has to read the suite file itself.

* `table_specs`: the suite's `analysis.tables`, or one 'primary' table per task family;
* `resolve_table`: one table spec made complete (rows with inference rows, references, caption choices,
  palette, bootstrap and normalisation settings);
* `table_choices`: the caption sentence stating every choice that changes a table's numbers;
* `palette_order`: every row label in one fixed order, so a label has one colour in every figure;
* budgets (adamixbench/plan/budget.py): a table over budgeted runs becomes one table per budget
  (`<name>_<unit><value>`: the same analysis at that budget, rows `<label>@<unit>=<value>`), and
  `budget_specs` gives the budget view across them (rule budget: the budget table, score vs budget, score
  vs wall time).
"""

from __future__ import annotations

from collections.abc import Callable

from adamixbench.plan import budget as budgets_of
from adamixbench.plan.suite import is_adamix
from adamixbench.tasks import family_of

#: the figures of every table (analysis.smk rule plot); `routing_violin` and `paired_gains` only for
#: tables that ask for them
PLOT_KINDS = [
    "seed_scores",
    "pareto",
    "cost",
    "training_curves",
    "aggregate",
    "prob_improvement",
    "performance_profile",
    "critical_difference",
]
#: the figures of a table's budget view (rule budget): score vs budget, score vs measured training time
BUDGET_PLOT_KINDS = ["budget_curve", "wall_time"]
#: AdaMix parameters that change the numbers: each table's caption says which values its rows used
ADAMIX_CHOICES = ("unselected_experts", "consistency_kind")


def table_specs(suite: dict, runs: dict) -> dict:
    """{name: table spec}: the suite's `analysis.tables`; default: one 'primary' table per task family of
    the runs, over that family's tasks in run order."""
    tables = suite["analysis"].get("tables")
    if not tables:
        fams = {}
        for r in runs.values():
            fams.setdefault(family_of(r["task"], r["fewshot_k"]), []).append(r["task"])
        tables = [{"name": fam, "layout": "primary", "tasks": list(dict.fromkeys(t))} for fam, t in fams.items()]
    out = {}
    for table in tables:
        budgets = table_budgets(table, suite, runs)
        for budget in budgets:
            out[f"{table['name']}_{budget.slug}"] = _at_budget(table, budget, suite, runs)
        if not budgets:
            out[table["name"]] = table
    return out


def _base_rows(table: dict, suite: dict, runs: dict) -> list:
    """A table's method labels: its `methods`, else every label of the suite with a run on its tasks."""
    tasks = table.get("tasks")
    return table.get("methods") or [
        lab
        for lab in suite["methods"]
        if any(budgets_of.split_label(k[1])[0] == lab and (not tasks or k[0] in tasks) for k in runs)
    ]


def table_budgets(table: dict, suite: dict, runs: dict) -> list:
    """The budgets of a table's runs (its tasks and rows), in budget order; [] without budgets."""
    tasks, rows = table.get("tasks"), set(_base_rows(table, suite, runs))
    keys = [
        budgets_of.split_label(label)[1]
        for task, label, _ in runs
        if (not tasks or task in tasks) and budgets_of.split_label(label)[0] in rows
    ]
    return budgets_of.ordered(budgets_of.from_key(k) for k in keys if k)


def _at_budget(table: dict, budget, suite: dict, runs: dict) -> dict:
    """The table at one budget: its rows and pairs at that budget (`<label>@<unit>=<value>`), its title
    naming the budget."""
    title = table.get("title", f"{suite['suite']}: {table['name']}")
    return {
        **table,
        "name": f"{table['name']}_{budget.slug}",
        "methods": [budget.label(lab) for lab in _base_rows(table, suite, runs)],
        "pairs": {budget.label(x): budget.label(y) for x, y in table.get("pairs", {}).items()},
        "title": f"{title}; budget: {budget.words}",
        "budget": budget.key,
        "budget_of": table["name"],
    }


def budget_specs(suite: dict, runs: dict, layout_tasks: Callable[[str], list | None]) -> dict:
    """{table name: what rule `budget` needs} for each of the suite's tables over budgeted runs: its method
    rows and pairs (suite labels), budgets (keys, in order), the tables at each budget, and the settings of
    its figures. Empty for a suite without budgets."""
    tables = suite["analysis"].get("tables") or []
    out = {}
    for table in tables:
        budgets = table_budgets(table, suite, runs)
        if not budgets:
            continue
        out[table["name"]] = {
            "name": table["name"],
            "layout": table["layout"],
            "tasks": table.get("tasks") or layout_tasks(table["layout"]),
            "average": table.get("average"),
            "rows": _base_rows(table, suite, runs),
            "pairs": table.get("pairs", {}),
            "budgets": [b.key for b in budgets],
            "tables": {b.key: f"{table['name']}_{b.slug}" for b in budgets},
            "title": table.get("title", f"{suite['suite']}: {table['name']}"),
            "suite": suite["suite"],
            "bootstrap": suite["analysis"].get("bootstrap", {}),
            "palette": palette_order(suite, runs),
        }
    return out


def plot_kinds(table: dict) -> list:
    """The figures of one table spec."""
    return (
        PLOT_KINDS
        + (["routing_violin"] if table.get("routing_violin") else [])
        + (["paired_gains"] if table.get("pairs") else [])
    )


def resolve_table(spec: dict, suite: dict, runs: dict, layout_tasks: Callable[[str], list | None]) -> dict:
    """Everything the table / compare / plot / pairs / claims scripts need for one table (JSON-serialisable).
    `layout_tasks(layout)` gives the tasks of a paper layout's columns (None for a layout without fixed
    columns): a table without `tasks` covers those, or every task. Its rows are the table's `methods`,
    else every label with a run on its tasks, in the suite's order; with `inference_rows`, each AdaMix row
    is followed by one row per extra inference mode it is scored with (`<label> @<mode>`)."""
    tasks = spec.get("tasks") or layout_tasks(spec["layout"])
    labels_in = [lab for lab in suite["methods"] if any(k[1] == lab and (not tasks or k[0] in tasks) for k in runs)]
    rows = spec.get("methods") or labels_in
    if spec.get("inference_rows"):
        expanded = []
        for lab in rows:
            expanded.append(lab)
            modes = [m for (_, label, _), r in runs.items() if label == lab for m in r.get("eval_inference_modes", [])]
            main = suite["methods"][budgets_of.split_label(lab)[0]].get("inference") or "merge"
            expanded += [f"{lab} @{m}" for m in dict.fromkeys(modes) if m != main]
        rows = expanded
    analysis = suite["analysis"]
    refs = analysis.get("references") or [lab for lab in suite["methods"] if is_adamix(suite["methods"][lab]["method"])]
    if spec.get("budget"):  # the table at one budget: its references at that budget
        refs = [f"{r}@{spec['budget']}" for r in refs]
    return {
        "name": spec["name"],
        "layout": spec["layout"],
        "tasks": spec.get("tasks"),
        "average": spec.get("average"),
        "rows": rows,
        "references": [r for r in refs if r in rows],
        "paper_table": spec.get("paper_table"),
        "paper_rows": analysis.get("paper_rows", {}),
        "routing_violin": spec.get("routing_violin"),
        "title": spec.get("title", f"{suite['suite']}: {spec['name']}"),
        "choices": table_choices(rows, suite, runs),
        "suite": suite["suite"],
        "bootstrap": analysis.get("bootstrap", {}),
        "normalization": analysis.get("normalization", "minmax"),
        "aso_bootstrap": analysis.get("aso", {}).get("bootstrap", 1000),
        "palette": palette_order(suite, runs),
        "pairs": spec.get("pairs", {}),
        **({"budget": spec["budget"]} if spec.get("budget") else {}),  # the table at one budget
    }


def palette_order(suite: dict, runs: dict) -> list:
    """Every row label of the suite in one fixed order (the suite's methods, then inference rows), so a
    label gets the same colour in every figure (adamixbench.analysis.plots.palette)."""
    rows = list(suite["methods"])
    for (_, lab, _), r in runs.items():
        rows += [f"{lab} @{m}" for m in r.get("eval_inference_modes") or []]
    return list(dict.fromkeys(rows))


def table_choices(rows: list, suite: dict, runs: dict) -> str:
    """The choices that change a table's numbers, for its caption: seeds per cell, selection protocol,
    weight-decay scope, the AdaMix choices of ADAMIX_CHOICES, the suite's `analysis.notes` (e.g. the split
    scored) and the recipe source of every row (method `source` in the suite file)."""
    labels = list(dict.fromkeys(r.split(" @")[0] for r in rows))
    cell_runs = [r for r in runs.values() if r["label"] in labels]
    labels = list(dict.fromkeys(budgets_of.split_label(lab)[0] for lab in labels))  # suite labels

    def values(get):
        return ", ".join(sorted({str(get(r)) for r in cell_runs})) or "-"

    parts = [
        f"Seeds per cell: {len({r['seed'] for r in cell_runs})}",
        f"selection: {values(lambda r: r['selection'] or 'engine default')}",
        f"weight decay scope: {values(lambda r: r['weight_decay_scope'])}",
    ]
    adamix = [r for r in cell_runs if is_adamix(r["method"])]
    for key in ADAMIX_CHOICES if adamix else ():
        found = ", ".join(sorted({str(r["method_params"].get(key, "method default")) for r in adamix}))
        parts.append(f"AdaMix {key}: {found}")
    if any(r["task"] == "stsb" and r["method_params"].get("consistency_kind", "sym_kl") == "sym_kl" for r in adamix):
        parts.append("on STS-B the sym_kl consistency term is identically 0 (one regression logit)")
    notes = suite["analysis"].get("notes", "").strip()
    methods = suite["methods"]
    sources = "; ".join(f"{lab}: {methods[lab]['source']}" for lab in labels if methods[lab].get("source"))
    text = f"{'; '.join(parts)}."
    text = f"{text} {notes}" if notes else text
    text = f"{text} Row recipes: {sources}." if sources else text
    return text
