"""Rule `compare`: the aggregate comparison of one table across its columns and seeds (rliable IQM / mean
with stratified bootstrap intervals, probability of improvement, autorank mean ranks) as md + csv."""

from pathlib import Path

from adamixbench.analysis.budget import budget_note
from adamixbench.analysis.comparisons import aggregate_comparison, aggregate_markdown
from adamixbench.analysis.layouts import resolve_layout
from adamixbench.analysis.records import read_runs

sm = snakemake  # noqa: F821
spec = sm.params.spec
runs = read_runs(sm.input.runs)
layout = resolve_layout(spec["layout"], runs, spec.get("tasks"), spec.get("average"))
rows = [r for r in spec["rows"] if len(runs[runs["row_label"] == r])]
boot = spec["bootstrap"]
res = aggregate_comparison(
    runs,
    layout,
    rows,
    spec["references"],
    spec["normalization"],
    n_boot=boot.get("n", 10_000),
    seed=boot.get("seed", 0),
)
res.to_csv(sm.output.csv, index=False)
caption = (
    f"{spec['title']}: aggregate over {len(layout.columns)} column(s) and the seeds (rliable). "
    f"{budget_note(runs, layout, rows)} Scores "
    f"normalised per column ({spec['normalization']}; higher = better). IQM = interquartile mean of all "
    "runs x columns; Mean = mean over columns of the mean over seeds; 95% stratified bootstrap intervals "
    f"({boot.get('n', 10_000)} resamples, seed {boot.get('seed', 0)}). Mean rank: autorank over the columns "
    "(1 = best), where >= 3 columns and >= 3 rows."
)
Path(sm.output.md).write_text(aggregate_markdown(res, caption))
with open(sm.log[0], "w") as fh:
    fh.write(f"{len(rows)} rows, {len(layout.columns)} columns; {res.attrs.get('critical_difference', '')}\n")
