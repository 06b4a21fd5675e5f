"""The analysis layer: run records -> tables, statistics, claims and plots.

It reads run records (JSON) and suite metadata only; it never imports the training engine, torch or the
methods (tests/pipeline/test_layers.py checks it), so the workflow's analysis rules run on any machine
that holds the records. Modules, in the order of the stages (each imports only those above it, and
`stats`):

* `records`      run records -> tidy frames (runs.csv, history.csv), failed runs, unavailable scores;
* `layouts`      which (task, metric) columns a table has, the paper's tables, task display names;
* `render`       numbers, p-values and parameter counts as text; Markdown and LaTeX tables;
* `tables`       per-cell summaries over seeds (summary.csv), the tables in a layout, the paper's numbers;
* `comparisons`  paired tests per column, "X vs AdaMix(X)", normalised scores and the aggregates and
                 ranks across columns (rliable, autorank);
* `budget`       the training budget: what a table's runs trained (every caption), the budget table,
                 the budget to reach the plain method's final score;
* `claims`       the paper's claims and their verdicts;
* `plots`        figures;
* `stats`        the statistics themselves (pure functions; every reported statistic named once).
"""
