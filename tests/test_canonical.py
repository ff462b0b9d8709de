"""The canonical form of a spec: exact round trips, JSON without NaN, identity and its differences."""

from __future__ import annotations

import json
import math
import shutil
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hpt.spec.load
from hpt.errors import SpecError, StoredSpecError
from hpt.spec import CANONICAL_VERSION, Spec, from_canonical, load_spec, parse_spec, to_canonical
from hpt.spec.canonical import differences, identity

REPO = Path(__file__).resolve().parent.parent
SPECS = sorted((REPO / "specs").glob("*.yaml"))
BUILTINS = {"trial_id": "7", "trial_dir": "/t/7", "job_dir": "/t"}


def spec_of(text: str, base: Path) -> Spec:
    return parse_spec(textwrap.dedent(text), source="spec.yaml", base_dir=base)


def json_trip(data: dict) -> dict:
    return json.loads(json.dumps(data, allow_nan=False))


def assert_round_trip(spec: Spec) -> dict:
    """The spec survives to_canonical -> JSON -> from_canonical exactly; returns its form."""
    form = to_canonical(spec)
    assert form["version"] == CANONICAL_VERSION
    stored = json_trip(form)  # raises on NaN or infinity, and turns any tuple into a list
    assert stored == form
    back = from_canonical(stored)
    assert back == spec
    assert (back.source, back.base_dir, back.warnings) == (spec.source, spec.base_dir, spec.warnings)
    assert to_canonical(back) == form
    params = spec.space.decode([0.3] * spec.space.dim)
    assert back.render(params, BUILTINS) == spec.render(params, BUILTINS)
    return form


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_every_shipped_spec_round_trips(path):
    assert_round_trip(load_spec(path))


EVERYTHING = """\
    name: everything
    command: [python, train.py, "--lr={lr:.3e}", "{mom}", "{drop}", "{wd}", "{width}", "{layers}", "{units}",
              "{batch}", --a, "{a}", --b, "{b}", --c, "{c}", "{d}{e}{f}{g}", --tag, "{a}-{trial_id}"]
    workdir: .
    env: {B: "{kernel}", A: "1"}
    static: {a: 0.10, b: 1e-3, c: 012, d: "0.10", e: true, f: 100000000000000000000000, g: x y}
    objective: {metric: loss, type: minimize, use: best}
    metrics:
      - {name: loss, regex: 'loss=(?P<value>[0-9.]+) step=(?P<step>[0-9]+)'}
      - {name: acc, regex: 'acc=([0-9.]+)'}
    strategy: bayesian
    parameters:
      lr:       {type: continuous, min: 1.0e-5, max: 1.0}
      mom:      {type: continuous, min: 0.9, max: 0.999, scaling: reverse_logarithmic}
      drop:     {type: continuous, min: 0, max: 0.5}
      wd:       {type: continuous, min: 1e-6, max: 1e-2, scaling: logarithmic}
      width:    {type: continuous, min: 1, max: 10, scaling: linear}
      layers:   {type: integer, min: 1, max: 8}
      units:    {type: integer, min: 8, max: 9000}
      batch:    {type: integer, min: 16, max: 256, scaling: logarithmic}
      kernel:   {type: categorical, values: [rbf, 0.10, 1e-3, "yes", 012, true]}
      unused:   {type: integer, min: 1, max: 2}
    limits:
      max_jobs: 20
      max_parallel_jobs: 3
      max_runtime: 1d
      max_job_runtime: 90s
      max_failed_jobs: 4
      max_retries: 2
      stop_grace_period: 1.5m
    early_stopping: auto
    early_stopping_rule: {min_steps: 2, min_trials: 4}
    completion: {target: 0.05, max_jobs_not_improving: 10, convergence: true}
    executor: {type: dask, address: "tcp://10.0.0.5:8786", resources: {GPU: 1, MEM: 0.5}}
    random_seed: 3
"""


def test_every_field_type_and_scaling_round_trips(tmp_path):
    spec = spec_of(EVERYTHING, tmp_path)
    form = assert_round_trip(spec)
    params = {p["name"]: p for p in form["parameters"]}
    assert [(params[n]["scaling"], params[n]["requested_scaling"]) for n in ("lr", "width", "units")] == [
        ("logarithmic", "auto"),
        ("linear", "linear"),
        ("logarithmic", "auto"),
    ]
    assert params["mom"]["scaling"] == "reverse_logarithmic"
    assert params["drop"]["scaling"] == "linear"
    assert params["layers"] == {
        "name": "layers",
        "type": "integer",
        "min": 1,
        "max": 8,
        "scaling": "linear",
        "requested_scaling": "auto",
    }
    assert params["kernel"]["values"] == ["rbf", "0.10", "1e-3", "yes", "012", "true"]
    assert form["limits"]["max_runtime"] == 86400.0
    assert form["limits"]["max_job_runtime"] == 90.0
    assert form["limits"]["stop_grace_period"] == 90.0
    assert form["workdir"] == str(tmp_path.resolve())
    assert form["executor"]["resources"] == [{"name": "GPU", "amount": 1.0}, {"name": "MEM", "amount": 0.5}]
    assert [w["path"] for w in form["warnings"]] == ["parameters.unused"]
    assert form["warnings"][0]["line"] == 22


def test_static_values_keep_their_text_and_type(tmp_path):
    spec = spec_of(EVERYTHING, tmp_path)
    static = {s["name"]: s for s in to_canonical(spec)["static"]}
    assert static["a"] == {"name": "a", "type": "float", "value": 0.1, "text": "0.10"}
    assert static["b"] == {"name": "b", "type": "float", "value": 0.001, "text": "1e-3"}
    assert static["c"] == {"name": "c", "type": "int", "value": 12, "text": "012"}
    assert static["d"] == {"name": "d", "type": "str", "value": "0.10", "text": "0.10"}
    assert static["e"] == {"name": "e", "type": "bool", "value": True, "text": "true"}
    assert static["f"]["value"] == 10**23 and static["f"]["type"] == "int"
    back = from_canonical(json_trip(to_canonical(spec)))
    values = back.static_values
    assert (values["a"].value, values["a"].text) == (0.1, "0.10")
    assert type(values["f"].value) is int and values["f"].value == 10**23
    argv, env = back.render(back.space.decode([0.5] * back.space.dim), BUILTINS)
    assert argv[argv.index("--a") + 1] == "0.10" and argv[argv.index("--b") + 1] == "1e-3"
    assert argv[argv.index("--c") + 1] == "012"


def test_non_finite_values_are_strings_in_the_form(tmp_path):
    spec = spec_of(
        """\
        name: inf
        command: [run, "{x}", "{n}", "{i}"]
        static: {n: .nan, i: -.inf}
        objective: {metric: m, type: maximize}
        metrics: [{name: m, regex: 'm=([0-9.]+)'}]
        strategy: random
        parameters: {x: {type: continuous, min: 0, max: 1}}
        limits: {max_jobs: 2}
        executor: {type: dask, resources: {GPU: .inf}}
        """,
        tmp_path,
    )
    form = to_canonical(spec)
    static = {s["name"]: s for s in form["static"]}
    assert static["n"] == {"name": "n", "type": "float", "value": "nan", "text": ".nan"}
    assert static["i"]["value"] == "-inf"
    assert form["executor"]["resources"] == [{"name": "GPU", "amount": "inf"}]
    back = from_canonical(json_trip(form))
    assert math.isnan(back.static_values["n"].value) and back.static_values["i"].value == -math.inf
    assert back.executor.resources == (("GPU", math.inf),)
    assert to_canonical(back) == form


def test_hyperband_is_stored_resolved(tmp_path):
    spec = spec_of(
        """\
        name: hb
        command: [run, "{args}"]
        static: {epochs: 27}
        objective: {metric: m, type: maximize}
        metrics: [{name: m, regex: 'm=([0-9.]+)'}]
        strategy: hyperband
        parameters: {x: {type: continuous, min: 0, max: 1}}
        limits: {max_jobs: 10}
        """,
        tmp_path,
    )
    form = assert_round_trip(spec)
    assert form["hyperband"] == {
        "min_resource": 1,
        "max_resource": 27,
        "eta": 3,
        "sampler": "bayesian",
        "brackets": 2,
    }


def minimal(tmp_path: Path, **overrides: str) -> str:
    lines = {
        "name": "job",
        "command": '[run, "{x}", "{k}"]',
        "env": "{A: '1', B: '2'}",
        "objective": "{metric: m, type: maximize}",
        "metrics": "[{name: m, regex: 'm=([0-9.]+)'}, {name: n, regex: 'n=([0-9.]+)'}]",
        "strategy": "random",
        "parameters": "{x: {type: continuous, min: 0, max: 1}, k: {type: categorical, values: [a, b]}}",
        "limits": "{max_jobs: 4, max_job_runtime: 2h, stop_grace_period: 1m}",
    }
    lines.update(overrides)
    return "\n".join(f"{k}: {v}" for k, v in lines.items() if v is not None) + "\n"


def form_of(tmp_path: Path, **overrides: str) -> dict:
    return to_canonical(parse_spec(minimal(tmp_path, **overrides), source="spec.yaml", base_dir=tmp_path))


def test_durations_written_differently_are_the_same_spec(tmp_path):
    words = form_of(
        tmp_path, limits="{max_jobs: 4, max_runtime: 1d, max_job_runtime: 2h, stop_grace_period: 1m}"
    )
    seconds = form_of(
        tmp_path, limits="{max_jobs: 4, max_runtime: 86400, max_job_runtime: 7200, stop_grace_period: 60}"
    )
    assert words == seconds
    assert identity(words) == identity(json_trip(seconds))
    assert words["limits"]["max_job_runtime"] == 7200.0


def test_defaults_written_out_are_the_same_spec(tmp_path):
    bare = form_of(tmp_path)
    explicit = form_of(
        tmp_path,
        limits="{max_jobs: 4, max_parallel_jobs: 1, max_retries: 0, max_job_runtime: 2h, stop_grace_period: 1m}",
        early_stopping="'off'",
        executor="{type: local}",
        workdir=".",
        parameters="{x: {type: continuous, min: 0.0, max: 1.0e+0, scaling: auto}, k: {type: categorical, values: [a, b]}}",
    )
    assert bare == explicit


def test_identity_leaves_out_name_executor_and_raisable_limits(tmp_path):
    base = identity(form_of(tmp_path))
    assert "name" not in base and "executor" not in base and "version" not in base
    assert identity(form_of(tmp_path, name="other")) == base
    assert identity(form_of(tmp_path, executor="{type: dask, address: 'tcp://h:1'}")) == base
    raised = (
        "{max_jobs: 8, max_parallel_jobs: 2, max_runtime: 5h, max_job_runtime: 2h, stop_grace_period: 1m}"
    )
    assert identity(form_of(tmp_path, limits=raised)) == base
    # order changes nothing in a mapping of environment variables, nor in the list of metrics
    assert identity(form_of(tmp_path, env="{B: '2', A: '1'}")) == base
    swapped = "[{name: n, regex: 'n=([0-9.]+)'}, {name: m, regex: 'm=([0-9.]+)'}]"
    assert identity(form_of(tmp_path, metrics=swapped)) == base


def test_differences_name_each_changed_field(tmp_path):
    base = identity(form_of(tmp_path))
    assert differences(base, base) == []
    changed = identity(
        form_of(
            tmp_path,
            limits="{max_jobs: 4, max_job_runtime: 1h, stop_grace_period: 1m}",
            parameters="{x: {type: continuous, min: 0, max: 2}, k: {type: categorical, values: [a, b, c]}}",
            env="{A: '1', B: '3'}",
        )
    )
    assert differences(base, changed) == [
        "env.B.template: '2' -> '3'",
        "limits.max_job_runtime: 7200.0 -> 3600.0",
        "parameters.k.values[2]: '<absent>' -> 'c'",
        "parameters.x.max: 1.0 -> 2.0",
    ]


def test_differences_report_a_new_parameter_and_a_new_order(tmp_path):
    base = identity(form_of(tmp_path))
    reordered = identity(
        form_of(
            tmp_path,
            parameters="{k: {type: categorical, values: [a, b]}, x: {type: continuous, min: 0, max: 1}}",
        )
    )
    assert reordered != base
    assert differences(base, reordered) == ["parameters (order): ['x', 'k'] -> ['k', 'x']"]
    added = identity(
        form_of(
            tmp_path,
            parameters="{x: {type: continuous, min: 0, max: 1}, k: {type: categorical, values: [a, b]}, y: {type: integer, min: 1, max: 3}}",
        )
    )
    lines = differences(base, added)
    assert "parameters.y.type: '<absent>' -> 'integer'" in lines
    assert not any("(order)" in line for line in lines)


def test_moving_a_spec_changes_its_workdir_identity(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    here = to_canonical(parse_spec(minimal(tmp_path), source="spec.yaml", base_dir=tmp_path / "a"))
    there = to_canonical(parse_spec(minimal(tmp_path), source="spec.yaml", base_dir=tmp_path / "b"))
    assert differences(identity(here), identity(there)) == [
        f"workdir: {str((tmp_path / 'a').resolve())!r} -> {str((tmp_path / 'b').resolve())!r}"
    ]
    # a spec that names its workdir absolutely is the same job wherever the file sits
    pinned = f"'{tmp_path}'"
    a = to_canonical(parse_spec(minimal(tmp_path, workdir=pinned), base_dir=tmp_path / "a"))
    b = to_canonical(parse_spec(minimal(tmp_path, workdir=pinned), base_dir=tmp_path / "b"))
    assert a["base_dir"] != b["base_dir"] and identity(a) == identity(b)


def test_a_newer_version_asks_for_an_upgrade(tmp_path):
    form = form_of(tmp_path)
    form["version"] = CANONICAL_VERSION + 1
    newer = CANONICAL_VERSION + 1
    with pytest.raises(
        StoredSpecError, match=rf"written by a newer hpt \(spec version {newer}\); upgrade hpt"
    ):
        from_canonical(form)
    with pytest.raises(StoredSpecError, match="newer hpt"):
        identity(form)
    for bad in (None, "1", 0, True):
        form["version"] = bad
        with pytest.raises(StoredSpecError, match="no known version"):
            from_canonical(form)


def test_a_version_1_form_reads_as_without_the_keys_version_2_added(tmp_path):
    form = form_of(tmp_path)
    for key in ("warm_start", "initial_points", "sagemaker"):
        del form[key]
    form["version"] = 1
    spec = from_canonical(form)
    assert (spec.warm_start, spec.initial_points, spec.sagemaker) == (None, (), None)
    assert identity(to_canonical(spec)) == identity(form_of(tmp_path))


def test_a_damaged_form_is_a_named_error(tmp_path):
    form = form_of(tmp_path)
    del form["limits"]["max_jobs"]
    with pytest.raises(StoredSpecError, match=r"damaged \(KeyError: 'max_jobs'\)"):
        from_canonical(form)
    form = form_of(tmp_path)
    form["metrics"][0]["regex"] = "("
    with pytest.raises(StoredSpecError, match="damaged"):
        from_canonical(form)


def test_from_canonical_does_not_validate(tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    text = minimal(tmp_path, workdir="work")
    form = json_trip(to_canonical(parse_spec(text, source="spec.yaml", base_dir=tmp_path)))
    shutil.rmtree(work)
    with pytest.raises(SpecError, match="is not a directory"):
        parse_spec(text, source="spec.yaml", base_dir=tmp_path)
    # a form the rules would refuse (more parallel trials than trials) is read as stored
    form["limits"]["max_parallel_jobs"] = 9

    def refuse(*_args, **_kwargs):
        raise AssertionError("the validator ran")

    monkeypatch.setattr(hpt.spec.load, "schema_problems", refuse)
    monkeypatch.setattr(hpt.spec.load, "check", refuse)
    spec = from_canonical(form)
    assert spec.workdir == work.resolve() and spec.limits.max_parallel_jobs == 9


# --------------------------------------------------------------------------- property

# Plain YAML scalars whose text must survive exactly (numbers written unusually, YAML 1.1 words).
TEXTS = ["0.10", "1e-3", "1.0e+3", "012", "0x1F", "-0", "10", "true", "yes", "off", "rbf", "a b", "1_000"]
DURATIONS = ["90", "90s", "1.5m", "2h", "1d", "0.5", "3600.0"]


@st.composite
def small_specs(draw) -> str:
    params = []
    for i in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["continuous", "integer", "categorical"]))
        if kind == "categorical":
            values = draw(st.lists(st.sampled_from(TEXTS), min_size=1, max_size=4, unique=True))
            params.append(f"p{i}: {{type: categorical, values: [{', '.join(values)}]}}")
            continue
        low = draw(st.integers(1, 50))
        high = low + draw(st.integers(1, 5000))
        if kind == "continuous":
            scale = draw(
                st.sampled_from(["", ", scaling: linear", ", scaling: logarithmic", ", scaling: auto"])
            )
            params.append(f"p{i}: {{type: continuous, min: {low / 7!r}, max: {high / 3!r}{scale}}}")
        else:
            scale = draw(st.sampled_from(["", ", scaling: linear", ", scaling: logarithmic"]))
            params.append(f"p{i}: {{type: integer, min: {low}, max: {high}{scale}}}")
    static = draw(st.dictionaries(st.sampled_from(["s1", "s2", "s3"]), st.sampled_from(TEXTS), max_size=3))
    limits = {"max_jobs": "1"}
    for key in ("max_runtime", "max_job_runtime", "stop_grace_period"):
        if draw(st.booleans()):
            limits[key] = draw(st.sampled_from(DURATIONS))
    seed = draw(st.one_of(st.none(), st.integers(0, 2**31)))
    lines = [
        "name: prop",
        'command: [run, "{args}"]',
        "objective: {metric: m, type: " + draw(st.sampled_from(["maximize", "minimize"])) + "}",
        "metrics: [{name: m, regex: 'm=([0-9.]+)'}]",
        "strategy: " + draw(st.sampled_from(["random", "bayesian"])),
        "parameters: {" + ", ".join(params) + "}",
        "limits: {" + ", ".join(f"{k}: {v}" for k, v in limits.items()) + "}",
    ]
    if static:
        lines.append("static: {" + ", ".join(f"{k}: {v}" for k, v in static.items()) + "}")
    if seed is not None:
        lines.append(f"random_seed: {seed}")
    return "\n".join(lines) + "\n"


@settings(max_examples=100, deadline=None)
@given(text=small_specs())
def test_generated_specs_round_trip(text):
    spec = parse_spec(text, source="prop.yaml", base_dir=REPO)
    form = assert_round_trip(spec)
    assert identity(json_trip(form)) == identity(form)
    texts = {s["name"]: s["text"] for s in form["static"]}
    assert texts == {k: v.text for k, v in spec.static}
