"""Spec validation: every rule has a failing and a passing case; errors name the field and line."""

from __future__ import annotations

import copy
import json

import pytest
import yaml

from hpt.errors import SpecError
from hpt.spec import parse_duration, parse_spec, schema

BASE = {
    "name": "job",
    "command": ["python", "train.py", "--lr", "{lr}", "--kernel", "{kernel}", "--n", "{n}"],
    "objective": {"metric": "acc", "type": "maximize"},
    "metrics": [{"name": "acc", "regex": "acc=([0-9.]+)"}],
    "strategy": "random",
    "parameters": {
        "lr": {"type": "continuous", "min": 0.001, "max": 1.0},
        "kernel": {"type": "categorical", "values": ["rbf", "poly"]},
        "n": {"type": "integer", "min": 1, "max": 5},
    },
    "limits": {"max_jobs": 4, "max_parallel_jobs": 2},
}


def build(**changes) -> dict:
    """BASE with changes; a value of None deletes the key. Keys may be dotted paths."""
    d = copy.deepcopy(BASE)
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = d
        for p in parents:
            node = node.setdefault(p, {})
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    return d


def check(data: dict | str):
    text = data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False)
    return parse_spec(text, "spec.yaml")


def problems(data) -> list[str]:
    with pytest.raises(SpecError) as exc:
        check(data)
    return [str(p) for p in exc.value.problems]


def assert_error(data, path: str, fragment: str):
    found = problems(data)
    assert any(p.startswith(path) and fragment in p for p in found), found


def test_base_is_valid():
    spec = check(BASE)
    assert spec.strategy == "random"
    assert spec.limits.max_jobs == 4
    assert [p.name for p in spec.space.params] == ["lr", "kernel", "n"]


# (changes that break a rule, path, message fragment, changes that satisfy it)
RULES = [
    # grid accepts categorical parameters only, naming the parameter
    (
        dict(strategy="grid", limits=None),
        "parameters.lr.type",
        "grid search takes categorical parameters only; parameter 'lr' is continuous",
        dict(
            strategy="grid",
            limits=None,
            parameters={"kernel": {"type": "categorical", "values": ["a", "b"]}},
            command=["x", "{kernel}"],
        ),
    ),
    # grid max_jobs must equal the number of combinations
    (
        dict(
            strategy="grid",
            parameters={"kernel": {"type": "categorical", "values": ["a", "b"]}},
            command=["x", "{kernel}"],
            limits={"max_jobs": 3},
        ),
        "limits.max_jobs",
        "max_jobs must be 2",
        dict(
            strategy="grid",
            parameters={"kernel": {"type": "categorical", "values": ["a", "b"]}},
            command=["x", "{kernel}"],
            limits={"max_jobs": 2},
        ),
    ),
    # hyperband requires early_stopping: off
    (
        dict(strategy="hyperband", hyperband={"max_resource": 9}, early_stopping="auto"),
        "early_stopping",
        "hyperband stops trials itself; set early_stopping: off",
        dict(strategy="hyperband", hyperband={"max_resource": 9}, early_stopping="off"),
    ),
    # hyperband needs max_resource or a static epochs value
    (
        dict(strategy="hyperband"),
        "strategy",
        "hyperband needs hyperband.max_resource",
        dict(strategy="hyperband", static={"epochs": 9}),
    ),
    # hyperband settings only with strategy hyperband
    (
        dict(hyperband={"max_resource": 9}),
        "hyperband",
        "apply to strategy: hyperband only",
        dict(),
    ),
    # min < max
    (
        dict(parameters__lr={"type": "continuous", "min": 1.0, "max": 1.0}),
        "parameters.lr.max",
        "max must be greater than min",
        dict(parameters__lr={"type": "continuous", "min": 0.5, "max": 1.0}),
    ),
    # logarithmic needs min > 0
    (
        dict(parameters__lr={"type": "continuous", "min": 0.0, "max": 1.0, "scaling": "logarithmic"}),
        "parameters.lr.min",
        "logarithmic scaling needs min > 0",
        dict(parameters__lr={"type": "continuous", "min": 0.01, "max": 1.0, "scaling": "logarithmic"}),
    ),
    # reverse_logarithmic: continuous only
    (
        dict(parameters__n={"type": "integer", "min": 0, "max": 5, "scaling": "reverse_logarithmic"}),
        "parameters.n.scaling",
        "reverse_logarithmic scaling is for continuous parameters only",
        dict(parameters__n={"type": "integer", "min": 0, "max": 5, "scaling": "linear"}),
    ),
    # reverse_logarithmic: 0 <= min < max < 1
    (
        dict(parameters__lr={"type": "continuous", "min": 0.5, "max": 1.0, "scaling": "reverse_logarithmic"}),
        "parameters.lr.scaling",
        "needs 0 <= min < max < 1",
        dict(
            parameters__lr={"type": "continuous", "min": 0.5, "max": 0.999, "scaling": "reverse_logarithmic"}
        ),
    ),
    # integer bounds are integers
    (
        dict(parameters__n={"type": "integer", "min": 1.5, "max": 5}),
        "parameters.n.min",
        "an integer parameter needs integer bounds",
        dict(parameters__n={"type": "integer", "min": 1.0, "max": 5}),
    ),
    # categorical values non-empty
    (
        dict(parameters__kernel={"type": "categorical", "values": []}),
        "parameters.kernel.values",
        "must not be empty",
        dict(parameters__kernel={"type": "categorical", "values": ["rbf"]}),
    ),
    # categorical values unique
    (
        dict(parameters__kernel={"type": "categorical", "values": ["rbf", "rbf"]}),
        "parameters.kernel.values[1]",
        "duplicate value 'rbf'",
        dict(parameters__kernel={"type": "categorical", "values": ["rbf", "RBF"]}),
    ),
    # the objective metric is one of the metrics
    (
        dict(objective={"metric": "accuracy", "type": "maximize"}),
        "objective.metric",
        "objective metric 'accuracy' is not one of the metrics (acc)",
        dict(objective={"metric": "acc", "type": "maximize"}),
    ),
    # every regex compiles
    (
        dict(metrics=[{"name": "acc", "regex": "acc=([0-9.]+"}]),
        "metrics[0].regex",
        "the regex does not compile",
        dict(metrics=[{"name": "acc", "regex": "acc=([0-9.]+)"}]),
    ),
    # ... and has one capture group
    (
        dict(metrics=[{"name": "acc", "regex": "acc=[0-9.]+"}]),
        "metrics[0].regex",
        "needs a capture group",
        dict(metrics=[{"name": "acc", "regex": "(?P<value>[0-9.]+)"}]),
    ),
    (
        dict(metrics=[{"name": "acc", "regex": "(acc)=([0-9.]+)"}]),
        "metrics[0].regex",
        "has 2 capture groups",
        dict(metrics=[{"name": "acc", "regex": "epoch (?P<step>[0-9]+) acc=([0-9.]+)"}]),
    ),
    # metric names are unique
    (
        dict(metrics=[{"name": "acc", "regex": "a=(.+)"}, {"name": "acc", "regex": "b=(.+)"}]),
        "metrics[1].name",
        "duplicate metric name 'acc'",
        dict(metrics=[{"name": "acc", "regex": "a=(.+)"}, {"name": "acc2", "regex": "b=(.+)"}]),
    ),
    # every placeholder names a parameter, a static value or a built-in
    (
        dict(command=["python", "t.py", "{lr}", "{kernel}", "{n}", "{seed}"]),
        "command[5]",
        "unknown placeholder {seed}",
        dict(
            command=[
                "python",
                "t.py",
                "{lr}",
                "{kernel}",
                "{n}",
                "{seed}",
                "{trial_id}",
                "{trial_dir}",
                "{job_dir}",
            ],
            static={"seed": 1},
        ),
    ),
    (
        dict(env={"LR": "{lrr}"}),
        "env.LR",
        "unknown placeholder {lrr}",
        dict(env={"LR": "{lr}"}),
    ),
    # {args} must be a whole element
    (
        dict(command=["python", "t.py", "--x={args}"]),
        "command[2]",
        "{args} expands to several arguments",
        dict(command=["python", "t.py", "{args}"]),
    ),
    # a format spec that cannot apply
    (
        dict(command=["python", "{kernel:.3f}", "{lr}", "{n}"]),
        "command[1]",
        "cannot format kernel",
        dict(command=["python", "{kernel:>5}", "{lr:.3g}", "{n:03d}"]),
    ),
    # random and bayesian need max_jobs
    (
        dict(limits={"max_parallel_jobs": 1}),
        "limits",
        "strategy random needs limits.max_jobs",
        dict(limits={"max_jobs": 1}),
    ),
    # max_parallel_jobs <= max_jobs
    (
        dict(limits={"max_jobs": 2, "max_parallel_jobs": 3}),
        "limits.max_parallel_jobs",
        "max_parallel_jobs (3) cannot exceed max_jobs (2)",
        dict(limits={"max_jobs": 3, "max_parallel_jobs": 3}),
    ),
    # an all-discrete space smaller than max_jobs, saying how many combinations exist
    (
        dict(
            parameters={
                "kernel": {"type": "categorical", "values": ["a", "b"]},
                "n": {"type": "integer", "min": 1, "max": 2},
            },
            command=["x", "{kernel}", "{n}"],
            limits={"max_jobs": 5},
        ),
        "limits.max_jobs",
        "the search space has only 4 distinct combinations",
        dict(
            parameters={
                "kernel": {"type": "categorical", "values": ["a", "b"]},
                "n": {"type": "integer", "min": 1, "max": 2},
            },
            command=["x", "{kernel}", "{n}"],
            limits={"max_jobs": 4},
        ),
    ),
    # unknown keys, with a suggestion
    (
        dict(limits={"max_jobs": 4, "max_paralel_jobs": 2}),
        "limits.max_paralel_jobs",
        "unknown key 'max_paralel_jobs'; did you mean 'max_parallel_jobs'?",
        dict(limits={"max_jobs": 4, "max_parallel_jobs": 2}),
    ),
    (
        dict(objectve={"metric": "acc", "type": "maximize"}),
        "objectve",
        "did you mean 'objective'?",
        dict(),
    ),
    # enums, with a suggestion
    (
        dict(strategy="bayesain"),
        "strategy",
        "did you mean 'bayesian'?",
        dict(strategy="bayesian"),
    ),
    # names
    (
        dict(name="../escape"),
        "name",
        "must be 1-63 letters, digits",
        dict(name="ok_name-1"),
    ),
    # keys that belong to another parameter type
    (
        dict(parameters__kernel={"type": "categorical", "values": ["a"], "min": 1}),
        "parameters.kernel.min",
        "'min' is for continuous and integer parameters",
        dict(parameters__kernel={"type": "categorical", "values": ["a"]}),
    ),
    # a static value that is also tuned
    (
        dict(static={"lr": 0.1}),
        "static.lr",
        "'lr' is both static and tuned",
        dict(static={"lr2": 0.1}),
    ),
    # a parameter named like a built-in
    (
        dict(parameters__trial_id={"type": "integer", "min": 1, "max": 3}),
        "parameters.trial_id",
        "'trial_id' is a built-in placeholder",
        dict(parameters__trial={"type": "integer", "min": 1, "max": 3}),
    ),
    # durations
    (
        dict(limits={"max_jobs": 4, "max_runtime": "10x"}),
        "limits.max_runtime",
        "must be a number of seconds or a duration such as 30s, 10m, 2h",
        dict(limits={"max_jobs": 4, "max_runtime": "10m"}),
    ),
    # completion criteria
    (
        dict(completion={"max_jobs_not_improving": 2}),
        "completion.max_jobs_not_improving",
        "must be >= 3",
        dict(completion={"max_jobs_not_improving": 3, "target": 0.9, "convergence": True}),
    ),
    # types
    (
        dict(limits={"max_jobs": "many"}),
        "limits.max_jobs",
        "must be an integer (got 'many')",
        dict(limits={"max_jobs": 4}),
    ),
    # a whole number written as a float (found by the fuzz test: it passed the schema, then no
    # rule built the limits, and validate ended in an internal error)
    (
        dict(limits={"max_jobs": 1.0, "max_parallel_jobs": 2}),
        "limits.max_jobs",
        "must be an integer (got 1.0)",
        dict(limits={"max_jobs": 2, "max_parallel_jobs": 2}),
    ),
    (
        dict(hyperband={"min_resource": 1, "max_resource": 9, "eta": 3.0}, strategy="hyperband"),
        "hyperband.eta",
        "must be an integer (got 3.0)",
        dict(hyperband={"min_resource": 1, "max_resource": 9, "eta": 3}, strategy="hyperband"),
    ),
]


@pytest.mark.parametrize("bad, path, fragment, good", RULES, ids=[r[1] + ":" + r[2][:30] for r in RULES])
def test_rule(bad, path, fragment, good):
    assert_error(build(**bad), path, fragment)
    check(build(**good))


def test_all_errors_at_once_with_lines():
    text = """\
name: job
command: [python, t.py, "{lr}", "{nope}"]
objective: {metric: acc, type: maximise}
metrics:
  - {name: acc, regex: 'acc=([0-9.]+)'}
strategy: random
parameters:
  lr: {type: continuous, min: 1, max: 0}
limits: {max_jobs: 3, max_paralel_jobs: 1}
"""
    found = problems(text)
    assert (
        "objective.type (line 3, col 32): must be one of maximize, minimize (got 'maximise'); did you mean 'maximize'?"
        in found
    )
    assert any(p.startswith("limits.max_paralel_jobs (line 9, col 23): unknown key") for p in found)
    assert any(p.startswith("parameters.lr.max (line 8, col 39)") for p in found)
    assert any(p.startswith("command[3] (line 2, col 33): unknown placeholder {nope}") for p in found)
    assert len(found) == 4


def test_grid_with_continuous_names_parameter_and_line():
    text = """\
name: g
command: [python, t.py, "{kernel}", "{C}"]
objective: {metric: acc, type: maximize}
metrics: [{name: acc, regex: 'acc=(.*)'}]
strategy: grid
parameters:
  kernel: {type: categorical, values: [rbf, poly]}
  C: {type: continuous, min: 0.1, max: 10}
"""
    assert problems(text) == [
        "parameters.C.type (line 8, col 13): grid search takes categorical parameters only; parameter 'C' is continuous (list its values as a categorical, or use strategy random or bayesian)"
    ]


def test_yaml_syntax_error_gives_line():
    found = problems("name: x\ncommand: [a, b\nobjective: 1\n")
    assert found and "(line 3" in found[0] and "YAML syntax error" in found[0]


def test_unused_parameter_is_a_warning_not_an_error():
    spec = check(build(command=["python", "t.py", "{lr}", "{kernel}"]))
    assert [str(w) for w in spec.warnings] == [
        "parameters.n (line 25, col 5): parameter 'n' is tuned but appears nowhere in command or env (add {n} or {args})"
    ]
    assert not check(build(command=["python", "t.py", "{args}"])).warnings


def test_values_read_as_a_person_means_them():
    text = """\
name: y
command: [python, t.py, "{flag}", "{lr}"]
objective: {metric: acc, type: maximize}
metrics: [{name: acc, regex: 'acc=(.*)'}]
early_stopping: off
parameters:
  flag: {type: categorical, values: [yes, no, on, off, 1e-3, 0.10, 007]}
  lr: {type: continuous, min: 1e-5, max: 1e-1}
limits: {max_jobs: 3}
"""
    spec = check(text)
    assert spec.early_stopping == "off"
    assert spec.space["flag"].values == ("yes", "no", "on", "off", "1e-3", "0.10", "007")
    assert spec.space["lr"].low == 1e-5 and spec.space["lr"].scaling == "logarithmic"


def test_defaults():
    spec = check(build(strategy=None))
    assert spec.strategy == "bayesian"  # AMT's default strategy
    assert spec.early_stopping == "off"
    assert spec.objective.use == "last"
    assert spec.limits.max_parallel_jobs == 2 and spec.limits.max_retries == 0


def test_grid_max_jobs_defaults_to_combinations():
    spec = check(
        build(
            strategy="grid",
            limits=None,
            parameters={
                "a": {"type": "categorical", "values": [1, 2, 3]},
                "b": {"type": "categorical", "values": ["x", "y"]},
            },
            command=["x", "{a}", "{b}"],
        )
    )
    assert spec.limits.max_jobs == 6


def test_command_string_is_split_like_a_shell_but_never_run_by_one():
    spec = check(build(command="python 'my script.py' --lr {lr} --k {kernel} --n {n}"))
    assert spec.command == ("python", "my script.py", "--lr", "{lr}", "--k", "{kernel}", "--n", "{n}")


def test_hyperband_infers_max_resource_from_static_epochs():
    spec = check(build(strategy="hyperband", static={"num_epochs": 27}))
    assert spec.hyperband.max_resource == 27 and spec.hyperband.eta == 3 and spec.hyperband.min_resource == 1


def test_durations():
    assert parse_duration("30s") == 30 and parse_duration("10m") == 600 and parse_duration("2h") == 7200
    assert parse_duration(90) == 90.0 and parse_duration("1d") == 86400
    assert parse_duration("0") is None and parse_duration(True) is None and parse_duration("x") is None


def test_an_infinite_duration_is_a_spec_error():
    text = """\
name: j
command: [python, t.py, "{x}"]
objective: {metric: m, type: minimize}
metrics: [{name: m, regex: 'm=(.*)'}]
strategy: random
parameters: {x: {type: continuous, min: 0, max: 1}}
limits: {max_jobs: 2, max_runtime: .inf}
"""
    assert problems(text) == ["limits.max_runtime (line 7, col 36): must be a finite duration (got .inf)"]


def test_non_mapping_spec():
    assert problems("- a\n- b\n")[0].startswith("<spec> (line 1, col 1): the spec must be a mapping")


def test_schema_has_descriptions_everywhere():
    missing = []

    def walk(node, path):
        if isinstance(node, dict):
            for key, sub in node.get("properties", {}).items():
                if "description" not in sub:
                    missing.append(f"{path}.{key}")
                walk(sub, f"{path}.{key}")
            for key in ("items", "additionalProperties"):
                if isinstance(node.get(key), dict):
                    walk(node[key], f"{path}.{key}")
            for key, sub in node.get("$defs", {}).items():
                walk(sub, f"$defs.{key}")

    walk(schema(), "")
    assert not missing, missing
    assert schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_shipped_schema_file_is_the_one_in_use():
    from pathlib import Path

    shipped = json.loads((Path(__file__).parent.parent / "schemas" / "spec.schema.json").read_text())
    assert shipped == schema()
