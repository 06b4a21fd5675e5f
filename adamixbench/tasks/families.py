"""Which family a task belongs to: the one definition, in a leaf module so that the data loaders
(`data_source`, imported by `glue` / `fewshot` / `nlg`) and the package's public face (`tasks/__init__`)
read the same fact without importing each other.

The NLG tasks are the paper's Tables 3-5 (E2E, WebNLG, DART): exactly the tasks whose files
`sources/paper_data.py` pins, so the list is read from there, not restated."""

from adamixbench.sources.paper_data import TASKS as NLG_TASKS

FAMILIES = ("glue", "fewshot", "nlg")


def family_of(task: str, fewshot_k: int | None) -> str:
    """A run's task family: NLG by task name, few-shot when a k is set, GLUE otherwise."""
    if task in NLG_TASKS:
        return "nlg"
    return "fewshot" if fewshot_k is not None else "glue"
