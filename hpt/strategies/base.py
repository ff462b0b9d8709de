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


@dataclass(frozen=True)
class Observation:
    """A result from outside the job: a parent's trial under ``warm_start``, its
    hyperparameters already mapped into this job's space (see :mod:`hpt.warmstart`).

    ``points`` are its objective points ``(step, value)``; ``exact`` says it is a configuration
    this job could have run itself, under the same conditions (``identical_data_and_algorithm``
    with the same static values): it then counts as tried, and is not run again. ``source``
    names it (``job-a#12``).
    """

    params: dict[str, Any]
    objective: float
    points: tuple[tuple[int, float], ...] = ()
    exact: bool = False
    source: str = ""


@dataclass
class Context:
    """What a strategy may read: the spec, the job's seed, every trial so far (in id order,
    running ones included), each trial's objective points ``[(step, value), ...]`` from its
    latest attempt, and ``prior``: the parents' observations under ``warm_start``, apart from
    the trials (ids, ``max_jobs`` and a grid's index count the job's own trials only)."""

    spec: Spec
    seed: int
    trials: Sequence[Trial]
    history: Mapping[int, list[tuple[int, float]]]
    prior: Sequence[Observation] = ()

    @property
    def space(self):
        return self.spec.space

    @property
    def next_trial_id(self) -> int:
        return len(self.trials) + 1

    def tried_before(self) -> set[tuple]:
        """:meth:`~hpt.space.Space.key` of every exact prior observation: configurations the
        parents ran under this job's conditions, which are not run again."""
        return {self.space.key(o.params) for o in self.prior if o.exact}

    def taken(self) -> set[tuple]:
        """:meth:`~hpt.space.Space.key` of every configuration this job has tried, and of those
        :meth:`tried_before` it: what random draws do not repeat."""
        return {self.space.key(t.params) for t in self.trials} | self.tried_before()

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
