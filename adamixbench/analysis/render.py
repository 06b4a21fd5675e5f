"""Numbers and tables as text: the formats of a cell (numbers, p-values, parameter counts) and whole tables
as Markdown or LaTeX. Every table of the analysis (tables, comparisons, claims) is written through these."""

from __future__ import annotations

import numpy as np
import pandas as pd

from adamixbench.analysis import stats

__all__ = [
    "DASH",
    "format_number",
    "format_p",
    "format_params",
    "metric_digits",
    "table_markdown",
    "table_latex",
]

DASH = "—"


def format_number(x: float, digits: int) -> str:
    """`x` with `digits` decimals; a dash for a missing or non-finite number."""
    return DASH if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def format_p(x: float) -> str:
    """A p-value: 3 significant digits, scientific below 0.001; "n/a" where no test ran (NaN)."""
    return stats.NA if x is None or not np.isfinite(x) else (f"{x:.3g}" if x >= 1e-3 else f"{x:.1e}")


def format_params(n: float) -> str:
    if n is None or not np.isfinite(n):
        return DASH
    if n >= 1e9:
        return f"{n / 1e9:.2f}B"
    if n >= 1e6:
        return f"{n / 1e6:.2f}M"
    if n >= 1e3:
        return f"{n / 1e3:.1f}K"
    return f"{int(n)}"


def metric_digits(metric: str) -> int:
    """Decimals a metric's cells show: 2 for the raw-scale metrics (NIST, CIDEr, TER), else 1 (percent)."""
    return 2 if metric in ("nist", "cider", "ter") else 1


def table_markdown(display: pd.DataFrame, caption: str = "") -> str:
    cols = list(display.columns)
    lines = []
    if caption:
        lines += [caption, ""]
    lines.append("| " + " | ".join(cols) + " |")
    lines.append("|" + "|".join("---" for _ in cols) + "|")
    for _, r in display.iterrows():
        lines.append("| " + " | ".join(str(r[c]).replace("|", "\\|") for c in cols) + " |")
    return "\n".join(lines) + "\n"


_TEX_ESC = {
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "\\": r"\textbackslash{}",
}


def _tex(s: str) -> str:
    s = "".join(_TEX_ESC.get(ch, ch) for ch in str(s))
    return s.replace("±", r"$\pm$").replace("Δ", r"$\Delta$").replace("—", "--")


def table_latex(display: pd.DataFrame, caption: str = "", label: str = "") -> str:
    cols = list(display.columns)
    out = [
        r"\begin{table}[t]",
        r"\centering",
        r"\small",
        r"\begin{tabular}{l" + "r" * (len(cols) - 1) + "}",
        r"\toprule",
        " & ".join(_tex(c) for c in cols) + r" \\",
        r"\midrule",
    ]
    for _, r in display.iterrows():
        out.append(" & ".join(_tex(r[c]) for c in cols) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}"]
    if caption:
        out.append(r"\caption{" + _tex(caption) + "}")
    if label:
        out.append(r"\label{" + label + "}")
    out.append(r"\end{table}")
    return "\n".join(out) + "\n"
