"""A fine-tuning method defined OUTSIDE the baselines package: trains only the last encoder layer's
FFN output projection (+ the head). Used through get_method("tests.baselines.external_method:prepare")."""

from baselines import PreparedModel
from baselines.prepared import find_head_modules

default_params = {"layers": 1}  # declares the accepted params (unknown keys are then rejected)


def prepare(model, task_type, params):
    """Last-layers FFN fine-tuning (test-only external method)."""
    head = find_head_modules(model, task_type)
    layers = model.base_model.encoder.layer[-params["layers"] :]
    keep = {id(p) for layer in layers for p in layer.output.dense.parameters()}
    for name, p in model.named_parameters():
        p.requires_grad_(id(p) in keep or name.split(".")[0] in head)
    return PreparedModel("external", model, task_type, params)


prepare.default_params = default_params


def prepare_module(model, task_type, params):
    """Returns the bare module: the registry wraps it in a default PreparedModel."""
    for name, p in model.named_parameters():
        p.requires_grad_(name.startswith("classifier."))
    return model
