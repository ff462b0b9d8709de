"""The line-aware YAML loader reads scalars the way a person means them (YAML 1.2 core schema)."""

import math

import pytest

from hpt.spec.yamlio import YamlLoadError, load


def test_core_schema_scalars():
    doc = load(
        "a: off\nb: [yes, no, on, 1e-3, 012, 0x1f, .inf, -.inf, ~, true, False, 1.0e+3, 2026-01-01, '1e-3']\n"
    )
    assert doc.data["a"] == "off"
    b = doc.data["b"]
    assert b[:3] == ["yes", "no", "on"]
    assert b[3] == 0.001 and isinstance(b[3], float)
    assert b[4] == 12  # no implicit octal in YAML 1.2
    assert b[5] == 31
    assert b[6] == math.inf and b[7] == -math.inf
    assert b[8] is None and b[9] is True and b[10] is False
    assert b[11] == 1000.0
    assert b[12] == "2026-01-01"  # no timestamps
    assert b[13] == "1e-3"


def test_nan_and_texts_kept_as_written():
    doc = load("v: [.nan, 1.50, 1e-3]\n")
    assert math.isnan(doc.data["v"][0])
    assert doc.texts[("v", 1)] == "1.50"
    assert doc.texts[("v", 2)] == "1e-3"


def test_positions_are_one_based():
    doc = load("name: x\nparameters:\n  C: {type: continuous}\n")
    assert doc.positions[("parameters", "C", "type")] == (3, 13)
    assert doc.key_positions[("parameters", "C")] == (3, 3)
    assert doc.where(("parameters", "C", "missing")) == (3, 6)


def test_keys_stay_text_as_written():
    doc = load("yes: 1\n1: 2\n")
    assert doc.data == {"yes": 1, "1": 2}


@pytest.mark.parametrize(
    "text, fragment, line",
    [
        ("a: 1\nb: 2\na: 3\n", "duplicate key 'a' (first defined on line 1)", 3),
        ("a: !!python/object:os.system x\n", "unsupported YAML tag", 1),
        ("a: !!python/name:os.system\n", "unsupported YAML tag", 1),
        ("a: !custom {x: 1}\n", "unsupported YAML tag", 1),
        ("a: [1, 2\n", "YAML syntax error", 2),
        ("a: 1\n  b: 2\n", "YAML syntax error", 2),
        ("", "the spec is empty", 1),
        ("? [a, b]\n: 1\n", "a mapping key must be a plain scalar", 1),
    ],
)
def test_errors_name_the_line(text, fragment, line):
    with pytest.raises(YamlLoadError) as exc:
        load(text)
    assert any(fragment in p.message and p.line == line for p in exc.value.problems), exc.value.problems


def test_alias_bomb_is_refused():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    prev = "a"
    for name in "bcdefghij":
        bomb += f"{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
        prev = name
    with pytest.raises(YamlLoadError) as exc:
        load(bomb)
    assert "nodes" in exc.value.problems[0].message


def test_deep_nesting_is_refused():
    with pytest.raises(YamlLoadError) as exc:
        load("a: " + "[" * 5000 + "]" * 5000 + "\n")
    assert "nested" in exc.value.problems[0].message
