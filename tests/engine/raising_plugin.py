"""A plug-in method module that is broken: importing it raises (tests/engine/test_bad_inputs.py)."""

raise RuntimeError("this plug-in is broken on purpose")
