"""Live progress: a rich display at a terminal, one plain line per event otherwise.

Progress goes to standard error; the final summary (text or JSON) goes to standard output, so
``hpt run spec.yaml --output json > result.json`` works.
"""

from __future__ import annotations

import math
import time
from datetime import datetime

from rich.console import Console as _RichConsole
from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from .report import fmt
from .reporting import OutputClosed, QuietReporter, RunView
from .trial import FAILED, INTERRUPTED, PENDING, STOPPED, WITH_OBJECTIVE, best_trial


class Console(_RichConsole):
    """A rich console that lets a closed pipe be the caller's business: rich's own handling
    exits the process with code 1, which would end a job (or turn a success into a failure)."""

    def on_broken_pipe(self) -> None:
        raise OutputClosed("the reader of hpt's output went away")


def _params(params: dict) -> str:
    return " ".join(f"{k}={fmt(v)}" for k, v in params.items())


class PlainReporter:
    """One line per event, for logs, scripts and CI."""

    def __init__(self, console: Console):
        self.console = console
        self.best: float | None = None

    def _print(self, text: str) -> None:
        stamp = datetime.now().strftime("%H:%M:%S")
        self.console.print(f"[{stamp}] {text}", markup=False, highlight=False, soft_wrap=True)

    def note(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def begin(self, runner: RunView) -> None:
        spec = runner.spec
        trials = runner.trials
        done = sum(1 for t in trials if t.finished)
        verb = "resuming" if trials else "starting"
        self._print(
            f"{verb} job {spec.name}: strategy {spec.strategy}, max_jobs {spec.limits.max_jobs}, "
            f"max_parallel_jobs {spec.limits.max_parallel_jobs}"
            + (f", {done} trials already finished" if trials else "")
        )
        for p in spec.space.params:
            if p.requested_scaling == "auto":
                self._print(f"parameter {p.name}: {p.describe()}")
        best = best_trial(trials, spec.objective.maximize)
        if best is not None:
            self.best = best.objective

    def trial_started(self, runner, trial, attempt: int, argv) -> None:
        again = f" (attempt {attempt})" if attempt > 1 else ""
        self._print(f"trial {trial.id} started{again}: {_params(trial.params)}")

    def trial_stopping(self, runner, trial, kind: str, reason: str) -> None:
        if kind in ("early", "timeout"):
            self._print(f"trial {trial.id} stopping: {reason}")

    def trial_ended(self, runner, trial, attempt: int, attempt_state: str) -> None:
        obj = runner.spec.objective
        text = f"trial {trial.id} {trial.state}"
        if trial.state == PENDING:
            text = f"trial {trial.id} attempt {attempt} failed, will retry"
        if trial.objective is not None and trial.state in WITH_OBJECTIVE:
            text += f": {obj.metric}={fmt(trial.objective)}"
            if trial.state == STOPPED and trial.objective_step is not None:
                text += f" at step {trial.objective_step}"
            if math.isfinite(trial.objective) and obj.better(trial.objective, self.best):
                self.best = trial.objective
                text += " (best so far)"
        if trial.reason and trial.state in (FAILED, PENDING, INTERRUPTED, STOPPED):
            text += f" ({trial.reason})" if trial.state != STOPPED else f" [{trial.reason}]"
        self._print(text)

    def tick(self, runner) -> None:
        pass

    def end(self, runner, outcome) -> None:
        self._print(f"job {runner.spec.name} {outcome.status.lower()}: {outcome.reason}")


class RichReporter(PlainReporter):
    """A live table of running trials above the event lines, at a terminal."""

    def __init__(self, console: Console):
        super().__init__(console)
        self.live = Live(console=console, auto_refresh=False, transient=True)
        self._last = 0.0
        self._started = time.monotonic()

    def _print(self, text: str) -> None:
        stamp = datetime.now().strftime("%H:%M:%S")
        self.live.console.print(Text(f"[{stamp}] ", style="dim") + Text(text), soft_wrap=True)

    def note(self, text: str) -> None:
        self.live.console.print(Text(text), soft_wrap=True)

    def begin(self, runner) -> None:
        self.live.start()
        super().begin(runner)

    def tick(self, runner) -> None:
        now = time.monotonic()
        if now - self._last < 0.25:
            return
        self._last = now
        self.live.update(self._render(runner), refresh=True)

    def _render(self, runner: RunView):
        spec = runner.spec
        trials = runner.trials
        running = runner.running
        done = sum(1 for t in trials if t.finished)
        table = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
        table.add_column("trial", justify="right")
        table.add_column("step", justify="right")
        table.add_column(spec.objective.metric, justify="right")
        table.add_column("time", justify="right")
        table.add_column("hyperparameters", overflow="ellipsis", no_wrap=True)
        now = runner.now()
        for r in running:
            step, value = r.last_point if r.last_point else ("", None)
            table.add_row(
                str(r.trial.id),
                str(step),
                fmt(value) if value is not None else "",
                f"{now - r.started:.0f}s",
                _params(r.trial.params),
            )
        head = Text.assemble(
            (f"{spec.name} ", "bold"),
            f"{done}/{spec.limits.max_jobs} trials finished, {len(running)} running",
            f", best {spec.objective.metric}={fmt(self.best)}" if self.best is not None else "",
            f", {time.monotonic() - self._started:.0f}s",
        )
        return Group(head, table) if running else head

    def end(self, runner, outcome) -> None:
        self.live.stop()
        super().end(runner, outcome)


__all__ = ["PlainReporter", "QuietReporter", "RichReporter"]
