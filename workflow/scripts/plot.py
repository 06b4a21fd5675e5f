"""Rule `plot`: one figure of one table (PNG + SVG), see adamixbench/plots.py."""

import pandas as pd

from adamixbench import aggregate as agg
from adamixbench import plots

sm = snakemake  # noqa: F821
spec, kind = sm.params.spec, sm.wildcards.kind
runs = pd.read_csv(sm.input.runs, dtype={"failure_reason": str})
runs["metric"] = runs["metric"].fillna("")
runs["inference"] = runs["inference"].fillna("")
summary = pd.read_csv(sm.input.summary)
layout = agg.resolve_layout(spec["layout"], runs, spec.get("tasks"), spec.get("average"))
paper_df = agg.load_paper(sm.input.paper)
paper = agg.paper_lookup(paper_df, spec["paper_table"], spec["paper_rows"]) if spec.get("paper_table") else {}
main_rows = [r for r in spec["rows"] if " @" not in r]
if kind == "seed_scores":
    fig = plots.seed_scores(runs, layout, spec["rows"], paper, spec["title"])
elif kind == "pareto":
    fig = plots.pareto(summary[summary["method_label"].isin(main_rows)], layout)
elif kind == "cost":
    fig = plots.cost(summary[summary["method_label"].isin(main_rows)], layout)
elif kind == "training_curves":
    fig = plots.training_curves(pd.read_csv(sm.input.history), layout, main_rows)
elif kind == "routing_violin":
    f5 = paper_df[paper_df["table"] == "fig5"]
    ranges = {}  # the paper's Fig. 5 ranges (RoBERTa-large) only beside a table compared with the paper
    for task, g in (f5.groupby("task") if spec.get("paper_table") else []):
        v = dict(zip(g["variant"], g["value"]))
        ranges[task] = (v["random routing min"], v["random routing max"], v["merged"])
    fig = plots.routing_violin(runs, layout, spec["routing_violin"], paper_ranges=ranges)
elif kind == "paired_gains":
    fig = plots.paired_gains(runs, layout, spec["pairs"], f"{spec['title']}: X vs AdaMix(X)")
else:
    raise ValueError(f"unknown plot kind {kind!r}")
plots.save(fig, sm.output.png[: -len(".png")])
with open(sm.log[0], "w") as fh:
    fh.write(f"{kind}: {sm.output.png}\n")
