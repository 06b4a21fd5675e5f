"""Task data: GLUE (`glue`) and few-shot splits with prompts (`fewshot`)."""

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

__all__ = [
    "FEWSHOT_TASKS",
    "GLUE_TASKS",
    "PROMPTS",
    "TaskSpec",
    "build_prompt_inputs",
    "default_data_dir",
    "get_task",
    "load_fewshot",
    "load_fewshot_dev",
    "load_fewshot_eval",
    "load_glue",
    "sample_fewshot",
    "sample_lmbff_split",
]
