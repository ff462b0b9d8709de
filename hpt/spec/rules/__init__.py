"""The rules stage: what a JSON Schema cannot express, checked on the loaded document.

:func:`check` is the one entry point. It runs every section's rules (each reports its problems
with their positions and returns its part of the model, or None when it cannot), and assembles
the :class:`Spec` when nothing failed. The sections live beside it: ``parameters``,
``metrics`` (and the objective), ``command`` (command, env, static values, placeholders,
workdir, executor), ``resources`` (GPUs), ``limits`` (limits, hyperband, early stopping
rule, completion), ``start`` (initial points, warm start) and ``sagemaker`` (script mode).
"""

from __future__ import annotations

from pathlib import Path

from ...errors import Problem
from ..model import STRATEGIES, Spec
from ..yamlio import Document
from .command import (
    build_command,
    build_env,
    build_executor,
    build_static,
    check_gpus_placeholder,
    check_placeholders,
    resolve_workdir,
)
from .context import Context
from .limits import (
    build_completion,
    build_early_stopping_rule,
    build_hyperband,
    build_limits,
    parse_duration,
)
from .metrics import build_metrics, build_objective
from .parameters import build_space
from .resources import build_resources
from .sagemaker import build_sagemaker
from .start import build_initial_points, build_warm_start


def check(
    doc: Document, source: str, text: str, base: Path, schema_failed: bool
) -> tuple[Spec | None, list[Problem]]:
    """The spec of ``doc`` (None when anything failed) and every problem the rules found.

    ``base`` anchors a relative workdir; ``schema_failed`` says the schema already reported
    errors, so no spec is built even when the rules find nothing more.
    """
    ctx = Context(doc, source)
    d = doc.data
    strategy = d.get("strategy", "bayesian")
    if strategy not in STRATEGIES:
        strategy = None

    space = build_space(ctx, d.get("parameters"), strategy)
    metrics = build_metrics(ctx, d.get("metrics"))
    objective = build_objective(ctx, d.get("objective"), metrics)
    static = build_static(ctx, d.get("static"), space)
    command = build_command(ctx, d.get("command"))
    env = build_env(ctx, d.get("env"))
    used = check_placeholders(ctx, command, env, space, static)
    limits = build_limits(ctx, d.get("limits"), strategy, space)
    hyperband = build_hyperband(ctx, d, strategy, static)
    early = d.get("early_stopping", "off")
    if strategy == "hyperband" and early == "auto":
        ctx.error(
            ("early_stopping",),
            "hyperband stops trials itself; set early_stopping: off (AMT requires it for Hyperband)",
        )
    rule = build_early_stopping_rule(ctx, d.get("early_stopping_rule"), early)
    completion = build_completion(ctx, d.get("completion"))
    executor = build_executor(ctx, d.get("executor"))
    resources = build_resources(ctx, d.get("resources"), d.get("limits"), d.get("executor"))
    check_gpus_placeholder(ctx, used, d)
    workdir = resolve_workdir(ctx, d.get("workdir"), base)
    initial_points = build_initial_points(ctx, d.get("initial_points"), space, static, limits)
    warm_start = build_warm_start(ctx, d.get("warm_start"), d.get("name"))
    sagemaker = build_sagemaker(ctx, d.get("sagemaker"), workdir, space, static)

    if schema_failed or ctx.failed:
        return None, ctx.problems
    if None in (space, metrics, objective, command, limits, strategy, workdir):
        return None, ctx.problems
    spec = Spec(
        name=d["name"],
        command=tuple(command),
        workdir=workdir,
        env=tuple(env.items()),
        static=tuple(static.items()),
        objective=objective,
        metrics=tuple(metrics),
        strategy=strategy,
        space=space,
        limits=limits,
        early_stopping=early,
        hyperband=hyperband,
        early_stopping_rule=rule,
        completion=completion,
        executor=executor,
        resources=resources,
        random_seed=d.get("random_seed"),
        warm_start=warm_start,
        initial_points=initial_points,
        sagemaker=sagemaker,
        data=d,
        text=text,
        source=source,
        base_dir=base,
        warnings=tuple(p for p in ctx.problems if p.severity == "warning"),
    )
    return spec, ctx.problems


__all__ = ["check", "parse_duration"]
