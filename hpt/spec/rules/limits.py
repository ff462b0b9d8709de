"""Rules of how long and how much the search runs: ``limits`` (durations in seconds), ``hyperband``
(its resources and brackets), ``early_stopping_rule`` and ``completion``.
"""

from __future__ import annotations

import math
import re
from typing import Any

from ...space import Space
from ..model import (
    DEFAULT_BRACKETS,
    DEFAULT_GRACE,
    DEFAULT_MIN_STEPS,
    DEFAULT_MIN_TRIALS,
    EPOCH_KEYS,
    Completion,
    EarlyStoppingRule,
    Hyperband,
    Limits,
)
from .context import Context, is_number


def parse_duration(value: Any) -> float | None:
    """Seconds from a number or ``30s``/``10m``/``2h``/``1d``; None when not a duration."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) and value > 0 else None
    if isinstance(value, str):
        m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([smhd]?)\s*", value)
        if m:
            seconds = float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
            return seconds if seconds > 0 else None
    return None


def build_limits(ctx: Context, limits: Any, strategy: str | None, space: Space | None) -> Limits | None:
    limits = limits if isinstance(limits, dict) else {}
    if not isinstance(ctx.doc.data.get("limits", {}), dict):
        return None
    max_jobs = limits.get("max_jobs")
    parallel = limits.get("max_parallel_jobs", 1)
    size = space.cardinality if space is not None else None
    if strategy == "grid" and space is not None:
        if max_jobs is None:
            max_jobs = size
        elif isinstance(max_jobs, int) and max_jobs != size:
            ctx.error(
                ("limits", "max_jobs"),
                f"grid search runs every combination once: max_jobs must be {size} (the number of combinations) or left out (got {max_jobs})",
            )
    elif strategy in ("random", "bayesian", "hyperband") and max_jobs is None:
        ctx.error(
            ("limits",) if "limits" in ctx.doc.data else (),
            f"strategy {strategy} needs limits.max_jobs (the number of trials to run)",
        )
    if (
        strategy in ("random", "bayesian", "hyperband")
        and isinstance(max_jobs, int)
        and size is not None
        and size < max_jobs
    ):
        ctx.error(
            ("limits", "max_jobs"),
            f"the search space has only {size} distinct combinations, fewer than max_jobs {max_jobs}; lower max_jobs or widen the ranges",
        )
    if isinstance(max_jobs, int) and isinstance(parallel, int) and parallel > max_jobs:
        ctx.error(
            ("limits", "max_parallel_jobs"),
            f"max_parallel_jobs ({parallel}) cannot exceed max_jobs ({max_jobs})",
        )
    durations = {}
    for key in ("max_runtime", "max_job_runtime", "stop_grace_period"):
        if key in limits:
            durations[key] = parse_duration(limits[key])
            if durations[key] is None:
                if is_number(limits[key]) and not math.isfinite(limits[key]):
                    # the schema takes .inf as a number above 0
                    ctx.error(
                        ("limits", key),
                        f"must be a finite duration (got {ctx.text(('limits', key), limits[key])})",
                    )
                return None  # otherwise the schema already reported it
    if not isinstance(max_jobs, int) or not isinstance(parallel, int):
        return None
    return Limits(
        max_jobs=max_jobs,
        max_parallel_jobs=parallel,
        max_runtime=durations.get("max_runtime"),
        max_job_runtime=durations.get("max_job_runtime"),
        max_failed_jobs=limits.get("max_failed_jobs"),
        max_retries=limits.get("max_retries", 0),
        stop_grace_period=durations.get("stop_grace_period") or DEFAULT_GRACE,
    )


def build_hyperband(ctx: Context, d: dict, strategy: str | None, static: dict) -> Hyperband | None:
    hb = d.get("hyperband")
    if hb is not None and strategy != "hyperband":
        ctx.error(
            ("hyperband",),
            f"hyperband settings apply to strategy: hyperband only (strategy is {strategy})",
            key=True,
        )
        return None
    if strategy != "hyperband":
        return None
    hb = hb if isinstance(hb, dict) else {}
    max_r = hb.get("max_resource")
    if max_r is None:
        for key in EPOCH_KEYS:
            if key in static:
                v = static[key].value
                if isinstance(v, int) and not isinstance(v, bool) and v >= 1:
                    max_r = v
                    break
                ctx.error(
                    ("static", key),
                    f"hyperband infers max_resource from static {key!r}, which must be a positive integer (got {static[key].text!r})",
                )
                return None
        else:
            ctx.error(
                ("hyperband",) if "hyperband" in d else ("strategy",),
                "hyperband needs hyperband.max_resource, or a static value named epochs, num_epochs, n_epochs, numepochs or n-epochs to infer it from",
            )
            return None
    min_r = hb.get("min_resource", 1)
    if not (isinstance(min_r, int) and isinstance(max_r, int)):
        return None
    if min_r > max_r:
        ctx.error(
            ("hyperband", "min_resource"),
            f"min_resource ({min_r}) cannot exceed max_resource ({max_r})",
        )
        return None
    eta, sampler = hb.get("eta", 3), hb.get("sampler", "bayesian")
    if not isinstance(eta, int) or eta < 2 or min_r < 1 or sampler not in ("random", "bayesian"):
        return None
    available, level = 1, min_r  # floor(log_eta(max / min)) + 1, in integers
    while level * eta <= max_r:
        level *= eta
        available += 1
    brackets = hb.get("brackets", min(DEFAULT_BRACKETS, available))
    if not isinstance(brackets, int):
        return None
    if brackets > available:
        ctx.error(
            ("hyperband", "brackets"),
            f"only {available} brackets exist from min_resource {min_r} to max_resource {max_r} with eta {eta} "
            f"(floor(log_eta(max_resource / min_resource)) + 1); use at most {available}",
        )
        return None
    return Hyperband(min_r, max_r, eta, sampler, brackets)


def build_early_stopping_rule(ctx: Context, rule: Any, early: Any) -> EarlyStoppingRule:
    if rule is not None and early != "auto":
        ctx.error(
            ("early_stopping_rule",),
            f"early_stopping_rule configures early_stopping: auto (early_stopping is {early})",
            key=True,
        )
    if not isinstance(rule, dict):
        return EarlyStoppingRule()
    steps, trials = rule.get("min_steps", DEFAULT_MIN_STEPS), rule.get("min_trials", DEFAULT_MIN_TRIALS)
    if not (isinstance(steps, int) and isinstance(trials, int)):
        return EarlyStoppingRule()  # the schema already reported it
    return EarlyStoppingRule(steps, trials)


def build_completion(ctx: Context, c: Any) -> Completion:
    if not isinstance(c, dict):
        return Completion()
    target = c.get("target")
    if is_number(target) and not math.isfinite(target):
        ctx.error(("completion", "target"), f"must be a finite number (got {target})")
    n = c.get("max_jobs_not_improving")
    return Completion(
        target=float(target) if is_number(target) else None,
        max_jobs_not_improving=n if isinstance(n, int) else None,
        convergence=c.get("convergence") is True,
    )
