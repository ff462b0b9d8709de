"""A simulated executor on a virtual clock: the real runner, no processes, no waiting.

Tests and benchmarks that need no real process (what a strategy is told and when, how many
epochs hyperband spends, how parallel suggestions spread) drive the real
:class:`~hpt.runner.Runner` with it, so there is one loop to trust, not a copy per benchmark::

    sim = SimExecutor(lambda launch: SimTrial.curve([f"loss={v}" for v in values(launch.params)]))
    runner = Runner(spec, store, sim.factory, seed=1, clock=sim.clock, poll_interval=math.inf)
    runner.run()

A :class:`SimTrial` says what an attempt prints and when (seconds after it starts, on the
virtual clock) and how it exits. ``stop`` makes an attempt exit ``stop_delay`` seconds later
(SIGTERM's code, -15): what it prints until then still comes out, nothing after. Everything runs in
the runner's thread; time only moves when the runner waits.
"""

from __future__ import annotations

import heapq
import itertools
import queue
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .base import Event, Exited, Key, Launch, Output, Started


@dataclass(frozen=True)
class SimTrial:
    """What one simulated attempt does: ``lines`` as ``(seconds after start, text)``, then it
    exits with ``exit_code`` at ``duration`` (default: its last line's time)."""

    lines: Sequence[tuple[float, str]] = ()
    exit_code: int = 0
    duration: float | None = None
    stream: str = "stdout"

    @classmethod
    def curve(cls, lines: Sequence[str], seconds_per_line: float = 1.0, exit_code: int = 0) -> SimTrial:
        """One line every ``seconds_per_line`` seconds (an epoch each), then the exit."""
        return cls(tuple((seconds_per_line * (i + 1), text) for i, text in enumerate(lines)), exit_code)

    @property
    def end(self) -> float:
        if self.duration is not None:
            return self.duration
        return self.lines[-1][0] if self.lines else 0.0


class SimClock:
    """Virtual time. Scheduled events come out in time order when the runner waits."""

    def __init__(self) -> None:
        self.now = 0.0
        self._heap: list[tuple[float, int, Event]] = []
        self._seq = itertools.count()
        #: An attempt stopped at virtual time T: nothing of it after T comes out.
        self.cutoff: dict[Key, float] = {}

    def monotonic(self) -> float:
        return self.now

    def schedule(self, at: float, event: Event) -> None:
        heapq.heappush(self._heap, (at, next(self._seq), event))

    def wait(self, events: queue.Queue, timeout: float) -> Event | None:
        try:
            return events.get_nowait()
        except queue.Empty:
            pass
        deadline = self.now + timeout
        while self._heap and self._heap[0][0] <= deadline:
            at, _, event = heapq.heappop(self._heap)
            self.now = max(self.now, at)
            if at > self.cutoff.get(event.key, at):
                continue
            return event
        self.now = max(self.now, deadline)
        return None

    @property
    def idle(self) -> bool:
        return not self._heap


class SimExecutor:
    """Runs :class:`SimTrial`\\ s made by ``behaviour(launch)`` on a :class:`SimClock`.

    ``start_delay``: seconds from ``start`` to :class:`Started` (and to the first line's clock);
    ``stop_delay``: seconds from ``stop`` to the attempt's exit. :attr:`launches` lists every
    launch in order, :attr:`stops` the virtual time of each stop request, :meth:`span` when
    an attempt ran.
    """

    name = "sim"

    def __init__(
        self,
        behaviour: Callable[[Launch], SimTrial],
        *,
        start_delay: float = 0.0,
        stop_delay: float = 0.0,
        clock: SimClock | None = None,
    ):
        self.behaviour = behaviour
        self.start_delay, self.stop_delay = start_delay, stop_delay
        self.clock = clock or SimClock()
        self.launches: list[Launch] = []
        self.stops: dict[Key, float] = {}
        self._ends: dict[Key, Exited] = {}
        self._starts: dict[Key, float] = {}

    def span(self, key: Key) -> tuple[float, float]:
        """Virtual times at which attempt ``key`` started and exited (or will exit)."""
        return self._starts[key], self._ends[key].time

    def factory(self, events: queue.Queue) -> SimExecutor:
        """The ``executor_factory`` the runner takes (the queue is not needed: events are
        handed over by the clock)."""
        return self

    def start(self, launch: Launch) -> None:
        self.launches.append(launch)
        trial = self.behaviour(launch)
        key, t0 = launch.key, self.clock.now + self.start_delay
        self._starts[key] = t0
        self.clock.schedule(t0, Started(key, None, None, "sim"))
        for offset, text in trial.lines:
            self.clock.schedule(t0 + offset, Output(key, trial.stream, (text,), t0 + offset))
        end = Exited(key, trial.exit_code, None, t0 + trial.end, False)
        self._ends[key] = end
        self.clock.schedule(end.time, end)

    def stop(self, key: Key) -> None:
        if key in self.stops or key not in self._ends:
            return
        at = self.clock.now + self.stop_delay
        natural = self._ends[key]
        if natural.time <= at:
            return  # it ends by itself before the stop lands
        self.stops[key] = self.clock.now
        self.clock.cutoff[key] = at
        self._ends[key] = Exited(key, -15, None, at, True)
        self.clock.schedule(at, self._ends[key])

    def kill_all(self) -> None:
        for key in list(self._ends):
            self.stop(key)

    def close(self) -> None:
        pass


def run_simulated(
    spec,
    behaviour: Callable[[Launch], SimTrial],
    runs_dir,
    *,
    devices=None,
    reporter=None,
    **executor_options,
):
    """Create ``spec``'s job in ``runs_dir`` and run it to its end on a :class:`SimExecutor`.

    ``devices``: the :class:`~hpt.devices.Plan` of GPUs (default: the spec's listed devices,
    none for ``gpus: auto``, so nothing is looked up). Returns ``(result, executor)``: the
    :class:`~hpt.api.JobResult`, and the executor (its clock's ``now`` is the virtual time the
    job took; :attr:`SimExecutor.launches` every launch).
    """
    import math
    from pathlib import Path

    from ..api import result_of
    from ..devices import Plan
    from ..jobs import create_or_reopen
    from ..runner import Runner

    sim = SimExecutor(behaviour, **executor_options)
    store, spec, _ = create_or_reopen(spec, Path(runs_dir))
    if devices is None and spec.resources is not None and spec.resources.gpus is not None:
        devices = Plan(spec.resources.gpus, spec.resources.gpus_per_trial, "resources.gpus")
    try:
        runner = Runner(
            spec,
            store,
            sim.factory,
            reporter,
            seed=store.job().seed,
            clock=sim.clock,
            poll_interval=math.inf,
            devices=devices,
        )
        runner.run()
        return result_of(store, spec), sim
    finally:
        store.close()


__all__ = ["SimClock", "SimExecutor", "SimTrial", "run_simulated"]
