"""A plug-in method whose prepare() raises (tests/engine/test_bad_inputs.py)."""


def prepare(model, task_type, params):
    raise RuntimeError("prepare() is broken on purpose")
