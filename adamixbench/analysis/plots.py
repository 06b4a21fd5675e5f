"""Figures of the benchmark (matplotlib, Agg): each function takes tidy frames and returns a Figure.

* :func:`seed_scores`      per-task scores, one dot per seed, mean bar, failed runs marked with an x
                           at the bottom, paper values as a diamond.
* :func:`score_versus`     mean score (over a layout's columns) vs inference parameters ("pareto") or vs
                           training cost (train seconds per run, "cost"), with the Pareto front.
* :func:`routing_violin`   paper Fig. 5: the spread of random routing (over seeds) vs merged, with the
                           paper's published range where known.
* :func:`training_curves`  eval metric and train loss per epoch, mean over seeds with one line per method.
* :func:`paired_gains`     "X vs AdaMix(X)": per pair, each seed's score of X and of AdaMix(X) joined by a
                           line (paired by seed), means as bars.
* :func:`aggregate_intervals`      rliable-style IQM and mean of normalised scores with 95% intervals.
* :func:`probability_of_improvement`  P(reference > other) with 95% intervals.
* :func:`performance_profile`      fraction of runs above each normalised score, with 95% bands.
* :func:`critical_difference`      autorank's critical-difference diagram (or why there is none).
* :func:`budget_curve`     score vs training budget per method (log2 axis), mean with its seed interval.
* :func:`wall_time`        score vs measured training time per run: the equal-wall-time view.

Colours: :func:`palette` gives each method label of a suite one fixed colour (by its position in the
suite's label list), and every figure of the suite takes its colours from it. Every error bar or band
says in the figure what it shows.

:func:`save` writes a figure as PNG and SVG.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from adamixbench.analysis import stats  # noqa: E402
from adamixbench.analysis.layouts import LOWER_IS_BETTER, Column, Layout, task_name  # noqa: E402
from adamixbench.plan.budget import UNIT_WORDS, WALL_TIME_FAIRNESS, from_key, split_label  # noqa: E402

__all__ = [
    "seed_scores",
    "SCORE_VERSUS",
    "score_versus",
    "routing_violin",
    "training_curves",
    "aggregate_intervals",
    "probability_of_improvement",
    "performance_profile",
    "critical_difference",
    "paired_gains",
    "budget_curve",
    "wall_time",
    "palette",
    "save",
    "empty",
]


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


def palette(labels: Sequence[str]) -> dict[str, tuple]:
    """One colour per label, by position in `labels` (pass the suite's full label list, always in the same
    order, so a method keeps its colour in every figure): tab10 up to 10 labels, tab20 up to 20, then
    tab20 repeated."""
    cmap = plt.get_cmap("tab10" if len(labels) <= 10 else "tab20")
    return {lab: cmap(i % cmap.N) for i, lab in enumerate(dict.fromkeys(labels))}


def _colors(labels: Sequence[str], colors: Mapping[str, tuple] | None) -> dict[str, tuple]:
    """`colors` (the suite's palette) where given, else a palette of `labels`; labels it lacks get grey."""
    if not colors:
        return palette(labels)
    # a budget's row (`lora@steps=512`, plan/budget.py) keeps its method's colour
    return {lab: colors.get(lab, colors.get(split_label(lab)[0], (0.5, 0.5, 0.5, 1.0))) for lab in labels}


def _grid(n: int, width: float = 4.2, height: float = 3.2):
    ncols = min(n, 3)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    return fig, list(axes.flat[:n])


def _seed_panel(ax, runs: pd.DataFrame, col: Column, row_order: Sequence[str], colors, paper: Mapping, rng) -> None:
    """One column of :func:`seed_scores`: per method its seeds' scores as dots and their mean as a bar,
    its failed runs as red crosses at the bottom, the paper's value as a diamond."""
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
            ax.annotate(
                f"{nf} failed",
                (i, floor),
                textcoords="offset points",
                xytext=(0, -12),
                ha="center",
                fontsize=7,
                color="red",
            )
        p = paper.get((lab, col.task, col.metric))
        if p is not None and np.isfinite(p):
            ax.scatter(
                [i],
                [p],
                marker="D",
                facecolor="none",
                edgecolor="black",
                s=40,
                zorder=5,
                label="paper" if i == 0 else None,
            )
    ax.set_xticks(range(len(row_order)))
    ax.set_xticklabels(row_order, rotation=45, ha="right", fontsize=8)
    ax.set_title(col.header)
    ax.set_ylabel(col.metric)
    ax.grid(axis="y", alpha=0.3)


def seed_scores(
    runs: pd.DataFrame,
    layout: Layout,
    row_order: Sequence[str],
    paper: Mapping[tuple[str, str, str], float] | None = None,
    title: str = "",
    colors: Mapping[str, tuple] | None = None,
):
    """One panel per layout column; x = method, y = score; one dot per seed, a bar at the mean."""
    paper = paper or {}
    if not layout.columns:
        return empty("no columns to plot")
    fig, axes = _grid(len(layout.columns), width=max(4.2, 0.55 * len(row_order) + 1.5))
    colors = _colors(row_order, colors)
    rng = np.random.default_rng(0)  # the dots' jitter: one stream over the panels
    for ax, col in zip(axes, layout.columns):
        _seed_panel(ax, runs, col, row_order, colors, paper, rng)
    fig.suptitle(
        (title + "\n" if title else "") + "dots: one run per seed; bar: mean over seeds; "
        "red x: failed run" + ("; diamond: paper" if paper else ""),
        fontsize=9,
    )
    fig.tight_layout()
    return fig


def _method_means(summary: pd.DataFrame, layout: Layout, xcol: str) -> pd.DataFrame:
    """Per method: mean over the layout's columns of the per-column mean (only methods with every column),
    and the 95% bootstrap interval of that mean's per-column means averaged (the summary's ci_low/high)."""
    rows = []
    cols = {(c.task, c.metric) for c in layout.columns}
    for lab, g in summary[summary["score_source"] == "scores"].groupby("method_label", sort=False):
        g = g[[(t, m) in cols for t, m in zip(g["task"], g["metric"])]]
        g = g[g["n"] > 0]
        if len(g) != len(cols) or not len(cols):
            continue
        rows.append(
            {
                "method_label": lab,
                "score": g["mean"].mean(),
                "x": g[xcol].mean(),
                "lo": g["ci_low"].mean(),
                "hi": g["ci_high"].mean(),
            }
        )
    return pd.DataFrame(rows, columns=["method_label", "score", "x", "lo", "hi"])


def _scatter_front(
    df: pd.DataFrame,
    xlabel: str,
    ylabel: str,
    title: str,
    lower_better_y: bool,
    logx: bool,
    colors: Mapping[str, tuple] | None = None,
):
    """Points with 95% interval bars, labelled through the legend (text beside close points overlaps)."""
    if df.empty or not np.isfinite(df["x"]).any():
        return empty(f"{title}: no method has complete results with {xlabel}")
    df = df[np.isfinite(df["x"]) & (df["x"] > 0 if logx else True)]
    fig, ax = plt.subplots(figsize=(7.6, 4.4))
    colors = _colors(list(df["method_label"]), colors)
    for _, r in df.iterrows():
        err = None
        if np.isfinite(r["lo"]) and np.isfinite(r["hi"]):
            err = [[max(r["score"] - r["lo"], 0.0)], [max(r["hi"] - r["score"], 0.0)]]
        ax.errorbar(
            r["x"], r["score"], yerr=err, fmt="o", color=colors[r["method_label"]], capsize=3, label=r["method_label"]
        )
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
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title + "\nbars: 95% bootstrap interval of the mean over seeds (averaged over columns)", fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


#: The score-versus plots (plot kind -> the summary column on the x axis, its label, the default title).
SCORE_VERSUS = {
    "pareto": (
        "params_inference",
        "inference parameters (after merging, head excluded)",
        "Score vs inference parameters",
    ),
    "cost": ("train_time_s", "training time per run (s, mean over seeds and tasks)", "Score vs training cost"),
}


def score_versus(
    summary: pd.DataFrame,
    layout: Layout,
    kind: str,
    title: str | None = None,
    colors: Mapping[str, tuple] | None = None,
):
    """Each method's mean score over the layout's columns against its mean of the `kind`'s column
    (SCORE_VERSUS: "pareto" = inference parameters, "cost" = training time), with the Pareto front."""
    column, xlabel, default_title = SCORE_VERSUS[kind]
    df = _method_means(summary, layout, column)
    lower = all(c.metric in LOWER_IS_BETTER for c in layout.columns)
    ylabel = f"mean score over {len(layout.columns)} column(s)"
    return _scatter_front(df, xlabel, ylabel, title or default_title, lower, True, colors)


def routing_violin(
    runs: pd.DataFrame,
    layout: Layout,
    label: str,
    random_modes: Sequence[str] = ("random_sequence", "random_token"),
    paper_ranges: Mapping[str, tuple[float, float, float]] | None = None,
):
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
        others = s[(s["score_source"] == "scores_by_inference") & ~s["inference"].isin(list(random_modes) + ["merge"])]
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


def training_curves(
    history: pd.DataFrame, layout: Layout, row_order: Sequence[str], colors: Mapping[str, tuple] | None = None
):
    """Per layout column: the eval metric per epoch (mean over seeds, band = min..max), one line per method;
    then, per task, the training loss: per step (running mean) when the records hold a step-level
    ``loss_curve``, else per epoch."""
    if history.empty:
        return empty("training curves: the run records hold no history")
    panels = [
        (c.task, c.metric, c.header, "epoch")
        for c in layout.columns
        if history[(history["task"] == c.task) & (history["metric"] == c.metric)]["epoch"].nunique() > 1
    ]
    for t in dict.fromkeys(c.task for c in layout.columns):
        h = history[history["task"] == t]
        if len(h[h["metric"] == "loss_curve"]):
            panels.append((t, "loss_curve", f"{task_name(t)} train loss (running mean)", "step"))
        elif len(h[h["metric"] == "train_loss"]):
            panels.append((t, "train_loss", f"{task_name(t)} train loss", "epoch"))
    if not panels:
        return empty("training curves: no history for the table's columns")
    fig, axes = _grid(len(panels))
    colors = _colors(row_order, colors)
    for ax, (task, metric, header, xcol) in zip(axes, panels):
        h = history[(history["task"] == task) & (history["metric"] == metric)]
        for lab in row_order:
            g = h[h["method_label"] == lab]
            if g.empty:
                continue
            agg = g.groupby(xcol)["value"].agg(["mean", "min", "max"]).reset_index()
            ax.plot(
                agg[xcol],
                agg["mean"],
                marker="o" if len(agg) < 30 else None,
                markersize=3,
                color=colors[lab],
                label=lab,
            )
            ax.fill_between(agg[xcol], agg["min"], agg["max"], color=colors[lab], alpha=0.15)
        ax.set_title(header)
        ax.set_xlabel(xcol)
        ax.set_ylabel("train loss" if "loss" in metric else metric)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle("line: mean over seeds; band: min..max over seeds", fontsize=9)
    fig.tight_layout()
    return fig


def paired_gains(runs: pd.DataFrame, layout: Layout, pairs: Mapping[str, str], title: str = ""):
    """One panel per layout column; per pair (X, AdaMix(X)) two slots, one dot per seed, a line joining a
    seed's X and AdaMix(X) runs (green: AdaMix(X) better, red: worse), and the means as bars."""
    ok = runs[runs["status"] == "ok"]
    ok = ok[np.isfinite(ok["value"].astype(float))]  # an unavailable (non-finite) score is no point
    if ok.empty or not pairs:
        return empty("no ok runs of the paired methods")
    fig, axes = _grid(len(layout.columns), width=max(4.2, 1.3 * len(pairs)), height=3.4)
    for ax, col in zip(axes, layout.columns):
        sel = ok[(ok["task"] == col.task) & (ok["metric"] == col.metric)]
        by_label = {
            lab: dict(zip(g["seed"].astype(int), g["value"].astype(float))) for lab, g in sel.groupby("row_label")
        }
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
        ax.set_title(f"{task_name(col.task)} ({col.header})", fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(title or "X vs AdaMix(X), paired by seed", fontsize=11)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------------------
# aggregate comparison (rliable-style figures) and the critical-difference diagram
# --------------------------------------------------------------------------------------------------
def aggregate_intervals(agg_df: pd.DataFrame, colors: Mapping[str, tuple] | None = None, title: str = ""):
    """Each aggregate of the normalised scores per row (``stats.AGGREGATES``: IQM and mean), point and 95%
    stratified bootstrap interval."""
    first = stats.AGGREGATES[0].name
    a = agg_df[(agg_df["kind"] == "aggregate") & np.isfinite(agg_df[first].astype(float))]
    if a.empty:
        return empty("aggregate: no row has a seed with ok runs in every column")
    rows = list(a["row"])[::-1]
    colors = _colors(rows, colors)
    n = len(stats.AGGREGATES)  # one panel per aggregate (IQM, mean)
    fig, axes = plt.subplots(1, n, figsize=(4.75 * n, 0.45 * len(rows) + 1.6), sharey=True, squeeze=False)
    for ax, stat in zip(axes[0], stats.AGGREGATES):
        point, low, high = stats.interval_columns(stat)
        for y, (_, r) in enumerate(a.set_index("row").loc[rows].reset_index().iterrows()):
            lo, hi = r[low], r[high]
            if np.isfinite(lo) and np.isfinite(hi):
                ax.hlines(y, lo, hi, color=colors[r["row"]], linewidth=6, alpha=0.6)
            ax.plot([r[point]], [y], "o", color=colors[r["row"]], markeredgecolor="black", markersize=7, zorder=3)
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels(rows, fontsize=8)
        ax.set_title(stat.display)
        ax.set_xlabel(f"normalised score ({a['normalization'].iloc[0]})")
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(
        (title + "\n" if title else "") + "dot: point estimate; bar: 95% stratified bootstrap interval over seeds",
        fontsize=9,
    )
    fig.tight_layout()
    return fig


def probability_of_improvement(agg_df: pd.DataFrame, colors: Mapping[str, tuple] | None = None, title: str = ""):
    """P(reference > other) per pair with its 95% interval; 0.5 = no difference."""
    p = agg_df[agg_df["kind"] == "probability_of_improvement"]
    if p.empty:
        return empty("probability of improvement: no reference row with complete results beside another row")
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(p) + 1.6))
    colors = _colors(list(p["vs"]), colors)
    point, low, high = stats.interval_columns(stats.PROBABILITY_OF_IMPROVEMENT)
    for y, (_, r) in enumerate(p.iloc[::-1].iterrows()):
        if np.isfinite(r[low]) and np.isfinite(r[high]):
            ax.hlines(y, r[low], r[high], color=colors[r["vs"]], linewidth=6, alpha=0.6)
        ax.plot([r[point]], [y], "o", color=colors[r["vs"]], markeredgecolor="black", markersize=7, zorder=3)
    ax.set_yticks(range(len(p)))
    ax.set_yticklabels([f"P({r} > {v})" for r, v in zip(p["row"].iloc[::-1], p["vs"].iloc[::-1])], fontsize=8)
    ax.axvline(0.5, color="gray", linestyle="--", linewidth=1)
    ax.set_xlim(-0.03, 1.03)
    ax.set_xlabel("probability of improvement")
    ax.set_title(
        (title + "\n" if title else "") + "dot: point estimate; bar: 95% stratified bootstrap interval; "
        "dashed: 0.5 (no difference)",
        fontsize=9,
    )
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def performance_profile(
    matrices: Mapping[str, np.ndarray],
    taus: Sequence[float],
    profiles: Mapping[str, tuple],
    colors: Mapping[str, tuple] | None = None,
    title: str = "",
    xlabel: str = "",
):
    """Fraction of runs x columns with a normalised score above tau, one curve per row, 95% bands.
    `profiles` maps a row to (profile, low, high) over `taus` (stats.performance_profile)."""
    if not profiles:
        return empty("performance profile: no row has a seed with ok runs in every column")
    colors = _colors(list(profiles), colors)
    fig, ax = plt.subplots(figsize=(7.6, 4.4))
    for row, (prof, lo, hi) in profiles.items():
        ax.plot(taus, prof, color=colors[row], label=f"{row} ({matrices[row].shape[0]} seeds)")
        if np.isfinite(lo).all():
            ax.fill_between(taus, lo, hi, color=colors[row], alpha=0.15)
    ax.set_xlabel(xlabel or "normalised score tau")
    ax.set_ylabel("fraction of runs with score > tau")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    ax.set_title((title + "\n" if title else "") + "band: 95% stratified bootstrap interval over seeds", fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def critical_difference(result, reason: str = ""):
    """autorank's critical-difference diagram (``autorank.plot_stats``), or a figure saying why none;
    `reason` beside a result: what was left out of the ranks (``comparisons.critical_difference``'s note)."""
    if result is None:
        return empty(f"critical-difference diagram: {reason}")
    from autorank import plot_stats

    ax = plot_stats(result, allow_insignificant=True)
    fig = ax.get_figure()
    cd = f"; Nemenyi CD = {result.cd:.2f}" if result.cd is not None else ""
    fig.suptitle(
        f"Friedman p = {result.pvalue:.3g}{cd} (alpha {result.alpha}); methods joined by a bar are "
        "not significantly different" + (f"\n{reason}" if reason else ""),
        fontsize=9,
    )
    return fig


# --------------------------------------------------------------------------------------------------
# training budget as an axis (adamixbench/analysis/budget.py)
# --------------------------------------------------------------------------------------------------
def _budget_x(budgets: Sequence[str]) -> tuple[dict[str, float], str, list[str]]:
    """{budget key: x position}, the x label and the tick labels: the budgets' values on a log2 axis when
    they share one unit, else their order (tick labels name each)."""
    parsed = [from_key(k) for k in budgets]
    if len({b.unit for b in parsed}) == 1:
        unit = parsed[0].unit
        ticks = [b.key.partition("=")[2] for b in parsed]
        return {b.key: b.value for b in parsed}, f"budget: {UNIT_WORDS[unit][1]} (log2 axis)", ticks
    return {b.key: 2.0**i for i, b in enumerate(parsed)}, "budget (in the suite's order)", [b.words for b in parsed]


def budget_curve(
    summary: pd.DataFrame,
    rows: Sequence[str],
    budgets: Sequence[str],
    colors: Mapping[str, tuple] | None = None,
    title: str = "",
    pairs: Mapping[str, str] | None = None,
):
    """One panel per column (adamixbench/analysis/budget.py's ``budget_summary``): per method, its mean score
    at each budget joined by a line, the bar its 95% bootstrap interval over seeds; x = the budget on a log2
    axis. Each budget is its own runs with their own LR schedule (not checkpoints of one run). The AdaMix side
    of each of the table's `pairs` ({X: AdaMix(X)}) is drawn dashed with square markers, so a pair reads as
    one solid and one dashed line."""
    have = summary[summary["n"] > 0]
    if have.empty:
        return empty("score vs budget: no ok run with a finite score")
    xs, xlabel, ticks = _budget_x(budgets)
    columns = list(summary.groupby(["task", "metric", "header"], sort=False).groups)
    fig, axes = _grid(len(columns), width=4.6, height=3.4)
    colors = _colors(list(rows), colors)
    mixtures = set((pairs or {}).values())
    for ax, (task, metric, header) in zip(axes, columns):
        col = have[(have["task"] == task) & (have["metric"] == metric)]
        for row in rows:
            r = col[col["row"] == row].copy()
            if r.empty:
                continue
            r["x"] = r["budget"].map(xs)
            r = r.sort_values("x")
            low = (r["mean"] - r["ci_low"]).fillna(0).clip(lower=0)
            high = (r["ci_high"] - r["mean"]).fillna(0).clip(lower=0)
            mixture = row in mixtures
            ax.errorbar(
                r["x"],
                r["mean"],
                yerr=[low, high],
                marker="s" if mixture else "o",
                linestyle="--" if mixture else "-",
                ms=4,
                capsize=3,
                lw=1.2,
                color=colors[row],
                label=row,
            )
        ax.set_xscale("log", base=2)
        ax.set_xticks([xs[k] for k in budgets])
        ax.set_xticklabels(ticks, rotation=30, ha="right", fontsize=7)
        ax.minorticks_off()
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_ylabel(metric)
        ax.set_title(f"{task_name(task)} ({header})", fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, loc="best")
    fig.suptitle(
        (title or "Score vs training budget")
        + "\npoint: mean over seeds; bar: 95% bootstrap interval of the mean; one run per budget, each with its "
        "own LR schedule",
        fontsize=9,
    )
    fig.tight_layout()
    return fig


def wall_time(
    runs: pd.DataFrame,
    layout: Layout,
    rows: Sequence[str],
    budgets: Sequence[str],
    colors: Mapping[str, tuple] | None = None,
    title: str = "",
):
    """The equal-wall-time view: per column, every ok run's score against its measured training time (the
    record's ``cost.train_time_s``, log axis), one colour per method, one marker per budget, and each
    method's per-budget means joined by a line. Times are of the machine that ran each run."""
    ok = runs[(runs["status"] == "ok") & (runs["score_source"].fillna("scores") == "scores")]
    ok = ok[np.isfinite(ok["value"].astype(float)) & np.isfinite(ok["train_time_s"].astype(float))]
    ok = ok[ok["base_label"].isin(rows) & ok["budget"].isin(budgets)]
    if ok.empty:
        return empty("score vs wall time: no ok run with a score and a training time")
    fig, axes = _grid(len(layout.columns), width=4.6, height=3.4)
    colors = _colors(list(rows), colors)
    markers = dict(zip(budgets, "osD^vP*Xh<>"))
    for ax, col in zip(axes, layout.columns):
        sel = ok[(ok["task"] == col.task) & (ok["metric"] == col.metric)]
        for row in rows:
            r = sel[sel["base_label"] == row]
            for key, g in r.groupby("budget"):
                ax.scatter(
                    g["train_time_s"], g["value"], s=14, marker=markers.get(key, "o"), color=colors[row], alpha=0.7
                )
            means = r.groupby("budget")[["train_time_s", "value"]].mean().sort_values("train_time_s")
            if len(means):
                ax.plot(means["train_time_s"], means["value"], lw=1.1, color=colors[row], label=row)
        ax.set_xscale("log")
        ax.set_xlabel("training time per run, s (measured; log axis)", fontsize=8)
        ax.set_ylabel(col.metric)
        ax.set_title(f"{task_name(col.task)} ({col.header})", fontsize=10)
        ax.grid(alpha=0.3)
    handles = [plt.Line2D([], [], color="0.3", marker=m, ls="", label=k) for k, m in markers.items()]
    axes[0].legend(handles=axes[0].get_legend_handles_labels()[0] + handles, fontsize=6, loc="best")
    fig.suptitle(
        (title or "Score vs measured training time")
        + f"\nfairness basis: {WALL_TIME_FAIRNESS}; dot: one run (marker: its budget); line: the method's means",
        fontsize=9,
    )
    fig.tight_layout()
    return fig
