"""Backbone names -> what `from_pretrained` accepts: the packaged offline weights (adamixbench/sources/packaged.py),
tiny random stand-ins ``standin:<model>`` (adamixbench/sources/standins.py), a pinned hub repository
(adamixbench/sources/pins.py: ``roberta-large`` -> ``FacebookAI/roberta-large`` at its pinned commit), otherwise
a local path or another hub name."""

from __future__ import annotations

from dataclasses import dataclass

from adamixbench.sources import pins
from adamixbench.sources.packaged import MINILM, SMOLLM2, minilm_dir, smollm2_dir
from adamixbench.sources.standins import is_standin, standin_backbone


@dataclass(frozen=True)
class BackboneSource:
    """Where a backbone is read from: `location` (a folder or a hub id) and, for a hub id, the `revision` to
    pass to every `from_pretrained` (model AND tokenizer); `repo_id` is the pinned hub repository (None for
    packaged weights, stand-ins and local paths)."""

    name: str
    location: str
    revision: str | None = None
    repo_id: str | None = None

    def kwargs(self) -> dict:
        """The keyword arguments every `from_pretrained` of this backbone takes (``revision=``)."""
        return {"revision": self.revision} if self.revision is not None else {}

    def record(self, config) -> None:
        """Note the commit actually read (the loaded config's ``_commit_hash``) for provenance: pins.hub_reads()."""
        if self.repo_id is not None:
            pins.record_model_read(self.repo_id, self.location, config)


def backbone_source(name: str) -> BackboneSource:
    """Resolve a backbone name; a pinned hub id shadowed by a local folder raises pins.HubIdError."""
    if name == MINILM:
        return BackboneSource(name, str(minilm_dir()))
    if name == SMOLLM2:
        return BackboneSource(name, str(smollm2_dir()))
    if is_standin(name):
        return BackboneSource(name, str(standin_backbone(name)))
    if pins.is_pinned_id(name):
        repo_id, location = pins.model_source(name)
        return BackboneSource(name, location, pins.load_revision(repo_id), repo_id)
    return BackboneSource(name, name)


def resolve_backbone(name: str) -> str:
    """A path or hub name that `from_pretrained` accepts (with :func:`backbone_source`'s ``revision=``)."""
    return backbone_source(name).location
