"""Few-shot splits (LiST and LM-BFF protocols), split samplers and prompt templates.

Column conventions are those of `adamixbench.tasks.glue`: the task's text fields (hub names) + `label`
(the hub's class id). Tasks: mnli, rte, qqp, sst2 (GLUE) and mpqa, subj (LM-BFF's sentence tasks).

Protocols
* `list` (AdaMix's few-shot setting, from LiST / CLUES): K = 10, 20 or 30 labelled examples IN TOTAL,
  splits 1-5; no validation data. GLUE tasks are evaluated on their GLUE dev set (MNLI: matched), SST-2 on
  LM-BFF's 872-sentence test set, mpqa/subj on LM-BFF's 2,000-example test sets.
* `lmbff` (Gao et al. 2021): K = 16 examples PER CLASS, seeds 13, 21, 42, 87, 100, plus a dev set of the
  same size (`load_fewshot_dev`); same evaluation sets.

File layouts differ by source and were checked file by file (see data/README.md): LiST's SST-2 train is
headerless `sentence<TAB>label`, LiST's MNLI train is headerless `index, genre, sentence1, sentence2,
label`, LiST's RTE/QQP and all LM-BFF GLUE files keep the GLUE header; mpqa/subj are headerless CSV
`label,sentence` with CSV quoting.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets
import numpy as np

from adamixbench.sources.paths import data_root
from adamixbench.tasks.data_source import resolve_data_source
from adamixbench.tasks.glue import GLUE_TASKS, SPLIT_FILES, TableFormat, get_task, load_glue, read_labeled_file
from adamixbench.tasks.glue import default_data_dir as default_glue_dir

LIST_SHOTS = (10, 20, 30)
LIST_SPLITS = (1, 2, 3, 4, 5)
LMBFF_SHOTS = (16,)
LMBFF_SEEDS = (13, 21, 42, 87, 100)
PROTOCOLS = ("list", "lmbff")
PRIMARY_METRIC = "accuracy"  # the paper's few-shot tables (as LM-BFF)

_SENTENCE_CSV = TableFormat(
    text_columns=("sentence",),
    label_column="label",
    label_kind="index",
    fieldnames=("label", "sentence"),
    delimiter=",",
    quoting=csv.QUOTE_MINIMAL,
)
_SST2_HEADER = GLUE_TASKS["sst2"].tsv  # `sentence<TAB>label` with a header line


@dataclass(frozen=True)
class FewShotTask:
    """Where one few-shot task keeps its files and how each file is written.

    `glue_eval_split` names the GLUE dev split used for evaluation; None means a test file stored once in
    `<data_dir>/<dir_name>/test.<ext>` (identical in every split directory of the sources).
    """

    name: str
    dir_name: str
    ext: str
    text_fields: tuple[str, ...]
    label_names: tuple[str, ...]
    list_train: TableFormat
    lmbff: TableFormat
    lmbff_dev_file: str
    glue_eval_split: str | None = None
    test: TableFormat | None = None

    def features(self) -> datasets.Features:
        return datasets.Features(
            {
                **{f: datasets.Value("string") for f in self.text_fields},
                "label": datasets.ClassLabel(names=list(self.label_names)),
            }
        )


def _glue_task(name: str, dir_name: str, list_train: TableFormat, dev_file: str, eval_split: str) -> FewShotTask:
    spec = GLUE_TASKS[name]
    return FewShotTask(
        name=name,
        dir_name=dir_name,
        ext="tsv",
        text_fields=spec.text_fields,
        label_names=spec.label_names,
        list_train=list_train,
        lmbff=spec.tsv,
        lmbff_dev_file=dev_file,
        glue_eval_split=eval_split,
    )


def _sentence_task(name: str, label_names: tuple[str, ...]) -> FewShotTask:
    return FewShotTask(
        name=name,
        dir_name=name,
        ext="csv",
        text_fields=("sentence",),
        label_names=label_names,
        list_train=_SENTENCE_CSV,
        lmbff=_SENTENCE_CSV,
        lmbff_dev_file="dev.csv",
        test=_SENTENCE_CSV,
    )


FEWSHOT_TASKS: dict[str, FewShotTask] = {
    "mnli": _glue_task(
        "mnli",
        "MNLI",
        TableFormat(
            text_columns=("sentence1", "sentence2"),
            label_column="label",
            label_kind="name",
            fieldnames=("index", "genre", "sentence1", "sentence2", "label"),
        ),
        "dev_matched.tsv",
        "validation_matched",
    ),
    "rte": _glue_task("rte", "RTE", GLUE_TASKS["rte"].tsv, "dev.tsv", "validation"),
    "qqp": _glue_task("qqp", "QQP", GLUE_TASKS["qqp"].tsv, "dev.tsv", "validation"),
    "sst2": FewShotTask(
        name="sst2",
        dir_name="SST-2",
        ext="tsv",
        text_fields=("sentence",),
        label_names=GLUE_TASKS["sst2"].label_names,
        list_train=TableFormat(
            text_columns=("sentence",), label_column="label", label_kind="index", fieldnames=("sentence", "label")
        ),
        lmbff=_SST2_HEADER,
        lmbff_dev_file="dev.tsv",
        test=_SST2_HEADER,
    ),
    "mpqa": _sentence_task("mpqa", ("negative", "positive")),
    "subj": _sentence_task("subj", ("subjective", "objective")),
}


def get_fewshot_task(task: str) -> FewShotTask:
    try:
        return FEWSHOT_TASKS[task]
    except KeyError:
        raise ValueError(f"unknown few-shot task {task!r}; known tasks: {', '.join(FEWSHOT_TASKS)}") from None


def default_fewshot_dir() -> Path:
    """The few-shot splits: `fewshot/` under `sources.paths.data_root()` (the shipped ones by default)."""
    return data_root() / "fewshot"


def _read(spec: FewShotTask, path: Path, fmt: TableFormat, hint: str) -> datasets.Dataset:
    return read_labeled_file(path, fmt, spec.text_fields, spec.label_names, spec.features(), hint)


def _split_dir(spec: FewShotTask, k: int, split_id: int, data_dir: str | Path | None) -> Path:
    return Path(data_dir if data_dir is not None else default_fewshot_dir()) / spec.dir_name / f"{k}-{split_id}"


def load_fewshot_eval(
    task: str, data_dir: str | Path | None = None, glue_data_dir: str | Path | None = None
) -> datasets.Dataset:
    """The evaluation set of a few-shot task (the same for every K, split and protocol).

    GLUE tasks use their GLUE dev set through `load_glue(task, split, glue_data_dir)` (the hub when
    `glue_data_dir` is None and the hub is allowed, otherwise TSV files). MNLI's and QQP's dev sets are not
    shipped (each is over 4 MiB), so offline they need `glue_data_dir`.
    """
    spec = get_fewshot_task(task)
    if spec.glue_eval_split is not None:
        try:
            return load_glue(spec.name, spec.glue_eval_split, data_dir=glue_data_dir)
        except FileNotFoundError as err:
            glue = get_task(spec.name)
            raise FileNotFoundError(
                f"{task} few-shot evaluation uses the GLUE {spec.glue_eval_split} set "
                f"({glue.glue_dir}/{SPLIT_FILES[spec.glue_eval_split]}), which was not found. The repository ships "
                f"RTE's dev set but not MNLI's or QQP's (over 4 MiB each): pass glue_data_dir=<directory containing "
                f"{glue.glue_dir}/{SPLIT_FILES[spec.glue_eval_split]}> or run online (HF_DATASETS_OFFLINE and "
                f"HF_HUB_OFFLINE unset, glue_data_dir=None) to load it from the hub. Loader said: {err}"
            ) from None
    path = Path(data_dir if data_dir is not None else default_fewshot_dir()) / spec.dir_name / f"test.{spec.ext}"
    return _read(
        spec,
        path,
        spec.test,
        f"The {task} test set ships in the repository's data/fewshot/; "
        f"pass data_dir=<directory containing {spec.dir_name}/test.{spec.ext}>.",
    )


def load_fewshot(
    task: str,
    k: int,
    split_id: int,
    data_dir: str | Path | None = None,
    protocol: str = "list",
    glue_data_dir: str | Path | None = None,
) -> tuple[datasets.Dataset, datasets.Dataset]:
    """Return `(train, eval)` for one released few-shot split.

    `protocol="list"`: `k` in 10/20/30 (total), `split_id` in 1-5. `protocol="lmbff"`: `k=16` (per class),
    `split_id` = seed in 13/21/42/87/100. Other values work when their files exist under `data_dir`
    (`<data_dir>/<TASK-DIR>/<k>-<split_id>/train.<ext>`); `sample_fewshot` draws new splits by the same rules.
    """
    spec = get_fewshot_task(task)
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown few-shot protocol {protocol!r}; choose one of {list(PROTOCOLS)}")
    fmt = spec.list_train if protocol == "list" else spec.lmbff
    shipped = (
        f"K in {LIST_SHOTS}, splits {LIST_SPLITS}" if protocol == "list" else f"K in {LMBFF_SHOTS}, seeds {LMBFF_SEEDS}"
    )
    path = _split_dir(spec, k, split_id, data_dir) / f"train.{spec.ext}"
    hint = (
        f"The repository ships {protocol} splits for {shipped} in data/fewshot/; for other K or splits, "
        f"draw them with sample_fewshot(...) or pass data_dir=<directory with {spec.dir_name}/{k}-{split_id}/>."
    )
    return _read(spec, path, fmt, hint), load_fewshot_eval(task, data_dir, glue_data_dir)


def load_fewshot_for_run(cfg) -> tuple[datasets.Dataset, datasets.Dataset]:
    """`(train, eval)` of the few-shot split a run config names (task, K, split, protocol, data folders): the
    engine and the pre-run validation read the same rows. Every data source but ``hub`` (an error) reads the
    shipped splits, the paper's; the GLUE evaluation sets (MNLI, QQP, RTE) come from ``glue_data_dir``, else
    with ``local`` from the data root's TSVs, with ``paper`` from the hub's GLUE when the hub is reachable."""
    source = resolve_data_source(cfg)  # raises for hub
    glue_dir = cfg.glue_data_dir or (default_glue_dir() if source == "local" else None)
    return load_fewshot(
        cfg.task,
        cfg.fewshot_k,
        cfg.fewshot_split,
        protocol=cfg.fewshot_protocol,
        data_dir=cfg.data_dir,
        glue_data_dir=glue_dir,
    )


def load_fewshot_dev(task: str, seed: int, data_dir: str | Path | None = None, k: int = 16) -> datasets.Dataset:
    """The LM-BFF dev set of one seed (k per class, other training rows than train). LiST has none by design."""
    spec = get_fewshot_task(task)
    path = _split_dir(spec, k, seed, data_dir) / spec.lmbff_dev_file
    return _read(
        spec,
        path,
        spec.lmbff,
        f"LM-BFF dev sets ship for K in {LMBFF_SHOTS}, seeds {LMBFF_SEEDS}; draw others with sample_lmbff_split(...).",
    )


# --- samplers ---------------------------------------------------------------------------------------------
# LM-BFF's generator, and LiST's as far as its released RTE splits show, shuffle with numpy's legacy global
# RNG (`np.random.seed(s); np.random.shuffle(rows)`), which `RandomState(s).permutation(n)` reproduces.
# numpy's newer Generator would draw other rows, so the legacy RandomState is used on purpose: it
# regenerates the released splits from the full training set (see tests/engine/test_fewshot.py).


def _permutation(n: int, seed: int) -> np.ndarray:
    return np.random.RandomState(seed).permutation(n)


def _first_per_class(labels: list, order: np.ndarray, start: int, stop: int) -> list[int]:
    """Rows `start:stop` of every class in shuffled order, grouped by class in order of first appearance."""
    by_class: dict[Any, list[int]] = {}
    for i in order:
        by_class.setdefault(labels[i], []).append(int(i))
    short = {c: len(rows) for c, rows in by_class.items() if len(rows) < stop}
    if short:
        raise ValueError(f"class sizes {short} are smaller than the {stop} examples per class requested")
    return [i for rows in by_class.values() for i in rows[start:stop]]


def sample_fewshot(train_dataset: datasets.Dataset, k: int, seed: int, per_class: bool = False) -> datasets.Dataset:
    """Draw a few-shot training split from a full training set, deterministically per seed.

    per_class=False (LiST): shuffle with `seed` and keep the first `k` rows, so K is the TOTAL and the class
    balance is left to chance, as in LiST (its released splits are not stratified: e.g. mpqa 10-5 holds
    9 negatives and 1 positive). With `seed = split_id` this regenerates LiST's RTE splits 1, 2, 3 and 5 from
    the GLUE RTE train set (split 4 was drawn with seed 6), and splits of one seed are nested across K.
    per_class=True (LM-BFF): the first `k` rows of each class in the same shuffled order, grouped by class;
    this regenerates LM-BFF's 16-shot train files exactly (checked on RTE).
    """
    if k < 1:
        raise ValueError(f"k must be positive, got {k}")
    order = _permutation(len(train_dataset), seed)
    if per_class:
        return train_dataset.select(_first_per_class(list(train_dataset["label"]), order, 0, k))
    if k > len(train_dataset):
        raise ValueError(f"cannot draw {k} examples from a training set of {len(train_dataset)}")
    return train_dataset.select(order[:k])


def sample_lmbff_split(train_dataset: datasets.Dataset, k: int, seed: int) -> tuple[datasets.Dataset, datasets.Dataset]:
    """LM-BFF's split rule with its dev set: train = first k per class, dev = the next k per class."""
    order = _permutation(len(train_dataset), seed)
    labels = list(train_dataset["label"])
    train = _first_per_class(labels, order, 0, k)
    dev = _first_per_class(labels, order, k, 2 * k)
    return train_dataset.select(train), train_dataset.select(dev)


# --- prompts ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prompt:
    """An LM-BFF manual prompt in plain Python form.

    `template` uses the placeholders {sentence1}, {sentence2} (the task's first/second text field) and
    {mask}. LM-BFF writes the label word after the mask with a leading space (" great"); tokenizers whose
    mask token strips the space on its left (RoBERTa) or ignore spaces (WordPiece) encode
    "It was {mask}." the same way. `drop_last_char` lists fields whose last character LM-BFF removes
    (`*sent-_i*`, meant for the final punctuation, removed unconditionally); `lowercase_first` lists fields
    whose first character it lower-cases (`*sentl_i*`). `label_words` maps label id -> word.
    """

    template: str
    label_words: Mapping[int, str]
    drop_last_char: tuple[str, ...] = ()
    lowercase_first: tuple[str, ...] = ()


# LM-BFF's own template string of each prompt is in the comment after it (provenance, for review).
_NLI = dict(
    template="{sentence1}? {mask}, {sentence2}",  # *cls**sent-_0*?*mask*,*+sentl_1**sep+*
    drop_last_char=("sentence1",),
    lowercase_first=("sentence2",),
)

#: LM-BFF's manual templates and label words (run_experiment.sh), keyed by this package's task names.
PROMPTS: dict[str, Prompt] = {
    "sst2": Prompt("{sentence1} It was {mask}.", {0: "terrible", 1: "great"}),  # *cls**sent_0*_It_was*mask*.*sep+*
    "mpqa": Prompt("{sentence1} It was {mask}.", {0: "terrible", 1: "great"}),  # *cls**sent_0*_It_was*mask*.*sep+*
    "subj": Prompt(
        "{sentence1} This is {mask}.",  # *cls**sent_0*_This_is*mask*.*sep+*
        {0: "subjective", 1: "objective"},
    ),
    "rte": Prompt(label_words={0: "Yes", 1: "No"}, **_NLI),
    "mnli": Prompt(label_words={0: "Yes", 1: "Maybe", 2: "No"}, **_NLI),
    "qqp": Prompt(
        "{sentence1} {mask}, {sentence2}",
        {0: "No", 1: "Yes"},  # *cls**sent_0**mask*,*+sentl_1**sep+*
        lowercase_first=("sentence2",),
    ),
}


def get_prompt(task: str) -> Prompt:
    try:
        return PROMPTS[task]
    except KeyError:
        raise ValueError(f"no prompt for task {task!r}; prompts exist for: {', '.join(PROMPTS)}") from None


def _require_mask(tokenizer) -> None:
    if getattr(tokenizer, "mask_token", None) is None or getattr(tokenizer, "mask_token_id", None) is None:
        raise ValueError(
            f"prompt-based fine-tuning needs a masked-LM tokenizer with a mask token; "
            f"{type(tokenizer).__name__} ({getattr(tokenizer, 'name_or_path', '')!r}) has none. Use a model with "
            f"an MLM head (BERT, RoBERTa) or a classification head instead of prompts."
        )


def _prompt_fields(example: Mapping[str, Any], task: str, prompt: Prompt) -> dict[str, str]:
    text_fields = FEWSHOT_TASKS[task].text_fields
    fields = {f"sentence{i + 1}": str(example[name]) for i, name in enumerate(text_fields)}
    for name in prompt.drop_last_char:
        fields[name] = fields[name][:-1]
    for name in prompt.lowercase_first:
        fields[name] = fields[name][:1].lower() + fields[name][1:]
    return fields


def build_prompt_inputs(tokenizer, example: Mapping[str, Any], task: str, max_length: int | None = None) -> dict:
    """Tokenize one example inside its task's prompt.

    Returns the tokenizer's encoding (`input_ids`, `attention_mask`, ...) plus `label`; the encoding holds
    exactly one mask token (checked here), which the prompt loss finds in `input_ids`. When `max_length` is
    given, words are cut from the end of the longest text field until the prompt fits, so the mask token is
    never truncated away.
    """
    _require_mask(tokenizer)
    prompt = get_prompt(task)
    fields = _prompt_fields(example, task, prompt)

    def encode(values: Mapping[str, str]):
        return tokenizer(prompt.template.format(**values, mask=tokenizer.mask_token))

    enc = encode(fields)
    if max_length is not None and len(enc["input_ids"]) > max_length:
        longest = max(fields, key=lambda name: len(fields[name]))
        words = fields[longest].split(" ")
        lo, hi = 0, len(words) - 1  # binary search for the most words of `longest` that still fit
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if len(encode({**fields, longest: " ".join(words[:mid])})["input_ids"]) <= max_length:
                lo = mid
            else:
                hi = mid - 1
        enc = encode({**fields, longest: " ".join(words[:lo])})
        if len(enc["input_ids"]) > max_length:
            raise ValueError(
                f"the {task} prompt does not fit in max_length={max_length} tokens even with "
                f"the field {longest!r} emptied"
            )
    positions = [i for i, t in enumerate(enc["input_ids"]) if t == tokenizer.mask_token_id]
    if len(positions) != 1:
        raise ValueError(
            f"expected exactly one mask token in the {task} prompt, found {len(positions)} "
            f"(does the example text contain {tokenizer.mask_token!r}?)"
        )
    return {**enc, "label": example["label"]}


def label_word_ids(tokenizer, task: str) -> list[int]:
    """Vocabulary ids of the task's label words, indexed by label id.

    Each word is tokenized with a leading space, as LM-BFF does, and must be a single token.
    """
    _require_mask(tokenizer)
    prompt = get_prompt(task)
    ids = []
    for label in sorted(prompt.label_words):
        tokens = tokenizer.tokenize(" " + prompt.label_words[label])
        if len(tokens) != 1:
            raise ValueError(
                f"label word {prompt.label_words[label]!r} of {task} is {len(tokens)} tokens "
                f"{tokens} for this tokenizer; prompt scoring needs single-token words"
            )
        ids.append(tokenizer.convert_tokens_to_ids(tokens[0]))
    return ids
