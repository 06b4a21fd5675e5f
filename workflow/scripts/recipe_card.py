"""Rule `recipe_card`: write the suite's recipe card (text built in workflow/rules/recipes.smk)."""

from pathlib import Path

sm = snakemake  # noqa: F821
Path(sm.output.card).write_text(sm.params.text)
Path(sm.log[0]).write_text(f"{len(sm.params.text.splitlines())} lines -> {sm.output.card}\n")
