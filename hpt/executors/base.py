"""The executor protocol: what the runner asks of every place trials can run, and what it hears back.

``start(launch)`` returns at once; the executor then puts :class:`Started`, :class:`Output` and
finally exactly one :class:`Exited` for that attempt on the runner's event queue. ``stop(key)``
asks an attempt to end (SIGTERM to its processes, SIGKILL after the grace period); its
``Exited`` still follows. ``kill_all()`` kills every attempt at once (a second Ctrl-C).
``close()`` stops what is left and waits for it. Executor threads only put events on the queue;
the runner thread alone touches the store and the strategies.

A :class:`Clock` is how the runner reads time and waits for events: the real one for processes,
a virtual one for the simulated executor (``hpt.executors.sim``), so the same loop runs on both.
"""

from __future__ import annotations

import queue
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

Key = tuple[int, int]  # (trial id, attempt)


@dataclass(frozen=True)
class Launch:
    """Everything needed to start one trial attempt.

    ``env`` holds only what hpt adds; it is laid over the environment of the machine the
    attempt runs on. ``params`` are the trial's tuned and static hyperparameters (what
    ``params.json`` holds), for executors that do not run the command (the simulator).
    """

    trial_id: int
    attempt: int
    argv: tuple[str, ...]
    env: dict[str, str]
    cwd: str
    log_dir: str
    grace: float = 5.0
    resources: dict[str, float] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> Key:
        return (self.trial_id, self.attempt)


@dataclass(frozen=True)
class Started:
    """The attempt's process runs: ``pid`` of the command, which leads its own group (``pgid``)."""

    key: Key
    pid: int | None
    pgid: int | None
    host: str


@dataclass(frozen=True)
class Output:
    """Complete lines read from one stream in one read (batched: a line flood costs few events)."""

    key: Key
    stream: str  # "stdout" | "stderr"
    lines: tuple[str, ...]
    time: float


@dataclass(frozen=True)
class Exited:
    """How an attempt ended: ``exit_code`` (negative: killed by that signal) or ``error``.

    ``signalled``: whether a stop reached the command while it still ran (False: it ended on
    its own, even if a stop was asked for meanwhile; None: not known).
    """

    key: Key
    exit_code: int | None
    error: str | None = None
    time: float = 0.0
    signalled: bool | None = None


Event = Started | Output | Exited


class Executor(Protocol):
    """Starts attempts, streams their events to the runner's queue, and stops them."""

    name: str

    def start(self, launch: Launch) -> None: ...

    def stop(self, key: Key) -> None: ...

    def kill_all(self) -> None: ...

    def close(self) -> None: ...


class Clock(Protocol):
    """Time as the runner sees it."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for limits and timeouts)."""
        ...

    def wait(self, events: queue.Queue, timeout: float) -> Event | None:
        """The next event, waiting up to ``timeout`` seconds; None when none came."""
        ...


class RealClock:
    """Wall-clock time; waiting blocks on the queue."""

    def monotonic(self) -> float:
        return time.monotonic()

    def wait(self, events: queue.Queue, timeout: float) -> Event | None:
        try:
            return events.get(timeout=timeout)
        except queue.Empty:
            return None


__all__ = ["Clock", "Event", "Executor", "Exited", "Key", "Launch", "Output", "RealClock", "Started"]
