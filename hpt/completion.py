"""When a job is done: limits and completion criteria, as one callable the runner asks.

:class:`Criteria` answers "should the job end now, and how?" from the trials and the time spent:

* ``max_runtime`` reached: the job completes; running trials are interrupted (they run again if
  the job is resumed with a higher limit);
* a completion criterion met (``completion.target``, ``max_jobs_not_improving``,
  ``convergence``) or too many failures: running trials are stopped;
* nothing left to run (``max_jobs`` trials ran, or the search space is exhausted): the job
  completes, or fails when no trial produced an objective.

Criteria that depend on finished trials are evaluated when a trial has finished since the
first call: a resumed job is judged again once one of its new trials has finished, not at once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from .outcome import COMPLETION, RUNTIME
from .trial import COMPLETED, FAILED, JOB_COMPLETED, JOB_FAILED, Trial, better, has_objective

#: Improvement that counts for ``max_jobs_not_improving`` and convergence (AMT: 1%).
IMPROVEMENT = 0.01
#: AMT fails a job after this many failed trials when none has completed.
AMT_FAILED_WITHOUT_SUCCESS = 5


@dataclass(frozen=True)
class Ending:
    """How a job ends: its status, the reason shown to users, and why its running trials are
    stopped (``runtime``: interrupted, they run again on resume; ``completion``: stopped)."""

    status: str
    reason: str
    stop: str = COMPLETION


def format_seconds(s: float) -> str:
    """``7200`` -> ``2h``, ``600`` -> ``10m``, ``4.5`` -> ``4.5s``."""
    if s >= 3600 and s % 3600 == 0:
        return f"{int(s // 3600)}h"
    if s >= 60 and s % 60 == 0:
        return f"{int(s // 60)}m"
    return f"{s:g}s"


def significant(new: float, old: float | None, maximize: bool) -> bool:
    """Is ``new`` better than ``old`` by at least 1% (of ``|old|``)?"""
    if old is None:
        return True
    gain = (new - old) if maximize else (old - new)
    return gain > 0 and gain >= IMPROVEMENT * abs(old)


def convergence_window(max_jobs: int) -> int:
    return max(10, math.ceil(0.2 * max_jobs))


def converged(values: list[float], maximize: bool, max_jobs: int) -> bool:
    """The convergence rule (``completion.convergence``).

    With W = max(10, 20% of max_jobs) and at least 2W finished trials with an objective: the
    search has converged when the best objective of the last W trials' running best improved on
    the best before them by at most 1% of the spread of all objectives seen (best minus median).
    """
    w = convergence_window(max_jobs)
    if len(values) < 2 * w:
        return False
    pick = max if maximize else min
    before, now = pick(values[:-w]), pick(values)
    spread = abs(pick(values) - sorted(values)[len(values) // 2])
    gain = abs(now - before)
    return spread == 0 or gain <= IMPROVEMENT * spread


def not_improving_for(finished: Sequence[Trial], maximize: bool) -> int | None:
    """How many finished trials in a row (most recent last) did not improve the best objective
    by at least 1%; None while no trial has an objective."""
    best, since = None, 0
    for t in finished:
        v = t.objective if has_objective(t) else None
        if v is not None and significant(v, best, maximize):
            since = 0
        else:
            since += 1
        if v is not None and better(v, best, maximize):
            best = v
    return None if best is None else since


class Criteria:
    """The job's limits and completion criteria. Call it with the job's trials (id order)."""

    def __init__(self, spec):
        self.spec = spec
        self._finished_seen: int | None = None
        self._verdict: Ending | None = None

    def __call__(
        self,
        trials: Sequence[Trial],
        *,
        elapsed: float,
        idle: bool = False,
        exhausted: bool = False,
        finished: int | None = None,
    ) -> Ending | None:
        """The ending due now, or None. ``idle``: nothing runs and nothing more can be started;
        ``exhausted``: the strategy has no configuration left; ``finished``: how many trials
        are finished, when the caller keeps count (counted here otherwise)."""
        limit = self.spec.limits.max_runtime
        if limit and elapsed >= limit:
            return Ending(JOB_COMPLETED, f"max_runtime ({format_seconds(limit)}) reached", RUNTIME)
        if finished is None:
            finished = sum(1 for t in trials if t.finished)
        if self._finished_seen is None:
            self._finished_seen = finished
        elif finished != self._finished_seen:
            self._finished_seen = finished
            self._verdict = self._after_finish(trials)
        if self._verdict is not None:
            return self._verdict
        if idle:
            return self._natural_end(trials, exhausted)
        return None

    def _after_finish(self, trials: Sequence[Trial]) -> Ending | None:
        spec = self.spec
        obj, c = spec.objective, spec.completion
        finished = [t for t in trials if t.finished]
        if c.target is not None or c.max_jobs_not_improving or c.convergence:  # these read the order
            finished.sort(key=lambda t: (t.ended or 0, t.id))
        if c.target is not None:
            for t in finished:
                if has_objective(t) and (
                    t.objective >= c.target if obj.maximize else t.objective <= c.target
                ):
                    return Ending(
                        JOB_COMPLETED,
                        f"target objective {c.target:g} reached by trial {t.id} ({obj.metric}={t.objective:g})",
                    )
        if c.max_jobs_not_improving:
            since = not_improving_for(finished, obj.maximize)
            if since is not None and since >= c.max_jobs_not_improving:
                return Ending(
                    JOB_COMPLETED,
                    f"the best objective did not improve by 1% in the last {since} trials (max_jobs_not_improving)",
                )
        if c.convergence and converged(
            [t.objective for t in finished if has_objective(t)], obj.maximize, spec.limits.max_jobs
        ):
            return Ending(JOB_COMPLETED, "the search converged (completion.convergence)")
        failed = sum(1 for t in finished if t.state == FAILED)
        completed = sum(1 for t in finished if t.state == COMPLETED)
        limit = spec.limits.max_failed_jobs
        if limit is not None and failed >= limit:
            return Ending(JOB_FAILED, f"{failed} trials failed (max_failed_jobs {limit})")
        if limit is None and completed == 0 and failed >= AMT_FAILED_WITHOUT_SUCCESS:
            return Ending(JOB_FAILED, f"{failed} trials failed and none completed; check the trial logs")
        return None

    def _natural_end(self, trials: Sequence[Trial], exhausted: bool) -> Ending:
        n, max_jobs = len(trials), self.spec.limits.max_jobs
        if not any(has_objective(t) for t in trials):
            failed = sum(1 for t in trials if t.state == FAILED)
            return Ending(JOB_FAILED, f"no trial completed ({failed} of {n} failed)")
        if exhausted and n < max_jobs:
            return Ending(JOB_COMPLETED, f"search space exhausted after {n} trials")
        return Ending(JOB_COMPLETED, f"max_jobs ({max_jobs}) reached")


__all__ = [
    "AMT_FAILED_WITHOUT_SUCCESS",
    "Criteria",
    "Ending",
    "IMPROVEMENT",
    "converged",
    "convergence_window",
    "format_seconds",
    "not_improving_for",
    "significant",
]
