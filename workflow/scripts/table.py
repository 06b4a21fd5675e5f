"""Rule `table`: one table in the paper's layout (md, tex, csv, html) and its paired tests (md, csv)."""

from pathlib import Path

import pandas as pd

from adamixbench.analysis.budget import budget_note
from adamixbench.analysis.comparisons import paired_markdown, paired_tests
from adamixbench.analysis.layouts import LAYOUTS, resolve_layout
from adamixbench.analysis.records import read_runs
from adamixbench.analysis.render import table_latex, table_markdown
from adamixbench.analysis.tables import (
    build_table,
    data_source_note,
    failure_note,
    load_paper,
    paper_lookup,
    unavailable_note,
)

CAPTION_NOTES = (failure_note, unavailable_note, data_source_note)
sm = snakemake  # noqa: F821
spec = sm.params.spec
runs = read_runs(sm.input.runs)
summary = pd.read_csv(sm.input.summary)
layout = resolve_layout(spec["layout"], runs, spec.get("tasks"), spec.get("average"))
paper = (
    paper_lookup(load_paper(sm.input.paper), spec["paper_table"], spec["paper_rows"]) if spec.get("paper_table") else {}
)
if len(layout.columns) < len(LAYOUTS.get(spec["layout"], layout).columns):  # a subset of the paper's tasks:
    paper = {key: value for key, value in paper.items() if key[1] != "avg"}  # its Avg is not comparable
display, long = build_table(runs, summary, layout, spec["rows"], paper)
caption = (
    f"{spec['title']}. {budget_note(runs, layout, spec['rows'])} {spec.get('choices', '')} {layout.caption} "
    "Cells: mean ± std (ddof=1) over seeds"
    + ("; [paper value, Δ = ours - paper]" if paper else "")
    + ". #Param = inference parameters after merging, head excluded. Median and 95% bootstrap CI: "
    f"{Path(sm.output.csv).name}. "
    + " ".join(x for x in (note(runs, layout, spec["rows"]) for note in CAPTION_NOTES) if x)
).strip()
Path(sm.output.md).write_text(table_markdown(display, caption))
Path(sm.output.tex).write_text(table_latex(display, caption, f"tab:{spec['suite']}:{spec['name']}"))
long.to_csv(sm.output.csv, index=False)
Path(sm.output.html).write_text(
    f"<html><head><meta charset='utf-8'></head><body><p>{caption}</p>"
    + display.to_html(index=False, border=0)
    + "<h4>All statistics</h4>"
    + long.to_html(index=False, border=0, float_format=lambda x: f"{x:.3f}")
    + "</body></html>\n"
)
others = [r for r in spec["rows"] if r not in spec["references"]]
tests = paired_tests(
    runs, layout, spec["references"], others, aso_boot=spec["aso_bootstrap"], seed=spec["bootstrap"].get("seed", 0)
)
tests.to_csv(sm.output.paired_csv, index=False)
Path(sm.output.paired_md).write_text(
    paired_markdown(tests) if len(tests) else "No paired tests (no AdaMix / reference row in this table).\n"
)
with open(sm.log[0], "w") as fh:
    fh.write(f"{len(display)} rows x {len(layout.columns)} columns, {len(tests)} paired tests\n")
