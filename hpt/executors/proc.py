"""Running trial attempts as subprocesses: the code every executor shares.

:class:`AttemptIO` starts commands under the trial supervisor (``hpt/_supervisor.py``, one
process for many trials), streams their stdout and stderr line by line as they come (split on
``\\n`` and ``\\r`` so progress bars work), writes both to log files, and reports through
``emit``: :class:`Started`, then :class:`Output` events (batches of lines), then exactly one
:class:`Exited` per attempt. :func:`run_attempt` runs a single attempt in the calling thread
(the Dask executor's tasks).

Bounds, so that no trial output can exhaust hpt: a line is cut to :data:`MAX_LINE_BYTES` (the
rest of it is dropped until the next newline), and each log file keeps its first
:data:`LOG_HEAD_BYTES` and its last :data:`LOG_TAIL_BYTES`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import itertools
import json
import os
import re
import select
import selectors
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..metrics import MAX_LINE
from .base import Event, Exited, Key, Launch, Output, Started

MAX_LINE_BYTES = MAX_LINE * 4  # UTF-8: at most 4 bytes a character
LOG_HEAD_BYTES = 64 * 1024 * 1024
LOG_TAIL_BYTES = 1024 * 1024
SUPERVISOR = str(Path(__file__).resolve().parent.parent / "_supervisor.py")
MESSAGE_MAX = 1 << 20
#: After a trial's exit, how long its pipes may stay open (held by something that escaped).
_PIPE_GRACE = 2.0

_BREAK = re.compile(rb"\r\n|\r|\n")


class LineSplitter:
    """Bytes in, complete lines out. Lines break at ``\\n``, ``\\r\\n`` and ``\\r``; a line longer
    than ``limit`` bytes is cut there and the rest of it is dropped."""

    def __init__(self, limit: int = MAX_LINE_BYTES):
        self.limit = limit
        self._buf = b""
        self._dropping = False
        self._pending_cr = False

    def feed(self, data: bytes) -> list[str]:
        if self._pending_cr and data.startswith(b"\n"):
            data = data[1:]  # the \n of a \r\n split across two reads
        self._pending_cr = data.endswith(b"\r")
        buf = self._buf + data
        parts = _BREAK.split(buf)
        self._buf = parts.pop()
        out = []
        for part in parts:
            if self._dropping:
                self._dropping = False
                continue
            out.append(part[: self.limit].decode("utf-8", errors="replace"))
        if len(self._buf) > self.limit:
            if not self._dropping:
                out.append(self._buf[: self.limit].decode("utf-8", errors="replace"))
                self._dropping = True
            self._buf = b""
        return out

    def flush(self) -> list[str]:
        rest, self._buf = self._buf, b""
        if rest and not self._dropping:
            return [rest[: self.limit].decode("utf-8", errors="replace")]
        self._dropping = False
        return []


def open_new(path: str | Path, exclusive: bool = False) -> int:
    """A file descriptor for writing ``path`` afresh, never through a symbolic link
    (``exclusive``: a file that must not exist yet)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    return os.open(path, flags | (os.O_EXCL if exclusive else os.O_TRUNC), 0o644)


def _still_there(fd: int, path: str) -> bool:
    """Whether ``path`` is still the file ``fd`` was opened on (nothing removed or replaced it,
    or a directory above it, since it was made ahead)."""
    try:
        st, at = os.fstat(fd), os.lstat(path)
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == (at.st_dev, at.st_ino)


def write_json(path: str | Path, data: Any) -> None:
    """``data`` as indented JSON, never through a link: straight into the file if it does not
    exist yet (nothing can be reading it), else written whole in a temporary file renamed over
    it."""
    text = (json.dumps(data, indent=2) + "\n").encode()
    path = os.fspath(path)
    try:
        _write_all(open_new(path, exclusive=True), text)
        return
    except FileExistsError:
        pass
    head, name = os.path.split(path)
    tmp = os.path.join(head, f".{name}.{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    _write_all(open_new(tmp, exclusive=True), text)
    os.replace(tmp, path)


def _write_all(fd: int, data: bytes) -> None:
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def make_dirs(path: str | Path, inside: str | Path | None = None) -> bool:
    """``mkdir -p`` that refuses a symbolic link in ``path`` below ``inside`` (what hpt writes
    stays in the job's directory). Returns whether ``path`` itself was made here (so it is
    empty)."""
    path = os.fspath(path)
    try:
        os.mkdir(path)
        made = True
    except FileNotFoundError:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return make_dirs(path, inside)
    except FileExistsError:
        made = False
    if inside is not None:
        base = os.fspath(inside).rstrip(os.sep) or os.sep
        below = base if base.endswith(os.sep) else base + os.sep
        p = path if not made else os.path.dirname(path)  # one just made is no link
        while p.startswith(below) and p != base:
            if stat.S_ISLNK(os.lstat(p).st_mode):
                raise OSError(errno.ELOOP, "a symbolic link in the job directory", p)
            p = os.path.dirname(p)
    return made


def make_attempt_dir(path: str | Path) -> bool:
    """An attempt's directory (``JOB/trials/NNNN/attempt-N``), with no link below the job's."""
    path = os.fspath(path)
    return make_dirs(path, inside=os.path.dirname(os.path.dirname(os.path.dirname(path))))


class CappedLog:
    """A log file that keeps the first ``head`` bytes and the last ``tail`` bytes.

    Unbuffered: what a trial prints is in the file as soon as it is read (``hpt logs --follow``
    shows it live); a write is one read of the pipe, so this costs one system call per read.
    A write that fails (a full disk) ends the log, not the trial: the output still reaches hpt,
    and the log says where it was cut.
    """

    def __init__(
        self,
        path: str | Path,
        head: int = LOG_HEAD_BYTES,
        tail: int = LOG_TAIL_BYTES,
        exclusive: bool = False,
    ):
        self.path = path
        self._f = os.fdopen(open_new(path, exclusive=exclusive), "wb", buffering=0)
        self.head, self.tail = head, tail
        self.written = 0
        self._tail: deque[bytes] = deque()
        self._tail_size = 0
        self.error: OSError | None = None

    def _put(self, data: bytes) -> None:
        view = memoryview(data)
        while view:  # an unbuffered write may be partial
            view = view[self._f.write(view) :]

    def write(self, data: bytes) -> None:
        if self.error is not None:
            return
        room = self.head - self.written
        if room > 0:
            try:
                self._put(data[:room])
            except OSError as exc:
                self.error = exc
                return
            self.written += min(room, len(data))
            data = data[room:]
        if data:
            self._tail.append(data)
            self._tail_size += len(data)
            while self._tail_size - len(self._tail[0]) >= self.tail:
                self._tail_size -= len(self._tail.popleft())

    def fileno(self) -> int:
        return self._f.fileno()

    def close(self, total: int) -> None:
        try:
            if self.error is not None:
                self._put(f"\n[hpt: the log stops here: {self.error.strerror or self.error}]\n".encode())
            elif self._tail:
                kept = b"".join(self._tail)[-self.tail :]
                skipped = total - self.written - len(kept)
                if skipped > 0:
                    self._put(f"\n[hpt: {skipped} bytes of output not kept in this log]\n".encode())
                self._put(kept)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            self._f.close()


class StopSignal:
    """A request to stop one attempt, which also wakes the thread supervising it.

    That thread waits on the trial's pipes; a plain flag would be seen only at the trial's next
    output line or poll, and a trial stopped early at a rung would meanwhile train (and print)
    one more epoch. Writing to a pipe that the thread also watches sends the SIGTERM at once.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._r, self._w = os.pipe()
        os.set_blocking(self._w, False)
        self._closed = False

    def set(self) -> None:
        with self._lock:
            if self._event.is_set():
                return
            self._event.set()
            if not self._closed:  # never write to a closed (perhaps reused) descriptor
                with contextlib.suppress(OSError):
                    os.write(self._w, b"x")

    def is_set(self) -> bool:
        return self._event.is_set()

    def fileno(self) -> int:
        return self._r

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                os.close(self._r)
                os.close(self._w)


class SupervisorProcess:
    """hpt's end of the trial supervisor (``hpt/_supervisor.py``): one small process that starts
    and watches trials, talked to over a ``SOCK_SEQPACKET`` socket.

    It must be started by a thread that lives as long as it is needed: the supervisor is told
    of that thread's end (``PR_SET_PDEATHSIG``) and then stops every trial.
    """

    def __init__(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", "-S", SUPERVISOR, str(theirs.fileno()), str(os.getpid())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C at the terminal reaches hpt, which stops trials
            )
        finally:
            theirs.close()
        self.sock = ours
        self._lock = threading.Lock()
        self._buffer = bytearray(MESSAGE_MAX)  # one, not a new megabyte for every message

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def send(self, message: dict, fds: tuple[int, ...] = ()) -> None:
        """Raises ``OSError`` when the supervisor is gone."""
        data = json.dumps(message).encode()
        with self._lock:
            if fds:
                socket.send_fds(self.sock, [data], list(fds))
            else:
                self.sock.send(data)

    def receive(self) -> dict | None:
        """The next message, or None when the supervisor has gone."""
        try:
            n = self.sock.recv_into(self._buffer)
        except OSError:
            return None
        return json.loads(self._buffer[:n]) if n else None

    def close(self, timeout: float | None = 30.0) -> None:
        """Ask the supervisor to stop what still runs and exit; wait for it up to ``timeout``
        seconds (None: do not wait: it exits by itself once its trials have)."""
        with contextlib.suppress(OSError):
            self.send({"op": "shutdown"})
        with contextlib.suppress(OSError):
            self.sock.close()
        if timeout is None:
            return
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class _Ahead:
    """Attempt directories and logs made ahead, by a thread of their own, for the attempts an
    executor expects next: starting one of them then costs no file creation (up to a
    millisecond each on a busy disk), and the thread that reads trials' output is never held
    up making them. Only files that do not exist yet are made (never an attempt's that started),
    and :meth:`close` removes what no attempt took."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._wanted: deque[str] = deque()
        self._busy: str | None = None
        self._made: dict[str, dict[str, CappedLog]] = {}
        self._thread: threading.Thread | None = None
        self._closed = False

    def want(self, log_dirs: list[str]) -> None:
        with self._cond:
            if self._closed:
                return
            self._wanted.extend(log_dirs)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="hpt-ahead", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def take(self, log_dir: str) -> dict[str, CappedLog] | None:
        """The logs made for ``log_dir``, or None (then nothing will be made there, and nothing
        made there is given if it was removed or replaced since)."""
        with self._cond:
            while self._busy == log_dir:
                self._cond.wait()
            with contextlib.suppress(ValueError):
                self._wanted.remove(log_dir)
            logs = self._made.pop(log_dir, None)
        if logs is not None and not all(
            _still_there(log.fileno(), os.fspath(log.path)) for log in logs.values()
        ):
            for log in logs.values():
                log.close(0)
            return None
        return logs

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._wanted and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                log_dir = self._busy = self._wanted.popleft()
            logs = None
            try:
                make_attempt_dir(log_dir)
                logs = _open_logs(log_dir, exclusive=True)
            except OSError:
                pass  # made, or reported, when the attempt starts
            with self._cond:
                self._busy = None
                if logs is not None:
                    self._made[log_dir] = logs
                self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            while self._busy is not None:
                self._cond.wait()
            made, self._made = self._made, {}
        for log_dir, logs in made.items():
            for log in logs.values():
                log.close(0)
                with contextlib.suppress(OSError):
                    os.unlink(log.path)
            for d in (log_dir, os.path.dirname(log_dir)):  # the trial's, if nothing else is in it
                with contextlib.suppress(OSError):
                    os.rmdir(d)


def _open_logs(log_dir: str, exclusive: bool = False) -> dict[str, CappedLog]:
    """An attempt's two logs, opened afresh (``exclusive``: files that must not exist yet)."""
    logs: dict[str, CappedLog] = {}
    try:
        for stream in ("stdout", "stderr"):
            logs[stream] = CappedLog(os.path.join(log_dir, f"{stream}.log"), exclusive=exclusive)
    except OSError:
        for log in logs.values():
            log.close(0)
        raise
    return logs


def _subreaper() -> None:
    """Make this process a child subreaper (Linux; elsewhere nothing happens)."""
    from .._supervisor import PR_SET_CHILD_SUBREAPER, _prctl

    _prctl(PR_SET_CHILD_SUBREAPER, 1)


def kill_orphans(envs: list[dict[str, str]], within: float = 2.0) -> int:
    """SIGKILL and reap this process's children (re-parented here when their supervisor died)
    that carry the ``HPT_JOB_DIR``/``HPT_TRIAL_ID``/``HPT_ATTEMPT`` of one of ``envs``, with
    their process groups and descendants; looks again for ``within`` seconds, as descendants
    are re-parented in turn. Returns how many processes were killed."""
    from .. import _supervisor as sup

    keys = sup.MARKER_KEYS
    markers = [frozenset(f"{k}={e[k]}".encode() for k in keys) for e in envs if all(k in e for k in keys)]
    if not markers:
        return 0
    pending: set[int] = set()  # killed, not reaped yet
    total, quiet_since = 0, None
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = [
            p
            for p in set(sup._children(every_thread=True)) - pending
            if any(m <= sup._environ(p) for m in markers)
        ]
        for pid in found:
            for p in [*sup._descendants(pid), pid]:
                sup._kill(p, signal.SIGKILL)
            sup._killpg(pid, signal.SIGKILL)
        pending.update(found)
        total += len(found)
        # Reaped only once killed: a zombie keeps its pid, so no kill above reached another process.
        for pid in list(pending):
            try:
                reaped = os.waitpid(pid, os.WNOHANG)[0] != 0
            except ChildProcessError:
                reaped = True
            if reaped:
                pending.discard(pid)
        if found or pending:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > 0.2:
            break
        time.sleep(0.02)
    return total


@dataclass
class _Attempt:
    launch: Launch
    logs: dict[str, CappedLog]
    reads: dict[str, int]  # stream -> read end of its pipe, while open
    splitters: dict[str, LineSplitter] = field(
        default_factory=lambda: {"stdout": LineSplitter(), "stderr": LineSplitter()}
    )
    totals: dict[str, int] = field(default_factory=lambda: {"stdout": 0, "stderr": 0})
    ended: Exited | None = None  # known from the supervisor; emitted once the output is read
    ended_at: float = 0.0


def _key(key) -> str:
    return f"{key[0]}.{key[1]}"


class AttemptIO:
    """Runs attempts under one supervisor and turns their output into events, in order:
    :class:`Started`, :class:`Output` (batches of lines, also written to the attempt's logs),
    then exactly one :class:`Exited` once the supervisor reported the exit and the output is
    all read.

    :meth:`start_supervisor` and :meth:`step` must be called by one thread, which outlives the
    supervisor (the supervisor is told of that thread's end); :meth:`add`, :meth:`stop` and
    :meth:`kill_all` may be called from any thread once the supervisor runs: an attempt is
    started by the thread that adds it, with no hand-over (its directory and logs are usually
    made ahead, see :meth:`expect`).
    """

    def __init__(self, emit: Callable[[Event], None]):
        self.emit = emit
        self.host = socket.gethostname()
        self.supervisor: SupervisorProcess | None = None
        self._sel = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._lock = threading.Lock()
        self._attempts: dict[str, _Attempt] = {}
        self._ahead = _Ahead()
        self._closed = False

    # ---- any thread

    def add(self, launch: Launch) -> None:
        self._start(launch)

    def stop(self, key) -> None:
        self._request("stop", _key(key))

    def kill_all(self) -> None:
        with self._lock:
            keys = list(self._attempts)
        for k in keys:
            self._request("kill", k)

    def stop_all(self) -> None:
        with self._lock:
            keys = list(self._attempts)
        for k in keys:
            self._request("stop", k)
        self._wake()

    def expect(self, log_dirs: list[str]) -> None:
        """Attempts that will be started with these log directories: they are made ahead (see
        :class:`_Ahead`), and what is never started is removed by :meth:`close`."""
        self._ahead.want(log_dirs)

    @property
    def idle(self) -> bool:
        with self._lock:
            return not self._attempts

    def _request(self, op: str, k: str) -> None:
        with self._lock:
            running = k in self._attempts  # else it has ended already: nothing to stop
        if running and self.supervisor is not None:
            with contextlib.suppress(OSError):
                self.supervisor.send({"op": op, "key": k})

    def _wake(self) -> None:
        with self._lock:  # never after close(): the fd number may belong to another file by then
            if self._closed:
                return
            with contextlib.suppress(BlockingIOError, OSError):
                os.write(self._wake_w, b"x")

    # ---- the owning thread

    def step(self, timeout: float) -> None:
        """Read what is ready (waiting up to ``timeout``), and emit."""
        for sk, _ in self._sel.select(timeout):
            what = sk.data
            if what == "wake":
                with contextlib.suppress(BlockingIOError):
                    while os.read(self._wake_r, 4096):
                        pass
            elif what == "control":
                self._control()
            else:
                self._read(*what)
        self._finish_ready()

    def close(self, wait: bool = True) -> None:
        """Remove what was made ahead for attempts that never started, and stop the supervisor
        (``wait``: until it has exited)."""
        self._ahead.close()
        if self.supervisor is not None:
            with contextlib.suppress(KeyError, ValueError):
                self._sel.unregister(self.supervisor.sock)
            self.supervisor.close(30.0 if wait else None)
        self._sel.close()
        with self._lock:
            self._closed = True
            for fd in (self._wake_r, self._wake_w):
                with contextlib.suppress(OSError):
                    os.close(fd)

    def start_supervisor(self, spare: bool = False) -> None:
        """Start the supervisor (from the thread that will call :meth:`step`), or (``spare``)
        take the one :func:`start_spare_supervisor` started. This process becomes a child
        subreaper: should the supervisor be killed outright, its trials are re-parented here,
        and killed (see :func:`kill_orphans`)."""
        global _spare
        _subreaper()
        with _spare_lock:
            taken, _spare = (_spare if spare else None), None
        if taken is not None and not taken.alive:
            taken.close(timeout=None)
            taken = None
        self.supervisor = taken or SupervisorProcess()
        self._sel.register(self.supervisor.sock, selectors.EVENT_READ, "control")

    def _start(self, launch: Launch) -> None:
        # Runs in the caller's thread (the runner's): it never emits itself, since the runner's
        # queue may be full; what it learns goes through the owning thread.
        k = _key(launch.key)
        log_dir = launch.log_dir
        logs = self._ahead.take(log_dir)
        try:
            if logs is None:
                make_attempt_dir(log_dir)
                logs = _open_logs(log_dir)
        except OSError as exc:
            error = f"cannot write the attempt's logs in {log_dir}: {exc.strerror or exc}"
            self._fail(k, _Attempt(launch, {}, {}), error)
            return
        pipes: dict[str, tuple[int, int]] = {}
        try:
            for stream in ("stdout", "stderr"):
                pipes[stream] = os.pipe2(os.O_CLOEXEC)
                self._sel.register(pipes[stream][0], selectors.EVENT_READ, (k, stream))
        except (OSError, ValueError) as exc:  # out of descriptors
            for r, w in pipes.values():
                with contextlib.suppress(KeyError, ValueError):
                    self._sel.unregister(r)
                os.close(r)
                os.close(w)
            for log in logs.values():
                log.close(0)
            self._fail(
                k,
                _Attempt(launch, {}, {}),
                f"cannot start the trial: {getattr(exc, 'strerror', None) or exc}",
            )
            return
        attempt = _Attempt(launch, logs, {stream: r for stream, (r, _w) in pipes.items()})
        with self._lock:
            self._attempts[k] = attempt
        message = {
            "op": "start",
            "key": k,
            "argv": list(launch.argv),
            "env": launch.env,  # laid over the supervisor's environment, which is hpt's
            "cwd": launch.cwd,
            "grace": launch.grace,
        }
        try:
            if self.supervisor is None:
                raise OSError(errno.ESRCH, "the trial supervisor is not running")
            self.supervisor.send(message, (pipes["stdout"][1], pipes["stderr"][1]))
        except OSError as exc:
            self._fail(k, attempt, f"cannot start the trial: {exc.strerror or exc}")
        finally:
            for _r, w in pipes.values():
                os.close(w)

    def _fail(self, k: str, attempt: _Attempt, error: str) -> None:
        """End an attempt that could not start; the owning thread emits its exit."""
        attempt.ended_at = time.monotonic()
        attempt.ended = Exited(attempt.launch.key, None, error, time.time())
        with self._lock:
            self._attempts[k] = attempt
        self._wake()

    def _control(self) -> None:
        message = self.supervisor.receive()
        if message is None:  # the supervisor died: its trials are re-parented here
            self._sel.unregister(self.supervisor.sock)
            with self._lock:
                attempts = list(self._attempts.values())
            kill_orphans([a.launch.env for a in attempts if a.ended is None])
            for a in attempts:
                if a.ended is None:
                    a.ended = Exited(a.launch.key, None, "the trial supervisor died", time.time())
                    a.ended_at = time.monotonic()
            return
        with self._lock:
            a = self._attempts.get(message.get("key"))
        if a is None:
            return
        ev, key = message["ev"], a.launch.key
        if ev == "started":
            self.emit(Started(key, message["pid"], message["pid"], self.host))
        elif ev == "exit":
            a.ended = Exited(key, message["code"], None, message["time"], message["signalled"])
            a.ended_at = time.monotonic()
        elif ev == "error":
            a.ended = Exited(key, None, message["message"], time.time())
            a.ended_at = time.monotonic()

    def _read(self, k: str, stream: str) -> None:
        with self._lock:
            a = self._attempts.get(k)
        fd = a.reads.get(stream) if a is not None else None
        if fd is None:
            return
        data = os.read(fd, 65536)
        if not data:
            self._close_read(a, stream)
            return
        a.totals[stream] += len(data)
        a.logs[stream].write(data)
        lines = tuple(t for t in a.splitters[stream].feed(data) if t)
        if lines:
            self.emit(Output(a.launch.key, stream, lines, time.time()))

    def _close_read(self, a: _Attempt, stream: str) -> None:
        fd = a.reads.pop(stream)
        with contextlib.suppress(KeyError, ValueError):
            self._sel.unregister(fd)
        os.close(fd)

    def _finish_ready(self) -> None:
        now = time.monotonic()
        with self._lock:
            done = [
                (k, a)
                for k, a in self._attempts.items()
                # Its output is all read, or something that escaped still holds the pipes.
                if a.ended is not None and (not a.reads or now - a.ended_at > _PIPE_GRACE)
            ]
        for k, a in done:
            for stream in list(a.reads):
                self._close_read(a, stream)
            for stream, splitter in a.splitters.items():
                lines = tuple(t for t in splitter.flush() if t)
                if lines:
                    self.emit(Output(a.launch.key, stream, lines, time.time()))
            for stream, log in a.logs.items():
                log.close(a.totals[stream])
            with self._lock:
                del self._attempts[k]
            self.emit(a.ended)


class _SharedIO:
    """One supervisor for the attempts that callers' threads run one by one in this process
    (Dask tasks on a worker): a trial costs a fork and exec, not a supervisor's start.

    A daemon thread owns the supervisor and reads every attempt's output; it lives as long as
    the process, and with it the supervisor (which stops every trial when the process ends).
    Attempts are renamed inside (two jobs' attempts may share a key on one worker) and their
    events routed back to each caller under the caller's key.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._routes: dict[int, tuple[Key, Callable[[Event], None]]] = {}
        self._ids = itertools.count(1)
        self.io = AttemptIO(self._route)
        self.failed: str | None = None
        ready = threading.Event()
        self._thread = threading.Thread(target=self._loop, args=(ready,), name="hpt-trials", daemon=True)
        self._thread.start()
        ready.wait(timeout=60)

    def _loop(self, ready: threading.Event) -> None:
        try:
            try:
                self.io.start_supervisor()
            except OSError as exc:
                self.failed = f"cannot start the trial supervisor: {exc.strerror or exc}"
                return
            finally:
                ready.set()
            while self.alive or not self.io.idle:
                self.io.step(1.0)
        finally:
            self.io.close(wait=False)

    @property
    def reading(self) -> bool:
        """Whether the thread that reads the attempts' output still runs."""
        return self._thread.is_alive()

    @property
    def alive(self) -> bool:
        sup = self.io.supervisor
        return sup is not None and sup.alive

    def _route(self, event: Event) -> None:
        with self._lock:
            route = self._routes.get(event.key[0])
        if route is not None:
            with contextlib.suppress(Exception):  # the caller's own failure (run_attempt ends it)
                route[1](dataclasses.replace(event, key=route[0]))

    def add(self, launch: Launch, emit: Callable[[Event], None]) -> Key:
        """Start ``launch``; its events go to ``emit``. Returns the key to stop it by."""
        inner = next(self._ids)
        with self._lock:
            self._routes[inner] = (launch.key, emit)
        inside = dataclasses.replace(launch, trial_id=inner, attempt=0)
        self.io.add(inside)
        return inside.key

    def forget(self, key: Key) -> None:
        with self._lock:
            self._routes.pop(key[0], None)


_spare: SupervisorProcess | None = None
_spare_lock = threading.Lock()


def start_spare_supervisor() -> None:
    """Start a supervisor now, for the local executor to take when the run starts: a Python
    start (about 25 ms) that then overlaps hpt's own, instead of holding up the first trials.
    Call it from the main thread (the supervisor is told of the end of the thread that started
    it). One that no executor takes exits when hpt does (its socket closes)."""
    global _spare
    with _spare_lock:
        if _spare is None:
            with contextlib.suppress(OSError):
                _spare = SupervisorProcess()


_shared: _SharedIO | None = None
_shared_lock = threading.Lock()


def _shared_io() -> _SharedIO:
    global _shared
    with _shared_lock:
        if _shared is None or not (_shared.alive and _shared.reading):
            _shared = _SharedIO()
        return _shared


def run_attempt(launch: Launch, emit: Callable[[Event], None], stop: StopSignal) -> None:
    """Run one attempt to its end, waiting in this thread. Always emits exactly one
    :class:`Exited`, last (from the thread that reads the output).

    Setting ``stop`` stops the trial at once (SIGTERM to its group, SIGKILL after the grace
    period); the caller closes it after this returns. Every attempt run this way in a process
    shares one supervisor (:class:`_SharedIO`); the local executor has its own
    (:class:`~hpt.executors.local.LocalExecutor`).
    """
    done_r, done_w = os.pipe2(os.O_CLOEXEC)
    exited: list[Exited] = []
    guard, closed = threading.Lock(), [False]

    failed: list[Exception] = []

    def tracked(event: Event) -> None:
        with guard:  # nothing reaches the caller once this has returned, nor after its Exited
            if closed[0] or exited:
                return
            try:
                emit(event)
            except Exception as exc:
                failed.append(exc)
                os.write(done_w, b"x")
                return
            if isinstance(event, Exited):
                exited.append(event)
                os.write(done_w, b"x")

    def end(error: str) -> None:
        with guard:
            if not exited:
                exited.append(Exited(launch.key, None, error, time.time()))
                emit(exited[-1])

    shared, key = None, None
    try:
        shared = _shared_io()
        if shared.failed:
            end(shared.failed)
            return
        key = shared.add(launch, tracked)
        waits = select.poll()  # not select(): a worker may hold more than 1024 descriptors
        waits.register(done_r, select.POLLIN)
        waits.register(stop.fileno(), select.POLLIN)
        while not exited:
            ready = [fd for fd, _ in waits.poll(1000)]
            if failed:
                raise failed[0]
            if stop.fileno() in ready:
                waits.unregister(stop.fileno())
                shared.io.stop(key)
            if not ready and not shared.reading:  # nothing will ever end this attempt now
                end("the trial supervisor has gone")
    except Exception as exc:  # a bug here must not leave the runner waiting forever
        # Ended here first: the trial's own exit, once stopped, may come before otherwise.
        end(f"internal error while watching the trial: {exc!r}")
        if shared is not None and key is not None:
            shared.io.stop(key)
    finally:
        with guard:
            closed[0] = True
        if shared is not None and key is not None:
            shared.forget(key)
        os.close(done_r)
        os.close(done_w)
