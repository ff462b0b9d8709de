"""What hpt shows people about a job: the summary, the trials table, ``best``, ``list`` rows."""

from __future__ import annotations

import json
import math
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from .errors import HptError
from .store import Store
from .trial import (
    COMPLETED,
    TRIAL_STATES,
    best_trial,
)

if TYPE_CHECKING:
    from .api import JobResult


def fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def dumps(doc: dict) -> str:
    """JSON with non-finite numbers as null, so any JSON parser reads it."""

    def clean(x):
        if isinstance(x, float) and not math.isfinite(x):
            return None
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, list):
            return [clean(v) for v in x]
        return x

    return json.dumps(clean(doc), indent=2)


def stopped_how(trial) -> str:
    """How a stopped trial was stopped, in words."""
    how = trial.info.get("stopped")
    if how == "job_end" or (how is None and (trial.reason or "").startswith("stopped: the job ended")):
        return "stopped when the job ended"
    if how == "diverged":
        return "stopped when it diverged; its best value"
    return "stopped early"


def summary(console, result: JobResult) -> None:
    """The human summary printed when a job ends (on a console of :mod:`hpt.reporting`)."""
    spec = result.spec
    doc = result.to_dict(trials=False)
    if console.is_terminal:
        from rich.text import Text

        style = {"Completed": "green", "Failed": "red", "Stopped": "yellow"}.get(doc["status"], "white")
        head = Text.assemble(
            ("Job ", "bold"),
            (doc["job"], "bold"),
            " ",
            (doc["status"], f"bold {style}"),
            f": {doc['reason'] or ''}",
        )
    else:
        head = f"Job {doc['job']} {doc['status']}: {doc['reason'] or ''}"
    console.print(head)
    c = doc["counts"]
    parts = [f"{c[s]} {s}" for s in TRIAL_STATES if c[s]]
    console.print(
        f"  trials: {', '.join(parts) or 'none'} ({doc['trials']} of max_jobs {doc['max_jobs']}), elapsed {doc['elapsed_seconds']:.1f}s"
    )
    best = doc["best"]
    if best is None:
        console.print("  best: no trial produced the objective")
    else:
        note = ""
        if best["state"] != COMPLETED:
            trial = next(t for t in result.trials if t.id == best["trial_id"])
            note = f" ({stopped_how(trial)} at step {best['step']})"
        console.print(
            f"  best: trial {best['trial_id']}, {spec.objective.metric} = {fmt(best['objective'])}{note}"
        )
        for k, v in best["hyperparameters"].items():
            console.print(f"    {k} = {fmt(v)}", highlight=False)
    if doc["scaling"]:
        console.print(
            "  scaling: " + ", ".join(f"{k} {v}" for k, v in doc["scaling"].items()),
            highlight=False,
        )
    line = warm_start_line(result)
    if line:
        console.print(f"  {line}", highlight=False)
    console.print(f"  job directory: {doc['job_dir']}", highlight=False)


def warm_start_line(result: JobResult) -> str | None:
    """One line on a job's warm start: which parents, and how many of their trials it uses."""
    ws = result.warm_start
    if not ws:
        return None
    parts = []
    for p in ws["parents"]:
        why = "".join(f"; {n} {reason}" for reason, n in p["not_used"].items())
        parts.append(f"{p['job']} ({p['used']} of {p['trials']} trials{why})")
    return f"warm start ({ws['type']}): {ws['observations']} observations from " + ", ".join(parts)


def best_output(result: JobResult, form: str) -> str:
    """``hpt best``: the best hyperparameters as JSON, YAML or command-line arguments, or the
    best trial's exact command line (``argv``, shell-quoted) or the environment hpt gave it
    (``env``, one ``NAME=value`` a line, shell-quoted)."""
    best, spec = result.best, result.spec
    if best is None:
        return ""
    if form in ("argv", "env"):
        att = result.last_attempts.get(best.trial_id)
        if att is None or att.argv is None:
            raise HptError(
                f"trial {best.trial_id} was started by an hpt that did not record its command line; "
                f"use --format args"
            )
        if form == "argv":
            return shlex.join(att.argv)
        return "\n".join(f"{k}={shlex.quote(v)}" for k, v in (att.env or {}).items())
    if form == "args":
        return " ".join(
            f"--{k} {shlex.quote(str(v) if not isinstance(v, float) else repr(v))}"
            for k, v in best.hyperparameters.items()
        )
    if form == "yaml":
        return yaml.safe_dump(best.hyperparameters, sort_keys=False).rstrip()
    return dumps(
        {
            "job": result.name,
            "trial_id": best.trial_id,
            "objective": {"metric": spec.objective.metric, "value": best.objective},
            "hyperparameters": best.hyperparameters,
            "static": best.static,
        }
    )


def job_line(path: Path) -> dict[str, Any]:
    """One row of ``hpt list``: a job that cannot be read is listed as such, with the reason."""
    from .paths import job_reason

    try:
        store = Store.open(path)
    except HptError as exc:
        return _unreadable(path, exc)
    try:
        job = store.job()
        trials = store.trials()
    except HptError as exc:
        return _unreadable(path, exc)
    finally:
        store.close()
    maximize = (job.spec.get("objective") or {}).get("type") == "maximize"
    best = best_trial(trials, maximize)
    reason = job_reason(path, job.name, job.status, job.end_reason)
    return {
        "job": job.name,
        "status": job.status,
        "trials": len(trials),
        "completed": sum(1 for t in trials if t.state == COMPLETED),
        "best": best.objective if best is not None else None,
        "updated": job.updated,
        "reason": reason,
    }


def _unreadable(path: Path, exc: Exception) -> dict[str, Any]:
    try:
        updated = (path / "job.db").stat().st_mtime
    except OSError:
        updated = 0.0
    return {
        "job": path.name,
        "status": "Unreadable",
        "trials": 0,
        "completed": 0,
        "best": None,
        "updated": updated,
        "reason": str(exc),
    }
