"""Tiny randomly initialised stand-ins of the paper's backbones, and stand-in data, for smoke runs.

A smoke run (`snakemake --config suite=<suite> smoke=true`, docs/PIPELINE.md) trains every run of a paper
suite for a couple of steps on CPU, offline. It must exercise the SAME code paths as the real suite: the
same architecture classes (RoBERTa, BERT, GPT-2, LLaMA), the same head types (classification head,
masked-LM head for prompt-based fine-tuning, causal-LM head), the same PEFT injection points and real
tokenizers where the project ships them. Only the sizes shrink (2 layers, hidden 128), and the weights are
random, so the scores mean nothing.

Backbones: the model name ``standin:<name>`` (e.g. ``standin:roberta-large``) resolves, through
`adamixbench.sources.backbones.resolve_backbone`, to a directory under ``<cache>/standins/`` built on first use
(atomically: parallel jobs are safe). The architecture comes from the name (:func:`architecture_of`):

=========  =======================================  ==================================================
arch       matches                                  tokenizer
=========  =======================================  ==================================================
roberta    roberta-*, xlm-roberta-*, distilroberta  GPT-2 byte-level BPE (RoBERTa's own BPE: same merges)
                                                    plus RoBERTa's special tokens <s> <pad> </s> <unk> <mask>
bert       bert-*, minilm-*                         MiniLM's uncased WordPiece (= bert-base-uncased's vocab)
gpt2       gpt2*                                    GPT-2's (``.cache/gpt2-tokenizer``)
llama      smollm2-*, llama*                        GPT-2's (SmolLM2's own lives in a GGUF: too slow to unpack)
=========  =======================================  ==================================================

Models: :func:`random_model` builds any randomly initialised model of a supported architecture and task
type in a given shape: the stand-ins, the paper backbones in their full shapes (:data:`PAPER_SHAPES`,
:func:`paper_shaped_model`: parameter counts on the meta device, benchmarks/throughput.py) and the tests'
tiny models all come from it.

Data: `adamixbench.tasks.standin_data` writes the stand-in GLUE directory into the same cache, through
:func:`publish`. Pure Python at import (no torch), so the workflow can use it while it plans the DAG.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from pathlib import Path

from adamixbench.sources.packaged import minilm_dir
from adamixbench.sources.paths import CACHE_DIR, GPT2_TOKENIZER_DIR

PREFIX = "standin:"
STANDIN_DIR = CACHE_DIR / "standins"
#: the shape every stand-in shares: hidden large enough for every adapter size of the paper suites
#: (bottlenecks up to 112, the NLG Houlsby row; tests/pipeline/test_suite_overrides.py checks it).
SIZE = {"layers": 2, "hidden": 128, "heads": 4, "intermediate": 256, "positions": 514}
#: stand-in examples per split (train, and every dev split); the smoke suites subsample below that.
ROWS_PER_SPLIT = 32


def is_standin(name: str) -> bool:
    return name.startswith(PREFIX)


def architecture_of(name: str) -> str:
    """'roberta' | 'bert' | 'gpt2' | 'llama' for a model name (with or without the ``standin:`` prefix)."""
    base = name[len(PREFIX) :] if is_standin(name) else name
    base = base.rsplit("/", 1)[-1].lower()
    for arch, prefixes in (
        ("roberta", ("roberta", "xlm-roberta", "distilroberta")),
        ("bert", ("bert", "minilm")),
        ("gpt2", ("gpt2",)),
        ("llama", ("smollm2", "llama")),
    ):
        if base.startswith(prefixes):
            return arch
    raise ValueError(
        f"no stand-in architecture for model {name!r}; stand-ins exist for RoBERTa (roberta-*), "
        f"BERT (bert-*, minilm-*), GPT-2 (gpt2*) and LLaMA (smollm2-*, llama*) models"
    )


# --------------------------------------------------------------------------------------------------
# tokenizers
# --------------------------------------------------------------------------------------------------
def _gpt2_tokenizer_dir() -> Path:
    if not (GPT2_TOKENIZER_DIR / "vocab.json").is_file():
        raise FileNotFoundError(
            f"the GPT-2 tokenizer is not in {GPT2_TOKENIZER_DIR}; run scripts/fetch_gpt2_tokenizer.sh "
            f"(or `make setup`) once to fetch it"
        )
    return GPT2_TOKENIZER_DIR


def _tokenizer(arch: str, workdir: Path):
    from transformers import AutoTokenizer, GPT2TokenizerFast, RobertaTokenizerFast

    if arch == "bert":
        return AutoTokenizer.from_pretrained(minilm_dir())
    source = _gpt2_tokenizer_dir()
    if arch == "roberta":
        # RoBERTa's BPE has GPT-2's merges; its specials come first (<pad> = 1 is also the padding index
        # of RoBERTa's position embeddings) and <mask> last, as in roberta-large's vocabulary.
        gpt2 = json.loads((source / "vocab.json").read_text(encoding="utf-8"))
        vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, **{t: i + 4 for t, i in gpt2.items()}}
        vocab["<mask>"] = len(vocab)
        (workdir / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
        shutil.copy(source / "merges.txt", workdir / "merges.txt")
        return RobertaTokenizerFast(vocab_file=str(workdir / "vocab.json"), merges_file=str(workdir / "merges.txt"))
    tokenizer = GPT2TokenizerFast.from_pretrained(source)
    tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


#: Per architecture (a transformers model_type): the config field of the feed-forward width, and every
#: dropout field (GPT-2 names its own; the rest take the model-agnostic names).
_ARCHITECTURE_FIELDS = {
    "bert": ("intermediate_size", ("hidden_dropout_prob", "attention_probs_dropout_prob")),
    "roberta": ("intermediate_size", ("hidden_dropout_prob", "attention_probs_dropout_prob")),
    "deberta-v2": ("intermediate_size", ("hidden_dropout_prob", "attention_probs_dropout_prob", "pooler_dropout")),
    "gpt2": ("n_inner", ("resid_pdrop", "embd_pdrop", "attn_pdrop")),
    "llama": ("intermediate_size", ("attention_dropout",)),
}
_HEAD_CLASSES = {
    "seq_cls": "AutoModelForSequenceClassification",
    "masked_lm": "AutoModelForMaskedLM",
    "causal_lm": "AutoModelForCausalLM",
}


def random_model(
    arch: str,
    task_type: str,
    *,
    vocab_size: int,
    hidden: int,
    layers: int,
    heads: int,
    intermediate: int | None = None,
    dropout: float | None = None,
    seed: int | None = None,
    **config,
):
    """A randomly initialised Hugging Face model: architecture `arch` (bert, roberta, deberta-v2, gpt2,
    llama) with the head of `task_type` (seq_cls, masked_lm, causal_lm), in the given shape. `dropout`
    sets every dropout of the architecture; `seed` seeds torch first (same seed, same weights); `config`:
    any other config field (num_labels, max_position_embeddings, token ids, initializer_range, ...).
    What the stand-ins are built with, and the tests' tiny models."""
    import torch
    import transformers

    feedforward, dropouts = _ARCHITECTURE_FIELDS[arch]
    fields = {
        "vocab_size": vocab_size,
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
    }
    if intermediate is not None:
        fields[feedforward] = intermediate
    if dropout is not None:
        fields.update(dict.fromkeys(dropouts, dropout))
    if seed is not None:
        torch.manual_seed(seed)
    model_config = transformers.AutoConfig.for_model(arch, **fields, **config)
    return getattr(transformers, _HEAD_CLASSES[task_type]).from_config(model_config)


#: The paper's backbones in `random_model`'s terms (their hub configs' sizes). Random weights in these
#: shapes count parameters exactly (build them under torch.device("meta"): nothing is allocated) and time
#: training steps (benchmarks/throughput.py).
PAPER_SHAPES = {
    "roberta-large": (
        "roberta",
        {
            "vocab_size": 50265,
            "hidden": 1024,
            "layers": 24,
            "heads": 16,
            "intermediate": 4096,
            "max_position_embeddings": 514,
            "type_vocab_size": 1,
        },
    ),
    "bert-base": ("bert", {"vocab_size": 30522, "hidden": 768, "layers": 12, "heads": 12, "intermediate": 3072}),
    "minilm-l6": ("bert", {"vocab_size": 30522, "hidden": 384, "layers": 6, "heads": 12, "intermediate": 1536}),
    "gpt2-medium": ("gpt2", {"vocab_size": 50257, "hidden": 1024, "layers": 24, "heads": 16}),
}


def paper_shaped_model(name: str, task_type: str = "seq_cls", num_layers: int | None = None, **config):
    """Random weights in the shape of paper backbone `name` (PAPER_SHAPES) with the head of `task_type`;
    `num_layers` shortens it (CPU timings); `config`: further config fields (num_labels, ...)."""
    arch, shape = PAPER_SHAPES[name]
    return random_model(arch, task_type, **{**shape, "layers": num_layers or shape["layers"]}, **config)


def _model(arch: str, tokenizer):
    """The stand-in with its pretrained-style LM head: *ForMaskedLM (encoders) or *ForCausalLM (decoders);
    seq_cls runs add their classification head on loading, as they do on the real checkpoints."""
    shape = {"vocab_size": len(tokenizer), "hidden": SIZE["hidden"], "layers": SIZE["layers"], "heads": SIZE["heads"]}
    encoder = {"intermediate": SIZE["intermediate"], "max_position_embeddings": SIZE["positions"]}
    special = {
        "pad_token_id": tokenizer.pad_token_id,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
    }
    if arch == "roberta":
        return random_model("roberta", "masked_lm", **shape, **encoder, **special, type_vocab_size=1)
    if arch == "bert":
        return random_model("bert", "masked_lm", **shape, **encoder, pad_token_id=tokenizer.pad_token_id)
    if arch == "gpt2":
        return random_model("gpt2", "causal_lm", **shape, **special, max_position_embeddings=1024)
    return random_model(
        "llama",
        "causal_lm",
        **shape,
        **special,
        intermediate=SIZE["intermediate"],
        num_key_value_heads=SIZE["heads"],
        max_position_embeddings=1024,
        tie_word_embeddings=True,
    )


@contextlib.contextmanager
def publish(target: Path, done_file: str, prefix: str):
    """Build a directory in a staging folder next to `target`, then rename it into place in one step, so
    concurrent jobs never see a half-built `target`: when another job published it first (the rename
    fails and `target/done_file` exists), its copy is kept; the staging folder is always removed."""
    STANDIN_DIR.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=STANDIN_DIR, prefix=prefix))
    try:
        yield staging
        staging.rename(target)
    except OSError:
        if not (target / done_file).is_file():  # not "another job finished first"
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def standin_backbone(name: str) -> Path:
    """The directory of stand-in `name` (``standin:<model>``), built on first use."""
    arch = architecture_of(name)
    target = STANDIN_DIR / f"{arch}-{SIZE['layers']}x{SIZE['hidden']}"  # a new size never reuses an old build
    if (target / "config.json").is_file():
        return target
    import torch

    with publish(target, "config.json", prefix=f".{arch}-") as staging:
        tokenizer = _tokenizer(arch, staging)
        torch.manual_seed(0)  # the same stand-in on every machine
        model = _model(arch, tokenizer)
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        (staging / "STANDIN.md").write_text(
            f"Randomly initialised {arch} stand-in (adamixbench/sources/standins.py) for smoke runs of `{name}`; "
            f"size {SIZE}. Its scores mean nothing.\n"
        )
    return target
