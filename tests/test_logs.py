"""`hpt logs` on a finished job, and the read-only views (logs --follow, report, export) on a
job that is running."""

from __future__ import annotations

import io
import json
import os
import select
import signal
import subprocess
import sys
import time

import pytest
from conftest import VIEW_JOB, cli_env, hpt, views_spec, wait_for

from hpt import api
from hpt.errors import JobNotFoundError, StoreError, UsageError
from hpt.store import Store


def test_logs_of_a_finished_trial(views_job):
    store = Store.open(views_job / VIEW_JOB, readonly=True)
    try:
        trials = store.trials()
    finally:
        store.close()
    done = next(t for t in trials if t.state == "completed")
    r = hpt("logs", VIEW_JOB, done.id, runs_dir=views_job)
    assert r.code == 0, r.err
    assert r.out.splitlines()[0].startswith("step=1 loss=") and r.out.splitlines()[-1].startswith("step=9 ")

    def logs(trial, **kw) -> bytes:
        buf = io.BytesIO()
        api.logs(VIEW_JOB, trial, out=buf, runs_dir=views_job, **kw)
        return buf.getvalue()

    assert logs(done.id).decode() == r.out
    assert logs(done.id, attempt=1) == logs(done.id)
    # A finished trial: follow prints the same and returns at once.
    assert logs(done.id, follow=True) == logs(done.id)
    failed = next(t for t in trials if t.state == "failed")
    assert b"is too small" in logs(failed.id, stderr=True) and logs(failed.id) == b""


def test_logs_errors(views_job):
    r = hpt("logs", VIEW_JOB, 99, runs_dir=views_job)
    assert r.code == 2 and "has no trial 99 (it has trials 1-8)" in r.err
    assert "Traceback" not in r.err
    with pytest.raises(UsageError, match="trial 1 has attempt 1; there is no attempt 2"):
        api.logs(VIEW_JOB, 1, attempt=2, runs_dir=views_job)
    with pytest.raises(JobNotFoundError, match="no job named 'nope'"):
        api.logs("nope", 1, runs_dir=views_job)


def _attempt_state(db_dir, trial_id: int) -> str | None:
    store = Store.open(db_dir, readonly=True)
    try:
        rows = store.attempts(trial_id)
        return rows[-1].state if rows else None
    finally:
        store.close()


def _first_lines(proc: subprocess.Popen, timeout: float) -> bytes:
    """What ``proc`` printed up to its first newline (maybe more), read from the pipe itself so
    that ``communicate`` later gets the rest."""
    deadline = time.monotonic() + timeout
    data = b""
    while b"\n" not in data:
        left = deadline - time.monotonic()
        assert left > 0, f"no line in time (got {data!r})"
        ready, _, _ = select.select([proc.stdout], [], [], left)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 65536)
            assert chunk, f"output ended early (got {data!r})"
            data += chunk
    return data


def _ended(proc: subprocess.Popen, timeout: float, what: str) -> tuple[bytes, bytes]:
    """``proc.communicate``, failing with what did not end (and what it said) when it hangs."""
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(
            f"{what} did not end within {timeout} s: {exc.stdout!r} {exc.stderr!r}"
        ) from None


def _follow(env, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "hpt", "logs", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,
    )


@pytest.mark.skipif(sys.platform != "linux", reason="select on pipes")
def test_views_of_a_running_job(tmp_path):
    """logs --follow streams a trial while it runs and ends with it (Ctrl-C: exit 130); report
    and export read the job while the runner writes; run --report leaves report.html."""
    runs = tmp_path / "runs"
    spec = tmp_path / "spec.yaml"
    # One trial, printing a line every 0.4 s for 6 steps; its last waits for the gate file, so
    # the trial runs while the views are read, however slow the machine.
    spec.write_text(views_spec("live", max_jobs=1, sleep=0.4, steps=6).replace('"0.15"', '"-1"'))
    gate = tmp_path / "gate"
    env = cli_env(runs, FAKE_TRAIN_GATE=str(gate))
    run = subprocess.Popen(
        [sys.executable, "-m", "hpt", "run", str(spec), "-q", "--report"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    jdir = runs / "live"
    procs = [run]
    try:

        def started():
            assert run.poll() is None, run.communicate()[1].decode()
            return (jdir / "job.db").exists() and _attempt_state(jdir, 1) == "running"

        wait_for(started, 60, "trial 1")
        follow, interrupted = _follow(env, "live", "1", "--follow"), _follow(env, "live", "1", "-f")
        procs += [follow, interrupted]
        first = _first_lines(follow, 30)
        assert first.startswith(b"step=")
        # Live: the line came while the trial was still running.
        assert _attempt_state(jdir, 1) == "running"

        report = api.report("live", out=tmp_path / "live.html", runs_dir=runs)
        page = report.read_text()
        assert "InProgress" in page and "running when this report was written" in page
        assert ",running," in api.export("live", runs_dir=runs)

        # Ctrl-C while following: exit 130, quietly.
        assert _first_lines(interrupted, 30).startswith(b"step=")
        interrupted.send_signal(signal.SIGINT)
        _, err = _ended(interrupted, 30, "hpt logs -f after Ctrl-C")
        assert interrupted.returncode == 130 and err == b""

        gate.touch()
        out, err = _ended(follow, 60, "hpt logs --follow after the trial")  # ends with the trial
        assert follow.returncode == 0, err
        lines = (first + out).decode().splitlines()
        assert [line.split()[0] for line in lines] == [f"step={i}" for i in range(1, 7)]
        assert _attempt_state(jdir, 1) == "completed"
        _, err = _ended(run, 120, "hpt run --report after its one trial")
        assert run.returncode == 0, err.decode()
    finally:
        for p in procs:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGKILL)
                p.wait(30)
    page = (jdir / "report.html").read_text()
    assert "Completed" in page and 'id="trial-1"' in page  # written again when the job ended


def test_a_readonly_store_cannot_write(views_job):
    store = Store.open(views_job / VIEW_JOB, readonly=True)
    try:
        with pytest.raises(StoreError, match="read-only"):
            store.request_stop()
        assert store.job().name == VIEW_JOB
    finally:
        store.close()


def test_every_trial_has_its_logs_and_no_directory_is_left_for_a_trial_that_never_ran(write_spec, runs):
    """hpt makes the next trials' directories and logs while it waits: each trial that ran
    writes into its own (and has its params.json), and those made for trials that never came
    (the target was reached long before max_jobs) are gone when the job ends."""
    from conftest import fake_spec

    text = fake_spec("ahead", extra="completion: {target: 10}")  # the first trial reaches it
    spec = write_spec(
        text.replace("max_jobs: 4", "max_jobs: 50").replace("max_parallel_jobs: 2", "max_parallel_jobs: 4")
    )
    r = hpt("run", spec, runs_dir=runs)
    assert r.code == 0, r.err
    doc = hpt("show", "ahead", "-o", "json", runs_dir=runs).json()
    ids = [t["trial_id"] for t in doc["trial_list"]]
    assert doc["status"] == "Completed" and len(ids) < 50
    trials = runs / "ahead" / "trials"
    assert sorted(p.name for p in trials.iterdir()) == [f"{tid:04d}" for tid in ids]
    for t in doc["trial_list"]:
        tdir = trials / f"{t['trial_id']:04d}"
        logs = sorted(p.name for p in (tdir / "attempt-1").iterdir())
        assert logs == ["stderr.log", "stdout.log"], t
        params = json.loads((tdir / "params.json").read_text())
        assert {k: params[k] for k in t["hyperparameters"]} == t["hyperparameters"], t
    done = next(t["trial_id"] for t in doc["trial_list"] if t["state"] == "completed")
    out = hpt("logs", "ahead", done, runs_dir=runs)
    assert out.code == 0 and out.out.startswith("step=1 loss="), out.err
