"""Claims of the paper as data, and their verdicts at the number of seeds a suite ran.

A claim file (``workflow/resources/claims.yaml``) lists testable statements, each with its source::

    - id: t1-adamix-gt-lora-avg
      claim: "AdaMix > LoRA on the GLUE average"
      source: "AdaMix paper, Table 1 (RoBERTa-large): Avg 89.9 vs 88.6"
      suites: [glue_roberta_large]        # suites that can test it
      table: table1                       # a table of the suite (analysis.tables[].name)
      a: adamix_adapter                   # row label claimed better
      b: lora                             # row label, or a list: the best of those rows per seed and column
      relation: ">"                       # ">": a better than b; ">=": a not worse than b by more than `margin`
      margin: 0.0                         # in the metric's units (">=" only)
      over: average                       # average (the table's Avg over its columns) | each (one claim per column)
      tasks: [sst2]                       # optional: restrict to these tasks of the table
      equal_params: true                  # optional: the claim presumes equal #Param (checked, 10% tolerance)
      budgets: [steps=512]                # optional, suites with budgets: only these budgets (default: all)

In a suite with training budgets (adamixbench/plan/budget.py), a claim on a table over budgeted runs is
tested once per budget ("AdaMix(X) > X at 512 optimiser steps": rows a and b at that budget, in the table at
that budget; column ``budget``); every statement of every budget belongs to the same Holm family.

Every comparison pairs the two rows' runs by seed (same seed, both ok, both scores finite: a non-finite
score of an ok run is "unavailable", its seed left out and named in the note). Scores are oriented so
that higher = better (TER is negated). The effect is the mean paired difference a - b with its 95% t
interval (unadjusted). The test: a two-sided t-test of the paired differences against the claim's bound
(0 for ``">"``, ``-margin`` for ``">="``; ``scipy.stats.ttest_1samp``), raw p in ``p``; the statements
with a p form ONE family per evaluation (the suite's claims table), and ``p_holm`` is Holm's step-down
adjustment over it (``stats.holm``: statsmodels). The verdict at the run's seeds, on the adjusted p:

* supported: ``p_holm`` < 1 - level (0.05) and the effect lies above the bound;
* contradicted: ``p_holm`` < 0.05 and the effect lies below the bound;
* inconclusive: otherwise, and with fewer than 2 paired seeds (no interval, no test);
* ``degenerate: no seed variance``: every paired seed gives the same difference (e.g. all seeds equal),
  so the interval has zero width and the MDE is 0; no interval, test or MDE is reported and the
  statement is not part of the Holm family.

With a family of one, "supported" is exactly "the 95% interval lies above the bound". Beside it: the
minimum detectable effect at that number of seeds (two-sided paired t-test, alpha 0.05, power 0.8, per
claim: not Holm-adjusted) and the seeds a paired t-test would need to detect the observed effect, so a
reader sees whether "inconclusive" means "no difference" or "too few seeds".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from adamixbench.analysis import stats
from adamixbench.analysis.layouts import LOWER_IS_BETTER, Column, Layout, orientation
from adamixbench.analysis.records import unavailable_scores, unavailable_seeds_note
from adamixbench.analysis.render import DASH, format_params, table_markdown
from adamixbench.plan.budget import LABEL_RE, from_key

__all__ = ["load_claims", "evaluate_claims", "claims_markdown", "RELATIONS", "PARAMS_TOLERANCE"]

RELATIONS = (">", ">=")
OVER = ("average", "each")
PARAMS_TOLERANCE = 0.10
_REQUIRED = ("id", "claim", "source", "suites", "table", "a", "b", "relation")
_OPTIONAL = ("margin", "over", "tasks", "equal_params", "budgets")
COLUMNS = [
    "id",
    "claim",
    "source",
    "table",
    "budget",
    "column",
    "a",
    "b",
    "relation",
    "margin",
    "n_seeds",
    "seeds",
    "a_mean",
    "b_mean",
    "effect",
    "ci_low",
    "ci_high",
    "sd_diff",
    "mde",
    "seeds_needed",
    "p",
    "p_holm",
    "verdict",
    "note",
]
DEGENERATE = "degenerate: no seed variance"


def load_claims(path: str | Path, suite: str) -> list[dict]:
    """The claims of `path` that name `suite`, validated (a bad entry fails with its id and the fix)."""
    import yaml

    data = yaml.safe_load(Path(path).read_text()) or {}
    entries = data.get("claims")
    if not isinstance(entries, list):
        raise ValueError(f"{path}: expected a top-level `claims:` list")
    seen, out = set(), []
    for i, c in enumerate(entries):
        where = f"{path}: claims[{i}] ({c.get('id', '?') if isinstance(c, dict) else '?'})"
        if not isinstance(c, dict):
            raise ValueError(f"{where}: each claim is a mapping with keys {list(_REQUIRED)}")
        missing = [k for k in _REQUIRED if k not in c]
        unknown = sorted(set(c) - set(_REQUIRED) - set(_OPTIONAL))
        if missing or unknown:
            raise ValueError(
                f"{where}: missing key(s) {missing}, unknown key(s) {unknown}; "
                f"allowed: {list(_REQUIRED) + list(_OPTIONAL)}"
            )
        if c["relation"] not in RELATIONS:
            raise ValueError(f"{where}: relation {c['relation']!r}; allowed: {list(RELATIONS)}")
        if c.get("over", "average") not in OVER:
            raise ValueError(f"{where}: over {c['over']!r}; allowed: {list(OVER)}")
        if "budgets" in c and not (
            isinstance(c["budgets"], list) and all(LABEL_RE.match(f"x@{k}") for k in c["budgets"])
        ):
            raise ValueError(f"{where}: budgets {c['budgets']!r}; allowed: a list of budget keys, e.g. [steps=512]")
        if c["id"] in seen:
            raise ValueError(f"{where}: duplicate id {c['id']!r}")
        seen.add(c["id"])
        if suite in c["suites"]:
            out.append(c)
    return out


def _per_seed(runs: pd.DataFrame, labels: Sequence[str], columns: Sequence[Column]) -> dict[int, float]:
    """seed -> the mean over `columns` of the (higher = better) score, taking per column the best of
    `labels`; only seeds with an ok run and a finite score in every column (of at least one label)."""
    ok = runs[(runs["status"] == "ok") & runs["row_label"].isin(labels)]
    ok = ok[np.isfinite(ok["value"].astype(float))]  # an unavailable (non-finite) score is no score
    per_col = []
    for col in columns:
        sel = ok[(ok["task"] == col.task) & (ok["metric"] == col.metric)]
        sign = orientation(col.metric)
        per_col.append((sign * sel["value"]).groupby(sel["seed"].astype(int)).max().to_dict())
    if not per_col:
        return {}
    seeds = set.intersection(*(set(d) for d in per_col))
    return {s: float(np.mean([d[s] for d in per_col])) for s in sorted(seeds)}


def _params(runs: pd.DataFrame, labels: Sequence[str]) -> float:
    sel = runs[(runs["status"] == "ok") & runs["row_label"].isin(labels)]
    return float(sel["params_inference"].mean()) if len(sel) else math.nan


def _unavailable_note(runs: pd.DataFrame, labels: Sequence[str], columns: Sequence[Column]) -> str:
    un = unavailable_scores(runs)
    cols = {(col.task, col.metric) for col in columns}
    in_cols = np.array([(t, m) in cols for t, m in zip(un["task"], un["metric"])], dtype=bool)
    un = un[un["row_label"].isin(labels).to_numpy() & in_cols]
    return unavailable_seeds_note(un, labels)


def _bound(relation: str, margin: float) -> float:
    """The claim's bound on the mean difference a - b: 0 for ">", -margin for ">=" (non-inferiority)."""
    return 0.0 if relation == ">" else -margin


def _verdict(relation: str, margin: float, effect: float, p_holm: float, alpha: float) -> str:
    """supported / contradicted when the Holm-adjusted p is below `alpha` (the effect's side of the bound
    decides which), else inconclusive (also without a test: NaN p)."""
    if not (np.isfinite(p_holm) and p_holm < alpha):
        return "inconclusive"
    return "supported" if effect > _bound(relation, margin) else "contradicted"


def _claim_fields(c: Mapping) -> tuple[dict, list[str]]:
    """The columns every statement of claim `c` shares, and the row labels of its side b (one, or several
    of which each seed and column takes the best)."""
    b_labels = [c["b"]] if isinstance(c["b"], str) else list(c["b"])
    b_name = c["b"] if isinstance(c["b"], str) else "best of " + ", ".join(b_labels)
    base = {
        "id": c["id"],
        "claim": c["claim"],
        "source": c["source"],
        "table": c["table"],
        "a": c["a"],
        "b": b_name,
        "relation": c["relation"],
        "margin": float(c.get("margin", 0.0)),
    }
    return base, b_labels


def _statements(c: Mapping, layout: Layout) -> list[tuple[str, list[Column]]]:
    """The statements of claim `c` in its table: (column name, the columns it averages) - one over the
    Avg (``over: average``) or one per column (``over: each``), within the claim's tasks."""
    cols = [col for col in layout.columns if not c.get("tasks") or col.task in c["tasks"]]
    if c.get("over", "average") == "average":
        return [("Avg" if len(cols) > 1 else cols[0].header, cols)]
    return [(col.header, [col]) for col in cols]


def _params_note(runs: pd.DataFrame, a: str, b_labels: Sequence[str]) -> str:
    """Why an ``equal_params`` claim is not testable (its rows' #Param differ by more than the tolerance),
    else empty."""
    pa, pb = _params(runs, [a]), _params(runs, b_labels)
    if np.isfinite(pa) and np.isfinite(pb) and abs(pa - pb) > PARAMS_TOLERANCE * max(pa, pb):
        return (
            f"#Param differ: {format_params(pa)} vs {format_params(pb)} "
            f"(> {PARAMS_TOLERANCE:.0%}): the claim's premise does not hold"
        )
    return ""


def _effect(a: dict[int, float], b: dict[int, float], level: float, alpha: float, power: float) -> tuple[dict, list]:
    """The paired effect of a statement: a - b over the seeds both have (its interval, MDE and the seeds a
    test would need), and the differences."""
    seeds = sorted(set(a) & set(b))
    diffs = [a[s] - b[s] for s in seeds]
    eff = stats.paired_effect(diffs, level=level)
    n = eff["n"]
    numbers = {
        "n_seeds": n,
        "seeds": " ".join(map(str, seeds)),
        "a_mean": float(np.mean([a[s] for s in seeds])) if n else math.nan,
        "b_mean": float(np.mean([b[s] for s in seeds])) if n else math.nan,
        "effect": eff["effect"],
        "ci_low": eff["ci_low"],
        "ci_high": eff["ci_high"],
        "sd_diff": eff["sd_diff"],
        "mde": stats.min_detectable_effect(eff["sd_diff"], n, alpha=alpha, power=power),
        "seeds_needed": stats.seeds_needed(eff["effect"], eff["sd_diff"], alpha=alpha, power=power),
        "p": math.nan,
    }
    return numbers, diffs


def _statement(
    runs: pd.DataFrame,
    claim: Mapping,
    b_labels: Sequence[str],
    group: Sequence[Column],
    params_note: str,
    level: float,
    alpha: float,
    power: float,
) -> tuple[dict, bool]:
    """One statement of a claim (`claim`: its fields, :func:`_claim_fields`) over the columns `group`: (its
    effect, test and notes; whether it is tested, i.e. waits for its verdict on the Holm-adjusted p of the
    family)."""
    a, b = _per_seed(runs, [claim["a"]], group), _per_seed(runs, b_labels, group)
    row, diffs = _effect(a, b, level, alpha, power)
    n, tested, notes = row["n_seeds"], False, []
    if not a or not b:
        row["verdict"] = "not run"
        notes.append(f"no complete seed of {claim['a'] if not a else claim['b']}")
    elif params_note:
        row["verdict"] = "not testable"
        notes.append(params_note)
    elif stats.no_variance(diffs):
        row.update(verdict=DEGENERATE, ci_low=math.nan, ci_high=math.nan, mde=math.nan, seeds_needed=math.nan)
        notes.append(
            f"all {n} paired seeds give the same difference ({row['effect']:.4g}): no seed variance, "
            "so no interval, test or MDE"
        )
    else:
        row["p"] = stats.t_test_p(diffs, _bound(claim["relation"], claim["margin"]))
        tested = True  # verdict on the Holm-adjusted p, once the family is complete
        if n < 2:
            notes.append(f"{n} paired seed(s): no interval")
    gone = _unavailable_note(runs, [claim["a"], *b_labels], group) if a and b else ""
    if gone:
        notes.append(gone)
    if any(col.metric in LOWER_IS_BETTER for col in group):
        notes.append("lower-is-better metric negated (higher = better)")
    row["note"] = "; ".join(notes)
    return row, tested


def _at_budgets(c: Mapping, budgets: Mapping[str, Mapping[str, str]]) -> list[tuple[dict, str]]:
    """(the claim as tested, its budget key) per budget of its table (`budgets`: {table: {budget key: the
    table at that budget}}): rows a and b at that budget, the claim's text naming it; [(c, "")] for a table
    without budgets."""
    at = budgets.get(c["table"])
    if not at:
        return [(dict(c), "")]
    out = []
    for key, table in at.items():
        if c.get("budgets") and key not in c["budgets"]:
            continue
        b = f"{c['b']}@{key}" if isinstance(c["b"], str) else [f"{lab}@{key}" for lab in c["b"]]
        claim = f"{c['claim']} at {from_key(key).words}"
        out.append(({**c, "claim": claim, "table": table, "a": f"{c['a']}@{key}", "b": b}, key))
    return out


def evaluate_claims(
    runs: pd.DataFrame,
    claims: Sequence[dict],
    layouts: Mapping[str, Layout],
    level: float = stats.DEFAULT_LEVEL,
    alpha: float = stats.DEFAULT_ALPHA,
    power: float = stats.DEFAULT_POWER,
    budgets: Mapping[str, Mapping[str, str]] | None = None,
) -> pd.DataFrame:
    """One row per tested statement (a claim with ``over: each`` gives one per column; a claim on a table
    with budgets, `budgets` = {table: {budget key: the table at that budget}}, one per budget too);
    `layouts` maps the suite's table names to their resolved layouts. The statements tested here are one
    family: their verdicts use the Holm-adjusted p (``p_holm``) at ``1 - level``."""
    out, pending = [], set()
    for c, key in ((inst, key) for claim in claims for inst, key in _at_budgets(claim, budgets or {})):
        base, b_labels = _claim_fields(c)
        base["budget"] = key
        layout = layouts.get(c["table"])
        if layout is None:
            note = f"this suite has no table {c['table']!r} (tables: {sorted(layouts)})"
            out.append({**base, "column": "", "n_seeds": 0, "verdict": "not testable", "note": note})
            continue
        params_note = _params_note(runs, c["a"], b_labels) if c.get("equal_params") else ""
        for name, group in _statements(c, layout):
            row, tested = _statement(runs, base, b_labels, group, params_note, level, alpha, power)
            if tested:
                pending.add(len(out))
            out.append({**base, "column": name, **row})
    return _holm_verdicts(pd.DataFrame(out).reindex(columns=COLUMNS), pending, level)


def _holm_verdicts(res: pd.DataFrame, pending: set[int], level: float) -> pd.DataFrame:
    """The family: Holm over every statement with a p, and the verdicts of the tested ones (`pending`) on
    the adjusted p."""
    res["p_holm"] = stats.holm(res["p"].to_numpy(dtype=float))  # NaN p: not tested, not in the family
    res["verdict"] = [
        _verdict(r.relation, r.margin, r.effect, r.p_holm, 1.0 - level) if i in pending else r.verdict
        for i, r in enumerate(res.itertuples())
    ]
    return res


def claims_markdown(claims: pd.DataFrame, suite: str) -> str:
    """The claims table as Markdown with its caption."""
    if claims.empty:
        return (
            f"No claims of workflow/resources/claims.yaml name the suite {suite!r}: add entries with "
            f"`suites: [{suite}]` to test some.\n"
        )

    def f(x, d=2):
        return DASH if x is None or not np.isfinite(x) else f"{x:.{d}f}"

    def need(x):
        return DASH if not np.isfinite(x) else (">10,000" if math.isinf(x) else f"{int(x)}")

    def p(x):
        return DASH if x is None or not np.isfinite(x) else (f"{x:.3g}" if x >= 1e-3 else f"{x:.1e}")

    family = int(np.isfinite(claims["p"].astype(float)).sum())
    by_budget = claims["budget"].fillna("").astype(bool).any()
    disp = pd.DataFrame(
        {
            "Claim": claims["claim"],
            **({"Budget": claims["budget"].fillna("")} if by_budget else {}),
            "Column": claims["column"],
            "a vs b": claims["a"] + " vs " + claims["b"],
            "seeds": claims["n_seeds"].fillna(0).astype(int),
            "effect a - b [95% CI]": [
                f"{f(e)} [{f(lo)}, {f(hi)}]" if np.isfinite(lo) else f(e)
                for e, lo, hi in zip(claims["effect"], claims["ci_low"], claims["ci_high"])
            ],
            "MDE": [f(x) for x in claims["mde"]],
            "seeds needed": [need(x) for x in claims["seeds_needed"]],
            "p": [p(x) for x in claims["p"]],
            "p (Holm)": [p(x) for x in claims["p_holm"]],
            "verdict": claims["verdict"],
            "source": claims["source"],
            "note": claims["note"].fillna(""),
        }
    )
    return table_markdown(
        disp,
        (
            f"Claims tested by the {suite} suite (workflow/resources/claims.yaml). Effect: mean over paired seeds of "
            "a - b in the column's units (Avg: the mean over the table's columns), higher = better, with its 95% t "
            "interval (unadjusted). p: two-sided paired t-test of the differences against the claim's bound (0 for "
            f"'>', -margin for '>='); p (Holm): Holm-adjusted over the {family} statement(s) of this table with a test "
            "(one family). Verdict at these seeds, on the Holm-adjusted p: supported / contradicted when it is below "
            "0.05 and the effect lies above / below the bound, else inconclusive; degenerate: no seed variance when "
            "every paired seed gives the same difference (no interval, test or MDE). MDE: the smallest true effect a "
            "paired t-test with this many seeds detects with power 0.8 at alpha 0.05 (per claim, not adjusted); seeds "
            "needed: pairs needed to detect the observed effect."
            + (
                " Budget: each claim is tested at every training budget of the suite, on that budget's runs "
                "(each with its own LR schedule); every statement of every budget is in the one Holm family."
                if by_budget
                else ""
            )
        ),
    )
