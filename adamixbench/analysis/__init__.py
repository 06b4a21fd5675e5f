"""The analysis layer: run records -> tables, statistics, claims and plots.

It reads run records (JSON) and suite metadata only; it never imports the training engine, torch or the
methods (tests/pipeline/test_layers.py checks it), so the workflow's analysis rules run on any machine
that holds the records. Modules: `aggregate` (records -> per-cell summaries and the paper's tables),
`stats` (paired tests, Holm, power, stratified-bootstrap aggregates), `claims` (the paper's claims and
their verdicts), `plots` (figures).
"""
