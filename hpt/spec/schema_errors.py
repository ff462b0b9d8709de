"""The JSON Schema stage: the shipped schema, and its errors translated into positioned problems.

``schema()`` reads ``schemas/spec.schema.json``; ``schema_problems(doc)`` checks a loaded
document against it and words each jsonschema error the way a spec author reads it
(``unknown key 'lr'; did you mean 'lr0'?``), at the line and column of the offending node.
A document that conforms is recognised by :func:`~hpt.spec.schema_check.conforms`; jsonschema
is imported only to word the errors of one that does not.
"""

from __future__ import annotations

import difflib
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import Problem
from .schema_check import conforms
from .yamlio import Document, format_path

if TYPE_CHECKING:
    import jsonschema


@lru_cache(maxsize=1)
def schema() -> dict:
    """The JSON Schema (draft 2020-12) of a spec, as shipped in ``schemas/spec.schema.json``."""
    # In a source checkout (or an editable install) the file sits beside the package; in an
    # installed wheel it is in the package hpt.schemas (read as a file: importlib.resources
    # costs 5 ms a start), or in a zip only importlib.resources can read.
    beside = Path(__file__).resolve().parents[2] / "schemas" / "spec.schema.json"
    if not beside.is_file():
        from .. import schemas

        beside = Path(schemas.__file__).with_name("spec.schema.json")
    if beside.is_file():
        text = beside.read_text("utf-8")
    else:
        from importlib import resources

        text = resources.files("hpt.schemas").joinpath("spec.schema.json").read_text("utf-8")
    return json.loads(text)


def suggest(word: str, options) -> str:
    """``; did you mean 'x'?`` when one of ``options`` is close to ``word``, else nothing."""
    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


_TYPE_WORDS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "object": "a mapping",
    "array": "a list",
}


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nothing (null)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _schema_at(path: tuple) -> dict:
    """The subschema that describes ``path`` (best effort, for messages)."""
    node = schema()
    for part in path:
        if isinstance(part, int):
            node = node.get("items", {})
        elif "properties" in node and part in node["properties"]:
            node = node["properties"][part]
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        else:
            return {}
        if "$ref" in node:
            node = schema()["$defs"][node["$ref"].rsplit("/", 1)[1]]
    return node


@lru_cache(maxsize=1)
def validator() -> jsonschema.protocols.Validator:
    """jsonschema's validator of the spec schema, with hpt's integer."""
    import jsonschema

    # JSON Schema counts 1.0 as an integer; the rules that follow (and the runner) need a real
    # one, so `max_jobs: 10.0` is reported here, with its line, rather than slipping through
    # half-checked.
    cls = jsonschema.validators.extend(
        jsonschema.Draft202012Validator,
        type_checker=jsonschema.Draft202012Validator.TYPE_CHECKER.redefine(
            "integer", lambda _checker, x: isinstance(x, int) and not isinstance(x, bool)
        ),
    )
    return cls(schema())


def unquoted_placeholder(value: Any, path: tuple, doc: Document) -> str | None:
    """The placeholder a user meant when YAML read an unquoted ``{lr}`` (or ``{lr:.2e}``) as a
    mapping of one key; None when ``value`` is not such a mapping."""
    if not (isinstance(value, dict) and len(value) == 1):
        return None
    ((key, inner),) = value.items()
    if not isinstance(key, str) or isinstance(inner, (dict, list)):
        return None
    if inner is None:
        return "{" + key + "}"
    return "{" + key + ":" + doc.texts.get(path + (key,), str(inner)) + "}"


def _placeholder_message(meant: str) -> str:
    return (
        f"YAML reads the unquoted {meant} as a mapping (braces start one in YAML); "
        f'quote the placeholder: "{meant}"'
    )


def schema_problems(doc: Document) -> list[Problem]:
    """Every JSON Schema violation of the document, in words, with its line and column."""
    if conforms(doc.data, schema()):
        return []
    out: list[Problem] = []

    def add(path: tuple, message: str, key: bool = False) -> None:
        line, col = doc.where(path, key=key)
        out.append(Problem(format_path(path), line, col, message))

    def visit(err: jsonschema.ValidationError) -> None:
        path = tuple(err.absolute_path)
        v = err.validator
        if v == "additionalProperties":
            allowed = list(err.schema.get("properties", {}))
            for extra in sorted(set(err.instance) - set(allowed)):
                add(path + (extra,), f"unknown key {extra!r}{suggest(extra, allowed)}", key=True)
        elif v == "required":
            missing = re.findall(r"'([^']+)' is a required property", err.message)
            what = missing[0] if missing else err.message
            add(path, f"missing required key {what!r}")
        elif v == "enum":
            options = err.validator_value
            add(
                path,
                f"must be one of {', '.join(map(str, options))} (got {_describe(err.instance)})"
                + suggest(err.instance, options),
            )
        elif v == "const":
            add(path, f"must be {err.validator_value!r}")
        elif v == "type" and unquoted_placeholder(err.instance, path, doc):
            add(path, _placeholder_message(unquoted_placeholder(err.instance, path, doc)))
        elif v == "type":
            types = err.validator_value if isinstance(err.validator_value, list) else [err.validator_value]
            want = " or ".join(_TYPE_WORDS.get(t, t) for t in types)
            add(path, f"must be {want} (got {_describe(err.instance)})")
        elif v in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            op = {
                "minimum": ">=",
                "maximum": "<=",
                "exclusiveMinimum": ">",
                "exclusiveMaximum": "<",
            }[v]
            add(path, f"must be {op} {err.validator_value} (got {_describe(err.instance)})")
        elif v in ("minItems", "minProperties", "minLength"):
            add(path, "must not be empty")
        elif v in ("maxItems", "maxProperties", "maxLength"):
            add(path, f"is too long (at most {err.validator_value})")
        elif v == "pattern":
            if path == ("name",):
                add(
                    path,
                    f"must be 1-63 letters, digits, '-' or '_' (got {_describe(err.instance)})",
                )
            else:
                add(
                    path,
                    f"{_describe(err.instance)} does not match the pattern {err.validator_value}",
                )
        elif v == "propertyNames":
            for sub in err.context or []:
                bad = sub.instance
                add(
                    path + (bad,),
                    f"{bad!r} is not a valid name (letters, digits, '_' and '-', starting with a letter or '_')",
                    key=True,
                )
        elif v == "anyOf":
            meant = (
                [(i, unquoted_placeholder(x, path + (i,), doc)) for i, x in enumerate(err.instance)]
                if path == ("command",) and isinstance(err.instance, list)
                else []
            )
            if any(m for _, m in meant):
                for i, m in meant:
                    if m:
                        add(path + (i,), _placeholder_message(m))
            elif path == ("command",):
                add(path, "must be a non-empty string or a non-empty list of arguments")
            elif path == ("resources", "gpus"):
                add(
                    path,
                    f"must be auto or a list of device ids such as [0, 1] (got {_describe(err.instance)})",
                )
            elif path[:2] == ("resources", "gpus"):
                add(path, f"must be a device index (0, 1...) or UUID (got {_describe(err.instance)})")
            elif "(s|m|h|d)" in json.dumps(_schema_at(path).get("anyOf", [])):
                add(
                    path,
                    f"must be a number of seconds or a duration such as 30s, 10m, 2h (got {_describe(err.instance)})",
                )
            else:
                add(path, err.message)
        elif v in ("allOf", "if", "then"):
            for sub in err.context or []:
                visit(sub)
        else:
            add(path, err.message)

    for err in validator().iter_errors(doc.data):
        visit(err)
    return out
