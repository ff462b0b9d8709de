"""Warm start: parent jobs' trials inform a new job (AMT's WarmStartConfig).

The jobs run on the simulated executor (the real runner, no processes); the problems are
deterministic functions, so what a strategy did with the parents' results is what is checked.
"""

from __future__ import annotations

import json
import math
import shutil
import sqlite3

import pytest
import yaml
from conftest import FAKE, hpt

import hpt as hpt_api
from hpt.errors import SpecError
from hpt.executors.sim import SimTrial, run_simulated
from hpt.spec import parse_spec
from hpt.store import JobLock

BRANIN_MIN = 0.397887357729738


def branin(p):
    x1, x2 = p["x1"], p["x2"]
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1 * x1 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


BRANIN = {
    "x1": {"type": "continuous", "min": -5.0, "max": 10.0},
    "x2": {"type": "continuous", "min": 0.0, "max": 15.0},
}


def spec_text(name: str, *, parameters=None, static=None, **extra) -> str:
    data = {
        "name": name,
        "command": ["train", "{args}"],
        "objective": {"metric": "loss", "type": "minimize"},
        "metrics": [{"name": "loss", "regex": "loss=([-+0-9.eE]+)"}],
        "strategy": "bayesian",
        "parameters": parameters or BRANIN,
        "limits": {"max_jobs": 5},
        "random_seed": 1,
    }
    if static:
        data["static"] = static
    data.update(extra)
    return yaml.safe_dump(data, sort_keys=False)


def spec(name: str, **kw):
    return parse_spec(spec_text(name, **kw), "spec.yaml")


def on_branin(launch):
    return SimTrial(((1.0, f"loss={branin(launch.params)!r}"),))


@pytest.fixture(scope="module")
def parent_runs(tmp_path_factory):
    """A runs directory with a finished bayesian job of 15 trials on Branin."""
    runs = tmp_path_factory.mktemp("runs")
    result, _ = run_simulated(spec("parent", limits={"max_jobs": 15}, random_seed=3), on_branin, runs)
    assert len(result.trials) == 15
    return runs


def regret_of_first(result, n: int) -> float:
    return min(t.objective for t in result.trials[:n]) - BRANIN_MIN


def test_a_warm_started_child_starts_near_the_parents_optimum(parent_runs, tmp_path):
    runs = tmp_path / "runs"
    shutil.copytree(parent_runs, runs)
    warm, cold = [], []
    for seed in (11, 12, 13):
        w, _ = run_simulated(
            spec(f"warm{seed}", random_seed=seed, warm_start={"parents": ["parent"]}), on_branin, runs
        )
        c, _ = run_simulated(spec(f"cold{seed}", random_seed=seed), on_branin, runs)
        warm.append(regret_of_first(w, 3))
        cold.append(regret_of_first(c, 3))
        # max_jobs counts the child's own trials: 5 of them, numbered from 1.
        assert [t.id for t in w.trials] == [1, 2, 3, 4, 5]
        assert w.warm_start["observations"] == 15
    # Within three trials the warm-started search stands where the parent's 15 trials led it;
    # the same child without warm start is still exploring.
    assert max(warm) < 1.0, warm
    assert all(a < b for a, b in zip(warm, cold, strict=True)), (warm, cold)


def test_identical_data_never_repeats_a_parents_configuration(tmp_path):
    params = {"k": {"type": "categorical", "values": list("abcdef")}}
    behaviour = lambda launch: SimTrial(((1.0, f"loss={'abcdef'.index(launch.params['k'])}"),))  # noqa: E731
    run_simulated(
        spec("p", parameters=params, strategy="random", limits={"max_jobs": 3}), behaviour, tmp_path
    )
    ran = {t.params["k"] for t in run_simulated(spec("q", parameters=params), behaviour, tmp_path)[0].trials}
    seen_by_parent = {t.params["k"] for t in hpt_api.load("p", runs_dir=tmp_path).trials}
    for strategy, extra in (("random", {}), ("grid", {}), ("bayesian", {})):
        limits = {} if strategy == "grid" else {"max_jobs": 3}
        child, _ = run_simulated(
            spec(
                f"child-{strategy}",
                parameters=params,
                strategy=strategy,
                limits=limits,
                warm_start={"parents": ["p"]},
                **extra,
            ),
            behaviour,
            tmp_path,
        )
        mine = [t.params["k"] for t in child.trials]
        assert not set(mine) & seen_by_parent, (strategy, mine, seen_by_parent)
        assert len(mine) == 3 and child.status == "Completed"
    assert ran  # the job without warm start ran what it liked


def test_parents_are_checked_with_the_lines_of_the_spec(parent_runs, tmp_path):
    runs = tmp_path / "runs"
    shutil.copytree(parent_runs, runs)
    other = {
        "x1": {"type": "integer", "min": -5, "max": 10},
        "x2": {"type": "continuous", "min": 0.0, "max": 15.0},
    }
    text = spec_text(
        "child",
        parameters=other,
        objective={"metric": "loss", "type": "maximize"},
        warm_start={"parents": ["parent", "nowhere"]},
    )
    s = parse_spec(text, "child.yaml")
    with pytest.raises(SpecError) as err:
        run_simulated(s, on_branin, runs)
    lines = text.splitlines()
    found = {p.path: p for p in err.value.problems}
    assert set(found) == {"warm_start.parents[1]", "objective.type", "parameters.x1.type"}
    assert "no job named 'nowhere'" in found["warm_start.parents[1]"].message
    assert "parent 'parent' is a minimize job" in found["objective.type"].message
    assert "parent 'parent' has 'x1' as continuous" in found["parameters.x1.type"].message
    for path, word in (
        ("warm_start.parents[1]", "nowhere"),
        ("objective.type", "maximize"),
        ("parameters.x1.type", "integer"),
    ):
        assert word in lines[found[path].line - 1], (path, found[path].line)
    assert not (runs / "child").exists()  # nothing was created


def test_identical_data_keeps_the_set_of_names_and_a_running_parent_is_refused(parent_runs, tmp_path):
    runs = tmp_path / "runs"
    shutil.copytree(parent_runs, runs)
    s = spec("child", static={"extra": 1}, warm_start={"parents": ["parent"]})
    with pytest.raises(SpecError, match=r"warm_start.type .*this job also has extra.*transfer_learning"):
        run_simulated(s, on_branin, runs)
    lock = JobLock(runs / "parent")
    lock.acquire("parent")
    try:
        with pytest.raises(SpecError, match=r"warm_start.parents\[0\].*job 'parent' is running"):
            run_simulated(spec("child2", warm_start={"parents": ["parent"]}), on_branin, runs)
    finally:
        lock.release()


def test_a_job_cannot_be_its_own_parent_nor_have_more_than_five():
    with pytest.raises(
        SpecError, match=r"warm_start.parents\[1\] \(line \d+, col \d+\): job 'me' cannot be its own parent"
    ):
        spec("me", warm_start={"parents": ["a", "me"]})
    with pytest.raises(SpecError, match=r"warm_start.parents .*at most 5|warm_start.parents.*5"):
        spec("me", warm_start={"parents": list("abcdef")})


def test_transfer_learning_projects_parent_trials_into_the_new_space(parent_runs, tmp_path):
    runs = tmp_path / "runs"
    shutil.copytree(parent_runs, runs)
    # Narrower ranges, a new parameter, and a static value the parents did not have.
    narrower = {
        "x1": {"type": "continuous", "min": -5.0, "max": 5.0},
        "x2": {"type": "continuous", "min": 0.0, "max": 15.0},
        "lr": {"type": "continuous", "min": 1e-4, "max": 1e-2, "scaling": "logarithmic"},
    }
    s = spec(
        "transfer",
        parameters=narrower,
        static={"data": "v2"},
        warm_start={"parents": ["parent"], "type": "transfer_learning"},
    )
    result, _ = run_simulated(s, on_branin, runs)
    parent_x1 = [t.params["x1"] for t in hpt_api.load("parent", runs_dir=runs).trials]
    inside = sum(1 for x in parent_x1 if x <= 5.0)
    ws = result.warm_start
    assert ws["type"] == "transfer_learning"
    assert ws["parents"] == [
        {
            "job": "parent",
            "trials": 15,
            "used": inside,
            "not_used": {"outside this job's ranges": 15 - inside},
        }
    ]
    with sqlite3.connect(runs / "transfer" / "job.db") as conn:
        rows = conn.execute("SELECT params, used, exact, note FROM prior WHERE used = 1").fetchall()
    for params, _used, exact, note in rows:
        p = json.loads(params)
        assert -5.0 <= p["x1"] <= 5.0 and p["lr"] == pytest.approx(1e-3)  # the middle of the log range
        assert not exact and "data=(none)" in note and "lr set to the middle of the range" in note
    # A configuration a parent ran is not excluded: the data may have changed.
    assert len(result.trials) == 5


def test_the_child_keeps_the_parents_trials_it_was_created_with(parent_runs, tmp_path):
    runs = tmp_path / "runs"
    shutil.copytree(parent_runs, runs)
    s = spec("child", warm_start={"parents": ["parent"]}, limits={"max_jobs": 2})
    run_simulated(s, on_branin, runs)
    shutil.rmtree(runs / "parent")  # a parent removed later does not break the child
    doc = hpt_api.load("child", runs_dir=runs).to_dict()
    assert doc["warm_start"] == {
        "type": "identical_data_and_algorithm",
        "parents": [{"job": "parent", "trials": 15, "used": 15, "not_used": {}}],
        "observations": 15,
    }
    text = hpt("show", "child", runs_dir=runs)
    assert text.code == 0, text.err
    assert (
        "warm start (identical_data_and_algorithm): 15 observations from parent (15 of 15 trials)" in text.out
    )
    extended, _ = run_simulated(
        spec("child", warm_start={"parents": ["parent"]}, limits={"max_jobs": 4}), on_branin, runs
    )
    assert len(extended.trials) == 4 and extended.warm_start["observations"] == 15


def test_hyperbands_model_uses_the_parents_learning_curves(tmp_path):
    params = {"x": {"type": "continuous", "min": 0.0, "max": 1.0}}
    hb = {"min_resource": 1, "max_resource": 9, "sampler": "bayesian"}

    def curve(launch):
        return SimTrial.curve([f"loss={(launch.params['x'] - 0.3) ** 2 + 1 / e}" for e in range(1, 10)])

    run_simulated(
        spec("hb-parent", parameters=params, strategy="hyperband", hyperband=hb, limits={"max_jobs": 12}),
        curve,
        tmp_path,
    )
    child, _ = run_simulated(
        spec(
            "hb-child",
            parameters=params,
            strategy="hyperband",
            hyperband=hb,
            limits={"max_jobs": 2},
            warm_start={"parents": ["hb-parent"]},
        ),
        curve,
        tmp_path,
    )
    # The model proposed the very first trial, from the parent's values at every rung it
    # reached (every parent trial reached one); without warm start it is a random draw.
    first = child.trials[0]
    assert first.info["model_observations"] >= 12 and "bracket" in first.info
    cold, _ = run_simulated(
        spec("hb-cold", parameters=params, strategy="hyperband", hyperband=hb, limits={"max_jobs": 1}),
        curve,
        tmp_path,
    )
    assert "model_observations" not in cold.trials[0].info


def test_a_warm_start_spec_runs_end_to_end(write_spec, runs):
    base = f"""
name: {{name}}
command: [python, {FAKE}, --x, "{{{{x}}}}"]
objective: {{{{metric: loss, type: minimize}}}}
metrics:
  - {{{{name: loss, regex: 'loss=([-+0-9.eE]+)'}}}}
strategy: random
parameters:
  x: {{{{type: continuous, min: 0.0, max: 1.0}}}}
limits: {{{{max_jobs: {{n}}, max_parallel_jobs: 2}}}}
random_seed: 1
"""
    parent = write_spec(base.format(name="p", n=2), "p.yaml")
    assert hpt("run", parent, "-q", runs_dir=runs).code == 0
    child = write_spec(base.format(name="c", n=2) + "warm_start: {parents: [p]}\n", "c.yaml")
    done = hpt("run", child, "-o", "json", runs_dir=runs)
    assert done.code == 0, done.err
    assert done.json()["warm_start"]["observations"] == 2
    missing = write_spec(base.format(name="d", n=2) + "warm_start:\n  parents: [p, q]\n", "d.yaml")
    bad = hpt("run", missing, runs_dir=runs)
    assert bad.code == 2
    assert "warm_start.parents[1] (line 12, col 16): no job named 'q'" in bad.err


def test_a_partial_initial_point_is_completed_by_the_warm_started_model(parent_runs, tmp_path):
    runs = tmp_path / "runs"
    shutil.copytree(parent_runs, runs)
    s = spec(
        "child", limits={"max_jobs": 1}, warm_start={"parents": ["parent"]}, initial_points=[{"x1": 9.42}]
    )
    first = run_simulated(s, on_branin, runs)[0].trials[0]
    # x1 as written; x2 where the model, fitted on the parent's trials, expects the best value
    # with x1 held there (Branin's minimum at x1 = 9.42 is at x2 = 2.475).
    assert first.params["x1"] == 9.42 and first.info == {"initial_point": 0}
    assert abs(first.params["x2"] - 2.475) < 1.0
