"""`make online-check`: before a paper suite, load what the suites read from the hub and check it against the pins.

For every dataset of adamixbench/sources/pins.py: one split per listed check (`SplitCheck`), through the same
loader the runs use (adamixbench/tasks/hub.py), checking its columns, its row count and the sha256 of its rows;
for every backbone: its config and tokenizer (``from_pretrained`` with the pinned ``revision=``), checking the
architecture, sizes, vocabulary and the sha256 of config.json. Prints ``item | source | revision | rows | ok``.

``--pin`` (``make online-check PIN=1``) resolves the CURRENT commit of each repository's branch, loads that,
and writes the commit, row counts and digests it saw into the pins table (values it finds different from
those already pinned are reported, and written: re-pinning is deliberate). An item whose columns or
architecture do not match is never written.

Offline (``HF_HUB_OFFLINE=1`` / ``HF_DATASETS_OFFLINE=1``, or the hub unreachable) it prints why and exits 0
without checking anything, unless ``ADAMIXBENCH_HUB_MIRROR`` points at a local mirror: then it checks the
mirror (the test suite does that, tests/engine/test_online_check.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from adamixbench.sources import pins

_TRUE = {"1", "ON", "YES", "TRUE"}


@dataclass
class CheckRow:
    item: str
    source: str
    revision: str | None
    rows: int | None
    ok: bool
    problems: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)  # values seen that the pins do not fix yet
    observed: dict = dataclasses.field(default_factory=dict)  # what --pin writes


def offline_reason() -> str | None:
    """Why the hub cannot be checked from here (None: it can, or a local mirror is set)."""
    if pins.mirror_root() is not None:
        return None
    flags = [v for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE") if os.environ.get(v, "").upper() in _TRUE]
    if flags:
        return (
            f"{' and '.join(flags)} set: nothing may reach the hub. Run `HF_HUB_OFFLINE=0 HF_DATASETS_OFFLINE=0 "
            f"make online-check` on a machine with internet."
        )
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    host = urlparse(endpoint).hostname or "huggingface.co"
    port = urlparse(endpoint).port or (443 if endpoint.startswith("https") else 80)
    try:
        socket.create_connection((host, port), timeout=5).close()
    except OSError as error:
        return f"no network: cannot reach {host}:{port} ({error}). Run `make online-check` on a machine with internet."
    return None


def _revision(entry: pins.HubPin, repin: bool) -> str | None:
    """The commit to load: none from a mirror; the branch head with --pin or when not pinned; else the pin."""
    if pins.mirror_root() is not None:
        return None
    if repin or entry.revision is None:
        return pins.resolve_current(entry.repo_id, entry.branch, entry.kind)
    return entry.revision


def _compare(row: CheckRow, what: str, expected, seen) -> None:
    if expected is None:
        row.notes.append(f"{what} {seen} (not pinned yet)")
    elif expected != seen:
        row.problems.append(f"{what} {seen}, pinned {expected}")


def check_dataset(entry: pins.HubPin, check: pins.SplitCheck, repin: bool = False) -> CheckRow:
    from adamixbench.tasks.hub import load_hub_split, rows_digest

    revision = _revision(entry, repin)
    location = pins.hub_location(entry.repo_id)
    row = CheckRow(f"{entry.repo_id} {check.config}/{check.split}", location, revision, None, False)
    try:
        ds = load_hub_split(entry.repo_id, check.config, check.split, revision=revision)
    except Exception as error:  # noqa: BLE001 - reported in the table, the other items still run
        row.problems.append(f"load failed: {type(error).__name__}: {error}")
        return row
    row.revision = revision or pins.mirror_revision(entry.repo_id)
    row.rows = len(ds)
    missing = [c for c in check.columns if c not in ds.column_names]
    if missing:
        row.problems.append(f"columns {missing} missing (has {ds.column_names})")
        return row
    digest = rows_digest(ds, check.columns)
    _compare(row, "rows", check.rows, len(ds))
    _compare(row, "sha256", check.sha256, digest)
    row.observed = {"rows": len(ds), "sha256": digest}
    if check.where:
        column, value = check.where
        subset = sum(1 for v in ds[column] if v == value)
        _compare(row, f"rows with {column}={value}", check.where_rows, subset)
        row.observed["where_rows"] = subset
    row.ok = not row.problems
    return row


def check_model(entry: pins.HubPin, repin: bool = False) -> CheckRow:
    from transformers import AutoConfig, AutoTokenizer
    from transformers.utils import cached_file

    revision = _revision(entry, repin)
    location = pins.hub_location(entry.repo_id)
    row = CheckRow(f"{entry.repo_id} config+tokenizer", location, revision, None, False)
    kwargs = {"revision": revision} if revision else {}
    try:
        config = AutoConfig.from_pretrained(location, **kwargs)
        tokenizer = AutoTokenizer.from_pretrained(location, **kwargs)
        config_file = cached_file(location, "config.json", **kwargs)
    except Exception as error:  # noqa: BLE001 - reported in the table, the other items still run
        row.problems.append(f"load failed: {type(error).__name__}: {error}")
        return row
    row.revision = getattr(config, "_commit_hash", None) or revision or pins.mirror_revision(entry.repo_id)
    expected = entry.model
    seen = {
        "model_type": config.model_type,
        "hidden_size": config.hidden_size,
        "num_layers": config.num_hidden_layers,
        "vocab_size": config.vocab_size,
    }
    for key, value in seen.items():
        if expected is not None and getattr(expected, key) != value:
            row.problems.append(f"{key} {value}, pinned {getattr(expected, key)}")
    if tokenizer.vocab_size != config.vocab_size:
        row.problems.append(f"tokenizer vocabulary {tokenizer.vocab_size} != config vocab_size {config.vocab_size}")
    if row.problems:
        return row
    digest = hashlib.sha256(Path(config_file).read_bytes()).hexdigest()
    _compare(row, "config.json sha256", expected.config_sha256 if expected else None, digest)
    row.observed = {"config_sha256": digest}
    row.ok = not row.problems
    return row


def run_checks(table: tuple[pins.HubPin, ...] = pins.PINS, repin: bool = False) -> list[CheckRow]:
    rows = []
    for entry in table:
        if entry.kind == "model":
            rows.append(check_model(entry, repin))
        else:
            rows.extend(check_dataset(entry, check, repin) for check in entry.checks)
    return rows


def repinned(table: tuple[pins.HubPin, ...], rows: list[CheckRow]) -> tuple[pins.HubPin, ...]:
    """`table` with the commits and values the checks saw (an entry any of whose items failed to load or
    whose columns / architecture did not match keeps its old values)."""
    by_item = {r.item: r for r in rows}
    out = []
    for entry in table:
        if entry.kind == "model":
            r = by_item[f"{entry.repo_id} config+tokenizer"]
            if not r.observed or r.revision is None:
                out.append(entry)
                continue
            model = dataclasses.replace(entry.model, **r.observed) if entry.model is not None else None
            out.append(dataclasses.replace(entry, revision=r.revision, model=model))
            continue
        items = [by_item[f"{entry.repo_id} {c.config}/{c.split}"] for c in entry.checks]
        revisions = {r.revision for r in items}
        if not items or any(not r.observed for r in items) or len(revisions) != 1 or None in revisions:
            out.append(entry)
            continue
        checks = tuple(dataclasses.replace(c, **r.observed) for c, r in zip(entry.checks, items))
        out.append(dataclasses.replace(entry, revision=revisions.pop(), checks=checks))
    return tuple(out)


def render(rows: list[CheckRow]) -> str:
    head = ("item", "source", "revision", "rows", "ok")
    body = [
        (r.item, r.source, r.revision or "-", "-" if r.rows is None else str(r.rows), "ok" if r.ok else "FAIL")
        for r in rows
    ]
    widths = [max(len(x) for x in col) for col in zip(head, *body)]
    lines = [" | ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in (head, *body)]
    lines.insert(1, "-|-".join("-" * w for w in widths))
    for r in rows:
        lines += [f"  {r.item}: {p}" for p in r.problems]
        lines += [f"  {r.item}: {n}" for n in r.notes]
    return "\n".join(lines)


def main(argv: list[str] | None = None, table: tuple[pins.HubPin, ...] | None = None, pins_file=None) -> int:
    parser = argparse.ArgumentParser(prog="online-check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--pin", action="store_true", help="resolve each repository's current commit, write pins")
    args = parser.parse_args(argv)
    reason = offline_reason()
    if reason is not None:
        print(f"online-check skipped: {reason}")
        return 0
    table = pins.PINS if table is None else table
    rows = run_checks(table, repin=args.pin)
    print(render(rows))
    if args.pin:
        new = repinned(table, rows)
        pins.write_pins(new, pins_file or pins.__file__)
        changed = sum(a != b for a, b in zip(table, new))
        print(f"\npinned: {changed} of {len(table)} entries rewritten in {pins_file or pins.__file__}")
        return 0 if all(r.observed for r in rows) else 1
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
