"""What a run's numbers were computed from: the record's ``provenance.data`` (docs/CONTRACTS.md).

``data_provenance(cfg)`` says which source the run's data came from (``resolve_data_source``) and what it read:

* ``paper`` NLG: ``repository``, ``lora_commit`` and ``files`` {path in the LoRA repository: sha256};
* ``local``: ``files`` {path under the data root (else absolute): sha256} of the files the loaders read;
* anything read from the hub (NLG / GLUE ``hub``, GLUE ``paper``, few-shot MNLI / QQP evaluation): ``hub``,
  the datasets this process read with their commit (adamixbench/sources/pins.py ``hub_reads``).

It never raises: a run that could not start (its data unavailable) still gets the source, and files that are
absent get ``null``.
"""

from __future__ import annotations

from pathlib import Path

from adamixbench.sources import paper_data
from adamixbench.sources.paths import data_root
from adamixbench.sources.pins import hub_reads
from adamixbench.tasks import family_of
from adamixbench.tasks.data_source import resolve_data_source


def _key(path: Path) -> str:
    path = Path(path).resolve()
    try:
        return path.relative_to(data_root().resolve()).as_posix()
    except ValueError:
        return str(path)


def _hashes(paths) -> dict[str, str | None]:
    return {_key(p): (paper_data.sha256_of(p) if Path(p).is_file() else None) for p in dict.fromkeys(paths)}


def _nlg(cfg, source: str) -> dict:
    from adamixbench.tasks import nlg

    _, _, splits = nlg.run_splits(cfg)
    task = nlg._check_task(cfg.task)
    if source == "paper":
        files = paper_data.files_of([task], splits)
        found = {}
        for f in files:
            try:
                found[f.path] = paper_data.sha256_of(paper_data.resolve(f.task, f.split, cfg.data_dir))
            except (FileNotFoundError, ValueError):  # missing, or not the pinned file
                found[f.path] = None
        return {"repository": paper_data.LORA_REPO, "lora_commit": paper_data.LORA_COMMIT, "files": found}
    if source == "local":
        return {"files": _hashes(nlg.local_file(task, split, cfg.data_dir) for split in splits)}
    return {}


def _glue(cfg, source: str) -> dict:
    from adamixbench.tasks.glue import SPLIT_FILES, default_data_dir, get_task

    if source != "local":
        return {}
    spec = get_task(cfg.task)
    root = Path(cfg.data_dir or default_data_dir()) / spec.glue_dir
    return {"files": _hashes(root / SPLIT_FILES[split] for split in spec.splits)}


def _fewshot(cfg, source: str) -> dict:
    from adamixbench.tasks import fewshot
    from adamixbench.tasks.glue import SPLIT_FILES, get_task
    from adamixbench.tasks.glue import default_data_dir as default_glue_dir

    spec = fewshot.get_fewshot_task(cfg.task)
    files = [fewshot._split_dir(spec, cfg.fewshot_k, cfg.fewshot_split, cfg.data_dir) / f"train.{spec.ext}"]
    if spec.glue_eval_split is None:
        files.append(Path(cfg.data_dir or fewshot.default_fewshot_dir()) / spec.dir_name / f"test.{spec.ext}")
    else:
        glue_dir = cfg.glue_data_dir or (default_glue_dir() if source == "local" else None)
        if glue_dir is not None:
            files.append(Path(glue_dir) / get_task(spec.name).glue_dir / SPLIT_FILES[spec.glue_eval_split])
    return {"files": _hashes(files)}


def data_provenance(cfg) -> dict:
    """``{"source": paper | hub | local, "data_source": the option as given, ...}`` (module docstring)."""
    try:
        source = resolve_data_source(cfg)
    except ValueError as error:
        return {"source": None, "data_source": getattr(cfg, "data_source", None), "error": str(error)}
    found: dict = {"source": source, "data_source": getattr(cfg, "data_source", None) or "auto"}
    family = family_of(cfg.task, getattr(cfg, "fewshot_k", None))
    try:
        found.update({"nlg": _nlg, "glue": _glue, "fewshot": _fewshot}[family](cfg, source))
    except (ValueError, OSError) as error:  # e.g. a selection the data cannot serve: the record says why
        found["error"] = str(error)
    hub = _hub_reads()
    if hub:
        found["hub"] = hub
    return found


def _hub_reads() -> list[dict]:
    # `what` lists what was read from the repository: "model", "dataset <config>/<split>", ...
    return [read for read in hub_reads() if any(str(w).startswith("dataset") for w in read.get("what") or [])]
