"""The Python API: run a tuning job, resume it, or load one, and read what it found.

>>> import hpt
>>> result = hpt.run("specs/digits-svc-random.yaml")        # doctest: +SKIP
>>> result.status, result.best.objective, result.best.hyperparameters  # doctest: +SKIP

:func:`run` and :func:`resume` block until the job ends (Ctrl-C stops it gracefully: the
result's status is then ``Stopped`` and the job can be resumed); :func:`load` reads a job,
finished or running, without changing it. Every function raises :class:`~hpt.errors.HptError`
(an invalid spec: :class:`~hpt.errors.SpecError`, with every problem and its line) for a user
mistake. The command line (``hpt.cli``) is a thin layer over these functions.
"""

from __future__ import annotations

import contextlib
import io
import signal
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TextIO

from .errors import JobNotFoundError, UsageError
from .paths import check_name, default_runs_dir, job_dir, job_reason, trial_dir
from .reporting import QuietReporter, Reporter, Sheltered, console
from .trial import (
    IN_PROGRESS,
    JOB_COMPLETED,
    JOB_STOPPED,
    RUNNING,
    TRIAL_STATES,
    Trial,
    best_trial,
    state_counts,
)

if TYPE_CHECKING:
    from .store import AttemptRow

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def exit_code(status: str) -> int:
    """Documented exit codes: 0 completed, 1 failed, 130 stopped or interrupted."""
    if status == JOB_COMPLETED:
        return EXIT_OK
    if status == JOB_STOPPED:
        return EXIT_INTERRUPTED
    return EXIT_FAILED


@dataclass(frozen=True)
class Best:
    """The best trial of a job: the one whose objective counts and is best."""

    trial_id: int
    objective: float
    hyperparameters: dict[str, Any]
    static: dict[str, Any]
    state: str
    step: int | None
    trial_dir: str


@dataclass(frozen=True)
class JobResult:
    """A job as it stands: its status, every trial, and the best one.

    :meth:`to_dict` is the document ``hpt show JOB -o json`` prints. ``last_attempts`` holds
    each trial's latest attempt (its devices, slot, exact argv and added environment);
    ``metrics`` the last ``(step, value)`` of every metric of each trial's latest attempt (a
    running trial's current values).
    """

    name: str
    status: str
    reason: str | None
    spec: Any = field(repr=False)
    trials: tuple[Trial, ...]
    best: Best | None
    elapsed: float
    job_dir: Path
    random_seed: int
    last_attempts: dict[int, AttemptRow] = field(default_factory=dict, repr=False)
    metrics: dict[int, dict[str, tuple[int, float]]] = field(default_factory=dict, repr=False)
    #: Under ``warm_start``: its type, and per parent job how many of its trials there were,
    #: how many inform the strategy, and why the others do not (:func:`hpt.warmstart.summary`).
    warm_start: dict[str, Any] | None = None

    @property
    def exit_code(self) -> int | None:
        """What ``hpt run`` exits with for this job; None while it is in progress."""
        return None if self.status == IN_PROGRESS else exit_code(self.status)

    @property
    def counts(self) -> dict[str, int]:
        """Trials per state."""
        return state_counts(self.trials)

    def scaling(self) -> dict[str, str]:
        """The scaling each numeric parameter got (``auto`` resolved)."""
        return {
            p.name: (f"{p.scaling} (auto)" if p.requested_scaling == "auto" else p.scaling)
            for p in self.spec.space.params
            if p.kind != "categorical"
        }

    def to_dict(self, trials: bool = True) -> dict[str, Any]:
        """The job as one JSON-ready document (non-finite numbers are left for
        :func:`hpt.report.dumps` to write as null). ``trials``: include ``trial_list``."""
        spec = self.spec
        doc: dict[str, Any] = {
            "job": self.name,
            "status": self.status,
            "reason": self.reason,
            "exit_code": self.exit_code,
            "strategy": spec.strategy,
            "objective": {
                "metric": spec.objective.metric,
                "type": spec.objective.type,
                "use": spec.objective.use,
            },
            "max_jobs": spec.limits.max_jobs,
            "trials": len(self.trials),
            "counts": self.counts,
            "best": None,
            "scaling": self.scaling(),
            "elapsed_seconds": round(self.elapsed, 3),
            "job_dir": str(self.job_dir),
            "random_seed": self.random_seed,
            "warm_start": self.warm_start,
        }
        if self.best is not None:
            b = self.best
            doc["best"] = {
                "trial_id": b.trial_id,
                "state": b.state,
                "objective": b.objective,
                "step": b.step,
                "hyperparameters": b.hyperparameters,
                "static": b.static,
                "trial_dir": b.trial_dir,
            }
        if trials:
            doc["trial_list"] = [self._trial_doc(t) for t in self.trials]
        return doc

    def current(self, trial: Trial) -> tuple[int, float] | None:
        """A running trial's latest objective point ``(step, value)``; None otherwise."""
        if trial.state != RUNNING:
            return None
        return self.metrics.get(trial.id, {}).get(self.spec.objective.metric)

    def _trial_doc(self, t: Trial) -> dict[str, Any]:
        att = self.last_attempts.get(t.id)
        current = self.current(t)
        return {
            "trial_id": t.id,
            "state": t.state,
            "objective": t.objective,
            "step": t.objective_step,
            "hyperparameters": t.params,
            "attempts": t.attempts,
            "reason": t.reason,
            "info": t.info,
            "metrics": {name: value for name, (_, value) in self.metrics.get(t.id, {}).items()},
            "current": None if current is None else {"step": current[0], "value": current[1]},
            "devices": att.devices if att is not None else None,
        }


def result_of(store, spec) -> JobResult:
    """The :class:`JobResult` of an open store, read now."""
    from .warmstart import summary

    with store.reading():  # one state of the job, even while a runner writes it
        job = store.job()
        trials = tuple(store.trials())
        last_attempts = {a.trial_id: a for a in store.attempts()}  # in attempt order: the latest wins
        metrics = store.final_points()
        prior = store.prior() if spec.warm_start is not None else None
    jdir = store.dir.resolve()
    best = best_trial(trials, spec.objective.maximize)
    reason = job_reason(jdir, job.name, job.status, job.end_reason)
    return JobResult(
        name=job.name,
        status=job.status,
        reason=reason,
        spec=spec,
        trials=trials,
        best=None
        if best is None
        else Best(
            trial_id=best.id,
            objective=best.objective,
            hyperparameters=dict(best.params),
            static={k: v.value for k, v in spec.static},
            state=best.state,
            step=best.objective_step,
            trial_dir=str(trial_dir(jdir, best.id)),
        ),
        elapsed=job.elapsed,
        job_dir=jdir,
        random_seed=job.seed,
        last_attempts=last_attempts,
        metrics=metrics,
        warm_start=summary(spec, prior) if prior is not None else None,
    )


# ---------------------------------------------------------------------------- running


def _runs_dir(runs_dir: str | Path | None) -> Path:
    return Path(runs_dir) if runs_dir is not None else default_runs_dir()


def _as_spec(spec):
    from .spec import Spec, load_spec, parse_spec

    if isinstance(spec, Spec):
        return spec
    if isinstance(spec, Mapping):
        import yaml

        return parse_spec(yaml.safe_dump(dict(spec), sort_keys=False), source="<dict>", base_dir=Path.cwd())
    if isinstance(spec, (str, Path)):
        return load_spec(spec)
    raise UsageError(f"a spec is a path, a dict or a Spec (got {type(spec).__name__})")


@contextlib.contextmanager
def _stop_on_signals(runner):
    """Ctrl-C, SIGTERM and SIGHUP (the terminal closed, the ssh connection dropped) stop the job
    (a second one kills its trials). Only the main thread can install handlers; elsewhere the
    job is stopped with ``hpt stop``."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_signal(_signum, _frame):
        runner.request_stop()

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def execute(
    store, spec, overrides, reporter: Reporter, executor: str | None = None, address=None, devices=None
):
    """Run a created or reopened job to its end under this process; returns the ending.

    ``devices`` is the run's :class:`~hpt.devices.Plan` (found from the spec when None)."""
    from . import devices as dev
    from .executors import executor_factory
    from .jobs import prepare
    from .runner import Runner
    from .store import JobLock

    for w in spec.warnings:
        reporter.note(f"{spec.source}: warning: {w}")
    plan = devices if devices is not None else dev.plan(spec, executor)
    for text in plan.notes(spec.limits.max_parallel_jobs):
        reporter.note(text)
    factory = executor_factory(spec, executor, address)
    # The runner connects its executor (a Dask scheduler may be unreachable) before the job is
    # locked and marked in progress, so such a failure leaves the job as it was.
    runner = Runner(spec, store, factory, reporter, seed=store.job().seed, devices=plan)
    lock = JobLock(store.dir)
    try:
        prepare(store, spec, lock, overrides)
    except BaseException:
        runner.executor.close()
        raise
    try:
        with _stop_on_signals(runner):
            return runner.run()
    finally:
        lock.release()


def _reporter(reporter: Reporter | None, quiet: bool, report: bool = False) -> Reporter:
    if reporter is None:
        if quiet:
            reporter = QuietReporter()
        else:
            from .progress import make_reporter

            reporter = make_reporter(console(stderr=True))
    # Output that goes away (a closed pipe or terminal) silences the progress, not the job.
    reporter = Sheltered(reporter)
    if report:
        from .htmlreport import ReportReporter
        from .reporting import TeeReporter

        reporter = TeeReporter(reporter, ReportReporter(note=reporter.note))
    return reporter


def run(
    spec,
    *,
    runs_dir: str | Path | None = None,
    name: str | None = None,
    quiet: bool = True,
    reporter: Reporter | None = None,
    executor: str | None = None,
    address: str | None = None,
    report: bool = False,
    restart: bool = False,
) -> JobResult:
    """Run a tuning job to its end and return its result.

    ``spec`` is a path to a spec file, a dict with the same content, or a
    :class:`~hpt.spec.Spec`. The job lives in ``<runs_dir>/<name>`` (default runs directory:
    ``$HPT_RUNS_DIR`` or ``./hpt-runs``; default name: the spec's). An unfinished job with the
    same spec is resumed; ``restart=True`` deletes an existing job of that name first (not a
    running one) and starts over. ``quiet=False`` shows progress on standard error;
    ``reporter`` replaces that progress display; ``report=True`` keeps
    ``<job dir>/report.html`` current as trials end (see :func:`report`).
    """
    import dataclasses

    from . import devices as dev
    from .jobs import create_or_reopen, delete_job, raised_limits, stored_spec

    spec = _as_spec(spec)
    if name is not None:
        spec = dataclasses.replace(spec, name=check_name(name))
    reporter = _reporter(reporter, quiet, report)
    plan = dev.plan(spec, executor)  # before the job exists: no GPU found leaves nothing behind
    if restart and (job_dir(_runs_dir(runs_dir), spec.name) / "job.db").exists():
        trials, status = delete_job(_runs_dir(runs_dir), spec.name)
        reporter.note(f"deleted the existing job {spec.name} ({status}, {trials} trials): starting over")
    store, effective, resumed = create_or_reopen(spec, _runs_dir(runs_dir))
    try:
        overrides = None
        if resumed:
            overrides = {**store.job().overrides, **raised_limits(stored_spec(store), spec)}
            reporter.note(f"job {spec.name} exists and is unfinished: resuming it")
        execute(store, effective, overrides, reporter, executor, address, plan)
        return result_of(store, effective)
    finally:
        store.close()


def resume(
    job: str,
    *,
    runs_dir: str | Path | None = None,
    max_jobs: int | None = None,
    max_parallel_jobs: int | None = None,
    max_runtime: str | float | None = None,
    quiet: bool = True,
    reporter: Reporter | None = None,
    executor: str | None = None,
    address: str | None = None,
    report: bool = False,
) -> JobResult:
    """Continue a job after a crash, Ctrl-C or ``hpt stop``; raise its limits to extend it.
    ``quiet``, ``reporter`` and ``report`` as for :func:`run`. The GPUs are found again: a
    resumed job may run on other devices."""
    from .jobs import reopen

    store, spec, overrides = reopen(
        _runs_dir(runs_dir),
        job,
        {"max_jobs": max_jobs, "max_parallel_jobs": max_parallel_jobs, "max_runtime": max_runtime},
    )
    try:
        execute(store, spec, overrides, _reporter(reporter, quiet, report), executor, address)
        return result_of(store, spec)
    finally:
        store.close()


@contextlib.contextmanager
def open_job(job: str, runs_dir: str | Path | None = None, *, readonly: bool = False):
    """``(store, spec)`` of an existing job, closed on exit; ``readonly``: a connection that
    cannot write (for views; the job may be running)."""
    from .jobs import stored_spec
    from .store import Store

    jdir = job_dir(_runs_dir(runs_dir), job)
    if not (jdir / "job.db").exists():
        raise JobNotFoundError(f"no job named {job!r} in {_runs_dir(runs_dir)} (see `hpt list`)")
    store = Store.open(jdir, readonly=readonly)
    try:
        yield store, stored_spec(store)
    finally:
        store.close()


def load(job: str, *, runs_dir: str | Path | None = None) -> JobResult:
    """An existing job's result, read now (the job may be running)."""
    with open_job(job, runs_dir, readonly=True) as (store, spec):
        return result_of(store, spec)


# ---------------------------------------------------------------------------- views


def report(job: str, *, out: str | Path | None = None, runs_dir: str | Path | None = None) -> Path:
    """Write the job's HTML report (default ``<job dir>/report.html``) and return its path.

    One self-contained file that opens offline: summary, optimization history, learning
    curves, parallel coordinates, parameter importance, slice plots, every trial, failures by
    reason. The job is read, never changed; it may be running.
    """
    from . import htmlreport
    from .snapshot import read

    with open_job(job, runs_dir, readonly=True) as (store, spec):
        snap = read(store, spec)
    return htmlreport.write(snap, Path(out) if out is not None else snap.job_dir / htmlreport.REPORT_NAME)


def export(
    job: str,
    format: str = "csv",
    *,
    points: bool = False,
    out: str | Path | TextIO | None = None,
    runs_dir: str | Path | None = None,
) -> str | None:
    """The job's trials as ``csv`` or ``jsonl`` (one row per trial; ``points=True``: every
    metric point in long form). Columns: docs/export.md. Written to ``out`` (a path or a text
    stream); returned as a string when ``out`` is None.
    """
    from .export import FORMATS
    from .export import export as write_export
    from .snapshot import read

    if format not in FORMATS:
        raise UsageError(f"unknown export format {format!r}: use one of {', '.join(FORMATS)}")
    with open_job(job, runs_dir, readonly=True) as (store, spec):
        snap = read(store, spec)
        if out is None:
            buf = io.StringIO(newline="")
            write_export(store, snap, buf, format, points)
            return buf.getvalue()
        if isinstance(out, (str, Path)):
            with open(out, "w", newline="", encoding="utf-8") as f:
                write_export(store, snap, f, format, points)
        else:
            write_export(store, snap, out, format, points)
    return None


def logs(
    job: str,
    trial: int,
    *,
    attempt: int | None = None,
    stderr: bool = False,
    follow: bool = False,
    out: BinaryIO | None = None,
    runs_dir: str | Path | None = None,
    interrupted: Callable[[], bool] | None = None,
) -> int:
    """Copy a trial's output (stdout, or ``stderr``) to the binary stream ``out`` (default:
    standard output); ``attempt`` defaults to the latest. ``follow``: keep copying what it
    prints until the attempt ends, or until ``interrupted()`` is true. Returns the bytes
    copied."""
    import sys

    from . import logs as trial_logs

    with open_job(job, runs_dir, readonly=True) as (store, _spec):
        log = trial_logs.locate(store, trial, attempt, stderr)
        return trial_logs.stream(
            log,
            out if out is not None else sys.stdout.buffer,
            follow=follow,
            running=lambda: trial_logs.attempt_running(store, log.trial_id, log.attempt),
            interrupted=interrupted,
        )


__all__ = [
    "Best",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "JobResult",
    "TRIAL_STATES",
    "execute",
    "exit_code",
    "export",
    "load",
    "logs",
    "open_job",
    "report",
    "result_of",
    "resume",
    "run",
]
