"""What to run, decided without torch: the run options (spec), suites and their expansion into runs,
smoke mode, recipe cards and the GPU memory estimate. Snakemake's `workflow/rules/common.smk` and the
analysis read this room; it never imports the engine."""
