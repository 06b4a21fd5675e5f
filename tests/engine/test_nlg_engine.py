"""The NLG path: completion-only loss, consistency positions, deterministic decoding, a full E2E run."""

import json

import pytest
import torch
import torch.nn.functional as F
from transformers import AutoTokenizer

from adamixbench.engine.cli import RECORD_FILE, main
from adamixbench.engine.config import RunConfig
from adamixbench.engine.trainer import _loader, keep_outputs
from adamixbench.sources.paths import GPT2_TOKENIZER_DIR
from adamixbench.sources.standins import random_model
from adamixbench.tasks.generation import IGNORE, build_nlg_task
from adamixbench.tasks.nlg import load_nlg

TOKENIZER = GPT2_TOKENIZER_DIR


@pytest.fixture(scope="module")
def tiny_gpt2_dir(tmp_path_factory):
    """A 2-layer random GPT-2 (fused Conv1D c_attn) with the real GPT-2 tokenizer (fetched by `make setup`)."""
    if not (TOKENIZER / "vocab.json").is_file():  # git-ignored: absent in a fresh clone before `make setup`
        pytest.skip(
            f"the GPT-2 tokenizer is not in {TOKENIZER.relative_to(TOKENIZER.parents[1])}: run "
            "`bash scripts/fetch_gpt2_tokenizer.sh` (part of `make setup`) to run the NLG engine tests"
        )
    path = tmp_path_factory.mktemp("tiny-gpt2")
    tokenizer = AutoTokenizer.from_pretrained(TOKENIZER)
    random_model(
        "gpt2",
        "causal_lm",
        vocab_size=len(tokenizer),
        hidden=32,
        layers=2,
        heads=2,
        max_position_embeddings=128,
        seed=0,
    ).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


def config(out, model, **overrides):
    values = dict(
        task="e2e",
        method="lora",
        seed=1,
        model=model,
        out=str(out),
        max_train_samples=2,
        max_eval_samples=3,
        batch_size=4,
        max_seq_len=64,
        num_beams=2,
        max_new_tokens=6,
        epochs=1,
    )
    return RunConfig(**{**values, **overrides})


def test_generation_prompts_are_left_padded_and_training_rows_right_padded():
    """Decoding continues each prompt after its last token, so a batch of prompts is padded on the LEFT
    (the mask marks the padding); training rows are padded on the right, their labels with IGNORE."""
    from adamixbench.tasks.generation import NLGCollator

    collate = NLGCollator(pad_id=0)
    prompts = collate([{"input_ids": [5, 6, 7], "group": 1}, {"input_ids": [8], "group": 0}])
    assert prompts["input_ids"].tolist() == [[5, 6, 7], [0, 0, 8]]
    assert prompts["attention_mask"].tolist() == [[1, 1, 1], [0, 0, 1]] and prompts["group"].tolist() == [1, 0]
    rows = collate([{"input_ids": [5, 6], "labels": [IGNORE, 6]}, {"input_ids": [8, 9, 4], "labels": [IGNORE, 9, 4]}])
    assert rows["input_ids"].tolist() == [[5, 6, 0], [8, 9, 4]]
    assert rows["attention_mask"].tolist() == [[1, 1, 0], [1, 1, 1]]
    assert rows["labels"].tolist() == [[IGNORE, 6, IGNORE], [IGNORE, 9, 4]]


def test_loss_covers_completion_tokens_only_and_consistency_positions_match(tmp_path, tiny_gpt2_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_gpt2_dir)
    task = build_nlg_task(config(tmp_path, tiny_gpt2_dir, label_smoothing=0.0), tokenizer)
    row = task.train[0]
    eos = tokenizer.eos_token_id
    prompt_len = row["labels"].index(next(x for x in row["labels"] if x != IGNORE))  # `<bos> <source>` ...
    assert all(label == IGNORE for label in row["labels"][:prompt_len])
    assert row["labels"][prompt_len:] == row["input_ids"][prompt_len:] and row["labels"][-1] == eos  # ... target eos
    assert row["input_ids"][0] == eos  # GPT-2: bos is eos
    source = tokenizer.decode(row["input_ids"][1:prompt_len])
    assert source == load_nlg("e2e", "train", max_examples=2)[0].source
    assert tokenizer.decode(row["input_ids"][prompt_len:-1]).startswith(" ")
    batch = task.collator(tokenizer)([{k: task.train[i][k] for k in ("input_ids", "labels")} for i in range(3)])
    logits = torch.randn(*batch["input_ids"].shape, len(tokenizer))
    mask = task.consistency_mask(batch)
    keep = mask.bool()
    predicted = batch["labels"][:, 1:][keep[:, :-1]]
    assert (predicted != IGNORE).all() and keep.sum() == (batch["labels"] != IGNORE).sum()
    expected = F.cross_entropy(logits[keep], predicted)  # completion positions only
    torch.testing.assert_close(task.loss(logits, batch), expected)
    smoothed = build_nlg_task(config(tmp_path, tiny_gpt2_dir, label_smoothing=0.1), tokenizer)
    torch.testing.assert_close(
        smoothed.loss(logits, batch), F.cross_entropy(logits[keep], predicted, label_smoothing=0.1)
    )


def test_decoding_is_deterministic_and_files_are_written(tmp_path, tiny_gpt2_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_gpt2_dir)
    task = build_nlg_task(config(tmp_path, tiny_gpt2_dir), tokenizer)
    model = task.load_model(tiny_gpt2_dir).eval()
    loader = _loader(task.report["test"], task.collator(tokenizer), batch_size=2)
    first = task.evaluate(model, loader, torch.device("cpu"), "test")
    assert not (tmp_path / "generations").exists()  # the task computes; the trainer writes
    notes = {}
    scores = keep_outputs(tmp_path, "test", first, notes)
    hyps = (tmp_path / "generations" / "test.hyp.txt").read_text()
    assert hyps.splitlines() == first.outputs.hypotheses and notes == first.unavailable
    again = task.evaluate(model, loader, torch.device("cpu"), "test")
    assert again.scores == scores and again.outputs == first.outputs
    assert hyps.count("\n") == 3 and set(scores) >= {"bleu", "nist", "rouge_l", "cider"}
    assert (tmp_path / "generations" / "test.ref.txt").read_text().count("\n\n") == 3  # one group per input


def test_e2e_run_with_adamix_lora_on_fused_c_attn(tmp_path, tiny_gpt2_dir):
    out = tmp_path / "run"
    code = main(
        [
            "train",
            "--task",
            "e2e",
            "--method",
            "adamix_lora",
            "--seed",
            "1",
            "--model",
            tiny_gpt2_dir,
            "--out",
            str(out),
            "--max-train-samples",
            "2",
            "--max-eval-samples",
            "2",
            "--batch-size",
            "8",
            "--max-seq-len",
            "64",
            "--num-beams",
            "2",
            "--max-new-tokens",
            "4",
            "--epochs",
            "1",
        ]
    )
    record = json.loads((out / RECORD_FILE).read_text())
    assert code == 0 and record["status"] == "ok", record.get("traceback")
    assert record["task_family"] == "nlg" and record["selection"] == "last" and record["report_splits"] == ["test"]
    assert record["params"]["inference"] == 2 * (2 * 4 * 32 + 2 * 32 * 4)  # r=4 on q and v of c_attn
    assert record["params"]["head"] == 0 and set(record["scores"]) >= {"bleu", "nist", "meteor", "rouge_l", "cider"}
    assert record["method_params"]["consistency_weight"] == 100.0
    hyps = (out / "generations" / "test.hyp.txt").read_text().splitlines()
    assert len(hyps) == 2  # one decoded text per input, written by the trainer next to the record
    assert set(record["metric_notes"]) <= {"meteor"}  # METEOR is the one metric that can be unavailable


def test_paper_selection_is_rejected_for_nlg(tmp_path, tiny_gpt2_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_gpt2_dir)
    with pytest.raises(ValueError, match="decodes the last checkpoint"):
        build_nlg_task(config(tmp_path, tiny_gpt2_dir, selection="paper"), tokenizer)


@pytest.mark.parametrize("max_seq_len, max_new_tokens", [(16, 24), (64, 5)])
def test_decoding_is_bounded_by_max_new_tokens_not_max_seq_len(tmp_path, tiny_gpt2_dir, max_seq_len, max_new_tokens):
    """With eos suppressed (a model that never stops), every prompt decodes exactly `max_new_tokens` new
    tokens, whether that is more or fewer than `max_seq_len` (which bounds the prompts and training rows)."""
    tokenizer = AutoTokenizer.from_pretrained(tiny_gpt2_dir)
    cfg = config(tmp_path, tiny_gpt2_dir, max_seq_len=max_seq_len, max_new_tokens=max_new_tokens, num_beams=1)
    task = build_nlg_task(cfg, tokenizer)
    assert task.decoding.max_new_tokens == max_new_tokens
    model = task.load_model(tiny_gpt2_dir).eval()
    model.generation_config.suppress_tokens = [tokenizer.eos_token_id]  # only the length bound stops decoding
    batch = next(iter(_loader(task.report["test"], task.collator(tokenizer), batch_size=3)))
    batch.pop("group")
    assert batch["input_ids"].shape[1] <= max_seq_len
    assert task.generate(model, batch).shape == (3, max_new_tokens)
