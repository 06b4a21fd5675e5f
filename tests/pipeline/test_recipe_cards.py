"""The recipe cards in docs/recipes/ are generated from the suite files and up to date; every value of a
paper suite has a stated source. Regenerate with `make recipes`."""

from __future__ import annotations

import pytest

from adamixbench.plan.recipes import NOT_STATED, recipe_card, unstated

from .helpers import REPO, snakemake

PAPER_SUITES = ["glue_roberta_large", "glue_bert_base", "nlg_gpt2_medium", "fewshot", "ablations"]


@pytest.mark.parametrize("suite", PAPER_SUITES)
def test_recipe_card_is_up_to_date_and_sourced(tmp_path, suite):
    card = f"docs/recipes/{suite}.md"
    result = snakemake(["--cores", "1", "--config", f"suite={suite}", "-f", card], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    generated = (tmp_path / card).read_text()
    committed = REPO / card
    assert committed.is_file(), f"{card} is missing: run `make recipes`"
    assert committed.read_text() == generated, f"{card} is out of date: run `make recipes`"
    assert not unstated(generated), f"values without a source in {card}:\n" + "\n".join(unstated(generated))


def test_card_flags_a_value_without_source():
    suite = {
        "suite": "s",
        "defaults": {"lr": 1e-4},
        "sources": {},
        "methods": {"lora": {"method": "lora", "params": {"r": 8}, "source": "LoRA paper"}},
        "experiments": [{"name": "e", "family": "glue", "model": "m", "tasks": ["rte"], "methods": ["lora"]}],
    }
    runs = [
        {
            "experiment": "e",
            "label": "lora",
            "task": "rte",
            "seed": 1,
            "method": "lora",
            "params": {"r": 8},
            "train": {"lr": 1e-4},
        }
    ]
    card = recipe_card(suite, runs)
    assert unstated(card) == [
        f"Model `m`, family glue, tasks rte; seeds [1] ({NOT_STATED}); 1 runs.",
        f"| `lr` | 0.0001 | {NOT_STATED} |",
    ]
    assert "| `lora` | `r` | 8 | LoRA paper |" in card
    assert "**Runs: 1**" in card
