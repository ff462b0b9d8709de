"""What to try (samplers) and when to stop a running trial (stoppers), kept separate.

A sampler is asked for one configuration at a time and derives everything it needs from the
:class:`Context` (the job's trials as stored, and the objective points each one printed), so
that a job rebuilt from the store continues exactly where it was. A stopper is told of every
objective point of a running trial and answers with a reason to stop it, or None.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..spec import Spec
from ..trial import COMPLETED, Trial


@dataclass(frozen=True)
class Suggestion:
    """A configuration to run, with the strategy's bookkeeping to store on the trial row."""

    params: dict[str, Any]
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class Context:
    """What a strategy may read: the spec, the job's seed, every trial so far (in id order,
    running ones included), and each trial's objective points ``[(step, value), ...]`` from its
    latest attempt."""

    spec: Spec
    seed: int
    trials: Sequence[Trial]
    history: Mapping[int, list[tuple[int, float]]]

    @property
    def space(self):
        return self.spec.space

    @property
    def next_trial_id(self) -> int:
        return len(self.trials) + 1

    def completed(self) -> list[Trial]:
        return [
            t
            for t in self.trials
            if t.state == COMPLETED and t.objective is not None and math.isfinite(t.objective)
        ]


class Sampler(Protocol):
    def ask(self, ctx: Context) -> Suggestion | None:
        """The next configuration, or None when the search space is exhausted."""
        ...


class Stopper(Protocol):
    def on_report(self, ctx: Context, trial: Trial, step: int, value: float) -> str | None:
        """Called after each objective point of a running trial: a reason to stop it, or None."""
        ...


class NeverStop:
    """The stopper of ``early_stopping: off``."""

    def on_report(self, ctx: Context, trial: Trial, step: int, value: float) -> str | None:
        return None
