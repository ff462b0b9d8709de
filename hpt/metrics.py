"""Metric points from output lines: pure functions, no I/O.

Every regex match in a line is one metric point. Its value is the named group ``value`` or
the only capture group; its step is the named group ``step`` when the regex has one, else the
metric's occurrence number (1, 2, 3, ...). Lines are cut to :data:`MAX_LINE` characters before
matching so that no line, however long, can stall the runner.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

#: Lines longer than this are cut before regexes see them (the log keeps the whole line).
MAX_LINE = 16 * 1024


@dataclass(frozen=True)
class MetricPoint:
    name: str
    value: float
    step: int


def parse_number(text: str) -> float | None:
    """A float from captured text, or None. Accepts ``nan``/``inf`` (they make a trial fail later)."""
    try:
        return float(text.strip())
    except (ValueError, AttributeError):
        return None


def _value_group(pattern: re.Pattern) -> int | str:
    if "value" in pattern.groupindex:
        return "value"
    step = pattern.groupindex.get("step")
    return next(i for i in range(1, pattern.groups + 1) if i != step)


class MetricParser:
    """Turns the lines of one trial attempt into metric points. Keeps occurrence counters."""

    def __init__(self, metrics: Iterable):
        self._metrics = [(m.name, m.pattern, _value_group(m.pattern)) for m in metrics]
        self._counts = {name: 0 for name, _, _ in self._metrics}
        self.unparsed = 0  # matches whose captured text was not a number

    def feed(self, line: str) -> list[MetricPoint]:
        line = line[:MAX_LINE]
        points = []
        for name, pattern, group in self._metrics:
            for match in pattern.finditer(line):
                value = parse_number(match.group(group) or "")
                if value is None:
                    self.unparsed += 1
                    continue
                self._counts[name] += 1
                step = self._counts[name]
                if "step" in pattern.groupindex:
                    parsed = parse_number(match.group("step") or "")
                    if parsed is not None and math.isfinite(parsed):
                        step = int(parsed)
                points.append(MetricPoint(name, value, step))
        return points


class ObjectiveTracker:
    """A trial's objective as its points arrive, in constant memory: the last value (AMT) or the
    best one (``use: best``, NaN never best), and the last step reached."""

    def __init__(self, use: str, maximize: bool):
        self.use, self.maximize = use, maximize
        self.last: float | None = None
        self.best: float | None = None
        self.step: int | None = None
        self.count = 0

    def add(self, step: int, value: float) -> None:
        self.count += 1
        self.last, self.step = value, step
        if not math.isnan(value) and (
            self.best is None or (value > self.best if self.maximize else value < self.best)
        ):
            self.best = value

    @property
    def final(self) -> float | None:
        if self.use == "best" and self.best is not None:
            return self.best
        return self.last


def final_value(values: list[float], use: str, maximize: bool) -> float | None:
    """A trial's objective from its points: the last one (AMT) or the best one."""
    if not values:
        return None
    if use == "best":
        finite = [v for v in values if not math.isnan(v)]
        if not finite:
            return values[-1]
        return max(finite) if maximize else min(finite)
    return values[-1]
