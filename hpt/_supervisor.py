"""Trial supervisor, run as ``python -I -S _supervisor.py CONTROL_FD PARENT_PID``.

One small process starts and watches every trial of a run, so that no trial process outlives
its trial, nor hpt:

* it asks the kernel for SIGTERM when the hpt thread that started it ends
  (``PR_SET_PDEATHSIG``), and checks that hpt did not die before that;
* it is a child subreaper (``PR_SET_CHILD_SUBREAPER``): a descendant that double-forks or calls
  ``setsid`` to leave its trial's process group is re-parented here, not to init;
* it starts each trial command (an argv list, never a shell) in a new session with
  ``posix_spawn`` (the kernel's vfork: no copy of this process is made, so a trial costs what a
  trial started by ``xargs`` costs);
* a stop sends SIGTERM to the trial's process group and to its other descendants (found by the
  ``HPT_TRIAL_ID``/``HPT_ATTEMPT`` every trial's environment carries), then SIGKILL after the
  trial's grace period;
* when a command exits, what it left behind, in its group or out of it, is killed and reaped;
* on SIGTERM, SIGINT or SIGHUP, or when hpt closes the control socket, it stops every trial
  that way and exits.

Out of its reach: processes a trial has started through something else (a service manager,
``ssh``, a container runtime), which are not its descendants. If this process is killed with
SIGKILL, hpt (a child subreaper too) inherits the trials and kills them.

The control socket is a ``SOCK_SEQPACKET`` Unix socket: one JSON message per packet.
hpt sends ``start`` (with the trial's stdout and stderr as passed file descriptors), ``stop``,
``kill`` and ``shutdown``; this process answers ``started``, ``exit`` (the code, negative for a
signal, and whether a stop reached the command while it ran) or ``error``. Standard library
only, and started once per run.
"""

import array
import contextlib
import ctypes
import errno
import json
import os
import select
import signal
import socket
import sys
import time

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
MESSAGE_MAX = 1 << 20
LEFTOVER_SWEEP = 5.0  # seconds after a trial ends during which its leftovers are looked for
#: The variables that tell one attempt's processes from any other's (hpt sets them in every trial).
MARKER_KEYS = ("HPT_JOB_DIR", "HPT_TRIAL_ID", "HPT_ATTEMPT")


try:
    _PRCTL = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux: process groups still apply
    _PRCTL = None


def _prctl(option: int, value: int) -> bool:
    return _PRCTL is not None and _PRCTL(option, int(value), 0, 0, 0) == 0


def _kill(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _read(path: str) -> bytes:
    """A whole (/proc) file, in plain system calls: an open file object costs six more, and
    these are read for every trial that ends."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _stat(pid: int) -> bytes | None:
    try:
        stat = _read(f"/proc/{pid}/stat")
    except OSError:
        return None
    return stat[stat.rfind(b")") + 2 :]  # "state ppid ..."; comm may hold spaces and ")"


def _alive(pid: int) -> bool:
    """Running: not gone, not a zombie (without /proc, assume it runs)."""
    fields = _stat(pid)
    if fields is None:
        return not os.path.isdir("/proc/self")
    return fields[:1] != b"Z"


def _children(every_thread: bool = False) -> list[int]:
    """This process's direct children (where orphans land), from /proc: those of its main
    thread, or (``every_thread``, for a process with threads) of all of them."""
    me = os.getpid()
    try:
        tasks = os.listdir(f"/proc/{me}/task") if every_thread else [str(me)]
        out = []
        for task in tasks:
            try:
                out += [int(p) for p in _read(f"/proc/{me}/task/{task}/children").split()]
            except FileNotFoundError:
                if task == str(me):
                    raise  # no such file in this kernel: look through /proc below
                # else a thread that has just ended
        return out
    except OSError:
        pass
    out = []
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields is not None and len(fields.split()) > 1 and int(fields.split()[1]) == me:
                out.append(int(entry))
    return out


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid``, from /proc."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            kids = [int(k) for k in _read(f"/proc/{p}/task/{p}/children").split()]
        except OSError:
            kids = []
        out += kids
        todo += kids
    return out


def _environ(pid: int) -> set[bytes]:
    try:
        return set(_read(f"/proc/{pid}/environ").split(b"\0"))
    except OSError:
        return set()


_HANDLED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD)


def _executable(argv0: str, env: dict[str, str]) -> str:
    """The file ``execvpe`` would run for ``argv0``: a path as given, else the first executable
    of that name on the trial's ``PATH``. Raises ``OSError`` (ENOENT or EACCES) as exec would."""
    if os.sep in argv0:
        return argv0
    denied = None
    for d in os.get_exec_path(env):
        path = os.path.join(d or ".", argv0)
        if os.path.isfile(path):
            if os.access(path, os.X_OK):
                return path
            denied = path
    if denied is not None:
        raise PermissionError(13, "Permission denied", denied)
    raise FileNotFoundError(2, "No such file or directory", argv0)


# Reset in each trial: what this process handles, and what Python ignores (which exec keeps).
_DEFAULTED = (*_HANDLED, signal.SIGPIPE, getattr(signal, "SIGXFSZ", signal.SIGPIPE))


class _Spawner:
    """Starts commands with ``posix_spawn``: in a new session, standard input from /dev/null,
    the given descriptors as standard output and error, signals at their defaults, in ``cwd``
    (this process moves there first: ``posix_spawn`` cannot)."""

    def __init__(self) -> None:
        self.cwd: str | None = None

    def spawn(self, argv: list[str], env: dict[str, str], cwd: str, fds: list[int]) -> int:
        if cwd != self.cwd:
            os.chdir(cwd)
            self.cwd = cwd
        return os.posix_spawn(
            _executable(argv[0], env),
            argv,
            env,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, fds[0], 1),
                (os.POSIX_SPAWN_DUP2, fds[1], 2),
            ],
            setsid=True,
            setsigmask=(),
            setsigdef=_DEFAULTED,
        )


class Trial:
    """One attempt being supervised."""

    def __init__(self, key, pid: int, grace: float, marker: frozenset):
        self.key, self.pid, self.grace, self.marker = key, pid, grace, marker
        self.term_at: float | None = None
        self.signalled = False

    def processes(self) -> list[int]:
        """Its other processes: those that left its group, found by its environment."""
        if not self.marker:
            return []
        return [p for p in _everything() if p != self.pid and self.marker <= _environ(p)]


def _everything() -> list[int]:
    return _descendants(os.getpid())


class Supervisor:
    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.trials: dict[int, Trial] = {}  # by pid
        self.by_key: dict[str, Trial] = {}
        self.ended: list[tuple[frozenset, float]] = []  # markers of ended trials, until when
        self.shutdown_at: float | None = None
        self.grace = 0.0
        self.spawner = _Spawner()
        self.home = os.getcwd()
        # Read once (nothing changes it here): Python trials stream their lines unless told
        # otherwise.
        self.environ = {"PYTHONUNBUFFERED": "1", **os.environ}

    # ---- messages

    def send(self, **message) -> None:
        with contextlib.suppress(OSError):  # hpt is gone: nothing to tell
            self.sock.send(json.dumps(message).encode())

    def handle(self, message: dict, fds: list[int]) -> None:
        op = message.get("op")
        try:
            if op == "start":
                self.start(message, fds)
            elif op == "stop":
                self.stop(message["key"])
            elif op == "kill":
                self.kill(message["key"])
            elif op == "shutdown":
                self.begin_shutdown()
        finally:
            for fd in fds:
                with contextlib.suppress(OSError):
                    os.close(fd)

    def start(self, m: dict, fds: list[int]) -> None:
        key, argv = m["key"], m["argv"]
        cwd = os.path.join(self.home, m["cwd"])  # a relative one from where hpt started this process
        if self.shutdown_at is not None:
            self.send(ev="error", key=key, message="hpt is stopping", notfound=False)
            return
        if not os.path.isdir(cwd):
            self.send(ev="error", key=key, message=f"working directory {cwd} does not exist", notfound=False)
            return
        # hpt's environment (this process's), with what hpt adds for the trial laid over it.
        env = {**self.environ, **m["env"]}
        try:
            pid = self.spawner.spawn(argv, env, cwd, fds)
        except OSError as exc:
            notfound = exc.errno == errno.ENOENT and exc.filename in (argv[0], None)
            if notfound:
                message = f"command not found: {argv[0]}"
            elif exc.errno == errno.EACCES and exc.filename not in (cwd,):
                message = f"permission denied: {argv[0]} is not executable"
            else:
                message = f"cannot start {argv[0]}: {exc.strerror or exc}"
            self.send(ev="error", key=key, message=message, notfound=notfound)
            return
        marker = frozenset(f"{k}={env[k]}".encode() for k in MARKER_KEYS if k in env)
        trial = Trial(key, pid, float(m.get("grace", 5.0)), marker if len(marker) == 3 else frozenset())
        self.trials[pid] = trial
        self.by_key[key] = trial
        self.send(ev="started", key=key, pid=pid)

    def stop(self, key: str) -> None:
        trial = self.by_key.get(key)
        if trial is None or trial.term_at is not None:
            return
        trial.term_at = time.monotonic()
        trial.signalled = _alive(trial.pid)
        _killpg(trial.pid, signal.SIGTERM)
        for pid in trial.processes():
            _kill(pid, signal.SIGTERM)

    def kill(self, key: str) -> None:
        trial = self.by_key.get(key)
        if trial is None:
            return
        if trial.term_at is None:
            trial.term_at = time.monotonic()
            trial.signalled = _alive(trial.pid)
        _killpg(trial.pid, signal.SIGKILL)
        for pid in trial.processes():
            _kill(pid, signal.SIGKILL)

    def begin_shutdown(self) -> None:
        if self.shutdown_at is None:
            self.shutdown_at = time.monotonic()
            self.grace = max((t.grace for t in self.trials.values()), default=0.0)
            for trial in list(self.trials.values()):
                self.stop(trial.key)

    # ---- processes

    def reap(self) -> bool:
        """Reap the trials that exited, stop what they left, and report them; whether any were
        (the sweep for their leftovers has then run)."""
        done = []
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            trial = self.trials.pop(pid, None)
            if trial is None:
                continue  # an orphan re-parented here, now gone
            self.by_key.pop(trial.key, None)
            code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
            # Whatever the command left running goes with it: its group now, and what left the
            # group as it is re-parented here (the sweep, by the trial's environment).
            _killpg(pid, signal.SIGKILL)
            if trial.marker:
                self.ended.append((trial.marker, time.monotonic() + LEFTOVER_SWEEP))
            done.append((trial, code))
        if not done:
            return False
        self.sweep()  # once for every trial reaped here, before any is reported
        for trial, code in done:
            self.send(ev="exit", key=trial.key, code=code, signalled=trial.signalled, time=time.time())
        return True

    def sweep(self) -> None:
        """Leftovers of ended trials that showed up since (re-parented after their parent died)."""
        now = time.monotonic()
        self.ended = [(m, until) for m, until in self.ended if until > now]
        if not self.ended:
            return
        running = set(self.trials)
        for pid in _children():
            if pid in running:
                continue
            env = _environ(pid)
            if any(marker <= env for marker, _ in self.ended):
                for p in [*_descendants(pid), pid]:
                    _kill(p, signal.SIGKILL)

    def deadlines(self) -> float:
        """Kill what outlived its grace period; return seconds until the next deadline."""
        now, nearest = time.monotonic(), 1.0
        for trial in list(self.trials.values()):
            if trial.term_at is not None:
                left = trial.term_at + trial.grace - now
                if left <= 0:
                    _killpg(trial.pid, signal.SIGKILL)
                    for pid in trial.processes():
                        _kill(pid, signal.SIGKILL)
                else:
                    nearest = min(nearest, left)
        if self.ended:
            nearest = min(nearest, 0.05)
        return nearest

    def finished(self) -> bool:
        if self.shutdown_at is None:
            return False
        if not self.trials:
            return True
        return time.monotonic() - self.shutdown_at > self.grace + 5.0  # give up on the stubborn


_FDS_SPACE = socket.CMSG_SPACE(2 * array.array("i").itemsize)
_CLOEXEC = getattr(socket, "MSG_CMSG_CLOEXEC", 0)  # Linux


def _receive(sock: socket.socket, buffer: bytearray) -> tuple[bytes, list[int]]:
    """One message and the descriptors passed with it (close-on-exec, so no trial inherits
    them: posix_spawn keeps what is inheritable); ``b""`` once hpt has closed its end."""
    try:
        n, ancdata, _flags, _addr = sock.recvmsg_into([buffer], _FDS_SPACE, _CLOEXEC)
    except OSError:
        return b"", []
    fds = array.array("i")
    for level, kind, cdata in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(cdata[: len(cdata) - (len(cdata) % fds.itemsize)])
    if not _CLOEXEC:
        for fd in fds:
            os.set_inheritable(fd, False)
    return bytes(buffer[:n]), list(fds)


def main() -> int:
    control_fd, parent = int(sys.argv[1]), int(sys.argv[2])
    sock = socket.socket(fileno=control_fd)
    sock.set_inheritable(False)  # no trial gets hpt's socket (posix_spawn keeps what is inheritable)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    supervisor = Supervisor(sock)

    def on_signal(_signum, _frame):
        supervisor.begin_shutdown()

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # wakes select through the wakeup fd
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    if os.getppid() != parent:  # hpt died before we could ask to be told
        return 1
    sock_open = True
    buffer = bytearray(MESSAGE_MAX)  # one, not a new megabyte for every message
    while not supervisor.finished():
        timeout = supervisor.deadlines()
        watch = [wake_r] + ([sock] if sock_open else [])
        try:
            ready, _, _ = select.select(watch, [], [], timeout)
        except InterruptedError:
            ready = []
        if wake_r in ready:
            with contextlib.suppress(OSError):
                while os.read(wake_r, 4096):
                    pass
        if sock_open and sock in ready:
            data, fds = _receive(sock, buffer)
            if not data:  # hpt closed its end: stop everything
                sock_open = False
                supervisor.begin_shutdown()
            else:
                supervisor.handle(json.loads(data), fds)
        if not supervisor.reap():
            supervisor.sweep()
    for pid in _everything():
        _kill(pid, signal.SIGKILL)
    supervisor.reap()
    return 0


if __name__ == "__main__":
    code = main()
    os._exit(code)  # nothing left to tear down: every trial is reaped
