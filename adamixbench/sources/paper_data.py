"""The paper's NLG data, exactly: microsoft/LoRA's ``examples/NLG/data`` files at a pinned commit.

AdaMix's NLG numbers (E2E, WebNLG 2017, DART) come from the LoRA repository's data files, PTB-style
tokenised, which the Hugging Face hub copies are not. :data:`PAPER_FILES` pins each file by its git blob id
(``sha1(b"blob <size>\\0" + data)``, what ``git hash-object`` prints), so a copy is checked without trusting
where it came from.

* :func:`fetch` downloads each missing file ONCE (through ``pooch``) from the raw-content address of the
  pinned commit into :func:`cache_dir` (``<data root>/paper/lora-<commit[:12]>/examples/NLG/data/...``,
  git-ignored). The download goes to a temporary name in the same folder and is renamed only after its blob
  id matched: a truncated or corrupt download never sits under the final name. A file that the data root
  already holds byte-identical (the shipped ``data/e2e/{valid,test}.txt``) is copied, not downloaded.
* :func:`resolve` gives the path of one file and VERIFIES it on every use: a file whose blob id differs is
  a :class:`PaperDataError` naming the file, both ids and the fix (delete it, fetch again); it is never
  re-read or re-downloaded silently. Missing files are a :class:`PaperDataMissing` naming them and the
  command that fetches them (:data:`FETCH_COMMAND`).

``$ADAMIXBENCH_PAPER_DATA_URL`` replaces the raw-content host (tests serve the same ``<commit>/<path>``
layout from a local HTTP server). Offline (no network), :func:`resolve` works from the cache alone.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from adamixbench.sources.paths import data_root

LORA_REPO = "microsoft/LoRA"
LORA_COMMIT = "c4593f060e6a368d7bb5af5273b8e42810cdef90"  # 2024-12-16
#: raw-content address of the repository: ``<base>/<commit>/<path>`` is one file at one commit
DEFAULT_BASE_URL = f"https://raw.githubusercontent.com/{LORA_REPO}"
BASE_URL_ENV = "ADAMIXBENCH_PAPER_DATA_URL"
NLG_DATA = "examples/NLG/data"
FETCH_COMMAND = "python -m adamixbench fetch-data"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class PaperFile:
    """One pinned file: ``task`` / ``split`` in the benchmark's names, ``path`` in the LoRA repository."""

    task: str  # e2e | webnlg | dart
    split: str  # train | validation | test
    path: str
    blob: str  # git blob id at LORA_COMMIT
    size: int | None = None  # bytes, where checked
    sha256: str | None = None  # where checked

    @property
    def folder(self) -> str:
        """The LoRA data folder (``e2e``, ``webnlg_challenge_2017``, ``dart``), also the data root's."""
        return Path(self.path).parent.name

    @property
    def name(self) -> str:
        return Path(self.path).name


def _file(task: str, split: str, rel: str, blob: str, size: int | None = None, sha256: str | None = None):
    return PaperFile(task, split, f"{NLG_DATA}/{rel}", blob, size, sha256)


#: The paper's NLG files (docs/PIPELINE.md, "Data sources"); sizes and sha256 where they were checked.
PAPER_FILES: tuple[PaperFile, ...] = (
    _file("e2e", "train", "e2e/train.txt", "2f92a2790c00a48574dcc89465a326f33d7e7cc6"),
    _file(
        "e2e",
        "validation",
        "e2e/valid.txt",
        "94f87112e11198710d65a1d5dc7d0b8d9155a07d",
        1_198_093,
        "ba963113c8401d3d26216c0dc0a6dae1ea6ea927de3bf830e32c41f65401c80d",
    ),
    _file(
        "e2e",
        "test",
        "e2e/test.txt",
        "084da9f4409d98058bcb020614afa83824440484",
        1_351_149,
        "81b1bcd40c4f12845ec4eb61a77bf43765d112483cd9b2f91ef10bfc1b3d8f13",
    ),
    _file("webnlg", "train", "webnlg_challenge_2017/train.json", "461766d1fe902bd659b821a03f49310c22403686"),
    _file(
        "webnlg",
        "validation",
        "webnlg_challenge_2017/dev.json",
        "180f096ff49a7e597dd7c507ea0c5441e839b770",
        2_596_106,
        "50f5a2c24d760bc84ba3e852707cd3b43b0cf2da035b425f87945a2440880488",
    ),
    _file("webnlg", "test", "webnlg_challenge_2017/test.json", "7f552799b7e3b5badf95b725c20d955e0886811e"),
    _file("dart", "train", "dart/dart-v1.1.1-full-train.json", "66d6ce4aeb5d01c318c7fc15d7747ef39ea320be"),
    _file(
        "dart",
        "validation",
        "dart/dart-v1.1.1-full-dev.json",
        "e3a7a497677e7edd9c45a3aaadb3ab8fd5493f75",
        2_370_637,
        "5038f3543b6d59b94ac4e3f69d15a0b01d8578913f862142e7c560200dd6e434",
    ),
    _file("dart", "test", "dart/dart-v1.1.1-full-test.json", "c3de833701dcd475ff3bf0b72cd96e13aeeb6b68"),
)
TASKS = tuple(dict.fromkeys(f.task for f in PAPER_FILES))
SPLITS = ("train", "validation", "test")


class PaperDataError(ValueError):
    """A local copy of a pinned file is not the pinned file (its git blob id differs)."""


class PaperDataMissing(FileNotFoundError):
    """Pinned files are not here yet; the message names them and the command that fetches them."""

    def __init__(self, message: str, tasks: Iterable[str] = ()):
        super().__init__(message)
        self.tasks = tuple(dict.fromkeys(tasks))


# --------------------------------------------------------------------------------------------------
# the table, the cache, the ids
# --------------------------------------------------------------------------------------------------
def paper_file(task: str, split: str) -> PaperFile:
    for f in PAPER_FILES:
        if f.task == task and f.split == split:
            return f
    raise ValueError(f"no paper file for task {task!r} split {split!r}; tasks {TASKS}, splits {SPLITS}")


def files_of(tasks: Iterable[str], splits: Iterable[str] = SPLITS) -> list[PaperFile]:
    """The pinned files of `tasks` (each a name of :data:`TASKS`), in table order."""
    tasks, splits = list(tasks), list(splits)
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        raise ValueError(f"no paper data for task(s) {unknown}; the paper's files cover {', '.join(TASKS)}")
    return [f for f in PAPER_FILES if f.task in tasks and f.split in splits]


def cache_dir() -> Path:
    """Where fetched files live: ``<data root>/paper/lora-<commit[:12]>`` (the repository's layout below it)."""
    return data_root() / "paper" / f"lora-{LORA_COMMIT[:12]}"


def cache_path(f: PaperFile) -> Path:
    return cache_dir() / f.path


def base_url() -> str:
    return os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL


def url_of(f: PaperFile, base: str | None = None) -> str:
    return f"{(base or base_url()).rstrip('/')}/{LORA_COMMIT}/{f.path}"


def git_blob_id(path: str | Path) -> str:
    """The git blob id of a file (``git hash-object``): sha1 of ``b"blob <size>\\0"`` + its bytes."""
    path = Path(path)
    digest = hashlib.sha1(b"blob %d\0" % path.stat().st_size)
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_command(tasks: Iterable[str]) -> str:
    """The one command that fetches the paper's files of `tasks`."""
    return " ".join([FETCH_COMMAND, *(f"--task {t}" for t in dict.fromkeys(tasks))])


# --------------------------------------------------------------------------------------------------
# use: find and verify
# --------------------------------------------------------------------------------------------------
def verify(path: str | Path, f: PaperFile) -> Path:
    """`path` if its blob id is `f`'s; else a PaperDataError naming the file, both ids and the fix."""
    path = Path(path)
    found = git_blob_id(path)
    if found != f.blob:
        raise PaperDataError(
            f"{path}: not the paper's {f.task} {f.split} file {LORA_REPO}@{LORA_COMMIT[:12]}:{f.path} "
            f"(git blob id {found}, expected {f.blob}); delete it and run `{fetch_command([f.task])}`"
        )
    return path


def shipped_copy(f: PaperFile) -> Path | None:
    """The data root's own copy of `f` (``<data root>/<folder>/<name>``) when it is byte-identical, else None
    (the shipped WebNLG / DART dev files are subsets: not the paper's)."""
    candidate = data_root() / f.folder / f.name
    if candidate.is_file() and (f.size is None or candidate.stat().st_size == f.size):
        if git_blob_id(candidate) == f.blob:
            return candidate
    return None


def _located(f: PaperFile, data_dir: str | Path | None) -> Path | None:
    if data_dir is not None:
        path = Path(data_dir) / f.name
        return path if path.is_file() else None
    path = cache_path(f)
    return path if path.is_file() else shipped_copy(f)


def resolve(task: str, split: str, data_dir: str | Path | None = None) -> Path:
    """The verified path of one pinned file: in `data_dir` (a folder in LoRA's layout, e.g. a clone's
    ``examples/NLG/data/e2e``) when given, else in the cache, else the data root's identical copy."""
    return resolve_all([paper_file(task, split)], data_dir)[0]


def resolve_all(files: Iterable[PaperFile], data_dir: str | Path | None = None) -> list[Path]:
    """:func:`resolve` for several files: ONE PaperDataMissing naming every missing file, then each verified."""
    files = list(files)
    found = {f: _located(f, data_dir) for f in files}
    missing = [f for f, path in found.items() if path is None]
    if missing:
        tasks = [f.task for f in missing]
        where = Path(data_dir) if data_dir is not None else cache_dir()
        names = ", ".join(str(where / (f.name if data_dir is not None else f.path)) for f in missing)
        fix = (
            f"put {LORA_REPO}@{LORA_COMMIT[:12]}'s files there, or drop data_dir to use the cache"
            if data_dir is not None
            else f"fetch them (once) with `{fetch_command(tasks)}` (or `make fetch-data` for every NLG task)"
        )
        raise PaperDataMissing(
            f"the paper's {' / '.join(dict.fromkeys(tasks))} data are missing: {names}; {fix}", tasks
        )
    return [verify(found[f], f) for f in files]


def missing(files: Iterable[PaperFile]) -> list[PaperFile]:
    """The files of `files` that neither the cache nor the data root holds (not verified: see resolve)."""
    return [f for f in files if _located(f, None) is None]


# --------------------------------------------------------------------------------------------------
# fetch: download once, atomically
# --------------------------------------------------------------------------------------------------
def _install(source: Path, f: PaperFile) -> Path:
    """Check `source` (a temporary file beside the target) and rename it to the cache path; on any
    failure the temporary file is removed and nothing is left under the final name."""
    target = cache_path(f)
    try:
        verify(source, f)
        if f.sha256 is not None and sha256_of(source) != f.sha256:
            raise PaperDataError(f"{source}: sha256 differs from the pinned {f.sha256} ({f.path})")
        os.chmod(source, _file_mode())
        os.replace(source, target)
    finally:
        Path(source).unlink(missing_ok=True)
    return target


def _temporary(target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    os.close(fd)
    return Path(tmp)


def _file_mode() -> int:
    """What the user's umask allows for a new file (mkstemp alone would make it owner-only)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _download(f: PaperFile, base: str | None, timeout: float) -> Path:
    import pooch  # the bench extra; imported here so that reading the cache never needs it

    tmp = _temporary(cache_path(f))
    tmp.unlink()  # pooch writes it (through its own temporary file)
    known = f"sha256:{f.sha256}" if f.sha256 else None
    try:
        pooch.retrieve(
            url_of(f, base),
            known_hash=known,
            fname=tmp.name,
            path=tmp.parent,
            downloader=pooch.HTTPDownloader(progressbar=False, timeout=timeout),
        )
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return _install(tmp, f)


def _seed(f: PaperFile, copy: Path) -> Path:
    tmp = _temporary(cache_path(f))
    shutil.copyfile(copy, tmp)
    return _install(tmp, f)


def fetch(files: Iterable[PaperFile], base: str | None = None, timeout: float = 60.0, log=print) -> list[Path]:
    """Bring every file of `files` into the cache: kept when already there and verified, copied from the data
    root's identical copy, else downloaded. Returns the cache paths; raises on the first failure (a cached
    file whose blob id differs is an error, not a re-download: delete it first)."""
    paths = []
    for f in files:
        target = cache_path(f)
        if target.is_file():
            paths.append(verify(target, f))
            log(f"ok       {f.path} (cached, blob {f.blob[:12]})")
            continue
        copy = shipped_copy(f)
        if copy is not None:
            paths.append(_seed(f, copy))
            log(f"copied   {f.path} from {copy} (identical, blob {f.blob[:12]})")
            continue
        paths.append(_download(f, base, timeout))
        log(f"fetched  {f.path} ({target.stat().st_size:,} bytes, blob {f.blob[:12]}) -> {target}")
    return paths


def provenance(files: Iterable[PaperFile], paths: Iterable[Path]) -> dict:
    """What a run read of the paper's data: the repository, the commit and {path in it: sha256}."""
    return {
        "repository": LORA_REPO,
        "lora_commit": LORA_COMMIT,
        "files": {f.path: sha256_of(p) for f, p in zip(files, paths)},
    }
