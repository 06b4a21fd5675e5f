"""Metrics in paper scale (percent): GLUE and few-shot classification (`glue`)."""

from adamixbench.metrics.glue import TASK_METRICS, compute_glue_metrics, load_glue_metric

__all__ = ["TASK_METRICS", "compute_glue_metrics", "load_glue_metric"]
