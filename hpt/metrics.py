"""Metric points from output lines: pure functions, no I/O.

Every regex match in a line is one metric point. Its value is the named group ``value`` or the
only capture group; its step is the named group ``step`` when the regex has one, else the
metric's occurrence number (1, 2, 3, ...). Lines are cut to :data:`MAX_LINE` characters before
matching.

A value is a finite number or a recorded reason, never a guess. A line that names a metric but
carries no finite number is a *bad point* (``ok`` false), with the text as printed:

* the regex captured text that is not a finite number (``nan``, ``inf``, ``n/a``);
* the number it captured goes on with a comma or an apostrophe and a digit (``0,5333``,
  ``1,200,000.0``, ``1'200``): a decimal comma or a thousands separator, read as another number;
* the regex does not match, but the same regex with its value group widened to any token
  (``loss=nan`` against ``loss=([-+0-9.eE]+)``) does: the line has everything the regex asks for
  around the value, and the value is not one the regex can capture.

The caller decides what a bad point means (the runner fails or ends the trial on a bad
objective, and skips and counts a bad secondary point).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

#: Lines longer than this are cut before regexes see them (the log keeps the whole line).
MAX_LINE = 16 * 1024

#: What stands in for the value group when looking for values the regex cannot capture: a token
#: without spaces, commas or semicolons, except a comma that is followed by a digit.
_TOKEN = r"(?:[^\s,;]|,(?=\d))+"
_TOKEN_RE = re.compile(_TOKEN)
#: After a captured number: a decimal comma or thousands separator goes on with a digit.
_SEPARATOR = re.compile(r"[,'](?=\d)")


@dataclass(frozen=True)
class MetricPoint:
    """One match: the metric, its value (NaN when the text is not a number), step and text."""

    name: str
    value: float
    step: int
    text: str = ""

    @property
    def ok(self) -> bool:
        """A finite number: a point that counts."""
        return math.isfinite(self.value)

    @property
    def diverged(self) -> bool:
        """A number, but not a finite one (``nan``, ``inf``): a run that diverged."""
        return not self.ok and parse_number(self.text) is not None


def parse_number(text: str) -> float | None:
    """A float from captured text, or None. ``nan`` and ``inf`` parse (and are not finite)."""
    try:
        return float(text.strip())
    except (ValueError, AttributeError):
        return None


def describe_bad(point: MetricPoint) -> str:
    """Why a bad point does not count, for reasons and ``check-metrics``."""
    if point.diverged:
        return "not a finite number"
    if _SEPARATOR.search(point.text):
        return "not a number hpt reads (a decimal comma or a thousands separator?)"
    return "not a number"


def _value_group(pattern: re.Pattern) -> int | str:
    if "value" in pattern.groupindex:
        return "value"
    step = pattern.groupindex.get("step")
    return next(i for i in range(1, pattern.groups + 1) if i != step)


def group_spans(regex: str) -> list[tuple[int, int]]:
    """``(start, end)`` in ``regex`` of each capturing group, in group-number order.

    A small scanner of Python's regex syntax: escapes, character classes, and the ``(?...)``
    forms that do not capture (only ``(?P<name>...)`` does).
    """
    spans: dict[int, tuple[int, int]] = {}
    stack: list[int | None] = []  # group number of each open parenthesis (None: not capturing)
    opened: list[int] = []
    number, i, n = 0, 0, len(regex)
    while i < n:
        c = regex[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            j = i + 1
            if j < n and regex[j] == "^":
                j += 1
            if j < n and regex[j] == "]":
                j += 1
            while j < n and regex[j] != "]":
                j += 2 if regex[j] == "\\" else 1
            i = j + 1
            continue
        if c == "(":
            capturing = not regex.startswith("?", i + 1) or regex.startswith("?P<", i + 1)
            if capturing:
                number += 1
            stack.append(number if capturing else None)
            opened.append(i)
        elif c == ")" and stack:
            group, start = stack.pop(), opened.pop()
            if group is not None:
                spans[group] = (start, i + 1)
        i += 1
    return [spans[k] for k in sorted(spans)]


#: Regex syntax that is not literal text: escapes, classes, group openings, quantifiers.
_SYNTAX = re.compile(r"\\.|\[(?:\\.|[^\]])*\]|\(\?(?:P<\w+>|[:=!]|<[=!])?|\{\d*,?\d*\}|[()|.*+?^$]")


def widen(pattern: re.Pattern) -> re.Pattern | None:
    """The regex with its value group's content replaced by any token (see the module
    docstring), or None when that cannot be built, or when the regex asks for no literal text
    before its value (then nothing says a line is about this metric)."""
    group = _value_group(pattern)
    index = pattern.groupindex[group] if isinstance(group, str) else group
    spans = group_spans(pattern.pattern)
    if len(spans) != pattern.groups:
        return None
    start, end = spans[index - 1]
    if not re.search(r"\w", _SYNTAX.sub("", pattern.pattern[:start])):
        return None
    head = "(?P<value>" if isinstance(group, str) else "("
    source = pattern.pattern[:start] + head + _TOKEN + ")" + pattern.pattern[end:]
    try:
        wide = re.compile(source, pattern.flags)
    except re.error:
        return None
    return wide if "value" in wide.groupindex or wide.groups >= 1 else None


class MetricParser:
    """Turns the lines of one trial attempt into metric points. Keeps occurrence counters.

    ``guard``, when given, is a :class:`~hpt.timelimit.MatchTimer` (active): each line's matching
    runs under its time limit, and it is told which metric's regex is at work; whatever it
    raises goes to the caller.
    """

    def __init__(self, metrics: Iterable, guard=None):
        self._metrics = []
        for m in metrics:
            wide = widen(m.pattern)
            self._metrics.append(
                (m.name, m.pattern, _value_group(m.pattern), wide, _value_group(wide) if wide else None)
            )
        self._counts = {name: 0 for name, *_ in self._metrics}
        self._guard = guard

    def disable(self, name: str) -> None:
        """Stop reading metric ``name`` (its regex took too long on a line)."""
        self._metrics = [m for m in self._metrics if m[0] != name]

    def feed(self, line: str) -> list[MetricPoint]:
        line = line[:MAX_LINE]
        points = []
        if self._guard is None:
            for name, pattern, group, wide, wide_group in self._metrics:
                points += self._match(line, name, pattern, group, wide, wide_group)
            return points
        guard = self._guard
        guard.arm(line)  # a plain call, not a context manager: this runs for every line
        try:
            for name, pattern, group, wide, wide_group in self._metrics:
                guard.metric = name
                points += self._match(line, name, pattern, group, wide, wide_group)
        finally:
            guard.disarm()
        return points

    def _match(self, line, name, pattern, group, wide, wide_group) -> list[tuple]:
        found: list[tuple[int, str, re.Match, re.Pattern]] = []  # (position, text, match, regex)
        starts = set()
        for m in pattern.finditer(line):
            text = m.group(group) or ""
            starts.add(m.start(group))
            value = parse_number(text)
            if (value is None or not math.isfinite(value)) or (
                m.end() == m.end(group) and _SEPARATOR.match(line, m.end(group))
            ):
                # Not a number, or one that goes on past what the regex took (``-`` of ``-inf``,
                # ``0`` of ``0,5``): keep the whole token as printed.
                token = _TOKEN_RE.match(line, m.start(group))
                if token and len(token.group(0)) > len(text):
                    text = token.group(0)
            found.append((m.start(group), text, m, pattern))
        if wide is not None:
            for m in wide.finditer(line):
                if m.start(wide_group) not in starts:
                    found.append((m.start(wide_group), m.group(wide_group) or "", m, wide))
        if not found:
            return []
        found.sort(key=lambda f: f[0])
        points = []
        for _, text, m, regex in found:
            value = parse_number(text)
            if value is None or _SEPARATOR.search(text):
                value = math.nan
            self._counts[name] += 1
            step = self._counts[name]
            if "step" in regex.groupindex:
                parsed = parse_number(m.group("step") or "")
                if parsed is not None and math.isfinite(parsed):
                    step = int(parsed)
            points.append(MetricPoint(name, value, step, text))
        return points


@dataclass
class MetricCheck:
    """What one metric's regex found in a log (``hpt check-metrics``): its good points and its
    bad ones, each with the line number and the line, and a line it timed out on, if any."""

    name: str
    regex: str
    points: list[tuple[int, MetricPoint, str]]
    bad: list[tuple[int, MetricPoint, str]]
    timed_out: tuple[int, str] | None = None


def check_lines(metrics, lines: Iterable[str], guard=None) -> list[MetricCheck]:
    """Run every metric's regex over ``lines`` as a trial's output would be read."""
    from .timelimit import RegexTimeout

    metrics = list(metrics)
    parser = MetricParser(metrics, guard=guard)
    checks = {m.name: MetricCheck(m.name, m.regex, [], []) for m in metrics}
    for number, line in enumerate(lines, 1):
        try:
            points = parser.feed(line)
        except RegexTimeout as exc:
            checks[exc.metric].timed_out = (number, line)
            parser.disable(exc.metric)
            continue
        for p in points:
            (checks[p.name].points if p.ok else checks[p.name].bad).append((number, p, line))
    return list(checks.values())


class ObjectiveTracker:
    """A trial's objective as its points arrive, in constant memory: the last value (AMT) or the
    best one (``use: best``), and the last step reached. Only finite values are added."""

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
