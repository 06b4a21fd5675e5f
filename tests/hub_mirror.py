"""A local mirror of the hub repositories of adamixbench/sources/pins.py, laid out EXACTLY as on the hub, built
from the subsets shipped in data/ (and a tiny stand-in model), so that tests run the real
`datasets.load_dataset` / `from_pretrained` resolution (configs from a card, splits from folder names) offline:

* ``nyu-mll/glue``: plain parquet per config on main, ``<config>/<split>-00000-of-00001.parquet``, and a
  dataset card whose YAML lists the configs (``configs:`` with ``data_files``) and their features.
* ``tuetschek/e2e_nlg``, ``webnlg-challenge/web_nlg``, ``Yale-LILY/dart``: the parquet export branch
  (``refs/convert/parquet``) of script-era repositories: ``<config>/<split>/0000.parquet`` and NO card.
  WebNLG has the ``dev`` folder (not ``validation``), a second config folder (so that reading the repository
  without ``data_dir`` would mix configs), and a ``test`` split merging three "files" named by
  ``test_category`` (``testdata_with_lex``, ``testdata_unseen_with_lex``, ``testdata_no_lex``), as the hub's.
* ``google-bert/bert-base-uncased``: a model repository (config.json, tokenizer files, safetensors weights):
  the tiny BERT stand-in (adamixbench/sources/standins.py, MiniLM's uncased WordPiece).

Point ``ADAMIXBENCH_HUB_MIRROR`` at the returned root. Each repository folder carries ``.hub_revision``
(a made-up sha: the commit the mirror claims to copy), which pins.mirror_revision() reports.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import datasets

from adamixbench.sources.paths import REPO_ROOT
from adamixbench.tasks.glue import GLUE_TASKS, SPLIT_FILES, load_glue
from adamixbench.tasks.nlg import WEBNLG_UNSEEN_CATEGORIES

DATA = REPO_ROOT / "data"
#: the commit each mirrored repository claims to copy (made up; 40 hex digits)
MIRROR_REVISIONS = {
    "nyu-mll/glue": "1" * 40,
    "tuetschek/e2e_nlg": "2" * 40,
    "webnlg-challenge/web_nlg": "3" * 40,
    "Yale-LILY/dart": "4" * 40,
    "google-bert/bert-base-uncased": "5" * 40,
}
#: categories of the shipped (seen-only) WebNLG dev entries renamed in the mirror's test split, so that the
#: test split has unseen categories as the real one does: every 3rd entry
UNSEEN_FOR_TEST = sorted(WEBNLG_UNSEEN_CATEGORIES)


def _write(ds: datasets.Dataset, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.to_parquet(str(path))


def _mark(repo: Path, repo_id: str) -> None:
    (repo / ".hub_revision").write_text(MIRROR_REVISIONS[repo_id] + "\n")


# ------------------------------------------------------------------------------------------------ GLUE
def shipped_glue_splits() -> list[tuple[str, str]]:
    """(task, split) of every GLUE file shipped in data/glue."""
    return [
        (name, split)
        for name, spec in GLUE_TASKS.items()
        for split in spec.splits
        if (DATA / "glue" / spec.glue_dir / SPLIT_FILES[split]).is_file()
    ]


def _glue_card_features(spec) -> list[dict]:
    feats = [{"name": f, "dtype": "string"} for f in spec.text_fields]
    if spec.is_regression:
        feats.append({"name": "label", "dtype": "float32"})
    else:
        names = {str(i): n for i, n in enumerate(spec.label_names)}
        feats.append({"name": "label", "dtype": {"class_label": {"names": names}}})
    feats.append({"name": "idx", "dtype": "int32"})
    return feats


def build_glue(root: Path) -> Path:
    repo = root / "nyu-mll" / "glue"
    configs, infos = [], []
    by_task: dict[str, list[str]] = {}
    for task, split in shipped_glue_splits():
        by_task.setdefault(task, []).append(split)
    for task, splits in by_task.items():
        spec = GLUE_TASKS[task]
        files, split_infos = [], []
        for split in splits:
            ds = load_glue(task, split, data_dir=DATA / "glue")
            ds = ds.add_column("idx", list(range(len(ds)))).cast_column("idx", datasets.Value("int32"))
            _write(ds, repo / task / f"{split}-00000-of-00001.parquet")
            files.append({"split": split, "path": f"{task}/{split}-*"})
            split_infos.append({"name": split, "num_examples": len(ds)})
        configs.append({"config_name": task, "data_files": files})
        infos.append({"config_name": task, "features": _glue_card_features(spec), "splits": split_infos})
    card = {"pretty_name": "GLUE (mirror of the shipped subset)", "configs": configs, "dataset_info": infos}
    (repo / "README.md").write_text("---\n" + json.dumps(card, indent=1) + "\n---\n# GLUE (test mirror)\n")
    _mark(repo, "nyu-mll/glue")
    return repo


# ------------------------------------------------------------------------------------------------ E2E
_E2E_KEYS = {"Type": "eatType", "price": "priceRange", "family friendly": "familyFriendly"}


def e2e_hub_mr(lora_mr: str) -> str:
    """LoRA's ``name : The Vaults | price : £ 20 - 25`` -> the hub's ``name[The Vaults], priceRange[£20-25]``."""
    parts = []
    for item in lora_mr.split(" | "):
        key, value = item.split(" : ", 1)
        value = re.sub(r"£ (\d+) - (\d+)", r"£\1-\2", value)
        value = re.sub(r"£ (\d+)", r"£\1", value)
        parts.append(f"{_E2E_KEYS.get(key, key)}[{value}]")
    return ", ".join(parts)


def _e2e_rows(path: Path) -> dict[str, list[str]]:
    cols = {"meaning_representation": [], "human_reference": []}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            mr, text = line.strip().split("||")
            cols["meaning_representation"].append(e2e_hub_mr(mr.strip()))
            cols["human_reference"].append(text.strip())
    return cols


def build_e2e(root: Path) -> Path:
    repo = root / "tuetschek" / "e2e_nlg"
    valid = _e2e_rows(DATA / "e2e" / "valid.txt")
    half = len(valid["human_reference"]) // 2
    parts = {
        "train": {k: v[:half] for k, v in valid.items()},
        "validation": {k: v[half:] for k, v in valid.items()},
        "test": _e2e_rows(DATA / "e2e" / "test.txt"),
    }
    for split, cols in parts.items():
        _write(datasets.Dataset.from_dict(cols), repo / "default" / split / "0000.parquet")
    _mark(repo, "tuetschek/e2e_nlg")
    return repo


# ------------------------------------------------------------------------------------------------ WebNLG
def _webnlg_entries() -> list[dict]:
    data = json.loads((DATA / "webnlg_challenge_2017" / "dev.json").read_text(encoding="utf-8"))
    return [next(iter(e.values())) for e in data["entries"]]


def webnlg_test_category(i: int, category: str) -> str:
    """The category the mirror's test split gives dev entry `i` (every 3rd becomes an unseen one)."""
    return UNSEEN_FOR_TEST[i % len(UNSEEN_FOR_TEST)] if i % 3 == 0 else category


def _webnlg_row(e: dict, eid: str, category: str, test_category: str, with_lex: bool = True) -> dict:
    lexs = e["lexicalisations"] if with_lex else []
    return {
        "category": category,
        "size": int(e["size"]),
        "eid": eid,
        "original_triple_sets": {
            "otriple_set": [
                [f"{t['subject']} | {t['property']} | {t['object']}" for t in ts]
                for ts in e["originaltriplesets"]["originaltripleset"]
            ]
        },
        "modified_triple_sets": {
            "mtriple_set": [[f"{t['subject']} | {t['property']} | {t['object']}" for t in e["modifiedtripleset"]]]
        },
        "shape": e["shape"],
        "shape_type": e["shape_type"],
        "lex": {
            "comment": [x["comment"] for x in lexs],
            "lid": [x["xml_id"] for x in lexs],
            "text": [x["lex"] for x in lexs],
            "lang": [x["lang"] for x in lexs],
        },
        "test_category": test_category,
        "dbpedia_links": [],
        "links": [],
    }


def webnlg_test_counts() -> dict[str, int]:
    """Rows per test_category in the mirror's WebNLG test split."""
    entries = _webnlg_entries()
    unseen = sum(1 for i in range(len(entries)) if i % 3 == 0)
    return {"testdata_with_lex": len(entries), "testdata_unseen_with_lex": unseen, "testdata_no_lex": len(entries)}


def build_webnlg(root: Path) -> Path:
    repo = root / "webnlg-challenge" / "web_nlg"
    entries = _webnlg_entries()
    train = [_webnlg_row(e, f"Id{i}", e["category"], "") for i, e in enumerate(entries)]
    dev = [_webnlg_row(e, f"Id{i}", e["category"], "") for i, e in enumerate(entries)]
    with_lex = [
        _webnlg_row(e, f"Id{i}", webnlg_test_category(i, e["category"]), "testdata_with_lex")
        for i, e in enumerate(entries)
    ]
    unseen = [r for i, r in enumerate(with_lex) if i % 3 == 0]
    unseen = [{**r, "test_category": "testdata_unseen_with_lex"} for r in unseen]
    no_lex = [
        _webnlg_row(e, f"Id{i}", webnlg_test_category(i, e["category"]), "testdata_no_lex", with_lex=False)
        for i, e in enumerate(entries)
    ]
    for config in ("webnlg_challenge_2017", "release_v2"):  # a second config folder, as the hub has several
        for folder, rows in (("train", train), ("dev", dev), ("test", with_lex + no_lex + unseen)):
            if config == "release_v2" and folder == "test":
                continue
            _write(datasets.Dataset.from_list(rows), repo / config / folder / "0000.parquet")
    _mark(repo, "webnlg-challenge/web_nlg")
    return repo


def webnlg_expected_test_json(path: Path) -> Path:
    """LoRA's test-file format holding what the mirror's ``testdata_with_lex`` rows hold (for comparisons)."""
    entries = _webnlg_entries()
    out = [{str(i + 1): {**e, "category": webnlg_test_category(i, e["category"])}} for i, e in enumerate(entries)]
    path.write_text(json.dumps({"entries": out}), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------------ DART
def build_dart(root: Path) -> Path:
    repo = root / "Yale-LILY" / "dart"
    data = json.loads((DATA / "dart" / "dart-v1.1.1-full-dev.json").read_text(encoding="utf-8"))
    rows = [
        {
            "tripleset": ex["tripleset"],
            "subtree_was_extended": bool(ex.get("subtree_was_extended")),
            "annotations": {
                "source": [a["source"] for a in ex["annotations"]],
                "text": [a["text"] for a in ex["annotations"]],
            },
        }
        for ex in data
    ]
    for split in ("train", "validation", "test"):
        _write(datasets.Dataset.from_list(rows), repo / "default" / split / "0000.parquet")
    _mark(repo, "Yale-LILY/dart")
    return repo


# ------------------------------------------------------------------------------------------------ model
def build_model(root: Path) -> Path:
    from adamixbench.sources.standins import standin_backbone

    repo = root / "google-bert" / "bert-base-uncased"
    shutil.copytree(standin_backbone("standin:bert-base-uncased"), repo)
    _mark(repo, "google-bert/bert-base-uncased")
    return repo


def build_mirror(root: Path) -> Path:
    """Every mirrored repository under `root`; returns `root`."""
    for build in (build_glue, build_e2e, build_webnlg, build_dart, build_model):
        build(root)
    return root
