"""The paper's NLG data (adamixbench/sources/paper_data.py): pinned by git blob id, fetched once through pooch
from a raw-content host (here a local HTTP server with the same ``<commit>/<path>`` layout), written atomically,
verified on every use; offline, a missing file is an error naming it and the command that fetches it."""

from __future__ import annotations

import http.server
import os
import shutil
import subprocess
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from adamixbench.engine.cli import main as cli_main
from adamixbench.engine.fetch_data import suite_tasks
from adamixbench.sources import paper_data
from adamixbench.sources.paper_data import PaperDataError, PaperDataMissing
from adamixbench.sources.paths import REPO_ROOT
from adamixbench.tasks import nlg

SHIPPED = REPO_ROOT / "data"
E2E_DEV, E2E_TEST = paper_data.paper_file("e2e", "validation"), paper_data.paper_file("e2e", "test")


@pytest.fixture
def data_root(tmp_path, monkeypatch) -> Path:
    """An empty data root: no shipped copy to seed from, an empty cache."""
    root = tmp_path / "data"
    root.mkdir()
    monkeypatch.setenv("ADAMIXBENCH_DATA_DIR", str(root))
    monkeypatch.delenv(paper_data.BASE_URL_ENV, raising=False)
    return root


class _Host(http.server.SimpleHTTPRequestHandler):
    """Serves a folder like the raw-content host; paths in `cut` send their full Content-Length but only
    half the body, then drop the connection (an interrupted download)."""

    root: Path
    cut: set
    seen: list

    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=str(self.root), **kwargs)

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.seen.append(self.path)
        if self.path in self.cut:
            data = (self.root / self.path.lstrip("/")).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        super().do_GET()


@pytest.fixture
def raw_host(tmp_path, monkeypatch):
    """A local raw-content host serving the shipped E2E dev / test files under <commit>/<path>."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    root = tmp_path / "host"
    for f, shipped in ((E2E_DEV, SHIPPED / "e2e" / "valid.txt"), (E2E_TEST, SHIPPED / "e2e" / "test.txt")):
        target = root / paper_data.LORA_COMMIT / f.path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shipped, target)
    handler = type("Host", (_Host,), {"root": root, "cut": set(), "seen": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield SimpleNamespace(root=root, url=f"http://127.0.0.1:{server.server_address[1]}", handler=handler)
    server.shutdown()
    server.server_close()


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


# ------------------------------------------------------------------------------------------ blob ids
def test_git_blob_id_is_what_git_hash_object_prints(tmp_path):
    path = tmp_path / "x.bin"
    for data in (b"", b"hello\n", bytes(range(256)) * 5000):
        path.write_bytes(data)
        expected = subprocess.run(
            ["git", "hash-object", "--no-filters", str(path)], capture_output=True, text=True, check=True
        ).stdout.strip()
        assert paper_data.git_blob_id(path) == expected
    assert paper_data.git_blob_id(tmp_path / "x.bin") != paper_data.sha256_of(path)[:40]


def test_the_shipped_e2e_dev_and_test_files_are_the_pinned_blobs():
    for f, name in ((E2E_DEV, "valid.txt"), (E2E_TEST, "test.txt")):
        path = SHIPPED / "e2e" / name
        assert paper_data.git_blob_id(path) == f.blob
        assert (path.stat().st_size, paper_data.sha256_of(path)) == (f.size, f.sha256)
        assert paper_data.shipped_copy(f) == path  # used as is: E2E dev / test need no download
    # the shipped WebNLG / DART dev files are subsets, not the paper's files
    for task in ("webnlg", "dart"):
        assert paper_data.shipped_copy(paper_data.paper_file(task, "validation")) is None
    assert len(paper_data.PAPER_FILES) == 9 and {f.task for f in paper_data.PAPER_FILES} == {"e2e", "webnlg", "dart"}


def test_a_good_file_passes_and_a_truncated_or_corrupted_one_fails_naming_the_fix(tmp_path):
    good = tmp_path / "valid.txt"
    shutil.copyfile(SHIPPED / "e2e" / "valid.txt", good)
    assert paper_data.verify(good, E2E_DEV) == good
    data = good.read_bytes()
    for name, broken in (("truncated", data[:-100]), ("corrupted", data.replace(b"Alimentum", b"Alimentun", 1))):
        bad = tmp_path / name
        bad.write_bytes(broken)
        with pytest.raises(PaperDataError) as err:
            paper_data.verify(bad, E2E_DEV)
        message = str(err.value)
        for text in (str(bad), E2E_DEV.blob, paper_data.git_blob_id(bad), "delete it", "fetch-data --task e2e"):
            assert text in message, message


def test_every_use_verifies_and_a_changed_cached_file_is_an_error_not_a_reread(data_root):
    cached = paper_data.cache_path(E2E_TEST)
    cached.parent.mkdir(parents=True)
    shutil.copyfile(SHIPPED / "e2e" / "test.txt", cached)
    assert paper_data.resolve("e2e", "test") == cached
    assert len(nlg.load_nlg("e2e", "test", source="paper")) == 4693
    with cached.open("ab") as handle:
        handle.write(b"extra||line\n")
    for use in (lambda: paper_data.resolve("e2e", "test"), lambda: nlg.load_nlg("e2e", "test", source="paper")):
        with pytest.raises(PaperDataError, match="delete it and run `python -m adamixbench fetch-data --task e2e`"):
            use()
    with pytest.raises(PaperDataError):  # fetch does not silently replace it either
        paper_data.fetch([E2E_TEST], base="http://127.0.0.1:9", log=lambda _: None)
    assert cached.read_bytes().endswith(b"extra||line\n")


# ------------------------------------------------------------------------------------------ fetching
def test_fetch_downloads_once_through_pooch_from_the_raw_host(data_root, raw_host, monkeypatch):
    monkeypatch.setenv(paper_data.BASE_URL_ENV, raw_host.url)  # the host, as a user would override it
    paths = paper_data.fetch([E2E_DEV, E2E_TEST], log=lambda _: None)
    assert paths == [paper_data.cache_path(E2E_DEV), paper_data.cache_path(E2E_TEST)]
    assert paths[0] == data_root / "paper" / "lora-c4593f060e6a" / "examples/NLG/data/e2e/valid.txt"
    assert [paper_data.git_blob_id(p) for p in paths] == [E2E_DEV.blob, E2E_TEST.blob]
    expected = [f"/{paper_data.LORA_COMMIT}/{f.path}" for f in (E2E_DEV, E2E_TEST)]
    assert raw_host.handler.seen == expected
    assert paper_data.fetch([E2E_DEV, E2E_TEST], log=lambda _: None) == paths
    assert raw_host.handler.seen == expected  # once: the second fetch verified the cache, downloaded nothing
    assert _leftovers(paper_data.cache_dir()) == ["test.txt", "valid.txt"]
    shipped = nlg.group_references(nlg.read_e2e_file(SHIPPED / "e2e" / "valid.txt"))
    assert nlg.load_nlg_groups("e2e", "validation", source="paper") == shipped  # the whole dev file, no carving
    assert (len(shipped), sum(len(g.references) for g in shipped)) == (547, 4672)


def test_a_corrupt_download_leaves_nothing_under_the_final_name(data_root, raw_host):
    train = paper_data.paper_file("e2e", "train")  # no sha256 pinned: only the blob id can catch it
    served = raw_host.root / paper_data.LORA_COMMIT / train.path
    served.write_text("name : x||not the paper's train.txt\n")
    with pytest.raises(PaperDataError, match=train.blob):
        paper_data.fetch([train], base=raw_host.url, log=lambda _: None)
    assert _leftovers(paper_data.cache_dir()) == []  # neither train.txt nor a temporary file


def test_an_interrupted_download_leaves_nothing_under_the_final_name(data_root, raw_host):
    raw_host.handler.cut.add(f"/{paper_data.LORA_COMMIT}/{E2E_DEV.path}")
    with pytest.raises(Exception):  # noqa: B017 - the connection drops (requests / urllib3 raise their own)
        paper_data.fetch([E2E_DEV], base=raw_host.url, log=lambda _: None)
    assert raw_host.handler.seen  # the server was asked
    assert _leftovers(paper_data.cache_dir()) == []


def test_the_shipped_identical_files_seed_the_cache_without_a_download(data_root):
    """A data root holding the shipped E2E dev / test (same blob) needs no network for them: used as they are,
    and copied into the cache by fetch."""
    shutil.copytree(SHIPPED / "e2e", data_root / "e2e")
    assert paper_data.resolve("e2e", "validation") == data_root / "e2e" / "valid.txt"
    paths = paper_data.fetch([E2E_DEV, E2E_TEST], base="http://127.0.0.1:9", log=lambda _: None)
    assert paths == [paper_data.cache_path(E2E_DEV), paper_data.cache_path(E2E_TEST)]
    assert [paper_data.git_blob_id(p) for p in paths] == [E2E_DEV.blob, E2E_TEST.blob]
    assert paper_data.missing(paper_data.files_of(["e2e"])) == [paper_data.paper_file("e2e", "train")]


def test_fetch_data_command(data_root, raw_host, capsys):
    code = cli_main(["fetch-data", "--task", "e2e", "--split", "test", "--base-url", raw_host.url])
    assert code == 0, capsys.readouterr().err
    assert paper_data.git_blob_id(paper_data.cache_path(E2E_TEST)) == E2E_TEST.blob
    assert "fetched  examples/NLG/data/e2e/test.txt" in capsys.readouterr().out
    assert suite_tasks("nlg_gpt2_medium") == ["e2e", "webnlg", "dart"]
    assert cli_main(["fetch-data", "--task", "wikibio"]) == 2
    assert "unknown task(s) ['wikibio']" in capsys.readouterr().err


def test_fetch_data_offline_says_what_failed_and_leaves_nothing(data_root, capsys):
    code = cli_main(["fetch-data", "--task", "dart", "--split", "test", "--base-url", "http://127.0.0.1:9"])
    assert code == 1 and "error:" in capsys.readouterr().err
    assert _leftovers(paper_data.cache_dir()) == []


# ------------------------------------------------------------------------------------------ offline use
def _cfg(task, **over):
    values = dict(
        task=task,
        fewshot_k=None,
        data_dir=None,
        glue_data_dir=None,
        data_source="paper",
        selection="last",
        heldout_fraction=0.1,
        max_train_samples=None,
        max_eval_samples=None,
    )
    return SimpleNamespace(**{**values, **over})


def test_offline_missing_paper_files_name_every_file_and_the_one_fetch_command(data_root):
    with pytest.raises(PaperDataMissing) as err:
        nlg.load_nlg_splits(_cfg("webnlg", selection="heldout"))
    message = str(err.value)
    cache = paper_data.cache_dir() / "examples/NLG/data/webnlg_challenge_2017"
    for name in ("train.json", "dev.json", "test.json"):
        assert str(cache / name) in message, message
    assert "`python -m adamixbench fetch-data --task webnlg`" in message and err.value.tasks == ("webnlg",)
    # a data_dir with data_source paper is a folder holding the paper's files: checked the same way
    with pytest.raises(PaperDataMissing, match="dart-v1.1.1-full-train.json"):
        nlg.load_nlg_splits(_cfg("dart", data_dir=str(data_root / "dart")))


def test_paper_files_in_a_data_dir_are_verified(tmp_path):
    folder = tmp_path / "e2e"
    folder.mkdir()
    shutil.copyfile(SHIPPED / "e2e" / "test.txt", folder / "test.txt")
    shutil.copyfile(SHIPPED / "e2e" / "valid.txt", folder / "train.txt")  # not the paper's train.txt
    with pytest.raises(PaperDataError, match="train.txt"):
        nlg.load_nlg_splits(_cfg("e2e", data_dir=str(folder)))
    assert len(nlg.load_nlg("e2e", "test", source="paper", data_dir=folder)) == 4693


def test_the_cache_is_git_ignored():
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", str(REPO_ROOT / "data" / "paper" / "lora-c4593f060e6a" / "x")], cwd=REPO_ROOT
    )
    assert ignored.returncode == 0
    assert os.fspath(paper_data.cache_dir()).endswith(os.path.join("paper", "lora-c4593f060e6a"))
