"""Rule `aggregate`: every run record -> runs.csv, history.csv, summary.csv, failed_runs.{md,csv}."""

from pathlib import Path

from adamixbench.analysis.records import failed_runs, history_frame, load_records, runs_frame
from adamixbench.analysis.render import table_markdown
from adamixbench.analysis.tables import summarize

sm = snakemake  # noqa: F821
# identities: what the run matrix expects at each path; each record's own identity is checked against it
records = load_records(sm.input.records, sm.params.identities, sm.input.scores)  # scores: rule score
runs = runs_frame(records, suite=sm.params.suite)
runs.to_csv(sm.output.runs, index=False)
history_frame(records).to_csv(sm.output.history, index=False)
boot = sm.params.bootstrap or {}
summarize(runs, n_boot=boot.get("n", 10_000), boot_seed=boot.get("seed", 0)).to_csv(sm.output.summary, index=False)
failed = failed_runs(runs)
failed.to_csv(sm.output.failed_csv, index=False)
Path(sm.output.failed_md).write_text(
    table_markdown(failed, f"Failed runs: {len(failed)} of {runs.groupby(['task', 'method_label', 'seed']).ngroups}")
    if len(failed)
    else "No failed runs.\n"
)
with open(sm.log[0], "w") as fh:
    fh.write(f"{len(records)} run records, {len(failed)} failed\n")
