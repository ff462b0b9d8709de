"""Where a job's files live: ``<runs dir>/<job>/job.db``, ``trials/NNNN/attempt-N/``.

Job names are checked here, so no name can point outside the runs directory.
"""

from __future__ import annotations

import re
from pathlib import Path

from .errors import UsageError
from .trial import IN_PROGRESS

DB_NAME = "job.db"
NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,63}$")


def default_runs_dir() -> Path:
    """``$HPT_RUNS_DIR``, else ``./hpt-runs``."""
    import os

    return Path(os.environ.get("HPT_RUNS_DIR") or "hpt-runs")


def check_name(name: str) -> str:
    """A job name that cannot escape the runs directory, or :class:`UsageError`."""
    if not isinstance(name, str) or "\x00" in name or not NAME_RE.fullmatch(name):
        raise UsageError(
            f"invalid job name {name!r}: use 1-63 letters, digits, '-' or '_' (no '/', '..' or NUL)"
        )
    return name


def job_dir(runs_dir: str | Path, name: str) -> Path:
    """``<runs_dir>/<name>``, refusing any name that could point elsewhere."""
    return Path(runs_dir) / check_name(name)


def trial_dir(jdir: Path, trial_id: int) -> Path:
    return jdir / "trials" / f"{trial_id:04d}"


def attempt_dir(jdir: Path, trial_id: int, attempt: int) -> Path:
    return trial_dir(jdir, trial_id) / f"attempt-{attempt}"


def list_jobs(runs_dir: Path) -> list[Path]:
    """The job directories in ``runs_dir`` (those with a database), by name."""
    if not runs_dir.is_dir():
        return []
    return sorted(p for p in runs_dir.iterdir() if (p / DB_NAME).is_file() and NAME_RE.fullmatch(p.name))


NO_RUNNER = "interrupted: no runner"


def runner_gone(jdir: Path, status: str) -> bool:
    """A job in progress whose lock no process holds: its runner died or was killed."""
    if status != IN_PROGRESS:
        return False
    from .store import JobLock

    try:
        return not JobLock(jdir).held_by_other()
    except OSError:
        return False


def job_reason(jdir: Path, name: str, status: str, end_reason: str | None) -> str | None:
    """The reason shown for a job: the one recorded, or, for a job in progress that no runner
    holds, that it was interrupted and how to go on."""
    return f"{NO_RUNNER} (hpt resume {name})" if runner_gone(jdir, status) else end_reason
