"""Rule `plot`: one figure of one table (PNG + SVG), see adamixbench/analysis/plots.py."""

import numpy as np
import pandas as pd

from adamixbench.analysis import plots, stats
from adamixbench.analysis.comparisons import critical_difference, normalized_scores
from adamixbench.analysis.layouts import resolve_layout
from adamixbench.analysis.records import read_runs
from adamixbench.analysis.tables import load_paper, paper_lookup

sm = snakemake  # noqa: F821
spec, kind = sm.params.spec, sm.wildcards.kind
runs = read_runs(sm.input.runs)
summary = pd.read_csv(sm.input.summary)
layout = resolve_layout(spec["layout"], runs, spec.get("tasks"), spec.get("average"))
paper_df = load_paper(sm.input.paper)
paper = paper_lookup(paper_df, spec["paper_table"], spec["paper_rows"]) if spec.get("paper_table") else {}
colors = plots.palette(spec["palette"])  # the suite's labels in one fixed order: same colour in every figure
main_rows = [r for r in spec["rows"] if " @" not in r]
rows_run = [r for r in spec["rows"] if len(runs[runs["row_label"] == r])]
boot = spec["bootstrap"]
if kind == "seed_scores":
    fig = plots.seed_scores(runs, layout, spec["rows"], paper, spec["title"], colors=colors)
elif kind in plots.SCORE_VERSUS:
    fig = plots.score_versus(summary[summary["method_label"].isin(main_rows)], layout, kind, colors=colors)
elif kind == "training_curves":
    fig = plots.training_curves(pd.read_csv(sm.input.history), layout, main_rows, colors=colors)
elif kind == "routing_violin":
    f5 = paper_df[paper_df["table"] == "fig5"]
    ranges = {}  # the paper's Fig. 5 ranges (RoBERTa-large) only beside a table compared with the paper
    for task, g in f5.groupby("task") if spec.get("paper_table") else []:
        v = dict(zip(g["variant"], g["value"]))
        ranges[task] = (v["random routing min"], v["random routing max"], v["merged"])
    fig = plots.routing_violin(runs, layout, spec["routing_violin"], paper_ranges=ranges)
elif kind == "paired_gains":
    fig = plots.paired_gains(runs, layout, spec["pairs"], f"{spec['title']}: X vs AdaMix(X)")
elif kind in ("aggregate", "prob_improvement"):
    res = pd.read_csv(sm.input.aggregate)
    draw = plots.aggregate_intervals if kind == "aggregate" else plots.probability_of_improvement
    fig = draw(res, colors=colors, title=spec["title"])
elif kind == "performance_profile":
    matrices, _, _ = normalized_scores(runs, layout, rows_run, spec["normalization"])
    taus = np.linspace(0.0, max([1.0] + [float(m.max()) for m in matrices.values()]), 101)
    profiles = {
        row: stats.performance_profile(m, taus, n_boot=boot.get("n", 10_000), seed=boot.get("seed", 0))
        for row, m in matrices.items()
    }
    fig = plots.performance_profile(
        matrices,
        taus,
        profiles,
        colors=colors,
        title=spec["title"],
        xlabel=f"normalised score tau ({spec['normalization']})",
    )
elif kind == "critical_difference":
    result, why = critical_difference(runs, layout, rows_run, spec["normalization"])
    fig = plots.critical_difference(result, why)
else:
    raise ValueError(f"unknown plot kind {kind!r}")
plots.save(fig, sm.output.png[: -len(".png")])
with open(sm.log[0], "w") as fh:
    fh.write(f"{kind}: {sm.output.png}\n")
