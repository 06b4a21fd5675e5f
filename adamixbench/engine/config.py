"""RunConfig: one training run, resolved from a run spec and/or the command line; invalid values fail
before any work. Its attributes are the options of adamixbench/plan/spec.py (the only place they are defined)."""

from __future__ import annotations

from adamixbench.plan.spec import OPTIONS, SpecError, check_values, spec_of
from adamixbench.tasks import family_of

__all__ = ["RunConfig", "SpecError"]


class RunConfig:
    """One run: an attribute per option of `spec.OPTIONS`, checked (type, range, choices, family) on
    construction (spec.check_values: `selection` None resolves to the family's protocol, `label` None to
    the method name)."""

    def __init__(self, **values):
        self.__dict__.update(check_values(values))

    def __repr__(self) -> str:
        return f"RunConfig({', '.join(f'{k}={v!r}' for k, v in self.to_dict().items())})"

    def __eq__(self, other) -> bool:
        return isinstance(other, RunConfig) and self.to_dict() == other.to_dict()

    @property
    def family(self) -> str:
        return family_of(self.task, self.fewshot_k)

    @property
    def learning_rate(self) -> float:
        """--lr, else the method's registered default (`MethodSpec.default_lr`, baselines/)."""
        if self.lr is not None:
            return self.lr
        from baselines import get_method

        return get_method(self.method).default_lr

    def to_dict(self) -> dict:
        """Every option (engine options included)."""
        return {o.name: self.__dict__[o.name] for o in OPTIONS}

    def spec(self) -> dict:
        """The run spec as recorded and as `--spec` reads it back: the options of this run's family."""
        return spec_of(self.to_dict())
