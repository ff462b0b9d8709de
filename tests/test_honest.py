"""Honest results: no wrong objective, no job that looks alive without a runner, no process left
behind. Real `hpt` runs on `tests/scripts/lines.py`, one test (or a few) per fault."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import psutil
from conftest import SCRIPTS, hpt, hpt_start, wait_for

from hpt.jobs import stray_processes
from hpt.store import Store

LINES = SCRIPTS / "lines.py"
README_REGEX = "loss=([-+0-9.eE]+)"


def spec_of(name: str, modes: list[str], *, extra: str = "", limits: str = "max_parallel_jobs: 1") -> str:
    values = ", ".join(f'"{m}"' for m in modes)
    return f"""
name: {name}
command: [python, {LINES}, "{{mode}}", "{{trial_dir}}"]
objective: {{metric: loss, type: minimize}}
metrics:
  - {{name: loss, regex: '{README_REGEX}'}}
strategy: grid
parameters:
  mode: {{type: categorical, values: [{values}]}}
limits: {{{limits}}}
{extra}
"""


start = hpt_start


def show(runs: Path, job: str) -> dict:
    """What `hpt show JOB -o json` prints (read in-process: the API gives the same document)."""
    import hpt as api

    return api.load(job, runs_dir=runs).to_dict()


def trials(runs: Path, job: str) -> dict[str, dict]:
    return {t["hyperparameters"]["mode"]: t for t in show(runs, job)["trial_list"]}


def running_pids(jdir: Path) -> list[int]:
    if not (jdir / "job.db").exists():
        return []
    store = Store.open(jdir)
    try:
        return [a.pid for a in store.attempts() if a.state == "running" and a.pid]
    finally:
        store.close()


# ---------------------------------------------------------------------- 1, 2: values or reasons


def test_a_diverged_run_or_a_decimal_comma_is_never_recorded_as_a_number(write_spec, runs, tmp_path):
    modes = ["ok", "diverge", "allnan", "comma", "thousands", "secondary-nan"]
    extra_metric = "  - {name: grad, regex: 'grad=([-+0-9.eE]+)'}\n"
    spec = write_spec(spec_of("values", modes).replace("strategy: grid", extra_metric + "strategy: grid"))
    r = hpt("run", spec, "--runs-dir", runs, "-o", "json")
    assert r.code == 0, r.err
    assert r.json()["best"]["hyperparameters"] == {"mode": "secondary-nan"}  # 0,5333 was not taken for 0
    t = trials(runs, "values")
    assert t["ok"]["state"] == "completed" and t["ok"]["objective"] == 0.5
    # Not "completed with 0.7": the objective it ended on was nan.
    assert t["diverge"]["state"] == "failed"
    assert t["diverge"]["reason"] == "objective printed as 'nan' at step 3 (not a finite number)"
    assert t["allnan"]["reason"].startswith("objective printed as 'nan' at step 1")  # not "never printed"
    assert t["comma"]["state"] == "failed" and "'0,5333' at step 1" in t["comma"]["reason"]
    assert "decimal comma or a thousands separator" in t["comma"]["reason"]
    assert t["thousands"]["state"] == "failed" and "'1,200,000.0'" in t["thousands"]["reason"]
    # A secondary metric's bad point is skipped and counted; the trial stands.
    second = t["secondary-nan"]
    assert second["state"] == "completed" and second["objective"] == 0.4
    assert second["info"]["skipped_points"] == {"grad": 1}
    log = tmp_path / "sample.log"
    log.write_text("loss=1.5\nloss=0,5333\nloss=nan\n")
    cm = hpt("check-metrics", spec, log)
    assert cm.code == 1 and "line     2" in cm.out and "'0,5333'" in cm.out and "line     3" in cm.out


def test_with_use_best_a_diverged_run_stops_with_its_best_value(write_spec, runs):
    text = spec_of("best", ["diverge"]).replace("type: minimize}", "type: minimize, use: best}")
    r = hpt("run", write_spec(text), "--runs-dir", runs)
    assert r.code == 0, r.err
    t = trials(runs, "best")["diverge"]
    assert t["state"] == "stopped" and t["objective"] == 0.7
    assert (
        t["reason"].startswith("objective printed as 'nan' at step 3") and t["info"]["stopped"] == "diverged"
    )


# ---------------------------------------------------------------------- 3: an honest clock


def test_pausing_hpt_does_not_fail_trials_that_ended_in_time(write_spec, runs):
    text = spec_of("paused", ["quick-0.3", "quick-0.4"], limits="max_parallel_jobs: 2, max_job_runtime: 2s")
    proc = start(
        "run", write_spec(text), "--runs-dir", runs, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        # Their processes, not the store: a short trial's pid is saved with its end.
        wait_for(lambda: len(stray_processes(runs / "paused")) == 2, what="two running trials")
        os.kill(proc.pid, signal.SIGSTOP)
        time.sleep(3)  # the trials end (in 0.2 s) while hpt is paused, past max_job_runtime
        os.kill(proc.pid, signal.SIGCONT)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGCONT)
            proc.kill()
    t = trials(runs, "paused")
    assert [t[m]["state"] for m in ("quick-0.3", "quick-0.4")] == ["completed", "completed"]
    assert t["quick-0.3"]["objective"] == 0.3


# ---------------------------------------------------------------------- 4: never alive without a runner


def test_a_closed_output_pipe_does_not_end_the_job(write_spec, runs):
    spec = write_spec(spec_of("piped", ["quick-0.1", "quick-0.2", "quick-0.3"]))
    proc = start("run", spec, "--runs-dir", runs, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    proc.stdout.readline()  # `hpt run SPEC 2>&1 | head -1`
    proc.stdout.close()
    assert proc.wait(timeout=60) == 0
    doc = show(runs, "piped")
    assert doc["status"] == "Completed" and doc["counts"]["completed"] == 3


def test_sighup_stops_the_job_resumably(write_spec, runs):
    spec = write_spec(spec_of("hup", ["sleep-60", "quick-0.2"]))
    proc = start("run", spec, "--runs-dir", runs, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: running_pids(runs / "hup"), what="a running trial")
    proc.send_signal(signal.SIGHUP)  # the terminal closed
    assert proc.wait(timeout=30) == 130
    doc = show(runs, "hup")
    assert doc["status"] == "Stopped" and doc["counts"]["interrupted"] == 1
    assert hpt("stop", "hup", runs_dir=runs).code == 1


def test_a_job_whose_runner_died_says_so(write_spec, runs):
    spec = write_spec(spec_of("orphan", ["sleep-60"]))
    proc = start("run", spec, "--runs-dir", runs, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: running_pids(runs / "orphan"), what="a running trial")
    proc.kill()
    proc.wait(timeout=30)
    expected = "interrupted: no runner (hpt resume orphan)"
    assert show(runs, "orphan")["reason"] == expected
    assert expected in hpt("list", "-o", "json", runs_dir=runs).out
    stop = hpt("stop", "orphan", runs_dir=runs)
    assert stop.code == 1 and expected in stop.err


def test_a_trial_directory_that_cannot_be_written_stops_the_job(write_spec, runs):
    text = spec_of("blocked", ["quick-0.1", "quick-0.2", "quick-0.3"])
    spec = write_spec(text)
    (runs / "blocked" / "trials").mkdir(parents=True)
    (runs / "blocked" / "trials" / "0002").write_text("a file where trial 2's directory goes")
    # An existing job directory that is not empty is not reused...
    r = hpt("run", spec, "--runs-dir", runs)
    assert r.code == 2 and "holds no job.db" in r.err
    (runs / "blocked" / "trials" / "0002").unlink()
    (runs / "blocked" / "trials").rmdir()
    # ...so block trial 2 while the job runs: trial 1 sleeps until the file is in place.
    text = text.replace('"quick-0.1"', '"quick-1.5"')
    spec = write_spec(text)
    proc = start("run", spec, "--runs-dir", runs, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_for(lambda: stray_processes(runs / "blocked"), what="trial 1 running")
    # hpt may have made trial 2's directory ahead, while it waits: the file takes its place.
    shutil.rmtree(runs / "blocked" / "trials" / "0002", ignore_errors=True)
    (runs / "blocked" / "trials" / "0002").write_text("a file where trial 2's directory goes")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    assert "cannot write the directory of trial 2" in err and "hpt resume blocked" in err
    assert "Traceback" not in err and "internal error" not in err
    doc = show(runs, "blocked")
    assert (
        doc["status"] == "Stopped" and doc["counts"]["completed"] == 1 and doc["counts"]["interrupted"] == 1
    )
    (runs / "blocked" / "trials" / "0002").unlink()
    r = hpt("resume", "blocked", "--runs-dir", runs, "-o", "json")
    assert r.code == 0 and r.json()["counts"]["completed"] == 3


# ---------------------------------------------------------------------- 5: no process left


def test_a_daemon_started_by_a_trial_does_not_outlive_it(write_spec, runs):
    r = hpt("run", write_spec(spec_of("daemon", ["daemon"])), "--runs-dir", runs)
    assert r.code == 0, r.err
    pid = int((runs / "daemon" / "trials" / "0001" / "daemon.pid").read_text())
    # It double-forked and called setsid, leaving the trial's process group: still gone.
    wait_for(
        lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie",
        timeout=10,
        what="the daemon to be gone",
    )


# ---------------------------------------------------------------------- 6: races settle on the truth


def test_show_into_a_closed_pipe_exits_0(write_spec, runs):
    assert hpt("run", write_spec(spec_of("pipe", ["ok"])), "--runs-dir", runs).code == 0
    proc = start("show", "pipe", "--runs-dir", runs, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # `hpt show JOB | head -0`: the reader is gone before anything is written
    assert proc.wait(timeout=60) == 0
    err = proc.stderr.read()
    assert "Traceback" not in err and "Exception ignored" not in err


def test_the_loser_of_two_simultaneous_runs_exits_2(write_spec, runs):
    spec = write_spec(spec_of("twice", ["sleep-60"]))
    a = start("run", spec, "--runs-dir", runs, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    b = start("run", spec, "--runs-dir", runs, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while a.poll() is None and b.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        loser = a if a.poll() is not None else b
        assert loser.wait(timeout=5) == 2, loser.stderr.read()
    finally:
        for p in (a, b):
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
                p.wait(timeout=30)


def test_a_trial_stopped_because_the_job_ended_is_not_called_stopped_early(write_spec, runs):
    text = spec_of("target", ["quick-0.4", "sleep-60"], limits="max_parallel_jobs: 2")
    text += "completion: {target: 0.5}\n"
    r = hpt("run", write_spec(text), "--runs-dir", runs)
    assert r.code == 0, r.err
    # The sleeper printed 0.1 and was stopped when trial 1 reached the target: it is the best.
    assert "best: trial 2, loss = 0.1 (stopped when the job ended at step 1)" in r.out


def test_a_trial_that_finished_while_its_stop_was_on_the_way_is_completed(write_spec, runs):
    # Hyperband with one rung (epoch 1 of 3): the poor trial is judged at epoch 1, but it had
    # printed its three epochs in one burst and exited 0 before the stop could reach it.
    text = f"""
name: late
command: [python, {LINES}, "{{mode}}"]
objective: {{metric: acc, type: maximize}}
metrics: [{{name: acc, regex: 'acc=([0-9.]+)'}}]
strategy: hyperband
hyperband: {{min_resource: 1, max_resource: 3, eta: 3, brackets: 1}}
parameters: {{mode: {{type: categorical, values: [good-burst, bad-burst]}}}}
limits: {{max_jobs: 2}}
random_seed: 0
"""
    r = hpt("run", write_spec(text), "--runs-dir", runs)
    assert r.code == 0, r.err
    t = trials(runs, "late")
    assert t["good-burst"]["trial_id"] == 1
    bad = t["bad-burst"]
    assert bad["state"] == "completed" and bad["step"] == 3 and bad["objective"] == 0.1
    assert bad["info"]["late_stop"].startswith("hyperband")


# ---------------------------------------------------------------------- 7: hostile input is bounded


def test_a_backtracking_regex_cannot_stall_the_runner(write_spec, runs):
    text = spec_of("regex", ["backtrack"]).replace(
        f"  - {{name: loss, regex: '{README_REGEX}'}}",
        f"  - {{name: loss, regex: '{README_REGEX}'}}\n  - {{name: slow, regex: '(a+)+$'}}",
    )
    t0 = time.monotonic()
    r = hpt("run", write_spec(text), "--runs-dir", runs, timeout=60)
    assert r.code == 0, r.err
    assert time.monotonic() - t0 < 50  # a catastrophic match of 2^40 steps would take hours
    t = trials(runs, "regex")["backtrack"]
    assert t["state"] == "completed" and t["objective"] == 0.3 and t["info"]["skipped_points"] == {"slow": 1}


def test_a_huge_spec_is_refused_before_it_is_parsed(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("name: big\nstatic:\n" + "".join(f"  k{i}: {i}\n" for i in range(200_000)))
    r = hpt("validate", big)
    assert r.code == 2 and "hpt reads specs of at most 1 MiB" in r.err


# ---------------------------------------------------------------------- 9: what hpt writes stays put


def test_a_log_is_never_written_through_a_symbolic_link(write_spec, runs, tmp_path):
    text = spec_of("links", ["quick-0.1", "quick-0.2"]).replace("strategy: grid", "strategy: random")
    spec = write_spec(text.replace("limits: {", "random_seed: 1\nlimits: {max_jobs: 1, "))
    assert hpt("run", spec, "--runs-dir", runs).code == 0
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    attempt = runs / "links" / "trials" / "0002" / "attempt-1"
    attempt.mkdir(parents=True)
    (attempt / "stdout.log").symlink_to(victim)  # planted where trial 2 will write its log
    r = hpt("resume", "links", "--max-jobs", "2", "--runs-dir", runs)
    assert victim.read_text() == "precious"
    t = show(runs, "links")["trial_list"][1]
    assert t["state"] == "failed" and "cannot write the attempt's logs" in t["reason"], r.err


def test_a_job_directory_without_its_database_is_not_reused(write_spec, runs):
    spec = write_spec(spec_of("gone", ["ok"]))
    assert hpt("run", spec, "--runs-dir", runs).code == 0
    (runs / "gone" / "job.db").unlink()
    r = hpt("run", spec, "--runs-dir", runs)
    assert r.code == 2 and "holds no job.db" in r.err
    assert (runs / "gone" / "trials" / "0001" / "params.json").exists()


def test_a_damaged_store_is_one_line_and_listed(write_spec, runs):
    spec = write_spec(spec_of("damaged", ["ok"]))
    assert hpt("run", spec, "--runs-dir", runs).code == 0
    db = runs / "damaged" / "job.db"
    db.write_bytes(b"\x00\x01garbage\xff" * 100)
    r = hpt("show", "damaged", runs_dir=runs)
    assert r.code == 1 and r.err.count("\n") == 1 and "internal error" not in r.err and "\x00" not in r.err
    listed = hpt("list", runs_dir=runs)
    assert listed.code == 0 and "damaged" in listed.out and "Unreadable" in listed.out
