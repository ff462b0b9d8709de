"""`hpt export`: a real job's trials and metric points as CSV and JSON Lines, parsed back and
compared with the store."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest
from conftest import VIEW_JOB, hpt

from hpt import api
from hpt.errors import HptError
from hpt.export import POINT_COLUMNS, write
from hpt.store import Store


@pytest.fixture(scope="module")
def stored(views_job):
    """Trials and points as the store holds them."""
    store = Store.open(views_job / VIEW_JOB, readonly=True)
    try:
        trials = store.trials()
        finals = {
            t.id: {name: value for name, _step, value, _time in store.points(t.id)} for t in trials
        }  # later points overwrite earlier ones: the last value of each metric
        points = store.all_points(latest=False)
    finally:
        store.close()
    return trials, finals, points


def _float(cell: str) -> float | None:
    return None if cell == "" else float(cell)


def test_csv_has_every_trial_and_every_metric(views_job, stored):
    trials, finals, _ = stored
    r = hpt("export", VIEW_JOB, "--format", "csv", runs_dir=views_job)
    assert r.code == 0, r.err
    rows = list(csv.DictReader(io.StringIO(r.out, newline="")))
    header = next(csv.reader(io.StringIO(r.out, newline="")))
    assert header[:10] == [
        "trial_id",
        "state",
        "reason",
        "attempts",
        "start",
        "end",
        "duration",
        "objective",
        "objective_step",
        "last_step",
    ]
    assert header[10:] == [
        "bracket",
        "param.x",
        "param.lr",
        "param.kind",
        "static.epochs",
        "metric.loss",
        "metric.acc",
    ]
    assert [int(r["trial_id"]) for r in rows] == [t.id for t in trials]
    states = {r["state"] for r in rows}
    assert {"completed", "failed", "stopped"} <= states  # the job has each kind
    for row, t in zip(rows, trials, strict=True):
        assert row["state"] == t.state and row["reason"] == (t.reason or "")
        assert int(row["attempts"]) == t.attempts
        assert _float(row["objective"]) == t.objective
        # Hyperparameters round-trip exactly, whatever they contain (commas, markup).
        assert float(row["param.x"]) == t.params["x"] and float(row["param.lr"]) == t.params["lr"]
        assert row["param.kind"] == t.params["kind"] and row["static.epochs"] == "9"
        assert int(row["bracket"]) == t.info["bracket"]
        for metric in ("loss", "acc"):
            assert _float(row[f"metric.{metric}"]) == finals[t.id].get(metric)
        assert row["start"].endswith("Z") and row["end"].endswith("Z")
        assert float(row["duration"]) > 0
        if t.state == "failed":
            assert row["metric.loss"] == "" and row["last_step"] == ""  # missing: an empty cell
        else:
            assert int(row["last_step"]) >= 1
        if t.state == "completed":
            assert int(row["last_step"]) == 9 and _float(row["metric.loss"]) == t.objective


def test_jsonl_matches_csv_and_the_store(views_job, stored):
    trials, finals, _ = stored
    r = hpt("export", VIEW_JOB, "-f", "jsonl", runs_dir=views_job)
    assert r.code == 0, r.err
    assert api.export(VIEW_JOB, "jsonl", runs_dir=views_job) == r.out  # the library's, as printed
    docs = [json.loads(line) for line in r.out.splitlines()]
    assert [d["trial_id"] for d in docs] == [t.id for t in trials]
    csv_rows = list(csv.DictReader(io.StringIO(api.export(VIEW_JOB, "csv", runs_dir=views_job), newline="")))
    for d, t, row in zip(docs, trials, csv_rows, strict=True):
        assert list(d) == list(row)  # the same columns, in the same order
        assert d["state"] == t.state and d["objective"] == t.objective and d["reason"] == t.reason
        assert d["param.x"] == t.params["x"] and d["param.kind"] == t.params["kind"]
        assert d["static.epochs"] == 9 and d["bracket"] == t.info["bracket"]
        assert d["metric.loss"] == finals[t.id].get("loss") and d["metric.acc"] == finals[t.id].get("acc")


def test_points_are_every_metric_point(views_job, stored, tmp_path):
    _, _, points = stored
    out = tmp_path / "points.csv"
    r = hpt("export", VIEW_JOB, "--points", "--out", out, runs_dir=views_job)
    assert r.code == 0 and r.out == ""
    rows = list(csv.DictReader(out.open(newline="")))
    assert tuple(rows[0]) == POINT_COLUMNS
    assert [
        (int(r["trial_id"]), int(r["attempt"]), r["metric"], int(r["step"]), float(r["value"])) for r in rows
    ] == [(tid, attempt, name, step, value) for tid, attempt, name, step, value, _ in points]
    assert {r["metric"] for r in rows} == {"loss", "acc"}
    text = api.export(VIEW_JOB, "jsonl", points=True, runs_dir=views_job)
    docs = [json.loads(line) for line in text.splitlines()]
    assert len(docs) == len(points) and docs[0]["time"] == rows[0]["time"]


def test_non_finite_values_and_missing_cells():
    records = [
        {"a": math.nan, "b": math.inf, "c": None, "d": [0, 1]},
        {"a": -math.inf, "b": 1.5, "c": "x", "d": None},
    ]
    buf = io.StringIO(newline="")
    write(buf, ["a", "b", "c", "d"], records, "csv")
    assert buf.getvalue().splitlines() == ["a,b,c,d", 'nan,inf,,"0,1"', "-inf,1.5,x,"]
    buf = io.StringIO()
    write(buf, ["a", "b", "c", "d"], records, "jsonl")
    docs = [json.loads(line) for line in buf.getvalue().splitlines()]  # strict JSON: no NaN
    assert docs == [
        {"a": None, "b": None, "c": None, "d": [0, 1]},
        {"a": None, "b": 1.5, "c": "x", "d": None},
    ]


def test_export_errors(views_job):
    r = hpt("export", "nope", runs_dir=views_job)
    assert r.code == 2 and "no job named 'nope'" in r.err
    r = hpt("export", VIEW_JOB, "--format", "xlsx", runs_dir=views_job)
    assert r.code == 2 and "xlsx" in r.err
    with pytest.raises(HptError, match="unknown export format"):
        api.export(VIEW_JOB, "xml", runs_dir=views_job)
