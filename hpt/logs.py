"""A trial's output (``hpt logs``): the log file of one attempt, and following it while it runs.

Each attempt's output is in ``<job dir>/trials/NNNN/attempt-N/stdout.log`` and ``stderr.log``
(see docs/store.md). :func:`locate` finds one from the store (opened read-only);
:func:`stream` copies it to a binary stream, and with ``follow`` keeps copying what the trial
prints until its attempt has ended, looking at the store every ``poll`` seconds.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .errors import HptError, TrialNotFoundError, UsageError
from .paths import attempt_dir
from .store import Store
from .trial import PENDING, RUNNING

POLL = 0.2
_CHUNK = 1 << 16


@dataclass(frozen=True)
class LogFile:
    trial_id: int
    attempt: int
    path: Path


def locate(store: Store, trial_id: int, attempt: int | None = None, stderr: bool = False) -> LogFile:
    """The log of ``attempt`` (default: the latest) of trial ``trial_id``."""
    trials = store.trials()
    trial = next((t for t in trials if t.id == trial_id), None)
    if trial is None:
        have = f"trials 1-{len(trials)}" if trials else "no trials yet"
        raise TrialNotFoundError(f"job {store.job().name!r} has no trial {trial_id} (it has {have})")
    if trial.attempts == 0:
        raise HptError(f"trial {trial_id} has not started yet ({trial.state}): no output to show")
    if attempt is None:
        attempt = trial.attempts
    elif not 1 <= attempt <= trial.attempts:
        runs = "attempt 1" if trial.attempts == 1 else f"attempts 1-{trial.attempts}"
        raise UsageError(f"trial {trial_id} has {runs}; there is no attempt {attempt}")
    # From the job directory as it is now (a job directory may have been moved).
    path = attempt_dir(store.dir.resolve(), trial_id, attempt) / ("stderr.log" if stderr else "stdout.log")
    return LogFile(trial_id, attempt, path)


def attempt_running(store: Store, trial_id: int, attempt: int) -> bool:
    """Is this attempt still running under a live runner?

    The store says running; when the runner that wrote that died (``kill -9``), on this host,
    the attempt is not running any more, whatever the store says.
    """
    rows = [a for a in store.attempts(trial_id) if a.attempt == attempt]
    if not rows or rows[0].state not in (RUNNING, PENDING):
        return False
    job = store.job()
    if job.runner_pid and job.runner_host == socket.gethostname():
        try:
            os.kill(job.runner_pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # alive, another user's
    return True


def stream(
    log: LogFile,
    out: BinaryIO,
    *,
    follow: bool = False,
    running: Callable[[], bool] | None = None,
    poll: float = POLL,
    interrupted: Callable[[], bool] | None = None,
) -> int:
    """Copy the log to ``out``; with ``follow``, keep copying while ``running()`` is true, and
    what is left once it is not, or until ``interrupted()``. Returns the bytes copied.

    A log that does not exist yet is empty while the attempt runs (its process is starting).
    """
    copied = 0
    pos = 0
    while True:
        # Read ``running`` before the file: what was printed before the attempt ended is in the
        # file by then, so the read after a False sees all of it.
        alive = follow and running is not None and running()
        try:
            with open(log.path, "rb") as f:
                f.seek(pos)
                while chunk := f.read(_CHUNK):
                    out.write(chunk)
                    copied += len(chunk)
                    pos += len(chunk)
        except FileNotFoundError:
            if not alive and not (running is not None and running()):
                raise HptError(
                    f"no output recorded for trial {log.trial_id} attempt {log.attempt} ({log.path} is missing)"
                ) from None
        out.flush()
        if not alive or (interrupted is not None and interrupted()):
            return copied
        time.sleep(poll)


__all__ = ["LogFile", "POLL", "attempt_running", "locate", "stream"]
