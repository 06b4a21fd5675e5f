"""Tasks: their data (`glue`, `fewshot` with prompts, `nlg`), loaded without torch, and the engine-side task
classes (`classification`, `prompting`, `generation`, each a `base.Task`). Which family a task belongs to
(`family_of`) is defined once, in `families`, and re-exported here."""

from adamixbench.tasks.families import FAMILIES, NLG_TASKS, family_of
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
from adamixbench.tasks.fewshot import PRIMARY_METRIC as FEWSHOT_PRIMARY_METRIC
from adamixbench.tasks.glue import GLUE_TASKS, TaskSpec, default_data_dir, get_task, load_glue
from adamixbench.tasks.nlg import PRIMARY_METRIC as NLG_PRIMARY_METRIC


def tasks_of(family: str):
    """The task names of a family (a collection: `in`, iteration)."""
    return {"glue": GLUE_TASKS, "fewshot": FEWSHOT_TASKS, "nlg": NLG_TASKS}[family]


def unknown_task_message(task: str, family: str) -> str | None:
    """None when `family` has `task`, else an error that lists every family's tasks and the few-shot flag."""
    if task in tasks_of(family):
        return None
    return (
        f"option task (--task): unknown {family} task {task!r}; GLUE tasks: {', '.join(sorted(GLUE_TASKS))}; "
        f"NLG tasks: {', '.join(NLG_TASKS)}; few-shot tasks ({', '.join(sorted(FEWSHOT_TASKS))}) need --fewshot-k"
    )


def primary_metric(task: str, family: str) -> str:
    """The metric a run of `task` reports first: what tables show and what model selection maximises."""
    if family == "nlg":
        return NLG_PRIMARY_METRIC
    return FEWSHOT_PRIMARY_METRIC if family == "fewshot" else get_task(task).primary_metric


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
    "primary_metric",
    "tasks_of",
    "unknown_task_message",
    "get_task",
    "load_fewshot",
    "load_fewshot_dev",
    "load_fewshot_eval",
    "load_glue",
    "sample_fewshot",
    "sample_lmbff_split",
]
