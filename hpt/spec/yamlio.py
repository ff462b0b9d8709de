"""Line-aware, safe YAML loading with YAML 1.2 core-schema scalars.

PyYAML implements YAML 1.1, where ``off``/``yes``/``on`` are booleans and ``1e-3`` is a
string. A spec author means the opposite, so this module resolves plain scalars the way the
YAML 1.2 core schema does: only ``true``/``false`` are booleans, ``1e-3`` is a float, ``012``
is the decimal 12, and anything else stays the string as written.

It also keeps, for every node, its position (1-based line and column) and the exact text of
every scalar, so that errors can name ``path (line L, col C)`` and categorical values can
reach the command exactly as written.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from ..errors import Problem

# Guards against hostile documents: alias bombs and pathological nesting.
MAX_NODES = 100_000
MAX_DEPTH = 64

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"

_INT_RE = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT_RE = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)


class _CoreLoader(yaml.SafeLoader):
    """SafeLoader whose implicit resolvers follow the YAML 1.2 core schema."""

    yaml_implicit_resolvers: dict = {}


_CoreLoader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_CoreLoader.add_implicit_resolver(_NULL, re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
_CoreLoader.add_implicit_resolver(_INT, _INT_RE, list("-+0123456789"))
_CoreLoader.add_implicit_resolver(_FLOAT, _FLOAT_RE, list("-+0123456789."))


@dataclass
class Document:
    """A loaded YAML document: plain Python data plus where each node came from.

    ``positions`` maps a path (a tuple of keys and indexes) to the (line, col) of its value;
    ``key_positions`` maps a mapping entry's path to the position of its key; ``texts`` maps a
    scalar's path to its source text.
    """

    data: Any
    positions: dict[tuple, tuple[int, int]] = field(default_factory=dict)
    key_positions: dict[tuple, tuple[int, int]] = field(default_factory=dict)
    texts: dict[tuple, str] = field(default_factory=dict)

    def where(self, path: tuple, key: bool = False) -> tuple[int | None, int | None]:
        """Position of ``path``, or of its nearest ancestor that has one."""
        p = tuple(path)
        if key and p in self.key_positions:
            return self.key_positions[p]
        while True:
            if p in self.positions:
                return self.positions[p]
            if not p:
                return (None, None)
            p = p[:-1]


class YamlLoadError(Exception):
    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__(str(problems[0]))


def format_path(path: tuple) -> str:
    """``('parameters', 'C', 'min')`` -> ``parameters.C.min``; ``('metrics', 0)`` -> ``metrics[0]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _scalar(node: yaml.ScalarNode) -> Any:
    tag, text = node.tag, node.value
    if tag == _STR:
        return text
    if tag == _NULL:
        return None
    if tag == _BOOL:
        return text.lower() == "true"
    if tag == _INT:
        t = text.strip()
        if t.startswith("0o"):
            return int(t[2:], 8)
        if t.startswith("0x"):
            return int(t[2:], 16)
        return int(t, 10)  # YAML 1.2: no implicit octal, 012 is twelve
    if tag == _FLOAT:
        t = text.strip().lower()
        if t.endswith(".inf"):
            return -math.inf if t.startswith("-") else math.inf
        if t.endswith(".nan"):
            return math.nan
        return float(t)
    raise _Unsupported(tag)


class _Unsupported(Exception):
    def __init__(self, tag: str):
        self.tag = tag


def load(text: str, source: str = "<spec>") -> Document:
    """Parse one YAML document safely. Raises :class:`YamlLoadError` with positioned problems."""
    try:
        loader = _CoreLoader(text)
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        msg = exc.problem or "invalid YAML"
        if exc.context:
            msg = f"{exc.context}: {msg}"
        if "'{'" in msg and "flow" in msg:
            msg += (
                "; inside [ ] or { } a {placeholder} must be quoted, the whole element: "
                '[python, train.py, "--lr={lr}"]'
            )
        raise YamlLoadError([Problem("", line, col, f"YAML syntax error: {msg}")]) from None
    except yaml.YAMLError as exc:
        raise YamlLoadError([Problem("", None, None, f"YAML error: {exc}")]) from None
    except RecursionError:
        raise YamlLoadError([Problem("", None, None, "the document is nested too deeply")]) from None
    if root is None:
        raise YamlLoadError([Problem("", 1, 1, "the spec is empty")])

    doc = Document(data=None)
    problems: list[Problem] = []
    count = [0]

    def pos(node) -> tuple[int, int]:
        return (node.start_mark.line + 1, node.start_mark.column + 1)

    def build(node, path: tuple, depth: int) -> Any:
        count[0] += 1
        if count[0] > MAX_NODES:
            raise YamlLoadError(
                [
                    Problem(
                        format_path(path),
                        *pos(node),
                        f"the document has more than {MAX_NODES} nodes",
                    )
                ]
            )
        if depth > MAX_DEPTH:
            raise YamlLoadError(
                [Problem(format_path(path), *pos(node), f"nested deeper than {MAX_DEPTH} levels")]
            )
        doc.positions[path] = pos(node)
        if isinstance(node, yaml.ScalarNode):
            doc.texts[path] = node.value
            try:
                return _scalar(node)
            except _Unsupported as u:
                problems.append(Problem(format_path(path), *pos(node), f"unsupported YAML tag {u.tag!r}"))
                return None
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ:
                problems.append(Problem(format_path(path), *pos(node), f"unsupported YAML tag {node.tag!r}"))
                return None
            return [build(item, path + (i,), depth + 1) for i, item in enumerate(node.value)]
        if isinstance(node, yaml.MappingNode):
            if node.tag != _MAP:
                problems.append(Problem(format_path(path), *pos(node), f"unsupported YAML tag {node.tag!r}"))
                return None
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    problems.append(
                        Problem(
                            format_path(path),
                            *pos(key_node),
                            "a mapping key must be a plain scalar",
                        )
                    )
                    continue
                key = key_node.value  # keys are the text as written: `yes:` is the key 'yes'
                child = path + (key,)
                if key in out:
                    first = doc.key_positions.get(child, (None, None))
                    problems.append(
                        Problem(
                            format_path(child),
                            *pos(key_node),
                            f"duplicate key {key!r} (first defined on line {first[0]})",
                        )
                    )
                    continue
                doc.key_positions[child] = pos(key_node)
                out[key] = build(value_node, child, depth + 1)
            return out
        raise YamlLoadError([Problem(format_path(path), *pos(node), "unsupported YAML node")])

    try:
        doc.data = build(root, (), 0)
    except RecursionError:
        raise YamlLoadError([Problem("", None, None, "the document is nested too deeply")]) from None
    if problems:
        raise YamlLoadError(problems)
    return doc


def load_valid(text: str | None, source: str = "<spec>") -> Document | None:
    """The document of a spec's text that was validated before (positions and texts for later
    messages), or None without a text or when it no longer parses."""
    if not text:
        return None
    try:
        return load(text, source)
    except YamlLoadError:
        return None
