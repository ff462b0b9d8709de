"""initial_points: configurations run first, in order, exactly as written; checked with their
lines; completed by the strategy when partial; never run twice."""

from __future__ import annotations

import pytest
import yaml

from hpt.errors import SpecError
from hpt.executors.sim import SimTrial, run_simulated
from hpt.spec import parse_spec
from hpt.strategies import Context, make_sampler
from hpt.trial import Trial

SPACE = {
    "lr": {"type": "continuous", "min": 1e-4, "max": 1.0, "scaling": "logarithmic"},
    "layers": {"type": "integer", "min": 1, "max": 8},
    "act": {"type": "categorical", "values": ["relu", 0.10, "1e-3"]},
}


def spec(points, *, strategy="random", parameters=None, **extra):
    data = {
        "name": "ip",
        "command": ["train", "{args}"],
        "objective": {"metric": "loss", "type": "minimize"},
        "metrics": [{"name": "loss", "regex": "loss=([-+0-9.eE]+)"}],
        "strategy": strategy,
        "parameters": parameters or SPACE,
        "limits": {"max_jobs": 6},
        "random_seed": 4,
        "initial_points": points,
        **extra,
    }
    if strategy == "grid":
        data["limits"] = {}
    return parse_spec(yaml.safe_dump(data, sort_keys=False), "ip.yaml")


def loss(launch):
    return SimTrial(((1.0, f"loss={launch.trial_id}"),))


ERRORS = """\
name: ip
command: [train, "{args}"]
objective: {metric: loss, type: minimize}
metrics:
  - {name: loss, regex: 'loss=([0-9.]+)'}
static: {seed: 1}
parameters:
  lr: {type: continuous, min: 1.0e-4, max: 1.0}
  layers: {type: integer, min: 1, max: 8}
  act: {type: categorical, values: [relu, 0.10]}
limits: {max_jobs: 4}
initial_points:
  - {lr: 0.01, layers: 2, act: relu}
  - {lr: 5.0, layers: 2.5, act: "0.1"}
  - {lrr: 0.1, seed: 2, layers: "3"}
  - {lr: 0.01, layers: 2, act: relu}
  - {lr: 0.02}
"""


def test_every_wrong_value_is_named_with_its_line():
    with pytest.raises(SpecError) as err:
        parse_spec(ERRORS, "ip.yaml")
    got = [str(p) for p in err.value.problems]
    assert got == [
        "initial_points (line 13, col 3): 5 initial points but max_jobs is 4; they count toward max_jobs",
        "initial_points[1].lr (line 14, col 10): 5.0 is above max 1.0",
        "initial_points[1].layers (line 14, col 23): 'layers' is an integer parameter: 2.5 is not an integer",
        "initial_points[1].act (line 14, col 33): '0.1' is not one of the values of 'act': relu, 0.10",
        "initial_points[2].lrr (line 15, col 6): unknown parameter 'lrr'; an initial point sets parameters of "
        "`parameters`; did you mean 'lr'?",
        "initial_points[2].seed (line 15, col 16): 'seed' is a static hyperparameter, not a tuned one; "
        "an initial point sets tuned parameters only",
        "initial_points[2].layers (line 15, col 33): 'layers' is integer: its value must be a number (got '3')",
        "initial_points[3] (line 16, col 5): repeats initial_points[0]; each point runs once",
    ]


RUN_FIRST = """\
name: ip
command: [train, "{args}"]
objective: {metric: loss, type: minimize}
metrics:
  - {name: loss, regex: 'loss=([0-9.]+)'}
strategy: random
parameters:
  lr: {type: continuous, min: 1.0e-4, max: 1.0, scaling: logarithmic}
  layers: {type: integer, min: 1, max: 8}
  act: {type: categorical, values: [relu, 0.10, 1e-3]}
limits: {max_jobs: 6}
random_seed: 4
initial_points:
  - {lr: 0.5, layers: 3, act: 1e-3}
  - {lr: 1.0e-4, layers: 8, act: 0.10}
"""


def test_initial_points_run_first_in_order_exactly_as_written(tmp_path):
    result, sim = run_simulated(parse_spec(RUN_FIRST, "ip.yaml"), loss, tmp_path)
    trials = result.trials
    assert [t.params for t in trials[:2]] == [
        {"lr": 0.5, "layers": 3, "act": "1e-3"},
        {"lr": 1e-4, "layers": 8, "act": "0.10"},  # categorical values: their text as written
    ]
    assert [t.info.get("initial_point") for t in trials] == [0, 1, None, None, None, None]
    assert sim.launches[1].argv == ("train", "--lr", "0.0001", "--layers", "8", "--act", "0.10")
    assert len(trials) == 6  # they count toward max_jobs


def test_a_partial_point_is_completed_by_the_strategy(tmp_path):
    for strategy in ("random", "bayesian"):
        result, _ = run_simulated(
            spec([{"layers": 7}, {"act": "relu", "lr": 0.3}], strategy=strategy, limits={"max_jobs": 2}),
            loss,
            tmp_path / strategy,
        )
        first, second = result.trials[0].params, result.trials[1].params
        assert first["layers"] == 7 and set(first) == set(SPACE)
        assert (second["act"], second["lr"]) == ("relu", 0.3) and 1 <= second["layers"] <= 8


def test_grid_runs_its_initial_points_first_and_never_again(tmp_path):
    grid = {
        "a": {"type": "categorical", "values": ["x", "y"]},
        "b": {"type": "categorical", "values": [1, 2, 3]},
    }
    result, _ = run_simulated(
        spec([{"a": "y", "b": 3}, {"b": 2}], strategy="grid", parameters=grid), loss, tmp_path
    )
    combos = [(t.params["a"], t.params["b"]) for t in result.trials]
    assert combos[:2] == [("y", "3"), ("x", "2")]  # the partial point: the first free combination with b=2
    assert sorted(combos) == sorted((a, b) for a in "xy" for b in "123")


def test_points_already_run_are_not_run_again():
    s = spec([{"layers": 2}, {"layers": 3}, {"layers": 4}])
    sampler = make_sampler(s)
    done = [
        Trial(1, "completed", {"lr": 0.1, "layers": 2, "act": "relu"}, {"initial_point": 0}, objective=1.0)
    ]
    nxt = sampler.ask(Context(s, 4, done, {}))
    assert nxt.info["initial_point"] == 1 and nxt.params["layers"] == 3
    done += [
        Trial(2, "running", nxt.params, nxt.info),
        Trial(3, "interrupted", {"lr": 0.2, "layers": 4, "act": "relu"}, {"initial_point": 2}),
    ]
    after = sampler.ask(Context(s, 4, done, {}))
    assert "initial_point" not in after.info  # an interrupted point runs again as itself, not anew


def test_extending_a_finished_job_does_not_rerun_its_initial_points(tmp_path):
    points = [{"lr": 0.01, "layers": 2, "act": "relu"}]
    run_simulated(spec(points, limits={"max_jobs": 2}), loss, tmp_path)
    result, _ = run_simulated(spec(points, limits={"max_jobs": 4}), loss, tmp_path)
    assert [t.info.get("initial_point") for t in result.trials] == [0, None, None, None]


def test_hyperband_gives_initial_points_brackets(tmp_path):
    s = spec(
        [{"lr": 0.01, "layers": 2, "act": "relu"}],
        strategy="hyperband",
        static={"epochs": 9},
        limits={"max_jobs": 3},
    )
    result, _ = run_simulated(
        s, lambda launch: SimTrial.curve([f"loss={1 / e}" for e in range(1, 10)]), tmp_path
    )
    assert result.trials[0].params == {"lr": 0.01, "layers": 2, "act": "relu"}
    assert result.trials[0].info == {"initial_point": 0, "bracket": 0}
