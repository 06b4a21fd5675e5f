"""Metrics in paper scale (percent): GLUE and few-shot classification (`glue`: by metric name), NLG (`nlg`), and what a
task's `evaluate` returns for one split (`Evaluation`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from adamixbench.metrics.glue import compute_metrics

__all__ = ["Evaluation", "compute_metrics"]


@dataclass(frozen=True)
class Evaluation:
    """One split scored by a task. The task computes; the trainer keeps: it writes `outputs` (when the task
    keeps its outputs, e.g. NLG's decoded texts: an object with `write(folder, split)`) under the run's
    folder and `unavailable` (metric -> why it could not be computed, e.g. METEOR without Java) into the
    record's `metric_notes`."""

    scores: dict[str, float | None]
    outputs: object | None = None
    unavailable: dict[str, str] = field(default_factory=dict)
