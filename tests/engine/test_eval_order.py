"""Evaluation order and decoding shortcuts change costs, never scores."""

from types import SimpleNamespace

import datasets
import torch

from adamix import AdaMixConfig, get_adamix_model
from adamix.layer import MixtureLayer
from adamixbench.tasks.classification import NLUSplits
from adamixbench.tasks.generation import Decoding, NLGTask, _generation_rows, decoding_model
from tests.adamix.models import tiny_gpt2


def _splits(selection_is_report: bool) -> NLUSplits:
    dev = datasets.Dataset.from_dict({"sentence": ["a b c", "a", "a b c d e", "a b"], "label": [0, 1, 0, 1]})
    train = datasets.Dataset.from_dict({"sentence": ["x y z", "x"], "label": [1, 0]})
    selection = dev if selection_is_report else train
    return NLUSplits("glue", ("sentence",), 2, False, "accuracy", train, selection, {"validation": dev})


def _encode(ds):
    return ds.map(lambda row: {"length": len(row["sentence"].split())})


def test_evaluation_splits_are_sorted_by_length_and_training_order_is_kept():
    train, selection, report = _splits(selection_is_report=True).encoded(_encode)
    assert report["validation"]["length"] == [1, 2, 3, 5]
    assert report["validation"]["label"] == [1, 1, 0, 0]  # rows move with their labels
    assert selection is report["validation"]  # paper selection: one dataset, encoded once
    assert train["length"] == [3, 1]
    _, heldout, _ = _splits(selection_is_report=False).encoded(_encode)
    assert heldout["length"] == [1, 3]


def test_generation_prompts_are_sorted_by_length_and_keep_their_group():
    groups = [SimpleNamespace(source=s) for s in ["a b c", "a", "a b"]]

    class Tok:
        bos_token_id = eos_token_id = 0

        def __call__(self, text, add_special_tokens):
            return {"input_ids": [1] * len(text.split())}

    rows = _generation_rows(groups, Tok(), max_len=10)
    assert rows["group"] == [1, 2, 0]
    assert rows["length"] == [2, 3, 4]


def test_adamix_lora_decodes_folded_with_the_same_tokens():
    model = get_adamix_model(tiny_gpt2(), AdaMixConfig(adapter_type="lora", num_experts=3, r=2, lora_alpha=4))
    with torch.no_grad():
        for layer in model.mixture_layers().values():
            for proj in layer.projections().values():
                for w in proj.weight:
                    w.normal_(std=0.3)
    model.eval()
    folded = decoding_model(model)
    assert not any(isinstance(m, MixtureLayer) for m in folded.modules())
    task = NLGTask(
        name="e2e",
        tokenizer=SimpleNamespace(eos_token_id=119, pad_token_id=None, bos_token_id=119),
        decoding=Decoding(num_beams=1, length_penalty=1.0, no_repeat_ngram_size=0, max_new_tokens=8),
        label_smoothing=0.0,
        train=None,
        selection=None,
        report={},
        references={},
    )
    batch = {
        "input_ids": torch.tensor([[119, 5, 6, 7], [119, 8, 9, 10]]),
        "attention_mask": torch.ones(2, 4, dtype=torch.long),
    }
    assert torch.equal(task.generate(folded, batch), task.generate(model, batch))
    model.set_inference("ensemble")
    assert decoding_model(model) is model  # only merged inference folds
