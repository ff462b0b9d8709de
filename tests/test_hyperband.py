"""Hyperband: rung levels, brackets and promotion decisions as pure functions; the stopper and
the sampler on hand-made jobs; an end-to-end run of the example spec."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hb_helpers import REPO, Job, make_spec, run_hpt, show_json
from hypothesis import given, settings
from hypothesis import strategies as st

from hpt.errors import SpecError
from hpt.strategies import make_sampler, make_stopper
from hpt.strategies.hyperband import (
    HyperbandSampler,
    HyperbandStopper,
    ModelBasedProposer,
    bracket_weights,
    continues,
    max_bracket,
    next_bracket,
    promotion_quota,
    rung_levels,
    values_at_rungs,
)
from hpt.strategies.random import RandomSampler
from hpt.trial import COMPLETED, FAILED, INTERRUPTED, PENDING, RUNNING, STOPPED

# --------------------------------------------------------------------------- rung levels


@pytest.mark.parametrize(
    ("min_r", "max_r", "eta", "s_max"),
    [(1, 81, 3, 4), (1, 80, 3, 3), (1, 27, 3, 3), (1, 30, 3, 3), (2, 81, 3, 3), (1, 1, 3, 0), (1, 100, 2, 6)],
)
def test_max_bracket_is_floor_log_eta(min_r, max_r, eta, s_max):
    assert max_bracket(min_r, max_r, eta) == s_max


def test_rung_levels_of_each_bracket():
    assert rung_levels(1, 81, 3, 0) == [1, 3, 9, 27]
    assert rung_levels(1, 81, 3, 1) == [3, 9, 27]
    assert rung_levels(1, 81, 3, 3) == [27]
    assert rung_levels(1, 81, 3, 4) == []  # starts at max_resource: runs to the end unjudged
    assert rung_levels(1, 30, 3, 3) == [27]  # 27 < 30: still judged once
    assert rung_levels(2, 81, 3) == [2, 6, 18, 54]
    assert rung_levels(1, 16, 2) == [1, 2, 4, 8]
    assert rung_levels(5, 5, 3) == []


def test_rung_levels_reject_impossible_settings():
    with pytest.raises(ValueError):
        rung_levels(1, 81, 3, 5)
    with pytest.raises(ValueError):
        rung_levels(10, 5, 3)
    with pytest.raises(ValueError):
        rung_levels(1, 5, 1)


def test_bracket_weights_are_synchronous_hyperband_sizes():
    assert bracket_weights(1, 81, 3) == [81, 34, 15, 8, 5]
    assert bracket_weights(1, 27, 3) == [27, 12, 6, 4]
    assert bracket_weights(3, 3, 3) == [1]
    assert bracket_weights(1, 81, 3, brackets=2) == [81, 34]
    with pytest.raises(ValueError):
        bracket_weights(1, 27, 3, brackets=5)


def test_next_bracket_follows_the_weights_closely_at_every_prefix():
    weights = bracket_weights(1, 81, 3)
    counts = [0] * len(weights)
    total = sum(weights)
    for n in range(1, 3 * total + 1):
        counts[next_bracket(counts, weights)] += 1
        for c, w in zip(counts, weights, strict=True):
            assert abs(c - n * w / total) <= 1
    assert counts == [3 * w for w in weights]


def test_next_bracket_starts_with_the_most_aggressive_bracket():
    assert next_bracket([0, 0, 0], [9, 5, 3]) == 0


# --------------------------------------------------------------------------- promotion


def test_promotion_quota_is_ceil_n_over_eta():
    assert [promotion_quota(n, 3) for n in range(1, 11)] == [1, 1, 1, 2, 2, 2, 3, 3, 3, 4]


def test_first_arrival_at_a_rung_continues():
    assert continues(0.1, [], eta=3, maximize=True)


def test_second_arrival_continues_only_if_it_beats_the_first():
    assert continues(0.9, [0.8], eta=3, maximize=True)
    assert not continues(0.7, [0.8], eta=3, maximize=True)


def test_ties_count_in_favour_of_the_arriving_trial():
    assert continues(0.8, [0.8], eta=3, maximize=True)


def test_top_ceil_n_over_eta_continue():
    others = [0.9, 0.8, 0.7, 0.6, 0.5]  # n = 6 with the newcomer: the top 2 continue
    assert continues(0.85, others, eta=3, maximize=True)  # rank 2
    assert not continues(0.75, others, eta=3, maximize=True)  # rank 3


def test_minimizing_ranks_low_values_first():
    assert continues(0.1, [0.5, 0.6], eta=3, maximize=False)
    assert not continues(0.55, [0.5, 0.6], eta=3, maximize=False)


def test_nan_ranks_last():
    assert not continues(math.nan, [0.1], eta=3, maximize=True)
    assert continues(0.1, [math.nan], eta=3, maximize=True)
    assert continues(5.0, [math.nan], eta=3, maximize=False)


def test_eta_two_keeps_half():
    others = [4.0, 3.0, 2.0]
    assert continues(3.5, others, eta=2, maximize=True)  # rank 2 of 4
    assert not continues(2.5, others, eta=2, maximize=True)  # rank 3 of 4


def test_value_at_a_rung_is_the_objective_at_the_first_point_reaching_it():
    points = [(1, 0.5), (2, 0.7), (3, 0.6)]
    assert values_at_rungs(points, [1, 3], "last", True) == {1: 0.5, 3: 0.6}
    assert values_at_rungs(points, [1, 3], "best", True) == {1: 0.5, 3: 0.7}
    assert values_at_rungs(points, [1, 3], "best", False) == {1: 0.5, 3: 0.5}
    # A step group that skips levels: one point reaches several rungs.
    assert values_at_rungs([(2, 0.5), (10, 0.7)], [1, 3, 9], "last", True) == {1: 0.5, 3: 0.7, 9: 0.7}
    assert values_at_rungs([(2, 0.5)], [3], "last", True) == {}


# --------------------------------------------------------------------------- the stopper


def hb_spec(**hb):
    return make_spec(hyperband={"min_resource": 1, "max_resource": 9, "eta": 3, **hb})


def test_make_stopper_and_sampler_for_hyperband():
    spec = hb_spec()
    assert isinstance(make_stopper(spec), HyperbandStopper)
    assert isinstance(make_sampler(spec), HyperbandSampler)


def test_the_default_sampler_is_model_based_and_amts_random_one_stays_available():
    assert hb_spec().hyperband.sampler == "bayesian"
    assert isinstance(make_sampler(hb_spec()).proposer, ModelBasedProposer)
    random = make_sampler(hb_spec(sampler="random"))
    assert hb_spec(sampler="random").hyperband.sampler == "random"
    assert isinstance(random.proposer, RandomSampler)


# --------------------------------------------------------------------------- hyperband.sampler: bayesian


def _log_spec(**hb):
    lr = {"type": "continuous", "min": 1e-5, "max": 1.0, "scaling": "logarithmic"}
    return make_spec(parameters={"lr": lr}, hyperband={"max_resource": 9, "sampler": "bayesian", **hb})


def _curve(lr: float, steps: int) -> list[float]:
    """Accuracy per epoch, best at lr = 1e-2 (a smooth bowl in log10(lr))."""
    top = 1.0 - (math.log10(lr) + 2.0) ** 2 / 20
    return [top * (1 - 0.5 / s) for s in range(1, steps + 1)]


def _job_with(spec, trials: list[tuple[str, float, int]]) -> Job:
    job = Job(spec, seed=3)
    for state, lr, steps in trials:
        t = job.add(state, _curve(lr, steps), bracket=0)
        t.params = {"lr": lr}
    return job


def test_bayesian_sampler_is_the_hyperband_sampler_with_a_model_based_proposer():
    sampler = make_sampler(_log_spec())
    assert isinstance(sampler, HyperbandSampler) and isinstance(sampler.proposer, ModelBasedProposer)


def test_bayesian_proposer_draws_like_random_until_enough_trials_have_a_value():
    spec = _log_spec()
    proposer = ModelBasedProposer(spec)
    assert proposer.min_observations == 5
    job = _job_with(spec, [(COMPLETED, 10.0**-k, 9) for k in range(1, 5)])  # 4 < 5 observations
    s = HyperbandSampler(spec, proposer).ask(job.ctx())
    assert s.params == RandomSampler(spec.space).draw(3, 5) and set(s.info) == {"bracket"}


def test_bayesian_proposer_models_every_level_with_the_resource_as_an_input():
    spec = _log_spec()
    lrs = [10.0**e for e in (-5, -4.5, -4, -3.5, -3, -1, -0.5, 0)]
    # Three trials ran to 9 epochs (values at levels 1, 3 and 9), five were stopped at rung 3
    # (levels 1 and 3); a failure is no observation.
    trials = [(COMPLETED, lr, 9) for lr in lrs[:3]] + [(STOPPED, lr, 3) for lr in lrs[3:]]
    job = _job_with(spec, [*trials, (FAILED, 0.5, 0)])

    proposer = ModelBasedProposer(spec)
    obs = proposer.observations(job.ctx())
    assert [(tid, level) for tid, level, _, _ in obs[:5]] == [(1, 1), (1, 3), (1, 9), (2, 1), (2, 3)]
    assert len(obs) == 3 * 3 + 5 * 2
    assert all(v == _curve(p["lr"], level)[-1] for _, level, p, v in obs)
    s = proposer.ask(job.ctx())  # trial 10: not one of the random third
    assert s.info == {"model_observations": 19} and set(s.params) == {"lr"}
    # The final values are best at lr = 1e-2, where no trial ran: the model's guess lands near it.
    assert 1e-5 <= s.params["lr"] <= 1.0 and abs(math.log10(s.params["lr"]) + 2) < 1.0
    assert proposer.ask(job.ctx()) == s  # the same store gives the same suggestion


def test_bayesian_proposer_draws_every_third_trial_at_random():
    spec = _log_spec()
    job = _job_with(spec, [(COMPLETED, 10.0**e, 9) for e in (-5, -4, -3, -1, -0.5, 0, -4.5, -3.5)])
    s = ModelBasedProposer(spec).ask(job.ctx())  # trial 9
    assert s.params == RandomSampler(spec.space).draw(3, 9) and s.info == {}


def test_bayesian_proposer_ends_with_an_exhausted_discrete_space():
    spec = make_spec(
        parameters={"k": {"type": "categorical", "values": ["a", "b"]}},
        hyperband={"max_resource": 9, "sampler": "bayesian"},
        limits={"max_jobs": 2},
    )

    job = Job(spec)
    for k in ("a", "b"):
        job.add(COMPLETED, [0.5] * 9).params = {"k": k}
    assert HyperbandSampler(spec, ModelBasedProposer(spec)).ask(job.ctx()) is None


def test_stopper_stops_a_trial_outside_the_top_third_at_a_rung():
    job = Job(hb_spec())
    stopper = HyperbandStopper(job.spec)
    for v in (0.9, 0.8, 0.7):
        job.add(COMPLETED, [v] * 9)
    t = job.add(RUNNING)
    reason = job.report(stopper, t, 0.75)  # rank 3 of 4 at rung 1: the top 2 continue
    assert reason is not None
    assert "rung 1 of bracket 0" in reason and "ranks 3 of 4" in reason and "top 2" in reason


def test_stopper_lets_a_good_trial_through_every_rung():
    job = Job(hb_spec())
    stopper = HyperbandStopper(job.spec)
    for v in (0.9, 0.8, 0.7):
        job.add(COMPLETED, [v] * 9)
    t = job.add(RUNNING)
    assert all(job.report(stopper, t, 0.95) is None for _ in range(9))


def test_stopper_judges_only_when_a_rung_is_reached():
    job = Job(hb_spec())
    stopper = HyperbandStopper(job.spec)
    job.add(COMPLETED, [0.9] * 9)
    t = job.add(RUNNING)
    assert job.report(stopper, t, 0.95) is None  # rung 1: best so far
    assert job.report(stopper, t, 0.1) is None  # step 2: no rung
    assert job.report(stopper, t, 0.2) is not None  # rung 3: 0.2 < 0.9, second of two


def test_brackets_are_judged_separately():
    job = Job(hb_spec())
    stopper = HyperbandStopper(job.spec)
    job.add(COMPLETED, [0.9] * 9, bracket=0)
    t = job.add(RUNNING, bracket=1)  # bracket 1 has rungs at 3 only
    assert [job.report(stopper, t, 0.1) for _ in range(3)] == [None, None, None]  # first at rung 3


def test_the_full_budget_bracket_is_never_judged():
    job = Job(hb_spec())
    stopper = HyperbandStopper(job.spec)
    for _ in range(5):
        job.add(COMPLETED, [0.9] * 9, bracket=2)
    t = job.add(RUNNING, bracket=2)
    assert all(job.report(stopper, t, 0.0) is None for _ in range(9))


def test_running_and_stopped_trials_count_at_the_rungs_they_reached():
    job = Job(hb_spec())
    stopper = HyperbandStopper(job.spec)
    job.add(STOPPED, [0.9, 0.9])  # stopped after rung 1
    job.add(RUNNING, [0.8])
    t = job.add(RUNNING)
    reason = job.report(stopper, t, 0.85)
    assert reason is not None and "ranks 2 of 3" in reason and "top 1" in reason


def test_failed_and_rerun_trials_do_not_count():
    job = Job(hb_spec())
    stopper = HyperbandStopper(job.spec)
    job.add(FAILED, [0.99])
    job.add(PENDING, [0.99])  # its failed attempt's points: it will run again
    job.add(INTERRUPTED, [0.99])
    t = job.add(RUNNING)
    assert job.report(stopper, t, 0.1) is None  # alone at rung 1


def test_a_new_attempt_forgets_the_rungs_of_the_previous_one():
    job = Job(hb_spec())
    stopper = HyperbandStopper(job.spec)
    job.add(COMPLETED, [0.5] * 9)
    retried = job.add(RUNNING, [0.99])
    other = job.add(RUNNING, bracket=1)
    assert job.report(stopper, other, 0.5) is None  # no rung at step 1 in bracket 1
    retried.attempts = 2  # the runner starts a new attempt with an empty curve
    job.history[retried.id] = []
    t = job.add(RUNNING)
    assert job.report(stopper, t, 0.7) is None  # first of two at rung 1, not second of three


def test_a_resumed_job_decides_as_the_live_one():
    """A stopper rebuilt from the stored points (a resumed job) makes the same decisions."""
    job = Job(hb_spec())
    live = HyperbandStopper(job.spec)
    decisions = []
    for v in [0.5, 0.9, 0.4, 0.8, 0.3, 0.7, 0.95, 0.2, 0.6, 0.65]:
        t = job.add(RUNNING)
        for k in range(9):
            job.history[t.id].append((k + 1, v + 0.001 * k))
            reason = live.on_report(job.ctx(), t, k + 1, v + 0.001 * k)
            assert HyperbandStopper(job.spec).on_report(job.ctx(), t, k + 1, v + 0.001 * k) == reason
            if reason:
                break
        t.state = STOPPED if reason else COMPLETED
        decisions.append(reason is not None)
    # e.g. 0.8: rank 2 of 4 at rung 1 (top 2 go on), then rank 2 of 3 at rung 3 (top 1 goes on);
    # 0.65: rank 5 of 10 at rung 1 (top 4 go on).
    assert decisions == [False, False, True, True, True, True, False, True, True, True]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(st.floats(0, 1), st.just(math.nan)), max_size=12),
    st.one_of(st.floats(0, 1), st.just(math.nan)),
    st.booleans(),
    st.sampled_from([2, 3, 4]),
)
def test_the_stopper_decides_as_the_pure_rule(earlier, value, maximize, eta):
    """Whatever the values at a rung, the stopper's decision is ``continues()``'s."""
    job = Job(make_spec(maximize=maximize, hyperband={"max_resource": 16, "eta": eta}))
    stopper = HyperbandStopper(job.spec)
    for v in earlier:
        job.add(COMPLETED, [v] * 16)
    t = job.add(RUNNING)
    stopped = job.report(stopper, t, value) is not None
    assert stopped == (not continues(value, earlier, eta, maximize))


# --------------------------------------------------------------------------- the sampler


def test_sampler_assigns_brackets_in_hyperband_proportions_and_draws_like_random():
    spec = hb_spec(brackets=3)
    sampler = HyperbandSampler(spec)
    random = RandomSampler(spec.space)
    job = Job(spec, seed=5)
    for _ in range(17):
        s = sampler.ask(job.ctx())
        assert s.params == random.draw(5, len(job.trials) + 1)
        job.add(RUNNING, bracket=s.info["bracket"])
    counts = [sum(1 for t in job.trials if t.info["bracket"] == b) for b in range(3)]
    assert counts == bracket_weights(1, 9, 3) == [9, 5, 3]


def test_sampler_uses_the_two_most_aggressive_brackets_by_default():
    spec = hb_spec()
    assert spec.hyperband.brackets == 2
    job = Job(spec)
    for _ in range(14):
        job.add(RUNNING, bracket=HyperbandSampler(spec).ask(job.ctx()).info["bracket"])
    assert [sum(1 for t in job.trials if t.info["bracket"] == b) for b in range(3)] == [9, 5, 0]


def test_sampler_continues_from_the_stored_brackets():
    spec = hb_spec()
    job = Job(spec)
    for b in (0, 0, 0, 0):
        job.add(COMPLETED, [0.5], bracket=b)
    assert HyperbandSampler(spec).ask(job.ctx()).info == {"bracket": 1}


def test_sampler_takes_a_pluggable_proposer():
    class Fixed:
        def ask(self, ctx):
            from hpt.strategies import Suggestion

            return Suggestion({"lr": 0.5}, {"model": "x"})

    s = HyperbandSampler(hb_spec(), proposer=Fixed()).ask(Job(hb_spec()).ctx())
    assert s.params == {"lr": 0.5} and s.info == {"model": "x", "bracket": 0}


# --------------------------------------------------------------------------- spec


def test_max_resource_is_inferred_from_static_epochs():
    spec = make_spec(static={"epochs": 27}, hyperband={"min_resource": 1})
    assert (spec.hyperband.max_resource, spec.hyperband.eta) == (27, 3)


def test_brackets_default_to_two_or_fewer_when_fewer_exist():
    assert make_spec(hyperband={"max_resource": 81}).hyperband.brackets == 2
    assert make_spec(hyperband={"max_resource": 2}).hyperband.brackets == 1
    assert make_spec(hyperband={"max_resource": 81, "brackets": 5}).hyperband.brackets == 5


def test_more_brackets_than_exist_are_refused():
    with pytest.raises(SpecError, match=r"hyperband.brackets .*only 4 brackets exist .* use at most 4"):
        make_spec(hyperband={"max_resource": 27, "brackets": 5})


def test_hyperband_without_max_resource_or_epochs_is_refused():
    with pytest.raises(SpecError, match="hyperband needs hyperband.max_resource"):
        make_spec(hyperband={"min_resource": 1})


# --------------------------------------------------------------------------- end to end


@pytest.mark.slow
def test_hyperband_spec_end_to_end(tmp_path: Path):
    """The example spec, shortened: some trials stopped early, the best ran to max_resource."""
    text = (REPO / "specs" / "digits-mlp-hyperband.yaml").read_text()
    assert "max_jobs: 48" in text and "workdir: .." in text
    text = text.replace("max_jobs: 48", "max_jobs: 12").replace("workdir: ..", f"workdir: {REPO}")
    spec = tmp_path / "hb.yaml"
    spec.write_text(text)
    runs = tmp_path / "runs"
    proc = run_hpt("run", spec, "--runs-dir", runs, "-o", "json", "-q")
    assert proc.code == 0, proc.err
    doc = show_json("digits-mlp-hyperband", runs)
    trials = doc["trial_list"]
    assert len(trials) == 12 and doc["counts"]["failed"] == 0
    stopped = [t for t in trials if t["state"] == "stopped"]
    assert stopped and all(t["step"] < 27 and t["reason"].startswith("hyperband:") for t in stopped)
    assert doc["counts"]["completed"] + len(stopped) == 12
    best = next(t for t in trials if t["trial_id"] == doc["best"]["trial_id"])
    assert best["state"] == "completed" and best["step"] == 27
    assert {t["info"]["bracket"] for t in trials} >= {0, 1}


def synthetic_spec(tmp_path: Path, name: str, wd: str, hyperband: str, max_jobs: int, seed: int) -> Path:
    """A hyperband spec on ``benchmarks/synthetic_curve.py`` with 9 epochs of 2 ms, tuning the
    learning rate (and ``wd`` when it is ``"{wd}"``)."""
    wd_range = (
        "\n  wd: {type: continuous, min: 1.0e-6, max: 1.0e-2, scaling: logarithmic}" if wd == "{wd}" else ""
    )
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(
        f"""
name: {name}
command: [python, benchmarks/synthetic_curve.py, --lr, "{{lr}}", --wd, "{wd}", --width, "256",
          --dropout, "0.3", --epochs, "{{epochs}}", --sleep, "0.002"]
workdir: {REPO}
static: {{epochs: 9}}
objective: {{metric: acc, type: maximize}}
metrics: [{{name: acc, regex: 'val_acc=([0-9.]+)'}}]
strategy: hyperband
{hyperband}
parameters:
  lr: {{type: continuous, min: 1.0e-4, max: 1.0, scaling: logarithmic}}{wd_range}
limits: {{max_jobs: {max_jobs}, max_parallel_jobs: 2}}
random_seed: {seed}
"""
    )
    return spec


@pytest.mark.slow
def test_a_resumed_job_keeps_its_brackets(tmp_path: Path):
    """Extend a finished hyperband job with AMT's random configurations: the new trials continue
    the bracket sequence, and the configurations are the ones a single longer job would have
    drawn."""
    spec = synthetic_spec(tmp_path, "hb-resume", "0.0001", "hyperband: {sampler: random}", max_jobs=6, seed=4)
    runs = tmp_path / "runs"
    assert run_hpt("run", spec, "--runs-dir", runs, "-q").code == 0
    proc = run_hpt("resume", "hb-resume", "--max-jobs", "12", "--runs-dir", runs, "-q")
    assert proc.code == 0, proc.err
    trials = sorted(show_json("hb-resume", runs)["trial_list"], key=lambda t: t["trial_id"])
    assert len(trials) == 12
    weights, counts, expected = bracket_weights(1, 9, 3, 2), [0, 0], []
    for _ in range(12):
        b = next_bracket(counts, weights)
        counts[b] += 1
        expected.append(b)
    assert [t["info"]["bracket"] for t in trials] == expected
    sampler = RandomSampler(
        make_spec(
            parameters={"lr": {"type": "continuous", "min": 1e-4, "max": 1.0, "scaling": "logarithmic"}},
            hyperband={"max_resource": 9},
        ).space
    )
    assert [t["hyperparameters"] for t in trials] == [sampler.draw(4, i) for i in range(1, 13)]
    assert any(t["state"] == "stopped" for t in trials)


@pytest.mark.slow
def test_model_based_hyperband_is_the_default_end_to_end(tmp_path: Path):
    """``strategy: hyperband`` with no sampler named, through the real CLI: the job completes,
    later trials come from the model (their info says on how many observations), and trials are
    stopped."""
    spec = synthetic_spec(tmp_path, "bohb", "{wd}", "", max_jobs=16, seed=7)
    runs = tmp_path / "runs"
    proc = run_hpt("run", spec, "--runs-dir", runs, "-o", "json", "-q")
    assert proc.code == 0, proc.err
    trials = sorted(show_json("bohb", runs)["trial_list"], key=lambda t: t["trial_id"])
    assert len(trials) == 16 and all(t["state"] in ("completed", "stopped") for t in trials)
    modelled = [t for t in trials if "model_observations" in t["info"]]
    assert modelled and all(t["trial_id"] % 3 != 0 for t in modelled)
    assert all(t["info"]["model_observations"] >= 5 for t in modelled)
    assert any(t["state"] == "stopped" for t in trials)
    for t in trials:
        assert 1e-4 <= t["hyperparameters"]["lr"] <= 1.0 and 1e-6 <= t["hyperparameters"]["wd"] <= 1e-2
