"""The median rule of ``early_stopping: auto`` (AMT's rule, Vizier's median stopping rule).

After a running trial prints its objective at step ``t``:

1. take every *earlier* trial: one that has finished, completed or stopped early, by the time
   of the decision. Running trials do not count (their curves are still moving, and counting
   them would make decisions depend on scheduling); failed trials do not count (their points
   may be garbage);
2. for each, its running average up to ``t``: the mean of its (finite) objective points with
   step ``<= t``. A trial stopped before step ``t`` contributes the average of all its points
   (as AMT's rule reads: every previous trial counts, not only those that got as far);
3. stop the trial if its objective so far (the point just printed, or its best so far with
   ``objective.use: best``) is strictly worse than the median of those averages (lower when
   maximizing, higher when minimizing; NaN is worse than anything).

The rule is not applied before step ``min_steps``, nor while there are fewer than
``min_trials`` earlier trials (``early_stopping_rule`` in the spec; defaults
:data:`~hpt.spec.DEFAULT_MIN_STEPS` and :data:`~hpt.spec.DEFAULT_MIN_TRIALS`).
"""

from __future__ import annotations

import bisect
import math
import statistics
from collections.abc import Sequence

from ..spec import Spec
from ..trial import COMPLETED, STOPPED
from .base import Context
from .hyperband import objective_so_far

_REFERENCE = (COMPLETED, STOPPED)


def running_average(points: Sequence[tuple[int, float]], step: int) -> float | None:
    """Mean of the finite values of the points with step ``<= step`` (None when there are none)."""
    values = [v for s, v in points if s <= step and math.isfinite(v)]
    return sum(values) / len(values) if values else None


def worse(value: float, reference: float, maximize: bool) -> bool:
    """Is ``value`` strictly worse than ``reference``? NaN is worse than anything."""
    if math.isnan(value):
        return True
    return value < reference if maximize else value > reference


def median_rule_stops(current: float, averages: Sequence[float], maximize: bool, min_trials: int) -> bool:
    """The median rule on given running averages: is ``current`` strictly worse than their
    median? Never with fewer than ``min_trials`` (and at least one) averages."""
    if len(averages) < max(1, min_trials):
        return False
    return worse(current, statistics.median(averages), maximize)


class _Curve:
    """Prefix averages of a finished trial's curve, to answer "running average up to t" fast."""

    def __init__(self, points: Sequence[tuple[int, float]]):
        finite = sorted((s, v) for s, v in points if math.isfinite(v))
        self.steps = [s for s, _ in finite]
        self.means = []
        total = 0.0
        for i, (_, v) in enumerate(finite):
            total += v
            self.means.append(total / (i + 1))

    def average(self, step: int) -> float | None:
        i = bisect.bisect_right(self.steps, step)
        return self.means[i - 1] if i else None


class MedianStopper:
    """The stopper of ``early_stopping: auto``. See the module docstring for the exact rule."""

    def __init__(self, spec: Spec, min_steps: int | None = None, min_trials: int | None = None):
        rule = spec.early_stopping_rule
        self.min_steps = rule.min_steps if min_steps is None else min_steps
        self.min_trials = rule.min_trials if min_trials is None else min_trials
        self.metric = spec.objective.metric
        self.use = spec.objective.use
        self.maximize = spec.objective.maximize
        self._curves: dict[int, _Curve] = {}  # finished reference trials
        self._settled: set[int] = set()
        self._low = 0
        self._medians: dict[int, tuple[int, float | None, int]] = {}  # step -> (version, median, n)

    def _sync(self, ctx: Context) -> None:
        trials = ctx.trials
        for i in range(self._low, len(trials)):
            t = trials[i]
            if t.finished and t.id not in self._settled:
                self._settled.add(t.id)
                if t.state in _REFERENCE:
                    self._curves[t.id] = _Curve(ctx.history.get(t.id, ()))
        while self._low < len(trials) and trials[self._low].id in self._settled:
            self._low += 1

    def _median(self, step: int) -> tuple[float | None, int]:
        version = len(self._curves)  # reference trials are only ever added
        cached = self._medians.get(step)
        if cached is not None and cached[0] == version:
            return cached[1], cached[2]
        averages = []
        for curve in self._curves.values():
            avg = curve.average(step)
            if avg is not None:
                averages.append(avg)
        n = len(averages)
        median = statistics.median(averages) if n >= max(1, self.min_trials) else None
        self._medians[step] = (version, median, n)
        return median, n

    def on_report(self, ctx: Context, trial, step: int, value: float) -> str | None:
        if step < self.min_steps:
            return None
        self._sync(ctx)
        median, n = self._median(step)
        if median is None:
            return None
        current = value
        if self.use == "best":
            current = None
            for _, v in ctx.history.get(trial.id) or [(step, value)]:
                current = objective_so_far(current, v, self.use, self.maximize)
        if not worse(current, median, self.maximize):
            return None
        return (
            f"early stopping (median rule): at step {step}, {self.metric}={current:.6g} is worse than "
            f"the median {median:.6g} of {n} earlier trials' running averages"
        )
