"""Parameter counts on the paper's backbone SHAPES (random weights on the meta device: nothing is
allocated) against the #Param columns of Tables 1 and 2 (see tests/baselines/paper_rows.py for each row)."""

from __future__ import annotations

import pytest
import torch
from paper_rows import PAPER_ROWS, build_backbone

from baselines import prepare_model
from baselines.prepared import find_head_modules
from tests.adamix.models import tiny_bert, tiny_deberta, tiny_gpt2, tiny_roberta

torch.set_num_threads(1)


def _counts(row):
    model = build_backbone(row.backbone)  # meta device
    # AdapterHub's init re-creates every Linear layer; under the meta device that costs nothing.
    with torch.device("meta"):
        prepared = prepare_model(row.method, model, "seq_cls", row.params)
    return prepared.param_counts()


@pytest.mark.parametrize("row", PAPER_ROWS, ids=lambda r: f"T{r.table}-{r.method}-{r.preset or 'default'}")
def test_paper_param_counts(row):
    counts = _counts(row)
    assert counts["inference"] == row.exact, f"closed form {row.exact:,} vs measured {counts['inference']:,}"
    deviation = abs(counts["inference"] - row.paper) / row.paper
    assert deviation <= row.tolerance, (
        f"{counts['inference']:,} vs paper {row.paper:,.0f} ({deviation:.1%}); {row.note}"
    )
    head = {"roberta-large": 1024 * 1024 + 1024 + 1024 * 2 + 2, "bert-base": 768 * 2 + 2}[row.backbone]
    assert counts["head"] == head
    backbone = {"roberta-large": 354_310_144, "bert-base": 109_482_240}[row.backbone]
    assert counts["backbone"] == backbone
    assert counts["trainable"] >= counts["inference"] + counts["head"] or row.method == "full_ft"


def test_rows_outside_five_percent_are_explained():
    loose = [r for r in PAPER_ROWS if r.tolerance > 0.05]
    assert {(r.method, r.preset) for r in loose} == {
        ("pfeiffer", "table1_3.0M"),
        ("houlsby", "table1_6.0M"),
        ("prefix_tuning", "table2_0.2M"),
    }
    assert all(r.note for r in loose)


def test_adamix_training_counts_match_reference_arithmetic():
    """ADAMIX.md: training params with M=4 copies of Down and a shared Up."""
    model = build_backbone("roberta-large")
    with torch.device("meta"):
        prepared = prepare_model("adamix_adapter", model, "seq_cls", {"preset": "table1_0.8M"})
    counts = prepared.param_counts()
    assert counts["trainable"] - counts["head"] == 1_992_192
    model = build_backbone("bert-base")
    with torch.device("meta"):
        prepared = prepare_model("adamix_adapter", model, "seq_cls", {"preset": "table2_0.9M"})
    assert prepared.param_counts()["trainable"] - prepared.param_counts()["head"] == 2_223_360


@pytest.mark.parametrize(
    "method,params,expected",
    [
        ("adamix_adapter", {"preset": "nlg_0.42M"}, 417_984),
        ("adamix_lora", {"preset": "nlg_0.35M"}, 393_216),
        ("lora", {"preset": "nlg_0.35M"}, 393_216),
    ],
)
def test_gpt2_medium_nlg_counts(method, params, expected):
    """Table 3 (GPT-2 medium): the paper prints 0.42M and 0.35M; 393,216 is what LoRA r=4 on q, v has
    (the 0.35M is copied from the LoRA paper), see ADAMIX.md."""
    model = build_backbone("gpt2-medium", "causal_lm")
    with torch.device("meta"):
        prepared = prepare_model(method, model, "causal_lm", params)
    assert prepared.param_counts()["inference"] == expected


def tiny_gpt2_classifier():
    return tiny_gpt2(task_type="seq_cls")


@pytest.mark.parametrize(
    "build, task_type, head",
    [
        (tiny_bert, "seq_cls", ("classifier",)),
        (tiny_roberta, "seq_cls", ("classifier",)),  # RobertaClassificationHead: dense + out_proj
        (tiny_deberta, "seq_cls", ("classifier", "pooler")),  # the pooler is new too: part of the head
        (tiny_gpt2_classifier, "seq_cls", ("score",)),
        (tiny_gpt2, "causal_lm", ()),  # the LM head is the (tied) pretrained output embedding: backbone
    ],
    ids=["bert", "roberta", "deberta-v2", "gpt2-seq-cls", "gpt2-lm"],
)
def test_adamix_and_the_baselines_count_the_same_task_head(build, task_type, head):
    """One rule (adamix.task_head_parameter_names) decides the head: the AdaMix library's own counts, the
    AdaMix methods' and every other family's (peft, AdapterHub, BitFit) agree on head and backbone."""
    plain = build()
    assert find_head_modules(plain, task_type) == head
    head_size = sum(p.numel() for n, p in plain.named_parameters() if n.split(".")[0] in head)
    backbone = sum(p.numel() for p in plain.parameters()) - head_size
    assert (head_size > 0) == bool(head)
    for method, params in [
        ("adamix_adapter", {"bottleneck": 4}),
        ("adamix_lora", {"r": 2}),
        ("lora", {"r": 2}),
        ("houlsby", {"bottleneck": 4}),
        ("bitfit", {}),
    ]:
        prepared = prepare_model(method, build(), task_type, params)
        counts = prepared.param_counts()
        assert (counts["head"], counts["backbone"]) == (head_size, backbone), method
        if method.startswith("adamix"):
            library = prepared.model.count_parameters()
            assert (library.head, library.backbone) == (head_size, backbone), method
