"""The Snakemake workflow: lint, dry-runs of every suite, schema rejection, and an end-to-end run with a
fake engine (synthetic records incl. a failed run) producing the CSV, tables, plots, report; resuming."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pandas as pd
import pytest
import yaml

from .helpers import REPO, fake_engine_env, snakemake

SUITES = sorted(p.stem for p in (REPO / "config" / "suites").glob("*.yaml"))


def test_all_expected_suites_exist():
    assert {"mini", "glue_roberta_large", "glue_bert_base", "nlg_gpt2_medium", "fewshot", "ablations"} <= set(SUITES)


def test_lint_clean(tmp_path):
    r = snakemake(["--lint"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Congratulations" in r.stdout + r.stderr


@pytest.mark.parametrize("suite", SUITES)
def test_dry_run_every_suite(tmp_path, suite):
    r = snakemake(["-n", "--config", f"suite={suite}"], tmp_path)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "train" in out and "aggregate" in out and "table" in out and "plot" in out


def test_default_suite_is_mini(tmp_path):
    r = snakemake(["-n"], tmp_path)
    assert r.returncode == 0, r.stderr
    out = r.stdout + r.stderr
    assert "results/mini/runs/sst2/adamix_lora/seed3/metrics.json" in out
    # 7 methods x 3 seeds on SST-2 + 2 x 3 on E2E
    train_line = next(line for line in out.splitlines() if line.startswith("train "))
    assert int(train_line.split()[1]) == 27


TINY = """
suite: tiny
output_root: results
seeds: [1, 2, 3]
methods:
  full_ft: {method: full_ft, train: {lr: 5.0e-5}}
  lora: {method: lora, params: {r: 4}}
  "lora[fail]": {method: lora, params: {fail: true}}
  adamix_adapter: {method: adamix_adapter, params: {num_experts: 2, bottleneck: 8}}
  adamix_lora: {method: adamix_lora}
experiments:
  - name: cls
    family: glue
    model: minilm-l6
    tasks: [sst2]
    methods: [full_ft, lora, "lora[fail]", adamix_adapter]
    train: {epochs: 1, max_train_samples: 32, max_eval_samples: 32, batch_size: 8, max_seq_len: 32}
    eval_inference_modes: [merge, random_sequence, "fixed:0"]
  - name: nlg
    family: nlg
    model: smollm2-135m
    tasks: [e2e]
    methods: [lora, adamix_lora]
    seeds: [1, 2]
    train: {epochs: 1, max_train_samples: 8, max_eval_samples: 4, num_beams: 1, max_new_tokens: 8}
analysis:
  tables:
    - {name: sst2, layout: primary, tasks: [sst2], inference_rows: true, routing_violin: adamix_adapter}
    - {name: e2e, layout: nlg_e2e, paper_table: nlg_e2e}
  paper_rows: {lora: "LoRA|0.35M", adamix_lora: "AdaMix LoRA"}
  bootstrap: {n: 200}
  aso: {bootstrap: 50}
"""


def _write(tmp_path: Path, text: str, name: str = "suite.yaml") -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def _bad(tmp_path, old: str, new: str) -> str:
    assert old in TINY
    cfg = _write(tmp_path, TINY.replace(old, new, 1))
    r = snakemake(["-n", "--configfile", str(cfg)], tmp_path)
    assert r.returncode != 0, "a bad config must fail"
    out = r.stdout + r.stderr
    assert "Job stats" not in out  # failed before building any job
    return out


def test_schema_rejects_unknown_key(tmp_path):
    out = _bad(tmp_path, "train: {epochs: 1,", "train: {epoch: 1,")
    assert "experiments[0].train" in out and "'epoch'" in out and "'epochs'" in out and "allowed keys" in out


def test_schema_rejects_bad_task_naming_allowed_values(tmp_path):
    out = _bad(tmp_path, "tasks: [sst2]", "tasks: [sst3]")
    assert "experiments[0].tasks[0]" in out and "'sst3'" in out and "'sst2'" in out and "'cola'" in out


def test_schema_rejects_bad_method_and_selection(tmp_path):
    out = _bad(tmp_path, "lora: {method: lora, params: {r: 4}}", "lora: {method: loar, params: {r: 4}}")
    assert (
        "methods.lora.method" in out
        and "'loar'" in out
        and "'adamix_adapter'" in out
        and "module" not in out.split("'loar'")[0][-5:]
    )
    out = _bad(tmp_path, "max_seq_len: 32}", "max_seq_len: 32, selection: best}")
    assert "selection" in out and "'best'" in out and "'heldout'" in out


def test_schema_rejects_unknown_label_and_suite(tmp_path):
    out = _bad(tmp_path, '"lora[fail]", adamix_adapter]', '"lora[fail]", adamix]')
    assert "experiments[0].methods" in out and "'adamix'" in out and "adamix_adapter" in out
    r = snakemake(["-n", "--config", "suite=nope"], tmp_path)
    assert r.returncode != 0 and "unknown suite 'nope'" in r.stdout + r.stderr and "mini" in r.stdout + r.stderr


def test_schema_rejects_bad_inference_mode(tmp_path):
    out = _bad(tmp_path, '"fixed:0"]', '"fixed:x"]')
    assert "eval_inference_modes[2]" in out and "'merge'" in out and "fixed:[0-9]+" in out


def test_gpu_memory_rule_naming_an_unknown_label_is_rejected(tmp_path):
    out = _bad(tmp_path, "analysis:\n", "resources: {gpu_mem_mb: [{methods: [lorra], mb: 4000}]}\nanalysis:\n")
    assert "resources.gpu_mem_mb[0].methods: unknown value 'lorra'" in out and "'lora'" in out


def test_gpu_memory_below_the_schema_minimum_is_rejected(tmp_path):
    out = _bad(tmp_path, "analysis:\n", "resources: {gpu_mem_mb: 10}\nanalysis:\n")
    assert "resources.gpu_mem_mb" in out


def test_suite_file_without_suite_key_is_rejected(tmp_path):
    cfg = _write(tmp_path, TINY.replace("suite: tiny\n", "", 1))
    r = snakemake(["-n", "--configfile", str(cfg)], tmp_path)
    out = r.stdout + r.stderr
    assert r.returncode != 0 and "Job stats" not in out
    assert "suite.yaml: the suite file has no `suite:` key; add `suite: <name>`" in out


def test_yaml_number_read_as_string_gets_a_hint(tmp_path):
    out = _bad(tmp_path, "max_seq_len: 32}", "max_seq_len: 32, lr: 5e-3}")
    assert "experiments[0].train.lr" in out and "'5e-3'" in out and "5.0e-3" in out


def test_family_option_in_an_experiment_of_another_family_is_rejected(tmp_path):
    out = _bad(tmp_path, "max_seq_len: 32}", "max_seq_len: 32, num_beams: 4}")
    assert "experiments[0] ('cls')" in out and "num_beams" in out and "nlg runs only" in out


def test_config_override_merges_into_the_suite(tmp_path):
    """`--config 'defaults={max_steps: 2}'` adds max_steps and keeps the suite's other defaults."""
    calls = tmp_path / "calls.jsonl"
    target = "results/mini/runs/sst2/lora/seed1/metrics.json"
    r = snakemake(["--cores", "1", target, "--config", "defaults={max_steps: 2}"], tmp_path, fake_engine_env(calls))
    assert r.returncode == 0, r.stderr[-3000:]
    spec = json.loads(calls.read_text().splitlines()[0])
    defaults = yaml.safe_load((REPO / "config" / "suites" / "mini.yaml").read_text())["defaults"]
    assert spec["max_steps"] == 2 and defaults and all(spec[k] == v for k, v in defaults.items())
    assert (spec["suite"], spec["label"], spec["task"], spec["seed"]) == ("mini", "lora", "sst2", 1)


@pytest.mark.slow
def test_end_to_end_with_fake_engine_and_resume(tmp_path):
    """Tiny suite, synthetic engine: run records -> runs.csv, tables, plots, HTML report; failed runs
    visible; a rerun redoes only the missing run."""
    calls = tmp_path / "calls.jsonl"
    env = fake_engine_env(calls)
    cfg = _write(tmp_path, TINY)
    r = snakemake(["--cores", "2", "--configfile", str(cfg)], tmp_path, env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-6000:]
    out = tmp_path / "results" / "tiny"
    lines = calls.read_text().splitlines()
    first = [json.loads(x) for x in lines if json.loads(x)["cmd"] == "train"]
    rescored = [json.loads(x) for x in lines if json.loads(x)["cmd"] == "rescore"]
    assert len(first) == 4 * 3 + 2 * 2 and len(rescored) == 3  # the AdaMix runs' extra inference modes
    assert all(c["inference_modes"] == "merge,random_sequence,fixed:0" for c in rescored)
    ada = next(c for c in first if c["method"] == "adamix_adapter")
    assert ada["eval_inference_modes"] == [] and ada["epochs"] == 1  # scoring options are rule score's
    assert ada["method_params"] == {"bottleneck": 8, "num_experts": 2}
    assert (ada["suite"], ada["experiment"], ada["label"]) == ("tiny", "cls", "adamix_adapter")
    assert ada["max_grad_norm"] == 1.0 and ada["selection"] == "paper"  # every option, defaults filled in
    full = next(c for c in first if c["method"] == "full_ft")
    assert full["lr"] == 5e-5 and "eval_inference_modes" not in {k for k, v in full.items() if v}
    nlg = next(c for c in first if c["task"] == "e2e")
    assert nlg["num_beams"] == 1 and nlg["model"] == "smollm2-135m"
    assert all("num_beams" not in c for c in first if c["task"] == "sst2")
    spec_file = out / "runs" / "sst2" / "adamix_adapter" / "seed1" / "spec.json"
    assert (
        json.loads(spec_file.read_text())
        == json.loads((out / "runs" / "sst2" / "adamix_adapter" / "seed1" / "metrics.json").read_text())["spec"]
    )

    runs = pd.read_csv(out / "runs.csv")
    failed = runs[runs["status"] == "failed"]
    assert set(failed["method_label"]) == {"lora[fail]"} and set(failed["seed"]) == {1, 2, 3}
    assert (out / "benchmarks" / "train" / "sst2" / "lora" / "seed1.tsv").exists()
    md = (out / "tables" / "sst2.md").read_text()
    assert "failed (3/3)" in md and "adamix_adapter @random_sequence" in md and "±" in md
    e2e = (out / "tables" / "e2e.md").read_text()
    assert "[paper 70.4" in e2e and "BLEU" in e2e and "CIDEr" in e2e
    assert (out / "tables" / "sst2.tex").read_text().count(r"\\") >= 5
    assert "lora[fail]" in (out / "tables" / "failed_runs.md").read_text()
    paired = pd.read_csv(out / "tables" / "sst2_paired.csv")
    assert set(paired["reference"]) == {"adamix_adapter"}
    assert paired[paired["baseline"] == "lora[fail]"]["note"].str.startswith("n/a").all()
    assert (paired[paired["baseline"] == "lora"]["n"] == 3).all()
    assert {"t_p_holm", "wilcoxon_p_holm", "aso_eps"} <= set(paired.columns)
    aggregate = pd.read_csv(out / "tables" / "sst2_aggregate.csv")
    assert set(aggregate["kind"]) == {"aggregate", "probability_of_improvement"}
    assert "IQM [95% CI]" in (out / "tables" / "sst2_aggregate.md").read_text()
    assert "No claims" in (out / "tables" / "claims.md").read_text()  # no claim of claims.yaml names `tiny`
    for kind in (
        "seed_scores",
        "pareto",
        "cost",
        "training_curves",
        "routing_violin",
        "aggregate",
        "prob_improvement",
        "performance_profile",
        "critical_difference",
    ):
        assert (out / "plots" / "sst2" / f"{kind}.png").stat().st_size > 1000
        assert (out / "plots" / "sst2" / f"{kind}.svg").exists()

    # nothing to redo
    r = snakemake(["--cores", "2", "--configfile", str(cfg)], tmp_path, env)
    assert r.returncode == 0 and len(calls.read_text().splitlines()) == len(lines)
    # an interrupted / lost run: only that one is redone
    (out / "runs" / "sst2" / "lora" / "seed2" / "metrics.json").unlink()
    r = snakemake(["--cores", "2", "--configfile", str(cfg)], tmp_path, env)
    assert r.returncode == 0, r.stderr[-4000:]
    new = calls.read_text().splitlines()[len(lines) :]
    assert [(json.loads(x)["task"], json.loads(x)["label"], json.loads(x)["seed"]) for x in new] == [
        ("sst2", "lora", 2)
    ]

    # one more inference mode: scoring reruns from the saved weights, training does not
    done = len(calls.read_text().splitlines())
    cfg.write_text(
        cfg.read_text().replace(
            'eval_inference_modes: [merge, random_sequence, "fixed:0"]',
            'eval_inference_modes: [merge, random_sequence, "fixed:0", ensemble]',
        )
    )
    r = snakemake(["--cores", "2", "--configfile", str(cfg)], tmp_path, env)
    assert r.returncode == 0, r.stderr[-4000:]
    new = [json.loads(x) for x in calls.read_text().splitlines()[done:]]
    assert {c["cmd"] for c in new} == {"rescore"} and len(new) == 3
    assert "adamix_adapter @ensemble" in (out / "tables" / "sst2.md").read_text()

    report = tmp_path / "reports" / "tiny" / "report.html"
    r = snakemake(["--configfile", str(cfg), "--report", str(report)], tmp_path, env)
    assert r.returncode == 0, r.stderr[-4000:]
    assert report.stat().st_size > 50_000
