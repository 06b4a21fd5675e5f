"""Prompt-based fine-tuning (`--prompt`): label words at the mask token, scored by the masked-LM head."""

import json
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from transformers import AutoTokenizer, BertForMaskedLM

from adamixbench.engine.cli import RECORD_FILE, main
from adamixbench.tasks.fewshot import label_word_ids
from adamixbench.tasks.prompting import PromptTask, build_prompt_task, load_masked_lm
from tests.engine.engine_testutil import HIDDEN, LAYERS, MINILM, save_tiny_bert, tiny_bert, train


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(MINILM)


@pytest.fixture(scope="module")
def tiny_mlm_dir(tmp_path_factory, tokenizer):
    """A 2-layer BertForMaskedLM with MiniLM's vocabulary (30522), saved like any local checkpoint."""
    return save_tiny_bert("masked_lm", tmp_path_factory.mktemp("tiny-mlm"), tokenizer)


def _total_params(path: str) -> int:
    return sum(p.numel() for p in BertForMaskedLM.from_pretrained(path).parameters())  # tied decoder once


def run_prompt(tmp_path, model, method, *extra, task="sst2"):
    return train(
        model,
        tmp_path / f"{task}-{method}",
        "--prompt",
        *extra,
        task=task,
        method=method,
        fewshot_k=16,
        fewshot_split=13,
        fewshot_protocol="lmbff",
        max_eval_samples=48,
        epochs=2,
        batch_size=8,
        max_seq_len=48,
        log_every=1,
    )


@pytest.mark.parametrize("method", ["adamix_adapter", "lora"])
def test_prompt_run_writes_a_complete_record(tmp_path, tiny_mlm_dir, method):
    code, record = run_prompt(tmp_path, tiny_mlm_dir, method)
    assert code == 0 and record["status"] == "ok", record.get("traceback") if record else "no record"
    assert record["task_family"] == "fewshot" and record["spec"]["prompt"] is True
    assert record["selection"] == "last" and record["best_epoch"] == 2
    accuracy = record["scores"]["accuracy"]
    assert set(record["scores"]) == {"accuracy"} and 0 <= accuracy <= 100
    assert accuracy * 48 / 100 == pytest.approx(round(accuracy * 48 / 100))  # 48 evaluation sentences
    assert len(record["history"]) == 2 and record["history"][-1]["step"] == 2 * 4  # 32 rows (16 per class) / 8
    params = record["params"]
    total = _total_params(tiny_mlm_dir)
    assert params["head"] == 0  # no classifier head; the MLM head is pretrained and frozen
    assert params["backbone"] == total
    if method == "adamix_adapter":  # BERT default bottleneck 48, 4 Down experts + 1 shared Up per layer
        assert params["inference"] == LAYERS * (2 * HIDDEN * 48 + 48 + HIDDEN)
        assert params["trainable"] == LAYERS * (4 * (HIDDEN * 48 + 48) + 48 * HIDDEN + HIDDEN)
        assert record["inference_mode"] == "merge"
    else:  # LoRA r=8 on query and value
        assert params["inference"] == params["trainable"] == LAYERS * 2 * 8 * (HIDDEN + HIDDEN)
    assert 0 < record["cost"]["train_real_tokens"] <= 2 * 32 * 48


def test_prompt_full_ft_trains_the_mlm_head(tmp_path, tiny_mlm_dir):
    code, record = run_prompt(tmp_path, tiny_mlm_dir, "full_ft", "--max-steps", "2")
    assert code == 0 and record["status"] == "ok", record.get("traceback") if record else "no record"
    total = _total_params(tiny_mlm_dir)
    assert record["params"] == {"trainable": total, "inference": total, "backbone": total, "head": 0}


def test_prompt_on_full_glue_data(tmp_path, tiny_mlm_dir):
    """Without --fewshot-k: the shipped GLUE RTE subset, best dev epoch (paper selection)."""
    out = tmp_path / "rte-glue"
    code = main(
        [
            "train",
            "--task",
            "rte",
            "--prompt",
            "--method",
            "bitfit",
            "--seed",
            "1",
            "--model",
            tiny_mlm_dir,
            "--out",
            str(out),
            "--max-train-samples",
            "16",
            "--max-eval-samples",
            "16",
            "--epochs",
            "1",
            "--batch-size",
            "8",
            "--max-seq-len",
            "64",
        ]
    )
    record = json.loads((out / RECORD_FILE).read_text())
    assert code == 0 and record["status"] == "ok", record.get("traceback")
    assert record["task_family"] == "glue" and record["selection"] == "paper" and "eval" in record["history"][0]
    assert record["params"]["head"] == 0


def test_no_mlm_head_is_a_clear_error(tmp_path, capsys):
    """all-MiniLM-L6-v2 is a bare BertModel checkpoint: transformers would silently add a random MLM head."""
    code, record = run_prompt(tmp_path, "minilm-l6", "lora")
    assert code == 2 and record is None
    err = capsys.readouterr().err
    assert "backbone 'minilm-l6'" in err and "has no masked-LM head" in err and "cls.predictions" in err
    assert "drop --prompt to train a classifier head" in err
    assert "newly initialized" not in err  # our error replaces transformers' warning


def test_load_masked_lm_rejects_a_classifier_checkpoint_head_and_accepts_a_real_one(tmp_path, tiny_mlm_dir, tokenizer):
    path = tmp_path / "seqcls"
    tiny_bert("seq_cls", tokenizer.vocab_size, layers=1).save_pretrained(path)
    with pytest.raises(ValueError, match="has no masked-LM head"):
        load_masked_lm(str(path), "seqcls")
    assert isinstance(load_masked_lm(tiny_mlm_dir), BertForMaskedLM)


def _task(tokenizer, words=(7, 9)):
    return PromptTask(
        name="sst2",
        family="fewshot",
        text_fields=("sentence",),
        num_labels=2,
        is_regression=False,
        primary_metric="accuracy",
        train=None,
        selection=None,
        mask_token_id=tokenizer.mask_token_id,
        label_words=words,
    )


def test_loss_reads_only_the_label_words_at_the_mask(tokenizer):
    task = _task(tokenizer)
    mask = tokenizer.mask_token_id
    input_ids = torch.tensor([[101, 5, mask, 102, 0], [101, mask, 6, 6, 102]])
    batch = {"input_ids": input_ids, "labels": torch.tensor([1, 0])}
    logits = torch.randn(2, 5, 30, generator=torch.Generator().manual_seed(0))
    at = [(0, 2), (1, 1)]
    expected = torch.nn.functional.cross_entropy(torch.stack([logits[r, c, [7, 9]] for r, c in at]), batch["labels"])
    assert torch.allclose(task.loss(logits, batch), expected)
    # anything outside (label words at the mask) leaves the loss unchanged ...
    changed = logits + 100 * torch.randn_like(logits)
    for r, c in at:
        changed[r, c, [7, 9]] = logits[r, c, [7, 9]]
    assert torch.allclose(task.loss(changed, batch), expected)
    # ... and the label words at the mask decide it
    flipped = logits.clone()
    flipped[0, 2, 9] += 50.0
    assert task.loss(flipped, batch) < expected
    assert torch.equal(task.consistency_mask(batch), input_ids == mask)
    with pytest.raises(ValueError, match="exactly one mask token"):
        task.loss(
            logits, {"input_ids": torch.tensor([[101, 5, 6, 102, 0], input_ids[1].tolist()]), "labels": batch["labels"]}
        )


def test_evaluate_is_argmax_over_label_words(tokenizer):
    task = _task(tokenizer)
    mask = tokenizer.mask_token_id

    class Fixed(torch.nn.Module):
        def forward(self, input_ids, attention_mask=None):
            logits = torch.zeros(*input_ids.shape, 30)
            logits[..., 3] = 99.0  # the arg-max over the whole vocabulary is no label word
            logits[0, 1, 9] = 1.0  # row 0 -> label 1 (word 9)
            logits[1, 2, 7] = 1.0  # row 1 -> label 0 (word 7)
            return SimpleNamespace(logits=logits)

    batch = {
        "input_ids": torch.tensor([[101, mask, 102], [101, 5, mask]]),
        "attention_mask": torch.ones(2, 3, dtype=torch.long),
        "labels": torch.tensor([1, 1]),
    }
    assert task.evaluate(Fixed(), [batch], "cpu").scores == {"accuracy": 50.0}


def test_build_prompt_task_protocols(tokenizer):
    def cfg(**kw):
        base = dict(
            task="sst2",
            fewshot_k=16,
            fewshot_split=13,
            fewshot_protocol="lmbff",
            data_dir=None,
            glue_data_dir=None,
            max_train_samples=None,
            max_eval_samples=8,
            data_seed=0,
            selection="last",
            heldout_fraction=0.25,
            max_seq_len=40,
            model="tiny",
        )
        return SimpleNamespace(**{**base, **kw})

    lmbff = build_prompt_task(cfg(), tokenizer)
    assert len(lmbff.train) == 32 and sorted(set(lmbff.train["labels"])) == [0, 1]
    assert lmbff.label_words == tuple(label_word_ids(tokenizer, "sst2"))
    assert lmbff.task_type == "masked_lm" and lmbff.selection is None
    row = lmbff.train[0]
    assert row["input_ids"].count(tokenizer.mask_token_id) == 1 and row["length"] == len(row["input_ids"]) <= 40
    assert "It was [MASK]." in tokenizer.decode(row["input_ids"]).replace("it was", "It was")
    listed = build_prompt_task(
        cfg(task="rte", fewshot_k=30, fewshot_split=1, fewshot_protocol="list", selection="heldout"), tokenizer
    )
    assert len(listed.train) + len(listed.selection) == 30 and len(listed.report["validation"]) == 8
    for split in (listed.train, listed.selection, listed.report["validation"]):
        assert all(ids.count(tokenizer.mask_token_id) == 1 for ids in split["input_ids"])
    with pytest.raises(ValueError, match="no prompt for task 'cola'"):
        build_prompt_task(cfg(task="cola", fewshot_k=None, selection="paper"), tokenizer)


def test_fewshot_mnli_without_glue_dev_files_names_the_fix(tmp_path, tiny_mlm_dir, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out = tmp_path / "mnli"
    code = main(
        [
            "train",
            "--task",
            "mnli",
            "--fewshot-k",
            "30",
            "--fewshot-split",
            "1",
            "--prompt",
            "--method",
            "lora",
            "--seed",
            "1",
            "--model",
            tiny_mlm_dir,
            "--out",
            str(out),
            "--glue-data-dir",
            str(tmp_path),
        ]
    )
    record = json.loads((out / RECORD_FILE).read_text())  # a run that cannot run: recorded as failed
    assert code == 0 and record["failure_class"] == "data_unavailable"
    assert "glue_data_dir" in record["failure_reason"]


def test_label_words_are_scored_in_label_order_when_their_ids_are_not_sorted(tokenizer):
    """Label 0's word has the larger vocabulary id (as SST-2's: 'terrible' 6659 > 'great' 2307): column k of
    the label logits is label k's word, for the loss and for the prediction."""
    words = tuple(label_word_ids(tokenizer, "sst2"))
    assert words[0] > words[1]
    task = _task(tokenizer, words=(9, 7))  # label 0 -> word 9, label 1 -> word 7
    mask = tokenizer.mask_token_id
    input_ids = torch.tensor([[101, mask, 102], [101, 5, mask]])
    logits = torch.zeros(2, 3, 30)
    logits[0, 1, 9] = 4.0  # row 0: label 0's word
    logits[1, 2, 7] = 4.0  # row 1: label 1's word
    assert torch.equal(task.label_logits(logits, input_ids), torch.tensor([[4.0, 0.0], [0.0, 4.0]]))
    batch = {"input_ids": input_ids, "labels": torch.tensor([0, 1])}
    assert torch.equal(task.predict(logits, batch), torch.tensor([0, 1]))
    expected = F.cross_entropy(torch.tensor([[4.0, 0.0], [0.0, 4.0]]), batch["labels"])
    torch.testing.assert_close(task.loss(logits, batch), expected)
