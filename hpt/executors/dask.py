"""Trials on a Dask distributed cluster, with the same protocol as the local executor.

Each attempt is one Dask task that runs :func:`hpt.executors.proc.run_attempt` on a worker: the
same supervisor (one per worker process, started by its first task), process group,
parent-death signal and line splitting as locally. Its events
(batches of lines, start, exit) come back as they happen through the worker's ``log_event``
on the executor's topic, each tagged with its attempt. Logs are written on the runner's
machine from those events; the worker keeps its own copy under its local directory.

Stopping: ``Client.cancel`` does not stop a running task, so each attempt has a
``distributed.Event``, which a thread on the worker waits for; setting it makes the worker stop
the trial at once (SIGTERM to its process group, SIGKILL after the grace period). The task
returns as soon as its trial has exited, without waiting for that thread.

A worker that dies: the trial's processes die with it (parent-death signal), the attempt ends
with ``worker lost`` and hpt retries it under ``limits.max_retries``. Dask would otherwise
run the task again on another worker by itself; a "claim" event per attempt makes such a
silent second run return at once, so a trial never restarts behind hpt's back.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import queue
import re
import socket
import threading
import time
import uuid
from pathlib import Path

from ..errors import DependencyError, HptError
from .base import Event, Exited, Key, Launch, Output, Started
from .proc import CappedLog, StopSignal, make_attempt_dir, run_attempt

INSTALL = "pip install 'hpt[dask]'"
#: Output streamed back per attempt before only metric lines are sent (the worker's own log
#: keeps everything, capped like a local log).
STREAM_LIMIT = 64 * 1024 * 1024
_EXIT_GRACE = 5.0  # after a task ends, how long its last events may still be in flight
#: How long one wait of a worker's stop watcher lasts on the scheduler. A set event ends the
#: wait at once, so this bounds only how long a watcher outlives its trial, not the stop.
_STOP_POLL = 0.3


def _import_distributed():
    try:
        import distributed
    except ImportError:
        raise DependencyError(f"the dask executor needs Dask distributed: {INSTALL}") from None
    return distributed


# ---------------------------------------------------------------------------- on the worker


def _encode(event: Event) -> dict:
    if isinstance(event, Output):
        return {"k": "out", "stream": event.stream, "lines": list(event.lines), "time": event.time}
    if isinstance(event, Started):
        return {"k": "start", "pid": event.pid, "pgid": event.pgid, "host": event.host}
    return {
        "k": "exit",
        "code": event.exit_code,
        "error": event.error,
        "time": event.time,
        "signalled": event.signalled,
    }


def run_on_worker(launch: dict, topic: str, stop_name: str, claim_name: str, patterns: list[str]) -> str:
    """The Dask task of one attempt. Returns "done", or "lost" when Dask ran it a second time."""
    from distributed import Event as DEvent
    from distributed import get_client, get_worker

    worker, client = get_worker(), get_client()
    claim = DEvent(claim_name, client=client)
    if claim.is_set():
        return "lost"  # the first run's worker died; hpt decides about retries, not Dask
    claim.set()
    spec = Launch(**{**launch, "argv": tuple(launch["argv"])})
    local_logs = (
        Path(worker.local_directory) / "hpt" / f"{spec.trial_id:04d}-{spec.attempt}-{uuid.uuid4().hex[:6]}"
    )
    spec = dataclasses.replace(spec, log_dir=str(local_logs))
    compiled = [re.compile(p) for p in patterns]
    sent = [0]

    def emit(event: Event) -> None:
        if isinstance(event, Output):
            size = sum(len(x) for x in event.lines)
            if sent[0] + size > STREAM_LIMIT:
                lines = tuple(x for x in event.lines if any(p.search(x) for p in compiled))
                if not lines:
                    return
                event = dataclasses.replace(event, lines=lines)
            sent[0] += size
        if isinstance(event, Started):
            event = dataclasses.replace(event, host=f"{socket.gethostname()} {worker.address}")
        worker.log_event(topic, {"key": list(spec.key), **_encode(event)})

    if not os.path.isdir(spec.cwd):
        emit(
            Exited(
                spec.key,
                None,
                f"working directory {spec.cwd} does not exist on worker {worker.address}",
                time.time(),
            )
        )
        return "done"
    stop = StopSignal()
    remote = DEvent(stop_name, client=client)
    finished = threading.Event()

    def watch() -> None:
        while not finished.is_set():
            with contextlib.suppress(Exception):
                if remote.wait(timeout=_STOP_POLL) and not finished.is_set():
                    stop.set()
                    return

    # The watcher is never joined: the task returns, and frees its worker slot, as soon as the
    # trial has exited. The thread ends by itself after its current wait (a stop that lands
    # meanwhile finds the signal closed, which ignores it).
    threading.Thread(target=watch, name=f"hpt-stop-{spec.trial_id}-{spec.attempt}", daemon=True).start()
    try:
        # Waits in this task's thread until the trial has ended; the worker's one supervisor
        # (started by its first task) runs it.
        run_attempt(spec, emit, stop)
    finally:
        finished.set()
        stop.close()
    return "done"


# ---------------------------------------------------------------------------- on the runner


@dataclasses.dataclass
class _Attempt:
    key: Key
    launch: Launch
    stop_name: str
    future: object = None
    worker: str | None = None
    exited: bool = False
    done_at: float | None = None
    logs: dict = dataclasses.field(default_factory=dict)
    sizes: dict = dataclasses.field(default_factory=lambda: {"stdout": 0, "stderr": 0})


class DaskExecutor:
    """Runs attempts on a Dask cluster. ``resources`` maps to Dask worker resources."""

    name = "dask"

    def __init__(
        self, events: queue.Queue[Event], address: str, resources: dict[str, float] | None = None, patterns=()
    ):
        distributed = _import_distributed()
        self._d = distributed
        self._events = events
        self._resources = dict(resources or {}) or None
        self._patterns = list(patterns)
        self._run = uuid.uuid4().hex[:10]
        # One topic for every attempt of this executor: the scheduler keeps a bounded log per
        # topic and never forgets a topic, so a topic per attempt would grow without end.
        self._topic = f"hpt-{self._run}"
        _check_reachable(address)
        try:
            self.client = distributed.Client(address, timeout="10s", set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise HptError(f"cannot connect to the Dask scheduler at {address}: {exc}") from None
        self._lock = threading.Lock()
        self._attempts: dict[Key, _Attempt] = {}
        # The subscription handler runs on the client's event loop and must never block it:
        # it hands events to this queue; a thread writes logs and feeds the runner's queue.
        self._handoff: queue.SimpleQueue = queue.SimpleQueue()
        self._closing = False
        self._forwarder = threading.Thread(target=self._forward, name="hpt-dask-forward", daemon=True)
        self._forwarder.start()
        self._monitor = threading.Thread(target=self._watch_workers, name="hpt-dask-monitor", daemon=True)
        self._monitor.start()
        self.client.subscribe_topic(self._topic, self._received)

    # ---- protocol

    def start(self, launch: Launch) -> None:
        t, a = launch.key
        base = f"hpt-{self._run}-{t}-{a}"
        att = _Attempt(launch.key, launch, stop_name=base + "-stop")
        with self._lock:
            self._attempts[launch.key] = att
        payload = dataclasses.asdict(launch)
        future = self.client.submit(
            run_on_worker,
            payload,
            self._topic,
            att.stop_name,
            base + "-claim",
            self._patterns,
            key=base,
            pure=False,
            retries=0,
            resources=self._resources,
        )
        att.future = future
        future.add_done_callback(lambda f, key=launch.key: self._handoff.put((key, {"k": "done"})))

    def stop(self, key: Key) -> None:
        with self._lock:
            att = self._attempts.get(key)
        if att is not None and not att.exited:
            with contextlib.suppress(Exception):
                self._d.Event(att.stop_name, client=self.client).set()

    def kill_all(self) -> None:
        # A worker's trials can only be reached through their stop events; the worker's
        # supervisor turns a stop into SIGKILL after the grace period.
        with self._lock:
            keys = [k for k, a in self._attempts.items() if not a.exited]
        for key in keys:
            self.stop(key)

    def close(self) -> None:
        with self._lock:
            keys = [k for k, a in self._attempts.items() if not a.exited]
        for key in keys:
            self.stop(key)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with self._lock:
                if all(a.exited for a in self._attempts.values()):
                    break
            time.sleep(0.05)
        self._closing = True
        self._handoff.put(None)
        self._forwarder.join(timeout=5)
        with contextlib.suppress(Exception):
            self.client.unsubscribe_topic(self._topic)
        with contextlib.suppress(Exception):
            self.client.close(timeout=10)

    # ---- event handling (forwarder thread)

    def _received(self, event) -> None:
        """A message from a worker, on the client's event loop: hand it over, never block."""
        msg = event[1]
        with contextlib.suppress(Exception):
            self._handoff.put((tuple(msg["key"]), msg))

    def _forward(self) -> None:
        while True:
            item = self._handoff.get()
            if item is None:
                return
            key, msg = item
            with self._lock:
                att = self._attempts.get(key)
            if att is None or att.exited:
                continue
            kind = msg.get("k")
            if kind == "out":
                self._log(att, msg["stream"], msg["lines"])
                self._events.put(Output(key, msg["stream"], tuple(msg["lines"]), msg["time"]))
            elif kind == "start":
                att.worker = msg["host"].split(" ", 1)[-1]
                self._events.put(Started(key, msg["pid"], msg["pgid"], msg["host"]))
            elif kind == "exit":
                self._finish(att, Exited(key, msg["code"], msg["error"], msg["time"], msg.get("signalled")))
            elif kind == "done":
                att.done_at = time.monotonic()
                self._check_done(att)
            elif kind == "lost":
                self._finish(att, Exited(key, None, msg["error"], time.time()))

    def _check_done(self, att: _Attempt) -> None:
        future = att.future
        if future is None or att.exited:
            return
        error = None
        try:
            if future.status == "error":
                error = f"worker lost or task failed: {future.exception()!r}"
            elif future.status == "cancelled":
                error = "the Dask task was cancelled"
            elif future.result() == "lost":
                error = "worker lost: the worker running this trial died"
        except Exception as exc:  # noqa: BLE001 - any failure to read the outcome means it is lost
            error = f"worker lost: {exc!r}"
        if error:
            self._finish(att, Exited(att.key, None, error, time.time()))

    def _finish(self, att: _Attempt, exited: Exited) -> None:
        with self._lock:
            if att.exited:
                return
            att.exited = True
        for stream, log in att.logs.items():
            if log is not None:
                log.close(att.sizes[stream])
        self._events.put(exited)

    def _log(self, att: _Attempt, stream: str, lines: list[str]) -> None:
        if stream not in att.logs:
            path = Path(att.launch.log_dir)
            try:
                make_attempt_dir(path)
                att.logs[stream] = CappedLog(path / f"{stream}.log")
            except OSError:
                att.logs[stream] = None  # no log here; the worker keeps its own copy
        data = ("\n".join(lines) + "\n").encode("utf-8", errors="replace")
        att.sizes[stream] += len(data)
        if att.logs[stream] is not None:
            att.logs[stream].write(data)

    # ---- worker loss (monitor thread)

    def _watch_workers(self) -> None:
        while not self._closing:
            time.sleep(0.5)
            with self._lock:
                waiting = [a for a in self._attempts.values() if not a.exited]
            if not waiting:
                continue
            try:
                alive = set(self.client.run_on_scheduler(_worker_addresses))
            except Exception:  # noqa: BLE001 - scheduler busy or reconnecting: look again later
                continue
            now = time.monotonic()
            for att in waiting:
                if att.worker and att.worker not in alive:
                    # Report first: the cancel's own completion message must come second.
                    lost = f"worker lost: {att.worker} left the cluster while the trial ran"
                    self._handoff.put((att.key, {"k": "lost", "error": lost}))
                    with contextlib.suppress(Exception):
                        att.future.cancel()

                elif att.done_at is not None and now - att.done_at > _EXIT_GRACE:
                    self._handoff.put(
                        (
                            att.key,
                            {
                                "k": "lost",
                                "error": "the trial's task ended without reporting how the trial exited",
                            },
                        )
                    )


def _check_reachable(address: str) -> None:
    """Fail at once when nothing listens at a ``tcp://`` address (Dask would retry for its
    whole connect timeout first)."""
    m = re.fullmatch(r"tcp://\[?([^\]]+?)\]?:(\d+)", address)
    if m is None:
        return
    try:
        socket.create_connection((m.group(1), int(m.group(2))), timeout=5).close()
    except OSError as exc:
        raise HptError(f"cannot connect to the Dask scheduler at {address}: {exc.strerror or exc}") from None


def _worker_addresses(dask_scheduler=None) -> list[str]:
    return list(dask_scheduler.workers)
