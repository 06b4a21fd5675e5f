"""AdaMix benchmark engine: data, metrics, trainer and CLI for the reproducibility suite."""
