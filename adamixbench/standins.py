"""Tiny randomly initialised stand-ins of the paper's backbones, and stand-in data, for smoke runs.

A smoke run (`snakemake --config suite=<suite> smoke=true`, docs/PIPELINE.md) trains every run of a paper
suite for a couple of steps on CPU, offline. It must exercise the SAME code paths as the real suite: the
same architecture classes (RoBERTa, BERT, GPT-2, LLaMA), the same head types (classification head,
masked-LM head for prompt-based fine-tuning, causal-LM head), the same PEFT injection points and real
tokenizers where the project ships them. Only the sizes shrink (2 layers, hidden 128), and the weights are
random, so the scores mean nothing.

Backbones: the model name ``standin:<name>`` (e.g. ``standin:roberta-large``) resolves, through
`adamixbench.backbones.resolve_backbone`, to a directory under ``<cache>/standins/`` built on first use
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

Data: :func:`standin_glue_dir` writes a GLUE-layout directory where every task has a few examples per
split: the first rows of the shipped files where the repository ships them (data/README.md), and
stand-in rows (real sentences of shipped tasks, relabelled) for the files it does not ship (MNLI and QQP
train/dev, QNLI train). Pure Python (no torch), so the workflow can build it while it plans the DAG.
"""

from __future__ import annotations

import contextlib
import csv
import json
import shutil
import tempfile
from pathlib import Path

from .backbones import CACHE_DIR, REPO_ROOT

PREFIX = "standin:"
STANDIN_DIR = CACHE_DIR / "standins"
GPT2_TOKENIZER = REPO_ROOT / ".cache" / "gpt2-tokenizer"
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
    if not (GPT2_TOKENIZER / "vocab.json").is_file():
        raise FileNotFoundError(
            f"the GPT-2 tokenizer is not in {GPT2_TOKENIZER}; run scripts/fetch_gpt2_tokenizer.sh "
            f"(or `make setup`) once to fetch it"
        )
    return GPT2_TOKENIZER


def _tokenizer(arch: str, workdir: Path):
    from transformers import AutoTokenizer, GPT2TokenizerFast, RobertaTokenizerFast

    if arch == "bert":
        from .backbones import MINILM, resolve_backbone

        return AutoTokenizer.from_pretrained(resolve_backbone(MINILM))
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


def _model(arch: str, tokenizer):
    """The stand-in with its pretrained-style LM head: *ForMaskedLM (encoders) or *ForCausalLM (decoders);
    seq_cls runs add their classification head on loading, as they do on the real checkpoints."""
    from transformers import (
        BertConfig,
        BertForMaskedLM,
        GPT2Config,
        GPT2LMHeadModel,
        LlamaConfig,
        LlamaForCausalLM,
        RobertaConfig,
        RobertaForMaskedLM,
    )

    s = SIZE
    vocab = len(tokenizer)
    if arch == "roberta":
        config = RobertaConfig(
            vocab_size=vocab,
            hidden_size=s["hidden"],
            num_hidden_layers=s["layers"],
            num_attention_heads=s["heads"],
            intermediate_size=s["intermediate"],
            max_position_embeddings=s["positions"],
            type_vocab_size=1,
            pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
        return RobertaForMaskedLM(config)
    if arch == "bert":
        config = BertConfig(
            vocab_size=vocab,
            hidden_size=s["hidden"],
            num_hidden_layers=s["layers"],
            num_attention_heads=s["heads"],
            intermediate_size=s["intermediate"],
            max_position_embeddings=s["positions"],
            pad_token_id=tokenizer.pad_token_id,
        )
        return BertForMaskedLM(config)
    if arch == "gpt2":
        config = GPT2Config(
            vocab_size=vocab,
            n_embd=s["hidden"],
            n_layer=s["layers"],
            n_head=s["heads"],
            n_positions=1024,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
        return GPT2LMHeadModel(config)
    config = LlamaConfig(
        vocab_size=vocab,
        hidden_size=s["hidden"],
        num_hidden_layers=s["layers"],
        num_attention_heads=s["heads"],
        num_key_value_heads=s["heads"],
        intermediate_size=s["intermediate"],
        max_position_embeddings=1024,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    return LlamaForCausalLM(config)


@contextlib.contextmanager
def _publish(target: Path, done_file: str, prefix: str):
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

    with _publish(target, "config.json", prefix=f".{arch}-") as staging:
        tokenizer = _tokenizer(arch, staging)
        torch.manual_seed(0)  # the same stand-in on every machine
        model = _model(arch, tokenizer)
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        (staging / "STANDIN.md").write_text(
            f"Randomly initialised {arch} stand-in (adamixbench/standins.py) for smoke runs of `{name}`; "
            f"size {SIZE}. Its scores mean nothing.\n"
        )
    return target


# --------------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------------
def _glue_files():
    from .tasks.glue import GLUE_TASKS, SPLIT_FILES, default_data_dir

    root = default_data_dir()
    for spec in GLUE_TASKS.values():
        for split in spec.splits:
            yield spec, split, root / spec.glue_dir / SPLIT_FILES[split], Path(spec.glue_dir) / SPLIT_FILES[split]


def _head(path: Path, rows: int) -> str:
    """The header (if any) and the first `rows` data lines of a shipped TSV, byte for byte."""
    with path.open(encoding="utf-8", newline="") as f:
        lines = f.read().splitlines(keepends=True)
    has_header = "CoLA" not in path.parts
    keep = lines[: rows + has_header]
    return "".join(keep) if keep[-1].endswith("\n") else "".join(keep) + "\n"


def _pairs(path: Path, a: str, b: str, rows: int) -> list[tuple[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [(r[a], r[b]) for _, r in zip(range(rows), reader)]


def _standin_rows(task: str, split: str, rows: int) -> str:
    """A stand-in file for a GLUE file the repository does not ship: real sentence pairs of shipped
    tasks (RTE for MNLI and QNLI, MRPC for QQP) under the task's own columns, labels cycling over its
    classes. Only the columns the loader reads are kept, under GLUE's header names."""
    from .tasks.glue import default_data_dir

    shipped = default_data_dir()
    if task == "qqp":
        pairs = _pairs(shipped / "MRPC" / "train.tsv", "#1 String", "#2 String", rows)
        header, labels = ("id", "qid1", "qid2", "question1", "question2", "is_duplicate"), ("0", "1")
        body = [(str(i), str(2 * i), str(2 * i + 1), a, b, labels[i % 2]) for i, (a, b) in enumerate(pairs)]
    else:
        pairs = _pairs(shipped / "RTE" / "train.tsv", "sentence1", "sentence2", rows)
        if task == "mnli":
            header = ("index", "sentence1", "sentence2", "gold_label")
            labels = ("entailment", "neutral", "contradiction")
        else:  # qnli
            header, labels = ("index", "question", "sentence", "label"), ("entailment", "not_entailment")
        body = [(str(i), a, b, labels[i % len(labels)]) for i, (a, b) in enumerate(pairs)]
    return "".join("\t".join(r) + "\n" for r in [header, *body])


def standin_glue_dir(rows: int = ROWS_PER_SPLIT) -> Path:
    """A GLUE-layout directory with `rows` examples per split of every task (see the module docstring)."""
    target = STANDIN_DIR / f"glue-{rows}"
    if (target / "COMPLETE").is_file():
        return target
    with _publish(target, "COMPLETE", prefix=".glue-") as staging:
        listing = []
        for spec, split, shipped, rel in _glue_files():
            (staging / rel).parent.mkdir(parents=True, exist_ok=True)
            if shipped.is_file():
                text, origin = _head(shipped, rows), f"first {rows} rows of data/glue/{rel}"
            else:
                text, origin = _standin_rows(spec.name, split, rows), "stand-in (not shipped): relabelled pairs"
            (staging / rel).write_text(text, encoding="utf-8")
            listing.append(f"{rel}: {origin}")
        (staging / "COMPLETE").write_text("\n".join(listing) + "\n")
    return target
