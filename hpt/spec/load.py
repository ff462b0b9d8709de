"""The loading stage: a spec file or text in, a validated :class:`Spec` (or every problem) out.

Reads the file, parses it with the line-aware YAML loader (:mod:`hpt.spec.yamlio`), checks it
against the JSON Schema (:mod:`hpt.spec.schema_errors`), then against the rules a schema cannot
express (:mod:`hpt.spec.rules`), and raises one :class:`SpecError` with every error found,
ordered by line.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import Problem, SpecError
from .model import Spec
from .rules import check
from .schema_errors import schema_problems
from .yamlio import YamlLoadError, load

#: Larger spec files are refused before they are parsed (a real spec is a few kilobytes).
MAX_SPEC_BYTES = 1024 * 1024


def _too_large(size: int) -> Problem:
    return Problem(
        "",
        None,
        None,
        f"the spec is {size / 2**20:.1f} MiB; hpt reads specs of at most {MAX_SPEC_BYTES // 2**20} MiB",
    )


def load_spec(path: str | Path) -> Spec:
    """Load and validate a spec file. Raises :class:`SpecError` with every problem found."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_SPEC_BYTES:
            raise SpecError(str(p), [_too_large(size)])
        with open(p, "rb") as f:
            raw = f.read(MAX_SPEC_BYTES + 1)  # the file may grow between stat and read
    except OSError as exc:
        raise SpecError(
            str(p), [Problem("", None, None, f"cannot read the spec: {exc.strerror or exc}")]
        ) from None
    if len(raw) > MAX_SPEC_BYTES:  # before decoding: the cut may split a character
        raise SpecError(str(p), [_too_large(len(raw))])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(
            str(p),
            [Problem("", None, None, f"the spec is not UTF-8 text ({exc.reason} at byte {exc.start})")],
        ) from None
    return parse_spec(text, source=str(p), base_dir=p.resolve().parent)


def parse_spec(text: str, source: str = "<spec>", base_dir: Path | None = None) -> Spec:
    """Validate spec text. ``base_dir`` anchors a relative ``workdir`` (the spec file's folder)."""
    if len(text) > MAX_SPEC_BYTES:
        raise SpecError(source, [_too_large(len(text.encode("utf-8", errors="replace")))])
    base = (base_dir or Path.cwd()).resolve()
    if "\x00" in text:
        raise SpecError(source, [Problem("", None, None, "the spec contains a NUL byte")])
    try:
        doc = load(text, source)
    except YamlLoadError as exc:
        raise SpecError(source, exc.problems) from None
    problems: list[Problem] = []
    if not isinstance(doc.data, dict):
        line, col = doc.where(())
        raise SpecError(
            source,
            [
                Problem(
                    "",
                    line,
                    col,
                    "the spec must be a mapping of keys such as name, command, parameters",
                )
            ],
        )
    problems += schema_problems(doc)
    spec, found = check(doc, source, text, base, schema_failed=bool(problems))
    problems += found
    errors = _dedupe([p for p in problems if p.severity == "error"])
    if errors:
        raise SpecError(source, sorted(errors, key=lambda p: (p.line or 0, p.col or 0)))
    assert spec is not None  # no errors means the rules built a spec
    return spec


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen, out = set(), []
    for p in problems:
        if (p.path, p.message) not in seen:
            seen.add((p.path, p.message))
            out.append(p)
    return out
