"""The default executor: every attempt is a subprocess on this machine, all of them under one
trial supervisor, their output read by one thread."""

from __future__ import annotations

import queue
import threading

from ..errors import EnvironmentFailure
from .base import Event, Key, Launch
from .proc import AttemptIO


class LocalExecutor:
    """Runs attempts under the trial supervisor (``hpt/_supervisor.py``), started once per run.

    One thread owns the supervisor and reads every attempt's output; a trial costs one fork and
    exec of its command.
    """

    name = "local"

    def __init__(self, events: queue.Queue[Event]):
        self._events = events
        self._closing = threading.Event()
        self._ready = threading.Event()
        self._io = AttemptIO(events.put)
        # The thread that starts the supervisor must outlive it: it is this one, which runs
        # until close() (the supervisor stops every trial when it ends), or the main thread,
        # which started a spare one (hpt run).
        self._thread = threading.Thread(target=self._loop, name="hpt-trials", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        try:
            self._io.start_supervisor(spare=True)
        finally:
            self._ready.set()
        try:
            while not (self._closing.is_set() and self._io.idle):
                self._io.step(0.5)
        finally:
            self._io.close()

    def start(self, launch: Launch) -> None:
        """Start ``launch``; raises :class:`~hpt.errors.EnvironmentFailure` once the supervisor
        has died (killed from outside hpt): no trial can start here any more."""
        self._ready.wait(timeout=60)
        sup = self._io.supervisor
        if sup is not None and not sup.alive:
            raise EnvironmentFailure(
                f"the trial supervisor died (exit {sup.proc.returncode}); its trials were stopped"
            )
        self._io.add(launch)

    def expect(self, log_dirs: list[str]) -> None:
        """The log directories of attempts coming next (made while nothing else is to be done)."""
        self._io.expect(log_dirs)

    def stop(self, key: Key) -> None:
        self._io.stop(key)

    def kill_all(self) -> None:
        """SIGKILL every running command's process group and its other processes, at once."""
        self._io.kill_all()

    def close(self) -> None:
        """Stop what still runs, wait for the attempts to end, and stop the supervisor."""
        self._closing.set()
        self._io.stop_all()
        self._thread.join(timeout=60)
