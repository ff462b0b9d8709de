"""Warm start (AMT's WarmStartConfig): parent jobs' trials as observations of a new job.

When a job with ``warm_start`` is created, :func:`collect` checks its parents in the runs
directory (they exist, are not running, optimize the same metric in the same direction, and
give every hyperparameter both jobs have the same type; with ``identical_data_and_algorithm``
they also have the same set of static and tuned names) and maps every parent trial into the
new job's space. The rows are stored with the new job (``Store.create(prior=...)``), so the job
is whole on its own: resumed or shown alike when a parent has since been extended or removed.
:func:`load_prior` turns the stored rows into the :class:`~hpt.strategies.base.Observation`\\ s
a strategy reads as ``ctx.prior``.

How a parent trial maps (docs/strategies.md, warm start; docs/decisions/0015):

* Only trials with an objective (completed, or stopped early, with a finite value) are used; the
  objective is recomputed from their points when the new job's ``objective.use`` differs.
* Each of the new job's tuned parameters takes the parent's value of the same name, tuned or
  static there. A value outside the new range (or a categorical value no longer listed) drops
  the trial: it was measured where the new job does not search, and moving it to the boundary
  would claim a result nobody measured there.
* ``identical_data_and_algorithm``: the same function must have been measured, so a trial is
  used only when its values of the new job's static hyperparameters equal the static values
  (which happens when a categorical becomes static at one of its values); such a trial is
  *exact*: the new job does not run its configuration again.
* ``transfer_learning``: related, not equal, functions. A trial is used whatever its static
  values were (transfer knowledge, as AMT's transfer learning uses its parents); a parameter
  the parent did not have is set to the middle of its range (in its scaled coordinates; a
  categorical's first value), the script's unknown default standing in for it. Nothing is
  exact: a configuration a parent ran may run again, on the new data.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

from .errors import HptError, Problem, SpecError
from .metrics import final_value
from .paths import job_dir
from .space import CATEGORICAL, INTEGER
from .spec import Spec, Value
from .spec.render import text_of
from .store import JobLock, PriorRow, Store
from .strategies.base import Observation
from .trial import has_objective

#: Why a parent trial is not used (the ``reason`` of its row).
NO_OBJECTIVE = "no objective"
OUTSIDE = "outside this job's ranges"
OTHER_STATIC = "other static values"


def _positions(spec: Spec):
    """``where(path) -> (line, col)`` in the spec's text (None, None without one)."""
    from .spec.yamlio import load_valid

    doc = load_valid(spec.text, spec.source)
    return doc.where if doc is not None else lambda path: (None, None)


def collect(spec: Spec, runs_dir: Path) -> list[PriorRow]:
    """Check ``spec.warm_start``'s parents in ``runs_dir`` and map their trials.

    Raises :class:`SpecError` with every problem, each at its line in the spec (the parent's
    entry, the objective, a parameter's type), naming the parent.
    """
    ws = spec.warm_start
    if ws is None:
        return []
    where = _positions(spec)
    problems: list[Problem] = []

    def problem(path: tuple, message: str) -> None:
        from .spec.yamlio import format_path

        problems.append(Problem(format_path(path), *where(path), message))

    rows: list[PriorRow] = []
    for i, name in enumerate(ws.parents):
        at = ("warm_start", "parents", i)
        jdir = job_dir(runs_dir, name)
        if not (jdir / "job.db").is_file():
            problem(at, f"no job named {name!r} in {runs_dir} (see `hpt list`)")
            continue
        if JobLock(jdir).held_by_other():
            problem(
                at,
                f"job {name!r} is running; a parent must have finished or been stopped (`hpt stop {name}`)",
            )
            continue
        try:
            parent, trials, history = _read(jdir, spec.objective.metric)
        except HptError as exc:
            problem(at, f"cannot read job {name!r}: {exc}")
            continue
        before = len(problems)
        _compare(spec, parent, name, problem)
        if len(problems) == before:
            rows += [_map(spec, parent, name, t, history.get(t.id, [])) for t in trials]
    if problems:
        raise SpecError(spec.source, sorted(problems, key=lambda p: (p.line or 0, p.col or 0)))
    return rows


def _read(jdir: Path, metric: str):
    from .jobs import stored_spec

    store = Store.open(jdir)
    try:
        return stored_spec(store), store.trials(), store.metric_history(metric)
    finally:
        store.close()


def _compare(spec: Spec, parent: Spec, name: str, problem) -> None:
    if parent.objective.metric != spec.objective.metric:
        problem(
            ("objective", "metric"),
            f"parent {name!r} optimizes {parent.objective.metric!r}; warm start needs the same objective metric",
        )
    elif parent.objective.type != spec.objective.type:
        problem(
            ("objective", "type"),
            f"parent {name!r} is a {parent.objective.type} job; warm start needs the same objective direction",
        )
    for p in spec.space.params:
        if p.name in parent.space.names and parent.space[p.name].kind != p.kind:
            problem(
                ("parameters", p.name, "type"),
                f"parent {name!r} has {p.name!r} as {parent.space[p.name].kind}; "
                "a hyperparameter's type cannot change under warm start",
            )
    if spec.warm_start.identical:
        mine = set(spec.space.names) | set(spec.static_values)
        theirs = set(parent.space.names) | set(parent.static_values)
        if mine != theirs:
            parts = []
            if theirs - mine:
                parts.append(f"parent {name!r} also has {', '.join(sorted(theirs - mine))}")
            if mine - theirs:
                parts.append(f"this job also has {', '.join(sorted(mine - theirs))}")
            problem(
                ("warm_start", "type"),
                "identical_data_and_algorithm keeps the set of static and tuned hyperparameters "
                f"({'; '.join(parts)}); a name may move between static and tuned, or use type: transfer_learning",
            )


def _text(v: Any) -> str:
    return v.text if isinstance(v, Value) else text_of(v)


def _same(mine: Value, theirs: Any) -> bool:
    value = theirs.value if isinstance(theirs, Value) else theirs
    if _text(theirs) == mine.text:
        return True
    numbers = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (value, mine.value))
    return numbers and float(value) == float(mine.value)


def _map(spec: Spec, parent: Spec, name: str, t, points: list) -> PriorRow:
    """One parent trial as a row: mapped into ``spec``'s space, or with why it is not used."""
    row = dict(parent=name, parent_trial=t.id, state=t.state, points=[list(p) for p in points])
    if not has_objective(t):
        return PriorRow(params=t.params, objective=t.objective, used=False, reason=NO_OBJECTIVE, **row)
    objective = t.objective
    if parent.objective.use != spec.objective.use and points:
        objective = final_value([v for _, v in points], spec.objective.use, spec.objective.maximize)
    full: dict[str, Any] = {**parent.static_values, **t.params}
    params, filled = {}, []
    for p in spec.space.params:
        if p.name not in full:  # only under transfer_learning: the parent did not have it
            params[p.name] = p.values[0] if p.kind == CATEGORICAL else p.decode([0.5])
            filled.append(p.name)
            continue
        value = _in_space(p, full[p.name])
        if value is None:
            note = f"{p.name}={_text(full[p.name])} is outside {p.describe()}"
            return PriorRow(
                params=t.params, objective=objective, used=False, reason=OUTSIDE, note=note, **row
            )
        params[p.name] = value
    others = [
        f"{k}={_text(full[k]) if k in full else '(none)'}"
        for k, mine in spec.static
        if k not in full or not _same(mine, full[k])
    ]
    notes = []
    if others:
        if spec.warm_start.identical:
            note = f"ran with {', '.join(others)}"
            return PriorRow(
                params=t.params, objective=objective, used=False, reason=OTHER_STATIC, note=note, **row
            )
        notes.append(f"ran with {', '.join(others)}")
    if filled:
        notes.append(f"{', '.join(filled)} set to the middle of the range")
    return PriorRow(
        params=params,
        objective=objective,
        used=True,
        exact=spec.warm_start.identical,
        note="; ".join(notes) or None,
        **row,
    )


def _in_space(p, v: Any) -> Any:
    """``v`` (a parent's tuned value or static :class:`Value`) as a value of parameter ``p``, or
    None when it is not one."""
    if p.kind == CATEGORICAL:
        text = _text(v)
        return text if text in p.values else None
    value = v.value if isinstance(v, Value) else v
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    if p.kind == INTEGER:
        if not float(value).is_integer():
            return None
        value = int(value)
    if not p.low <= value <= p.high:
        return None
    return value if p.kind == INTEGER else float(value)


def load_prior(store: Store) -> list[Observation]:
    """The observations a job's strategy reads as ``ctx.prior``: its stored parent trials that
    are used, in the order they were stored."""
    return [
        Observation(
            params=r.params,
            objective=r.objective,
            points=tuple((int(s), float(v)) for s, v in r.points),
            exact=r.exact,
            source=f"{r.parent}#{r.parent_trial}",
        )
        for r in store.prior()
        if r.used and r.objective is not None and math.isfinite(r.objective)
    ]


def summary(spec: Spec, rows: list[PriorRow]) -> dict[str, Any] | None:
    """What ``hpt show`` says about a job's warm start: its type, and per parent how many of its
    trials there were, how many inform the strategy, and why the others do not."""
    if spec.warm_start is None:
        return None
    parents = []
    for name in spec.warm_start.parents:
        mine = [r for r in rows if r.parent == name]
        parents.append(
            {
                "job": name,
                "trials": len(mine),
                "used": sum(r.used for r in mine),
                "not_used": dict(Counter(r.reason for r in mine if not r.used)),
            }
        )
    return {
        "type": spec.warm_start.type,
        "parents": parents,
        "observations": sum(p["used"] for p in parents),
    }


__all__ = ["collect", "load_prior", "summary"]
