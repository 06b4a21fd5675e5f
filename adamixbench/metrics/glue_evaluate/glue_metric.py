"""`evaluate` metric module for GLUE and the few-shot tasks, in paper scale (percent).

Loaded by local path (`evaluate.load("<this file>", "<task>")`, see
`adamixbench.metrics.glue.load_glue_metric`), so it works without the hub, unlike `evaluate.load("glue")`.
It delegates to `adamixbench.metrics.glue.compute_glue_metrics` so both entry points give identical numbers.
"""

import datasets
import evaluate

from adamixbench.metrics.glue import REGRESSION_TASKS, TASK_METRICS, compute_glue_metrics

_DESCRIPTION = "GLUE metrics (accuracy, F1, Matthews correlation, Pearson, Spearman) in percent."
_KWARGS_DESCRIPTION = """
Args:
    predictions: class ids (float scores for stsb), one per example.
    references: gold class ids (float scores for stsb).
Returns:
    dict of metric name -> value in percent, e.g. {"accuracy": 91.2, "f1": 93.8} for mrpc.
"""
_CITATION = """@inproceedings{wang2019glue,
  title={{GLUE}: A Multi-Task Benchmark and Analysis Platform for Natural Language Understanding},
  author={Wang, Alex and Singh, Amanpreet and Michael, Julian and Hill, Felix and Levy, Omer and Bowman, Samuel R.},
  booktitle={ICLR}, year={2019}}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class GlueMetric(evaluate.Metric):
    """config_name is the task (`sst2`, `mnli`, ..., `mpqa`, `subj`)."""

    def _info(self):
        if self.config_name not in TASK_METRICS:
            raise KeyError(f"unknown task {self.config_name!r}; pass one of {sorted(TASK_METRICS)} as config name")
        dtype = "float64" if self.config_name in REGRESSION_TASKS else "int64"
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value(dtype), "references": datasets.Value(dtype)}),
        )

    def _compute(self, predictions, references):
        return compute_glue_metrics(self.config_name, predictions, references)
