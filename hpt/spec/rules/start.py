"""Rules of how the search starts: ``initial_points`` (configurations run first) and
``warm_start`` (parent jobs whose trials inform the strategy).

An initial point names parameters of the space with values inside their ranges (a categorical
value compared as written); a point may leave parameters out for the strategy to fill in. The
parents of ``warm_start`` live in the runs directory, which a spec does not know: here only
what the spec itself can say is checked; :mod:`hpt.warmstart` checks the parents when the job
is created.
"""

from __future__ import annotations

import math
from typing import Any

from ...space import CATEGORICAL, CONTINUOUS, INTEGER, Space, number_text
from ..model import WARM_START_TYPES, InitialPoint, Limits, WarmStart
from ..schema_errors import suggest
from .context import Context, is_number


def build_initial_points(
    ctx: Context, points: Any, space: Space | None, static: dict, limits: Limits | None
) -> tuple[InitialPoint, ...]:
    if not isinstance(points, list) or space is None:
        return ()
    out: list[InitialPoint] = []
    seen: dict[tuple, int] = {}
    ok = True
    for i, point in enumerate(points):
        if not isinstance(point, dict) or not point:
            ok = False  # the schema reported it
            continue
        values: dict[str, Any] = {}
        for name, v in point.items():
            path = ("initial_points", i, name)
            if name not in space.names:
                if name in static:
                    why = f"{name!r} is a static hyperparameter, not a tuned one; an initial point sets tuned parameters only"
                else:
                    why = f"unknown parameter {name!r}; an initial point sets parameters of `parameters`{suggest(name, space.names)}"
                ctx.error(path, why, key=True)
                ok = False
                continue
            value = _check_value(ctx, path, space[name], v)
            if value is None:
                ok = False
            else:
                values[name] = value
        if len(values) != len(point):
            continue
        ordered = tuple((n, values[n]) for n in space.names if n in values)
        if len(ordered) == len(space.names):
            key = tuple(v for _, v in ordered)
            if key in seen:
                ctx.error(("initial_points", i), f"repeats initial_points[{seen[key]}]; each point runs once")
                ok = False
                continue
            seen[key] = i
        out.append(InitialPoint(ordered))
    if limits is not None and len(points) > limits.max_jobs:
        ctx.error(
            ("initial_points",),
            f"{len(points)} initial points but max_jobs is {limits.max_jobs}; they count toward max_jobs",
        )
        ok = False
    return tuple(out) if ok else ()


def _check_value(ctx: Context, path: tuple, p, v: Any) -> Any:
    """The value of parameter ``p`` at ``path`` as a trial gets it, or None (reported)."""
    text = ctx.text(path, v)
    if p.kind == CATEGORICAL:
        if isinstance(v, (dict, list)) or v is None:
            return None
        if text not in p.values:
            ctx.error(path, f"{text!r} is not one of the values of {p.name!r}: {', '.join(p.values)}")
            return None
        return text
    if not is_number(v):
        ctx.error(path, f"{p.name!r} is {p.kind}: its value must be a number (got {text!r})")
        return None
    if not math.isfinite(v):
        ctx.error(path, f"must be a finite number (got {text})")
        return None
    if p.kind == INTEGER and not isinstance(v, int):
        ctx.error(path, f"{p.name!r} is an integer parameter: {text} is not an integer")
        return None
    for key, bad, word in (("min", v < p.low, "below"), ("max", v > p.high, "above")):
        if bad:
            bound = ctx.doc.texts.get(("parameters", p.name, key)) or number_text(
                p.low if key == "min" else p.high
            )
            ctx.error(path, f"{text} is {word} {key} {bound}")
            return None
    return int(v) if p.kind == INTEGER else float(v) if p.kind == CONTINUOUS else v


def build_warm_start(ctx: Context, w: Any, name: Any) -> WarmStart | None:
    if not isinstance(w, dict):
        return None
    parents = w.get("parents")
    kind = w.get("type", WARM_START_TYPES[0])
    if not isinstance(parents, list) or not parents or kind not in WARM_START_TYPES:
        return None
    ok = True
    for i, parent in enumerate(parents):
        if parent == name:
            ctx.error(("warm_start", "parents", i), f"job {parent!r} cannot be its own parent")
            ok = False
        elif not isinstance(parent, str):
            ok = False
    return WarmStart(tuple(parents), kind) if ok else None
