"""Progress on standard error: a live display at a terminal; plain lines or JSON Lines otherwise.

The final summary (text or JSON) goes to standard output, so
``hpt run spec.yaml --output json > result.json`` works.

:class:`LogReporter` decides *what* is worth a line: the job starting, each trial starting, its
first objective point, then at most one progress line per running trial per ``interval``
seconds (``0``: every point), hyperband rung decisions, stops, each trial's end, what the job
waits for while it stops, and its end. :class:`PlainReporter` writes them as timestamped text
(for logs, ssh and CI), :class:`JsonlReporter` as one JSON object per line (docs/logs.md), and
:class:`RichReporter` draws a live table at a terminal and prints only the events, not the
progress lines the table already shows.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Collection
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TextIO

from .report import fmt
from .reporting import QuietReporter, RunView
from .trial import FAILED, INTERRUPTED, PENDING, STOPPED, WITH_OBJECTIVE, best_trial

if TYPE_CHECKING:
    from .reporting import Console

#: Seconds between two progress lines of one running trial (``--log-interval``).
DEFAULT_LOG_INTERVAL = 30.0


def _params(params: dict) -> str:
    return " ".join(f"{k}={fmt(v)}" for k, v in params.items())


def duration(seconds: float) -> str:
    """``4.2s``, ``42s``, ``3m05s``, ``2h04m``."""
    if seconds < 10:
        return f"{max(seconds, 0):.1f}s"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def _trials(n: int) -> str:
    return f"{n} trial{'s' if n != 1 else ''}"


def _number(v: float | None) -> float | None:
    """A value as JSON can hold it (non-finite: null)."""
    return v if v is not None and math.isfinite(v) else None


class LogReporter(QuietReporter):
    """What is worth telling, as ``emit(event, text, **fields)``; subclasses write it.

    ``interval``: seconds between progress lines of one running trial (0: every objective
    point). ``only``: emit only these events (``--quiet`` keeps notes).
    """

    def __init__(self, interval: float = DEFAULT_LOG_INTERVAL, only: Collection[str] | None = None):
        self.interval = interval
        self.only = only
        self.best: float | None = None
        self._last: dict[tuple[int, int], float] = {}  # (trial, attempt) -> last line, run clock
        self._pointed: set[tuple[int, int]] = set()  # attempts whose first point was told
        self.job = ""

    def emit(self, event: str, text: str, **fields: Any) -> None:
        raise NotImplementedError

    def _emit(self, event: str, text: str, **fields: Any) -> None:
        if self.only is None or event in self.only:
            self.emit(event, text, **fields)

    # ---- the reporter protocol

    def note(self, text: str) -> None:
        self._emit("note", text)

    def begin(self, run: RunView) -> None:
        spec = run.spec
        self.job = spec.name
        trials = run.trials
        done = sum(1 for t in trials if t.finished)
        verb = "resuming" if trials else "starting"
        self._emit(
            "job_started",
            f"{verb} job {spec.name}: strategy {spec.strategy}, max_jobs {spec.limits.max_jobs}, "
            f"max_parallel_jobs {spec.limits.max_parallel_jobs}"
            + (f", {done} trials already finished" if trials else ""),
            strategy=spec.strategy,
            max_jobs=spec.limits.max_jobs,
            max_parallel_jobs=spec.limits.max_parallel_jobs,
            resumed=bool(trials),
            finished=done,
        )
        for p in spec.space.params:
            if p.requested_scaling == "auto":
                self._emit(
                    "scaling", f"parameter {p.name}: {p.describe()}", parameter=p.name, scaling=p.scaling
                )
        best = best_trial(trials, spec.objective.maximize)
        if best is not None:
            self.best = best.objective

    def trial_started(self, run: RunView, trial, attempt: int, argv) -> None:
        mine = next((r for r in run.running if r.trial.id == trial.id), None)
        devices = list(mine.devices) if mine is not None and mine.devices else None
        slot = mine.slot if mine is not None else None
        self._last[(trial.id, attempt)] = run.now()
        again = f" (attempt {attempt})" if attempt > 1 else ""
        where = f" on GPU {','.join(devices)}" if devices else ""
        self._emit(
            "trial_started",
            f"trial {trial.id} started{again}{where}: {_params(trial.params)}",
            trial=trial.id,
            attempt=attempt,
            params=trial.params,
            devices=devices,
            slot=slot,
        )

    def trial_point(self, run: RunView, trial, step: int, value: float, decision: Any) -> None:
        key = (trial.id, trial.attempts)
        metric = run.spec.objective.metric
        first = key not in self._pointed
        self._pointed.add(key)
        where = {"trial": trial.id, "attempt": trial.attempts, "metric": metric, "step": step}
        if first or self.interval == 0:
            self._last[key] = run.now()
            text = f"trial {trial.id} {'first ' if first else ''}{metric}={fmt(value)} at step {step}"
            self._emit("trial_point", text, **where, value=_number(value), first=first)
        if decision is not None:
            self._emit(
                "trial_rung",
                f"trial {trial.id} continues at {decision}",
                **where,
                rung=decision.rung,
                bracket=decision.bracket,
                value=_number(decision.value),
                rank=decision.rank,
                count=decision.count,
                quota=decision.quota,
            )

    def tick(self, run: RunView) -> None:
        if self.interval <= 0:
            return
        now = run.now()
        metric = run.spec.objective.metric
        for r in run.running:
            key = (r.trial.id, r.attempt)
            last = self._last.setdefault(key, r.started)
            if now - last < self.interval:
                continue
            self._last[key] = now
            step, value = r.last_point if r.last_point else (None, None)
            shown = f"step {step}, {metric}={fmt(value)}" if r.last_point else f"no {metric} yet"
            self._emit(
                "trial_progress",
                f"trial {r.trial.id} running {duration(now - r.started)}: {shown}",
                trial=r.trial.id,
                attempt=r.attempt,
                metric=metric,
                step=step,
                value=_number(value),
                running_seconds=round(now - r.started, 3),
            )

    def trial_stopping(self, run: RunView, trial, kind: str, reason: str) -> None:
        if kind in ("early", "timeout"):
            self._emit(
                "trial_stopping",
                f"trial {trial.id} stopping: {reason}",
                trial=trial.id,
                attempt=trial.attempts,
                kind=kind,
                reason=reason,
            )

    def stopping(self, run: RunView, trials: int, grace: float, *, user: bool, kill: bool) -> None:
        what = _trials(trials)
        if kill:
            text = f"killing {what} now"
        else:
            text = f"stopping {what}, up to {grace:g} s" + ("; Ctrl-C again to kill" if user else "")
        self._emit("job_stopping", text, trials=trials, grace_seconds=grace, kill=kill, user=user)

    def trial_ended(self, run: RunView, trial, attempt: int, attempt_state: str) -> None:
        self._last.pop((trial.id, attempt), None)
        self._pointed.discard((trial.id, attempt))
        obj = run.spec.objective
        text = f"trial {trial.id} {trial.state}"
        if trial.state == PENDING:
            text = f"trial {trial.id} attempt {attempt} failed, will retry"
        best = False
        if trial.objective is not None and trial.state in WITH_OBJECTIVE:
            text += f": {obj.metric}={fmt(trial.objective)}"
            if trial.state == STOPPED and trial.objective_step is not None:
                text += f" at step {trial.objective_step}"
            if math.isfinite(trial.objective) and obj.better(trial.objective, self.best):
                self.best = trial.objective
                best = True
                text += " (best so far)"
        if trial.reason and trial.state in (FAILED, PENDING, INTERRUPTED, STOPPED):
            text += f" ({trial.reason})" if trial.state != STOPPED else f" [{trial.reason}]"
        self._emit(
            "trial_ended",
            text,
            trial=trial.id,
            attempt=attempt,
            state=trial.state,
            attempt_state=attempt_state,
            metric=obj.metric,
            objective=_number(trial.objective),
            step=trial.objective_step,
            reason=trial.reason,
            best=best,
        )

    def end(self, run: RunView, ending) -> None:
        self._emit(
            "job_ended",
            f"job {run.spec.name} {ending.status.lower()}: {ending.reason}",
            status=ending.status,
            reason=ending.reason,
        )


class PlainReporter(LogReporter):
    """One timestamped line per event, for logs, ssh sessions and CI."""

    def __init__(
        self, console: Console, interval: float = DEFAULT_LOG_INTERVAL, only: Collection[str] | None = None
    ):
        super().__init__(interval, only)
        self.console = console

    def emit(self, event: str, text: str, **fields: Any) -> None:
        if event == "note":
            self.console.print(text, markup=False, highlight=False, soft_wrap=True)
            return
        stamp = datetime.now().strftime("%H:%M:%S")
        self.console.print(f"[{stamp}] {text}", markup=False, highlight=False, soft_wrap=True)


class JsonlReporter(LogReporter):
    """One JSON object per line (JSON Lines): ``time`` (ISO 8601, UTC), ``event``, ``job``,
    ``message`` (the plain line's text) and the event's fields. See docs/logs.md."""

    def __init__(
        self,
        stream: TextIO | None = None,
        interval: float = DEFAULT_LOG_INTERVAL,
        only: Collection[str] | None = None,
    ):
        super().__init__(interval, only)
        self.stream = stream

    def emit(self, event: str, text: str, **fields: Any) -> None:
        now = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        doc = {"time": now, "event": event, "job": self.job or None, **fields, "message": text}
        stream = self.stream or sys.stderr
        stream.write(json.dumps(doc, allow_nan=False, default=str) + "\n")
        stream.flush()


class RichReporter(PlainReporter):
    """A live view at a terminal: progress toward ``max_jobs`` with the time left, a table of
    the running trials, and what the job waits for while it stops; events print above it."""

    def __init__(self, console: Console, interval: float = DEFAULT_LOG_INTERVAL):
        from rich.live import Live

        super().__init__(console, interval)
        self.live = Live(console=console, auto_refresh=False, transient=True)
        self._last_draw = 0.0
        self._started = time.monotonic()
        self._finished0 = 0
        self._stopping: tuple[float, int, float, bool, bool] | None = None  # at, trials, grace, user, kill

    def emit(self, event: str, text: str, **fields: Any) -> None:
        from rich.text import Text

        if event in ("trial_point", "trial_progress"):
            return  # the live table shows them
        if event == "note":
            self.live.console.print(Text(text), soft_wrap=True)
            return
        stamp = datetime.now().strftime("%H:%M:%S")
        self.live.console.print(Text(f"[{stamp}] ", style="dim") + Text(text), soft_wrap=True)

    def begin(self, run: RunView) -> None:
        self.live.start()
        super().begin(run)
        self._finished0 = sum(1 for t in run.trials if t.finished)
        self._started = time.monotonic()

    def stopping(self, run: RunView, trials: int, grace: float, *, user: bool, kill: bool) -> None:
        super().stopping(run, trials, grace, user=user, kill=kill)
        self._stopping = (time.monotonic(), trials, grace, user, kill)
        self.tick(run, force=True)

    def tick(self, run: RunView, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_draw < 0.25:
            return
        self._last_draw = now
        self.live.update(self._render(run), refresh=True)

    def eta(self, done: int, max_jobs: int) -> float | None:
        """Seconds left at the pace of this run so far; None until a trial has finished in it."""
        finished_here = done - self._finished0
        if finished_here <= 0 or done >= max_jobs:
            return None
        return (time.monotonic() - self._started) / finished_here * (max_jobs - done)

    def _render(self, run: RunView):
        from rich.console import Group
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        spec = run.spec
        trials = run.trials
        running = run.running
        done = sum(1 for t in trials if t.finished)
        max_jobs = spec.limits.max_jobs
        now = run.now()
        head = Table.grid(padding=(0, 1))
        head.add_row(
            Text(spec.name, style="bold"),
            ProgressBar(total=max_jobs, completed=done, width=24),
            Text(f"{done}/{max_jobs} trials", style="bold"),
        )
        parts = [f"{len(running)} running"]
        if self.best is not None:
            parts.append(f"best {spec.objective.metric}={fmt(self.best)}")
        parts.append(f"{duration(time.monotonic() - self._started)} elapsed")
        left = self.eta(done, max_jobs)
        if left is not None:
            parts.append(f"about {duration(left)} left")
        lines: list[Any] = [head, Text(", ".join(parts), style="dim")]
        if self._stopping is not None:
            at, n, grace, user, kill = self._stopping
            if kill:
                wait = f"killing {_trials(len(running) or n)}"
            else:
                remaining = max(grace - (time.monotonic() - at), 0.0)
                wait = f"stopping {_trials(len(running) or n)}, up to {remaining:.0f} s" + (
                    "; Ctrl-C again to kill" if user else ""
                )
            lines.append(Text(wait, style="bold yellow"))
        if running:
            table = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
            table.add_column("trial", justify="right")
            table.add_column("step", justify="right")
            table.add_column(spec.objective.metric, justify="right")
            table.add_column("time", justify="right")
            gpus = any(r.devices for r in running)
            if gpus:
                table.add_column("gpus")
            table.add_column("hyperparameters", overflow="ellipsis", no_wrap=True)
            for r in running:
                step, value = r.last_point if r.last_point else ("", None)
                cells = [
                    str(r.trial.id),
                    str(step),
                    fmt(value) if value is not None else "",
                    duration(now - r.started),
                ]
                if gpus:
                    cells.append(",".join(r.devices))
                table.add_row(*cells, _params(r.trial.params))
            lines.append(table)
        return Group(*lines)

    def end(self, run: RunView, ending) -> None:
        self.live.stop()
        super().end(run, ending)


def make_reporter(
    console: Console,
    *,
    log_format: str = "auto",
    interval: float = DEFAULT_LOG_INTERVAL,
    quiet: bool = False,
) -> QuietReporter:
    """The reporter for ``hpt run``/``resume``: ``auto`` is live at a terminal and plain
    otherwise; ``plain``; ``jsonl``. ``quiet`` keeps only notes (warnings, "resuming")."""
    only = ("note",) if quiet else None
    if log_format == "jsonl":
        return JsonlReporter(console.file, interval, only)
    if quiet or log_format == "plain" or not console.is_terminal:
        return PlainReporter(console, interval, only)
    return RichReporter(console, interval)


__all__ = [
    "DEFAULT_LOG_INTERVAL",
    "JsonlReporter",
    "LogReporter",
    "PlainReporter",
    "QuietReporter",
    "RichReporter",
    "make_reporter",
]
