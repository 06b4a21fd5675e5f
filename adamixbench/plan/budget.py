"""Training budget as an axis of a suite: `budgets: [{steps: 128}, {steps: 512}, {updates_per_expert: 256}]`.

Pure Python (no torch): the suite's expansion (adamixbench/plan/suite.py) gives one run per (row, task, seed,
budget), and the analysis groups runs by budget. A budget is ONE unit and a value (the units:
`spec.BUDGET_UNITS`):

* ``steps``: optimiser steps. The run's LR schedule (warm-up, linear decay) spans exactly that many steps,
  passing over the training set as often as that takes (`epochs: null`, `max_steps: <steps>`).
* ``epochs``: passes over the training set (`epochs: <value>`, `max_steps: null`); the engine resolves the
  steps (the record's `schedule.total_steps`).
* ``updates_per_expert``: optimiser steps per expert. With stochastic routing, each of the M experts of a
  mixture is drawn for about 1/M of the optimiser steps, so an expert of a tuner that shares nothing across
  experts (IA3, LoHa, VeRA, LoKr) receives ~1/M of the updates its plain method gets in the same steps.
  U updates per expert = M x U optimiser steps for a mixture of M experts, U steps for a plain method (M =
  1); the fragments a mixture shares (e.g. LoRA's B) get every update, so for them this basis gives the
  mixture M x the updates.

Every budget's runs are separate runs, each with the full LR schedule of its own length: a learning curve
here is one run per budget, NOT evaluations saved along one long run (whose LR has not decayed at the
intermediate points: another protocol, not implemented).

Identity: a budgeted run's label is ``<label>@<unit>=<value>`` (e.g. ``lora@steps=512``; suite labels
cannot hold ``@``), so it is an ordinary run of the pipeline (key (task, label, seed), folder
``runs/<task>/<label>@<unit>=<value>/seed<k>``); its spec also carries ``base_label``, ``budget_unit``,
``budget`` and ``budget_steps``. A suite without budgets keeps its labels, paths and specs unchanged.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from adamixbench.plan.spec import BUDGET_UNITS

#: unit -> (singular, plural) in words, for captions
UNIT_WORDS = {
    "steps": ("optimiser step", "optimiser steps"),
    "epochs": ("epoch", "epochs"),
    "updates_per_expert": ("update per expert", "updates per expert"),
}
#: unit -> the fairness basis a comparison at equal budgets in that unit rests on (every caption states it)
FAIRNESS = {
    "steps": "equal optimiser steps",
    "epochs": "equal epochs (equal optimiser steps at equal data and batch size)",
    "updates_per_expert": "equal updates per expert (a mixture of M experts trains M x the optimiser steps "
    "of a plain method)",
}
WALL_TIME_FAIRNESS = "measured wall time (the records' training time per run, on the machine that ran it)"
LABEL_RE = re.compile(rf"^(?P<base>[^@]+)@(?P<unit>{'|'.join(BUDGET_UNITS)})=(?P<value>[0-9]+(\.[0-9]+)?)$")
#: the training options a budget sets (an experiment with budgets may not set them itself)
BUDGET_OPTIONS = ("epochs", "max_steps")


class BudgetError(ValueError):
    """A budget that cannot be resolved (the message names the row and the fix)."""


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


@dataclass(frozen=True, order=True)
class Budget:
    """One training budget: `value` in `unit` (one of spec.BUDGET_UNITS)."""

    unit: str
    value: float

    def __post_init__(self):
        if self.unit not in BUDGET_UNITS:
            raise BudgetError(f"budget unit {self.unit!r}; allowed: {list(BUDGET_UNITS)}")
        if not (isinstance(self.value, (int, float)) and math.isfinite(self.value) and self.value > 0):
            raise BudgetError(f"budget {self.unit}: {self.value!r}; allowed: a number > 0")
        if self.unit != "epochs" and not float(self.value).is_integer():
            raise BudgetError(f"budget {self.unit}: {self.value!r}; allowed: a whole number of {self.unit}")

    @property
    def key(self) -> str:
        """``steps=512``: the suffix of its runs' labels (after ``@``) and its column in the tables."""
        return f"{self.unit}={_number(self.value)}"

    @property
    def slug(self) -> str:
        """``steps512``: the suffix of its tables' names (letters, digits, ``_``)."""
        return f"{self.unit}{_number(self.value).replace('.', 'p')}"

    @property
    def words(self) -> str:
        """``512 optimiser steps``."""
        one, many = UNIT_WORDS[self.unit]
        return f"{_number(self.value)} {one if self.value == 1 else many}"

    @property
    def fairness(self) -> str:
        return FAIRNESS[self.unit]

    def label(self, base: str) -> str:
        """The label of `base`'s runs at this budget: ``lora@steps=512``."""
        return f"{base}@{self.key}"

    def steps(self, experts: int) -> int | None:
        """Optimiser steps of a run with `experts` experts (1: a plain method); None for epochs (the engine
        resolves them from the training set)."""
        if self.unit == "epochs":
            return None
        return int(self.value) * (experts if self.unit == "updates_per_expert" else 1)

    def train(self, experts: int) -> dict:
        """The training options this budget sets: epochs and max_steps."""
        if self.unit == "epochs":
            return {"epochs": float(self.value), "max_steps": None}
        return {"epochs": None, "max_steps": self.steps(experts)}

    def identity(self, base: str, experts: int) -> dict:
        """The run-spec options that carry the budget (spec.py: base_label, budget_unit, budget, budget_steps)."""
        return {
            "base_label": base,
            "budget_unit": self.unit,
            "budget": float(self.value),
            "budget_steps": self.steps(experts),
        }


def parse(entries: Iterable[Mapping]) -> list[Budget]:
    """A suite's `budgets` list ([{steps: 128}, ...]; schema-valid) -> Budgets, in the order given; a budget
    listed twice is a BudgetError."""
    out = []
    for entry in entries:
        if len(entry) != 1:
            raise BudgetError(f"a budget is one unit and its value, e.g. {{steps: 512}}; got {dict(entry)!r}")
        ((unit, value),) = entry.items()
        budget = Budget(unit, float(value) if isinstance(value, (int, float)) else value)
        if budget in out:
            raise BudgetError(f"budget {budget.key} is listed twice")
        out.append(budget)
    return out


def experiment_budgets(suite: Mapping, experiment: Mapping) -> list[Budget]:
    """The budgets of an experiment: its own `budgets`, else the suite's; [] = none (runs as without)."""
    return parse(experiment.get("budgets", suite.get("budgets", [])))


def experts_of(label: str, mixture: bool, params: Mapping, budget: Budget) -> int:
    """M, the experts of a row for `budget` (1 for a plain method). Only updates_per_expert needs it, and
    then a mixture must state its `num_experts` in its params (its method's default depends on the task
    family and presets, which a torch-free plan does not resolve)."""
    if not mixture or budget.unit != "updates_per_expert":
        return 1
    experts = params.get("num_experts")
    if not isinstance(experts, int) or isinstance(experts, bool) or experts < 1:
        raise BudgetError(
            f"row {label!r}: budget {budget.key} counts optimiser steps per expert, so the mixture must state its "
            f"experts: set params.num_experts (e.g. num_experts: 4) in its method definition"
        )
    return experts


def split_label(label: str) -> tuple[str, str | None]:
    """A run label -> (its method label, its budget key or None): ``lora@steps=512`` -> (``lora``,
    ``steps=512``); inference rows keep their suffix on the method label (``lora@steps=512 @fixed:0`` ->
    (``lora @fixed:0``, ``steps=512``))."""
    main, sep, mode = str(label).partition(" @")
    m = LABEL_RE.match(main)
    if not m:
        return str(label), None
    return m["base"] + sep + mode, f"{m['unit']}={m['value']}"


def from_key(key: str) -> Budget:
    """``steps=512`` -> Budget("steps", 512.0)."""
    unit, _, value = key.partition("=")
    return Budget(unit, float(value))


def ordered(budgets: Iterable[Budget]) -> list[Budget]:
    """Distinct budgets by unit (spec.BUDGET_UNITS order), then value."""
    return sorted(set(budgets), key=lambda b: (BUDGET_UNITS.index(b.unit), b.value))
