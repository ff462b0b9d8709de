"""Property-based fuzzing of specs: `hpt validate` never prints a traceback and exits 0 or 2."""

from __future__ import annotations

import copy
import math
import sys

import pytest
import yaml
from conftest import hpt
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hpt.cli import main

VALID = {
    "name": "fuzz",
    "command": ["python", "train.py", "{args}"],
    "env": {"A": "{lr}"},
    "static": {"epochs": 9, "seed": 0},
    "objective": {"metric": "acc", "type": "maximize", "use": "last"},
    "metrics": [{"name": "acc", "regex": "acc=([0-9.]+)"}],
    "strategy": "random",
    "hyperband": {"min_resource": 1, "max_resource": 9, "eta": 3},
    "parameters": {
        "lr": {"type": "continuous", "min": 1e-4, "max": 1.0, "scaling": "logarithmic"},
        "n": {"type": "integer", "min": 1, "max": 4},
        "k": {"type": "categorical", "values": ["a", "b", "yes"]},
    },
    "limits": {
        "max_jobs": 4,
        "max_parallel_jobs": 2,
        "max_runtime": "1h",
        "max_job_runtime": 30,
        "max_retries": 1,
    },
    "early_stopping": "off",
    "completion": {"target": 0.9, "max_jobs_not_improving": 5, "convergence": True},
    "random_seed": 1,
}

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(
        [
            "off",
            "on",
            "yes",
            "1e-3",
            "{lr}",
            "{",
            "}",
            "{nope}",
            "{args}",
            "..",
            "\x00",
            "é€😀",
            "0x1f",
            ".inf",
            "~",
        ]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def paths(d, prefix=()):
    out = [prefix] if prefix else []
    if isinstance(d, dict):
        for k, v in d.items():
            out += paths(v, prefix + (k,))
    elif isinstance(d, list):
        for i, v in enumerate(d):
            out += paths(v, prefix + (i,))
    return out


@st.composite
def mutated_specs(draw):
    spec = copy.deepcopy(VALID)
    strategy = draw(st.sampled_from(["random", "bayesian", "hyperband", "grid"]))
    spec["strategy"] = strategy
    if strategy != "hyperband":
        del spec["hyperband"]
    if strategy == "grid":
        spec["parameters"] = {
            "k": {"type": "categorical", "values": ["a", "b"]},
            "m": {"type": "categorical", "values": [1, 2]},
        }
        del spec["limits"]["max_jobs"]
        del spec["env"]
    for _ in range(draw(st.sampled_from([0, 0, 1, 2, 3, 4]))):
        all_paths = paths(spec)
        if not all_paths:
            break
        path = draw(st.sampled_from(all_paths))
        parent = spec
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        last = path[-1]
        if action == "replace":
            parent[last] = draw(values)
        elif action == "delete":
            del parent[last]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=12))] = draw(values)
    text = yaml.safe_dump(spec, allow_unicode=True, sort_keys=False)
    trick = draw(
        st.sampled_from(["", "", "", "", "tag", "dup", "deep", "anchor", "tab", "bom", "multi", "nul"])
    )

    if trick == "tag":
        text += "extra: !!python/object/apply:os.system ['touch /tmp/pwned']\n"
    elif trick == "dup":
        text += "name: again\n"
    elif trick == "deep":
        text += "deep: " + "[" * 200 + "]" * 200 + "\n"
    elif trick == "anchor":
        text = "x: &a [1, 2]\ny: *a\n" + text
    elif trick == "tab":
        text = text.replace("  ", "\t", 1)
    elif trick == "bom":
        text = "\ufeff" + text
    elif trick == "multi":
        text += "---\nname: second\n"
    elif trick == "nul":
        text += "z: \x00\n"
    return text


raw_text = st.one_of(
    st.text(max_size=200),
    st.lists(
        st.sampled_from(
            [
                "name:",
                " x",
                "\n",
                "- ",
                "[",
                "]",
                "{",
                "}",
                ":",
                "!!str",
                "&a",
                "*a",
                "'",
                '"',
                "#",
                "|",
                ">",
                "  ",
                "\t",
                "1e3",
                ".nan",
            ]
        ),
        max_size=40,
    ).map("".join),
)


def validate_in_process(tmp_path, text: str, capsys) -> tuple[int, str]:
    path = tmp_path / "fuzz.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogateescape")
    with pytest.raises(SystemExit) as exc:
        main(["validate", str(path)])
    captured = capsys.readouterr()
    return exc.value.code, captured.out + captured.err


FUZZ = settings(
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(text=mutated_specs())
def test_mutated_specs(tmp_path, capsys, text):
    code, output = validate_in_process(tmp_path, text, capsys)
    assert code in (0, 2), output
    assert "Traceback" not in output and "internal error" not in output, output


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=raw_text)
def test_random_text(tmp_path, capsys, text):
    code, output = validate_in_process(tmp_path, text, capsys)
    assert code in (0, 2), output
    assert "Traceback" not in output and "internal error" not in output, output


def test_valid_base_spec_is_valid(tmp_path, capsys):
    code, output = validate_in_process(tmp_path, yaml.safe_dump({**VALID, "strategy": "hyperband"}), capsys)
    assert code == 0, output


@pytest.mark.parametrize(
    "text",
    [
        "name: x\nbad: !!python/object/apply:os.system ['echo pwned']\n",
        "\x00\x01\x02",
        "a: " + "[" * 100_000,
        "name: " + "x" * 100_000,
        "limits: {max_jobs: 1e400}\n",
        "parameters: {x: {type: continuous, min: .nan, max: .inf}}\n",
    ],
)
def test_real_cli_on_nasty_files(tmp_path, text):
    path = tmp_path / "nasty.yaml"
    path.write_text(text)
    r = hpt("validate", path)
    assert r.code == 2 and "Traceback" not in r.err and "internal error" not in r.err, r.err


def test_binary_file(tmp_path):
    path = tmp_path / "bin.yaml"
    path.write_bytes(b"\xff\xfe\x00name: x")
    r = hpt("validate", path)
    assert r.code == 2 and "not UTF-8" in r.err


def test_no_code_runs_from_yaml_tags(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "tag.yaml"
    path.write_text(f"name: x\nrun: !!python/object/apply:os.system ['touch {marker}']\n")
    assert hpt("validate", path).code == 2
    assert not marker.exists()
    assert math.isfinite(sys.float_info.max)
