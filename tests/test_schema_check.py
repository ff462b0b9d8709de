"""hpt's own check of the spec schema says what jsonschema says, on documents built from the
schema and on every one-node change of them; a valid spec is loaded without importing
jsonschema."""

from __future__ import annotations

import copy
import random
import subprocess
import sys
from pathlib import Path

import pytest

from hpt.spec.schema_check import UnknownKeyword, conforms
from hpt.spec.schema_errors import schema, validator

ROOT = Path(__file__).resolve().parents[1]

# Leaves to draw from: what specs hold, and what breaks each keyword of the schema.
POOL = [
    None, True, False, 0, 1, 2, 3, -1, 7, 100, 10_000, 2**40, 0.0, 0.5, 1.0, 1.5, -0.5, 1e-4, 3.7e9,
    float("inf"), float("nan"), "", "a", "x", "lr", "acc", "loss", "random", "grid", "bayesian",
    "hyperband", "maximize", "minimize", "continuous", "integer", "categorical", "linear",
    "logarithmic", "reverse_logarithmic", "auto", "off", "on", "last", "best", "max", "min",
    "30s", "10m", "2h", "1d", "90", "5x", "{lr}", "python", "train.py", "acc=([0-9.]+)", "job-1",
    "job_2", "bad name", "-dash", "9lead", "GPU-0f3a", "0", "1", "a" * 64, "a" * 300, [], {},
]  # fmt: skip


def _resolve(node, root):
    while isinstance(node, dict) and "$ref" in node:
        node = root["$defs"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _leaf_fits(value, node):
    return validator().evolve(schema=node).is_valid(value)


def build(node, root, rng, depth=0):
    """A document for ``node`` that is usually valid: leaves are drawn from the pool among
    those jsonschema accepts there."""
    node = _resolve(node, root)
    if not isinstance(node, dict):
        return rng.choice(POOL)
    if "anyOf" in node:
        return build(rng.choice(node["anyOf"]), root, rng, depth)
    if "enum" in node:
        return rng.choice(node["enum"])
    if "const" in node:
        return node["const"]
    kinds = node.get("type")
    kind = rng.choice(kinds) if isinstance(kinds, list) else kinds
    if kind == "object" or (kind is None and "properties" in node):
        props = node.get("properties", {})
        out = {}
        for key, sub in props.items():
            if key in node.get("required", []) or rng.random() < 0.5:
                out[key] = build(sub, root, rng, depth + 1)
        extra = node.get("additionalProperties")
        if isinstance(extra, dict) and depth < 4:
            names = node.get("propertyNames", {})
            for _ in range(rng.randint(node.get("minProperties", 0), 3)):
                key = rng.choice([k for k in POOL if isinstance(k, str) and _leaf_fits(k, names)] or ["k"])
                out[key] = build(extra, root, rng, depth + 1)
        if props.get("type", {}).get("enum") == ["continuous", "integer", "categorical"]:
            # a parameter: what the allOf's if/then asks of its type, most of the time
            if out.get("type") == "categorical" and rng.random() < 0.9:
                out["values"] = build(props["values"], root, rng, depth + 1)
            elif rng.random() < 0.9:
                for key in ("min", "max"):
                    out.setdefault(key, build(props[key], root, rng, depth + 1))
        return out
    if kind == "array":
        items = node.get("items", {})
        n = rng.randint(node.get("minItems", 0), min(node.get("maxItems", 3), 3))
        return [build(items, root, rng, depth + 1) for _ in range(n)]
    fits = [v for v in POOL if not isinstance(v, (list, dict)) and _leaf_fits(v, node)]
    return rng.choice(fits) if fits else rng.choice(POOL)


def nodes(doc, path=()):
    yield path
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield from nodes(value, path + (key,))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            yield from nodes(value, path + (i,))


def mutate(doc, rng):
    """``doc`` with one node replaced, stretched (a number moved past its bounds, a string or a
    list made long), removed, duplicated, or given an unknown key."""
    doc = copy.deepcopy(doc)
    path = rng.choice(list(nodes(doc)))
    if not path:
        return rng.choice(POOL)
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    value = parent[last]
    move = rng.randrange(5)
    if move == 4 and isinstance(value, (int, float)) and not isinstance(value, bool):
        parent[last] = rng.choice([0, -1, -value, value - 1, value + 1, value * 10**9, 2**70])
    elif move == 4 and isinstance(value, (str, list)):
        parent[last] = value * rng.choice([0, 2, 70])
    elif move == 0:
        parent[last] = rng.choice(POOL)
    elif move == 1:
        del parent[last]
    elif move == 2 and isinstance(parent, list):
        parent.append(copy.deepcopy(parent[last]))
    elif isinstance(parent, dict):
        parent[rng.choice([k for k in POOL if isinstance(k, str)])] = parent[last]
    else:
        parent[last] = rng.choice(POOL)
    return doc


def test_conforms_agrees_with_jsonschema_on_built_and_changed_documents():
    rng = random.Random(20261207)
    root = schema()
    judged = {True: 0, False: 0}
    for _ in range(150):
        doc = build(root, root, rng)
        for candidate in [doc] + [mutate(doc, rng) for _ in range(8)]:
            want = validator().is_valid(candidate)
            assert conforms(candidate, root) == want, candidate
            judged[want] += 1
    # Both answers come up often enough for the comparison to mean something.
    assert judged[True] >= 150 and judged[False] >= 300, judged


def test_conforms_agrees_on_the_shipped_specs():
    from hpt.spec.yamlio import load

    for path in sorted((ROOT / "specs").glob("*.yaml")):
        data = load(path.read_text()).data
        assert conforms(data, schema()) and validator().is_valid(data), path


@pytest.mark.parametrize(
    "value, node, want",
    [
        (1.0, {"type": "integer"}, False),  # hpt's integer is an int
        (True, {"type": "integer"}, False),
        (True, {"type": "number"}, False),
        (True, {"enum": [1, "a"]}, False),  # a boolean is not 1
        (1.0, {"enum": [1]}, True),  # 1.0 is 1
        (["a", "a"], {"uniqueItems": True}, False),
        ([1, True], {"uniqueItems": True}, True),
        ("x9", {"pattern": "[0-9]"}, True),  # a pattern is searched, not matched
        (float("nan"), {"minimum": 0}, True),  # as jsonschema: nan is not < 0
        (0, {"exclusiveMinimum": 0}, False),
        ([1, 2, 3], {"maxItems": 2}, False),
        ("abc", {"maxLength": 3}, True),
        ({"a": 1}, {"properties": {"b": {"type": "string"}}, "additionalProperties": False}, False),
    ],
)
def test_keyword_meanings(value, node, want):
    assert conforms(value, node) is want
    assert validator().evolve(schema=node).is_valid(value) is want


def test_a_keyword_it_does_not_check_is_refused_not_passed():
    with pytest.raises(UnknownKeyword, match="multipleOf"):
        conforms(3, {"multipleOf": 2})


def test_a_valid_spec_is_loaded_without_importing_jsonschema_and_an_invalid_one_is_worded():
    code = (
        "import sys\n"
        "from hpt.spec import load_spec, parse_spec\n"
        f"load_spec({str(ROOT / 'specs' / 'digits-svc-random.yaml')!r})\n"
        "assert 'jsonschema' not in sys.modules, 'jsonschema imported'\n"
        "from hpt.errors import SpecError\n"
        "try:\n"
        "    parse_spec('name: x\\nstrategy: randm\\n', source='s.yaml')\n"
        "except SpecError as e:\n"
        "    print(*e.problems, sep='\\n')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "strategy" in out.stdout and "random" in out.stdout and "line 2" in out.stdout, out.stdout
