"""A non-finite score of a run recorded ``ok`` (e.g. METEOR null without Java) is "unavailable": a visible
cell in the tables, left out of every statistic (summaries, aggregates, probability of improvement,
ranks, paired tests, claims) with a note saying what was left out, and the seed counts are those of the
finite values actually used. A metric unavailable in every run is never normalised (to 1.0)."""

import math

import numpy as np
import pytest

from adamixbench.analysis import claims as C
from adamixbench.analysis import stats
from adamixbench.analysis.comparisons import (
    aggregate_comparison,
    critical_difference,
    normalized_scores,
    paired_tests,
    pairs_table,
)
from adamixbench.analysis.layouts import Column, Layout, resolve_layout
from adamixbench.analysis.records import runs_frame
from adamixbench.analysis.tables import build_table, summarize, unavailable_note

from .synthetic import make_record

SEEDS = (1, 2, 3, 4, 5)
NAN_SEED = 3


BASE = {"a": 60.0, "b": 58.0, "c": 55.0}
WOBBLE = {"a": 0.0, "b": 0.11, "c": 0.05}  # odd seeds: the paired differences vary


def _score(label: str, metric: str, seed: int) -> float:
    return BASE[label] + (1.0 if metric == "meteor" else 0.0) + 0.3 * seed + WOBBLE[label] * (seed % 2)


def _e2e_runs(labels, unavailable=frozenset(), metrics=("bleu", "meteor")):
    """E2E records of `labels` (scores: `_score`); the scores of `unavailable` ((label, metric, seed), or
    (None, metric, None) for every run) are null, as a record written without Java holds METEOR."""
    recs = []
    for label in labels:
        for seed in SEEDS:
            r = make_record("e2e", "lora", seed, label=label)
            null = {m for m in metrics if {(label, m, seed), (None, m, None)} & set(unavailable)}
            r["scores"] = {m: None if m in null else _score(label, m, seed) for m in metrics}
            r["primary_metric"] = "bleu"
            recs.append(r)
    return runs_frame(recs)


def _finite(label: str, metric: str) -> list[float]:
    return [_score(label, metric, k) for k in SEEDS if k != NAN_SEED]


def _layout(metrics=("bleu", "meteor")):
    return Layout("e2e", tuple(Column("e2e", m, m.upper()) for m in metrics), False)


def test_summary_and_table_show_an_unavailable_score_and_count_the_finite_seeds():
    runs = _e2e_runs(["a", "b"], unavailable={("a", "meteor", NAN_SEED)})
    s = summarize(runs, n_boot=200).set_index(["row_label", "metric"])
    row = s.loc[("a", "meteor")]
    assert row["n"] == 4 and row["seeds"] == "1 2 4 5" and row["n_unavailable"] == 1
    assert row["mean"] == pytest.approx(np.mean(_finite("a", "meteor")))
    display, long = build_table(runs, s.reset_index(), _layout(), ["a", "b"])
    cell = display.set_index("Method").loc["a", "METEOR"]
    assert "±" in cell and "(1/5 unavailable)" in cell
    cell_long = long.set_index(["row_label", "metric"]).loc[("a", "meteor")]
    assert cell_long["n"] == 4 and cell_long["n_unavailable"] == 1
    note = unavailable_note(runs, _layout(), ["a", "b"])
    assert "meteor of e2e/a/seed3" in note and "left out of every statistic" in note
    assert unavailable_note(runs, _layout(("bleu",)), ["a", "b"]) == ""


def test_a_metric_unavailable_in_every_run_is_an_unavailable_cell_never_normalised():
    runs = _e2e_runs(["a", "b", "c"], unavailable={(None, "meteor", None)})
    s = summarize(runs, n_boot=200)
    display, _ = build_table(runs, s, _layout(), ["a", "b", "c"])
    assert (display["METEOR"] == "unavailable (5/5)").all()  # not "failed (0/5)": no run failed
    m, seeds, notes = normalized_scores(runs, _layout(), ["a", "b", "c"])
    # only BLEU is aggregated: METEOR is not a column of 1.0 (every row "the best")
    assert all(x.shape == (5, 1) for x in m.values())
    bleu = {lab: [_score(lab, "bleu", k) for k in SEEDS] for lab in ("a", "b", "c")}
    lo, hi = min(map(min, bleu.values())), max(map(max, bleu.values()))
    assert m["a"][:, 0] == pytest.approx((np.array(bleu["a"]) - lo) / (hi - lo))
    assert all("METEOR: unavailable in every run" in notes[r] for r in ("a", "b", "c"))
    res = aggregate_comparison(runs, _layout(), ["a", "b", "c"], ["a"], n_boot=200)
    a = res[res["kind"] == "aggregate"].set_index("row")
    assert (a["n_tasks"] == 1).all() and a.loc["a", "iqm"] < 1.0


def test_aggregates_leave_out_an_unavailable_seed_with_a_note():
    runs = _e2e_runs(["a", "b"], unavailable={("a", "meteor", NAN_SEED)})
    m, seeds, notes = normalized_scores(runs, _layout(), ["a", "b"])
    assert seeds["a"] == [1, 2, 4, 5] and seeds["b"] == list(SEEDS)
    assert "1 seed(s) left out" in notes["a"] and "unavailable" in notes["a"] and "seed 3" in notes["a"]
    assert np.isfinite(m["a"]).all()
    res = aggregate_comparison(runs, _layout(), ["a", "b"], ["a"], n_boot=300)
    a = res[res["kind"] == "aggregate"].set_index("row")
    assert a.loc["a", "n_seeds"] == 4 and a.loc["a", "seeds"] == "1 2 4 5" and "unavailable" in a.loc["a", "note"]
    # the statistics of the finite seeds, normalised by hand (min-max over the finite scores)
    metrics = ("bleu", "meteor")
    finite = {
        met: [_score(lab, met, k) for lab in "ab" for k in SEEDS if (lab, k) != ("a", NAN_SEED) or met == "bleu"]
        for met in metrics
    }

    def norm(lab, keep):
        return np.array(
            [
                [(_score(lab, met, k) - min(finite[met])) / (max(finite[met]) - min(finite[met])) for met in metrics]
                for k in keep
            ]
        )

    ma, mb = norm("a", [1, 2, 4, 5]), norm("b", SEEDS)
    assert m["a"] == pytest.approx(ma) and m["b"] == pytest.approx(mb)
    want = stats.aggregate_scores(ma, n_boot=300)
    assert a.loc["a", "iqm"] == pytest.approx(want["iqm"]) and a.loc["a", "mean"] == pytest.approx(want["mean"])
    assert a.loc["a", "iqm_low"] == pytest.approx(want["iqm_low"])
    p = res[res["kind"] == "probability_of_improvement"].iloc[0]
    assert p["p"] == pytest.approx(stats.probability_of_improvement(ma, mb, n_boot=300)["p"])
    assert p["n_seeds"] == 4


def _ranked_runs(unavailable):
    """4 rows x 5 GLUE columns x 3 seeds, ada > lora > ft > bitfit everywhere; `unavailable`:
    (label, task, seed) whose accuracy is NaN in an ok record (seed None: every seed)."""
    rng = np.random.default_rng(0)
    recs = []
    for lab, mu in CD_BASE.items():
        for t in CD_TASKS:
            for s in (1, 2, 3):
                r = make_record(t, "lora", s, label=lab)
                v = mu + rng.normal(0, 0.3)
                r["scores"] = {"accuracy": math.nan if {(lab, t, s), (lab, t, None)} & set(unavailable) else v}
                r["primary_metric"] = "accuracy"
                recs.append(r)
    runs = runs_frame(recs)
    return runs, resolve_layout("primary", runs, tasks=CD_TASKS)


CD_BASE = {"ada": 85.0, "lora": 82.0, "ft": 80.0, "bitfit": 78.0}
CD_TASKS = ["sst2", "rte", "mrpc", "cola", "qnli"]


def test_critical_difference_with_an_unavailable_cell_never_says_p_nan():
    runs, layout = _ranked_runs({("lora", "rte", None)})
    result, note = critical_difference(runs, layout, list(CD_BASE))
    # lora has no seed with a score in every column: left out of the ranks, and the note says so
    assert result is not None and np.isfinite(result.pvalue) and "lora" not in result.rankdf.index
    assert "lora" in note and "left out" in note
    res = aggregate_comparison(runs, layout, list(CD_BASE), ["ada"], n_boot=200)
    cd = res.attrs["critical_difference"]
    assert "nan" not in cd.lower() and "Friedman p = " in cd and "lora" in cd
    a = res[res["kind"] == "aggregate"].set_index("row")
    assert math.isnan(a.loc["lora", "mean_rank"]) and "unavailable" in a.loc["lora", "note"]
    assert list(a.loc[["ada", "ft", "bitfit"], "mean_rank"]) == pytest.approx([1.0, 2.0, 3.0])
    # one unavailable seed only: that seed is left out of lora's row, and lora is ranked on the others
    runs, layout = _ranked_runs({("lora", "sst2", 2)})
    res = aggregate_comparison(runs, layout, list(CD_BASE), ["ada"], n_boot=200)
    a = res[res["kind"] == "aggregate"].set_index("row")
    assert a.loc["lora", "n_seeds"] == 2 and a.loc["lora", "seeds"] == "1 3"
    assert list(a["mean_rank"]) == pytest.approx([1.0, 2.0, 3.0, 4.0])
    assert "nan" not in res.attrs["critical_difference"].lower()


def test_paired_tests_and_pairs_table_use_the_finite_seeds():
    runs = _e2e_runs(["a", "b"], unavailable={("a", "meteor", NAN_SEED)})
    tests = paired_tests(runs, _layout(), ["a"], ["b"], aso_boot=0).set_index("metric")
    assert tests.loc["meteor", "n"] == 4 and tests.loc["meteor", "seeds"] == "1 2 4 5"
    assert "unavailable" in tests.loc["meteor", "note"] and "seed(s) 3 of a" in tests.loc["meteor", "note"]
    display, long = pairs_table(runs, _layout(), {"b": "a"})
    row = long.set_index("metric").loc["meteor"]
    assert row["adamix_n"] == 4 and row["adamix_mean"] == pytest.approx(np.mean(_finite("a", "meteor")))
    assert row["adamix_std"] == pytest.approx(np.std(_finite("a", "meteor"), ddof=1))
    assert "(1/5 unavailable)" in display.set_index("Column").loc["METEOR", "AdaMix(X) score"]


def test_claims_use_the_finite_seeds_and_say_which_were_left_out():
    runs = _e2e_runs(["a", "b"], unavailable={("a", "meteor", NAN_SEED)})
    claim = {
        "id": "c",
        "claim": "a beats b",
        "source": "test",
        "suites": ["t"],
        "table": "e2e",
        "a": "a",
        "b": "b",
        "relation": ">",
        "over": "each",
    }
    res = C.evaluate_claims(runs, [claim], {"e2e": _layout()}).set_index("column")
    met = res.loc["METEOR"]
    assert met["n_seeds"] == 4 and met["seeds"] == "1 2 4 5"
    assert met["a_mean"] == pytest.approx(np.mean(_finite("a", "meteor")))
    assert "unavailable" in met["note"] and "seed(s) 3 of a" in met["note"]
    assert res.loc["BLEU", "n_seeds"] == 5 and "unavailable" not in res.loc["BLEU", "note"]
