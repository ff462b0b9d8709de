"""Whether a document conforms to the spec's JSON Schema, without importing jsonschema.

Every ``hpt run`` checks its spec against the schema; jsonschema and what it imports (attrs,
referencing, rpds) take about 35 ms to import, a seventh of a short job's start. :func:`conforms`
answers yes or no for the keywords the shipped schema uses, with jsonschema's meaning of each
(Draft 2020-12, and hpt's integer: an ``int``, never ``1.0`` or a boolean);
:func:`~hpt.spec.schema_errors.schema_problems` asks jsonschema for the errors, in words, only
when the answer is no. A keyword this module does not know raises :class:`UnknownKeyword`, so a
schema that grows one fails the tests (``tests/test_schema_check.py`` compares the two on
thousands of documents) rather than passing a document it did not check.
"""

from __future__ import annotations

import re
from typing import Any

#: Keywords that say nothing about validity.
_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$defs", "$comment", "title", "description", "default", "examples", "deprecated"}
)


class UnknownKeyword(ValueError):
    """The schema uses a keyword :func:`conforms` does not check."""


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


_TYPES = {
    "object": lambda x: isinstance(x, dict),
    "array": lambda x: isinstance(x, list),
    "string": lambda x: isinstance(x, str),
    "boolean": lambda x: isinstance(x, bool),
    "null": lambda x: x is None,
    "number": _is_number,
    "integer": lambda x: isinstance(x, int) and not isinstance(x, bool),
}


def _equal(a: Any, b: Any) -> bool:
    """JSON equality: ``1 == 1.0``, but a boolean equals only a boolean."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, dict)) or isinstance(b, (list, dict)):
        return False
    return a == b


def _ref(root: dict, ref: str) -> Any:
    if not ref.startswith("#/"):
        raise UnknownKeyword(f"$ref {ref!r}: only references inside the schema are checked")
    node: Any = root
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def conforms(instance: Any, schema: Any, root: Any = None) -> bool:
    """Whether ``instance`` is valid against ``schema`` (``root`` resolves ``$ref``)."""
    root = schema if root is None else root
    if schema is True or schema == {}:
        return True
    if schema is False:
        return False
    for key, want in schema.items():
        if key in _ANNOTATIONS:
            continue
        check = _KEYWORDS.get(key)
        if check is None:
            raise UnknownKeyword(f"the schema keyword {key!r} is not checked by hpt.spec.schema_check")
        if not check(instance, want, schema, root):
            return False
    return True


def _type(x, want, schema, root) -> bool:
    names = want if isinstance(want, list) else [want]
    return any(_TYPES[name](x) for name in names)


def _properties(x, want, schema, root) -> bool:
    if not isinstance(x, dict):
        return True
    return all(conforms(x[k], sub, root) for k, sub in want.items() if k in x)


def _additional(x, want, schema, root) -> bool:
    if not isinstance(x, dict):
        return True
    if "patternProperties" in schema:
        raise UnknownKeyword("patternProperties is not checked by hpt.spec.schema_check")
    known = schema.get("properties", {})
    extras = [k for k in x if k not in known]
    if want is False:
        return not extras
    return all(conforms(x[k], want, root) for k in extras)


def _items(x, want, schema, root) -> bool:
    if "prefixItems" in schema:
        raise UnknownKeyword("prefixItems is not checked by hpt.spec.schema_check")
    return not isinstance(x, list) or all(conforms(item, want, root) for item in x)


def _unique(x, want, schema, root) -> bool:
    if not want or not isinstance(x, list):
        return True
    return not any(_equal(a, b) for i, a in enumerate(x) for b in x[i + 1 :])


def _if(x, want, schema, root) -> bool:
    if conforms(x, want, root):
        return conforms(x, schema.get("then", True), root)
    return conforms(x, schema.get("else", True), root)


def _number(test):
    return lambda x, want, schema, root: not _is_number(x) or test(x, want)


def _sized(kind, test):
    return lambda x, want, schema, root: not isinstance(x, kind) or test(len(x), want)


_KEYWORDS = {
    "type": _type,
    "enum": lambda x, want, schema, root: any(_equal(x, v) for v in want),
    "const": lambda x, want, schema, root: _equal(x, want),
    "properties": _properties,
    "additionalProperties": _additional,
    "required": lambda x, want, schema, root: not isinstance(x, dict) or all(k in x for k in want),
    "propertyNames": lambda x, want, schema, root: (
        not isinstance(x, dict) or all(conforms(k, want, root) for k in x)
    ),
    "minProperties": _sized(dict, lambda n, m: n >= m),
    "maxProperties": _sized(dict, lambda n, m: n <= m),
    "items": _items,
    "minItems": _sized(list, lambda n, m: n >= m),
    "maxItems": _sized(list, lambda n, m: n <= m),
    "uniqueItems": _unique,
    "minLength": _sized(str, lambda n, m: n >= m),
    "maxLength": _sized(str, lambda n, m: n <= m),
    "pattern": lambda x, want, schema, root: not isinstance(x, str) or re.search(want, x) is not None,
    "minimum": _number(lambda x, m: not x < m),
    "maximum": _number(lambda x, m: not x > m),
    "exclusiveMinimum": _number(lambda x, m: not x <= m),
    "exclusiveMaximum": _number(lambda x, m: not x >= m),
    "anyOf": lambda x, want, schema, root: any(conforms(x, sub, root) for sub in want),
    "allOf": lambda x, want, schema, root: all(conforms(x, sub, root) for sub in want),
    "oneOf": lambda x, want, schema, root: sum(conforms(x, sub, root) for sub in want) == 1,
    "not": lambda x, want, schema, root: not conforms(x, want, root),
    "if": _if,
    "then": lambda x, want, schema, root: True,  # read by "if"
    "else": lambda x, want, schema, root: True,  # read by "if"
    "$ref": lambda x, want, schema, root: conforms(x, _ref(root, want), root),
}

__all__ = ["UnknownKeyword", "conforms"]
