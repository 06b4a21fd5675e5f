"""Data layer of the NLG benchmark: E2E, WebNLG 2017 and DART for GPT-2-style decoders.

Every loader returns :class:`NLGExample` rows, one row per (input, reference) pair, with

* ``source``  the linearised input, exactly as microsoft/LoRA ``examples/NLG`` (and so AdaMix) feeds
  it to GPT-2 (the ``context`` field written by LoRA's ``src/format_converting_*.py``):

  - E2E: the MR string of the LoRA ``MR||text`` files, e.g.
    ``name : Alimentum | area : city centre | family friendly : no``.
  - WebNLG 2017: the ``modifiedtripleset`` joined as ``subj : prop : obj`` with `` | `` between
    triples (``Aarhus : leaderName : Jacob_Bundsgaard``); entities keep their underscores and the
    property keeps its camelCase, as in LoRA. Only lexicalisations with ``comment == "good"`` are kept
    (LoRA drops the ``toFix`` ones).
  - DART: the ``tripleset`` joined the same way, with the predicate LOWER-CASED (LoRA does
    ``rela.lower()`` for DART only), e.g. ``Mars Hill College : joined : 1973``.

* ``target``  one reference text (stripped). Training uses every row (one row per reference).
* ``category`` (WebNLG: the DBpedia category; E2E/DART: None) and ``seen`` (WebNLG only: whether the
  category is one of the 10 categories seen in WebNLG 2017 training).

For evaluation, :func:`group_references` groups the references PER INPUT, the way LoRA's
``src/gpt2_decode.py`` does before scoring: keyed by the linearised ``source`` string, in order of
first occurrence (two entries whose triple sets linearise identically are merged, as upstream).

Where the data comes from
-------------------------
``load_nlg(task, split, source=..., data_dir=...)``; a run's ``source`` is its ``data_source`` resolved once
(adamixbench/tasks/data_source.py, :func:`load_nlg_splits`):

* ``source="paper"``: the paper's data, microsoft/LoRA's ``examples/NLG/data`` files at the pinned commit
  (adamixbench/sources/paper_data.py): fetched once (``python -m adamixbench fetch-data``) into the cache
  under the data root, or read from ``data_dir`` when given, and verified by git blob id on every use. The
  real train / dev / test files: no carving.
* ``source="hub"`` (``hub=True``): the Hugging Face datasets ``tuetschek/e2e_nlg``, ``webnlg-challenge/web_nlg``
  (config ``webnlg_challenge_2017``; its ``test`` split filtered to LoRA's 1,862-input test file) and
  ``Yale-LILY/dart``, at the commits pinned in adamixbench/sources/pins.py, converted to the same
  linearisation. The hub's texts are NOT tokenised like LoRA's files, which are the scorer input behind the
  paper's numbers (``£20-25`` vs ``£ 20 - 25``, ``family-friendly`` vs ``family - friendly``): MR values
  are re-spaced to LoRA's form, reference texts are kept as published, so hub-sourced NLG scores are not
  the paper's setting.
* ``source="local"`` (default): local files in the LoRA layout (see :data:`FILES`), by default the
  subsets shipped in ``<repo>/data/`` (see the ``SOURCE.md`` beside them).

The shipped data has no training files (E2E ``train.txt`` and the WebNLG/DART train/test files are
over 4 MiB upstream). When the ``train`` file is missing, ``split="train"`` is CARVED out of the
development file: inputs (grouped by ``source``, so no MR / triple set is in both parts) are ordered by
the SHA-256 of their ``source`` string (deterministic, independent of RNG and of file order) and the
first ``heldout_fraction`` of them form the held-out ``validation`` part; the rest is ``train``.
In that case ``split="validation"`` returns only the held-out part. When a real train file is present,
``validation`` is the whole development file. ``split="test"`` always reads the test file (E2E:
shipped in full; WebNLG/DART: not shipped, a missing file raises an error saying where to put it).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from adamixbench.sources import paper_data
from adamixbench.sources.paths import data_root
from adamixbench.tasks.data_source import resolve_data_source

TASKS = paper_data.TASKS  # the NLG tasks: the paper's Tables 3-5, whose files sources/paper_data.py pins
PRIMARY_METRIC = "bleu"  # the first column of the paper's NLG tables

__all__ = [
    "TASKS",
    "FILES",
    "WEBNLG_SEEN_CATEGORIES",
    "WEBNLG_UNSEEN_CATEGORIES",
    "NLGExample",
    "NLGGroup",
    "NLGDataError",
    "default_data_dir",
    "linearize_triples",
    "read_e2e_file",
    "read_webnlg_json",
    "read_dart_json",
    "filter_webnlg_category",
    "group_references",
    "carve_split",
    "load_nlg",
    "load_nlg_groups",
]

#: File names per task and split, in the microsoft/LoRA ``examples/NLG/data`` layout.
FILES: dict[str, dict[str, str]] = {
    "e2e": {"train": "train.txt", "validation": "valid.txt", "test": "test.txt"},
    "webnlg": {"train": "train.json", "validation": "dev.json", "test": "test.json"},
    "dart": {
        "train": "dart-v1.1.1-full-train.json",
        "validation": "dart-v1.1.1-full-dev.json",
        "test": "dart-v1.1.1-full-test.json",
    },
}
#: Sub-directory of ``data/`` per task (same names as LoRA's).
TASK_DIRS = {"e2e": "e2e", "webnlg": "webnlg_challenge_2017", "dart": "dart"}

#: The 10 DBpedia categories of the WebNLG 2017 training data (LoRA's ``seen`` list).
WEBNLG_SEEN_CATEGORIES = frozenset(
    {
        "Airport",
        "Astronaut",
        "Building",
        "City",
        "ComicsCharacter",
        "Food",
        "Monument",
        "SportsTeam",
        "University",
        "WrittenWork",
    }
)
#: The 5 categories that appear only in the WebNLG 2017 test set.
WEBNLG_UNSEEN_CATEGORIES = frozenset(
    {
        "Athlete",
        "Artist",
        "CelestialBody",
        "MeanOfTransportation",
        "Politician",
    }
)

_SPLIT_ALIASES = {
    "train": "train",
    "validation": "validation",
    "valid": "validation",
    "dev": "validation",
    "test": "test",
}

_E2E_FORMAT = "one 'MR||text' pair per line (microsoft/LoRA examples/NLG/data/e2e format)"
_WEBNLG_FORMAT = (
    "a JSON object {'entries': [{'<id>': {'category', 'modifiedtripleset': "
    "[{'subject','property','object'}], 'lexicalisations': [{'lex','comment'}]}}]} "
    "(microsoft/LoRA examples/NLG/data/webnlg_challenge_2017 format)"
)
_DART_FORMAT = (
    "a JSON list [{'tripleset': [[subj, pred, obj], ...], 'annotations': "
    "[{'source', 'text'}]}] (DART v1.1.1 release format)"
)


class NLGDataError(ValueError):
    """A data file is malformed; the message names the file and the expected format."""


@dataclass(frozen=True)
class NLGExample:
    source: str
    target: str
    category: str | None = None
    seen: bool | None = None


@dataclass(frozen=True)
class NLGGroup:
    """One evaluation input with ALL its references (multi-reference scoring)."""

    source: str
    references: tuple[str, ...]
    category: str | None = None
    seen: bool | None = None


# --------------------------------------------------------------------------------------------------
# paths
# --------------------------------------------------------------------------------------------------
def default_data_dir(task: str) -> Path:
    """The task's folder under :func:`adamixbench.sources.paths.data_root` (the shipped subsets by default)."""
    return data_root() / TASK_DIRS[_check_task(task)]


def _check_task(task: str) -> str:
    t = task.lower().replace("-", "_")
    t = {"e2e_nlg": "e2e", "web_nlg": "webnlg", "webnlg_challenge_2017": "webnlg"}.get(t, t)
    if t not in TASKS:
        raise ValueError(f"unknown NLG task {task!r}; expected one of {', '.join(TASKS)}")
    return t


def _check_split(split: str) -> str:
    try:
        return _SPLIT_ALIASES[split]
    except KeyError:
        raise ValueError(f"unknown split {split!r}; expected train, validation (valid/dev) or test") from None


# --------------------------------------------------------------------------------------------------
# linearisation (LoRA src/format_converting_{webnlg,dart}.py)
# --------------------------------------------------------------------------------------------------
def linearize_triples(triples: Iterable[Sequence[str]], lower_predicate: bool = False) -> str:
    """``s1 : p1 : o1 | s2 : p2 : o2`` -- LoRA's linearisation (DART lower-cases the predicate)."""
    parts = []
    for subj, pred, obj in triples:
        parts.append(f"{subj} : {pred.lower() if lower_predicate else pred} : {obj}")
    return " | ".join(parts)


# --------------------------------------------------------------------------------------------------
# local readers
# --------------------------------------------------------------------------------------------------
def _open_text(path: Path, fmt: str) -> str:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file not found (expected {fmt})")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise NLGDataError(f"{path}: not UTF-8 text ({e}); expected {fmt}") from None


def read_e2e_file(path: str | Path) -> list[NLGExample]:
    """Read a LoRA-format E2E file: ``MR||text`` per line (blank lines skipped)."""
    path = Path(path)
    text = _open_text(path, _E2E_FORMAT)
    rows = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        line = line.strip()  # LoRA: items = line.strip().split('||')
        if not line:
            continue
        items = line.split("||")
        if len(items) != 2 or not items[0].strip() or not items[1].strip():
            raise NLGDataError(f"{path}:{lineno}: expected {_E2E_FORMAT}, got {line[:80]!r}")
        rows.append(NLGExample(source=items[0].strip(), target=items[1].strip()))
    if not rows:
        raise NLGDataError(f"{path}: no examples; expected {_E2E_FORMAT}")
    return rows


def _load_json(path: Path, fmt: str):
    text = _open_text(path, fmt)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise NLGDataError(f"{path}: invalid JSON ({e}); expected {fmt}") from None


def read_webnlg_json(path: str | Path, category: str = "all") -> list[NLGExample]:
    """Read a LoRA/PrefixTuning-format WebNLG 2017 JSON file, keeping 'good' lexicalisations."""
    path = Path(path)
    data = _load_json(path, _WEBNLG_FORMAT)
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        raise NLGDataError(f"{path}: missing top-level 'entries' list; expected {_WEBNLG_FORMAT}")
    rows = []
    for i, entry in enumerate(data["entries"]):
        try:
            if not isinstance(entry, dict) or len(entry) != 1:
                raise KeyError("entry must be a one-key object {'<id>': {...}}")
            (e,) = entry.values()
            cate = e["category"]
            triples = [(t["subject"], t["property"], t["object"]) for t in e["modifiedtripleset"]]
            lexs = e["lexicalisations"]
            if not triples:
                raise KeyError("empty modifiedtripleset")
            src = linearize_triples(triples)
            for lex in lexs:
                if lex["comment"] == "good":
                    rows.append(
                        NLGExample(
                            source=src, target=lex["lex"].strip(), category=cate, seen=cate in WEBNLG_SEEN_CATEGORIES
                        )
                    )
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise NLGDataError(f"{path}: entry {i}: {err!r}; expected {_WEBNLG_FORMAT}") from None
    if not data["entries"]:
        raise NLGDataError(f"{path}: no entries; expected {_WEBNLG_FORMAT}")
    return filter_webnlg_category(rows, category)


def read_dart_json(path: str | Path) -> list[NLGExample]:
    """Read a DART v1.1.1 JSON file (list of {tripleset, annotations})."""
    path = Path(path)
    data = _load_json(path, _DART_FORMAT)
    if not isinstance(data, list) or not data:
        raise NLGDataError(f"{path}: expected a non-empty top-level list; expected {_DART_FORMAT}")
    rows = []
    for i, ex in enumerate(data):
        try:
            triples = [tuple(t) for t in ex["tripleset"]]
            if not triples or any(len(t) != 3 for t in triples):
                raise ValueError("every triple must be [subject, predicate, object]")
            src = linearize_triples(triples, lower_predicate=True)
            for ann in ex["annotations"]:
                rows.append(NLGExample(source=src, target=ann["text"].strip()))
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise NLGDataError(f"{path}: entry {i}: {err!r}; expected {_DART_FORMAT}") from None
    return rows


def filter_webnlg_category(rows: Sequence[NLGExample], category: str = "all") -> list[NLGExample]:
    """Keep ``all`` rows, only ``seen`` categories, only ``unseen`` ones (as LoRA's ``--filter``)."""
    if category == "all":
        return list(rows)
    if category == "seen":
        return [r for r in rows if r.seen]
    if category == "unseen":
        return [r for r in rows if r.seen is False]
    raise ValueError(f"unknown WebNLG category filter {category!r}; expected all, seen or unseen")


# --------------------------------------------------------------------------------------------------
# grouping and carving
# --------------------------------------------------------------------------------------------------
def group_references(rows: Iterable[NLGExample]) -> list[NLGGroup]:
    """Group references per input (keyed by ``source``, first-occurrence order), as gpt2_decode.py."""
    order: dict[str, list[str]] = {}
    meta: dict[str, NLGExample] = {}
    for r in rows:
        if r.source not in order:
            order[r.source] = []
            meta[r.source] = r
        order[r.source].append(r.target)
    return [
        NLGGroup(source=s, references=tuple(refs), category=meta[s].category, seen=meta[s].seen)
        for s, refs in order.items()
    ]


def _source_key(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def carve_split(rows: Sequence[NLGExample], heldout_fraction: float = 0.1) -> tuple[list[NLGExample], list[NLGExample]]:
    """Split rows into (train, heldout) by input: no ``source`` ends up in both parts.

    Inputs are ranked by the SHA-256 of their ``source``; the first ``ceil(heldout_fraction * n)``
    (at least 1, at most n-1) are held out. Row order inside each part is the file order.
    """
    if not 0.0 < heldout_fraction < 1.0:
        raise ValueError(f"heldout_fraction must be in (0, 1), got {heldout_fraction}")
    sources = list(dict.fromkeys(r.source for r in rows))
    if len(sources) < 2:
        raise ValueError("need at least 2 distinct inputs to carve a train/held-out split")
    n_held = min(max(1, math.ceil(round(heldout_fraction * len(sources), 9))), len(sources) - 1)
    held = set(sorted(sources, key=_source_key)[:n_held])
    return [r for r in rows if r.source not in held], [r for r in rows if r.source in held]


# --------------------------------------------------------------------------------------------------
# hub loaders (online; the real loading code, converted to LoRA's linearisation)
# --------------------------------------------------------------------------------------------------
#: task -> (pinned hub dataset, its config folder on the parquet branch): see adamixbench/sources/pins.py.
#: The three are script-era repositories, read from their parquet export (`refs/convert/parquet`): one folder
#: per config, NO dataset card, so they are read with ``data_dir=<config>`` (not ``name=``) and with the
#: split names `datasets` derives from the folders (WebNLG's ``dev`` folder is split ``validation``).
HUB_DATASETS = {
    "e2e": ("tuetschek/e2e_nlg", "default"),
    "webnlg": ("webnlg-challenge/web_nlg", "webnlg_challenge_2017"),
    "dart": ("Yale-LILY/dart", "default"),
}
#: The hub's WebNLG 2017 ``test`` split merges every test file (4,615 rows); ``test_category`` names the file.
#: LoRA's (and so the paper's) test set is the 1,862 inputs of the file with lexicalisations.
WEBNLG_HUB_TEST_FILE = "testdata_with_lex"
_E2E_HUB_KEYS = {
    "eatType": "Type",
    "priceRange": "price",
    "customer rating": "customer rating",
    "familyFriendly": "family friendly",
    "name": "name",
    "food": "food",
    "area": "area",
    "near": "near",
}


def _e2e_hub_mr(mr: str) -> str:
    """``name[The Vaults], eatType[pub], priceRange[£20-25]`` -> LoRA's ``name : The Vaults | ...``."""
    parts = []
    for m in re.finditer(r"\s*([^\[,]+)\[([^\]]*)\]", mr):
        key, val = m.group(1).strip(), m.group(2).strip()
        key = _E2E_HUB_KEYS.get(key, key)
        val = re.sub(r"£(\d+)-(\d+)", r"£ \1 - \2", val)
        val = re.sub(r"£(\d+)", r"£ \1", val)
        parts.append(f"{key} : {val}")
    if not parts:
        raise NLGDataError(f"hub E2E: cannot parse meaning representation {mr!r}")
    return " | ".join(parts)


def _hub_rows(task: str, split: str, category: str = "all") -> list[NLGExample]:
    from adamixbench.tasks.hub import load_hub_split  # imported lazily: only the hub path needs `datasets`

    repo_id, config = HUB_DATASETS[task]
    ds = load_hub_split(repo_id, config, split)
    if task == "webnlg" and split == "test":
        ds = ds.filter(lambda ex: ex["test_category"] == WEBNLG_HUB_TEST_FILE)
    rows: list[NLGExample] = []
    if task == "e2e":
        for ex in ds:
            rows.append(
                NLGExample(source=_e2e_hub_mr(ex["meaning_representation"]), target=ex["human_reference"].strip())
            )
        return rows
    if task == "webnlg":
        for ex in ds:
            cate = ex["category"]
            triples = [tuple(p.strip() for p in t.split(" | ")) for t in ex["modified_triple_sets"]["mtriple_set"][0]]
            src = linearize_triples(triples)
            lex = ex["lex"]
            comments = lex.get("comment") or [""] * len(lex["text"])
            for text, comment in zip(lex["text"], comments):
                # LoRA keeps comment == "good"; the hub's test lexicalisations may carry no comment
                if comment in ("good", ""):
                    rows.append(
                        NLGExample(source=src, target=text.strip(), category=cate, seen=cate in WEBNLG_SEEN_CATEGORIES)
                    )
        return filter_webnlg_category(rows, category)
    for ex in ds:  # dart
        src = linearize_triples([tuple(t) for t in ex["tripleset"]], lower_predicate=True)
        for text in ex["annotations"]["text"]:
            rows.append(NLGExample(source=src, target=text.strip()))
    return rows


# --------------------------------------------------------------------------------------------------
# public entry points
# --------------------------------------------------------------------------------------------------
def _read_local(task: str, path: Path, category: str) -> list[NLGExample]:
    if task == "e2e":
        return read_e2e_file(path)
    if task == "webnlg":
        return read_webnlg_json(path, category=category)
    return read_dart_json(path)


def local_file(task: str, split: str, data_dir: str | Path | None = None) -> Path:
    """The file that local data (``source="local"``) read for ``split``: the split's own file, or the
    development file when there is no train file and ``split`` is train / validation (carved, module docstring)."""
    task, split = _check_task(task), _check_split(split)
    ddir = Path(data_dir) if data_dir is not None else default_data_dir(task)
    if split == "test" or (ddir / FILES[task]["train"]).is_file():
        return ddir / FILES[task][split]
    return ddir / FILES[task]["validation"]


def _local_rows(task: str, split: str, data_dir, category: str, heldout_fraction: float) -> list[NLGExample]:
    path = local_file(task, split, data_dir)
    if path.name == FILES[task][split] and (split == "test" or path.with_name(FILES[task]["train"]).is_file()):
        if not path.is_file():
            raise FileNotFoundError(
                f"{path}: file not found (expected the {task} {split} file in the microsoft/LoRA "
                f"examples/NLG/data layout; put it there, or pass data_dir=..., or use data_source paper "
                f"(`{paper_data.fetch_command([task])}` fetches the paper's files) or hub)"
            )
        return _read_local(task, path, category)
    # No train file: carve train / held-out validation out of the development file, by input.
    # Carve BEFORE the category filter so that the partition does not depend on it.
    train, held = carve_split(_read_local(task, path, "all"), heldout_fraction)
    rows = train if split == "train" else held
    return filter_webnlg_category(rows, category) if task == "webnlg" else rows


def load_nlg(
    task: str,
    split: str,
    *,
    data_dir: str | Path | None = None,
    source: str | None = None,
    hub: bool = False,
    category: str = "all",
    heldout_fraction: float = 0.1,
    max_examples: int | None = None,
) -> list[NLGExample]:
    """Rows (one per input/reference pair) of ``task`` / ``split``.

    ``source`` (module docstring; adamixbench/tasks/data_source.py): ``paper`` = microsoft/LoRA's files at the
    pinned commit, verified (in ``data_dir`` when given, else the fetched cache); ``hub`` = the hub loaders;
    ``local`` (default) = the files under ``data_dir`` or the data root, train carved out of dev when absent.
    ``hub=True`` is ``source="hub"``. ``category`` (WebNLG only): ``all`` | ``seen`` | ``unseen``.
    ``max_examples`` keeps the first N INPUTS (all their references), in file order.
    """
    task, split = _check_task(task), _check_split(split)
    source = source or ("hub" if hub else "local")
    if category not in ("all", "seen", "unseen"):
        raise ValueError(f"unknown WebNLG category filter {category!r}; expected all, seen or unseen")
    if category != "all" and task != "webnlg":
        raise ValueError(f"category={category!r} applies to WebNLG only, not {task}")
    if source == "hub":
        rows = _hub_rows(task, split, category)
    elif source == "paper":
        rows = _read_local(task, paper_data.resolve(task, split, data_dir), category)
    elif source == "local":
        rows = _local_rows(task, split, data_dir, category, heldout_fraction)
    else:
        raise ValueError(f"unknown NLG data source {source!r}; expected paper, hub or local")
    if max_examples is not None:
        keep = set(list(dict.fromkeys(r.source for r in rows))[:max_examples])
        rows = [r for r in rows if r.source in keep]
    return rows


def load_nlg_groups(task: str, split: str, **kwargs) -> list[NLGGroup]:
    """Evaluation view of :func:`load_nlg`: one :class:`NLGGroup` per input with all references."""
    return group_references(load_nlg(task, split, **kwargs))


def run_splits(cfg) -> tuple[str, str, tuple[str, ...]]:
    """(data source, report split, every split read) of a run config: the report split is ``test``, except
    for local data without a test file (the shipped WebNLG / DART subsets), which report on the carved
    held-out part of the dev file; ``selection: heldout`` also reads ``validation``."""
    task, source = _check_task(cfg.task), resolve_data_source(cfg)
    if cfg.selection == "paper":
        raise ValueError(
            "--selection paper (best epoch on the reported set) is not used for NLG upstream, which "
            "decodes the last checkpoint; use --selection last or heldout"
        )
    report = "test"
    if source == "local" and not local_file(task, "test", cfg.data_dir).is_file():
        if cfg.selection == "heldout":
            raise ValueError(
                f"{cfg.task}: no test file offline ({local_file(task, 'test', cfg.data_dir)}), so the held-out "
                f"part of the dev file is the report split and cannot also select the model; use --selection "
                f"last, or data_source paper (`{paper_data.fetch_command([task])}`)"
            )
        report = "validation"
    return source, report, ("train", report, *(("validation",) if cfg.selection == "heldout" else ()))


def load_nlg_splits(cfg):
    """(training rows, report split name, report groups, held-out selection groups or None) of a run config,
    untokenised, from the source :func:`adamixbench.tasks.data_source.resolve_data_source` gives: what the
    engine (generation.build_nlg_task) trains and scores on, and what `adamixbench.engine.validate` checks
    before any job. Paper data missing: ONE error naming every missing file and the fetch command."""
    source, report_split, splits = run_splits(cfg)
    task = _check_task(cfg.task)
    if source == "paper":
        paper_data.resolve_all(paper_data.files_of([task], splits), cfg.data_dir)
    kwargs = {"data_dir": cfg.data_dir, "source": source, "heldout_fraction": cfg.heldout_fraction}
    train = load_nlg(task, "train", max_examples=cfg.max_train_samples, **kwargs)
    report_groups = load_nlg_groups(task, report_split, max_examples=cfg.max_eval_samples, **kwargs)
    held = None
    if cfg.selection == "heldout":
        held = load_nlg_groups(task, "validation", max_examples=cfg.max_eval_samples, **kwargs)
    return train, report_split, report_groups, held
