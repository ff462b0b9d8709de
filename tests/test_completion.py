"""Completion criteria: one callable from the trials and the clock to the job's ending."""

import yaml

from hpt.completion import Criteria
from hpt.spec import parse_spec
from hpt.trial import COMPLETED, FAILED, JOB_COMPLETED, JOB_FAILED, RUNNING, STOPPED, Trial


def spec(**extra):
    data = {
        "name": "c",
        "command": ["x", "{args}"],
        "objective": {"metric": "loss", "type": "minimize"},
        "metrics": [{"name": "loss", "regex": "loss=([0-9.]+)"}],
        "strategy": "random",
        "parameters": {"a": {"type": "continuous", "min": 0, "max": 1}},
        "limits": {"max_jobs": 10},
    }
    for key, value in extra.items():
        if isinstance(value, dict):
            data.setdefault(key, {}).update(value)
        else:
            data[key] = value
    return parse_spec(yaml.safe_dump(data), "c.yaml")


def trials(*rows):
    return [Trial(i, state, {"a": 0.1}, objective=v, ended=float(i)) for i, (state, v) in enumerate(rows, 1)]


def test_max_runtime_comes_first_and_interrupts():
    c = Criteria(spec(limits={"max_runtime": 60}))
    assert c([], elapsed=59.9) is None
    e = c([], elapsed=60)
    assert e.status == JOB_COMPLETED and e.stop == "runtime" and "max_runtime (1m)" in e.reason


def test_target_is_judged_once_a_trial_finishes():
    c = Criteria(spec(completion={"target": 0.2}))
    ts = trials((COMPLETED, 0.5), (RUNNING, None))
    assert c(ts, elapsed=0) is None  # the first call is the baseline
    ts[1] = Trial(2, STOPPED, {}, objective=0.1, ended=2.0)
    e = c(ts, elapsed=0)
    assert e.status == JOB_COMPLETED and e.stop == "completion" and "reached by trial 2" in e.reason


def test_a_resumed_job_is_not_ended_before_a_new_trial_finishes():
    ts = trials(*[(COMPLETED, 1.0)] * 5)
    c = Criteria(spec(completion={"max_jobs_not_improving": 3}))
    assert c(ts, elapsed=0) is None
    ts.append(Trial(6, COMPLETED, {}, objective=1.0, ended=6.0))
    assert "did not improve by 1% in the last 5 trials" in c(ts, elapsed=0).reason


def test_failures_without_success_fail_the_job_as_amt():
    c = Criteria(spec())
    c([], elapsed=0)
    e = c(trials(*[(FAILED, None)] * 5), elapsed=0)
    assert e.status == JOB_FAILED and "5 trials failed and none completed" in e.reason


def test_natural_end_when_idle():
    c = Criteria(spec())
    assert c(trials((COMPLETED, 0.3)), elapsed=0) is None
    assert c(trials((COMPLETED, 0.3)), elapsed=0, idle=True).reason == "max_jobs (10) reached"
    e = c(trials((COMPLETED, 0.3)), elapsed=0, idle=True, exhausted=True)
    assert e.reason == "search space exhausted after 1 trials"
    e = c(trials((FAILED, None), (FAILED, None)), elapsed=0, idle=True)
    assert e.status == JOB_FAILED and e.reason == "no trial completed (2 of 2 failed)"
