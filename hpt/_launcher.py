"""Trial supervisor, run as ``python -I -S _launcher.py STATUS_FD PARENT_PID GRACE -- argv...``.

It sits between hpt and a trial so that no trial process outlives its trial:

* it asks the kernel for SIGTERM when its parent (the hpt thread that started it) dies
  (``PR_SET_PDEATHSIG``), and checks that the parent did not die before that;
* it becomes a child subreaper (``PR_SET_CHILD_SUBREAPER``): a descendant that double-forks or
  calls ``setsid`` to leave the trial's process group is re-parented to this process, not to
  init, so it is still found;
* it starts the trial command (an argv list, never a shell) in a new process group;
* on SIGTERM, SIGINT or SIGHUP it sends SIGTERM to the group and to every other descendant,
  then SIGKILL after the grace period;
* when the command exits, it kills and reaps whatever the command left behind.

Out of its reach: processes a trial has started through something else (a service manager,
``ssh``, a container runtime), which are not its descendants.

It reports on STATUS_FD: ``started PID``, then ``exit CODE SIGNALLED`` (CODE negative: killed
by that signal; SIGNALLED 1 if the stop reached the command while it ran, 0 if it ended on its
own), ``notfound MESSAGE`` or ``error MESSAGE``. Standard library only: it must start fast.
"""

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
_REAP_DEADLINE = 5.0  # seconds to wait for killed leftovers to be reaped


def _prctl(option: int, value: int) -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(option, int(value), 0, 0, 0) == 0
    except (OSError, AttributeError):  # not Linux: process groups still apply
        return False


def _child_setup() -> None:
    # The command itself dies if this supervisor is killed outright.
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _kill(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def descendants(root: int) -> list[int]:
    """Every live process below ``root`` (from /proc; empty where there is none)."""
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 1 and fields[0] != b"Z":
            children.setdefault(int(fields[1]), []).append(int(entry))
    out, todo = [], [root]
    while todo:
        for pid in children.get(todo.pop(), ()):
            out.append(pid)
            todo.append(pid)
    return out


def _alive(pid: int) -> bool:
    """Is ``pid`` running (not gone, not a zombie)? Read from /proc, so it is safe in a signal
    handler that may interrupt ``Popen.wait``."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return not os.path.isdir("/proc/self")  # without /proc, assume it runs
    return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] != b"Z"


def _reap() -> None:
    """Collect the exit status of every child that has ended (orphans re-parented here)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _kill_leftovers() -> None:
    me = os.getpid()
    deadline = time.monotonic() + _REAP_DEADLINE
    while time.monotonic() < deadline:
        left = descendants(me)
        if not left:
            return
        for pid in left:
            _kill(pid, signal.SIGKILL)
        time.sleep(0.01)
        _reap()


def main() -> int:
    status_fd, parent, grace = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    argv = sys.argv[5:]
    status = os.fdopen(status_fd, "w", buffering=1)
    requested: list[int] = []
    running: list[subprocess.Popen] = []  # the command, once started
    term_at: list[float] = []  # when SIGTERM went out
    signalled: list[bool] = []  # the SIGTERM reached the command while it still ran

    def terminate() -> None:
        if not running or term_at:
            return
        term_at.append(time.monotonic())
        if _alive(running[0].pid):
            signalled.append(True)
        _killpg(running[0].pid, signal.SIGTERM)
        for pid in descendants(os.getpid()):  # those that left the group
            _kill(pid, signal.SIGTERM)

    def on_signal(signum, _frame):
        requested.append(signum)
        # Forward at once rather than at the next poll of the loop below (up to 50 ms later):
        # a trial stopped early must not go on training meanwhile.
        terminate()

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    if os.getppid() != parent:  # hpt died before we could ask to be told
        status.write("error hpt exited before the trial started\n")
        return 1
    if requested:
        status.write("exit -15 1\n")
        return 0
    try:
        child = subprocess.Popen(argv, start_new_session=True, preexec_fn=_child_setup)
    except FileNotFoundError:
        status.write(f"notfound command not found: {argv[0]}\n")
        return 127
    except PermissionError:
        status.write(f"error permission denied: {argv[0]} is not executable\n")
        return 126
    except OSError as exc:
        status.write(f"error cannot start {argv[0]}: {exc.strerror or exc}\n")
        return 126
    status.write(f"started {child.pid}\n")
    running.append(child)
    while True:
        try:
            rc = child.wait(timeout=0.05)
            break
        except subprocess.TimeoutExpired:
            pass
        if requested and not term_at:  # a signal that came before the command existed
            terminate()
        elif term_at and time.monotonic() - term_at[0] > grace:
            _killpg(child.pid, signal.SIGKILL)
            for pid in descendants(os.getpid()):
                _kill(pid, signal.SIGKILL)
    # Whatever the command left running, in its group or out of it, goes with it.
    _killpg(child.pid, signal.SIGKILL)
    _kill_leftovers()
    status.write(f"exit {rc} {1 if signalled else 0}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
