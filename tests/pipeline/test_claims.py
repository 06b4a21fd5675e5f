"""adamixbench.analysis.claims: verdicts on synthetic records where each verdict is known, and the claims file."""

import math
from pathlib import Path

import pytest
import yaml

from adamixbench.analysis import claims as C
from adamixbench.analysis.layouts import resolve_layout
from adamixbench.analysis.records import runs_frame

from .synthetic import make_record

REPO = Path(__file__).resolve().parents[2]
CLAIMS = REPO / "workflow" / "resources" / "claims.yaml"
SEEDS = (1, 2, 3, 4, 5)
# per-seed noise shared by every row (paired designs cancel it) plus a small row-specific wobble
NOISE = {1: 0.0, 2: 1.5, 3: -1.0, 4: 0.7, 5: -0.4}
WOBBLE = {1: 0.05, 2: -0.04, 3: 0.02, 4: -0.03, 5: 0.01}


def _runs(rows: dict[str, float], tasks=("sst2", "rte"), params: dict | None = None, failed=()) -> tuple:
    """Records of `rows` (label -> mean score) on `tasks`; (runs frame, {table: layout})."""
    recs = []
    for task in tasks:
        for label, mean in rows.items():
            for seed in SEEDS:
                r = make_record(task, "lora", seed, label=label, failed=(label, seed) in failed)
                if r["status"] == "ok":
                    r["scores"] = {"accuracy": mean + NOISE[seed] + (WOBBLE[seed] if label != "a" else 0.0)}
                r["params"]["inference"] = (params or {}).get(label, 150_000)
                recs.append(r)
    runs = runs_frame(recs)
    return runs, {"glue": resolve_layout("primary", runs, tasks=list(tasks))}


def _claim(**kw) -> dict:
    base = {
        "id": kw.get("id", "c"),
        "claim": "a beats b",
        "source": "test",
        "suites": ["t"],
        "table": "glue",
        "a": "a",
        "b": "b",
        "relation": ">",
    }
    return {**base, **kw}


def test_each_verdict_is_the_known_one():
    runs, layouts = _runs({"a": 80.0, "b": 78.0, "c": 82.0, "d": 80.0, "e": 79.9})
    res = C.evaluate_claims(
        runs,
        [
            _claim(id="sup", b="b"),  # +2.0, differences vary by 0.09: supported
            _claim(id="con", b="c"),  # -2.0: contradicted
            _claim(id="inc", b="d"),  # 0 +- wobble: inconclusive
            _claim(id="noninf", b="e", relation=">=", margin=0.5),  # -0.1 > -0.5: supported non-inferiority
            _claim(id="noninf-tight", b="c", relation=">=", margin=0.5),  # -2 < -0.5: contradicted
            _claim(id="each", b="b", over="each"),  # one statement per column
            _claim(id="best", b=["b", "c"]),  # best of b and c per seed = c: contradicted
            _claim(id="task", b="b", tasks=["rte"]),
            _claim(id="missing", b="zzz"),
            _claim(id="notable", table="nope"),
        ],
        layouts,
    ).set_index(["id", "column"])
    assert res.loc[("sup", "Avg"), "verdict"] == "supported"
    assert res.loc[("sup", "Avg"), "effect"] == pytest.approx(2.0, abs=0.1)
    assert res.loc[("sup", "Avg"), "n_seeds"] == 5 and res.loc[("sup", "Avg"), "seeds"] == "1 2 3 4 5"
    assert res.loc[("con", "Avg"), "verdict"] == "contradicted"
    assert res.loc[("inc", "Avg"), "verdict"] == "inconclusive"
    assert res.loc[("noninf", "Avg"), "verdict"] == "supported"
    assert res.loc[("noninf-tight", "Avg"), "verdict"] == "contradicted"
    assert list(res.loc["each"].index) == ["SST-2 Acc", "RTE Acc"]
    assert (res.loc["each", "verdict"] == "supported").all()
    assert res.loc[("best", "Avg"), "verdict"] == "contradicted" and res.loc[("best", "Avg"), "b"] == "best of b, c"
    assert res.loc[("task", "RTE Acc"), "verdict"] == "supported"
    assert res.loc[("missing", "Avg"), "verdict"] == "not run"
    assert res.loc[("notable", ""), "verdict"] == "not testable"
    # the shared seed noise cancels in the paired design: the interval is narrow and the MDE tiny
    sup = res.loc[("sup", "Avg")]
    assert sup["ci_high"] - sup["ci_low"] < 0.3 and sup["mde"] < 0.3 and sup["seeds_needed"] <= 3


def test_equal_params_premise_and_small_n():
    runs, layouts = _runs({"a": 80.0, "b": 78.0}, params={"a": 150_000, "b": 600_000})
    r = C.evaluate_claims(runs, [_claim(equal_params=True)], layouts).iloc[0]
    assert r["verdict"] == "not testable" and "#Param differ" in r["note"]
    runs_eq, layouts_eq = _runs({"a": 80.0, "b": 78.0}, params={"a": 150_000, "b": 147_000})  # within 10%
    assert C.evaluate_claims(runs_eq, [_claim(equal_params=True)], layouts_eq).iloc[0]["verdict"] == "supported"
    # one paired seed: no interval, inconclusive whatever the difference
    runs1, layouts1 = _runs({"a": 90.0, "b": 50.0}, failed={("a", s) for s in (2, 3, 4, 5)})
    one = C.evaluate_claims(runs1, [_claim()], layouts1).iloc[0]
    assert one["n_seeds"] == 1 and one["verdict"] == "inconclusive" and math.isnan(one["mde"])


def test_lower_is_better_metrics_are_negated():
    recs = []
    wobble = {1: 0.003, 2: -0.003, 3: 0.0, 4: 0.001, 5: -0.001}  # TER differences vary around 0.05
    for label, ter in (("a", 0.40), ("b", 0.45)):
        for seed in SEEDS:
            r = make_record("webnlg", "lora", seed, label=label)
            r["scores"] = {
                "bleu": 50.0,
                "meteor": 40.0,
                "ter": ter + 0.002 * seed + (wobble[seed] if label == "b" else 0),
            }
            recs.append(r)
    runs = runs_frame(recs)
    layouts = {"w": resolve_layout("nlg_webnlg_dart", runs, tasks=["webnlg"])}
    res = C.evaluate_claims(runs, [_claim(table="w", over="each")], layouts).set_index("column")
    assert res.loc["WebNLG TER", "verdict"] == "supported" and res.loc["WebNLG TER", "effect"] == pytest.approx(0.05)
    assert res.loc["WebNLG BLEU", "verdict"] == "degenerate: no seed variance"  # equal BLEU: zero differences
    assert "negated" in res.loc["WebNLG TER", "note"]
    md = C.claims_markdown(res.reset_index(), "t")
    assert "supported" in md and "MDE" in md


#: suites whose claims are written before their suite file lands (issue 11's `general`: X vs AdaMix(X));
#: their entries are checked as soon as config/suites/<name>.yaml exists
PENDING_SUITES = {"general"}


def test_claims_file_entries_name_real_tables_and_labels():
    suites = {p.stem: yaml.safe_load(p.read_text()) for p in (REPO / "config" / "suites").glob("*.yaml")}
    raw = yaml.safe_load(CLAIMS.read_text())["claims"]
    assert raw, "the claims file lists no claims"
    for c in raw:
        for name in c["suites"]:
            C.load_claims(CLAIMS, name)  # validates every entry
            if name in PENDING_SUITES and name not in suites:
                continue
            assert name in suites, (c["id"], name)
            s = suites[name]
            tables = {t["name"] for t in s.get("analysis", {}).get("tables", [])}
            assert c["table"] in tables, (c["id"], c["table"], tables)
            modes = {m for e in s["experiments"] for m in e.get("eval_inference_modes", [])}
            run = {lab for e in s["experiments"] for lab in e["methods"]}  # labels the suite actually runs
            rows = run | {f"{lab} @{m}" for lab in run for m in modes}
            for lab in [c["a"]] + ([c["b"]] if isinstance(c["b"], str) else c["b"]):
                assert lab in rows, (c["id"], lab)
    assert len(C.load_claims(CLAIMS, "mini")) >= 4


def test_bad_claims_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "claims.yaml"
    bad.write_text("claims:\n  - {id: x, claim: c, source: s, suites: [t], table: g, a: a, b: b, relation: '>>'}\n")
    with pytest.raises(ValueError, match=r"relation '>>'; allowed: \['>', '>='\]"):
        C.load_claims(bad, "t")
    bad.write_text("claims:\n  - {id: x, claim: c, suites: [t], table: g, a: a, b: b, relation: '>', extra: 1}\n")
    with pytest.raises(ValueError, match=r"missing key\(s\) \['source'\], unknown key\(s\) \['extra'\]"):
        C.load_claims(bad, "t")


def _diff_runs(diffs: dict[str, list[float]]) -> tuple:
    """SST-2 records of row "a" (80 + the shared seed noise) and of one row per entry of `diffs`, each
    scoring a's score minus its per-seed difference: the paired differences a - x are exactly `diffs[x]`."""
    recs = []
    for label in ["a", *diffs]:
        for i, seed in enumerate(SEEDS):
            r = make_record("sst2", "lora", seed, label=label)
            r["scores"] = {"accuracy": 80.0 + NOISE[seed] - (diffs[label][i] if label != "a" else 0.0)}
            recs.append(r)
    runs = runs_frame(recs)
    return runs, {"glue": resolve_layout("primary", runs, tasks=["sst2"])}


def test_zero_seed_variance_is_a_degenerate_comparison_never_supported():
    """Every seed gives the same difference (0.016 points): the t interval has zero width and the MDE is 0,
    which reads as "supported" on no evidence of seed variation at all. The verdict says so instead."""
    runs, layouts = _diff_runs({"b": [0.016] * 5, "c": [0.0] * 5, "d": [2.0, 2.1, 1.9, 2.05, 1.95]})
    claims = [_claim(id="shift", b="b"), _claim(id="tie", b="c"), _claim(id="ok", b="d")]
    res = C.evaluate_claims(runs, claims, layouts).set_index("id")
    for cid, effect in (("shift", 0.016), ("tie", 0.0)):
        row = res.loc[cid]
        assert row["verdict"] == "degenerate: no seed variance", cid
        assert row["effect"] == pytest.approx(effect, abs=1e-9) and row["n_seeds"] == 5
        assert "no seed variance" in row["note"] and "5 paired seeds" in row["note"]
        # no interval, no test, no power statement from zero variance; not part of the Holm family
        assert math.isnan(row["ci_low"]) and math.isnan(row["mde"]) and math.isnan(row["p"])
        assert math.isnan(row["p_holm"])
    assert res.loc["ok", "verdict"] == "supported"
    assert res.loc["ok", "p_holm"] == pytest.approx(res.loc["ok", "p"])  # a family of one
    assert "degenerate: no seed variance" in C.claims_markdown(res.reset_index(), "t")


#: paired differences a - x with known t-tests: p(strong) ~ 6e-7, p(mid) ~ 0.026, p(null) ~ 0.73
STRONG, MID, NULL = [2.0, 2.1, 1.9, 2.05, 1.95], [0.6, 1.5, 0.3, 1.0, 0.4], [0.3, -0.5, 0.2, -0.1, 0.4]


def test_claim_verdicts_use_holm_adjusted_p_over_the_suites_claims():
    from scipy import stats as sps

    runs, layouts = _diff_runs({"b": STRONG, "c": MID, "d": NULL})
    family = [_claim(id="strong", b="b"), _claim(id="mid", b="c"), _claim(id="null", b="d")]
    res = C.evaluate_claims(runs, family, layouts).set_index("id")
    assert res.loc["strong", "verdict"] == "supported"
    assert res.loc["mid", "verdict"] == "inconclusive"  # its interval excludes 0, but not after Holm
    assert res.loc["mid", "ci_low"] > 0 and res.loc["null", "verdict"] == "inconclusive"
    raw = {cid: sps.ttest_1samp(d, 0.0).pvalue for cid, d in (("strong", STRONG), ("mid", MID), ("null", NULL))}
    assert raw["mid"] == pytest.approx(0.0261, abs=1e-4)
    for cid, p in raw.items():
        assert res.loc[cid, "p"] == pytest.approx(p)
    # Holm by hand: sorted p_(1) < p_(2) < p_(3) times 3, 2, 1, running maximum
    assert res.loc["strong", "p_holm"] == pytest.approx(3 * raw["strong"])
    assert res.loc["mid", "p_holm"] == pytest.approx(2 * raw["mid"])  # 0.052 > 0.05
    assert res.loc["null", "p_holm"] == pytest.approx(raw["null"])
    # tested alone (a family of one) the same claim is supported: the correction is across the family
    alone = C.evaluate_claims(runs, [family[1]], layouts).iloc[0]
    assert alone["verdict"] == "supported" and alone["p_holm"] == pytest.approx(raw["mid"])
    md = C.claims_markdown(res.reset_index(), "t")
    assert "Holm" in md and "p (Holm)" in md and f"{2 * raw['mid']:.3g}" in md


def test_non_inferiority_p_is_against_the_margin():
    # a - b = -0.1 +- 0.05 with margin 0.5: H0 mean difference = -0.5 (t-test against the bound)
    from scipy import stats as sps

    diffs = [-0.1, -0.05, -0.15, -0.12, -0.08]
    runs, layouts = _diff_runs({"b": diffs})
    row = C.evaluate_claims(runs, [_claim(relation=">=", margin=0.5)], layouts).iloc[0]
    assert row["p"] == pytest.approx(sps.ttest_1samp(diffs, -0.5).pvalue) and row["verdict"] == "supported"
