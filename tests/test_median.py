"""The median rule of ``early_stopping: auto`` on hand-made curves, its spec keys, and a stopped
trial's processes (child and grandchild included) gone within the grace period."""

from __future__ import annotations

import math
import sqlite3
import time
from pathlib import Path

import psutil
import pytest
from hb_helpers import SCRIPTS, Job, make_spec, run_hpt, show_json

from hpt.errors import SpecError
from hpt.spec import DEFAULT_MIN_STEPS, DEFAULT_MIN_TRIALS
from hpt.strategies import NeverStop, make_stopper
from hpt.strategies.median import MedianStopper, median_rule_stops, running_average, worse
from hpt.trial import COMPLETED, FAILED, RUNNING, STOPPED


def auto_spec(maximize: bool = True, **rule):
    extra = {"early_stopping": "auto"}
    if rule:
        extra["early_stopping_rule"] = rule
    return make_spec("random", maximize=maximize, **extra)


# --------------------------------------------------------------------------- pure functions


def test_running_average_up_to_a_step():
    points = [(1, 0.2), (2, 0.4), (3, 0.9)]
    assert running_average(points, 2) == pytest.approx(0.3)
    assert running_average(points, 10) == pytest.approx(0.5)
    assert running_average(points, 0) is None
    assert running_average([(1, math.nan), (2, 0.4)], 2) == pytest.approx(0.4)


def test_worse_follows_the_direction_and_puts_nan_last():
    assert worse(0.1, 0.2, maximize=True) and not worse(0.3, 0.2, maximize=True)
    assert worse(0.3, 0.2, maximize=False) and not worse(0.1, 0.2, maximize=False)
    assert not worse(0.2, 0.2, maximize=True)  # strictly worse only
    assert worse(math.nan, 0.2, maximize=True) and worse(math.nan, 0.2, maximize=False)


def test_median_rule_on_hand_made_curves():
    # Three earlier accuracy curves; at step 3 their running averages are 0.5, 0.6 and 0.8.
    curves = [[0.3, 0.5, 0.7], [0.4, 0.6, 0.8], [0.7, 0.8, 0.9]]
    averages = [running_average(list(enumerate(c, start=1)), 3) for c in curves]
    assert averages == pytest.approx([0.5, 0.6, 0.8])
    assert median_rule_stops(0.55, averages, maximize=True, min_trials=3)  # below the median 0.6
    assert not median_rule_stops(0.65, averages, maximize=True, min_trials=3)
    assert not median_rule_stops(0.55, averages, maximize=True, min_trials=4)  # too few trials
    # Minimizing a loss: stop when above the median.
    assert median_rule_stops(0.7, averages, maximize=False, min_trials=1)
    assert not median_rule_stops(0.55, averages, maximize=False, min_trials=1)


# --------------------------------------------------------------------------- the stopper


def test_defaults_are_documented_values():
    stopper = make_stopper(auto_spec())
    assert isinstance(stopper, MedianStopper)
    assert (stopper.min_steps, stopper.min_trials) == (DEFAULT_MIN_STEPS, DEFAULT_MIN_TRIALS) == (3, 5)
    assert isinstance(make_stopper(make_spec("random")), NeverStop)


def job_with(curves, state=COMPLETED, **rule):
    job = Job(auto_spec(**rule))
    for c in curves:
        job.add(state, c, bracket=None)
    return job


CURVES = [[0.3, 0.5, 0.7, 0.8], [0.4, 0.6, 0.8, 0.85], [0.7, 0.8, 0.9, 0.95]]


def test_stops_a_trial_below_the_median_of_running_averages():
    job = job_with(CURVES, min_steps=3, min_trials=3)
    stopper = MedianStopper(job.spec)
    t = job.add(RUNNING, [0.6, 0.6], bracket=None)
    reason = job.report(stopper, t, 0.55)  # step 3: median of (0.5, 0.6, 0.8) is 0.6
    assert reason is not None
    assert "median rule" in reason and "step 3" in reason and "0.6" in reason and "3 earlier" in reason


def test_compares_the_current_value_not_the_trial_average():
    job = job_with(CURVES, min_steps=3, min_trials=3)
    stopper = MedianStopper(job.spec)
    t = job.add(RUNNING, [0.1, 0.1], bracket=None)  # a poor start...
    assert job.report(stopper, t, 0.65) is None  # ...but 0.65 now beats the median 0.6


def test_not_before_min_steps():
    job = job_with(CURVES, min_steps=3, min_trials=3)
    stopper = MedianStopper(job.spec)
    t = job.add(RUNNING, bracket=None)
    assert job.report(stopper, t, 0.0) is None
    assert job.report(stopper, t, 0.0) is None
    assert job.report(stopper, t, 0.0) is not None


def test_not_with_fewer_than_min_trials_earlier_trials():
    job = job_with(CURVES, min_steps=1, min_trials=4)
    stopper = MedianStopper(job.spec)
    t = job.add(RUNNING, bracket=None)
    assert job.report(stopper, t, 0.0) is None
    job.add(STOPPED, [0.9], bracket=None)  # a fourth earlier trial: stopped ones count
    assert job.report(stopper, t, 0.0) is not None


def test_running_and_failed_trials_do_not_count():
    job = job_with(CURVES, min_steps=1, min_trials=4)
    job.add(RUNNING, [0.9, 0.9], bracket=None)
    job.add(FAILED, [0.9, 0.9], bracket=None)
    stopper = MedianStopper(job.spec)
    t = job.add(RUNNING, bracket=None)
    assert job.report(stopper, t, 0.0) is None  # only three earlier trials


def test_trials_stopped_before_the_step_count_with_all_their_points():
    # Two earlier trials stopped at step 1 (averages 0.1) pull the median at step 3 down from
    # 0.6 to 0.5: 0.55 goes on.
    job = job_with([*CURVES, [0.1], [0.1]], min_steps=3, min_trials=5)
    stopper = MedianStopper(job.spec)
    t = job.add(RUNNING, [0.5, 0.5], bracket=None)
    assert job.report(stopper, t, 0.55) is None
    assert job.report(stopper, t, 0.45) is not None  # step 4: median of 0.575, 0.6625, 0.8375, 0.1, 0.1


def test_minimizing_stops_above_the_median():
    job = Job(auto_spec(maximize=False, min_steps=2, min_trials=3))
    for c in ([1.0, 0.8], [0.9, 0.5], [0.6, 0.4]):  # averages at step 2: 0.9, 0.7, 0.5
        job.add(COMPLETED, c, bracket=None)
    stopper = MedianStopper(job.spec)
    t = job.add(RUNNING, [0.9], bracket=None)
    assert job.report(stopper, t, 0.75) is not None
    t2 = job.add(RUNNING, [0.9], bracket=None)
    assert job.report(stopper, t2, 0.65) is None


def test_nan_is_stopped():
    job = job_with(CURVES, min_steps=1, min_trials=3)
    stopper = MedianStopper(job.spec)
    t = job.add(RUNNING, bracket=None)
    assert job.report(stopper, t, math.nan) is not None


def test_use_best_compares_the_best_value_so_far():
    job = Job(
        make_spec(
            "random",
            early_stopping="auto",
            early_stopping_rule={"min_steps": 1, "min_trials": 3},
            objective={"metric": "acc", "type": "maximize", "use": "best"},
        )
    )
    for c in CURVES:
        job.add(COMPLETED, c, bracket=None)
    stopper = MedianStopper(job.spec)
    t = job.add(RUNNING, [0.9, 0.9], bracket=None)
    assert job.report(stopper, t, 0.1) is None  # its best, 0.9, is above the median 0.6


def test_a_trial_that_finishes_later_joins_the_reference():
    job = job_with(CURVES[:2], min_steps=1, min_trials=3)
    stopper = MedianStopper(job.spec)
    t = job.add(RUNNING, bracket=None)
    assert job.report(stopper, t, 0.0) is None  # two earlier trials only
    third = job.add(RUNNING, CURVES[2], bracket=None)
    assert job.report(stopper, t, 0.0) is None  # the third is still running
    third.state = COMPLETED
    assert job.report(stopper, t, 0.0) is not None


# --------------------------------------------------------------------------- spec


def test_early_stopping_rule_needs_early_stopping_auto():
    with pytest.raises(SpecError, match="early_stopping_rule configures early_stopping: auto"):
        make_spec("random", early_stopping_rule={"min_steps": 2})


def test_early_stopping_rule_values_are_checked():
    with pytest.raises(SpecError, match=r"min_trials.*must be >= 1"):
        make_spec("random", early_stopping="auto", early_stopping_rule={"min_trials": 0})
    with pytest.raises(SpecError, match="unknown key 'min_step'"):
        make_spec("random", early_stopping="auto", early_stopping_rule={"min_step": 2})


def test_early_stopping_rule_is_read():
    spec = make_spec("random", early_stopping="auto", early_stopping_rule={"min_steps": 7})
    assert (spec.early_stopping_rule.min_steps, spec.early_stopping_rule.min_trials) == (7, 5)


# --------------------------------------------------------------------------- end to end


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.slow
def test_a_stopped_trial_leaves_no_process_behind(tmp_path: Path):
    """Trial 2 and its child and grandchild ignore SIGTERM: the SIGKILL after the grace period
    must end all three, and the job must not wait for them much longer than that."""
    grace = 1.0
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        f"""
name: stop-cleanup
command: [python, {SCRIPTS / "spawning_trial.py"}, "{{trial_id}}", "{{trial_dir}}", --x, "{{x}}"]
objective: {{metric: acc, type: maximize}}
metrics: [{{name: acc, regex: 'acc=([0-9.]+)'}}]
strategy: random
early_stopping: auto
early_stopping_rule: {{min_steps: 1, min_trials: 1}}
parameters: {{x: {{type: continuous, min: 0, max: 1}}}}
limits: {{max_jobs: 2, max_parallel_jobs: 1, stop_grace_period: {grace}}}
random_seed: 0
"""
    )
    runs = tmp_path / "runs"
    proc = run_hpt("run", spec, "--runs-dir", runs, "-q", timeout=60)
    done = time.time()
    assert proc.code == 0, proc.err
    trials = {t["trial_id"]: t for t in show_json("stop-cleanup", runs)["trial_list"]}
    assert trials[1]["state"] == "completed"
    assert trials[2]["state"] == "stopped" and "median rule" in trials[2]["reason"]
    pids = [int(p) for p in (runs / "stop-cleanup" / "trials" / "0002" / "pids.txt").read_text().split()]
    assert len(pids) == 2
    db = sqlite3.connect(runs / "stop-cleanup" / "job.db")
    (first_point,) = db.execute("SELECT MIN(time) FROM metrics WHERE trial_id = 2").fetchone()
    (ended,) = db.execute("SELECT ended FROM attempts WHERE trial_id = 2").fetchone()
    db.close()
    # Stopped at its first point; SIGKILL after the grace period; a generous margin for slow CI.
    assert ended - first_point < grace + 5
    while any(alive(p) for p in pids) and time.time() < done + 2:
        time.sleep(0.05)
    assert not [p for p in pids if alive(p)]
