"""GLUE task specifications and loaders.

Every loader returns a `datasets.Dataset` whose columns are the task's text fields (named as on the hub
dataset `nyu-mll/glue`) plus `label`, so that code downstream never needs to know whether the data came
from the hub or from GLUE-distribution TSV files. Label ids follow the hub's ClassLabel order, which is
NOT always the order of the TSV files' strings (e.g. RTE: entailment=0, not_entailment=1).

The TSV reader is strict on purpose: a malformed row raises instead of being dropped (the hub's loading
script silently filters corrupted rows), because a silently shorter dev set changes the reported score.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import datasets

from adamixbench.sources.paths import data_root
from adamixbench.sources.pins import mirror_root
from adamixbench.tasks.data_source import hub_disabled, resolve_data_source
from adamixbench.tasks.hub import load_hub_split

HUB_DATASET = "nyu-mll/glue"

#: split name (hub convention) -> file name in the GLUE distribution layout.
SPLIT_FILES = {
    "train": "train.tsv",
    "validation": "dev.tsv",
    "validation_matched": "dev_matched.tsv",
    "validation_mismatched": "dev_mismatched.tsv",
}


@dataclass(frozen=True)
class TableFormat:
    """Where one file layout keeps a task's texts and label.

    `fieldnames` names the columns of a headerless file; None means the first line is the header.
    `label_kind` says how the label cell is written: "name" (one of the task's label names),
    "index" (the integer id itself) or "score" (a float, STS-B).
    """

    text_columns: tuple[str, ...]
    label_column: str
    label_kind: str
    fieldnames: tuple[str, ...] | None = None
    delimiter: str = "\t"
    # GLUE's own readers split on tabs and keep quote characters (QQP text contains `""`):
    quoting: int = csv.QUOTE_NONE


@dataclass(frozen=True)
class TaskSpec:
    """What the engine needs to know about one GLUE task (which metric each paper table shows is a fact of
    the analysis: adamixbench.analysis.layouts.TABLE1_METRIC / TABLE2_METRIC)."""

    name: str
    glue_dir: str
    text_fields: tuple[str, ...]
    label_names: tuple[str, ...]
    metrics: tuple[str, ...]
    primary_metric: str
    dev_splits: tuple[str, ...]
    tsv: TableFormat

    @property
    def is_regression(self) -> bool:
        return not self.label_names

    @property
    def num_labels(self) -> int:
        """Size of the model's output layer: 1 for the STS-B regression head."""
        return 1 if self.is_regression else len(self.label_names)

    @property
    def splits(self) -> tuple[str, ...]:
        return ("train", *self.dev_splits)

    def features(self) -> datasets.Features:
        """The hub's feature types for the columns this package keeps."""
        label = datasets.Value("float32") if self.is_regression else datasets.ClassLabel(names=list(self.label_names))
        return datasets.Features({**{f: datasets.Value("string") for f in self.text_fields}, "label": label})


def _pair(a: str, b: str, label: str, kind: str) -> TableFormat:
    return TableFormat(text_columns=(a, b), label_column=label, label_kind=kind)


GLUE_TASKS: dict[str, TaskSpec] = {
    spec.name: spec
    for spec in [
        TaskSpec(
            name="cola",
            glue_dir="CoLA",
            text_fields=("sentence",),
            label_names=("unacceptable", "acceptable"),
            metrics=("matthews_correlation",),
            primary_metric="matthews_correlation",
            dev_splits=("validation",),
            # CoLA's train/dev files have no header: source code, label, original annotation, sentence.
            tsv=TableFormat(
                text_columns=("sentence",),
                label_column="label",
                label_kind="index",
                fieldnames=("source", "label", "author_label", "sentence"),
            ),
        ),
        TaskSpec(
            name="sst2",
            glue_dir="SST-2",
            text_fields=("sentence",),
            label_names=("negative", "positive"),
            metrics=("accuracy",),
            primary_metric="accuracy",
            dev_splits=("validation",),
            tsv=TableFormat(text_columns=("sentence",), label_column="label", label_kind="index"),
        ),
        TaskSpec(
            name="mrpc",
            glue_dir="MRPC",
            text_fields=("sentence1", "sentence2"),
            label_names=("not_equivalent", "equivalent"),
            metrics=("accuracy", "f1"),
            primary_metric="accuracy",
            dev_splits=("validation",),
            tsv=_pair("#1 String", "#2 String", "Quality", "index"),
        ),
        TaskSpec(
            name="qqp",
            glue_dir="QQP",
            text_fields=("question1", "question2"),
            label_names=("not_duplicate", "duplicate"),
            metrics=("accuracy", "f1"),
            primary_metric="accuracy",
            dev_splits=("validation",),
            tsv=_pair("question1", "question2", "is_duplicate", "index"),
        ),
        TaskSpec(
            name="stsb",
            glue_dir="STS-B",
            text_fields=("sentence1", "sentence2"),
            label_names=(),
            metrics=("pearson", "spearmanr"),
            primary_metric="pearson",
            dev_splits=("validation",),
            tsv=_pair("sentence1", "sentence2", "score", "score"),
        ),
        TaskSpec(
            name="mnli",
            glue_dir="MNLI",
            text_fields=("premise", "hypothesis"),
            label_names=("entailment", "neutral", "contradiction"),
            metrics=("accuracy",),
            primary_metric="accuracy",
            dev_splits=("validation_matched", "validation_mismatched"),
            tsv=_pair("sentence1", "sentence2", "gold_label", "name"),
        ),
        TaskSpec(
            name="qnli",
            glue_dir="QNLI",
            text_fields=("question", "sentence"),
            label_names=("entailment", "not_entailment"),
            metrics=("accuracy",),
            primary_metric="accuracy",
            dev_splits=("validation",),
            tsv=_pair("question", "sentence", "label", "name"),
        ),
        TaskSpec(
            name="rte",
            glue_dir="RTE",
            text_fields=("sentence1", "sentence2"),
            label_names=("entailment", "not_entailment"),
            metrics=("accuracy",),
            primary_metric="accuracy",
            dev_splits=("validation",),
            tsv=_pair("sentence1", "sentence2", "label", "name"),
        ),
    ]
}


def get_task(task: str) -> TaskSpec:
    """The spec of a GLUE task by its hub name (`sst2`, `mnli`, ...)."""
    try:
        return GLUE_TASKS[task]
    except KeyError:
        raise ValueError(f"unknown GLUE task {task!r}; known tasks: {', '.join(GLUE_TASKS)}") from None


def default_data_dir() -> Path:
    """The GLUE files: `glue/` under :func:`adamixbench.sources.paths.data_root` (the shipped subset by default)."""
    return data_root() / "glue"


def read_table(path: Path, fmt: TableFormat, missing_hint: str) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield `(line_number, row)` for every data row of a TSV/CSV file, checking its shape.

    Raises FileNotFoundError (with `missing_hint` saying how to provide the file) or ValueError naming the
    file, the line and the expected columns. `utf-8-sig` drops the byte-order mark that MRPC's files carry.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist. {missing_hint}")
    required = [*fmt.text_columns, fmt.label_column]
    separator = "tab" if fmt.delimiter == "\t" else "comma"
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f, delimiter=fmt.delimiter, quoting=fmt.quoting)
        if fmt.fieldnames is None:
            header = next(reader, None)
            if header is None:
                raise ValueError(f"{path}: file is empty; expected a header with columns {required}")
            missing = [c for c in required if c not in header]
            if missing:
                raise ValueError(f"{path}:1: header {header} lacks column(s) {missing}; expected columns {required}")
        else:
            header = list(fmt.fieldnames)
        for row in reader:
            if not row:  # a blank line carries no example
                continue
            if len(row) != len(header):
                raise ValueError(
                    f"{path}:{reader.line_num}: expected {len(header)} {separator}-separated columns "
                    f"{header}, got {len(row)}"
                )
            yield reader.line_num, dict(zip(header, row))


def parse_label(raw: str, kind: str, label_names: Sequence[str], where: str) -> int | float:
    """Convert one label cell to the hub's id (or float score), or raise ValueError naming `where`."""
    if kind == "score":
        try:
            return float(raw)
        except ValueError:
            raise ValueError(f"{where}: label {raw!r} is not a number (expected a similarity score)") from None
    if kind == "name":
        if raw in label_names:
            return list(label_names).index(raw)
        raise ValueError(f"{where}: label {raw!r} is not one of {list(label_names)}")
    if raw.isdigit() and int(raw) < len(label_names):
        return int(raw)
    raise ValueError(f"{where}: label {raw!r} is not a class id in 0..{len(label_names) - 1}")


def read_labeled_file(
    path: Path,
    fmt: TableFormat,
    text_fields: Sequence[str],
    label_names: Sequence[str],
    features: datasets.Features,
    missing_hint: str,
) -> datasets.Dataset:
    """Read a labelled file into a Dataset with columns `text_fields` + `label`."""
    columns: dict[str, list] = {f: [] for f in (*text_fields, "label")}
    for line, row in read_table(path, fmt, missing_hint):
        for field, column in zip(text_fields, fmt.text_columns):
            columns[field].append(row[column])
        columns["label"].append(parse_label(row[fmt.label_column], fmt.label_kind, label_names, f"{path}:{line}"))
    if not columns["label"]:
        raise ValueError(
            f"{path}: no examples (the file has no data rows); give a file with at least one labelled "
            f"row, or another data_dir"
        )
    return datasets.Dataset.from_dict(columns, features=features)


def load_glue_hub(task: str, split: str) -> datasets.Dataset:
    """One labelled split of a GLUE task from the hub dataset `nyu-mll/glue` at its pinned commit
    (adamixbench/sources/pins.py; the local mirror when ``ADAMIXBENCH_HUB_MIRROR`` is set): text fields + label."""
    spec = get_task(task)
    if split not in spec.splits:
        raise ValueError(f"GLUE {task} has no labelled split {split!r}; choose one of {list(spec.splits)}")
    return load_hub_split(HUB_DATASET, spec.name, split).select_columns([*spec.text_fields, "label"])


def load_glue(task: str, split: str, data_dir: str | Path | None = None) -> datasets.Dataset:
    """Load one labelled split of a GLUE task (`train`, `validation`, or MNLI's two `validation_*`).

    With `data_dir=None` and the hub allowed (or a local hub mirror set), this reads `nyu-mll/glue` at its
    pinned commit (:func:`load_glue_hub`). Otherwise it reads the
    GLUE distribution layout `<data_dir>/<TASK-DIR>/{train,dev}.tsv` (MNLI: `dev_matched.tsv`,
    `dev_mismatched.tsv`), defaulting to the subset shipped in `data/glue`.
    """
    spec = get_task(task)
    if split not in spec.splits:
        raise ValueError(f"GLUE {task} has no labelled split {split!r}; choose one of {list(spec.splits)}")
    if data_dir is None and (mirror_root() is not None or not hub_disabled()):
        return load_glue_hub(task, split)
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    path = root / spec.glue_dir / SPLIT_FILES[split]
    hint = (
        f"Provide the GLUE distribution file {spec.glue_dir}/{SPLIT_FILES[split]} (as written by GLUE's "
        f"download_glue_data.py) under a directory passed as data_dir, or run with data_dir=None and "
        f"HF_DATASETS_OFFLINE/HF_HUB_OFFLINE unset to load {HUB_DATASET} from the hub. "
        f"The repository ships only part of GLUE in {default_data_dir()} (see data/README.md)."
    )
    return read_labeled_file(path, spec.tsv, spec.text_fields, spec.label_names, spec.features(), hint)


def load_glue_for_run(cfg, split: str) -> datasets.Dataset:
    """One split of a GLUE run, from the source :func:`adamixbench.tasks.data_source.resolve_data_source`
    gives: ``paper`` / ``hub`` = the hub's GLUE at its pinned commit (:func:`load_glue_hub`), ``local`` = the
    TSVs under ``data_dir`` or the data root."""
    if resolve_data_source(cfg) == "local":
        return load_glue(cfg.task, split, cfg.data_dir or default_data_dir())
    return load_glue_hub(cfg.task, split)
