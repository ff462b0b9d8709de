"""The runner: one thread owns the store and the strategies.

Loop: fill free slots (a trial to run again, or ``Sampler.ask`` -> ``Store.create_trial`` ->
``Executor.start``), then handle executor events (lines -> metric points -> ``Stopper``; exits
-> the trial's final state), then check limits and completion criteria. Executor threads only
put events on the queue.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import queue
import signal
import socket
import time
from collections import deque
from dataclasses import dataclass, field

from .executors.proc import Event, Exited, Key, Launch, Output, Started
from .metrics import MetricParser, ObjectiveTracker
from .report import best_trial
from .spec import AMT_FAILED_WITHOUT_SUCCESS, Spec, TemplateError
from .store import (
    COMPLETED,
    FAILED,
    FINISHED,
    INTERRUPTED,
    JOB_COMPLETED,
    JOB_FAILED,
    JOB_STOPPED,
    PENDING,
    RUNNING,
    STOPPED,
    Store,
    TrialRow,
    attempt_dir,
    trial_dir,
)
from .strategies import Context, make_sampler, make_stopper

#: Improvement that counts for ``max_jobs_not_improving`` and convergence (AMT: 1%).
IMPROVEMENT = 0.01
#: Points recorded per metric per attempt before thinning: beyond it only every THIN-th point
#: is recorded (and shown to stoppers); the final value is still exact.
POINTS_CAP, THIN = 20_000, 100
_STDERR_TAIL = 20
_SAVE_EVERY = 5_000


def format_seconds(s: float) -> str:
    if s >= 3600 and s % 3600 == 0:
        return f"{int(s // 3600)}h"
    if s >= 60 and s % 60 == 0:
        return f"{int(s // 60)}m"
    return f"{s:g}s"


def describe_exit(code: int, stderr_tail) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = str(-code)
        text = f"killed by signal {name}"
    else:
        text = f"exit code {code}"
    last = next((line.strip() for line in reversed(stderr_tail) if line.strip()), None)
    if last:
        text += f": {last[:300]}"
    return text


@dataclass
class _Active:
    trial: TrialRow
    attempt: int
    launch: Launch
    started: float
    parser: MetricParser
    points: list[tuple[int, float]]
    tracker: ObjectiveTracker
    counts: dict[str, int] = field(default_factory=dict)
    stderr_tail: deque = field(default_factory=lambda: deque(maxlen=_STDERR_TAIL))
    unsaved: list[tuple[str, int, float, float]] = field(default_factory=list)
    stop_kind: str | None = None  # early | timeout | user | runtime | completion
    stop_reason: str | None = None
    pgid: int | None = None
    host: str | None = None


@dataclass(frozen=True)
class Outcome:
    status: str
    reason: str


def significant(new: float, old: float | None, maximize: bool) -> bool:
    """Is ``new`` better than ``old`` by at least 1% (of ``|old|``)?"""
    if old is None:
        return True
    gain = (new - old) if maximize else (old - new)
    return gain > 0 and gain >= IMPROVEMENT * abs(old)


def convergence_window(max_jobs: int) -> int:
    return max(10, math.ceil(0.2 * max_jobs))


def converged(values: list[float], maximize: bool, max_jobs: int) -> bool:
    """The convergence rule (``completion.convergence``).

    With W = max(10, 20% of max_jobs) and at least 2W finished trials with an objective: the
    search has converged when the best objective of the last W trials' running best improved on
    the best before them by at most 1% of the spread of all objectives seen (best minus median).
    """
    w = convergence_window(max_jobs)
    if len(values) < 2 * w:
        return False
    pick = max if maximize else min
    before, now = pick(values[:-w]), pick(values)
    spread = abs(pick(values) - sorted(values)[len(values) // 2])
    gain = abs(now - before)
    return spread == 0 or gain <= IMPROVEMENT * spread


class Runner:
    """Runs (or resumes) one job until it completes, fails or is stopped."""

    def __init__(
        self,
        spec: Spec,
        store: Store,
        executor_factory,
        reporter=None,
        *,
        seed: int,
        poll_interval: float = 0.5,
    ):
        self.spec = spec
        self.store = store
        self.dir = store.dir.resolve()
        self.seed = seed
        # Bounded: an event holds at most one read (64 KiB) of output, so a flooding trial
        # blocks on the queue instead of growing hpt's memory.
        self.events: queue.Queue[Event] = queue.Queue(maxsize=256)
        self.executor = executor_factory(self.events)
        self.reporter = reporter
        self.poll_interval = poll_interval
        self.sampler = make_sampler(spec)
        self.stopper = make_stopper(spec)
        self.objective = spec.objective
        self.trials: dict[int, TrialRow] = {}
        # The same rows in id order, kept as they are added: strategies read it after every
        # objective point, so it must not be rebuilt (and sorted) each time.
        self._ordered: list[TrialRow] = []
        self.history: dict[int, list[tuple[int, float]]] = {}
        self.active: dict[Key, _Active] = {}
        self.ending: Outcome | None = None
        self._stop_signal: str | None = None
        self._force = False
        self._exhausted = False

    # ------------------------------------------------------------------ control

    def request_stop(self, force: bool = False) -> None:
        """Called from a signal handler: stop gracefully (force: kill trials at once)."""
        self._stop_signal = "user"
        self._force = self._force or force

    def context(self) -> Context:
        return Context(self.spec, self.seed, self._ordered, self.history)

    # ------------------------------------------------------------------ main loop

    def run(self) -> Outcome:
        store = self.store
        for t in store.trials():  # in id order
            self.trials[t.id] = t
            self._ordered.append(t)
        for tid, pts in store.metric_history(self.objective.metric).items():
            if self.trials[tid].finished:
                self.history[tid] = pts
        elapsed0 = store.job().elapsed
        t0 = time.monotonic()
        last_poll = t0
        if self.reporter:
            self.reporter.begin(self)
        try:
            while True:
                now = time.monotonic()
                if now - last_poll >= self.poll_interval:
                    last_poll = now
                    store.set_elapsed(elapsed0 + now - t0)
                    if store.stop_requested():
                        self._stop_signal = "user"
                if self._stop_signal and self.ending is None:
                    self._end(
                        JOB_STOPPED,
                        "stopped by the user; resume with `hpt resume " + self.spec.name + "`",
                        "user",
                    )
                if self._force:
                    self._kill_all()
                limit = self.spec.limits.max_runtime
                if limit and self.ending is None and elapsed0 + now - t0 >= limit:
                    self._end(JOB_COMPLETED, f"max_runtime ({format_seconds(limit)}) reached", "runtime")
                self._check_timeouts(now)
                if self.ending is None:
                    self._fill()
                if not self.active:
                    if self.ending is None:
                        self._end_naturally()
                    break
                try:
                    event = self.events.get(timeout=0.1)
                except queue.Empty:
                    event = None
                if event is not None:
                    self._handle(event)
                    self._drain()
                self._save_points()
                if self.reporter:
                    self.reporter.tick(self)
        finally:
            self._save_points()
            if self.active:  # an exception escaped: leave nothing running
                self._abandon()
            self.executor.close()
            store.set_elapsed(elapsed0 + time.monotonic() - t0)
        outcome = self.ending
        store.set_job_status(outcome.status, outcome.reason)
        if self.reporter:
            self.reporter.end(self, outcome)
        return outcome

    # ------------------------------------------------------------------ launching

    def _fill(self) -> None:
        limits = self.spec.limits
        while len(self.active) < limits.max_parallel_jobs and self.ending is None:
            waiting = [
                t
                for t in self.trials.values()
                if t.state in (PENDING, INTERRUPTED) and (t.id, t.attempts + 1) not in self.active
            ]
            if waiting:
                self._launch(min(waiting, key=lambda t: t.id))
                continue
            if len(self.trials) >= limits.max_jobs or self._exhausted:
                return
            # Trials that ended while the previous suggestion was computed are told to the
            # strategy before it suggests again, instead of being taken for still running (a
            # fifth of the suggestions at 4 workers missed a finished result before this).
            running = len(self.active)
            self._drain()
            if len(self.active) != running or self.ending is not None:
                continue  # a slot freed, a retry may be waiting, or the job ended: look again
            suggestion = self.sampler.ask(self.context())
            if suggestion is None:
                self._exhausted = True
                return
            trial = self.store.create_trial(suggestion.params, suggestion.info)
            self.trials[trial.id] = trial
            self._ordered.append(trial)
            self._launch(trial)

    def _launch(self, trial: TrialRow) -> None:
        attempt = trial.attempts + 1
        log_dir = attempt_dir(self.dir, trial.id, attempt)
        attempt = self.store.start_attempt(trial.id, str(log_dir))
        trial.state, trial.attempts, trial.reason = RUNNING, attempt, None
        trial.objective = trial.objective_step = None
        tdir = trial_dir(self.dir, trial.id)
        tdir.mkdir(parents=True, exist_ok=True)
        # Written at every launch (atomically), so a crash between creating the trial and
        # starting it cannot leave a trial without its params.json.
        params = {**trial.params, **{k: v.value for k, v in self.spec.static}}
        tmp = tdir / f".params.json.{os.getpid()}"
        tmp.write_text(json.dumps(params, indent=2) + "\n")
        os.replace(tmp, tdir / "params.json")
        builtins = {"trial_id": str(trial.id), "trial_dir": str(tdir), "job_dir": str(self.dir)}
        self.history[trial.id] = []
        try:
            argv, env = self.spec.render(trial.params, builtins)
        except TemplateError as exc:
            self.store.end_attempt(
                trial.id, attempt, attempt_state=FAILED, trial_state=FAILED, reason=str(exc)
            )
            trial.state, trial.reason, trial.ended = FAILED, str(exc), time.time()
            return
        env.update(
            HPT_JOB_NAME=self.spec.name,
            HPT_JOB_DIR=str(self.dir),
            HPT_TRIAL_ID=str(trial.id),
            HPT_TRIAL_DIR=str(tdir),
            HPT_ATTEMPT=str(attempt),
        )
        launch = Launch(
            trial_id=trial.id,
            attempt=attempt,
            argv=tuple(argv),
            env=env,
            cwd=str(self.spec.workdir),
            log_dir=str(log_dir),
            grace=self.spec.limits.stop_grace_period,
        )
        active = _Active(
            trial,
            attempt,
            launch,
            time.monotonic(),
            MetricParser(self.spec.metrics),
            self.history[trial.id],
            ObjectiveTracker(self.objective.use, self.objective.maximize),
        )
        self.active[launch.key] = active
        if self.reporter:
            self.reporter.trial_started(self, trial, attempt, argv)
        self.executor.start(launch)

    # ------------------------------------------------------------------ events

    def _drain(self, limit: int = 200) -> None:
        """Handle the events already queued, without waiting (at most ``limit``, so a flooding
        trial cannot starve the loop)."""
        for _ in range(limit):
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                return
            self._handle(event)

    def _handle(self, event: Event) -> None:
        a = self.active.get(event.key)
        if a is None:
            return
        if isinstance(event, Output):
            if event.stream == "stderr":
                a.stderr_tail.extend(text[:1000] for text in event.lines[-_STDERR_TAIL:])
            for text in event.lines:
                for p in a.parser.feed(text):
                    self._point(a, p.name, p.step, p.value, event.time)
            if len(a.unsaved) >= _SAVE_EVERY:
                self._save_points(a)
        elif isinstance(event, Started):
            a.pgid, a.host = event.pgid, event.host
            self.store.set_process(a.trial.id, a.attempt, event.pid, event.pgid, event.host)
        elif isinstance(event, Exited):
            self._save_points(a)
            del self.active[event.key]
            self._finish(a, event)

    def _point(self, a: _Active, name: str, step: int, value: float, when: float) -> None:
        n = a.counts[name] = a.counts.get(name, 0) + 1
        is_objective = name == self.objective.metric
        if is_objective:
            a.tracker.add(step, value)
        if n > POINTS_CAP and n % THIN:
            return  # a flood of points: keep memory and the store bounded
        a.unsaved.append((name, step, value, when))
        if not is_objective:
            return
        a.points.append((step, value))
        if a.stop_kind is None:
            reason = self.stopper.on_report(self.context(), a.trial, step, value)
            if reason:
                self._stop(a, "early", reason)

    def _save_points(self, only: _Active | None = None) -> None:
        for a in [only] if only else list(self.active.values()):
            if a.unsaved:
                self.store.add_points(a.trial.id, a.attempt, a.unsaved)
                a.unsaved = []

    def _stop(self, a: _Active, kind: str, reason: str) -> None:
        if a.stop_kind is not None:
            return
        a.stop_kind, a.stop_reason = kind, reason
        self.executor.stop(a.launch.key)
        if self.reporter:
            self.reporter.trial_stopping(self, a.trial, kind, reason)

    def _check_timeouts(self, now: float) -> None:
        limit = self.spec.limits.max_job_runtime
        if not limit:
            return
        for a in list(self.active.values()):
            if a.stop_kind is None and now - a.started > limit:
                self._stop(a, "timeout", f"timeout: exceeded max_job_runtime ({format_seconds(limit)})")

    def _abandon(self) -> None:
        """Stop every active attempt and drain their events (their threads may be blocked on a
        full queue) until each has exited, or the grace period and a margin have passed."""
        for a in self.active.values():
            self.executor.stop(a.launch.key)
        deadline = time.monotonic() + self.spec.limits.stop_grace_period + 5.0
        while self.active and time.monotonic() < deadline:
            try:
                event = self.events.get(timeout=0.1)
            except queue.Empty:
                continue
            if isinstance(event, Exited):
                self.active.pop(event.key, None)

    def _kill_all(self) -> None:
        host = socket.gethostname()
        for a in self.active.values():
            if a.pgid and a.host == host:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(a.pgid, signal.SIGKILL)

    # ------------------------------------------------------------------ outcomes

    def _finish(self, a: _Active, ev: Exited) -> None:
        t = a.trial
        final = a.tracker.final
        step = a.tracker.step
        finished_ok = ev.error is None and ev.exit_code == 0 and final is not None and math.isfinite(final)
        metric = self.objective.metric
        objective = final
        failure = None
        if a.stop_kind == "early":
            attempt_state = trial_state = STOPPED
            reason = a.stop_reason
        elif a.stop_kind in ("user", "runtime") and not finished_ok:
            attempt_state = trial_state = INTERRUPTED
            reason = "interrupted: " + (
                "stopped by the user" if a.stop_kind == "user" else "the job reached max_runtime"
            )
        elif a.stop_kind == "completion" and not finished_ok:
            attempt_state = trial_state = STOPPED
            reason = f"stopped: the job ended ({self.ending.reason if self.ending else ''})"
        else:
            if a.stop_kind == "timeout":
                failure = a.stop_reason
            elif ev.error:
                failure = ev.error
            elif ev.exit_code != 0:
                failure = describe_exit(ev.exit_code, a.stderr_tail)
            elif final is None:
                failure = (
                    f"objective metric {metric!r} was never printed (test the regex with `hpt check-metrics`)"
                )
            elif not math.isfinite(final):
                failure = f"objective metric {metric!r} is not finite ({final})"
            if failure is None:
                attempt_state = trial_state = COMPLETED
                reason = None
            else:
                attempt_state, reason = FAILED, failure
                trial_state = PENDING if a.attempt <= self.spec.limits.max_retries else FAILED
                if trial_state == PENDING:
                    reason = f"attempt {a.attempt} failed ({failure}); retrying"
        if (
            trial_state in (FAILED, INTERRUPTED, PENDING)
            and objective is not None
            and not math.isfinite(objective)
        ):
            objective = None
        self.store.end_attempt(
            t.id,
            a.attempt,
            attempt_state=attempt_state,
            trial_state=trial_state,
            exit_code=ev.exit_code,
            reason=reason,
            attempt_reason=failure if trial_state == PENDING else None,
            objective=objective if trial_state in (COMPLETED, STOPPED, FAILED) else None,
            objective_step=step,
        )

        t.state, t.reason = trial_state, reason
        t.objective = objective if trial_state in (COMPLETED, STOPPED, FAILED) else None
        t.objective_step = step
        t.ended = time.time() if trial_state in FINISHED else None
        if self.reporter:
            self.reporter.trial_ended(self, t, a.attempt, attempt_state)
        if trial_state in FINISHED and self.ending is None:
            self._check_completion()

    def _end(self, status: str, reason: str, stop_kind: str) -> None:
        self.ending = Outcome(status, reason)
        for a in list(self.active.values()):
            self._stop(a, stop_kind, reason)

    def _check_completion(self) -> None:
        spec, obj = self.spec, self.objective
        finished = sorted((t for t in self.trials.values() if t.finished), key=lambda t: (t.ended or 0, t.id))
        with_objective = [
            t
            for t in finished
            if t.state in (COMPLETED, STOPPED) and t.objective is not None and math.isfinite(t.objective)
        ]
        failed = sum(1 for t in finished if t.state == FAILED)
        completed = sum(1 for t in finished if t.state == COMPLETED)
        c = spec.completion
        if c.target is not None:
            for t in with_objective:
                if t.objective >= c.target if obj.maximize else t.objective <= c.target:
                    self._end(
                        JOB_COMPLETED,
                        f"target objective {c.target:g} reached by trial {t.id} ({obj.metric}={t.objective:g})",
                        "completion",
                    )
                    return
        if c.max_jobs_not_improving:
            best, since = None, 0
            for t in finished:
                v = t.objective if t in with_objective else None
                if v is not None and significant(v, best, obj.maximize):
                    since = 0
                else:
                    since += 1
                if v is not None and obj.better(v, best):
                    best = v
            if best is not None and since >= c.max_jobs_not_improving:
                self._end(
                    JOB_COMPLETED,
                    f"the best objective did not improve by 1% in the last {since} trials (max_jobs_not_improving)",
                    "completion",
                )
                return
        if c.convergence and converged(
            [t.objective for t in with_objective], obj.maximize, spec.limits.max_jobs
        ):
            self._end(JOB_COMPLETED, "the search converged (completion.convergence)", "completion")
            return
        limit = spec.limits.max_failed_jobs
        if limit is not None and failed >= limit:
            self._end(JOB_FAILED, f"{failed} trials failed (max_failed_jobs {limit})", "completion")
        elif limit is None and completed == 0 and failed >= AMT_FAILED_WITHOUT_SUCCESS:
            self._end(
                JOB_FAILED,
                f"{failed} trials failed and none completed; check the trial logs",
                "completion",
            )

    def _end_naturally(self) -> None:
        n = len(self.trials)
        if best_trial(list(self.trials.values()), self.spec) is None:
            failed = sum(1 for t in self.trials.values() if t.state == FAILED)
            self.ending = Outcome(JOB_FAILED, f"no trial completed ({failed} of {n} failed)")
        elif self._exhausted and n < self.spec.limits.max_jobs:
            self.ending = Outcome(JOB_COMPLETED, f"search space exhausted after {n} trials")
        else:
            self.ending = Outcome(JOB_COMPLETED, f"max_jobs ({self.spec.limits.max_jobs}) reached")
