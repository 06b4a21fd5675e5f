"""Figures of the benchmark (matplotlib, Agg): each function takes tidy frames and returns a Figure.

* :func:`seed_scores`      per-task scores, one dot per seed, mean bar, failed runs marked with an x
                           at the bottom, paper values as a diamond.
* :func:`pareto`           mean score (over a layout's columns) vs inference parameters, Pareto front.
* :func:`cost`             mean score vs training cost (train seconds per run).
* :func:`routing_violin`   paper Fig. 5: the spread of random routing (over seeds) vs merged, with the
                           paper's published range where known.
* :func:`training_curves`  eval metric and train loss per epoch, mean over seeds with one line per method.
* :func:`paired_gains`     "X vs AdaMix(X)": per pair, each seed's score of X and of AdaMix(X) joined by a
                           line (paired by seed), means as bars.

:func:`save` writes a figure as PNG and SVG.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping, Optional, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from adamixbench.aggregate import LOWER_IS_BETTER, Layout  # noqa: E402

__all__ = ["seed_scores", "pareto", "cost", "routing_violin", "training_curves", "paired_gains", "save", "empty"]


def save(fig, stem: str | Path) -> list[Path]:
    """Write `<stem>.png` and `<stem>.svg` (parent folders created); returns the paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
    fig.savefig(paths[0], dpi=130, bbox_inches="tight")
    fig.savefig(paths[1], bbox_inches="tight")
    plt.close(fig)
    return paths


def empty(message: str):
    """A placeholder figure that says why there is nothing to plot (so a report never lacks a file)."""
    fig, ax = plt.subplots(figsize=(6, 1.6))
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True)
    return fig


def _title(task: str) -> str:
    return {"sst2": "SST-2", "mnli": "MNLI", "qnli": "QNLI", "qqp": "QQP", "mrpc": "MRPC", "cola": "CoLA", "rte": "RTE",
            "stsb": "STS-B", "e2e": "E2E", "webnlg": "WebNLG", "dart": "DART"}.get(task, task)


def _colors(labels: Sequence[str]) -> dict[str, tuple]:
    cmap = plt.get_cmap("tab10" if len(labels) <= 10 else "tab20")
    return {lab: cmap(i % cmap.N) for i, lab in enumerate(labels)}


def _grid(n: int, width: float = 4.2, height: float = 3.2):
    ncols = min(n, 3)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    return fig, list(axes.flat[:n])


def seed_scores(runs: pd.DataFrame, layout: Layout, row_order: Sequence[str],
                paper: Optional[Mapping[tuple[str, str, str], float]] = None, title: str = ""):
    """One panel per layout column; x = method, y = score; one dot per seed."""
    paper = paper or {}
    if not layout.columns:
        return empty("no columns to plot")
    fig, axes = _grid(len(layout.columns), width=max(4.2, 0.55 * len(row_order) + 1.5))
    colors = _colors(row_order)
    rng = np.random.default_rng(0)
    for ax, col in zip(axes, layout.columns):
        sel = runs[(runs["task"] == col.task) & (runs["metric"] == col.metric)]
        fails = runs[(runs["task"] == col.task) & (runs["status"] == "failed")]
        ok_vals = sel.loc[sel["status"] == "ok", "value"].dropna()
        floor = float(ok_vals.min()) if len(ok_vals) else 0.0
        for i, lab in enumerate(row_order):
            v = sel[(sel["row_label"] == lab) & (sel["status"] == "ok")]["value"].dropna().to_numpy()
            if v.size:
                x = i + rng.uniform(-0.12, 0.12, v.size)
                ax.scatter(x, v, s=22, color=colors[lab], zorder=3, edgecolor="black", linewidth=0.3)
                ax.hlines(v.mean(), i - 0.3, i + 0.3, color=colors[lab], linewidth=2, zorder=2)
            nf = int(fails[fails["row_label"] == lab]["seed"].nunique())
            if nf:
                ax.scatter([i] * nf, [floor] * nf, marker="x", color="red", zorder=4)
                ax.annotate(f"{nf} failed", (i, floor), textcoords="offset points", xytext=(0, -12),
                            ha="center", fontsize=7, color="red")
            p = paper.get((lab, col.task, col.metric))
            if p is not None and np.isfinite(p):
                ax.scatter([i], [p], marker="D", facecolor="none", edgecolor="black", s=40, zorder=5,
                           label="paper" if i == 0 else None)
        ax.set_xticks(range(len(row_order)))
        ax.set_xticklabels(row_order, rotation=45, ha="right", fontsize=8)
        ax.set_title(col.header)
        ax.set_ylabel(col.metric)
        ax.grid(axis="y", alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _method_means(summary: pd.DataFrame, layout: Layout, xcol: str) -> pd.DataFrame:
    """Per method: mean over the layout's columns of the per-column mean (only methods with every column)."""
    rows = []
    cols = {(c.task, c.metric) for c in layout.columns}
    for lab, g in summary[summary["score_source"] == "scores"].groupby("method_label", sort=False):
        g = g[[(t, m) in cols for t, m in zip(g["task"], g["metric"])]]
        g = g[g["n"] > 0]
        if len(g) != len(cols) or not len(cols):
            continue
        rows.append({"method_label": lab, "score": g["mean"].mean(), "x": g[xcol].mean(),
                     "std": g["std"].mean() if len(g) == 1 else math.nan})
    return pd.DataFrame(rows, columns=["method_label", "score", "x", "std"])


def _scatter_front(df: pd.DataFrame, xlabel: str, ylabel: str, title: str, lower_better_y: bool, logx: bool):
    if df.empty or not np.isfinite(df["x"]).any():
        return empty(f"{title}: no method has complete results with {xlabel}")
    df = df[np.isfinite(df["x"]) & (df["x"] > 0 if logx else True)]
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    colors = _colors(list(df["method_label"]))
    for _, r in df.iterrows():
        ax.errorbar(r["x"], r["score"], yerr=r["std"] if np.isfinite(r["std"]) else None, fmt="o",
                    color=colors[r["method_label"]], capsize=3)
        ax.annotate(r["method_label"], (r["x"], r["score"]), textcoords="offset points", xytext=(5, 4), fontsize=8)
    # Pareto front: fewer x and better score
    d = df.sort_values(["x", "score"], ascending=[True, lower_better_y])
    front, best = [], None
    for _, r in d.iterrows():
        s = r["score"]
        if best is None or (s < best if lower_better_y else s > best):
            front.append((r["x"], s))
            best = s
    if len(front) > 1:
        fx, fy = zip(*front)
        ax.step(fx, fy, where="post", color="gray", linestyle="--", linewidth=1, label="Pareto front")
        ax.legend(fontsize=8)
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def pareto(summary: pd.DataFrame, layout: Layout, title: str = "Score vs inference parameters"):
    df = _method_means(summary, layout, "params_inference")
    lower = all(c.metric in LOWER_IS_BETTER for c in layout.columns)
    return _scatter_front(df, "inference parameters (after merging, head excluded)",
                          f"mean score over {len(layout.columns)} column(s)", title, lower, True)


def cost(summary: pd.DataFrame, layout: Layout, title: str = "Score vs training cost"):
    df = _method_means(summary, layout, "train_time_s")
    lower = all(c.metric in LOWER_IS_BETTER for c in layout.columns)
    return _scatter_front(df, "training time per run (s, mean over seeds and tasks)",
                          f"mean score over {len(layout.columns)} column(s)", title, lower, True)


def routing_violin(runs: pd.DataFrame, layout: Layout, label: str,
                   random_modes: Sequence[str] = ("random_sequence", "random_token"),
                   paper_ranges: Optional[Mapping[str, tuple[float, float, float]]] = None):
    """Paper Fig. 5 for one AdaMix label: per column, a violin of the random-routing scores (every seed and
    random mode), the merged scores as dots, fixed/ensemble means as markers, the paper's range as a bar."""
    paper_ranges = paper_ranges or {}
    sel = runs[(runs["method_label"] == label) & (runs["status"] == "ok")]
    cols = [c for c in layout.columns if len(sel[sel["task"] == c.task])]
    if not cols:
        return empty(f"routing violin: no ok runs of {label!r} with scores by inference mode")
    fig, axes = _grid(len(cols), width=3.6)
    for ax, col in zip(axes, cols):
        s = sel[(sel["task"] == col.task) & (sel["metric"] == col.metric)]
        rnd = s[(s["score_source"] == "scores_by_inference") & s["inference"].isin(random_modes)]["value"].dropna()
        merged = s[(s["score_source"] == "scores_by_inference") & (s["inference"] == "merge")]["value"].dropna()
        if merged.empty:
            merged = s[(s["score_source"] == "scores") & (s["inference"].isin(["merge", ""]))]["value"].dropna()
        if len(rnd) >= 2:
            parts = ax.violinplot([rnd.to_numpy()], positions=[0], showextrema=True)
            for b in parts["bodies"]:
                b.set_alpha(0.4)
        if len(rnd):
            ax.scatter(np.zeros(len(rnd)), rnd, s=12, color="C0", zorder=3, label="random routing")
        if len(merged):
            ax.scatter(np.ones(len(merged)), merged, s=22, color="C3", zorder=3, label="merged")
        others = s[(s["score_source"] == "scores_by_inference") &
                   ~s["inference"].isin(list(random_modes) + ["merge"])]
        for j, (mode, g) in enumerate(others.groupby("inference")):
            ax.scatter(np.full(len(g), 1.5 + 0.25 * j), g["value"], s=14, marker="s", label=mode, zorder=3)
        if col.task in paper_ranges:
            lo, hi, mg = paper_ranges[col.task]
            ax.vlines(-0.35, lo, hi, color="black", linewidth=3, label="paper random range")
            ax.scatter([0.65], [mg], marker="D", facecolor="none", edgecolor="black", label="paper merged")
        ax.set_xticks([0, 1])
        ax.set_xticklabels(["random", "merged"])
        ax.set_title(col.header)
        ax.set_ylabel(col.metric)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=7, loc="best")
    fig.suptitle(f"Routing at inference ({label}): random routes vs merged experts")
    fig.tight_layout()
    return fig


def training_curves(history: pd.DataFrame, layout: Layout, row_order: Sequence[str]):
    """Per layout column: the eval metric per epoch (mean over seeds, band = min..max), one line per method;
    then, per task, the training loss: per step (running mean) when the records hold a step-level
    ``loss_curve``, else per epoch."""
    if history.empty:
        return empty("training curves: the run records hold no history")
    panels = [(c.task, c.metric, c.header, "epoch") for c in layout.columns
              if history[(history["task"] == c.task) & (history["metric"] == c.metric)]["epoch"].nunique() > 1]
    for t in dict.fromkeys(c.task for c in layout.columns):
        h = history[history["task"] == t]
        if len(h[h["metric"] == "loss_curve"]):
            panels.append((t, "loss_curve", f"{_title(t)} train loss (running mean)", "step"))
        elif len(h[h["metric"] == "train_loss"]):
            panels.append((t, "train_loss", f"{_title(t)} train loss", "epoch"))
    if not panels:
        return empty("training curves: no history for the table's columns")
    fig, axes = _grid(len(panels))
    colors = _colors(row_order)
    for ax, (task, metric, header, xcol) in zip(axes, panels):
        h = history[(history["task"] == task) & (history["metric"] == metric)]
        for lab in row_order:
            g = h[h["method_label"] == lab]
            if g.empty:
                continue
            agg = g.groupby(xcol)["value"].agg(["mean", "min", "max"]).reset_index()
            ax.plot(agg[xcol], agg["mean"], marker="o" if len(agg) < 30 else None, markersize=3,
                    color=colors[lab], label=lab)
            ax.fill_between(agg[xcol], agg["min"], agg["max"], color=colors[lab], alpha=0.15)
        ax.set_title(header)
        ax.set_xlabel(xcol)
        ax.set_ylabel("train loss" if "loss" in metric else metric)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def paired_gains(runs: pd.DataFrame, layout: Layout, pairs: Mapping[str, str], title: str = ""):
    """One panel per layout column; per pair (X, AdaMix(X)) two slots, one dot per seed, a line joining a
    seed's X and AdaMix(X) runs (green: AdaMix(X) better, red: worse), and the means as bars."""
    ok = runs[runs["status"] == "ok"]
    if ok.empty or not pairs:
        return empty("no ok runs of the paired methods")
    fig, axes = _grid(len(layout.columns), width=max(4.2, 1.3 * len(pairs)), height=3.4)
    for ax, col in zip(axes, layout.columns):
        sel = ok[(ok["task"] == col.task) & (ok["metric"] == col.metric)]
        by_label = {lab: dict(zip(g["seed"].astype(int), g["value"].astype(float))) for lab, g in sel.groupby("row_label")}
        ticks, names = [], []
        for i, (base, mix) in enumerate(pairs.items()):
            x0, x1 = 3 * i, 3 * i + 1
            a, b = by_label.get(base, {}), by_label.get(mix, {})
            for x, values in ((x0, a), (x1, b)):
                if values:
                    ax.bar(x, np.mean(list(values.values())), width=0.8, color="0.85", zorder=1)
                    ax.scatter([x] * len(values), list(values.values()), s=12, color="0.2", zorder=3)
            for seed in sorted(set(a) & set(b)):
                better = (b[seed] < a[seed]) if col.metric in LOWER_IS_BETTER else (b[seed] > a[seed])
                ax.plot([x0, x1], [a[seed], b[seed]], color="tab:green" if better else "tab:red", lw=0.9, zorder=2)
            ticks += [x0, x1]
            names += [base, f"AdaMix({base})" if mix != f"adamix[{base}]" else mix]
        values = sel[sel["row_label"].isin(list(pairs) + list(pairs.values()))]["value"].astype(float)
        if len(values):
            low, high = values.min(), values.max()
            ax.set_ylim(low - 0.1 * (high - low + 1e-9), high + 0.1 * (high - low + 1e-9))
        ax.set_xticks(ticks)
        ax.set_xticklabels(names, rotation=45, ha="right", fontsize=8)
        ax.set_title(f"{_title(col.task)} ({col.header})", fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(title or "X vs AdaMix(X), paired by seed", fontsize=11)
    fig.tight_layout()
    return fig
