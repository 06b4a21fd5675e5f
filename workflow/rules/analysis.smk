# Aggregation: every run record -> tidy CSVs -> tables (Markdown, LaTeX, CSV, HTML), aggregate comparisons,
# claim verdicts and plots.


wildcard_constraints:
    table=wildcard_choice(TABLES),


rule aggregate:
    input:
        records=all_run_records,
        scores=score_files,
    output:
        runs=report(
            f"{OUT}/runs.csv",
            caption="../report/runs.rst",
            category="Data",
            labels={"file": "runs.csv"},
        ),
        history=f"{OUT}/history.csv",
        summary=report(
            f"{OUT}/summary.csv",
            caption="../report/summary.rst",
            category="Data",
            labels={"file": "summary.csv"},
        ),
        failed_md=f"{OUT}/tables/failed_runs.md",
        failed_csv=report(
            f"{OUT}/tables/failed_runs.csv",
            caption="../report/failed.rst",
            category="Data",
            labels={"file": "failed_runs.csv"},
        ),
    log:
        f"{LOGS_DIR}/aggregate.log",
    params:
        suite=SUITE_NAME,
        identities=run_identities,
        bootstrap=SUITE["analysis"].get("bootstrap", {}),
    conda:
        "../envs/adamix.yaml"
    script:
        "../scripts/aggregate.py"


rule table:
    input:
        runs=f"{OUT}/runs.csv",
        summary=f"{OUT}/summary.csv",
        paper=PAPER_RESULTS,
    output:
        md=f"{OUT}/tables/{{table}}.md",
        tex=f"{OUT}/tables/{{table}}.tex",
        csv=f"{OUT}/tables/{{table}}.csv",
        html=report(
            f"{OUT}/tables/{{table}}.html",
            caption="../report/table.rst",
            category="Tables",
            labels={"table": "{table}"},
        ),
        paired_md=f"{OUT}/tables/{{table}}_paired.md",
        paired_csv=report(
            f"{OUT}/tables/{{table}}_paired.csv",
            caption="../report/paired.rst",
            category="Paired tests",
            labels={"table": "{table}"},
        ),
    log:
        f"{LOGS_DIR}/table_{{table}}.log",
    params:
        spec=table_spec,
    conda:
        "../envs/adamix.yaml"
    script:
        "../scripts/table.py"


rule pairs:
    input:
        runs=f"{OUT}/runs.csv",
    output:
        md=f"{OUT}/tables/{{table}}_vs_adamix.md",
        csv=f"{OUT}/tables/{{table}}_vs_adamix.csv",
        tex=f"{OUT}/tables/{{table}}_vs_adamix.tex",
        html=report(
            f"{OUT}/tables/{{table}}_vs_adamix.html",
            caption="../report/pairs.rst",
            category="Tables",
            labels={"table": "{table} (X vs AdaMix(X))"},
        ),
    log:
        f"{LOGS_DIR}/pairs_{{table}}.log",
    params:
        spec=table_spec,
    wildcard_constraints:
        table=wildcard_choice([name for name, spec in TABLES.items() if spec.get("pairs")]),
    conda:
        "../envs/adamix.yaml"
    script:
        "../scripts/pairs.py"


rule compare:
    input:
        runs=f"{OUT}/runs.csv",
    output:
        md=f"{OUT}/tables/{{table}}_aggregate.md",
        csv=report(
            f"{OUT}/tables/{{table}}_aggregate.csv",
            caption="../report/aggregate.rst",
            category="Aggregate comparison",
            labels={"table": "{table}"},
        ),
    log:
        f"{LOGS_DIR}/compare_{{table}}.log",
    params:
        spec=table_spec,
    conda:
        "../envs/adamix.yaml"
    script:
        "../scripts/compare.py"


rule claims:
    input:
        runs=f"{OUT}/runs.csv",
        claims=CLAIMS_FILE,
    output:
        md=f"{OUT}/tables/claims.md",
        csv=report(
            f"{OUT}/tables/claims.csv",
            caption="../report/claims.rst",
            category="Claims",
            labels={"file": "claims.csv"},
        ),
    log:
        f"{LOGS_DIR}/claims.log",
    params:
        suite=SUITE_NAME,
        claims_of=SUITE.get("smoke_of", SUITE_NAME),  # a smoke run tests its suite's claims
        tables=all_table_specs,
        budgets=claim_budgets,
    conda:
        "../envs/adamix.yaml"
    script:
        "../scripts/claims.py"


rule budget:
    input:
        runs=f"{OUT}/runs.csv",
    output:
        md=f"{OUT}/tables/{{group}}_budget.md",
        csv=f"{OUT}/tables/{{group}}_budget.csv",
        html=report(
            f"{OUT}/tables/{{group}}_budget.html",
            caption="../report/budget.rst",
            category="Budget",
            labels={"table": "{group}", "view": "score per budget"},
        ),
        reach=f"{OUT}/tables/{{group}}_budget_reach.csv",
        curve=report(
            f"{OUT}/plots/{{group}}/budget_curve.png",
            caption="../report/budget_plot.rst",
            category="Budget",
            labels={"table": "{group}", "view": "score vs budget"},
        ),
        curve_svg=f"{OUT}/plots/{{group}}/budget_curve.svg",
        wall=report(
            f"{OUT}/plots/{{group}}/wall_time.png",
            caption="../report/wall_time.rst",
            category="Budget",
            labels={"table": "{group}", "view": "score vs wall time"},
        ),
        wall_svg=f"{OUT}/plots/{{group}}/wall_time.svg",
    log:
        f"{LOGS_DIR}/budget_{{group}}.log",
    params:
        spec=budget_spec,
    wildcard_constraints:
        group=wildcard_choice(BUDGETS) if BUDGETS else "$^",
    conda:
        "../envs/adamix.yaml"
    script:
        "../scripts/budget.py"


rule plot:
    input:
        runs=f"{OUT}/runs.csv",
        summary=f"{OUT}/summary.csv",
        history=f"{OUT}/history.csv",
        paper=PAPER_RESULTS,
        aggregate=f"{OUT}/tables/{{table}}_aggregate.csv",
    output:
        png=report(
            f"{OUT}/plots/{{table}}/{{kind}}.png",
            caption="../report/plot.rst",
            category="Figures",
            subcategory="{table}",
            labels={"table": "{table}", "figure": "{kind}"},
        ),
        svg=f"{OUT}/plots/{{table}}/{{kind}}.svg",
    log:
        f"{LOGS_DIR}/plot_{{table}}_{{kind}}.log",
    params:
        spec=table_spec,
    wildcard_constraints:
        kind="|".join(PLOT_KINDS + ["routing_violin", "paired_gains"]),
    conda:
        "../envs/adamix.yaml"
    script:
        "../scripts/plot.py"
