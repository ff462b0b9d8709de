"""Trial supervisor, run as ``python -I -S _launcher.py STATUS_FD PARENT_PID GRACE -- argv...``.

It sits between hpt and a trial so that no trial process outlives hpt:

* it asks the kernel for SIGTERM when its parent (the hpt thread that started it) dies
  (``PR_SET_PDEATHSIG``), and checks that the parent did not die before that;
* it starts the trial command (an argv list, never a shell) in a new process group;
* on SIGTERM, SIGINT or SIGHUP it sends SIGTERM to the whole group, then SIGKILL after the grace
  period, so grandchildren are stopped too;
* when the command exits, it kills whatever the command left behind in its group.

It reports on STATUS_FD: ``started PID``, then ``exit CODE`` (negative: killed by that signal),
``notfound MESSAGE`` or ``error MESSAGE``. Standard library only: it must start fast.
"""

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time

PR_SET_PDEATHSIG = 1


def _pdeathsig(sig: int) -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: process groups still apply
        pass


def _child_setup() -> None:
    # The command itself dies if this supervisor is killed outright.
    _pdeathsig(signal.SIGKILL)


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def main() -> int:
    status_fd, parent, grace = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    argv = sys.argv[5:]
    status = os.fdopen(status_fd, "w", buffering=1)
    requested: list[int] = []
    group: list[int] = []  # the command's process group, once it runs
    term_at: list[float] = []  # when SIGTERM went to that group

    def terminate() -> None:
        if group and not term_at:
            term_at.append(time.monotonic())
            _killpg(group[0], signal.SIGTERM)

    def on_signal(signum, _frame):
        requested.append(signum)
        # Forward at once rather than at the next poll of the loop below (up to 50 ms later):
        # a trial stopped early must not go on training meanwhile.
        terminate()

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    _pdeathsig(signal.SIGTERM)
    if os.getppid() != parent:  # hpt died before we could ask to be told
        status.write("error hpt exited before the trial started\n")
        return 1
    if requested:
        status.write("exit -15\n")
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
    pgid = child.pid
    group.append(pgid)
    while True:
        try:
            rc = child.wait(timeout=0.05)
            break
        except subprocess.TimeoutExpired:
            pass
        if requested and not term_at:  # a signal that came before the group existed
            terminate()
        elif term_at and time.monotonic() - term_at[0] > grace:
            _killpg(pgid, signal.SIGKILL)
    # Whatever the command left running in its group goes with it.
    _killpg(pgid, signal.SIGKILL)
    status.write(f"exit {rc}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
