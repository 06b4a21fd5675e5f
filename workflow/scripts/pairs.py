"""Rule `pairs`: the table "X vs AdaMix(X)" (md, csv, tex, html), each pair compared paired by seed."""

from pathlib import Path

from adamixbench.analysis.budget import budget_note
from adamixbench.analysis.comparisons import pairs_table
from adamixbench.analysis.layouts import resolve_layout
from adamixbench.analysis.records import read_runs
from adamixbench.analysis.render import table_latex, table_markdown

sm = snakemake  # noqa: F821
spec = sm.params.spec
runs = read_runs(sm.input.runs)
layout = resolve_layout(spec["layout"], runs, spec.get("tasks"), spec.get("average"))
display, long = pairs_table(runs, layout, spec["pairs"])
caption = (
    f"{spec['title']}: each method X against AdaMix(X), the mixture of X's modules. "
    f"{budget_note(runs, layout, [lab for pair in spec['pairs'].items() for lab in pair])} Scores: mean ± std "
    "(ddof=1) over seeds; Δ = mean over paired seeds of AdaMix(X) - X; p: paired t-test (scipy ttest_rel) and "
    "exact Wilcoxon signed-rank (n >= 5). #Param = inference parameters (AdaMix(X): one merged module, so "
    "equal to X's); #Trainable AdaMix(X) counts its M experts (+ head)."
)
Path(sm.output.md).write_text(table_markdown(display, caption))
Path(sm.output.tex).write_text(table_latex(display, caption, f"tab:{spec['suite']}:{spec['name']}:vs_adamix"))
long.to_csv(sm.output.csv, index=False)
Path(sm.output.html).write_text(
    f"<html><head><meta charset='utf-8'></head><body><p>{caption}</p>"
    + display.to_html(index=False, border=0)
    + "</body></html>\n"
)
with open(sm.log[0], "w") as fh:
    fh.write(f"{len(display)} pair rows\n")
