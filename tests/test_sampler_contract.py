"""The contract every sampler keeps: valid points only, bounds and types respected, reproducible
with a seed, no duplicates in a discrete space, None once a discrete space is exhausted."""

from __future__ import annotations

import pytest
import yaml

from hpt.spec import parse_spec
from hpt.strategies import Context, make_sampler
from hpt.trial import COMPLETED, RUNNING, Trial

MIXED = {
    "lr": {"type": "continuous", "min": 1e-5, "max": 1.0, "scaling": "logarithmic"},
    "momentum": {"type": "continuous", "min": 0.0, "max": 0.999, "scaling": "reverse_logarithmic"},
    "layers": {"type": "integer", "min": 1, "max": 8},
    "units": {"type": "integer", "min": 16, "max": 4096, "scaling": "logarithmic"},
    "act": {"type": "categorical", "values": ["relu", "tanh", "yes"]},
}
DISCRETE = {
    "layers": {"type": "integer", "min": 1, "max": 3},
    "act": {"type": "categorical", "values": ["relu", "tanh"]},
}
CATEGORICAL = {
    "a": {"type": "categorical", "values": ["1", "2", "3"]},
    "b": {"type": "categorical", "values": ["x", "y"]},
}

# strategy -> the spaces it accepts. New samplers add themselves here.
SAMPLERS = {
    "random": [MIXED, DISCRETE, CATEGORICAL],
    "grid": [CATEGORICAL],
    "bayesian": [MIXED, DISCRETE, CATEGORICAL],
}


def spec_for(strategy: str, params: dict, max_jobs: int | None = None):
    size = 1
    discrete = True
    for p in params.values():
        if p["type"] == "categorical":
            size *= len(p["values"])
        elif p["type"] == "integer":
            size *= p["max"] - p["min"] + 1
        else:
            discrete = False
    data = {
        "name": "c",
        "command": ["x", "{args}"],
        "objective": {"metric": "m", "type": "minimize"},
        "metrics": [{"name": "m", "regex": "m=(.*)"}],
        "strategy": strategy,
        "parameters": params,
        "limits": {"max_jobs": max_jobs or (size if discrete else 20)},
        "random_seed": 3,
    }
    return parse_spec(yaml.safe_dump(data), "contract.yaml")


def run_asks(spec, seed: int, n: int, running_every: int = 3):
    """Ask n times, marking trials completed (or leaving some running) as a runner would."""
    sampler = make_sampler(spec)
    trials: list[Trial] = []
    history = {}
    out = []
    for i in range(n):
        ctx = Context(spec, seed, list(trials), history)
        s = sampler.ask(ctx)
        if s is None:
            out.append(None)
            break
        out.append(s.params)
        tid = len(trials) + 1
        state = RUNNING if i % running_every == 0 else COMPLETED
        value = sum(hash(str(v)) % 97 for v in s.params.values()) / 97.0
        trials.append(
            Trial(tid, state, dict(s.params), dict(s.info), 1, value if state == COMPLETED else None)
        )
        history[tid] = [(1, value)] if state == COMPLETED else []
    return out


CASES = [(s, i) for s, spaces in SAMPLERS.items() for i in range(len(spaces))]


@pytest.mark.parametrize("strategy, which", CASES)
def test_valid_points_only(strategy, which):
    params = SAMPLERS[strategy][which]
    spec = spec_for(strategy, params)
    for point in run_asks(spec, seed=1, n=spec.limits.max_jobs):
        assert point is not None
        assert set(point) == set(params)
        for name, value in point.items():
            p = params[name]
            if p["type"] == "categorical":
                assert isinstance(value, str) and value in [str(v) for v in p["values"]]
            elif p["type"] == "integer":
                assert isinstance(value, int) and p["min"] <= value <= p["max"]
            else:
                assert isinstance(value, float) and p["min"] <= value <= p["max"]


@pytest.mark.parametrize("strategy, which", CASES)
def test_reproducible_with_a_seed(strategy, which):
    spec = spec_for(strategy, SAMPLERS[strategy][which])
    n = min(spec.limits.max_jobs, 8)
    assert run_asks(spec, seed=7, n=n) == run_asks(spec, seed=7, n=n)
    if spec.space.cardinality is None:
        assert run_asks(spec, seed=7, n=n) != run_asks(spec, seed=8, n=n)


@pytest.mark.parametrize("strategy, which", [c for c in CASES if SAMPLERS[c[0]][c[1]] is not MIXED])
def test_no_duplicates_then_exhausted(strategy, which):
    spec = spec_for(strategy, SAMPLERS[strategy][which])
    size = spec.space.cardinality
    points = run_asks(spec, seed=2, n=size + 1)
    assert points[-1] is None
    seen = [tuple(sorted(p.items())) for p in points[:-1]]
    assert len(seen) == size == len(set(seen))


def test_grid_is_in_declaration_order():
    spec = spec_for("grid", CATEGORICAL)
    points = run_asks(spec, seed=0, n=6)
    assert [(p["a"], p["b"]) for p in points] == [
        ("1", "x"),
        ("1", "y"),
        ("2", "x"),
        ("2", "y"),
        ("3", "x"),
        ("3", "y"),
    ]
