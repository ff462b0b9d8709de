"""Export a job's trials, or every metric point, as CSV or JSON Lines (``hpt export``).

One row per trial: the fixed columns of :data:`TRIAL_COLUMNS` (those whose ``when`` holds for
the job), then ``param.<name>`` for every tuned hyperparameter, ``static.<name>`` for every
static one and ``metric.<name>`` for the final value of every metric. The prefixes keep a
hyperparameter called ``state`` from colliding with a fixed column. With ``points``: one row per
metric point, in long form. The columns are documented in docs/export.md.

Times are ISO-8601 in UTC (``2025-01-31T12:34:56.789Z``), durations seconds. CSV: a header row,
an empty cell for a missing value, ``nan``/``inf``/``-inf`` for non-finite numbers (pandas
reads them as floats). JSON Lines: one object per line with the same keys, null for a missing
or non-finite value.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, TextIO

from .errors import UsageError
from .snapshot import Snapshot
from .store import Store
from .trial import FINISHED, Trial

FORMATS = ("csv", "jsonl")


def iso_time(epoch: float | None) -> str | None:
    """``2025-01-31T12:34:56.789Z``: ISO-8601, UTC, milliseconds."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _devices(snap: Snapshot, t: Trial) -> Any:
    if t.info.get("devices") is not None:
        return t.info["devices"]
    for a in reversed(snap.attempts.get(t.id, [])):
        if getattr(a, "devices", None) is not None:
            return a.devices
    return None


def _has_devices(snap: Snapshot) -> bool:
    return any(_devices(snap, t) is not None for t in snap.trials)


@dataclass(frozen=True)
class Column:
    """A fixed column: its name, its value for a trial, and whether the job has it at all."""

    name: str
    get: Callable[[Snapshot, Trial], Any]
    when: Callable[[Snapshot], bool] = lambda snap: True


#: The fixed columns, in order. Adding one is one line here (and one in docs/export.md).
TRIAL_COLUMNS: tuple[Column, ...] = (
    Column("trial_id", lambda s, t: t.id),
    Column("state", lambda s, t: t.state),
    Column("reason", lambda s, t: t.reason),
    Column("attempts", lambda s, t: t.attempts),
    Column("start", lambda s, t: iso_time(s.started(t.id))),
    Column("end", lambda s, t: iso_time(t.ended) if t.state in FINISHED else None),
    Column("duration", lambda s, t: s.run_seconds(t.id)),
    Column("objective", lambda s, t: t.objective),
    Column("objective_step", lambda s, t: t.objective_step),
    Column("last_step", lambda s, t: s.last_step(t.id)),
    Column(
        "bracket",
        lambda s, t: t.info.get("bracket"),
        lambda s: s.spec.strategy == "hyperband" or any("bracket" in t.info for t in s.trials),
    ),
    Column("devices", _devices, _has_devices),
)

#: The columns of ``--points``, in order.
POINT_COLUMNS = ("trial_id", "attempt", "metric", "step", "value", "time")


def trial_columns(snap: Snapshot) -> list[str]:
    """The column names of a trial export of this job."""
    spec = snap.spec
    return (
        [c.name for c in TRIAL_COLUMNS if c.when(snap)]
        + [f"param.{n}" for n in spec.space.names]
        + [f"static.{k}" for k, _ in spec.static]
        + [f"metric.{m.name}" for m in spec.metrics]
    )


def trial_records(snap: Snapshot) -> list[dict[str, Any]]:
    """One dict per trial, keyed by :func:`trial_columns` (values as Python objects; None when
    missing; floats may be non-finite)."""
    spec = snap.spec
    fixed = [c for c in TRIAL_COLUMNS if c.when(snap)]
    static = {f"static.{k}": v.value for k, v in spec.static}
    out = []
    for t in snap.trials:
        row = {c.name: c.get(snap, t) for c in fixed}
        row.update({f"param.{n}": t.params.get(n) for n in spec.space.names})
        row.update(static)
        finals = snap.final_values(t.id)
        row.update({f"metric.{m.name}": finals.get(m.name) for m in spec.metrics})
        out.append(row)
    return out


def point_records(store: Store) -> Iterable[dict[str, Any]]:
    """Every metric point of every attempt, in the order they were recorded."""
    for tid, attempt, name, step, value, when in store.all_points(latest=False):
        yield {
            "trial_id": tid,
            "attempt": attempt,
            "metric": name,
            "step": step,
            "value": value,
            "time": iso_time(when),
        }


def _csv_cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v)  # shortest exact form; 'nan', 'inf', '-inf' for non-finite values
    if isinstance(v, (list, tuple)):
        return ",".join(str(x) for x in v)
    if isinstance(v, dict):
        return json.dumps(v)
    return v


def _json_value(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, (list, tuple)):
        return [_json_value(x) for x in v]
    if isinstance(v, dict):
        return {k: _json_value(x) for k, x in v.items()}
    return v


def write(out: TextIO, columns: list[str], records: Iterable[dict[str, Any]], fmt: str) -> int:
    """Write ``records`` as ``fmt`` (csv: header first; jsonl: one object a line); returns the
    number of records written."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
    n = 0
    if fmt == "csv":
        # lineterminator \r\n is the CSV standard (RFC 4180); spreadsheets and pandas read it.
        w = csv.writer(out)
        w.writerow(columns)
        for r in records:
            w.writerow([_csv_cell(r.get(c)) for c in columns])
            n += 1
    else:
        for r in records:
            doc = {c: _json_value(r.get(c)) for c in columns}
            out.write(json.dumps(doc, ensure_ascii=False, allow_nan=False) + "\n")
            n += 1
    return n


def export(store: Store, snap: Snapshot, out: TextIO, fmt: str = "csv", points: bool = False) -> int:
    """Write the job's trials (or, with ``points``, every metric point) to ``out``."""
    if points:
        return write(out, list(POINT_COLUMNS), point_records(store), fmt)
    return write(out, trial_columns(snap), trial_records(snap), fmt)


__all__ = [
    "Column",
    "FORMATS",
    "POINT_COLUMNS",
    "TRIAL_COLUMNS",
    "export",
    "iso_time",
    "point_records",
    "trial_columns",
    "trial_records",
    "write",
]
