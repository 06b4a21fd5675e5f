"""The "X vs AdaMix(X)" table and plot (suite `general`) on synthetic run records."""

import math

import numpy as np

from adamixbench.analysis import plots, stats
from adamixbench.analysis.comparisons import pairs_table
from adamixbench.analysis.layouts import resolve_layout
from adamixbench.analysis.records import load_records, runs_frame
from adamixbench.analysis.render import table_markdown

from .synthetic import make_record, write_record

PAIRS = {"lora": "adamix[lora]", "ia3": "adamix[ia3]"}


def _runs(tmp_path):
    paths = []
    for base, mix in PAIRS.items():
        for seed in (1, 2, 3, 4, 5):
            for label, method in ((base, base), (mix, "adamix_peft")):
                failed = (label, seed) == ("adamix[ia3]", 4)
                paths.append(
                    write_record(
                        tmp_path, "sst2", label, seed, make_record("sst2", method, seed, label=label, failed=failed)
                    )
                )
    return runs_frame(load_records(paths), suite="test")


def test_pairs_table_pairs_by_seed_and_counts_failures(tmp_path):
    runs = _runs(tmp_path)
    layout = resolve_layout("primary", runs, tasks=["sst2"])
    display, long = pairs_table(runs, layout, PAIRS)
    assert list(display["X"]) == ["lora", "ia3"] and list(display["AdaMix(X)"]) == list(PAIRS.values())
    ok = runs[(runs["status"] == "ok") & (runs["metric"] == "accuracy")]
    score = {(r.row_label, int(r.seed)): float(r.value) for r in ok.itertuples()}
    for base, mix in PAIRS.items():
        row = long[long["base"] == base].iloc[0]
        seeds = [s for s in range(1, 6) if (mix, s) in score]
        diffs = [score[(mix, s)] - score[(base, s)] for s in seeds]
        assert row["n_paired"] == len(seeds) and math.isclose(row["mean_diff"], float(np.mean(diffs)))
        expected = stats.paired_test({s: score[(mix, s)] for s in seeds}, {s: score[(base, s)] for s in range(1, 6)})
        assert math.isclose(row["t_p"], expected["t_p"])
        assert math.isclose(row["adamix_mean"], float(np.mean([score[(mix, s)] for s in seeds])))
    ia3 = display[display["X"] == "ia3"].iloc[0]
    assert "(1/5 failed)" in ia3["AdaMix(X) score"] and ia3["n"] == 4
    assert ia3["Wilcoxon p"] == stats.NA  # exact Wilcoxon needs n >= 5 paired seeds
    assert display[display["X"] == "lora"].iloc[0]["Wilcoxon p"] != stats.NA
    md = table_markdown(display, "caption")
    assert "| lora |" in md and "adamix[lora]" in md


def test_paired_gains_plot(tmp_path):
    runs = _runs(tmp_path)
    layout = resolve_layout("primary", runs, tasks=["sst2"])
    png, svg = plots.save(plots.paired_gains(runs, layout, PAIRS), tmp_path / "plots" / "paired_gains")
    assert png.stat().st_size > 1000 and svg.read_text().lstrip().startswith("<?xml")


def test_pairs_table_shows_the_sample_std_over_seeds(tmp_path):
    """X's and AdaMix(X)'s spread over seeds is the sample standard deviation (n - 1), as in every table:
    scores 80, 82, 84 have std 2.0 (the population std would be 1.63)."""
    paths = []
    for label, method, scores in (("lora", "lora", (80.0, 82.0, 84.0)), ("adamix[lora]", "adamix_peft", (81, 81, 84))):
        for seed, score in enumerate(scores, start=1):
            rec = make_record("sst2", method, seed, label=label)
            rec["scores"] = {"accuracy": score}
            paths.append(write_record(tmp_path, "sst2", label, seed, rec))
    runs = runs_frame(load_records(paths), suite="test")
    display, long = pairs_table(runs, resolve_layout("primary", runs, tasks=["sst2"]), {"lora": "adamix[lora]"})
    row = long.iloc[0]
    assert (row["base_mean"], row["base_std"]) == (82.0, 2.0) and math.isclose(row["adamix_std"], math.sqrt(3.0))
    assert display.iloc[0]["X score"].startswith("82.0 ± 2.0")
