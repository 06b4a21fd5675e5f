"""Stand-in GLUE data for smoke runs: a GLUE-layout directory where every task has a few examples per
split - the first rows of the shipped files where the repository ships them (data/README.md), and
stand-in rows (real sentences of shipped tasks, relabelled) for the files it does not ship (MNLI and QQP
train/dev, QNLI train). Pure Python (no torch), so the workflow can build it while it plans the DAG; it is
published atomically into the stand-ins' cache (`adamixbench.sources.standins.publish`)."""

from __future__ import annotations

import csv
from pathlib import Path

from adamixbench.sources import standins
from adamixbench.tasks.glue import GLUE_TASKS, SPLIT_FILES, TaskSpec, default_data_dir


def _glue_files():
    root = default_data_dir()
    for spec in GLUE_TASKS.values():
        for split in spec.splits:
            yield spec, split, root / spec.glue_dir / SPLIT_FILES[split], Path(spec.glue_dir) / SPLIT_FILES[split]


def _head(spec: TaskSpec, path: Path, rows: int) -> str:
    """The header (if the task's files have one) and the first `rows` data lines of a shipped TSV, byte for
    byte."""
    with path.open(encoding="utf-8", newline="") as f:
        lines = f.read().splitlines(keepends=True)
    has_header = spec.tsv.fieldnames is None
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


def standin_glue_dir(rows: int = standins.ROWS_PER_SPLIT) -> Path:
    """A GLUE-layout directory with `rows` examples per split of every task (see the module docstring)."""
    target = standins.STANDIN_DIR / f"glue-{rows}"
    if (target / "COMPLETE").is_file():
        return target
    with standins.publish(target, "COMPLETE", prefix=".glue-") as staging:
        listing = []
        for spec, split, shipped, rel in _glue_files():
            (staging / rel).parent.mkdir(parents=True, exist_ok=True)
            if shipped.is_file():
                text, origin = _head(spec, shipped, rows), f"first {rows} rows of data/glue/{rel}"
            else:
                text, origin = _standin_rows(spec.name, split, rows), "stand-in (not shipped): relabelled pairs"
            (staging / rel).write_text(text, encoding="utf-8")
            listing.append(f"{rel}: {origin}")
        (staging / "COMPLETE").write_text("\n".join(listing) + "\n")
    return target
