"""Rules of ``metrics`` and ``objective``: regexes that compile with one number to capture, and an
objective that names one of the metrics.
"""

from __future__ import annotations

import re
from typing import Any

from ..model import Metric, Objective
from ..schema_errors import suggest
from .context import Context


def build_metrics(ctx: Context, metrics: Any) -> list[Metric] | None:
    if not isinstance(metrics, list) or not metrics:
        return None
    out, names, ok = [], set(), True
    for i, m in enumerate(metrics):
        path = ("metrics", i)
        name, regex = ctx.get(m, "name", str), ctx.get(m, "regex", str)
        if name is None or regex is None:
            ok = False
            continue
        if name in names:
            ctx.error(path + ("name",), f"duplicate metric name {name!r}")
            ok = False
        names.add(name)
        try:
            pattern = re.compile(regex)
        except re.error as exc:
            ctx.error(path + ("regex",), f"the regex does not compile: {exc}")
            ok = False
            continue
        named = pattern.groupindex
        if "value" in named:
            pass
        elif pattern.groups == 0:
            ctx.error(
                path + ("regex",),
                "the regex needs a capture group around the number, e.g. 'loss=([-+0-9.eE]+)'",
            )
            ok = False
            continue
        elif pattern.groups - (1 if "step" in named else 0) != 1:
            ctx.error(
                path + ("regex",),
                f"the regex has {pattern.groups} capture groups; use exactly one (make others non-capturing with (?:...)) or name the number's group (?P<value>...)",
            )
            ok = False
            continue
        out.append(Metric(name, regex, pattern))
    return out if ok else None


def build_objective(ctx: Context, objective: Any, metrics: list[Metric] | None) -> Objective | None:
    metric, typ = ctx.get(objective, "metric", str), ctx.get(objective, "type", str)
    if metric is None or typ not in ("maximize", "minimize"):
        return None
    raw_metrics = ctx.doc.data.get("metrics")
    names = [ctx.get(m, "name", str) for m in raw_metrics] if isinstance(raw_metrics, list) else []
    names = [n for n in names if n]
    if names and metric not in names:
        ctx.error(
            ("objective", "metric"),
            f"objective metric {metric!r} is not one of the metrics ({', '.join(names)})"
            + suggest(metric, names),
        )
        return None
    use = objective.get("use", "last")
    return Objective(metric, typ, use) if use in ("last", "best") else None
