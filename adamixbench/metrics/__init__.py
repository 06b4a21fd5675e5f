"""Metrics in paper scale (percent): GLUE and few-shot classification (`glue`)."""

from adamixbench.metrics.glue import TASK_METRICS, compute_glue_metrics

__all__ = ["TASK_METRICS", "compute_glue_metrics"]
