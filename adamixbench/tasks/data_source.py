"""Where a run's data come from: the run option ``data_source`` resolved ONCE per run, for every family.

``resolve_data_source(cfg)`` gives ``"paper"``, ``"hub"`` or ``"local"``; every loader of a run (NLG
``load_nlg_splits``, GLUE ``load_glue_for_run``, few-shot ``load_fewshot_for_run``) and the pre-run
validation ask it, never the environment on their own.

* ``paper``: NLG = microsoft/LoRA's files at the pinned commit (adamixbench/sources/paper_data.py: fetched
  once, verified by git blob id on every use; a ``data_dir`` is a folder holding those files). GLUE = the
  hub's GLUE (nyu-mll/glue). Few-shot = the shipped LiST / LM-BFF splits, which ARE the paper's; MNLI / QQP
  evaluate on the hub's GLUE dev set (or on ``glue_data_dir``'s TSVs).
* ``hub``: the Hugging Face datasets (NLG: tasks/nlg.py's hub loaders; GLUE: nyu-mll/glue). Few-shot has no
  hub source (its splits are files): an error.
* ``local``: the files under ``data_dir`` or the data root (the shipped subsets; NLG carves train out of the
  dev file when there is no train file; GLUE reads TSVs, also for the few-shot MNLI / QQP evaluation).
* ``auto``: local when ``data_dir`` is set or the hub is off (HF_HUB_OFFLINE / HF_DATASETS_OFFLINE), else paper.

GLUE with ``paper`` or ``hub`` reads the hub, so a ``data_dir`` (GLUE TSVs) would be ignored: an error.
"""

from __future__ import annotations

import os

from adamixbench.tasks.families import family_of

SOURCES = ("paper", "hub", "local")
_TRUE = {"1", "ON", "YES", "TRUE"}


def hub_disabled() -> bool:
    """True when the environment forbids hub access (read at call time, so tests can set it)."""
    return any(os.environ.get(v, "").upper() in _TRUE for v in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE"))


def _family(cfg) -> str:
    return family_of(cfg.task, getattr(cfg, "fewshot_k", None))


def resolve_data_source(cfg) -> str:
    """``paper`` | ``hub`` | ``local`` of a run config (its task, ``fewshot_k``, ``data_dir``, ``data_source``).

    Raises ValueError (naming the option and the fix) for a choice the family cannot honour."""
    choice = getattr(cfg, "data_source", None) or "auto"
    if choice == "auto":
        return "local" if cfg.data_dir is not None or hub_disabled() else "paper"
    if choice not in SOURCES:
        raise ValueError(f"option data_source (--data-source): {choice!r}; allowed: auto, {', '.join(SOURCES)}")
    family = _family(cfg)
    if family == "fewshot" and choice == "hub":
        raise ValueError(
            "option data_source (--data-source): 'hub' has no few-shot data: the few-shot splits are the files of "
            "LiST / LM-BFF shipped in data/fewshot (the paper's splits); use data_source paper, local or auto"
        )
    if family == "glue" and choice != "local" and cfg.data_dir is not None:
        raise ValueError(
            f"option data_source (--data-source): {choice!r} reads GLUE from the Hugging Face hub, so data_dir "
            f"{cfg.data_dir} would be ignored; use data_source local (or auto) to read the TSVs there, or drop data_dir"
        )
    return choice


def uses_hub(cfg) -> bool:
    """The run's data come from the Hugging Face hub (or its local cache): NLG / GLUE ``hub`` and GLUE ``paper``
    (few-shot: only its GLUE evaluation sets, which its loader decides)."""
    source, family = resolve_data_source(cfg), _family(cfg)
    if family == "nlg":
        return source == "hub"
    return family == "glue" and source != "local"
