"""Placeholders: each value stays one argv element, exactly as written; nothing goes through a shell."""

import pytest

from hpt.spec.render import TemplateError, Value, build_argv, fields, render


def V(v, text=None):
    return Value(v, text if text is not None else str(v))


def test_plain_and_formatted_placeholders():
    values = {"lr": V(0.000123456, "0.000123456"), "n": V(7), "k": V("a b; rm -rf /")}
    assert render("--lr={lr}", values) == "--lr=0.000123456"
    assert render("{lr:.2e}", values) == "1.23e-04"
    assert render("{n:03d}", values) == "007"
    assert render("{{literal}} {k}", values) == "{literal} a b; rm -rf /"


def test_hostile_value_stays_one_element():
    values = {"k": V("a; touch /tmp/x"), "x": V("$(id)")}
    argv = build_argv(("python", "t.py", "--k", "{k}", "{x}"), values, ["k", "x"])
    assert argv == ["python", "t.py", "--k", "a; touch /tmp/x", "$(id)"]


def test_args_expands_to_pairs():
    values = {"lr": V(0.1, "0.1"), "kernel": V("rbf"), "seed": V(0, "0")}
    assert build_argv(("python", "t.py", "{args}"), values, ["lr", "kernel", "seed"]) == [
        "python",
        "t.py",
        "--lr",
        "0.1",
        "--kernel",
        "rbf",
        "--seed",
        "0",
    ]


@pytest.mark.parametrize(
    "template, fragment",
    [
        ("{x!r}", "conversion"),
        ("{}", "empty placeholder"),
        ("{x:{y}}", "nested"),
        ("{x", "bad placeholder syntax"),
        ("}", "bad placeholder syntax"),
    ],
)
def test_bad_templates(template, fragment):
    with pytest.raises(TemplateError) as exc:
        fields(template)
    assert fragment in str(exc.value)


def test_fields():
    assert fields("a{x}b{y:.3f}{{z}}") == [("x", ""), ("y", ".3f")]
