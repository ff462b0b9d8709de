"""The default executor: each attempt is a subprocess on this machine, watched by a thread."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import threading

from .base import Event, Key, Launch, Started
from .proc import StopSignal, run_attempt


class LocalExecutor:
    """Runs attempts under the trial supervisor (``hpt/_launcher.py``), one thread each."""

    name = "local"

    def __init__(self, events: queue.Queue[Event]):
        self._events = events
        self._stops: dict[Key, StopSignal] = {}
        self._threads: dict[Key, threading.Thread] = {}
        self._groups: dict[Key, int] = {}  # the command's process group, once it runs
        self._lock = threading.Lock()

    def start(self, launch: Launch) -> None:
        stop = StopSignal()
        # The watching thread also starts the process: the launcher's parent-death signal
        # fires when the thread that forked it ends, so that thread must outlive the trial.
        thread = threading.Thread(
            target=self._run,
            args=(launch, stop),
            name=f"trial-{launch.trial_id}.{launch.attempt}",
            daemon=True,
        )
        with self._lock:
            self._stops[launch.key] = stop
            self._threads[launch.key] = thread
        thread.start()

    def _run(self, launch: Launch, stop: StopSignal) -> None:
        def emit(event: Event) -> None:
            if isinstance(event, Started) and event.pgid:
                with self._lock:
                    self._groups[event.key] = event.pgid
            self._events.put(event)

        try:
            run_attempt(launch, emit, stop)
        finally:
            with self._lock:
                self._stops.pop(launch.key, None)
                self._threads.pop(launch.key, None)
                self._groups.pop(launch.key, None)
            stop.close()

    def stop(self, key: Key) -> None:
        with self._lock:
            stop = self._stops.get(key)
        if stop is not None:
            stop.set()

    def kill_all(self) -> None:
        """SIGKILL every running command's process group at once (no grace period)."""
        with self._lock:
            groups = list(self._groups.values())
        for pgid in groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)

    def close(self) -> None:
        with self._lock:
            threads = list(self._threads.values())
            for stop in self._stops.values():
                stop.set()
        for t in threads:
            t.join(timeout=30)
