"""The canonical form of a validated spec: versioned JSON that a job stores and reads back.

``to_canonical(spec)`` writes every field of the model in normalized form (durations in
seconds, scaling resolved beside the scaling asked for, categorical and static values as the
text written, hyperband's inferred resources, the absolute workdir, defaults filled in), so
two specs that mean the same search have equal forms whatever their YAML looked like
(``max_job_runtime: 2h`` and ``7200``). ``from_canonical`` rebuilds the :class:`Spec` from it
without validating again: the form was valid when it was written, and a job must stay
readable when, say, its workdir has since moved.

Only JSON types appear (lists, never tuples; no NaN or infinity: a non-finite float is the
string ``"nan"``, ``"inf"`` or ``"-inf"``), and every ordered collection is a list, so the
form survives ``json.dumps``/``json.loads`` and any key order.

``identity(form)`` is the part that says "same job": everything but the name, the executor,
the devices and the limits that may be raised on resume; ``differences`` words how two
identities differ.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from ..errors import Problem, StoredSpecError
from ..space import CATEGORICAL, INTEGER, Param, Space
from .model import (
    RAISABLE_LIMITS,
    Completion,
    EarlyStoppingRule,
    ExecutorConfig,
    Hyperband,
    InitialPoint,
    Limits,
    Metric,
    Objective,
    Resources,
    SageMakerConfig,
    Spec,
    WarmStart,
)
from .render import Value

#: The version of the canonical form this hpt writes (and the newest it reads). Version 2 added
#: ``warm_start``, ``initial_points`` and ``sagemaker``; a version-1 form reads as without them.
CANONICAL_VERSION = 2

#: Top-level keys that are not part of a job's identity: the name (a job may be renamed with
#: --name), where trials run (a job may resume on another cluster), and where the spec came
#: from (the absolute workdir already says where the trials run).
_NOT_IDENTITY = ("version", "name", "executor", "source", "base_dir", "warnings")
#: Lists whose order changes nothing (the environment is a mapping, the objective names its
#: metric): sorted by name in an identity, so reordering them is the same job.
_UNORDERED = ("env", "metrics")


# --------------------------------------------------------------------------- writing


def to_canonical(spec: Spec) -> dict[str, Any]:
    """The canonical, JSON-serialisable form of a validated spec (see the module docstring)."""
    return {
        "version": CANONICAL_VERSION,
        "name": spec.name,
        "command": list(spec.command),
        "workdir": str(spec.workdir),
        "env": [{"name": k, "template": t} for k, t in spec.env],
        "static": [_static_out(k, v) for k, v in spec.static],
        "parameters": [_param_out(p) for p in spec.space.params],
        "metrics": [{"name": m.name, "regex": m.regex} for m in spec.metrics],
        "objective": {
            "metric": spec.objective.metric,
            "type": spec.objective.type,
            "use": spec.objective.use,
        },
        "strategy": spec.strategy,
        "limits": _limits_out(spec.limits),
        "early_stopping": spec.early_stopping,
        "early_stopping_rule": {
            "min_steps": spec.early_stopping_rule.min_steps,
            "min_trials": spec.early_stopping_rule.min_trials,
        },
        "hyperband": None if spec.hyperband is None else _hyperband_out(spec.hyperband),
        "completion": {
            "target": _float_out(spec.completion.target),
            "max_jobs_not_improving": spec.completion.max_jobs_not_improving,
            "convergence": spec.completion.convergence,
        },
        "random_seed": spec.random_seed,
        "warm_start": None
        if spec.warm_start is None
        else {"parents": list(spec.warm_start.parents), "type": spec.warm_start.type},
        "initial_points": [dict(p.values) for p in spec.initial_points],
        "sagemaker": None
        if spec.sagemaker is None
        else {
            "env": spec.sagemaker.env,
            "channels": [{"name": k, "path": v} for k, v in spec.sagemaker.channels],
        },
        "executor": {
            "type": spec.executor.type,
            "address": spec.executor.address,
            "resources": [{"name": k, "amount": _float_out(v)} for k, v in spec.executor.resources],
        },
        "resources": None if spec.resources is None else _resources_out(spec.resources),
        "source": spec.source,
        "base_dir": str(spec.base_dir),
        "warnings": [
            {"path": w.path, "line": w.line, "col": w.col, "message": w.message} for w in spec.warnings
        ],
    }


def _float_out(x: float | None) -> float | str | None:
    if x is None or math.isfinite(x):
        return x
    return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def _static_out(name: str, v: Value) -> dict[str, Any]:
    value = v.value
    if isinstance(value, bool):
        kind = "bool"
    elif isinstance(value, int):
        kind = "int"
    elif isinstance(value, float):
        kind, value = "float", _float_out(value)
    else:
        kind = "str"
    return {"name": name, "type": kind, "value": value, "text": v.text}


def _param_out(p: Param) -> dict[str, Any]:
    if p.kind == CATEGORICAL:
        return {"name": p.name, "type": p.kind, "values": list(p.values)}
    low, high = (int(p.low), int(p.high)) if p.kind == INTEGER else (p.low, p.high)
    return {
        "name": p.name,
        "type": p.kind,
        "min": _float_out(low) if isinstance(low, float) else low,
        "max": _float_out(high) if isinstance(high, float) else high,
        "scaling": p.scaling,
        "requested_scaling": p.requested_scaling,
    }


def _limits_out(limits: Limits) -> dict[str, Any]:
    return {
        "max_jobs": limits.max_jobs,
        "max_parallel_jobs": limits.max_parallel_jobs,
        "max_runtime": _float_out(limits.max_runtime),
        "max_job_runtime": _float_out(limits.max_job_runtime),
        "max_failed_jobs": limits.max_failed_jobs,
        "max_retries": limits.max_retries,
        "stop_grace_period": _float_out(limits.stop_grace_period),
    }


def _resources_out(r: Resources) -> dict[str, Any]:
    return {"gpus": "auto" if r.gpus is None else list(r.gpus), "gpus_per_trial": r.gpus_per_trial}


def _hyperband_out(hb: Hyperband) -> dict[str, Any]:
    return {
        "min_resource": hb.min_resource,
        "max_resource": hb.max_resource,
        "eta": hb.eta,
        "sampler": hb.sampler,
        "brackets": hb.brackets,
    }


# --------------------------------------------------------------------------- reading


def check_version(data: Any) -> None:
    """Raise :class:`StoredSpecError` unless ``data`` is a canonical form this hpt can read."""
    version = data.get("version") if isinstance(data, dict) else None
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise StoredSpecError(f"the stored spec has no known version (version {version!r}); it is damaged")
    if version > CANONICAL_VERSION:
        raise StoredSpecError(f"this job was written by a newer hpt (spec version {version}); upgrade hpt")


def from_canonical(data: dict[str, Any]) -> Spec:
    """The :class:`Spec` of a canonical form, rebuilt without validating it again.

    Raises :class:`StoredSpecError` for a form of a newer version, or one that is damaged.
    ``Spec.data`` and ``Spec.text`` (the YAML as loaded) are empty: the form does not keep them.
    """
    check_version(data)
    try:
        return _spec_in(data)
    except (KeyError, TypeError, ValueError, AttributeError, re.error) as exc:
        raise StoredSpecError(f"the stored spec is damaged ({type(exc).__name__}: {exc})") from None


def _opt_float(x: Any) -> float | None:
    return None if x is None else float(x)


def _static_in(d: dict[str, Any]) -> tuple[str, Value]:
    convert = {"bool": bool, "int": int, "float": float, "str": str}[d["type"]]
    return d["name"], Value(convert(d["value"]), d["text"])


def _param_in(d: dict[str, Any]) -> Param:
    if d["type"] == CATEGORICAL:
        return Param(
            d["name"], CATEGORICAL, values=tuple(d["values"]), scaling="none", requested_scaling="none"
        )
    return Param(d["name"], d["type"], float(d["min"]), float(d["max"]), d["scaling"], d["requested_scaling"])


def _resources_in(r: dict[str, Any] | None) -> Resources | None:
    if r is None:
        return None
    gpus = None if r["gpus"] == "auto" else tuple(str(g) for g in r["gpus"])
    return Resources(gpus, float(r["gpus_per_trial"]))


def _warm_start_in(d: dict[str, Any] | None) -> WarmStart | None:
    return None if d is None else WarmStart(tuple(d["parents"]), d["type"])


def _sagemaker_in(d: dict[str, Any] | None) -> SageMakerConfig | None:
    if d is None:
        return None
    return SageMakerConfig(bool(d["env"]), tuple((c["name"], c["path"]) for c in d["channels"]))


def _spec_in(data: dict[str, Any]) -> Spec:
    lim, hb, comp, ex, esr = (
        data["limits"],
        data["hyperband"],
        data["completion"],
        data["executor"],
        data["early_stopping_rule"],
    )
    return Spec(
        name=data["name"],
        command=tuple(data["command"]),
        workdir=Path(data["workdir"]),
        env=tuple((e["name"], e["template"]) for e in data["env"]),
        static=tuple(_static_in(s) for s in data["static"]),
        objective=Objective(data["objective"]["metric"], data["objective"]["type"], data["objective"]["use"]),
        metrics=tuple(Metric(m["name"], m["regex"], re.compile(m["regex"])) for m in data["metrics"]),
        strategy=data["strategy"],
        space=Space(tuple(_param_in(p) for p in data["parameters"])),
        limits=Limits(
            max_jobs=lim["max_jobs"],
            max_parallel_jobs=lim["max_parallel_jobs"],
            max_runtime=_opt_float(lim["max_runtime"]),
            max_job_runtime=_opt_float(lim["max_job_runtime"]),
            max_failed_jobs=lim["max_failed_jobs"],
            max_retries=lim["max_retries"],
            stop_grace_period=float(lim["stop_grace_period"]),
        ),
        early_stopping=data["early_stopping"],
        hyperband=None
        if hb is None
        else Hyperband(hb["min_resource"], hb["max_resource"], hb["eta"], hb["sampler"], hb["brackets"]),
        early_stopping_rule=EarlyStoppingRule(esr["min_steps"], esr["min_trials"]),
        completion=Completion(
            target=_opt_float(comp["target"]),
            max_jobs_not_improving=comp["max_jobs_not_improving"],
            convergence=comp["convergence"],
        ),
        executor=ExecutorConfig(
            ex["type"], ex["address"], tuple((r["name"], float(r["amount"])) for r in ex["resources"])
        ),
        resources=_resources_in(data.get("resources")),  # absent in forms written before it existed
        random_seed=data["random_seed"],
        warm_start=_warm_start_in(data.get("warm_start")),
        initial_points=tuple(
            InitialPoint(tuple((k, v) for k, v in p.items())) for p in data.get("initial_points", ())
        ),
        sagemaker=_sagemaker_in(data.get("sagemaker")),
        source=data["source"],
        base_dir=Path(data["base_dir"]),
        warnings=tuple(
            Problem(w["path"], w["line"], w["col"], w["message"], severity="warning")
            for w in data["warnings"]
        ),
    )


# --------------------------------------------------------------------------- identity


def identity(data: dict[str, Any]) -> dict[str, Any]:
    """The part of a canonical form that makes a job the same job.

    Everything but the name, the executor, the devices (``resources.gpus``; ``gpus_per_trial``
    is kept), the spec's file location (the workdir, absolute, is kept) and the limits that may
    be raised on resume (``max_jobs``, ``max_parallel_jobs``, ``max_runtime``). The environment
    and the metrics are sorted by name: their order changes nothing. Two specs are the same job
    when their identities are equal.
    """
    check_version(data)
    out = {k: v for k, v in data.items() if k not in _NOT_IDENTITY}
    out["limits"] = {k: v for k, v in data["limits"].items() if k not in RAISABLE_LIMITS}
    # The devices are where trials run, like the executor; how many a trial takes is not.
    res = data.get("resources")
    out.pop("resources", None)
    if res is not None:
        out["resources"] = {"gpus_per_trial": res["gpus_per_trial"]}
    for key in _UNORDERED:
        out[key] = sorted(data[key], key=lambda item: item["name"])
    return out


def differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """How two identities differ, one readable ``path: old -> new`` line each; empty when equal.

    Entries of a list of named items (parameters, static values, metrics...) are addressed by
    name (``parameters.C.max``); a change of their order is a line of its own.
    """
    a, b = _flatten(old), _flatten(new)
    lines = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key, "<absent>"), b.get(key, "<absent>")
        if va == vb:
            continue
        if key.endswith(_ORDER) and not (
            isinstance(va, list) and isinstance(vb, list) and sorted(va) == sorted(vb)
        ):
            continue  # an item added or removed: its own lines say so
        lines.append(f"{key}: {va!r} -> {vb!r}")
    return lines


_ORDER = " (order)"


def _named(items: list) -> bool:
    return bool(items) and all(isinstance(i, dict) and isinstance(i.get("name"), str) for i in items)


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for k, v in data.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out or {prefix: {}}
    if isinstance(data, list):
        if _named(data) and len({i["name"] for i in data}) == len(data):
            out = {prefix + _ORDER: [i["name"] for i in data]}
            for item in data:
                rest = {k: v for k, v in item.items() if k != "name"}
                out.update(_flatten(rest, f"{prefix}.{item['name']}"))
            return out
        out = {}
        for i, v in enumerate(data):
            out.update(_flatten(v, f"{prefix}[{i}]"))
        return out or {prefix: []}
    return {prefix: data}
