"""From the end of one attempt to the trial's new state: a pure function, :func:`decide`.

An attempt ends with an exit code (or an executor error), perhaps after hpt asked it to stop
(why: ``early``, ``timeout``, ``user``, ``runtime``, ``completion``), with the objective its
output showed. :func:`decide` turns that into the attempt's state, the trial's state, the
reasons recorded on each, and the objective the trial keeps. Nothing else decides it.
"""

from __future__ import annotations

import math
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field

from .trial import COMPLETED, FAILED, INTERRUPTED, PENDING, STOPPED

#: Why hpt asked an attempt to stop: a stopper's decision, ``max_job_runtime``, the user,
#: ``max_runtime``, the job's end (a completion criterion), or an objective that is no number.
EARLY, TIMEOUT, USER, RUNTIME, COMPLETION, INVALID = (
    "early",
    "timeout",
    "user",
    "runtime",
    "completion",
    "invalid",
)


@dataclass(frozen=True)
class AttemptEnd:
    """Everything known when an attempt has ended."""

    attempt: int
    exit_code: int | None  # negative: killed by that signal; None with an error
    error: str | None = None  # the executor could not run or watch it (command not found, ...)
    stop: str | None = None  # why hpt asked it to stop, if it did
    stop_reason: str | None = None  # the stopper's words, the timeout, or the job's end reason
    objective: float | None = None  # from its finite points: the last value, or the best one
    step: int | None = None  # the step of its last objective point
    stderr_tail: Sequence[str] = ()
    signalled: bool | None = None  # the stop reached it while it ran (False: it ended on its own)
    diverged: bool = False  # with stop INVALID: the objective printed was nan or inf
    full_step: int | None = None  # the step at which a run is complete (hyperband's max_resource)


@dataclass(frozen=True)
class Decision:
    """What to record: the attempt's and the trial's states and reasons, and the objective."""

    attempt_state: str
    trial_state: str
    reason: str | None  # on the trial
    attempt_reason: str | None  # on the attempt
    objective: float | None  # kept on the trial
    info: dict = field(default_factory=dict)  # added to the trial's info


def describe_exit(code: int, stderr_tail: Sequence[str] = ()) -> str:
    """``exit code 2: <last stderr line>`` or ``killed by signal SIGKILL``."""
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


def failure(end: AttemptEnd, metric: str) -> str | None:
    """Why the attempt failed, or None when it succeeded (exit 0 with a finite objective)."""
    if end.stop == TIMEOUT:
        return end.stop_reason
    if end.error:
        return end.error
    if end.exit_code != 0:
        return describe_exit(end.exit_code, end.stderr_tail)
    if end.objective is None:
        return f"objective metric {metric!r} was never printed (test the regex with `hpt check-metrics`)"
    if not math.isfinite(end.objective):
        return f"objective metric {metric!r} is not finite ({end.objective})"
    return None


def decide(end: AttemptEnd, *, metric: str, max_retries: int) -> Decision:
    """The trial's new state after ``end``.

    * a stop that did not reach the command (it ended on its own first) changes nothing: the
      attempt is judged as if no stop had been asked for, and the stop is kept in ``info``;
    * an early stop of a run that had shown its objective at ``full_step`` (hyperband's
      ``max_resource``) cut nothing: ``completed``, the stop kept in ``info``;
    * the objective printed as no finite number (``stop`` ``invalid``): failed; but a run that
      diverged (``nan``, ``inf``) with ``objective.use: best`` is ``stopped`` there with its best
      value;
    * stopped early by the stopper: ``stopped``, with the value it showed;
    * stopped because hpt was stopped or reached ``max_runtime``, before it finished:
      ``interrupted`` (it runs again on resume);
    * stopped because the job ended (a completion criterion), before it finished: ``stopped``;
    * otherwise ``completed`` when it exited 0 with a finite objective, else it failed: the
      trial is ``pending`` again while retries are left, then ``failed``.
    """
    stop, info = end.stop, {}
    if stop not in (None, INVALID) and end.signalled is False:
        info["late_stop"] = end.stop_reason or stop
        stop = None
    ok = (
        end.error is None
        and end.exit_code == 0
        and end.objective is not None
        and math.isfinite(end.objective)
    )
    why = None
    if stop == EARLY and _reached_the_end(end):
        # Its last epoch was in before the stop could cut anything: a complete run.
        info["late_stop"] = end.stop_reason or stop
        attempt_state = trial_state = COMPLETED
        reason = None
    elif stop == INVALID and end.diverged and end.objective is not None and math.isfinite(end.objective):
        attempt_state = trial_state = STOPPED
        reason = f"{end.stop_reason}; stopped there, its best value counts"
        info["stopped"] = "diverged"
    elif stop == EARLY:
        attempt_state = trial_state = STOPPED
        reason = end.stop_reason
        info["stopped"] = "early"
    elif stop in (USER, RUNTIME) and not ok:
        attempt_state = trial_state = INTERRUPTED
        reason = "interrupted: " + ("stopped by the user" if stop == USER else "the job reached max_runtime")
    elif stop == COMPLETION and not ok:
        attempt_state = trial_state = STOPPED
        reason = f"stopped: the job ended ({end.stop_reason or ''})"
        info["stopped"] = "job_end"
    else:
        why = (
            end.stop_reason
            if stop == INVALID
            else failure(end if stop is not None else _unstopped(end), metric)
        )
        if why is None:
            attempt_state = trial_state = COMPLETED
            reason = None
        else:
            attempt_state, reason = FAILED, why
            trial_state = PENDING if end.attempt <= max_retries else FAILED
            if trial_state == PENDING:
                reason = f"attempt {end.attempt} failed ({why}); retrying"
    objective = end.objective
    # Interrupted and retried trials keep nothing; a failed one keeps a finite value it printed
    # (for the user to see, never counted); a stopped one keeps even a non-finite last value.
    kept = trial_state in (COMPLETED, STOPPED) or (
        trial_state == FAILED and objective is not None and math.isfinite(objective)
    )
    return Decision(
        attempt_state=attempt_state,
        trial_state=trial_state,
        reason=reason,
        attempt_reason=why if trial_state == PENDING else None,
        objective=objective if kept else None,
        info=info,
    )


def _reached_the_end(end: AttemptEnd) -> bool:
    """Did the attempt show its objective at ``full_step``, then exit 0 or by hpt's stop?"""
    return (
        end.full_step is not None
        and end.step is not None
        and end.step >= end.full_step
        and end.objective is not None
        and math.isfinite(end.objective)
        and end.error is None
        and (end.exit_code == 0 or (end.signalled and end.exit_code in (-signal.SIGTERM, -signal.SIGKILL)))
    )


def _unstopped(end: AttemptEnd) -> AttemptEnd:
    return AttemptEnd(
        attempt=end.attempt,
        exit_code=end.exit_code,
        error=end.error,
        objective=end.objective,
        step=end.step,
        stderr_tail=end.stderr_tail,
    )


__all__ = [
    "COMPLETION",
    "EARLY",
    "INVALID",
    "RUNTIME",
    "TIMEOUT",
    "USER",
    "AttemptEnd",
    "Decision",
    "decide",
    "describe_exit",
    "failure",
]
