"""The runner: the loop of one job. One thread owns the store and the strategies.

Each turn: handle the events already received; end the job if a stop was asked for or
:class:`~hpt.completion.Criteria` says so; stop attempts over ``max_job_runtime``; fill free
slots (a trial to run again, or ``Sampler.ask`` -> :func:`~hpt.launch.prepare` ->
``Store.start_attempt`` (which creates the trial) -> ``Executor.start``); then wait for
events: lines become metric points (told to the ``Stopper``), an exit becomes the trial's new
state through :func:`~hpt.outcome.decide`. Executor threads only put
events on the queue. Time comes from a :class:`~hpt.executors.base.Clock`, so the same loop runs
real processes and the simulator.
"""

from __future__ import annotations

import contextlib
import queue
import time
from collections import deque
from dataclasses import dataclass, field

from .completion import Criteria, Ending, format_seconds
from .devices import Assignment, Plan
from .errors import EnvironmentFailure, HptError, StoreError
from .executors.base import Clock, Event, Exited, Key, Launch, Output, RealClock, Started
from .launch import prepare
from .metrics import MetricParser, MetricPoint, ObjectiveTracker, describe_bad
from .outcome import EARLY, INVALID, TIMEOUT, USER, AttemptEnd, decide
from .paths import attempt_dir
from .reporting import QuietReporter, Reporter, RunningTrial
from .spec import TemplateError
from .store import Store
from .strategies import Context, make_sampler, make_stopper
from .timelimit import MatchTimer, RegexTimeout
from .trial import FAILED, FINISHED, INTERRUPTED, JOB_STOPPED, PENDING, RUNNING, Trial
from .warmstart import load_prior

#: Points recorded per metric per attempt before thinning: beyond it only every THIN-th point
#: is recorded (and shown to stoppers); the final value is still exact.
POINTS_CAP, THIN = 20_000, 100
_STDERR_TAIL = 20
_SAVE_EVERY = 5_000
#: Seconds between saves of what running attempts showed (an attempt's end saves the rest with
#: it, in the same transaction).
_SAVE_INTERVAL = 0.5
#: How long the loop waits for an event before it looks at the clock again.
_TICK = 0.1
#: Events handled at most in one go before a suggestion, so a flooding trial cannot starve it.
_DRAIN_LIMIT = 200


@dataclass
class _Active:
    """An attempt that runs: its launch, its parser state and what it showed so far."""

    trial: Trial
    attempt: int
    launch: Launch
    started: float
    parser: MetricParser
    points: list[tuple[int, float]]  # the objective's points, shared with the strategies' history
    tracker: ObjectiveTracker
    counts: dict[str, int] = field(default_factory=dict)
    stderr_tail: deque = field(default_factory=lambda: deque(maxlen=_STDERR_TAIL))
    unsaved: list[tuple[str, int, float, float]] = field(default_factory=list)
    stop: str | None = None  # why hpt asked it to stop (outcome.EARLY, TIMEOUT, ...)
    stop_reason: str | None = None
    diverged: bool = False  # the objective was printed as nan or inf (stop INVALID)
    skipped: dict[str, int] = field(default_factory=dict)  # secondary points that were no number
    assignment: Assignment = Assignment(0)
    process: tuple[int | None, int | None, str | None] | None = None  # (pid, pgid, host), unsaved


class Runner:
    """Runs (or resumes) one job until it completes, fails or is stopped.

    ``executor_factory`` is called with the runner's event queue and returns the
    :class:`~hpt.executors.base.Executor`. ``devices`` is the run's :class:`~hpt.devices.Plan`
    (the GPUs trials may use; none by default): a trial starts only when its allocator has a
    slot, and devices, for it. The job must be prepared (locked, marked in progress) by the
    caller: see :func:`hpt.jobs.prepare`.
    """

    def __init__(
        self,
        spec,
        store: Store,
        executor_factory,
        reporter: Reporter | None = None,
        *,
        seed: int,
        poll_interval: float = 0.5,
        clock: Clock | None = None,
        devices: Plan | None = None,
    ):
        self.spec = spec
        self.store = store
        self.dir = store.dir.resolve()
        self.seed = seed
        self.clock = clock or RealClock()
        # Bounded: an event holds at most one read (64 KiB) of output, so a flooding trial
        # blocks on the queue instead of growing hpt's memory.
        self.events: queue.Queue[Event] = queue.Queue(maxsize=256)
        self.executor = executor_factory(self.events)
        self.reporter = reporter or QuietReporter()
        self.poll_interval = poll_interval
        self.sampler = make_sampler(spec)
        self.stopper = make_stopper(spec)
        self.criteria = Criteria(spec)
        self.objective = spec.objective
        self.allocator = (devices or Plan()).allocator(spec.limits.max_parallel_jobs)
        self._trials: list[Trial] = []  # id order; strategies read it after every point
        self._by_id: dict[int, Trial] = {}
        self.history: dict[int, list[tuple[int, float]]] = {}
        # A warm start's parent observations, stored with the job when it was created.
        self.prior = load_prior(store)
        self._active: dict[Key, _Active] = {}
        self.ending: Ending | None = None
        self._stop_level = 0  # 1: stop gracefully, 2: kill the trials now
        self._finished = 0  # how many trials are finished (kept, not counted each time)
        self._timer = MatchTimer()
        self._elapsed0 = 0.0
        self._t0 = self.clock.monotonic()
        self._exhausted = False
        self._killing = False
        self._expected_to = 0  # trial ids whose first attempt the executor was told of
        self._filling = False

    # ------------------------------------------------------------------ what reporters read

    @property
    def job_dir(self):
        return self.dir

    @property
    def trials(self) -> list[Trial]:
        return self._trials

    @property
    def running(self) -> list[RunningTrial]:
        return [
            RunningTrial(
                a.trial,
                a.attempt,
                a.started,
                a.points[-1] if a.points else None,
                a.assignment.devices,
                a.assignment.slot,
            )
            for a in sorted(self._active.values(), key=lambda a: a.trial.id)
        ]

    def now(self) -> float:
        return self.clock.monotonic()

    # ------------------------------------------------------------------ control

    def request_stop(self) -> None:
        """Stop the job: the first request stops trials gracefully, a second kills them.

        Safe to call from a signal handler: it only sets a flag the loop reads.
        """
        self._stop_level = min(self._stop_level + 1, 2)

    @property
    def stopping(self) -> bool:
        return self._stop_level > 0

    def context(self) -> Context:
        return Context(self.spec, self.seed, self._trials, self.history, self.prior)

    # ------------------------------------------------------------------ main loop

    def run(self) -> Ending:
        store, clock = self.store, self.clock
        for t in store.trials():  # in id order
            self._add(t)
        # The first new trials' files are made while the first of them start (only now: the
        # job is locked, so no other runner writes its directory).
        self._expect(len(self._trials))
        for tid, pts in store.metric_history(self.objective.metric).items():
            if self._by_id[tid].finished:
                self.history[tid] = pts
        self._elapsed0 = store.job().elapsed
        self._t0 = clock.monotonic()
        self.reporter.begin(self)
        failure: HptError | None = None
        try:
            with self._timer:
                self._loop()
        except (StoreError, EnvironmentFailure) as exc:
            failure = exc
        finally:
            # After a store failure its writes may fail again: cleaning up must go on anyway.
            with contextlib.suppress(StoreError):
                self._save_points()
            if self._active:  # an exception escaped: leave nothing running
                self._abandon()
            self.executor.close()
            with contextlib.suppress(StoreError):
                store.set_elapsed(self.elapsed())
        if failure is not None:
            self._record_failure(failure)
            raise failure
        if self.ending.stop == USER and not self._work_left():
            # The stop came as the last trial ended: the job is done, not stopped.
            self.ending = self.criteria(
                self._trials, elapsed=self.elapsed(), idle=True, exhausted=self._exhausted
            )
        store.set_job_status(self.ending.status, self.ending.reason)
        self.reporter.end(self, self.ending)
        return self.ending

    def _loop(self) -> None:
        store, clock = self.store, self.clock
        last_poll = last_save = self._t0
        while True:
            now = clock.monotonic()
            elapsed = self.elapsed()
            if now - last_poll >= self.poll_interval:
                last_poll = now
                store.set_elapsed(elapsed)
                if store.stop_requested():
                    self._stop_level = max(self._stop_level, 1)
            if self._stop_level and self.ending is None:
                reason = f"stopped by the user; resume with `hpt resume {self.spec.name}`"
                self._end(Ending(JOB_STOPPED, reason, USER))
            if self._stop_level > 1 and not self._killing:  # once: the supervisor reaps from then on
                self._killing = True
                self._report_stopping(kill=True)
                self.executor.kill_all()
            # Exits already received count before any timeout is judged (hpt may have been
            # paused while its trials ended).
            self._drain()
            self._judge(elapsed)
            self._check_timeouts(now)
            if self.ending is None:
                self._fill()
            if not self._active:
                if self.ending is None:
                    self.ending = self.criteria(
                        self._trials, elapsed=elapsed, idle=True, exhausted=self._exhausted
                    )
                return
            # Points are saved, and progress drawn, after the slots are filled: a trial that ended
            # is replaced first. Not at every event: a short trial's points go with its end.
            if now - last_save >= _SAVE_INTERVAL:
                last_save = now
                self._save_points()
            self.reporter.tick(self)
            event = clock.wait(self.events, _TICK)
            if event is not None:
                self._handle(event)
                self._drain()

    def _record_failure(self, failure: HptError) -> None:
        """Leave the job stopped and resumable, as far as the store still takes writes (when it
        does not, ``show`` and ``list`` see that no runner holds the job)."""
        reason = f"stopped: {failure}"
        with contextlib.suppress(StoreError):
            self.store.interrupt_running(f"interrupted: {failure}")
        with contextlib.suppress(StoreError):
            self.store.set_job_status(JOB_STOPPED, reason)
        for t in self._trials:
            if t.state == RUNNING:
                t.state = INTERRUPTED
        self.ending = Ending(JOB_STOPPED, reason, USER)
        with contextlib.suppress(Exception):
            self.reporter.end(self, self.ending)

    def elapsed(self) -> float:
        """Seconds the job has run, over all its runs."""
        return self._elapsed0 + self.clock.monotonic() - self._t0

    def _work_left(self) -> bool:
        """Would the job run another trial if it went on?"""
        if any(not t.finished for t in self._trials):
            return True
        return len(self._trials) < self.spec.limits.max_jobs and not self._exhausted

    def _add(self, t: Trial) -> None:
        self._trials.append(t)
        self._by_id[t.id] = t
        self._finished += t.finished

    # ------------------------------------------------------------------ launching

    def _waiting(self) -> Trial | None:
        """The first trial to run again (a retry, or interrupted by an earlier run)."""
        for t in self._trials:
            if t.state in (PENDING, INTERRUPTED) and (t.id, t.attempts + 1) not in self._active:
                return t
        return None

    def _fill(self) -> None:
        limits = self.spec.limits
        while (
            len(self._active) < limits.max_parallel_jobs and self.allocator.available and self.ending is None
        ):
            waiting = self._waiting()
            if waiting is not None:
                self._launch(waiting)
                continue
            if len(self._trials) >= limits.max_jobs or self._exhausted:
                return
            # Trials that ended while the previous suggestion was computed are told to the
            # strategy before it suggests again, so it never takes them for still running.
            running = len(self._active)
            self._drain()
            if len(self._active) != running or self.ending is not None:
                continue  # a slot freed, a retry may be waiting, or the job ended: look again
            suggestion = self.sampler.ask(self.context())
            if suggestion is None:
                self._exhausted = True
                return
            # Ids have no gaps, and this runner is the store's only writer: the next id is known.
            trial = Trial(len(self._trials) + 1, PENDING, suggestion.params, dict(suggestion.info))
            self._launch(trial, new=True)
            self._expect(trial.id)

    def _expect(self, last: int) -> None:
        """Tell an executor that can prepare attempts ahead which ones come next: the first
        attempts of the next new trials, as many as run at once."""
        expect = getattr(self.executor, "expect", None)
        limits = self.spec.limits
        upto = min(last + limits.max_parallel_jobs, limits.max_jobs)
        if expect is not None and upto > self._expected_to:
            first = max(self._expected_to, last) + 1
            expect([str(attempt_dir(self.dir, tid, 1)) for tid in range(first, upto + 1)])
            self._expected_to = upto

    def _launch(self, trial: Trial, new: bool = False) -> None:
        """Start the next attempt of ``trial`` (``new``: a trial not in the store yet, created
        in the same transaction that marks it running)."""
        attempt = trial.attempts + 1
        log_dir = str(attempt_dir(self.dir, trial.id, attempt))
        create = (trial.params, trial.info) if new else None
        if new:
            trial.created = time.time()
            self._add(trial)
        self.history[trial.id] = []
        assignment = self.allocator.acquire((trial.id, attempt))
        if assignment is None:  # _fill launches only when the allocator has room
            raise RuntimeError(f"no slot free for trial {trial.id}")
        try:
            launch = prepare(self.spec, self.dir, trial, attempt, assignment)
        except OSError as exc:
            self.allocator.release((trial.id, attempt))
            with contextlib.suppress(StoreError):  # recorded, so the resume runs it again
                self.store.start_attempt(trial.id, log_dir, create=create)
                trial.state, trial.attempts = RUNNING, attempt
            raise EnvironmentFailure(
                f"cannot write the directory of trial {trial.id} ({exc.strerror or exc}: {exc.filename}); "
                f"fix the runs directory, then continue with `hpt resume {self.spec.name}`"
            ) from None
        except TemplateError as exc:
            self.allocator.release((trial.id, attempt))
            self.store.start_attempt(trial.id, log_dir, create=create)
            self.store.end_attempt(
                trial.id, attempt, attempt_state=FAILED, trial_state=FAILED, reason=str(exc)
            )
            trial.attempts = attempt
            trial.state, trial.reason, trial.ended = FAILED, str(exc), time.time()
            self._finished += 1
            return
        recorded = dict(
            argv=launch.argv,
            env=launch.env,
            slot=assignment.slot,
            devices=assignment.devices if self.allocator.devices else None,
        )
        self.store.start_attempt(trial.id, log_dir, create=create, launch=recorded)
        trial.state, trial.attempts, trial.reason = RUNNING, attempt, None
        trial.objective = trial.objective_step = None
        active = _Active(
            trial,
            attempt,
            launch,
            self.clock.monotonic(),
            MetricParser(self.spec.metrics, guard=self._timer.guard),
            self.history[trial.id],
            ObjectiveTracker(self.objective.use, self.objective.maximize),
            assignment=assignment,
        )
        self._active[launch.key] = active
        self.reporter.trial_started(self, trial, attempt, launch.argv)
        try:
            self.executor.start(launch)
        except EnvironmentFailure as exc:
            del self._active[launch.key]  # never started: nothing to wait for
            self.allocator.release(launch.key)
            raise EnvironmentFailure(f"{exc}; continue with `hpt resume {self.spec.name}`") from None

    # ------------------------------------------------------------------ events

    def _drain(self) -> None:
        """Handle the events already there, without waiting (a bounded number of them)."""
        for _ in range(_DRAIN_LIMIT):
            event = self.clock.wait(self.events, 0.0)
            if event is None:
                return
            self._handle(event)

    def _handle(self, event: Event) -> None:
        a = self._active.get(event.key)
        if a is None:
            return
        if isinstance(event, Output):
            if event.stream == "stderr":
                a.stderr_tail.extend(text[:1000] for text in event.lines[-_STDERR_TAIL:])
            for text in event.lines:
                try:
                    points = a.parser.feed(text)
                except RegexTimeout as exc:
                    self._regex_timeout(a, exc)
                    continue
                for p in points:
                    self._point(a, p, event.time)
            if len(a.unsaved) >= _SAVE_EVERY:
                self._save_points(a)
        elif isinstance(event, Started):
            a.process = (event.pid, event.pgid, event.host)  # saved with the next points
        elif isinstance(event, Exited):
            del self._active[event.key]
            self.allocator.release(event.key)
            self._finish(a, event)
            self._replace()

    def _replace(self) -> None:
        """A slot has just been freed: judge the job, and fill the slot now. When several
        trials end together, the first is replaced before the others' ends are recorded."""
        if self._filling or self.ending is not None or self._stop_level:
            return
        self._judge(self.elapsed())
        if self.ending is not None:
            return
        self._filling = True  # _fill reads events first; those never fill from in there
        try:
            self._fill()
        finally:
            self._filling = False

    def _judge(self, elapsed: float) -> None:
        """End the job if a completion criterion says so now."""
        if self.ending is None:
            ending = self.criteria(self._trials, elapsed=elapsed, finished=self._finished)
            if ending is not None:
                self._end(ending)

    def _regex_timeout(self, a: _Active, exc: RegexTimeout) -> None:
        """A regex that backtracks without end: the objective's fails the trial; a secondary
        metric's is no longer read in this attempt."""
        a.parser.disable(exc.metric)
        if exc.metric == self.objective.metric:
            if a.stop is None:
                self._stop(a, INVALID, str(exc))
        else:
            a.skipped[exc.metric] = a.skipped.get(exc.metric, 0) + 1

    def _point(self, a: _Active, p: MetricPoint, when: float) -> None:
        name, step, value = p.name, p.step, p.value
        is_objective = name == self.objective.metric
        if not p.ok:
            # Never a guess: a bad objective ends the trial with a reason that quotes it; a bad
            # secondary point is skipped and counted.
            if not is_objective:
                a.skipped[name] = a.skipped.get(name, 0) + 1
            elif a.stop is None:
                a.diverged = p.diverged
                self._stop(a, INVALID, f"objective printed as {p.text!r} at step {step} ({describe_bad(p)})")
            return
        n = a.counts[name] = a.counts.get(name, 0) + 1
        if is_objective:
            a.tracker.add(step, value)
        if n > POINTS_CAP and n % THIN:
            return  # a flood of points: keep memory and the store bounded
        a.unsaved.append((name, step, value, when))
        if not is_objective:
            return
        a.points.append((step, value))
        decision = None
        if a.stop is None:
            reason = self.stopper.on_report(self.context(), a.trial, step, value)
            if reason:
                self._stop(a, EARLY, reason)
            else:
                decision = getattr(self.stopper, "passed", None)
        on_point = getattr(self.reporter, "trial_point", None)  # optional in the protocol
        if on_point is not None:
            on_point(self, a.trial, step, value, decision)

    def _save_points(self, only: _Active | None = None) -> None:
        """What running attempts showed since the last save (points, processes), in one
        transaction."""
        points, processes = [], []
        for a in [only] if only else list(self._active.values()):
            if a.unsaved:
                points += [(a.trial.id, a.attempt, *p) for p in a.unsaved]
                a.unsaved = []
            if a.process is not None:
                processes.append((a.trial.id, a.attempt, *a.process))
                a.process = None
        self.store.save_progress(points, processes)

    def _stop(self, a: _Active, kind: str, reason: str) -> None:
        if a.stop is not None:
            return
        a.stop, a.stop_reason = kind, reason
        self.executor.stop(a.launch.key)
        self.reporter.trial_stopping(self, a.trial, kind, reason)

    def _check_timeouts(self, now: float) -> None:
        limit = self.spec.limits.max_job_runtime
        if not limit:
            return
        for a in list(self._active.values()):
            if a.stop is None and now - a.started > limit:
                self._stop(a, TIMEOUT, f"timeout: exceeded max_job_runtime ({format_seconds(limit)})")

    def _abandon(self) -> None:
        """Stop every active attempt and take their events (their threads may be blocked on a
        full queue) until each has exited, or the grace period and a margin have passed."""
        for a in self._active.values():
            self.executor.stop(a.launch.key)
        deadline = time.monotonic() + self.spec.limits.stop_grace_period + 5.0
        while self._active and time.monotonic() < deadline:
            event = self.clock.wait(self.events, _TICK)
            if isinstance(event, Exited):
                self._active.pop(event.key, None)
                self.allocator.release(event.key)

    # ------------------------------------------------------------------ outcomes

    def _finish(self, a: _Active, ev: Exited) -> None:
        t = a.trial
        use_best = self.objective.use == "best"
        d = decide(
            AttemptEnd(
                attempt=a.attempt,
                exit_code=ev.exit_code,
                error=ev.error,
                stop=a.stop,
                stop_reason=a.stop_reason,
                # After a bad objective point only a best value still stands.
                objective=a.tracker.final if a.stop != INVALID or use_best else None,
                step=a.tracker.step,
                stderr_tail=tuple(a.stderr_tail),
                signalled=ev.signalled,
                diverged=a.diverged,
                full_step=self.spec.hyperband.max_resource if self.spec.hyperband else None,
            ),
            metric=self.objective.metric,
            max_retries=self.spec.limits.max_retries,
        )
        info = {**t.info, **d.info}
        if a.skipped:
            info["skipped_points"] = dict(a.skipped)
        self.store.end_attempt(
            t.id,
            a.attempt,
            attempt_state=d.attempt_state,
            trial_state=d.trial_state,
            exit_code=ev.exit_code,
            reason=d.reason,
            attempt_reason=d.attempt_reason,
            objective=d.objective,
            objective_step=a.tracker.step,
            info=info if info != t.info else None,
            points=a.unsaved,
            process=a.process,
        )
        a.unsaved, a.process = [], None
        t.state, t.reason, t.info = d.trial_state, d.reason, info
        t.objective, t.objective_step = d.objective, a.tracker.step
        t.ended = time.time() if d.trial_state in FINISHED else None
        self._finished += t.finished
        self.reporter.trial_ended(self, t, a.attempt, d.attempt_state)
        if t.finished and self.ending is None:
            # At once, before any other event: a trial that met a criterion must not be
            # followed by another launch.
            ending = self.criteria(self._trials, elapsed=self.elapsed(), finished=self._finished)
            if ending is not None:
                self._end(ending)

    def _end(self, ending: Ending) -> None:
        self.ending = ending
        for a in list(self._active.values()):
            self._stop(a, ending.stop, ending.reason)
        if self._active and not self._killing:
            self._report_stopping(kill=False)

    def _report_stopping(self, kill: bool) -> None:
        report = getattr(self.reporter, "stopping", None)  # optional in the protocol
        if report is not None and self._active:
            user = self.ending is not None and self.ending.stop == USER
            report(self, len(self._active), self.spec.limits.stop_grace_period, user=user, kill=kill)


__all__ = ["Runner"]
