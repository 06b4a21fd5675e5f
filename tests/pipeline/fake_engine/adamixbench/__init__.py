"""Test double of the engine package: `python -m adamixbench train ...` writes a synthetic run record.

Put `tests/pipeline/fake_engine` first on PYTHONPATH: this package then shadows the real `adamixbench` for
`-m adamixbench` only; every other module (aggregate, stats, plots, ...) still comes from the real package,
because the real package folder is appended to this package's search path.
"""

from pathlib import Path as _Path

_REAL = _Path(__file__).resolve().parents[4] / "adamixbench"
__path__.append(str(_REAL))  # noqa: F821
