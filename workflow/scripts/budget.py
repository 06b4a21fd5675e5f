"""Rule `budget`: the budget view of one suite table over budgeted runs (adamixbench/analysis/budget.py): the
budget table per column (md, csv, html), the budget to reach the plain method's final score (csv; in the md),
score vs budget and score vs measured training time (png + svg)."""

from pathlib import Path

from adamixbench.analysis import plots
from adamixbench.analysis.budget import budget_markdown, budget_summary, budget_to_reach, fairness_of, reach_markdown
from adamixbench.analysis.layouts import resolve_layout
from adamixbench.analysis.records import read_runs

sm = snakemake  # noqa: F821
spec = sm.params.spec
runs = read_runs(sm.input.runs)
layout = resolve_layout(spec["layout"], runs, spec.get("tasks"), spec.get("average"))
boot = spec["bootstrap"]
summary = budget_summary(runs, layout, spec["rows"], spec["budgets"], boot.get("n", 10_000), boot.get("seed", 0))
summary.to_csv(sm.output.csv, index=False)
basis = fairness_of(spec["budgets"])
caption = (
    f"{spec['title']}: score per training budget. Rows: methods; columns: budgets (the optimiser steps their "
    f"runs took in brackets where the unit is not steps). Fairness basis: {basis}. Each budget is its own runs, "
    "each trained with the full LR schedule of its own length (warm-up, linear decay to 0): a learning curve of "
    "separate runs, not evaluations along one long run. Cells: mean ± std (ddof=1) over seeds (n) [95% "
    f"percentile bootstrap interval of the mean, {boot.get('n', 10_000)} resamples]; the tables at each budget: "
    + ", ".join(f"tables/{name}.md" for name in spec["tables"].values())
    + "."
)
reach = budget_to_reach(summary, spec["pairs"], spec["budgets"])
reach.to_csv(sm.output.reach, index=False)
Path(sm.output.md).write_text(
    budget_markdown(summary, spec["rows"], spec["budgets"], caption) + "\n" + reach_markdown(reach)
)
Path(sm.output.html).write_text(
    f"<html><head><meta charset='utf-8'></head><body><p>{caption}</p>"
    + "".join(
        f"<h4>{header}</h4>"
        + col.pivot(index="row", columns="budget", values="mean")
        .reindex(spec["rows"])[spec["budgets"]]
        .to_html(border=0, float_format=lambda x: f"{x:.2f}")
        for header, col in summary.groupby("header", sort=False)
    )
    + "<h4>Budget to reach the plain method's final score</h4>"
    + reach[["header", "base", "adamix", "result"]].to_html(index=False, border=0)
    + "<h4>All statistics</h4>"
    + summary.to_html(index=False, border=0, float_format=lambda x: f"{x:.3f}")
    + "</body></html>\n"
)
colors = plots.palette(spec["palette"])
curve = plots.budget_curve(
    summary,
    spec["rows"],
    spec["budgets"],
    colors=colors,
    title=f"{spec['title']}: score vs budget ({basis})",
    pairs=spec["pairs"],
)
plots.save(curve, sm.output.curve[: -len(".png")])
wall = plots.wall_time(
    runs,
    layout,
    spec["rows"],
    spec["budgets"],
    colors=colors,
    title=f"{spec['title']}: equal wall time view",
)
plots.save(wall, sm.output.wall[: -len(".png")])
with open(sm.log[0], "w") as fh:
    fh.write(f"{len(summary)} cells, {len(reach)} pairs: {'; '.join(reach['result'].astype(str))}\n")
