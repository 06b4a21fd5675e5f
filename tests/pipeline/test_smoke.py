"""Smoke mode: a paper suite's WHOLE DAG on tiny random stand-ins (real engine, CPU, offline).

`snakemake --config suite=<suite> smoke=true` must train every run of the suite's matrix (first seed),
write every table, plot and the HTML report. CI runs all five paper suites (1.5-3.6 min each on 2 idle
cores with the warm engine, docs/PERFORMANCE.md); `make smoke` runs them through Snakemake itself.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from .helpers import REPO, snakemake

PAPER_SUITES = ["glue_roberta_large", "glue_bert_base", "nlg_gpt2_medium", "fewshot", "ablations"]


def _expected_runs(suite: str) -> set[tuple[str, str, int]]:
    cfg = yaml.safe_load((REPO / "config" / "suites" / f"{suite}.yaml").read_text())
    runs = set()
    for exp in cfg["experiments"]:
        seed = exp.get("seeds", cfg.get("seeds"))[0]
        runs |= {(task, label, seed) for task in exp["tasks"] for label in exp["methods"]}
    return runs


@pytest.mark.slow
@pytest.mark.parametrize("suite", PAPER_SUITES)
def test_smoke_runs_the_whole_suite(tmp_path, suite):
    result = snakemake(["--cores", "2", "--config", f"suite={suite}", "smoke=true"], tmp_path, timeout=3600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    out = tmp_path / "results" / f"{suite}-smoke"
    expected = _expected_runs(suite)
    records = {}
    for task, label, seed in expected:
        path = out / "runs" / task / label / f"seed{seed}" / "metrics.json"
        assert path.is_file(), f"no run record {path}"
        records[(task, label)] = json.loads(path.read_text())
    failed = {key: rec["failure_reason"] for key, rec in records.items() if rec["status"] != "ok"}
    assert not failed, f"smoke runs failed: {failed}"
    assert all(rec["model"].startswith("standin:") for rec in records.values())
    assert all(rec["history"][-1]["step"] <= 2 for rec in records.values())
    # a local workflow forks its runs from the warm engine (adamixbench/engine/server.py)
    assert {rec["provenance"]["engine_process"] for rec in records.values()} == {"warm engine fork"}
    if suite == "nlg_gpt2_medium":  # per-task method parameters reach the run (AdaMix upstream: DART dropout 0)
        assert records[("dart", "adamix_lora")]["method_params"]["lora_dropout"] == 0.0
        assert records[("e2e", "adamix_lora")]["method_params"]["lora_dropout"] == 0.1
    runs = pd.read_csv(out / "runs.csv")
    assert len(runs.groupby(["task", "method_label", "seed"])) == len(expected)
    cfg = yaml.safe_load((REPO / "config" / "suites" / f"{suite}.yaml").read_text())
    for table in cfg["analysis"]["tables"]:
        md = (out / "tables" / f"{table['name']}.md").read_text()
        assert md.startswith("SMOKE") and "Seeds per cell: 1" in md
        for kind in ("seed_scores", "pareto", "cost", "training_curves"):
            assert (out / "plots" / table["name"] / f"{kind}.png").stat().st_size > 1000
    report = tmp_path / "reports" / f"{suite}-smoke" / "report.html"
    result = snakemake(["--config", f"suite={suite}", "smoke=true", "--report", str(report)], tmp_path)
    assert result.returncode == 0, result.stderr[-4000:]
    assert report.stat().st_size > 50_000
