"""`snakemake -n` validates every run spec completely, with the engine's own checks, before any job: each
method checks its params, plug-ins are imported, inference modes are checked against the method and its
experts; a backbone missing offline is a warning in a dry-run and an error before any job in a real run.
(Schema-level rejections: test_workflow.py; the engine's own rejections: tests/engine/test_bad_inputs.py.)"""

from __future__ import annotations

import textwrap

import pytest

from .helpers import snakemake

BAD_METHODS = """
suite: bad
seeds: [1]
methods:
  ok: {method: lora, params: {r: 4}}
  ada_zero_experts: {method: adamix_adapter, params: {num_experts: 0}}
  ada_negative_bottleneck: {method: adamix_adapter, params: {bottleneck: -1}}
  lora_unknown_param: {method: lora, params: {rank: 8}}
  lora_r_string: {method: lora, params: {r: "8"}}
  houlsby_unknown_preset: {method: houlsby, params: {preset: nope}}
  ada_fixed_9_of_4: {method: adamix_adapter, inference: "fixed:9"}
  plugin_missing: {method: "no_such_package.methods:prepare"}
  lora_with_inference: {method: lora, inference: merge}
  ada_two_experts: {method: adamix_adapter, params: {num_experts: 2}}
experiments:
  - name: e
    family: glue
    model: minilm-l6
    tasks: [sst2]
    methods: [ok, ada_zero_experts, ada_negative_bottleneck, lora_unknown_param, lora_r_string,
              houlsby_unknown_preset, ada_fixed_9_of_4, plugin_missing, lora_with_inference, ada_two_experts]
    eval_inference_modes: [merge, "fixed:1"]
    overrides: [{methods: [ada_two_experts], train: {epochs: 1}}]
"""

EXPECTED = {
    "ada_zero_experts": "num_experts=0",
    "ada_negative_bottleneck": "bottleneck=-1",
    "lora_unknown_param": "unknown parameter(s) ['rank']",
    "lora_r_string": "'r'='8'",
    "houlsby_unknown_preset": "no preset 'nope'",
    "ada_fixed_9_of_4": "['fixed:9'] not available for method 'adamix_adapter' with num_experts=4",
    "plugin_missing": "cannot import module 'no_such_package.methods'",
    "lora_with_inference": "method 'lora' has no inference routing",
}


def _suite(tmp_path, text):
    path = tmp_path / "suite.yaml"
    path.write_text(textwrap.dedent(text))
    return path


@pytest.mark.slow
def test_dry_run_reports_every_bad_run_spec_before_any_job(tmp_path):
    r = snakemake(["-n", "--configfile", str(_suite(tmp_path, BAD_METHODS))], tmp_path)
    out = r.stdout + r.stderr
    assert r.returncode != 0 and "Job stats" not in out
    for label, message in EXPECTED.items():
        line = next((x for x in out.splitlines() if message in x), None)
        assert line is not None, f"{label}: {message!r} not reported:\n{out[-4000:]}"
        runs = out.split(line, 1)[1].splitlines()[1]
        assert f"sst2/{label}/seed1" in runs, runs
    # fixed:1 exists with the default 4 experts and with 2: only fixed:5-style modes would fail
    assert "sst2/ok/seed1" not in out and "ada_two_experts" not in out


@pytest.mark.slow
def test_eval_mode_beyond_num_experts_is_rejected(tmp_path):
    text = BAD_METHODS.replace('eval_inference_modes: [merge, "fixed:1"]', 'eval_inference_modes: [merge, "fixed:3"]')
    r = snakemake(["-n", "--configfile", str(_suite(tmp_path, text))], tmp_path)
    out = r.stdout + r.stderr
    assert r.returncode != 0
    assert "['fixed:3'] not available for method 'adamix_adapter' with num_experts=2" in out
    assert "sst2/ada_two_experts/seed1" in out


MISSING_MODEL = """
suite: nomodel
seeds: [1]
methods: {lora: {method: lora}}
experiments:
  - {name: e, family: glue, model: ./no/such/backbone, tasks: [sst2], methods: [lora]}
"""


@pytest.mark.slow
def test_missing_backbone_warns_in_a_dry_run_and_stops_a_real_run_before_any_job(tmp_path):
    cfg = str(_suite(tmp_path, MISSING_MODEL))
    r = snakemake(["-n", "--configfile", cfg], tmp_path)
    out = r.stdout + r.stderr
    assert r.returncode == 0 and "Job stats" in out
    assert "warning: option model (--model): local path ./no/such/backbone does not exist" in out
    r = snakemake(["--cores", "1", "--configfile", cfg], tmp_path)
    out = r.stdout + r.stderr
    assert r.returncode != 0 and "error: option model (--model): local path ./no/such/backbone" in out
    assert not (tmp_path / "results" / "nomodel" / "logs").exists()  # no job started
