"""One consistent read of everything a job holds, for the read-only views (HTML report, export).

:func:`read` takes the job, its trials, their attempts and the metric points of every trial's
latest attempt in one read transaction, so the views never see a trial whose points are not
there yet, even while the runner writes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .store import AttemptRow, JobRow, Store
from .trial import Trial, best_trial


@dataclass(frozen=True)
class Snapshot:
    """A job as read at ``taken`` (epoch seconds).

    ``points[trial_id][metric]`` is ``[(step, value, time), ...]`` of the trial's latest attempt,
    in the order they were recorded; ``attempts[trial_id]`` the trial's attempts, first first.
    """

    job: JobRow
    spec: Any
    trials: tuple[Trial, ...]
    attempts: dict[int, list[AttemptRow]]
    points: dict[int, dict[str, list[tuple[int, float, float]]]]
    job_dir: Path
    taken: float = field(default_factory=time.time)

    @property
    def maximize(self) -> bool:
        return self.spec.objective.maximize

    @property
    def best(self) -> Trial | None:
        return best_trial(self.trials, self.maximize)

    def final_values(self, trial_id: int) -> dict[str, float]:
        """The last value of each metric of the trial's latest attempt."""
        return {name: pts[-1][1] for name, pts in self.points.get(trial_id, {}).items() if pts}

    def last_step(self, trial_id: int) -> int | None:
        """The largest step any metric of the trial's latest attempt reached."""
        steps = [s for pts in self.points.get(trial_id, {}).values() for s, _, _ in pts]
        return max(steps) if steps else None

    def started(self, trial_id: int) -> float | None:
        """When the trial's first attempt started."""
        attempts = self.attempts.get(trial_id)
        return attempts[0].started if attempts else None

    def run_seconds(self, trial_id: int) -> float | None:
        """Seconds the trial's attempts ran, summed (a running attempt up to ``taken``)."""
        attempts = self.attempts.get(trial_id)
        if not attempts:
            return None
        return sum(max(0.0, (a.ended if a.ended is not None else self.taken) - a.started) for a in attempts)


def read(store: Store, spec) -> Snapshot:
    """Everything the views show, read in one transaction."""
    with store.reading():
        job = store.job()
        trials = tuple(store.trials())
        attempts: dict[int, list[AttemptRow]] = {}
        for a in store.attempts():
            attempts.setdefault(a.trial_id, []).append(a)
        points: dict[int, dict[str, list[tuple[int, float, float]]]] = {}
        for tid, _attempt, name, step, value, when in store.all_points(latest=True):
            points.setdefault(tid, {}).setdefault(name, []).append((step, value, when))
    return Snapshot(job, spec, trials, attempts, points, store.dir.resolve())


__all__ = ["Snapshot", "read"]
