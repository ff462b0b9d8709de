"""Running one trial attempt as a subprocess: the code every executor shares.

``run_attempt`` starts the command under the launcher (``hpt/_launcher.py``), streams its
stdout and stderr line by line as they come (split on ``\\n`` and ``\\r`` so progress bars
work), writes both to log files, and reports through ``emit``: :class:`Started`, then
:class:`Output` events (batches of lines), then exactly one :class:`Exited`.

Bounds, so that no trial output can exhaust hpt: a line is cut to :data:`MAX_LINE_BYTES` (the
rest of it is dropped until the next newline), and each log file keeps its first
:data:`LOG_HEAD_BYTES` and its last :data:`LOG_TAIL_BYTES`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from ..metrics import MAX_LINE
from .base import Event, Exited, Launch, Output, Started

MAX_LINE_BYTES = MAX_LINE * 4  # UTF-8: at most 4 bytes a character
LOG_HEAD_BYTES = 64 * 1024 * 1024
LOG_TAIL_BYTES = 1024 * 1024
LAUNCHER = str(Path(__file__).resolve().parent.parent / "_launcher.py")

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


def open_new(path: Path) -> int:
    """A file descriptor for writing ``path`` afresh, never through a symbolic link."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)


def make_dirs(path: Path, inside: Path | None = None) -> None:
    """``mkdir -p`` that refuses a symbolic link in ``path`` below ``inside`` (what hpt writes
    stays in the job's directory)."""
    path.mkdir(parents=True, exist_ok=True)
    if inside is not None:
        p = path
        while p != inside and inside in p.parents:
            if p.is_symlink():
                raise OSError(errno.ELOOP, "a symbolic link in the job directory", str(p))
            p = p.parent


class CappedLog:
    """A log file that keeps the first ``head`` bytes and the last ``tail`` bytes.

    Unbuffered: what a trial prints is in the file as soon as it is read (``hpt logs --follow``
    shows it live); a write is one read of the pipe, so this costs one system call per read.
    A write that fails (a full disk) ends the log, not the trial: the output still reaches hpt,
    and the log says where it was cut.
    """

    def __init__(self, path: Path, head: int = LOG_HEAD_BYTES, tail: int = LOG_TAIL_BYTES):
        self._f = os.fdopen(open_new(path), "wb", buffering=0)
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


def trial_environment(extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")  # Python trials stream their lines as they print
    env.update(extra)
    return env


def run_attempt(launch: Launch, emit: Callable[[Event], None], stop: StopSignal) -> None:
    """Run one attempt to its end. Always emits exactly one :class:`Exited`, last.

    Setting ``stop`` stops the trial at once (SIGTERM to its group, SIGKILL after the grace
    period); the caller closes it after this returns.
    """
    key = launch.key
    log_dir = Path(launch.log_dir)
    try:
        make_dirs(log_dir, inside=log_dir.parents[2] if len(log_dir.parents) > 2 else None)
        logs = {stream: CappedLog(log_dir / f"{stream}.log") for stream in ("stdout", "stderr")}
    except OSError as exc:
        emit(
            Exited(
                key, None, f"cannot write the attempt's logs in {log_dir}: {exc.strerror or exc}", time.time()
            )
        )
        return
    try:
        status_r, status_w = os.pipe()
        try:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-I",
                    "-S",
                    LAUNCHER,
                    str(status_w),
                    str(os.getpid()),
                    str(launch.grace),
                    "--",
                    *launch.argv,
                ],
                cwd=launch.cwd,
                env=trial_environment(launch.env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=(status_w,),
                start_new_session=True,
            )
        finally:
            os.close(status_w)
    except OSError as exc:
        for log in logs.values():
            log.close(0)
        emit(Exited(key, None, f"cannot start the trial: {exc.strerror or exc}", time.time()))
        return
    exited = []

    def tracked(event: Event) -> None:
        if isinstance(event, Exited):
            exited.append(event)
        emit(event)

    try:
        _supervise(launch, proc, status_r, tracked, stop, logs)
    except Exception as exc:  # a bug here must not leave the runner waiting forever
        _signal_group(proc.pid, signal.SIGKILL)
        if not exited:
            emit(Exited(key, None, f"internal error while watching the trial: {exc!r}", time.time()))


def _supervise(launch, proc, status_r, emit, stop, logs) -> None:
    key = launch.key
    host = socket.gethostname()
    totals = {"stdout": 0, "stderr": 0}
    splitters = {"stdout": LineSplitter(), "stderr": LineSplitter()}
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ, "stdout")
    sel.register(proc.stderr, selectors.EVENT_READ, "stderr")
    sel.register(status_r, selectors.EVENT_READ, "status")
    sel.register(stop, selectors.EVENT_READ, "wake")

    status_buf = b""
    child_pgid = None
    exit_code: int | None = None
    signalled: bool | None = None
    error: str | None = None
    term_at = None
    launcher_gone_at = None
    try:
        while any(sk.data != "wake" for sk in sel.get_map().values()):
            for sk, _ in sel.select(timeout=0.1):
                if sk.data == "wake":  # the stop request, handled below
                    sel.unregister(sk.fileobj)
                    continue
                fd = sk.fd if sk.data == "status" else sk.fileobj.fileno()
                data = os.read(fd, 65536)
                if not data:
                    sel.unregister(sk.fileobj)
                    continue
                if sk.data == "status":
                    status_buf += data
                    while b"\n" in status_buf:
                        msg, status_buf = status_buf.split(b"\n", 1)
                        word, _, rest = msg.decode(errors="replace").partition(" ")
                        if word == "started":
                            child_pgid = int(rest)
                            emit(Started(key, proc.pid, child_pgid, host))
                        elif word == "exit":
                            code, _, flag = rest.partition(" ")
                            exit_code, signalled = int(code), flag == "1"
                        elif word in ("notfound", "error"):
                            error = rest
                    continue
                stream = sk.data
                totals[stream] += len(data)
                logs[stream].write(data)
                lines = tuple(t for t in splitters[stream].feed(data) if t)
                if lines:
                    emit(Output(key, stream, lines, time.time()))
            now = time.monotonic()
            if stop.is_set() and term_at is None:
                term_at = now
                _signal(proc.pid, signal.SIGTERM)
            if term_at is not None and now - term_at > launch.grace + 2.0:
                # The launcher did not finish the job: kill both groups outright.
                if child_pgid:
                    _signal_group(child_pgid, signal.SIGKILL)
                _signal_group(proc.pid, signal.SIGKILL)
            if launcher_gone_at is None and proc.poll() is not None:
                launcher_gone_at = now
            elif launcher_gone_at is not None and now - launcher_gone_at > 2.0:
                # Something escaped the process group and holds our pipes open: stop reading.
                if child_pgid:
                    _signal_group(child_pgid, signal.SIGKILL)
                break
    finally:
        for stream, splitter in splitters.items():
            lines = tuple(t for t in splitter.flush() if t)
            if lines:
                emit(Output(key, stream, lines, time.time()))
        for stream, log in logs.items():
            log.close(totals[stream])
        sel.close()
        for f in (proc.stdout, proc.stderr):
            f.close()
        os.close(status_r)
        rc = proc.wait()
        if exit_code is None and error is None:
            exit_code = rc if rc < 0 else -signal.SIGKILL
            signalled = term_at is not None
    emit(Exited(key, exit_code, error, time.time(), signalled))


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
