"""``hpt show``'s table of trials, fitted to a width without cutting a number.

Columns come in order of importance: the trial, its state, its objective and step (for a
running trial, its latest point), its GPUs, secondary metrics (``--metrics``), the
hyperparameters, the time, the reason. The first four are always shown and never cut or
wrapped; the others are added while they fit. A reason that does not fit beside them is
listed under the table instead of being folded into a narrow column, and hidden
hyperparameters are named in a note (``--wide`` shows every column, whatever the width).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.table import Table

from .report import fmt
from .trial import COMPLETED, FAILED, INTERRUPTED, PENDING, RUNNING, STOPPED, rank_key

if TYPE_CHECKING:
    from .api import JobResult

#: A folded reason column narrower than this reads worse than the reasons listed below.
MIN_REASON = 24


@dataclass
class Column:
    header: str
    cells: list[str]
    justify: str = "right"
    kind: str = "essential"  # essential | gpus | metric | param | time | reason
    style: str | None = None

    @property
    def width(self) -> int:
        return max([cell_len(self.header), *(cell_len(c) for c in self.cells)])


@dataclass
class View:
    """What ``hpt show`` prints: the table, the lines under it, and the width they need."""

    table: Table
    notes: list[str] = field(default_factory=list)
    width: int = 0


def table_width(widths: list[int]) -> int:
    """Width of a rich table with a box and one space of padding each side of every column."""
    return sum(widths) + 3 * len(widths) + 1


def _state(t) -> str:
    if t.state == STOPPED:
        return f"stopped@{t.objective_step}" if t.objective_step else "stopped"
    return t.state


def _columns(result: JobResult, rows, metrics: bool) -> list[Column]:
    spec = result.spec
    best = result.best
    now = time.time()
    objective, step = [], []
    for t in rows:
        current = result.current(t)
        if current is not None:
            step.append(str(current[0]))
            objective.append(fmt(current[1]))
        else:
            step.append(str(t.objective_step) if t.objective_step is not None else "")
            objective.append(fmt(t.objective) if t.objective is not None else "")
    cols = [
        Column(
            "trial",
            [("* " if best is not None and t.id == best.trial_id else "") + str(t.id) for t in rows],
        ),
        Column("state", [_state(t) for t in rows], justify="left"),
        Column(spec.objective.metric, objective),
        Column("step", step),
    ]
    if getattr(spec, "resources", None) is not None:
        cells = []
        for t in rows:
            att = result.last_attempts.get(t.id)
            cells.append(",".join(att.devices) if att is not None and att.devices else "")
        cols.append(Column("gpus", cells, justify="left", kind="gpus"))
    if metrics:
        names = [m.name for m in spec.metrics if m.name != spec.objective.metric]
        for name in names:
            cells = []
            for t in rows:
                point = result.metrics.get(t.id, {}).get(name)
                cells.append(fmt(point[1]) if point is not None else "")
            cols.append(Column(name, cells, kind="metric"))
    for name in spec.space.names:
        cols.append(Column(name, [fmt(t.params.get(name, "")) for t in rows], kind="param"))
    seconds = [((t.ended or now) - t.started) if t.started else None for t in rows]
    cols.append(Column("time", [f"{s:.1f}s" if s is not None else "" for s in seconds], kind="time"))
    cols.append(Column("reason", [t.reason or "" for t in rows], justify="left", kind="reason"))
    return cols


def trials_view(
    result: JobResult,
    *,
    width: int | None = None,
    wide: bool = False,
    top: int | None = None,
    metrics: bool = False,
) -> View:
    """The trials of ``result``, best first, fitted to ``width`` columns (None or ``wide``:
    every column at its full width)."""
    spec = result.spec
    ordered = sorted(result.trials, key=lambda t: rank_key(t, spec.objective.maximize))
    rows = ordered[:top] if top is not None else ordered
    cols = _columns(result, rows, metrics)
    reasons = next(c for c in cols if c.kind == "reason")
    if not any(reasons.cells):
        cols.remove(reasons)
    notes: list[str] = []
    limit = None if wide else width
    shown = [c for c in cols if c.kind == "essential"]
    hidden: list[Column] = []
    reason_width = None
    if limit is None:
        shown = cols
    else:
        for c in cols:
            if c.kind == "essential":
                continue
            used = table_width([x.width for x in shown])
            if c.kind == "reason":
                room = limit - used - 3
                if room >= min(c.width, MIN_REASON):
                    reason_width = min(c.width, room)
                    shown.append(c)
                else:
                    hidden.append(c)
            elif used + c.width + 3 <= limit and not (
                c.kind == "param" and any(h.kind == "param" for h in hidden)
            ):
                shown.append(c)  # parameters stay in order: none after one that did not fit
            else:
                hidden.append(c)
    table = Table(title=f"{spec.name}: {spec.objective.type} {spec.objective.metric}")
    for c in shown:
        if c.kind == "reason":
            table.add_column(c.header, justify="left", overflow="fold", max_width=reason_width)
        else:
            table.add_column(c.header, justify=c.justify, no_wrap=True)
    best = result.best
    for i, t in enumerate(rows):
        style = (
            "bold green"
            if best is not None and t.id == best.trial_id
            else {FAILED: "red", INTERRUPTED: "yellow", RUNNING: "cyan", PENDING: "dim"}.get(t.state)
        )
        table.add_row(*(c.cells[i] for c in shown), style=style)
    c = result.counts
    # AMT's TrainingJobStatusCounters, plus hpt's interrupted and pending.
    table.caption = (
        f"Completed {c[COMPLETED]} · InProgress {c[RUNNING]} · Failed {c[FAILED]} · Stopped {c[STOPPED]}"
        f" · Interrupted {c[INTERRUPTED]} · Pending {c[PENDING]}"
    )
    if top is not None and top < len(ordered):
        notes.append(f"the best {top} of {len(ordered)} trials (--top)")
    names = [h.header for h in hidden if h.kind in ("param", "metric", "gpus", "time")]
    if names:
        notes.append(f"not shown at this width (--wide shows every column): {', '.join(names)}")
    if any(h.kind == "reason" for h in hidden):
        notes.extend(f"trial {t.id}: {t.reason}" for t in rows if t.reason)
    natural = table_width([min(x.width, reason_width or x.width) for x in shown])
    return View(table, notes, natural)


__all__ = ["Column", "MIN_REASON", "View", "table_width", "trials_view"]
