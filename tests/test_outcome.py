"""The end of an attempt -> the trial's state, reason and objective: every row of the table."""

import math

import pytest

from hpt.outcome import AttemptEnd, decide, describe_exit
from hpt.trial import COMPLETED, FAILED, INTERRUPTED, PENDING, STOPPED

NAN = math.nan

# (what happened, retries, -> trial state, attempt state, objective kept, reason contains)
ROWS = [
    ("exit 0 with an objective", AttemptEnd(1, 0, objective=0.5, step=3), 0, COMPLETED, COMPLETED, 0.5, None),
    (
        "exit 1",
        AttemptEnd(1, 1, objective=0.5, stderr_tail=("", "boom")),
        0,
        FAILED,
        FAILED,
        0.5,
        "exit code 1: boom",
    ),
    ("killed", AttemptEnd(1, -9), 0, FAILED, FAILED, None, "killed by signal SIGKILL"),
    (
        "not found",
        AttemptEnd(1, None, error="command not found: x"),
        0,
        FAILED,
        FAILED,
        None,
        "command not found",
    ),
    ("no objective", AttemptEnd(1, 0), 0, FAILED, FAILED, None, "was never printed"),
    ("nan objective", AttemptEnd(1, 0, objective=NAN), 0, FAILED, FAILED, None, "is not finite"),
    ("inf objective", AttemptEnd(1, 0, objective=math.inf), 0, FAILED, FAILED, None, "is not finite"),
    (
        "timeout",
        AttemptEnd(1, -15, stop="timeout", stop_reason="timeout: exceeded"),
        0,
        FAILED,
        FAILED,
        None,
        "timeout",
    ),
    (
        "failed, retry left",
        AttemptEnd(1, 2),
        1,
        PENDING,
        FAILED,
        None,
        "attempt 1 failed (exit code 2); retrying",
    ),
    ("failed, last retry", AttemptEnd(2, 2), 1, FAILED, FAILED, None, "exit code 2"),
    (
        "stopped early",
        AttemptEnd(1, -15, stop="early", stop_reason="rung 3", objective=0.9, step=3),
        0,
        STOPPED,
        STOPPED,
        0.9,
        "rung 3",
    ),
    (
        "stopped early at nan",
        AttemptEnd(1, -15, stop="early", stop_reason="r", objective=NAN),
        0,
        STOPPED,
        STOPPED,
        NAN,
        "r",
    ),
    (
        "user stop, unfinished",
        AttemptEnd(1, -15, stop="user", objective=0.4),
        0,
        INTERRUPTED,
        INTERRUPTED,
        None,
        "stopped by the user",
    ),
    (
        "user stop, had finished",
        AttemptEnd(1, 0, stop="user", objective=0.4),
        0,
        COMPLETED,
        COMPLETED,
        0.4,
        None,
    ),
    (
        "max_runtime, unfinished",
        AttemptEnd(1, -15, stop="runtime"),
        0,
        INTERRUPTED,
        INTERRUPTED,
        None,
        "max_runtime",
    ),
    (
        "job ended, unfinished",
        AttemptEnd(1, -15, stop="completion", stop_reason="target reached", objective=0.3),
        0,
        STOPPED,
        STOPPED,
        0.3,
        "the job ended (target reached)",
    ),
    (
        "job ended, had finished",
        AttemptEnd(1, 0, stop="completion", stop_reason="x", objective=0.3),
        0,
        COMPLETED,
        COMPLETED,
        0.3,
        None,
    ),
]


@pytest.mark.parametrize(
    "what,end,retries,trial_state,attempt_state,objective,reason", ROWS, ids=[r[0] for r in ROWS]
)
def test_decide(what, end, retries, trial_state, attempt_state, objective, reason):
    d = decide(end, metric="loss", max_retries=retries)
    assert (d.trial_state, d.attempt_state) == (trial_state, attempt_state)
    if objective is None:
        assert d.objective is None
    else:
        assert d.objective == objective or (math.isnan(objective) and math.isnan(d.objective))
    if reason is None:
        assert d.reason is None
    else:
        assert reason in d.reason
    # A retried attempt keeps why it failed; the trial says it will be retried.
    assert (d.attempt_reason is not None) == (trial_state == PENDING)


def test_describe_exit_quotes_the_last_stderr_line():
    assert describe_exit(3, ["first", "last words  ", ""]) == "exit code 3: last words"
    assert describe_exit(-15) == "killed by signal SIGTERM"
    assert describe_exit(-200) == "killed by signal 200"
