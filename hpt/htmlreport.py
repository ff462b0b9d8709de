"""The HTML report of a job (``hpt report``, ``hpt run --report``): one self-contained file.

The page holds every script and style it needs (plotly.js once, in the page's first script), so
it opens offline: a CI artifact, a file copied from an air-gapped cluster. It is built from a
:class:`~hpt.snapshot.Snapshot`, a read-only view of the store, and so works on a running job.

Sections: summary, optimization history, learning curves, parallel coordinates, parameter
importance, slice plots, every trial in a sortable table, failures grouped by reason.
:class:`ReportReporter` keeps ``<job dir>/report.html`` current while a job runs.
"""

from __future__ import annotations

import html
import math
import os
import re
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import __version__
from .importance import importance
from .snapshot import Snapshot
from .space import CATEGORICAL, LOG, REVERSE_LOG
from .trial import (
    COMPLETED,
    FAILED,
    IN_PROGRESS,
    INTERRUPTED,
    PENDING,
    RUNNING,
    STOPPED,
    TRIAL_STATES,
    Trial,
    better,
    has_objective,
)

REPORT_NAME = "report.html"
STATE_COLORS = {
    COMPLETED: "#1f77b4",
    STOPPED: "#ff7f0e",
    FAILED: "#d62728",
    RUNNING: "#2ca02c",
    INTERRUPTED: "#9467bd",
    PENDING: "#7f7f7f",
}
BEST_COLOR = "#111111"
#: Points drawn per curve at most (a long curve is thinned evenly, its last point kept).
CURVE_POINTS = 1000
_CONFIG = {"displaylogo": False, "responsive": True}


# ----------------------------------------------------------------------------- formatting


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _num(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _utc(epoch: float | None) -> str:
    if epoch is None:
        return ""
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _iso(epoch: float) -> str:
    """A time plotly reads as a date (UTC, no zone suffix)."""
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


def _seconds(s: float | None) -> str:
    if s is None:
        return ""
    if s < 60:
        return f"{s:.1f}s"
    m, sec = divmod(int(round(s)), 60)
    if m < 60:
        return f"{m}m{sec:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m"


def _finite(v: float | None) -> bool:
    return v is not None and math.isfinite(v)


def _fig_html(fig, div_id: str) -> str:
    import plotly.io as pio

    # plotly.js itself is in the page's head, once; each figure is a div and a call.
    return pio.to_html(
        fig, include_plotlyjs=False, full_html=False, div_id=div_id, config=_CONFIG, default_width="100%"
    )


def _note(text: str) -> str:
    return f'<p class="note">{_e(text)}</p>'


def _thin(points: Sequence[tuple[int, float, float]], limit: int = CURVE_POINTS):
    if len(points) <= limit:
        return points
    k = math.ceil(len(points) / limit)
    kept = list(points[::k])
    if kept[-1] is not points[-1]:
        kept.append(points[-1])
    return kept


def _layout(fig, height: int, **kw) -> None:
    layout = {
        "template": "plotly_white",
        "height": height,
        "margin": {"l": 60, "r": 30, "t": 40, "b": 50},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
    }
    fig.update_layout(**{**layout, **kw})


# ----------------------------------------------------------------------------- sections


def _summary(snap: Snapshot) -> str:
    spec, job = snap.spec, snap.job
    obj = spec.objective
    counts = dict.fromkeys(TRIAL_STATES, 0)
    for t in snap.trials:
        counts[t.state] = counts.get(t.state, 0) + 1
    count_text = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "none yet"
    best = snap.best
    status = job.status + (" (running when this report was written)" if job.status == IN_PROGRESS else "")
    rows = [
        ("Job", job.name),
        ("Status", status),
        ("Reason", job.end_reason or ""),
        (
            "Strategy",
            spec.strategy + (", early stopping: median rule" if spec.early_stopping == "auto" else ""),
        ),
        ("Objective", f"{obj.type} {obj.metric} (the {obj.use} value of each trial)"),
        ("Trials", f"{len(snap.trials)} of max_jobs {spec.limits.max_jobs}: {count_text}"),
        ("Started", _utc(job.created)),
        ("Ended" if job.ended else "Last update", _utc(job.ended or job.updated)),
        ("Elapsed", _seconds(job.elapsed)),
        ("Job directory", str(snap.job_dir)),
    ]
    if best is not None:
        where = f" (stopped early at step {best.objective_step})" if best.state == STOPPED else ""
        rows.insert(6, ("Best", f"trial {best.id}: {obj.metric} = {_num(best.objective)}{where}"))
    else:
        rows.insert(6, ("Best", "no trial has an objective yet"))
    out = ['<dl class="summary">']
    for k, v in rows:
        if v:
            out.append(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>")
    out.append("</dl>")
    if best is not None:
        out.append("<h3>Best hyperparameters</h3>")
        out.append('<table class="plain"><tbody>')
        for k, v in best.params.items():
            out.append(f"<tr><th>{_e(k)}</th><td>{_e(_num(v))}</td></tr>")
        for k, v in spec.static:
            out.append(f'<tr class="static"><th>{_e(k)} (static)</th><td>{_e(v.text)}</td></tr>')
        out.append("</tbody></table>")
    return "\n".join(out)


def _history(snap: Snapshot) -> str:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    obj = snap.spec.objective
    scored = [t for t in snap.trials if has_objective(t)]
    failed = [t for t in snap.trials if t.state == FAILED]
    if not scored and not failed:
        return _note("No trial has finished yet.")
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.04)
    values = [t.objective for t in scored]
    worst = (min(values) if obj.maximize else max(values)) if values else 0.0

    def best_line(order: list[Trial], x: Callable[[Trial], Any]):
        xs, ys, best = [], [], None
        for t in order:
            if better(t.objective, best, obj.maximize):
                best = t.objective
            xs.append(x(t))
            ys.append(best)
        return xs, ys

    by_time = sorted((t for t in scored if t.ended), key=lambda t: t.ended)
    for col, xs_of, order in (
        (1, lambda t: t.id, scored),
        (2, lambda t: _iso(t.ended), by_time),
    ):
        legend = col == 1
        for state, symbol in ((COMPLETED, "circle"), (STOPPED, "diamond")):
            group = [t for t in scored if t.state == state and (col == 1 or t.ended)]
            if not group:
                continue
            fig.add_trace(
                go.Scatter(
                    x=[xs_of(t) for t in group],
                    y=[t.objective for t in group],
                    mode="markers",
                    name=state,
                    legendgroup=state,
                    showlegend=legend,
                    marker={"color": STATE_COLORS[state], "symbol": symbol, "size": 8},
                    customdata=[[t.id, t.objective_step] for t in group],
                    hovertemplate="trial %{customdata[0]}<br>%{y} at step %{customdata[1]}<extra>"
                    + state
                    + "</extra>",
                ),
                row=1,
                col=col,
            )
        group = [t for t in failed if col == 1 or t.ended]
        if group:
            fig.add_trace(
                go.Scatter(
                    x=[xs_of(t) for t in group],
                    y=[worst] * len(group),
                    mode="markers",
                    name="failed (no objective; drawn at the worst value)",
                    legendgroup=FAILED,
                    showlegend=legend,
                    marker={"color": STATE_COLORS[FAILED], "symbol": "x", "size": 9},
                    customdata=[[t.id, (t.reason or "")[:200]] for t in group],
                    hovertemplate="trial %{customdata[0]} failed<br>%{customdata[1]}<extra></extra>",
                ),
                row=1,
                col=col,
            )
        if order:
            xs, ys = best_line(order, xs_of)
            fig.add_trace(
                go.Scatter(
                    x=xs,
                    y=ys,
                    mode="lines",
                    line={"shape": "hv", "color": BEST_COLOR, "width": 2},
                    name="best so far",
                    legendgroup="best",
                    showlegend=legend,
                    hovertemplate="best so far %{y}<extra></extra>",
                ),
                row=1,
                col=col,
            )
    _layout(fig, 420)
    fig.update_yaxes(title_text=obj.metric, row=1, col=1)
    fig.update_xaxes(title_text="trial", row=1, col=1)
    fig.update_xaxes(title_text="end time (UTC)", type="date", row=1, col=2)
    return _fig_html(fig, "plot-history")


def _rungs(snap: Snapshot) -> dict[int, list[int]]:
    """Hyperband's rung levels: level -> the brackets judged there."""
    spec = snap.spec
    hb = spec.hyperband
    if spec.strategy != "hyperband" or hb is None:
        return {}
    from .strategies.hyperband import max_bracket, rung_levels

    used = {t.info["bracket"] for t in snap.trials if isinstance(t.info.get("bracket"), int)}
    if not used:
        used = set(range(min(hb.brackets, max_bracket(hb.min_resource, hb.max_resource, hb.eta) + 1)))
    out: dict[int, list[int]] = {}
    for b in sorted(used):
        try:
            levels = rung_levels(hb.min_resource, hb.max_resource, hb.eta, b)
        except ValueError:
            continue
        for level in levels:
            out.setdefault(level, []).append(b)
    return out


def _curves(snap: Snapshot) -> str:
    import plotly.graph_objects as go

    spec = snap.spec
    metrics = [spec.objective.metric] + [m.name for m in spec.metrics if m.name != spec.objective.metric]
    if not any(snap.points.get(t.id) for t in snap.trials):
        return _note("No metric point has been recorded yet.")
    best = snap.best
    fig = go.Figure()
    owner: list[int] = []  # the metric index of each trace, for the selector
    for mi, name in enumerate(metrics):
        for state in (COMPLETED, STOPPED, FAILED, INTERRUPTED, RUNNING, PENDING):
            xs: list[Any] = []
            ys: list[Any] = []
            ids: list[Any] = []
            for t in snap.trials:
                if t.state != state or (best is not None and t.id == best.id):
                    continue
                pts = _thin(snap.points.get(t.id, {}).get(name, []))
                if not pts:
                    continue
                xs += [s for s, _, _ in pts] + [None]
                ys += [v if _finite(v) else None for _, v, _ in pts] + [None]
                ids += [t.id] * len(pts) + [None]
            if not xs:
                continue
            fig.add_trace(
                go.Scatter(
                    x=xs,
                    y=ys,
                    customdata=ids,
                    mode="lines+markers",
                    marker={"size": 3},
                    name=state,
                    legendgroup=state,
                    line={"color": STATE_COLORS[state], "width": 1.2},
                    opacity=0.55,
                    visible=mi == 0,
                    hovertemplate="trial %{customdata}<br>step %{x}: %{y}<extra>" + state + "</extra>",
                )
            )
            owner.append(mi)
        ends = []
        for t in snap.trials:
            pts = snap.points.get(t.id, {}).get(name)
            if t.state == STOPPED and pts:
                ends.append((t.id, pts[-1][0], pts[-1][1]))
        if ends:
            fig.add_trace(
                go.Scatter(
                    x=[s for _, s, _ in ends],
                    y=[v if _finite(v) else None for _, _, v in ends],
                    customdata=[i for i, _, _ in ends],
                    mode="markers",
                    name="stopped here",
                    legendgroup="stopped-here",
                    marker={"symbol": "x", "size": 8, "color": STATE_COLORS[STOPPED]},
                    visible=mi == 0,
                    hovertemplate="trial %{customdata} stopped at step %{x}<extra></extra>",
                )
            )
            owner.append(mi)
        if best is not None:
            pts = _thin(snap.points.get(best.id, {}).get(name, []))
            if pts:
                fig.add_trace(
                    go.Scatter(
                        x=[s for s, _, _ in pts],
                        y=[v if _finite(v) else None for _, v, _ in pts],
                        mode="lines+markers",
                        name=f"best: trial {best.id}",
                        legendgroup="best",
                        line={"color": BEST_COLOR, "width": 3},
                        marker={"size": 4},
                        visible=mi == 0,
                        hovertemplate=f"best trial {best.id}<br>step %{{x}}: %{{y}}<extra></extra>",
                    )
                )
                owner.append(mi)
    rungs = _rungs(snap)
    for level, brackets in sorted(rungs.items()):
        fig.add_vline(x=level, line={"dash": "dot", "color": "#888", "width": 1})
        label = ", ".join(map(str, brackets))
        fig.add_annotation(
            x=level,
            y=1.0,
            yref="paper",
            text=f"rung {level}",
            hovertext=f"hyperband rung at step {level} (bracket{'s' if len(brackets) > 1 else ''} {label})",
            showarrow=False,
            yanchor="bottom",
            font={"size": 10, "color": "#555"},
        )
    buttons = [
        {
            "label": name,
            "method": "update",
            "args": [{"visible": [o == mi for o in owner]}, {"yaxis.title.text": name}],
        }
        for mi, name in enumerate(metrics)
    ]
    _layout(
        fig,
        460,
        xaxis_title="step",
        yaxis_title=metrics[0],
        margin={"l": 60, "r": 30, "t": 70, "b": 50},
        legend={"orientation": "v", "x": 1.01, "y": 1},
    )
    if len(metrics) > 1:
        fig.update_layout(
            updatemenus=[
                {"buttons": buttons, "x": 0, "xanchor": "left", "y": 1.16, "yanchor": "top", "active": 0}
            ]
        )
    return _fig_html(fig, "plot-curves")


def log_ticks(low: float, high: float) -> list[float]:
    """Round values to mark a logarithmic axis from ``low`` to ``high`` (> 0): decades, or
    1-2-5 steps when fewer than three decades fit; the ends when too few fit."""
    e0, e1 = math.floor(math.log10(low)), math.ceil(math.log10(high))
    for mantissas in ((1,), (1, 2, 5)):
        ticks = [m * 10.0**e for e in range(e0, e1 + 1) for m in mantissas]
        ticks = [t for t in ticks if low * (1 - 1e-9) <= t <= high * (1 + 1e-9)]
        if len(ticks) >= 3:
            return ticks
    return sorted({low, *ticks, high})


def _axis(p, values: list[Any]) -> dict[str, Any]:
    """A parallel-coordinates dimension: log ranges drawn in log scale with their values as
    tick labels; categories as positions."""
    if p.kind == CATEGORICAL:
        k = len(p.values)
        return {
            "label": p.name,
            "values": [p.values.index(str(v)) for v in values],
            "tickvals": list(range(k)),
            "ticktext": list(p.values),
            "range": [0, max(k - 1, 1)],
        }
    if p.scaling in (LOG, REVERSE_LOG):
        if p.scaling == LOG:

            def f(x):
                return math.log10(x)

            def g(y):
                return 10.0**y

        else:

            def f(x):
                return -math.log10(1.0 - x)

            def g(y):
                return 1.0 - 10.0 ** (-y)

        lo, hi = f(p.low), f(p.high)
        if p.scaling == LOG:
            ticks = [f(x) for x in log_ticks(p.low, p.high)]
        else:
            ticks = [lo + (hi - lo) * i / 4 for i in range(5)]
        return {
            "label": f"{p.name} (log)",
            "values": [f(float(v)) for v in values],
            "tickvals": ticks,
            "ticktext": [f"{g(y):.3g}" for y in ticks],
            "range": [lo, hi],
        }
    return {"label": p.name, "values": [float(v) for v in values], "range": [p.low, p.high]}


def _with_params(snap: Snapshot) -> list[Trial]:
    names = snap.spec.space.names
    return [t for t in snap.trials if has_objective(t) and all(n in t.params for n in names)]


def _parallel(snap: Snapshot) -> str:
    import plotly.graph_objects as go

    spec = snap.spec
    trials = _with_params(snap)
    if len(trials) < 2:
        return _note("Drawn once two trials have an objective.")
    dims = []
    for p in spec.space.params:
        try:
            dims.append(_axis(p, [t.params[p.name] for t in trials]))
        except (ValueError, TypeError):
            continue  # a value that does not fit the range (a hand-edited store)
    values = [t.objective for t in trials]
    dims.append({"label": spec.objective.metric, "values": values})
    fig = go.Figure(
        go.Parcoords(
            dimensions=dims,
            domain={"x": [0.0, 0.92]},  # room for the last axis's labels beside the colour bar
            line={
                "color": values,
                "colorscale": "Viridis",
                "reversescale": not spec.objective.maximize,
                "showscale": True,
                "colorbar": {"title": {"text": spec.objective.metric, "side": "right"}},
            },
        )
    )
    _layout(fig, 440, margin={"l": 70, "r": 60, "t": 60, "b": 30})
    return _fig_html(fig, "plot-parallel")


def _importance(snap: Snapshot) -> str:
    import plotly.graph_objects as go

    imp = importance(snap.spec.space, _with_params(snap))
    out = [f'<p class="method">Method: {_e(imp.method)}</p>']
    if imp.shares is None:
        out.append(_note(imp.note))
        return "\n".join(out)
    order = sorted(imp.shares.items(), key=lambda kv: kv[1])
    fig = go.Figure(
        go.Bar(
            x=[v for _, v in order],
            y=[k for k, _ in order],
            orientation="h",
            text=[f"{v:.0%}" for _, v in order],
            textposition="auto",
            marker={"color": "#1f77b4"},
            hovertemplate="%{y}: %{x:.1%}<extra></extra>",
        )
    )
    _layout(fig, 120 + 40 * len(order), xaxis={"tickformat": ".0%", "range": [0, 1]}, showlegend=False)
    out.append(_fig_html(fig, "plot-importance"))
    return "\n".join(out)


def _slices(snap: Snapshot) -> str:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    spec = snap.spec
    trials = _with_params(snap)
    if not trials:
        return _note("Drawn once a trial has an objective.")
    params = spec.space.params
    cols = min(3, len(params))
    rows = math.ceil(len(params) / cols)
    fig = make_subplots(
        rows=rows,
        cols=cols,
        shared_yaxes=True,
        subplot_titles=[p.name for p in params],
        horizontal_spacing=0.05,
        vertical_spacing=0.3 / rows if rows > 1 else 0.1,
    )
    for i, p in enumerate(params):
        r, c = divmod(i, cols)
        for state, symbol in ((COMPLETED, "circle"), (STOPPED, "diamond")):
            group = [t for t in trials if t.state == state]
            if not group:
                continue
            fig.add_trace(
                go.Scatter(
                    x=[t.params[p.name] for t in group],
                    y=[t.objective for t in group],
                    mode="markers",
                    name=state,
                    showlegend=False,
                    marker={
                        "symbol": symbol,
                        "size": 8,
                        "color": [t.id for t in group],
                        "coloraxis": "coloraxis",
                        "line": {"width": 0.5, "color": "#333"},
                    },
                    customdata=[t.id for t in group],
                    hovertemplate="trial %{customdata}<br>"
                    + html.escape(p.name)
                    + " = %{x}<br>%{y}<extra>"
                    + state
                    + "</extra>",
                ),
                row=r + 1,
                col=c + 1,
            )
        if p.kind == CATEGORICAL:
            fig.update_xaxes(
                type="category", categoryorder="array", categoryarray=list(p.values), row=r + 1, col=c + 1
            )
        elif p.scaling == LOG:
            # Our own ticks: plotly's minor labels on a log axis ("2", "5") read as values.
            ticks = log_ticks(p.low, p.high)
            fig.update_xaxes(
                type="log", tickvals=ticks, ticktext=[f"{t:.3g}" for t in ticks], row=r + 1, col=c + 1
            )
    _layout(
        fig,
        60 + 300 * rows,
        coloraxis={
            "colorscale": [[0.0, "#c6dbef"], [1.0, "#08306b"]],
            "colorbar": {"title": {"text": "trial"}},
        },
        margin={"l": 60, "r": 30, "t": 40, "b": 40},
    )
    fig.update_yaxes(title_text=spec.objective.metric, col=1)
    return _fig_html(fig, "plot-slices")


def _table(snap: Snapshot) -> str:
    spec = snap.spec
    names = spec.space.names
    best = snap.best
    head = [
        "trial",
        "state",
        spec.objective.metric,
        "step",
        "attempts",
        "start (UTC)",
        "duration",
        *names,
        "reason",
    ]
    out = ['<div class="scroll"><table class="trials sortable"><thead><tr>']
    out += [f'<th title="click to sort">{_e(h)}</th>' for h in head]
    out.append("</tr></thead><tbody>")
    for t in snap.trials:
        started = snap.started(t.id)
        secs = snap.run_seconds(t.id)
        cls = f"s-{t.state}" + (" best" if best is not None and t.id == best.id else "")
        cells = [
            (t.id, str(t.id) + (" ★" if best is not None and t.id == best.id else "")),
            (None, t.state + (f"@{t.objective_step}" if t.state == STOPPED and t.objective_step else "")),
            (t.objective if _finite(t.objective) else "", _num(t.objective)),
            (t.objective_step if t.objective_step is not None else "", _num(t.objective_step)),
            (t.attempts, str(t.attempts)),
            (started or "", _utc(started).replace(" UTC", "")),
            (secs if secs is not None else "", _seconds(secs)),
            *[
                (v if isinstance(v, (int, float)) and not isinstance(v, bool) else None, _num(v))
                for v in (t.params.get(n) for n in names)
            ],
            (None, t.reason or ""),
        ]
        row = [f'<tr id="trial-{t.id}" class="{cls}">']
        for key, text in cells:
            attr = f' data-v="{_e(key)}"' if key is not None else ""
            row.append(f"<td{attr}>{_e(text)}</td>")
        row.append("</tr>")
        out.append("".join(row))
    out.append("</tbody></table></div>")
    return "\n".join(out)


_DECIMAL = re.compile(r"(?<![\w.])[-+]?(?:\d+\.\d*|\.\d+|\d+(?=[eE]))(?:[eE][-+]?\d+)?(?![\w.])")


def failure_kind(reason: str) -> str:
    """A failure's reason with its decimal numbers as "…", so that failures that differ only by
    a value they print (``x=0.013 is too small``) fall in one group; integers (exit codes,
    signals, steps) are kept."""
    return _DECIMAL.sub("…", reason)


def _failures(snap: Snapshot) -> str:
    by_reason: dict[str, list[tuple[int, int]]] = {}
    for attempts in snap.attempts.values():
        for a in attempts:
            if a.state == FAILED:
                key = failure_kind(a.reason or "(no reason recorded)")
                by_reason.setdefault(key, []).append((a.trial_id, a.attempt))
    if not by_reason:
        return _note("No attempt failed.")
    state = {t.id: t.state for t in snap.trials}
    out = [
        '<table class="plain failures"><thead><tr><th>reason</th><th>attempts</th><th>trials</th></tr></thead><tbody>'
    ]
    for reason, items in sorted(by_reason.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        links = []
        for tid in sorted({tid for tid, _ in items}):
            note = "" if state.get(tid) == FAILED else f" ({state.get(tid)} after a retry)"
            links.append(f'<a href="#trial-{tid}">{tid}</a>{_e(note)}')
        out.append(f"<tr><td>{_e(reason)}</td><td>{len(items)}</td><td>{', '.join(links)}</td></tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


# ----------------------------------------------------------------------------- the page

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#23395d;color:#fff;padding:14px 24px}
header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;font-size:13px;opacity:.85}
nav{padding:8px 24px;background:#fff;border-bottom:1px solid #ddd;font-size:14px;position:sticky;top:0;z-index:10}
nav a{margin-right:14px;color:#23395d;text-decoration:none}
main{padding:8px 24px 40px;max-width:1400px}
section{background:#fff;border:1px solid #e3e3e3;border-radius:6px;padding:10px 18px;margin:16px 0}
h2{font-size:18px;margin:6px 0 10px}
h3{font-size:15px;margin:14px 0 6px}
dl.summary{display:grid;grid-template-columns:max-content auto;gap:4px 16px;margin:0}
dl.summary dt{font-weight:600;color:#555}
dl.summary dd{margin:0}
table{border-collapse:collapse;font-size:13px}
table.plain th,table.plain td{padding:3px 10px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
table.trials{width:max-content}
table.trials th,table.trials td{padding:3px 8px;border-bottom:1px solid #eee;white-space:nowrap;text-align:left}
table.trials td:last-child{white-space:normal;max-width:44em}
table.trials th{position:sticky;top:0;background:#f0f3f8;cursor:pointer;user-select:none}
table.trials th[data-dir=asc]::after{content:" \\25B2"}
table.trials th[data-dir=desc]::after{content:" \\25BC"}
tr.s-failed td{color:#b00}
tr.s-stopped td{color:#a55a00}
tr.s-running td{color:#1a7a1a}
tr.best td{font-weight:700;background:#fff8dc}
div.scroll{max-height:560px;overflow:auto;border:1px solid #eee}
p.note{color:#666;font-style:italic}
p.method{color:#444;font-size:13px}
footer{color:#888;font-size:12px;padding:0 24px 24px}
"""

_SORT_JS = """
(function(){
  function key(row, i){
    var c = row.cells[i]; var v = c.getAttribute('data-v');
    if (v === null) v = c.textContent;
    if (v === '') return null;
    var n = Number(v);
    return isNaN(n) ? v.toLowerCase() : n;
  }
  document.querySelectorAll('table.sortable').forEach(function(table){
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function(th, i){
      th.addEventListener('click', function(){
        var asc = th.getAttribute('data-dir') !== 'asc';
        Array.prototype.forEach.call(heads, function(h){ h.removeAttribute('data-dir'); });
        th.setAttribute('data-dir', asc ? 'asc' : 'desc');
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function(a, b){
          var x = key(a, i), y = key(b, i);
          if (x === null || y === null) return (x === null) - (y === null);  // missing last
          if (typeof x !== typeof y) return typeof x === 'number' ? -1 : 1;
          var d = x < y ? -1 : x > y ? 1 : 0;
          return asc ? d : -d;
        });
        rows.forEach(function(r){ body.appendChild(r); });
      });
    });
  });
})();
"""

SECTIONS: tuple[tuple[str, str, Callable[[Snapshot], str]], ...] = (
    ("summary", "Summary", _summary),
    ("history", "Optimization history", _history),
    ("curves", "Learning curves", _curves),
    ("parallel", "Parallel coordinates", _parallel),
    ("importance", "Parameter importance", _importance),
    ("slices", "Slice plots", _slices),
    ("trials", "All trials", _table),
    ("failures", "Failures by reason", _failures),
)

_INTRO = {
    "history": "Each trial's objective against its number and its end time; the line is the best so far. "
    "Diamonds: trials stopped early (their objective is the value they had then).",
    "curves": "The objective of every trial against its step; an x marks where a trial was stopped. "
    "The selector above the plot shows the other metrics.",
    "parallel": "One line per trial with an objective, coloured by it (brighter is better). "
    "Drag along an axis to select a range; logarithmic ranges are drawn in log scale.",
    "slices": "The objective against each parameter's value, one plot per parameter; circles: completed "
    "trials, diamonds: stopped early; the darker, the later the trial.",
    "trials": "Click a column heading to sort.",
    "failures": "Failed attempts, grouped by the reason recorded for them (decimal numbers in a reason "
    "shown as …, so failures that differ only by a value fall in one group).",
}


def render(snap: Snapshot) -> str:
    """The report page of ``snap``, as one self-contained HTML document."""
    from plotly.offline import get_plotlyjs

    spec, job = snap.spec, snap.job
    parts = []
    for sid, title, build in SECTIONS:
        intro = f'<p class="intro">{_e(_INTRO[sid])}</p>' if sid in _INTRO else ""
        parts.append(f'<section id="{sid}"><h2>{_e(title)}</h2>{intro}\n{build(snap)}\n</section>')
    nav = " ".join(f'<a href="#{sid}">{_e(title)}</a>' for sid, title, _ in SECTIONS)
    subtitle = f"{spec.strategy} · {spec.objective.type} {spec.objective.metric} · {job.status}"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>hpt report: {_e(job.name)}</title>
<style>{_CSS}</style>
<script>{get_plotlyjs()}</script>
</head>
<body>
<header><h1>{_e(job.name)}</h1><p>{_e(subtitle)}</p></header>
<nav>{nav}</nav>
<main>
{chr(10).join(parts)}
</main>
<footer>Written by hpt {_e(__version__)} at {_e(_utc(snap.taken))} from {_e(str(snap.job_dir))}.</footer>
<script>{_SORT_JS}</script>
</body>
</html>
"""


def write(snap: Snapshot, path: Path) -> Path:
    """Write the report to ``path`` atomically (a reader never sees half a page)."""
    path = Path(path)
    page = render(snap)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        tmp.write_text(page, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_job_report(job_dir: Path, spec, path: Path | None = None) -> Path:
    """Read the job in ``job_dir`` (read-only) and write its report (default
    ``<job dir>/report.html``)."""
    from .snapshot import read
    from .store import Store

    store = Store.open(job_dir, readonly=True)
    try:
        snap = read(store, spec)
    finally:
        store.close()
    return write(snap, path or job_dir / REPORT_NAME)


class ReportReporter:
    """Keeps ``<job dir>/report.html`` current while a job runs (``hpt run --report``).

    The report is written from a read-only connection in a thread of its own, so the runner
    never waits for it: when the job begins, when trials end (at most every ``min_interval``
    seconds) and once more when the job ends. A failure to write it is noted once, never fatal.
    Combine it with a progress reporter through :class:`~hpt.reporting.TeeReporter`.
    """

    def __init__(
        self,
        path: Path | None = None,
        *,
        min_interval: float = 5.0,
        note: Callable[[str], None] | None = None,
    ):
        self.path = path
        self.min_interval = min_interval
        self._note = note
        self._noted = False
        self._spec = None
        self._dir: Path | None = None
        self._wake = threading.Event()
        self._done = threading.Event()
        self._dirty = False
        self._lock = threading.Lock()  # one writer at a time: the thread, or end()
        self._thread: threading.Thread | None = None

    def _write(self) -> None:
        with self._lock:
            try:
                write_job_report(self._dir, self._spec, self.path)
            except Exception as exc:  # the job matters more than its report
                if not self._noted and self._note is not None:
                    self._noted = True
                    self._note(f"warning: could not write the report {self.path}: {exc}")

    def _loop(self) -> None:
        last = -math.inf
        while not self._done.is_set():
            wait = None if not self._dirty else max(0.0, last + self.min_interval - time.monotonic())
            self._wake.wait(wait)
            self._wake.clear()
            if self._done.is_set():
                return
            if self._dirty and time.monotonic() - last >= self.min_interval:
                self._dirty = False
                self._write()
                last = time.monotonic()

    def _request(self) -> None:
        self._dirty = True
        self._wake.set()

    def begin(self, run) -> None:
        self._spec = run.spec
        self._dir = Path(run.job_dir)
        if self.path is None:
            self.path = self._dir / REPORT_NAME
        self._thread = threading.Thread(target=self._loop, name="hpt-report", daemon=True)
        self._thread.start()
        self._request()

    def note(self, text: str) -> None: ...

    def trial_started(self, run, trial, attempt, argv) -> None: ...

    def trial_stopping(self, run, trial, kind, reason) -> None: ...

    def trial_ended(self, run, trial, attempt, attempt_state) -> None:
        self._request()

    def tick(self, run) -> None: ...

    def end(self, run, ending) -> None:
        self._done.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        if self._dir is not None:
            self._write()


__all__ = ["REPORT_NAME", "ReportReporter", "render", "write", "write_job_report"]
