"""GLUE task specs and TSV loaders, on the shipped files and on deliberately broken ones."""

import hashlib
import re
from pathlib import Path

import pytest

from adamixbench.tasks.glue import GLUE_TASKS, default_data_dir, get_task, load_glue

DATA = Path(__file__).resolve().parents[2] / "data"


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")


# Published GLUE sizes, also listed in data/README.md.
@pytest.mark.parametrize(
    ("task", "split", "rows"),
    [
        ("sst2", "train", 67_349),
        ("sst2", "validation", 872),
        ("mrpc", "train", 3_668),
        ("mrpc", "validation", 408),
        ("cola", "train", 8_551),
        ("cola", "validation", 1_043),
        ("rte", "train", 2_490),
        ("rte", "validation", 277),
        ("stsb", "train", 5_749),
        ("stsb", "validation", 1_500),
        ("qnli", "validation", 5_463),
    ],
)
def test_shipped_split_sizes_and_columns(task, split, rows):
    ds = load_glue(task, split)
    spec = get_task(task)
    assert len(ds) == rows
    assert ds.column_names == [*spec.text_fields, "label"]
    assert ds.features == spec.features()


@pytest.mark.parametrize(
    ("task", "counts"),
    [
        ("sst2", {0: 428, 1: 444}),  # GLUE "0"/"1" strings are the hub ids
        ("rte", {0: 146, 1: 131}),  # entailment=0, not_entailment=1 (hub order)
        ("qnli", {0: 2_702, 1: 2_761}),
        ("cola", {0: 322, 1: 721}),
        ("mrpc", {0: 129, 1: 279}),
    ],
)
def test_label_mapping_matches_the_file_counts(task, counts):
    labels = load_glue(task, "validation")["label"]
    assert {c: list(labels).count(c) for c in counts} == counts


def test_first_rows_keep_text_exactly():
    assert load_glue("sst2", "validation")[0] == {
        "sentence": "it 's a charming and often affecting journey . ",
        "label": 1,
    }
    rte = load_glue("rte", "validation")[0]
    assert rte["sentence2"] == "Christopher Reeve had an accident." and rte["label"] == 1
    cola = load_glue("cola", "validation")
    assert cola[0] == {"sentence": "The sailors rode the breeze clear of the rocks.", "label": 1}
    assert cola[-1]["sentence"] == "John talked to Bill about himself."  # last line has no newline
    mrpc = load_glue("mrpc", "validation")[0]  # header carries a BOM; quote characters are text
    assert mrpc["sentence2"] == '" The foodservice pie business does not fit our long-term growth strategy .'
    assert mrpc["label"] == 1
    stsb = load_glue("stsb", "validation")[1]
    assert stsb["sentence1"] == "A young child is riding a horse." and stsb["label"] == pytest.approx(4.75)


def test_task_specs():
    assert set(GLUE_TASKS) == {"cola", "sst2", "mrpc", "qqp", "stsb", "mnli", "qnli", "rte"}
    assert get_task("stsb").num_labels == 1 and get_task("stsb").is_regression
    assert get_task("mnli").num_labels == 3
    assert get_task("mnli").label_names == ("entailment", "neutral", "contradiction")
    assert get_task("mnli").dev_splits == ("validation_matched", "validation_mismatched")
    assert get_task("cola").primary_metric == "matthews_correlation"
    assert all(spec.primary_metric in spec.metrics for spec in GLUE_TASKS.values())
    assert default_data_dir() == DATA / "glue"


def test_unknown_task_and_split():
    with pytest.raises(ValueError, match="known tasks"):
        load_glue("wnli", "train")
    with pytest.raises(ValueError, match="validation_matched"):
        load_glue("mnli", "validation")
    with pytest.raises(ValueError, match="no labelled split 'test'"):
        load_glue("rte", "test")


def test_missing_file_names_path_and_remedy(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        load_glue("rte", "train", data_dir=tmp_path)
    message = str(err.value)
    assert str(tmp_path / "RTE" / "train.tsv") in message
    assert "download_glue_data.py" in message and "nyu-mll/glue" in message


def test_unshipped_mnli_offline_is_a_clear_error():
    with pytest.raises(FileNotFoundError, match=r"MNLI/dev_matched\.tsv"):
        load_glue("mnli", "validation_matched")


def _write(tmp_path, task_dir, name, text):
    path = tmp_path / task_dir / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_row_with_missing_column(tmp_path):
    path = _write(
        tmp_path,
        "RTE",
        "dev.tsv",
        "index\tsentence1\tsentence2\tlabel\n0\tA.\tB.\tentailment\n1\tA only.\tnot_entailment\n",
    )
    with pytest.raises(ValueError) as err:
        load_glue("rte", "validation", data_dir=tmp_path)
    message = str(err.value)
    assert f"{path}:3" in message
    assert "['index', 'sentence1', 'sentence2', 'label']" in message


def test_header_without_required_column(tmp_path):
    path = _write(tmp_path, "STS-B", "train.tsv", "index\tsentence1\tsentence2\n0\ta\tb\n")
    with pytest.raises(ValueError) as err:
        load_glue("stsb", "train", data_dir=tmp_path)
    assert str(path) in str(err.value) and "['sentence1', 'sentence2', 'score']" in str(err.value)


@pytest.mark.parametrize(
    ("task_dir", "task", "text", "expected"),
    [
        ("RTE", "rte", "index\tsentence1\tsentence2\tlabel\n0\tA.\tB.\tneutral\n", "['entailment', 'not_entailment']"),
        ("CoLA", "cola", "gj04\t2\t\tA sentence.\n", "0..1"),
        (
            "STS-B",
            "stsb",
            "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n"
            "0\tg\tf\ty\t0\tn\tn\ta\tb\thigh\n",
            "not a number",
        ),
    ],
)
def test_bad_label(tmp_path, task_dir, task, text, expected):
    name = "dev.tsv"
    path = _write(tmp_path, task_dir, name, text)
    with pytest.raises(ValueError) as err:
        load_glue(task, "validation", data_dir=tmp_path)
    assert f"{path}:" in str(err.value) and expected in str(err.value)


def test_quotes_are_text_not_csv_quoting(tmp_path):
    # GLUE QQP writes questions like "Why is a drink called a ""shot""?"; GLUE's readers keep them verbatim.
    _write(
        tmp_path,
        "QQP",
        "dev.tsv",
        "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n"
        '1\t2\t3\t"Why is a drink called a ""shot""?\tWhat is a shot?\t0\n',
    )
    row = load_glue("qqp", "validation", data_dir=tmp_path)[0]
    assert row == {"question1": '"Why is a drink called a ""shot""?', "question2": "What is a shot?", "label": 0}


def _readme_rows():
    pattern = re.compile(r"^\| `((?:glue|fewshot)/[^`]+)` \| ([\d,-]+) \| ([\d,]+) \| `([0-9a-f]{64})` \|")
    return [m.groups() for line in (DATA / "README.md").read_text().splitlines() if (m := pattern.match(line))]


def test_readme_lists_every_shipped_file_with_its_hash():
    rows = _readme_rows()
    listed = {rel for rel, *_ in rows}
    shipped = {str(p.relative_to(DATA)) for sub in ("glue", "fewshot") for p in (DATA / sub).rglob("*") if p.is_file()}
    assert listed == shipped
    for rel, _, size, sha in rows:
        blob = (DATA / rel).read_bytes()
        assert len(blob) == int(size.replace(",", "")), rel
        assert hashlib.sha256(blob).hexdigest() == sha, rel


def test_readme_row_counts_match_the_loader():
    counts = {rel: rows for rel, rows, *_ in _readme_rows()}
    for task in ("sst2", "mrpc", "cola", "rte", "stsb"):
        spec = get_task(task)
        for split, name in (("train", "train.tsv"), ("validation", "dev.tsv")):
            assert int(counts[f"glue/{spec.glue_dir}/{name}"].replace(",", "")) == len(load_glue(task, split))
