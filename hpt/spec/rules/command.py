"""Rules of how a trial is started: ``command``, ``env``, ``static``, their placeholders,
``workdir`` and ``executor``.

Every placeholder must name a parameter, a static value or a built-in; format specs are tried
once on representative values; a tuned parameter used nowhere is a warning.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from ...space import Space
from .. import render
from ..model import ExecutorConfig
from ..schema_errors import suggest
from .context import Context, is_number


def build_static(ctx: Context, static: Any, space: Space | None) -> dict[str, render.Value]:
    out = {}
    if not isinstance(static, dict):
        return out
    tuned = set(
        (ctx.doc.data.get("parameters") or {}) if isinstance(ctx.doc.data.get("parameters"), dict) else ()
    )
    for k, v in static.items():
        path = ("static", k)
        if k in tuned:
            ctx.error(path, f"{k!r} is both static and tuned; keep one", key=True)
        if k in render.RESERVED:
            ctx.error(path, f"{k!r} is a built-in placeholder; choose another name", key=True)
        if isinstance(v, (dict, list)) or v is None:
            continue
        out[k] = render.Value(v, ctx.text(path, v))
    return out


def build_command(ctx: Context, command: Any) -> list[str] | None:
    if isinstance(command, str):
        try:
            parts = shlex.split(command)
        except ValueError as exc:
            ctx.error(("command",), f"cannot split the command string: {exc}; write it as a list")
            return None
        if not parts:
            ctx.error(("command",), "the command is empty")
            return None
        return parts
    if isinstance(command, list) and command:
        out = []
        for i, c in enumerate(command):
            if isinstance(c, (dict, list)) or c is None:
                return None
            out.append(ctx.text(("command", i), c))
        return out
    return None


def build_env(ctx: Context, env: Any) -> dict[str, str]:
    if not isinstance(env, dict):
        return {}
    return {
        k: ctx.text(("env", k), v)
        for k, v in env.items()
        if not isinstance(v, (dict, list)) and v is not None
    }


def check_placeholders(ctx: Context, command, env, space: Space | None, static: dict) -> dict[str, tuple]:
    """Check every placeholder; returns the names used (built-ins included), each with the path
    of its first use."""
    params = ctx.doc.data.get("parameters")
    tuned = list(params) if isinstance(params, dict) else []
    known = set(tuned) | set(static) | set(render.BUILTINS)
    used: set[str] = set()
    first: dict[str, tuple] = {}
    uses_args = False
    templates = [(("command", i), c) for i, c in enumerate(command or [])]
    if isinstance(ctx.doc.data.get("command"), str):
        templates = [(("command",), c) for c in command or []]
    templates += [(("env", k), v) for k, v in env.items()]
    for path, template in templates:
        if template == "{args}" and path[0] == "command":
            uses_args = True
            continue
        try:
            found = render.fields(template)
        except render.TemplateError as exc:
            ctx.error(path, str(exc))
            continue
        for name, _spec in found:
            if name == render.ARGS:
                ctx.error(
                    path,
                    "{args} expands to several arguments, so it must be a whole command element on its own"
                    if path[0] == "command"
                    else "{args} is only for the command",
                )
            elif name not in known:
                ctx.error(
                    path,
                    f"unknown placeholder {{{name}}}; it must name a parameter, a static value or one of "
                    + ", ".join("{" + b + "}" for b in render.BUILTINS)
                    + suggest(name, known),
                )
            else:
                used.add(name)
                first.setdefault(name, path)
    if uses_args:
        used |= set(tuned)
    for name in tuned:
        if name not in used:
            ctx.warn(
                ("parameters", name),
                f"parameter {name!r} is tuned but appears nowhere in command or env (add {{{name}}} or {{args}})",
            )
    # Format specs are checked by rendering once with representative values.
    if space is not None and command and not ctx.failed:
        sample = space.decode([0.5] * space.dim)
        values = {n: render.Value(v, render.text_of(v)) for n, v in sample.items()}
        values.update(static)
        values.update({b: render.Value("x", "x") for b in render.BUILTINS})
        values[render.SLOT] = render.Value(0, "0")  # a number, so {slot:02d} works
        for path, template in templates:
            if template == "{args}":
                continue
            try:
                render.render(template, values)
            except (render.TemplateError, KeyError) as exc:
                ctx.error(path, str(exc).strip('"'))
    return first


def check_gpus_placeholder(ctx: Context, used: dict[str, tuple], d: dict) -> None:
    """``{gpus}`` names the devices hpt assigned: it needs ``resources``, and a local executor
    (a Dask worker's devices are its own; hpt does not know them)."""
    if render.GPUS not in used:
        return
    executor = d.get("executor") if isinstance(d.get("executor"), dict) else {}
    if not isinstance(d.get("resources"), dict):
        ctx.error(
            used[render.GPUS],
            "{gpus} names the GPUs hpt assigns to a trial: add resources (e.g. resources: {gpus: auto})",
        )
    elif executor.get("type") == "dask":
        ctx.error(
            used[render.GPUS],
            "{gpus} is not known with the dask executor: a worker's GPUs are its own (read "
            "CUDA_VISIBLE_DEVICES in the trial instead)",
        )


def resolve_workdir(ctx: Context, workdir: Any, base: Path) -> Path | None:
    """The absolute working directory of the trials: ``workdir`` against the spec's folder."""
    if workdir is None:
        return base
    if not isinstance(workdir, str):
        return None
    path = (base / workdir).resolve()
    if not path.is_dir():
        ctx.error(("workdir",), f"{workdir!r} is not a directory (resolved to {path})")
        return None
    return path


def build_executor(ctx: Context, e: Any) -> ExecutorConfig:
    if not isinstance(e, dict):
        return ExecutorConfig()
    kind = e.get("type", "local")
    if kind == "local":
        for key in ("address", "resources"):
            if key in e:
                ctx.error(
                    ("executor", key),
                    f"{key!r} applies to the dask executor only (executor.type is local)",
                    key=True,
                )
    resources = e.get("resources") if isinstance(e.get("resources"), dict) else {}
    address = e.get("address") if isinstance(e.get("address"), str) else None
    return ExecutorConfig(
        kind if kind in ("local", "dask") else "local",
        address,
        tuple((k, float(v)) for k, v in resources.items() if is_number(v)),
    )
