"""Rendering one trial's argv and environment from the spec's templates.

``{name}`` is replaced by the value's text (a categorical or static value exactly as written in
the spec), ``{name:FORMAT}`` by ``format(value, FORMAT)``, ``{{``/``}}`` by literal braces, and
an element that is exactly ``{args}`` by ``--name value`` pairs for every hyperparameter. A
substituted value always stays inside its own argv element: nothing is ever split or passed
through a shell.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .model import Spec

GPUS, SLOT = "gpus", "slot"
#: Placeholders hpt fills in itself. ``{gpus}``: the devices a trial got (comma-separated;
#: needs ``resources``); ``{slot}``: 0 .. capacity-1, stable while the trial runs.
BUILTINS = ("trial_id", "trial_dir", "job_dir", GPUS, SLOT)
ARGS = "args"
RESERVED = (*BUILTINS, ARGS)

_formatter = string.Formatter()


@dataclass(frozen=True)
class Value:
    """A hyperparameter value: the typed value (for format specs) and its text (for ``{name}``)."""

    value: Any
    text: str


def text_of(value: Any) -> str:
    """The default text of a sampled value: floats in shortest round-trip form."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


class TemplateError(ValueError):
    pass


def fields(template: str) -> list[tuple[str, str]]:
    """The ``(name, format_spec)`` placeholders of one template. Raises :class:`TemplateError`."""
    out = []
    try:
        parsed = list(_formatter.parse(template))
    except ValueError as exc:
        raise TemplateError(
            f"bad placeholder syntax in {template!r}: {exc} (use {{{{ and }}}} for literal braces)"
        ) from None
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if conversion:
            raise TemplateError(f"conversion '!{conversion}' is not supported in {{{name}!{conversion}}}")
        if name == "":
            raise TemplateError("empty placeholder '{}' (name a hyperparameter, e.g. {lr})")
        if "{" in (spec or ""):
            raise TemplateError(f"nested placeholders are not supported in {{{name}:{spec}}}")
        out.append((name, spec or ""))
    return out


def render(template: str, values: dict[str, Value]) -> str:
    """Substitute placeholders in one template string."""
    parts = []
    for literal, name, spec, _conv in _formatter.parse(template):
        parts.append(literal)
        if name is None:
            continue
        v = values[name]
        if spec:
            try:
                parts.append(format(v.value, spec))
            except (ValueError, TypeError) as exc:
                raise TemplateError(f"cannot format {name}={v.text!r} with ':{spec}': {exc}") from None
        else:
            parts.append(v.text)
    return "".join(parts)


def build_argv(
    command: tuple[str, ...],
    values: dict[str, Value],
    arg_names: list[str],
) -> list[str]:
    """The argv of one trial. ``arg_names`` lists, in order, what ``{args}`` expands to."""
    argv: list[str] = []
    for element in command:
        if element == "{" + ARGS + "}":
            for name in arg_names:
                argv += ["--" + name, values[name].text]
        else:
            argv.append(render(element, values))
    return argv


def placeholder_values(spec: Spec, params: dict[str, Any], builtins: dict[str, str]) -> dict[str, Value]:
    """Every placeholder of one trial: static values, its hyperparameters, the built-ins."""
    values = dict(spec.static)
    for name, v in params.items():
        values[name] = Value(v, text_of(v))
    for name, v in builtins.items():
        values[name] = Value(v, str(v))
    return values


def trial_command(
    spec: Spec, params: dict[str, Any], builtins: dict[str, str]
) -> tuple[list[str], dict[str, str]]:
    """argv and extra environment of one trial."""
    values = placeholder_values(spec, params, builtins)
    argv = build_argv(spec.command, values, spec.arg_names)
    env = {k: render(t, values) for k, t in spec.env}
    return argv, env
