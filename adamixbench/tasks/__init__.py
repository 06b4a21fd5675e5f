"""Tasks: their data (`glue`, `fewshot` with prompts, `nlg`), loaded without torch, and the engine-side task
classes (`classification`, `prompting`, `generation`, each a `base.Task`). This module is the one place
that says which family a task belongs to (`family_of`)."""

from adamixbench.tasks.fewshot import (
    FEWSHOT_TASKS,
    PROMPTS,
    build_prompt_inputs,
    load_fewshot,
    load_fewshot_dev,
    load_fewshot_eval,
    sample_fewshot,
    sample_lmbff_split,
)
from adamixbench.tasks.glue import GLUE_TASKS, TaskSpec, default_data_dir, get_task, load_glue
from adamixbench.tasks.nlg import TASKS as NLG_TASKS

FAMILIES = ("glue", "fewshot", "nlg")


def family_of(task: str, fewshot_k: int | None) -> str:
    """A run's task family: NLG by task name, few-shot when a k is set, GLUE otherwise."""
    if task in NLG_TASKS:
        return "nlg"
    return "fewshot" if fewshot_k is not None else "glue"


__all__ = [
    "FAMILIES",
    "FEWSHOT_TASKS",
    "GLUE_TASKS",
    "NLG_TASKS",
    "PROMPTS",
    "TaskSpec",
    "build_prompt_inputs",
    "default_data_dir",
    "family_of",
    "get_task",
    "load_fewshot",
    "load_fewshot_dev",
    "load_fewshot_eval",
    "load_glue",
    "sample_fewshot",
    "sample_lmbff_split",
]
