# Recipe card of the suite (docs/recipes/<suite>.md): hyper-parameters of every row, their sources, the
# number of runs. Not part of `all`; built on request (`make recipes`):
#   snakemake --config suite=glue_bert_base -f docs/recipes/glue_bert_base.md


rule recipe_card:
    output:
        card=f"docs/recipes/{SUITE_NAME}.md",
    log:
        f"{LOGS_DIR}/recipe_card.log",
    params:
        text=recipe_card_text,
    conda:
        "../envs/adamix.yaml"
    script:
        "../scripts/recipe_card.py"
