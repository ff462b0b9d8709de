"""The reporter protocol: what the runner tells whoever watches a job, and what they may read.

The runner calls a :class:`Reporter` as things happen; each call gets a :class:`RunView`, the
read-only face of the run (the spec, its directory, every trial, the trials running now). A
reporter never changes anything. :class:`QuietReporter` says nothing; :class:`TeeReporter`
passes every call to several reporters; ``hpt.progress`` has the plain-text and live-terminal
reporters, ``hpt.htmlreport.ReportReporter`` keeps the HTML report current.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .trial import Trial


@dataclass(frozen=True)
class RunningTrial:
    """A trial attempt that runs now: since when (the runner's clock), its latest objective
    point ``(step, value)``, if any, the GPUs it holds and its slot."""

    trial: Trial
    attempt: int
    started: float
    last_point: tuple[int, float] | None
    devices: tuple[str, ...] = ()
    slot: int | None = None


class RunView(Protocol):
    """What a reporter may read about the run."""

    @property
    def spec(self) -> Any: ...

    @property
    def job_dir(self) -> Path:
        """The job's directory (absolute)."""
        ...

    @property
    def trials(self) -> Sequence[Trial]:
        """Every trial of the job, in id order (those from earlier runs included)."""
        ...

    @property
    def running(self) -> list[RunningTrial]:
        """The attempts running now, by trial id."""
        ...

    def now(self) -> float:
        """The runner's clock, comparable with :attr:`RunningTrial.started`."""
        ...


class Reporter(Protocol):
    """What the runner tells. ``trial_point`` and ``stopping`` are optional: the runner calls
    them only on reporters that have them."""

    def begin(self, run: RunView) -> None: ...

    def note(self, text: str) -> None:
        """A message for the user (a warning, "resuming the job")."""
        ...

    def trial_started(self, run: RunView, trial: Trial, attempt: int, argv: Sequence[str]) -> None: ...

    def trial_point(self, run: RunView, trial: Trial, step: int, value: float, decision: Any) -> None:
        """An objective point of a running attempt, after the stopper judged it. ``decision``
        is what the stopper decided when the point reached a rung and the trial continues
        (a :class:`~hpt.strategies.hyperband.RungDecision`), else None; a stop comes as
        :meth:`trial_stopping`."""
        ...

    def trial_stopping(self, run: RunView, trial: Trial, kind: str, reason: str) -> None: ...

    def stopping(self, run: RunView, trials: int, grace: float, *, user: bool, kill: bool) -> None:
        """The job is ending while ``trials`` attempts still run: each gets ``grace`` seconds
        after SIGTERM (``kill``: they are being killed now). ``user``: Ctrl-C or ``hpt stop``
        ended it (a second Ctrl-C kills)."""
        ...

    def trial_ended(self, run: RunView, trial: Trial, attempt: int, attempt_state: str) -> None: ...

    def tick(self, run: RunView) -> None:
        """Called about every tenth of a second while the job runs."""
        ...

    def end(self, run: RunView, ending: Any) -> None: ...


class QuietReporter:
    """Says nothing."""

    def begin(self, run: RunView) -> None: ...
    def note(self, text: str) -> None: ...
    def trial_started(self, run: RunView, trial: Trial, attempt: int, argv: Sequence[str]) -> None: ...
    def trial_point(self, run: RunView, trial: Trial, step: int, value: float, decision: Any) -> None: ...
    def trial_stopping(self, run: RunView, trial: Trial, kind: str, reason: str) -> None: ...
    def stopping(self, run: RunView, trials: int, grace: float, *, user: bool, kill: bool) -> None: ...
    def trial_ended(self, run: RunView, trial: Trial, attempt: int, attempt_state: str) -> None: ...
    def tick(self, run: RunView) -> None: ...
    def end(self, run: RunView, ending: Any) -> None: ...


class OutputClosed(Exception):
    """The reader of hpt's output went away (a closed pipe). Not an ``OSError``, so that no
    layer in between turns it into an exit of its own."""


class PlainConsole:
    """Where no terminal reads hpt's output (a pipe, a file, CI logs): each call's text as it
    is, on a line of its own, flushed. The part of rich's ``Console`` that hpt uses there,
    without importing rich (about 40 ms of every command's start); markup and styles are not
    interpreted, so text is never mistaken for markup."""

    is_terminal = False

    def __init__(self, file=None):
        self._file = file

    @property
    def file(self):
        return self._file if self._file is not None else sys.stdout

    def print(self, *objects: Any, sep: str = " ", end: str = "\n", **_style: Any) -> None:
        try:
            self.file.write(sep.join(str(o) for o in objects) + end)
            self.file.flush()
        except BrokenPipeError:
            raise OutputClosed("the reader of hpt's output went away") from None


def _rich_console_class():
    from rich.console import Console as RichConsole

    class Console(RichConsole):
        """A rich console that lets a closed pipe be the caller's business: rich's own handling
        exits the process with code 1, which would end a job (or turn a success into a failure)."""

        def on_broken_pipe(self) -> None:
            raise OutputClosed("the reader of hpt's output went away")

    return Console


def __getattr__(name: str):
    # ``Console`` (rich's, closed pipes raising OutputClosed) is made when first asked for, so
    # that a command that prints no table to a terminal never imports rich.
    if name == "Console":
        cls = _rich_console_class()
        globals()["Console"] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_TERMINAL_ENV = ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")


def console(*, stderr: bool = False):
    """Where hpt prints its messages: standard error or output, through rich at a terminal (or
    where rich is told to act as one) and as plain lines anywhere else."""
    stream = sys.stderr if stderr else sys.stdout
    try:
        terminal = stream.isatty()
    except (AttributeError, ValueError, OSError):
        terminal = False
    if terminal or any(os.environ.get(k) for k in _TERMINAL_ENV):
        return __getattr__("Console")(stderr=stderr, highlight=False, soft_wrap=True)
    return PlainConsole(stream)


class Sheltered:
    """A reporter whose output may go away (a closed pipe, a terminal that was closed): the
    first error on writing silences it for good, and the job goes on without output."""

    def __init__(self, inner: Reporter):
        self.inner = inner
        self.silenced: Exception | None = None

    def __getattr__(self, name: str):
        call = getattr(self.inner, name)

        def sheltered(*args, **kwargs):
            if self.silenced is not None:
                return None
            try:
                return call(*args, **kwargs)
            except (OSError, OutputClosed) as exc:  # a closed pipe, a closed terminal (EIO)
                self.silenced = exc
                return None

        self.__dict__[name] = sheltered  # built once per name, not on every call
        return sheltered


class TeeReporter:
    """Forwards every call to each of ``reporters``, in order (progress and the HTML report)."""

    def __init__(self, *reporters: Reporter):
        self.reporters = reporters

    def begin(self, run: RunView) -> None:
        for r in self.reporters:
            r.begin(run)

    def note(self, text: str) -> None:
        for r in self.reporters:
            r.note(text)

    def trial_started(self, run: RunView, trial: Trial, attempt: int, argv: Sequence[str]) -> None:
        for r in self.reporters:
            r.trial_started(run, trial, attempt, argv)

    def trial_stopping(self, run: RunView, trial: Trial, kind: str, reason: str) -> None:
        for r in self.reporters:
            r.trial_stopping(run, trial, kind, reason)

    def trial_ended(self, run: RunView, trial: Trial, attempt: int, attempt_state: str) -> None:
        for r in self.reporters:
            r.trial_ended(run, trial, attempt, attempt_state)

    def tick(self, run: RunView) -> None:
        for r in self.reporters:
            r.tick(run)

    def end(self, run: RunView, ending: Any) -> None:
        for r in self.reporters:
            r.end(run, ending)

    def __getattr__(self, name: str):
        # The protocol's optional calls (``trial_point``, ``stopping``) go to those that take them.
        takers = [getattr(r, name) for r in self.reporters if hasattr(r, name)]
        if not takers or name.startswith("_"):
            raise AttributeError(name)

        def forward(*args, **kwargs):
            for call in takers:
                call(*args, **kwargs)

        self.__dict__[name] = forward
        return forward


__all__ = [  # and Console, made when first asked for
    "OutputClosed",
    "PlainConsole",
    "console",
    "QuietReporter",
    "Reporter",
    "RunView",
    "RunningTrial",
    "Sheltered",
    "TeeReporter",
]
