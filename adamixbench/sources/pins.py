"""Every Hugging Face hub repository the suites load, pinned: ONE table (:data:`PINS`), and the functions that turn
a name into what ``from_pretrained`` / ``datasets.load_dataset`` receive.

* Ids are namespaced (``FacebookAI/roberta-large``, ``Yale-LILY/dart``). A bare id (``roberta-large``, ``dart``)
  reaches the same repository only through a hub redirect, and a local folder of that name in the working
  directory silently shadows it (``from_pretrained`` and ``load_dataset`` both try the local path first):
  :func:`hub_id` maps the bare names the suites use to the namespaced id, and refuses a hub id that exists as
  a local path.
* ``revision`` is a commit sha, or None = "not pinned yet": then :func:`load_revision` asks the hub for the
  current commit of the pin's ``branch`` and loads THAT sha (so a run still reads one fixed commit, and
  records it). ``make online-check PIN=1`` (scripts/online_check.py) resolves each id and writes the sha,
  row counts and digests back into this file.
* ``branch`` is the ref the data is read from: ``main``, or ``refs/convert/parquet`` for the script-era
  datasets (E2E, WebNLG, DART), whose loading scripts `datasets` >= 3 no longer runs; the hub's parquet export
  of such a repository has one folder per config (``<config>/<split>/0000.parquet``) and NO dataset card, so
  `datasets` sees one config ``default`` and finds the splits by folder name (``dev`` -> ``validation``):
  such a repository is read with ``data_dir=<config>`` (``layout="parquet-branch"``), a repository with a
  card listing its configs (``nyu-mll/glue``) with ``name=<config>`` (``layout="configs"``).
* ``ADAMIXBENCH_HUB_MIRROR=<root>`` reads ``<root>/<repo_id>`` (a local tree laid out exactly as the hub
  repository at the pinned revision) instead of the hub, through the same `datasets` / `transformers` code:
  the tests and ``online-check``'s offline self-test use it; so can a cluster without internet.
* :func:`record_hub_read` / :func:`hub_reads`: what was actually read (repo, commit, location) in this process,
  for the run record's provenance.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

MIRROR_ENV = "ADAMIXBENCH_HUB_MIRROR"
PARQUET_BRANCH = "refs/convert/parquet"
_SHA = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class SplitCheck:
    """What one split of a dataset pin must hold: the `config` (a card config name, or the config folder of a
    parquet branch), the `split` as `datasets` names it, the columns the loaders read, its row count and the
    sha256 of its rows (:func:`adamixbench.tasks.hub.rows_digest`); None = not recorded yet. `where` =
    (column, value) counts the rows holding that value, which must be `where_rows` (WebNLG: LoRA's test file)."""

    config: str
    split: str
    columns: tuple[str, ...]
    rows: int | None = None
    sha256: str | None = None
    where: tuple[str, ...] = ()
    where_rows: int | None = None


@dataclass(frozen=True)
class ModelCheck:
    """What a backbone's config must say, and the sha256 of its config.json (None = not recorded yet)."""

    model_type: str
    hidden_size: int
    num_layers: int
    vocab_size: int
    config_sha256: str | None = None


@dataclass(frozen=True)
class HubPin:
    repo_id: str
    kind: str  # "model" | "dataset"
    revision: str | None  # a commit sha; None = not pinned yet (resolved from `branch` at load time)
    branch: str = "main"
    layout: str = "configs"  # datasets: "configs" (name=<config>) | "parquet-branch" (data_dir=<config>)
    aliases: tuple[str, ...] = ()
    checks: tuple[SplitCheck, ...] = ()
    model: ModelCheck | None = None
    note: str = ""

    def __post_init__(self):
        if self.kind not in ("model", "dataset"):
            raise ValueError(f"pin {self.repo_id}: kind {self.kind!r} is not 'model' or 'dataset'")
        if "/" not in self.repo_id:
            raise ValueError(f"pin {self.repo_id}: hub ids in the pins table are namespaced (owner/name)")
        if self.revision is not None and not _SHA.match(self.revision):
            raise ValueError(f"pin {self.repo_id}: revision {self.revision!r} is not a 40-hex commit sha")


# BEGIN PINS (rewritten by `make online-check PIN=1`; keep this block in the form render_pins() writes)
PINS: tuple[HubPin, ...] = (
    HubPin(
        repo_id="FacebookAI/roberta-large",
        kind="model",
        revision="722cf37b1afa9454edce342e7895e588b6ff1d59",
        aliases=("roberta-large",),
        model=ModelCheck(model_type="roberta", hidden_size=1024, num_layers=24, vocab_size=50265),
        note="GLUE (Table 1), few-shot and ablation suites",
    ),
    HubPin(
        repo_id="google-bert/bert-base-uncased",
        kind="model",
        revision="86b5e0934494bd15c9632b12f734a8a67f723594",
        aliases=("bert-base-uncased",),
        model=ModelCheck(model_type="bert", hidden_size=768, num_layers=12, vocab_size=30522),
        note="GLUE with BERT-base (Table 2)",
    ),
    HubPin(
        repo_id="openai-community/gpt2-medium",
        kind="model",
        revision="6dcaa7a952f72f9298047fd5137cd6e4f05f41da",
        aliases=("gpt2-medium",),
        model=ModelCheck(model_type="gpt2", hidden_size=1024, num_layers=24, vocab_size=50257),
        note="NLG (Tables 3-5)",
    ),
    HubPin(
        repo_id="nyu-mll/glue",
        kind="dataset",
        revision="bcdcba79d07bc864c1c254ccfcedcce55bcc9a8c",
        aliases=("glue",),
        checks=(
            SplitCheck(config="cola", split="validation", columns=("sentence", "label"), rows=1043),
            SplitCheck(config="sst2", split="validation", columns=("sentence", "label"), rows=872),
            SplitCheck(config="mrpc", split="validation", columns=("sentence1", "sentence2", "label"), rows=408),
            SplitCheck(config="qqp", split="validation", columns=("question1", "question2", "label"), rows=40430),
            SplitCheck(config="stsb", split="validation", columns=("sentence1", "sentence2", "label"), rows=1500),
            SplitCheck(
                config="mnli", split="validation_matched", columns=("premise", "hypothesis", "label"), rows=9815
            ),
            SplitCheck(
                config="mnli", split="validation_mismatched", columns=("premise", "hypothesis", "label"), rows=9832
            ),
            SplitCheck(config="qnli", split="validation", columns=("question", "sentence", "label"), rows=5463),
            SplitCheck(config="rte", split="validation", columns=("sentence1", "sentence2", "label"), rows=277),
        ),
        note="plain parquet per config on main (<config>/<split>-00000-of-00001.parquet) with a card",
    ),
    HubPin(
        repo_id="tuetschek/e2e_nlg",
        kind="dataset",
        revision=None,
        branch=PARQUET_BRANCH,
        layout="parquet-branch",
        aliases=("e2e_nlg",),
        checks=(
            SplitCheck(
                config="default", split="test", columns=("meaning_representation", "human_reference"), rows=4693
            ),
        ),
        note="untokenised references (LoRA's files are PTB-tokenised)",
    ),
    HubPin(
        repo_id="webnlg-challenge/web_nlg",
        kind="dataset",
        revision=None,
        branch=PARQUET_BRANCH,
        layout="parquet-branch",
        aliases=("web_nlg",),
        checks=(
            SplitCheck(
                config="webnlg_challenge_2017",
                split="test",
                columns=("category", "modified_triple_sets", "lex", "test_category"),
                rows=4615,
                where=("test_category", "testdata_with_lex"),
                where_rows=1862,
            ),
        ),
        note="test merges every 2017 test file; test_category names it (LoRA's test set: 1,862 inputs)",
    ),
    HubPin(
        repo_id="Yale-LILY/dart",
        kind="dataset",
        revision="3442009fce2df36a93d6081f03ad7be1433982ea",
        branch=PARQUET_BRANCH,
        layout="parquet-branch",
        aliases=("dart",),
        checks=(SplitCheck(config="default", split="validation", columns=("tripleset", "annotations")),),
        note="untokenised references (LoRA's files are PTB-tokenised)",
    ),
)
# END PINS

_BY_ID = {pin.repo_id: pin for pin in PINS}
_ALIASES = {alias: pin.repo_id for pin in PINS for alias in pin.aliases}


class HubIdError(ValueError):
    """A hub id that would not reach the pinned repository (shadowed by a local path, or unknown)."""


def pin(repo_id: str) -> HubPin:
    """The pin of a namespaced id or of one of its bare aliases; KeyError naming the known ids otherwise."""
    try:
        return _BY_ID[_ALIASES.get(repo_id, repo_id)]
    except KeyError:
        known = sorted(_BY_ID)
        raise KeyError(f"{repo_id!r} is not in the hub pins table (adamixbench/sources/pins.py): {known}") from None


def is_pinned_id(name: str) -> bool:
    return name in _BY_ID or name in _ALIASES


def hub_id(name: str, *, cwd: str | Path | None = None) -> str:
    """The namespaced hub id for `name` (a bare alias or a namespaced id of the table).

    Raises :class:`HubIdError` when `name` (or the id it maps to) exists as a path relative to `cwd` (default:
    the working directory): `from_pretrained` / `load_dataset` would read that folder instead of the hub."""
    repo_id = _ALIASES.get(name, name)
    base = Path(cwd) if cwd is not None else Path.cwd()
    for candidate in dict.fromkeys((name, repo_id)):
        if (base / candidate).exists():
            raise HubIdError(
                f"hub id {name!r}: a local path {base / candidate} exists and would be read instead of the hub "
                f"repository {repo_id!r} (transformers and datasets try a local folder first). Rename or move "
                f"that folder, or, to load it on purpose, give its path with a directory part (./{candidate})."
            )
    return repo_id


def hub_revision(repo_id: str) -> str | None:
    """The pinned commit sha of `repo_id` (namespaced or alias), None when it is not pinned yet."""
    return pin(repo_id).revision


def mirror_root() -> Path | None:
    """``$ADAMIXBENCH_HUB_MIRROR`` when set and not empty: the root of a local mirror of the hub repositories."""
    root = os.environ.get(MIRROR_ENV)
    return Path(root) if root else None


def hub_location(repo_id: str) -> str:
    """What to pass as the repository to `from_pretrained` / `load_dataset`: the namespaced id, or its folder
    in the local mirror (:data:`MIRROR_ENV`), which must then exist."""
    root = mirror_root()
    if root is None:
        return repo_id
    path = root / repo_id
    if not path.is_dir():
        raise FileNotFoundError(f"{MIRROR_ENV}={root}: no mirror of {repo_id} at {path}")
    return str(path)


def mirror_revision(repo_id: str) -> str | None:
    """The commit the local mirror's copy of `repo_id` claims to be (its ``.hub_revision`` file), or None."""
    root = mirror_root()
    if root is None or not (root / repo_id / ".hub_revision").is_file():
        return None
    return (root / repo_id / ".hub_revision").read_text(encoding="utf-8").strip() or None


def resolve_current(repo_id: str, branch: str = "main", kind: str = "model") -> str:
    """Ask the hub for the current commit sha of `branch` of `repo_id` (needs the network)."""
    from huggingface_hub import HfApi

    api = HfApi()
    info = api.model_info(repo_id, revision=branch) if kind == "model" else api.dataset_info(repo_id, revision=branch)
    return info.sha


def load_revision(repo_id: str) -> str | None:
    """The revision to pass with `revision=` when loading `repo_id` from the hub: its pinned sha, else the
    current sha of its branch (asked once, so that everything a run reads comes from one commit). None when
    the repository is read from the local mirror (no revision there); the branch name when it is not pinned
    and the hub is off (then the local Hugging Face cache answers, or the load fails saying so)."""
    if mirror_root() is not None:
        return None
    entry = pin(repo_id)
    if entry.revision is not None:
        return entry.revision
    if hub_off():  # nothing to ask: the local Hugging Face cache's copy of the branch (its commit unknown here)
        return entry.branch
    return resolve_current(entry.repo_id, entry.branch, entry.kind)


def hub_off() -> bool:
    """True when ``HF_HUB_OFFLINE`` or ``HF_DATASETS_OFFLINE`` forbids reaching the hub (read at call time)."""
    return any(
        os.environ.get(v, "").upper() in {"1", "ON", "YES", "TRUE"} for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
    )


def dataset_kwargs(repo_id: str, config: str) -> dict:
    """`load_dataset` keyword arguments selecting `config` of a dataset pin: ``name=`` for a repository whose
    card lists its configs, ``data_dir=`` for a parquet branch (no card: one folder per config)."""
    entry = pin(repo_id)
    return {"data_dir": config} if entry.layout == "parquet-branch" else {"name": config}


# --------------------------------------------------------------------------------------------------
# what this process read from the hub (for the run record's provenance)
# --------------------------------------------------------------------------------------------------
@dataclass
class _Reads:
    entries: dict[str, dict] = field(default_factory=dict)


_READS = _Reads()


def record_hub_read(repo_id: str, revision: str | None, location: str, what: str = "") -> None:
    """Note that `repo_id` was read at commit `revision` from `location` (from a local mirror, `revision` is None
    and the mirror's ``.hub_revision`` is recorded when it has one)."""
    entry = {
        "repo_id": repo_id,
        "revision": revision if revision is not None else mirror_revision(repo_id),
        "pinned": hub_revision(repo_id) if is_pinned_id(repo_id) else None,
        "location": location,
        "what": [what] if what else [],
    }
    known = _READS.entries.get(repo_id)
    if known is not None and all(known[k] == entry[k] for k in ("revision", "location")):
        entry["what"] = known["what"] + [w for w in entry["what"] if w not in known["what"]]
    _READS.entries[repo_id] = entry


def hub_reads() -> list[dict]:
    """Every hub repository read by this process so far: ``repo_id``, ``revision`` (the commit actually read;
    from a local mirror: the commit it claims to copy, or None), ``pinned`` (the table's sha, None when not
    pinned), ``location``, ``what`` (the list of what was read: ``model``, ``dataset <config>/<split>``)."""
    return [{**v, "what": list(v["what"])} for v in _READS.entries.values()]


def clear_hub_reads() -> None:
    _READS.entries.clear()


def model_source(name: str) -> tuple[str, str]:
    """(namespaced repo id, location) of a backbone named by a pinned hub id or alias; `from_pretrained`
    gets the location and ``revision=load_revision(repo_id)``."""
    repo_id = hub_id(name)
    return repo_id, hub_location(repo_id)


def record_model_read(repo_id: str, location: str, config) -> None:
    """Record a backbone read through `from_pretrained`: its commit is the config's ``_commit_hash``."""
    record_hub_read(repo_id, getattr(config, "_commit_hash", None), location, "model")


# --------------------------------------------------------------------------------------------------
# the table as source text (`online-check PIN=1` rewrites the block between the markers)
# --------------------------------------------------------------------------------------------------
def _s(value) -> str:
    if value is None:
        return "None"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, tuple):
        return "(" + ", ".join(_s(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    return repr(value)


def _call(name: str, fields: list[tuple[str, object]], indent: int) -> str:
    """`name(k=v, ...)` on one line when it fits in 120 columns, else one argument per line."""
    args = [f"{k}={v if isinstance(v, _Raw) else _s(v)}" for k, v in fields]
    one = f"{name}({', '.join(args)})"
    if indent + len(one) + 1 <= 120:
        return one
    pad = " " * (indent + 4)
    if len(pad) + len(", ".join(args)) <= 120:  # ruff format: the arguments on one line of their own
        return f"{name}(\n{pad}{', '.join(args)}\n" + " " * indent + ")"
    return f"{name}(\n" + "".join(f"{pad}{a},\n" for a in args) + " " * indent + ")"


class _Raw(str):
    pass


def _render_check(check: SplitCheck, indent: int) -> str:
    fields = [("config", check.config), ("split", check.split), ("columns", check.columns)]
    fields += [(k, getattr(check, k)) for k in ("rows", "sha256") if getattr(check, k) is not None]
    fields += [("where", check.where)] if check.where else []
    fields += [("where_rows", check.where_rows)] if check.where_rows is not None else []
    return _call("SplitCheck", fields, indent)


def _render_pin(entry: HubPin) -> str:
    fields: list[tuple[str, object]] = [("repo_id", entry.repo_id), ("kind", entry.kind), ("revision", entry.revision)]
    if entry.branch != "main":
        fields.append(("branch", _Raw("PARQUET_BRANCH") if entry.branch == PARQUET_BRANCH else entry.branch))
    if entry.layout != "configs":
        fields.append(("layout", entry.layout))
    if entry.aliases:
        fields.append(("aliases", entry.aliases))
    if entry.checks:
        inner = [_render_check(c, 12) for c in entry.checks]
        one = "(" + ", ".join(inner) + ("," if len(inner) == 1 else "") + ")"
        if "\n" not in one and 8 + len("checks=") + len(one) + 1 <= 120:
            fields.append(("checks", _Raw(one)))
        else:
            fields.append(("checks", _Raw("(\n" + "".join(f"            {c},\n" for c in inner) + "        )")))
    if entry.model is not None:
        m = entry.model
        mf = [(k, getattr(m, k)) for k in ("model_type", "hidden_size", "num_layers", "vocab_size")]
        if m.config_sha256 is not None:
            mf.append(("config_sha256", m.config_sha256))
        fields.append(("model", _Raw(_call("ModelCheck", mf, 8))))
    if entry.note:
        fields.append(("note", entry.note))
    args = [f"{k}={v if isinstance(v, _Raw) else _s(v)}" for k, v in fields]
    return "    HubPin(\n" + "".join(f"        {a},\n" for a in args) + "    ),\n"


BEGIN_MARK = "# BEGIN PINS"
END_MARK = "# END PINS"


def render_pins(pins: tuple[HubPin, ...] = PINS) -> str:
    """The `PINS = (...)` assignment as this file holds it (ruff-formatted)."""
    return "PINS: tuple[HubPin, ...] = (\n" + "".join(_render_pin(p) for p in pins) + ")\n"


def write_pins(pins: tuple[HubPin, ...], path: str | Path = __file__) -> None:
    """Replace the table between the BEGIN/END markers of `path` (this file) by `pins`."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    start = text.index(BEGIN_MARK)
    start = text.index("\n", start) + 1
    end = text.index(END_MARK, start)
    path.write_text(text[:start] + render_pins(pins) + text[end:], encoding="utf-8")
