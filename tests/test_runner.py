"""The runner's loop on the simulated executor: no processes, so what is checked is what the
strategy is told and when, how attempts end, and when the job ends, on a virtual clock."""

from __future__ import annotations

import math

import yaml

from hpt.executors.sim import SimExecutor, SimTrial, run_simulated
from hpt.jobs import create_or_reopen
from hpt.runner import Runner
from hpt.spec import parse_spec
from hpt.trial import COMPLETED, FAILED, INTERRUPTED, JOB_COMPLETED, STOPPED


def spec(**extra):
    data = {
        "name": "sim",
        "command": ["train", "{args}"],
        "objective": {"metric": "loss", "type": "minimize"},
        "metrics": [{"name": "loss", "regex": "loss=([-+0-9.eE]+)"}],
        "strategy": "random",
        "parameters": {"x": {"type": "continuous", "min": 0.0, "max": 1.0}},
        "limits": {"max_jobs": 6, "max_parallel_jobs": 4},
        "random_seed": 1,
    }
    for key, value in extra.items():
        if isinstance(value, dict):
            data.setdefault(key, {}).update(value)
        else:
            data[key] = value
    return parse_spec(yaml.safe_dump(data, sort_keys=False), "sim.yaml")


def test_trials_that_ended_are_told_to_the_strategy_before_it_suggests_again(tmp_path):
    # Every attempt prints its trial id and exits at once.
    sim = SimExecutor(lambda launch: SimTrial(((0.0, f"loss={launch.trial_id}"),)))
    store, s, _ = create_or_reopen(spec(), tmp_path)
    runner = Runner(s, store, sim.factory, seed=1, clock=sim.clock, poll_interval=math.inf)
    seen = []
    ask = runner.sampler.ask

    def spy(ctx):
        seen.append([t.state for t in ctx.trials])
        return ask(ctx)

    runner.sampler.ask = spy
    try:
        assert runner.run().status == JOB_COMPLETED
        # Each trial had ended before the next suggestion, though three more could have run:
        # none may be taken for running (the strategy would then suggest with less than it knows).
        assert seen == [[COMPLETED] * n for n in range(6)]
        assert [t.objective for t in store.trials()] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    finally:
        store.close()


def test_parallel_slots_and_virtual_time(tmp_path):
    # Trial n takes n seconds: with 2 slots, 6 trials end at 1, 2, 4, 6, 9, 12 seconds.
    behaviour = lambda launch: SimTrial(((float(launch.trial_id), "loss=1"),))  # noqa: E731
    result, sim = run_simulated(spec(limits={"max_parallel_jobs": 2}), behaviour, tmp_path)
    assert result.status == JOB_COMPLETED and len(result.trials) == 6
    assert abs(sim.clock.now - 12.0) < 0.2


def test_a_trial_over_max_job_runtime_fails_with_a_timeout(tmp_path):
    behaviour = lambda launch: SimTrial.curve(["loss=1"] * 100)  # noqa: E731
    result, sim = run_simulated(
        spec(limits={"max_jobs": 2, "max_parallel_jobs": 1, "max_job_runtime": 10}), behaviour, tmp_path
    )
    assert [t.state for t in result.trials] == [FAILED, FAILED]
    assert all("exceeded max_job_runtime (10s)" in t.reason for t in result.trials)
    assert len(sim.stops) == 2 and sim.clock.now < 25


def test_a_target_ends_the_job_and_stops_the_trials_still_running(tmp_path):
    values = {1: 0.9, 2: 0.1, 3: 0.5}
    behaviour = lambda launch: SimTrial.curve(  # noqa: E731
        [f"loss={values.get(launch.trial_id, 0.8)}"] * (2 if launch.trial_id == 2 else 50)
    )
    result, _ = run_simulated(
        spec(limits={"max_jobs": 10, "max_parallel_jobs": 3}, completion={"target": 0.2}), behaviour, tmp_path
    )
    assert result.status == JOB_COMPLETED and "reached by trial 2" in result.reason
    states = {t.id: t.state for t in result.trials}
    assert states[2] == COMPLETED and states[1] == states[3] == STOPPED
    assert len(result.trials) == 3  # nothing was launched after the target was reached


def test_max_runtime_interrupts_running_trials(tmp_path):
    behaviour = lambda launch: SimTrial.curve(["loss=0.5"] * 30)  # noqa: E731
    result, _ = run_simulated(spec(limits={"max_runtime": 45, "max_parallel_jobs": 2}), behaviour, tmp_path)
    assert result.status == JOB_COMPLETED and result.reason == "max_runtime (45s) reached"
    assert [t.state for t in result.trials] == [COMPLETED, COMPLETED, INTERRUPTED, INTERRUPTED]


def test_failed_attempts_are_retried(tmp_path):
    behaviour = lambda launch: SimTrial(  # noqa: E731
        ((1.0, "loss=0.3"),), exit_code=0 if launch.attempt == 2 else 3
    )
    result, sim = run_simulated(
        spec(limits={"max_jobs": 2, "max_parallel_jobs": 1, "max_retries": 1}), behaviour, tmp_path
    )
    assert [(t.state, t.attempts) for t in result.trials] == [(COMPLETED, 2), (COMPLETED, 2)]
    assert [launch.key for launch in sim.launches] == [(1, 1), (1, 2), (2, 1), (2, 2)]


def test_hyperband_stops_trials_at_rungs_and_output_after_the_stop_is_cut(tmp_path):
    s = spec(
        strategy="hyperband",
        hyperband={"min_resource": 1, "max_resource": 9, "eta": 3},
        limits={"max_jobs": 12, "max_parallel_jobs": 2},
        objective={"metric": "loss", "type": "minimize"},
    )
    # Loss falls with the epoch, faster for small x: a clear ranking at every rung.
    behaviour = lambda launch: SimTrial.curve(  # noqa: E731
        [f"loss={launch.params['x'] + 1.0 / e}" for e in range(1, 10)]
    )
    result, sim = run_simulated(s, behaviour, tmp_path, stop_delay=0.5)
    stopped = [t for t in result.trials if t.state == STOPPED]
    assert stopped and all(t.objective_step in (1, 3) for t in stopped)
    assert all(t.state in (COMPLETED, STOPPED) for t in result.trials)
    best = min((t for t in result.trials if t.state == COMPLETED), key=lambda t: t.objective)
    assert result.best.trial_id == best.id


def test_a_stop_after_the_last_trial_leaves_the_job_completed(tmp_path):
    # `hpt stop` landing as the last trial ends: the job is done, so it is Completed, not Stopped.
    from hpt.reporting import QuietReporter

    sim = SimExecutor(lambda launch: SimTrial(((1.0, "loss=0.5"),)))
    store, s, _ = create_or_reopen(spec(limits={"max_jobs": 2, "max_parallel_jobs": 1}), tmp_path)

    class StopAtTheEnd(QuietReporter):
        def trial_ended(self, run, trial, attempt, attempt_state):
            if trial.id == 2:
                runner.request_stop()

    runner = Runner(s, store, sim.factory, StopAtTheEnd(), seed=1, clock=sim.clock, poll_interval=math.inf)
    try:
        ending = runner.run()
        assert ending.status == JOB_COMPLETED and ending.reason == "max_jobs (2) reached"
    finally:
        store.close()
