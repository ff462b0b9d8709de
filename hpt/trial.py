"""The words every layer shares: job and trial states, the trial record, and which trial is best.

One definition each. The store keeps rows of these; strategies, the runner, the report and the
progress display read them. Nothing here touches the disk.

Trial states::

    pending -> running -> completed | failed | stopped      (finished: never written again)
               running -> interrupted -> running             (hpt stopped or died; runs on resume)
               running -> pending -> running                 (a failed attempt that is retried)

Job statuses are AMT's ``HyperParameterTuningJobStatus``: InProgress, Completed, Failed, Stopped.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

PENDING, RUNNING, COMPLETED, FAILED, STOPPED, INTERRUPTED = (
    "pending",
    "running",
    "completed",
    "failed",
    "stopped",
    "interrupted",
)
#: Every trial state, in the order a summary lists them.
TRIAL_STATES = (PENDING, RUNNING, COMPLETED, FAILED, STOPPED, INTERRUPTED)
#: States a trial never leaves.
FINISHED = frozenset({COMPLETED, FAILED, STOPPED})
#: States whose objective counts (a trial stopped early keeps the last value it showed).
WITH_OBJECTIVE = frozenset({COMPLETED, STOPPED})

IN_PROGRESS, JOB_COMPLETED, JOB_FAILED, JOB_STOPPED = "InProgress", "Completed", "Failed", "Stopped"
JOB_STATUSES = (IN_PROGRESS, JOB_COMPLETED, JOB_FAILED, JOB_STOPPED)


def is_finished(state: str) -> bool:
    """A finished trial (completed, failed or stopped) is never written again."""
    return state in FINISHED


@dataclass
class Trial:
    """One trial as stored: its hyperparameters, state and (when it has one) objective.

    ``info`` is the strategy's bookkeeping (grid index, hyperband bracket, ...), kept on the row
    so a job can be rebuilt from the store alone. ``objective`` is the value that counts for the
    search: see :func:`has_objective`.
    """

    id: int
    state: str
    params: dict[str, Any]
    info: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0
    objective: float | None = None
    objective_step: int | None = None
    reason: str | None = None
    created: float = 0.0
    started: float | None = None
    ended: float | None = None

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    @property
    def has_objective(self) -> bool:
        return has_objective(self)


def has_objective(trial: Trial) -> bool:
    """Does the trial's objective count? Completed, or stopped early, with a finite value.

    A failed trial may carry the value it printed last (shown to users), but it never counts.
    """
    return trial.state in WITH_OBJECTIVE and trial.objective is not None and math.isfinite(trial.objective)


def better(a: float, b: float | None, maximize: bool) -> bool:
    """Is ``a`` strictly better than ``b``? Anything beats None."""
    if b is None:
        return True
    return a > b if maximize else a < b


def best_trial(trials: Iterable[Trial], maximize: bool) -> Trial | None:
    """The trial with the best counting objective; the earliest one on ties; None if none counts."""
    best = None
    for t in trials:
        if has_objective(t) and (best is None or better(t.objective, best.objective, maximize)):
            best = t
    return best


def rank_key(trial: Trial, maximize: bool) -> tuple:
    """Ascending sort key: trials with a counting objective first, best first; then by id."""
    if not has_objective(trial):
        return (1, 0.0, trial.id)
    return (0, -trial.objective if maximize else trial.objective, trial.id)


def state_counts(trials: Iterable[Trial]) -> dict[str, int]:
    """How many trials are in each state (every state present, zeros included)."""
    out = dict.fromkeys(TRIAL_STATES, 0)
    for t in trials:
        out[t.state] = out.get(t.state, 0) + 1
    return out


__all__ = [
    "PENDING",
    "RUNNING",
    "COMPLETED",
    "FAILED",
    "STOPPED",
    "INTERRUPTED",
    "TRIAL_STATES",
    "FINISHED",
    "WITH_OBJECTIVE",
    "IN_PROGRESS",
    "JOB_COMPLETED",
    "JOB_FAILED",
    "JOB_STOPPED",
    "JOB_STATUSES",
    "Trial",
    "is_finished",
    "has_objective",
    "better",
    "best_trial",
    "rank_key",
    "state_counts",
]
