"""Rule `claims`: every claim of workflow/resources/claims.yaml that names this suite, with its verdict at
the suite's seeds (adamixbench/analysis/claims.py), as md + csv."""

from pathlib import Path

from adamixbench.analysis import claims
from adamixbench.analysis.layouts import resolve_layout
from adamixbench.analysis.records import read_runs

sm = snakemake  # noqa: F821
runs = read_runs(sm.input.runs)
layouts = {
    name: resolve_layout(spec["layout"], runs, spec.get("tasks"), spec.get("average"))
    for name, spec in sm.params.tables.items()
}
found = claims.load_claims(sm.input.claims, sm.params.claims_of)
res = claims.evaluate_claims(runs, found, layouts, budgets=sm.params.budgets)  # budgets: one statement each
res.to_csv(sm.output.csv, index=False)
Path(sm.output.md).write_text(claims.claims_markdown(res, sm.params.suite))
with open(sm.log[0], "w") as fh:
    fh.write(f"{len(found)} claims, {len(res)} statements: {res['verdict'].value_counts().to_dict()}\n")
