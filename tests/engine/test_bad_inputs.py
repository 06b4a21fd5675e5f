"""Every malformed input of issue 8 is rejected by the engine before any work: exit 2, a message naming the
option / parameter / file, its value and the fix, no traceback, and nothing written.

The same checks run for a whole suite before any job (tests/pipeline/test_bad_suites.py). Unavailable data
are not bad input but a run that cannot run: a failed record (tests/engine/test_unavailable_data.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from transformers.utils import logging as hf_logging

from adamixbench.engine.cli import RECORD_FILE, main

# transformers installs its log handler on first use, bound to the sys.stderr of that moment: do it now,
# not inside a test's capsys (whose stream is closed afterwards and would make later logging print errors)
hf_logging.get_logger("transformers")

REPO = Path(__file__).resolve().parents[2]
BASE = {
    "--task": "sst2",
    "--method": "lora",
    "--seed": "1",
    "--model": "minilm-l6",
    "--epochs": "1",
    "--max-train-samples": "8",
    "--max-eval-samples": "8",
}


def _existing_file(tmp_path: Path) -> str:
    path = tmp_path / "taken"
    path.write_text("x")
    return str(path)


def _spec_file(tmp_path: Path, spec) -> str:
    path = tmp_path / "spec.json"
    path.write_text(spec if isinstance(spec, str) else json.dumps(spec))
    return str(path)


SPEC = {"task": "sst2", "method": "lora", "seed": 1, "model": "minilm-l6"}

# (id, flags to change (None drops a flag), or a callable(tmp_path) -> flags; substrings of the message)
CASES = [
    (
        "num_experts_0",
        {"--method": "adamix_adapter", "--method-params": '{"num_experts": 0}'},
        ["adamix_adapter", "num_experts=0", "integer >= 1"],
    ),
    (
        "bottleneck_negative",
        {"--method": "adamix_adapter", "--method-params": '{"bottleneck": -1}'},
        ["bottleneck=-1", "integer >= 1"],
    ),
    (
        "houlsby_bottleneck_negative",
        {"--method": "houlsby", "--method-params": '{"bottleneck": -1}'},
        ["houlsby", "'bottleneck'=-1"],
    ),
    ("unknown_method_param", {"--method-params": '{"rank": 8}'}, ["unknown parameter(s) ['rank']", "'r'"]),
    ("r_as_string", {"--method-params": '{"r": "8"}'}, ["'r'='8'", "integer >= 1"]),
    (
        "unknown_preset",
        {"--method": "houlsby", "--method-params": '{"preset": "nope"}'},
        ["no preset 'nope'", "table1_0.8M"],
    ),
    (
        "param_inference_fixed_9_of_4",
        {"--method": "adamix_adapter", "--method-params": '{"inference": "fixed:9"}'},
        ["fixed:9", "num_experts=4"],
    ),
    (
        "flag_inference_fixed_9_of_4",
        {"--method": "adamix_adapter", "--inference": "fixed:9"},
        ["['fixed:9']", "num_experts=4", "fixed:3"],
    ),
    (
        "eval_mode_fixed_5_of_2",
        {
            "--method": "adamix_adapter",
            "--method-params": '{"num_experts": 2}',
            "--eval-inference-modes": "merge,fixed:5",
        },
        ["['fixed:5']", "num_experts=2", "fixed:1"],
    ),
    (
        "unknown_eval_mode",
        {"--method": "adamix_adapter", "--eval-inference-modes": "bogus"},
        ["inference mode 'bogus'", "random_sequence"],
    ),
    (
        "inference_on_lora",
        {"--inference": "merge"},
        ["option inference (--inference)", "'lora'", "AdaMix methods only"],
    ),
    (
        "eval_modes_on_lora",
        {"--eval-inference-modes": "merge,random_sequence"},
        ["eval_inference_modes", "'lora'", "remove"],
    ),
    (
        "unimportable_plugin",
        {"--method": "no_such_package.methods:prepare"},
        ["cannot import module 'no_such_package.methods'", "Registered methods"],
    ),
    ("plugin_without_callable", {"--method": "tests.engine.prepare_raises:nope"}, ["has no attribute 'nope'"]),
    (
        "plugin_raises_on_import",
        {"--method": "tests.engine.raising_plugin:prepare"},
        ["raised RuntimeError: this plug-in is broken on purpose", "tests.engine.raising_plugin"],
    ),
    (
        "plugin_prepare_raises",
        {"--method": "tests.engine.prepare_raises:prepare"},
        ["prepare() raised RuntimeError: prepare() is broken on purpose", "prepare_raises.py:"],
    ),
    ("warmup_ratio_1", {"--warmup-ratio": "1"}, ["warmup_ratio", "1.0", "[0, 1)"]),
    ("max_seq_len_2", {"--max-seq-len": "2"}, ["max_seq_len", "invalid value 2", ">= 8"]),
    ("num_beams_0", {"--task": "e2e", "--model": "smollm2-135m", "--num-beams": "0"}, ["num_beams", "invalid value 0"]),
    ("num_beams_on_glue", {"--num-beams": "4"}, ["num_beams", "nlg runs only", "remove it"]),
    (
        "selection_paper_on_nlg",
        {"--task": "e2e", "--model": "smollm2-135m", "--selection": "paper"},
        ["selection", "'paper'", "use last or heldout"],
    ),
    ("epochs_not_a_number", {"--epochs": "three"}, ["option epochs (--epochs)", "'three'", "number > 0"]),
    ("unknown_task", {"--task": "sts"}, ["unknown glue task 'sts'", "stsb"]),
    ("missing_task", {"--task": None}, ["missing --task"]),
    ("device_tpu9", {"--device": "tpu9"}, ["option device (--device)", "'tpu9'", "cuda:<index>"]),
    ("missing_local_model", {"--model": "./no/such/model"}, ["local path ./no/such/model does not exist"]),
    (
        "hub_model_not_cached_offline",
        {"--model": "roberta-large"},
        [
            "FacebookAI/roberta-large is not in the local Hugging Face cache at its pinned commit",
            "HF_HUB_OFFLINE=1",
            "run once online",
            "revision='722cf37b1afa9454edce342e7895e588b6ff1d59'",
            "or pass a local path",
        ],
    ),
    ("out_is_a_file", lambda tmp: {"--out": _existing_file(tmp)}, ["option out (--out)", "existing file"]),
    (
        "yaml_number_string_in_spec",
        lambda tmp: {"--spec": _spec_file(tmp, {**SPEC, "lr": "5e-3"})},
        ["option lr", "'5e-3'", "5.0e-3"],
    ),
    ("spec_not_json", lambda tmp: {"--spec": _spec_file(tmp, "{task: sst2")}, ["spec.json: not valid JSON"]),
    (
        "spec_unknown_key",
        lambda tmp: {"--spec": _spec_file(tmp, {**SPEC, "epoch": 1})},
        ["unknown run option(s) ['epoch']", "'epochs'"],
    ),
    ("spec_missing_file", {"--spec": "no/such/spec.json"}, ["--spec no/such/spec.json: cannot read it"]),
]
if not torch.cuda.is_available():
    CASES.append(
        (
            "device_cuda_on_cpu_torch",
            {"--device": "cuda"},
            ["option device (--device)", "'cuda'", "--device cpu or auto"],
        )
    )


@pytest.mark.parametrize("changes, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_rejected_before_any_work(tmp_path, capsys, monkeypatch, changes, expected):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.chdir(REPO)  # plug-ins are named as tests.engine.<module>
    out = tmp_path / "run"
    flags = {**BASE, "--out": str(out)}
    changes = changes(tmp_path) if callable(changes) else changes
    if "--spec" in changes:  # the spec file gives the run; only --out comes as a flag
        flags = {"--out": str(out)}
    flags.update(changes)
    argv = ["train"] + [x for flag, value in flags.items() if value is not None for x in (flag, value)]
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    for text in expected:
        assert text in err, f"{text!r} not in:\n{err}"
    assert "Traceback" not in err, err
    target = Path(flags["--out"])
    assert not (target.is_dir() and any(target.iterdir()))  # nothing written
    assert not (out / RECORD_FILE).exists()
