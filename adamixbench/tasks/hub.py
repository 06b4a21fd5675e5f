"""One split of a pinned hub dataset (adamixbench/sources/pins.py), read through `datasets.load_dataset` itself.

Every hub dataset load of the benchmark goes through :func:`load_hub_split`: the namespaced id, the pinned
commit (``revision=``), ``name=`` or ``data_dir=`` as the repository's layout needs, and the split as
`datasets` names it. With ``ADAMIXBENCH_HUB_MIRROR`` set, the same call reads a local tree laid out as the hub
repository (the tests build one from the shipped subsets), so `datasets`' own config and split resolution runs
on the same layout either way. The commit actually read is recorded (`pins.hub_reads()`) for provenance.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

import datasets

from adamixbench.sources import pins


def load_hub_split(repo_id: str, config: str, split: str, revision: str | None = None) -> datasets.Dataset:
    """`split` of `config` of the pinned dataset `repo_id` (namespaced id or alias), at its pinned commit, or
    at `revision` when given (online-check's re-pinning); from the local mirror when one is set."""
    repo_id = pins.hub_id(repo_id)
    location = pins.hub_location(repo_id)
    if pins.mirror_root() is not None:
        revision = None  # a local folder has no revisions
    elif revision is None:
        revision = pins.load_revision(repo_id)
    kwargs = pins.dataset_kwargs(repo_id, config)
    if revision is not None:
        kwargs["revision"] = revision
    ds = datasets.load_dataset(location, split=split, **kwargs)
    pins.record_hub_read(repo_id, revision, location, f"dataset {config}/{split}")
    return ds


def rows_digest(ds: datasets.Dataset, columns: Sequence[str] | None = None) -> str:
    """sha256 of the rows of `ds` (only `columns`, default all), one canonical JSON line per row, in order."""
    keep = list(columns) if columns is not None else list(ds.column_names)
    digest = hashlib.sha256()
    for row in ds.select_columns(keep):
        line = json.dumps({k: row[k] for k in keep}, sort_keys=True, ensure_ascii=False)
        digest.update(line.encode("utf-8") + b"\n")
    return digest.hexdigest()
