"""What every rule needs: the loaded document (positions and texts) and the problems found so far."""

from __future__ import annotations

from typing import Any

from ...errors import Problem
from ..render import text_of
from ..yamlio import Document, format_path


def is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


class Context:
    """The document under check and the problems the rules report about it.

    Rules are written defensively: the data may already have failed the schema.
    """

    def __init__(self, doc: Document, source: str):
        self.doc = doc
        self.source = source
        self.problems: list[Problem] = []

    @property
    def failed(self) -> bool:
        """True once any rule has reported an error (warnings do not count)."""
        return any(p.severity == "error" for p in self.problems)

    def error(self, path: tuple, message: str, key: bool = False) -> None:
        line, col = self.doc.where(path, key=key)
        self.problems.append(Problem(format_path(path), line, col, message))

    def warn(self, path: tuple, message: str) -> None:
        line, col = self.doc.where(path)
        self.problems.append(Problem(format_path(path), line, col, message, severity="warning"))

    def text(self, path: tuple, value: Any) -> str:
        """A scalar's text exactly as written in the spec."""
        if path in self.doc.texts and not isinstance(value, str):
            return self.doc.texts[path]
        return value if isinstance(value, str) else text_of(value)

    def get(self, d: Any, key: str, kind: type | tuple | None = None) -> Any:
        if not isinstance(d, dict):
            return None
        v = d.get(key)
        if kind is not None and not isinstance(v, kind):
            return None
        return v
