"""Every fine-tuning method of the benchmark behind one interface.

    from baselines import prepare_model, get_method, list_methods
    prepared = prepare_model("houlsby", hf_model, "seq_cls", {"preset": "table1_0.8M"})
    prepared.model                       # train this (forward(**batch) like the HF model)
    loss, out = prepared.training_loss(batch, task_loss_fn)   # task_loss_fn(logits, batch) -> loss
    prepared.eval_model(); prepared.param_counts(); prepared.describe()

Methods: full_ft, bitfit, houlsby, pfeiffer, prefix_tuning, unipelt (AdapterHub), lora, ia3, dora, vera,
loha (peft), adamix_adapter, adamix_lora, adamix_peft (the `adamix` library). A new method needs no change
here: name it as "package.module:callable" in the run config (see `registry.get_method`).
"""

# Built-in methods register themselves on import. None of these imports peft / adapters / adamix at
# module level, so `import baselines` stays cheap and works without the optional libraries.
from baselines import adamix_methods, bitfit, full_ft, houlsby, ia3, lora, peft_tuners, pfeiffer, prefix_tuning, unipelt  # noqa: E402,F401
from baselines.prepared import TASK_TYPES, PreparedModel
from baselines.registry import MethodSpec, get_method, list_methods, prepare_model, register_method

__all__ = [
    "TASK_TYPES",
    "MethodSpec",
    "PreparedModel",
    "get_method",
    "list_methods",
    "prepare_model",
    "register_method",
]
