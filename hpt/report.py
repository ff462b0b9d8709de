"""What hpt tells people about a job: the summary, the JSON document, the trials table."""

from __future__ import annotations

import json
import math
import shlex
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .spec import Spec
from .store import (
    COMPLETED,
    FAILED,
    INTERRUPTED,
    JOB_COMPLETED,
    PENDING,
    RUNNING,
    STOPPED,
    TRIAL_STATES,
    Store,
    TrialRow,
    trial_dir,
)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def exit_code(status: str) -> int:
    """Documented exit codes: 0 completed, 1 failed, 130 stopped or interrupted."""
    if status == JOB_COMPLETED:
        return EXIT_OK
    if status == "Stopped":
        return EXIT_INTERRUPTED
    return EXIT_FAILED


def best_trial(trials: list[TrialRow], spec: Spec) -> TrialRow | None:
    """The best trial with an objective (completed, or stopped early with its last value)."""
    best = None
    for t in trials:
        if (t.state in (COMPLETED, STOPPED) and t.objective is not None and math.isfinite(t.objective)) and (
            best is None or spec.objective.better(t.objective, best.objective)
        ):
            best = t
    return best


def counts(trials: list[TrialRow]) -> dict[str, int]:
    c = Counter(t.state for t in trials)
    return {s: c.get(s, 0) for s in TRIAL_STATES}


def fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def scaling_notes(spec: Spec) -> dict[str, str]:
    return {
        p.name: (f"{p.scaling} (auto)" if p.requested_scaling == "auto" else p.scaling)
        for p in spec.space.params
        if p.kind != "categorical"
    }


def document(store: Store, spec: Spec) -> dict[str, Any]:
    """The JSON document of ``--output json``: status, counts, best trial and its hyperparameters."""
    job = store.job()
    trials = store.trials()
    best = best_trial(trials, spec)
    doc: dict[str, Any] = {
        "job": job.name,
        "status": job.status,
        "reason": job.end_reason,
        "exit_code": exit_code(job.status) if job.status != "InProgress" else None,
        "strategy": spec.strategy,
        "objective": {
            "metric": spec.objective.metric,
            "type": spec.objective.type,
            "use": spec.objective.use,
        },
        "max_jobs": spec.limits.max_jobs,
        "trials": len(trials),
        "counts": counts(trials),
        "best": None,
        "scaling": scaling_notes(spec),
        "elapsed_seconds": round(job.elapsed, 3),
        "job_dir": str(store.dir.resolve()),
        "random_seed": job.seed,
    }
    if best is not None:
        doc["best"] = {
            "trial_id": best.id,
            "state": best.state,
            "objective": best.objective,
            "step": best.objective_step,
            "hyperparameters": best.params,
            "static": {k: v.value for k, v in spec.static},
            "trial_dir": str(trial_dir(store.dir.resolve(), best.id)),
        }
    return doc


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


def summary(console: Console, store: Store, spec: Spec) -> None:
    """The human summary printed when a job ends."""
    doc = document(store, spec)
    style = {"Completed": "green", "Failed": "red", "Stopped": "yellow"}.get(doc["status"], "white")
    console.print(
        Text.assemble(
            ("Job ", "bold"),
            (doc["job"], "bold"),
            " ",
            (doc["status"], f"bold {style}"),
            f": {doc['reason'] or ''}",
        )
    )
    c = doc["counts"]
    parts = [f"{c[s]} {s}" for s in TRIAL_STATES if c[s]]
    console.print(
        f"  trials: {', '.join(parts) or 'none'} ({doc['trials']} of max_jobs {doc['max_jobs']}), elapsed {doc['elapsed_seconds']:.1f}s"
    )
    best = doc["best"]
    if best is None:
        console.print("  best: no trial produced the objective")
    else:
        note = "" if best["state"] == COMPLETED else f" (stopped early at step {best['step']})"
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
    console.print(f"  job directory: {doc['job_dir']}", highlight=False)


def trials_table(store: Store, spec: Spec) -> Table:
    """``hpt show``: trials sorted by objective (best first), the best highlighted."""
    trials = store.trials()
    best = best_trial(trials, spec)
    attempts = {}
    for a in store.attempts():
        attempts[a.trial_id] = a
    table = Table(title=f"{spec.name}: {spec.objective.type} {spec.objective.metric}", show_lines=False)
    table.add_column("trial", justify="right")
    table.add_column("state")
    table.add_column(spec.objective.metric, justify="right")
    table.add_column("step", justify="right")
    for name in spec.space.names:
        table.add_column(name, justify="right")
    table.add_column("time", justify="right")
    table.add_column("reason", overflow="fold", max_width=60)

    def order(t: TrialRow):
        has = t.objective is not None and t.state in (COMPLETED, STOPPED) and math.isfinite(t.objective)
        return (0 if has else 1, spec.objective.sort_key(t.objective) if has else 0, t.id)

    now = time.time()
    for t in sorted(trials, key=order):
        seconds = ((t.ended or now) - t.started) if t.started else None
        state = (
            t.state
            if t.state != STOPPED
            else f"stopped@{t.objective_step}"
            if t.objective_step
            else "stopped"
        )
        row = [
            str(t.id),
            state,
            fmt(t.objective) if t.objective is not None else "",
            str(t.objective_step) if t.objective_step is not None else "",
            *[fmt(t.params.get(n, "")) for n in spec.space.names],
            f"{seconds:.1f}s" if seconds is not None else "",
            t.reason or "",
        ]
        style = (
            "bold green"
            if best is not None and t.id == best.id
            else {FAILED: "red", INTERRUPTED: "yellow", RUNNING: "cyan", PENDING: "dim"}.get(t.state)
        )
        if best is not None and t.id == best.id:
            row[0] = "* " + row[0]
        table.add_row(*row, style=style)
    c = counts(trials)
    # AMT's TrainingJobStatusCounters, plus hpt's interrupted and pending.
    table.caption = (
        f"Completed {c[COMPLETED]} · InProgress {c[RUNNING]} · Failed {c[FAILED]} · Stopped {c[STOPPED]}"
        f" · Interrupted {c[INTERRUPTED]} · Pending {c[PENDING]}"
    )
    return table


def best_output(store: Store, spec: Spec, form: str) -> str:
    best = best_trial(store.trials(), spec)
    if best is None:
        return ""
    if form == "args":
        return " ".join(
            f"--{k} {shlex.quote(str(v) if not isinstance(v, float) else repr(v))}"
            for k, v in best.params.items()
        )
    if form == "yaml":
        return yaml.safe_dump(best.params, sort_keys=False).rstrip()
    return dumps(
        {
            "job": spec.name,
            "trial_id": best.id,
            "objective": {"metric": spec.objective.metric, "value": best.objective},
            "hyperparameters": best.params,
            "static": {k: v.value for k, v in spec.static},
        }
    )


def job_line(path: Path) -> dict[str, Any] | None:
    """One row of ``hpt list``."""
    try:
        store = Store.open(path)
    except Exception:
        return None
    try:
        job = store.job()
        trials = store.trials()
        finished = [
            t
            for t in trials
            if t.state in (COMPLETED, STOPPED) and t.objective is not None and math.isfinite(t.objective)
        ]
        maximize = (job.spec_data.get("objective") or {}).get("type") == "maximize"
        best = (max if maximize else min)((t.objective for t in finished), default=None)
        return {
            "job": job.name,
            "status": job.status,
            "trials": len(trials),
            "completed": sum(1 for t in trials if t.state == COMPLETED),
            "best": best,
            "updated": job.updated,
            "reason": job.end_reason,
        }
    finally:
        store.close()
