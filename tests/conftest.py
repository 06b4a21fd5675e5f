"""Offline by default: nothing in the test suite may reach a model or dataset hub."""

from adamixbench.sources.offline import apply_offline_defaults

apply_offline_defaults()
