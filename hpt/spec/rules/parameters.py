"""Rules of the ``parameters`` section: each range or list of values becomes a :class:`Param`.

Beyond the schema: finite and ordered bounds, integer bounds for integers, a scaling that suits
the range, unique categorical values (compared as written), grid takes categoricals only.
"""

from __future__ import annotations

import math
from typing import Any

from ...space import CATEGORICAL, CONTINUOUS, INTEGER, LOG, REVERSE_LOG, Param, Space, resolve_scaling
from .. import render
from .context import Context, is_number


def build_space(ctx: Context, params: Any, strategy: str | None) -> Space | None:
    if not isinstance(params, dict) or not params:
        return None
    out, ok = [], True
    for name, p in params.items():
        path = ("parameters", name)
        if name in render.RESERVED:
            ctx.error(path, f"{name!r} is a built-in placeholder; choose another name", key=True)
            ok = False
        if not isinstance(p, dict):
            ok = False
            continue
        kind = p.get("type")
        if strategy == "grid" and kind in (CONTINUOUS, INTEGER):
            ctx.error(
                path + ("type",),
                f"grid search takes categorical parameters only; parameter {name!r} is {kind} (list its values as a categorical, or use strategy random or bayesian)",
            )
            ok = False
        param = build_param(ctx, name, p, path)
        if param is None:
            ok = False
        else:
            out.append(param)
    return Space(tuple(out)) if ok else None


def build_param(ctx: Context, name: str, p: dict, path: tuple) -> Param | None:
    kind = p.get("type")
    if kind == CATEGORICAL:
        for k in ("min", "max", "scaling"):
            if k in p:
                ctx.error(
                    path + (k,),
                    f"{k!r} is for continuous and integer parameters; a categorical parameter lists its values",
                    key=True,
                )
        values = p.get("values")
        if not isinstance(values, list) or not values:
            return None
        texts, ok = [], True
        for i, v in enumerate(values):
            if isinstance(v, (dict, list)) or v is None:
                ok = False
                continue
            t = ctx.text(path + ("values", i), v)
            if t in texts:
                ctx.error(
                    path + ("values", i),
                    f"duplicate value {t!r}; categorical values must be unique",
                )
                ok = False
            texts.append(t)
        return (
            Param(name, CATEGORICAL, values=tuple(texts), scaling="none", requested_scaling="none")
            if ok
            else None
        )
    if kind not in (CONTINUOUS, INTEGER):
        return None
    if "values" in p:
        ctx.error(
            path + ("values",),
            f"'values' is for categorical parameters; a {kind} parameter has min and max",
            key=True,
        )
    lo, hi = p.get("min"), p.get("max")
    scaling = p.get("scaling", "auto")
    if not (is_number(lo) and is_number(hi)):
        return None
    ok = True
    for key, v in (("min", lo), ("max", hi)):
        if not math.isfinite(v):
            ctx.error(path + (key,), f"must be a finite number (got {v})")
            ok = False
        elif kind == INTEGER and not float(v).is_integer():
            ctx.error(
                path + (key,),
                f"an integer parameter needs integer bounds (got {ctx.text(path + (key,), v)})",
            )
            ok = False
    if not ok:
        return None
    if not lo < hi:
        ctx.error(
            path + ("max",),
            f"max must be greater than min (min {ctx.text(path + ('min',), lo)}, max {ctx.text(path + ('max',), hi)})",
        )
        return None
    if scaling == LOG and lo <= 0:
        ctx.error(
            path + ("min",),
            f"logarithmic scaling needs min > 0 (got {ctx.text(path + ('min',), lo)})",
        )
        return None
    if scaling == REVERSE_LOG:
        if kind != CONTINUOUS:
            ctx.error(
                path + ("scaling",),
                "reverse_logarithmic scaling is for continuous parameters only",
            )
            return None
        if not (0 <= lo < hi < 1):
            ctx.error(
                path + ("scaling",),
                f"reverse_logarithmic scaling needs 0 <= min < max < 1 (got min {lo}, max {hi})",
            )
            return None
    if scaling not in ("auto", "linear", LOG, REVERSE_LOG):
        return None
    if kind == INTEGER:
        lo, hi = float(int(lo)), float(int(hi))
    return Param(name, kind, float(lo), float(hi), resolve_scaling(scaling, lo, hi), scaling)
