"""One exception hierarchy. The CLI turns these into one-line messages and exit codes."""

from __future__ import annotations

from dataclasses import dataclass


class HptError(Exception):
    """Base of every error hpt reports to a user. ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class UsageError(HptError):
    """The command line or its arguments are wrong."""

    exit_code = 2


@dataclass(frozen=True)
class Problem:
    """One finding about a spec: where it is and what is wrong."""

    path: str
    line: int | None
    col: int | None
    message: str
    severity: str = "error"  # "error" | "warning"

    def __str__(self) -> str:
        where = self.path or "<spec>"
        if self.line is not None:
            where += f" (line {self.line}, col {self.col})"
        return f"{where}: {self.message}"


class SpecError(HptError):
    """A spec is invalid. Carries every problem found, not just the first."""

    exit_code = 2

    def __init__(self, source: str, problems: list[Problem]):
        self.source = source
        self.problems = problems
        first = str(problems[0]) if problems else "invalid spec"
        super().__init__(f"{source}: {first}")


class StoreError(HptError):
    """The job store refused an operation (for example writing a finished trial)."""


class TrialFinishedError(StoreError):
    """A finished trial is never written again."""


class JobExistsError(HptError):
    """`hpt run` was asked to create a job that already exists with a different spec."""

    exit_code = 2


class JobNotFoundError(HptError):
    exit_code = 2


class TrialNotFoundError(HptError):
    """A job has no trial with the id asked for."""

    exit_code = 2


class JobLockedError(HptError):
    """Another live hpt process is running this job."""

    exit_code = 2


class DependencyError(HptError):
    """An optional dependency (an extra) is not installed."""

    exit_code = 2


class StoredSpecError(HptError):
    """A job's stored spec cannot be read: written by a newer hpt, or damaged."""

    exit_code = 2


class EnvironmentFailure(HptError):
    """The job cannot go on where it runs (a full disk, a read-only directory). It was stopped
    (its running trials interrupted) and continues with ``hpt resume`` once that is fixed."""


class JobCreatedMeanwhile(JobLockedError, StoreError):
    """Two runs created the same job at once: this one lost (exit 2), and the other runs it."""

    exit_code = 2
