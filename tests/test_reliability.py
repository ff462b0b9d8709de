"""Nothing lost, nothing left running: crashes, resume, stop, retries, completion, hostile output."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import time
from pathlib import Path

import psutil
import pytest
from conftest import FAKE, SCRIPTS, fake_spec, hpt, hpt_start, wait_for

from hpt.completion import converged, significant
from hpt.jobs import stray_processes
from hpt.store import Store

start = hpt_start


def running_attempts(jdir: Path) -> int:
    if not (jdir / "job.db").exists():
        return 0
    store = Store.open(jdir)
    try:
        return sum(1 for a in store.attempts() if a.state == "running" and a.pid)
    finally:
        store.close()


def job_status(jdir: Path) -> str | None:
    if not (jdir / "job.db").exists():
        return None
    store = Store.open(jdir)
    try:
        return store.job().status
    finally:
        store.close()


def alive(pids) -> list[int]:
    out = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.append(pid)
        except psutil.NoSuchProcess:
            pass
    return out


def show(runs: Path, job: str) -> dict:
    return hpt("show", job, "-o", "json", runs_dir=runs).json()


def test_sigkill_of_hpt_leaves_no_trial_process(write_spec, runs):
    spec = write_spec(
        fake_spec("orphans", args=', --spawn, --sleep, "30"')
        .replace("max_jobs: 4", "max_jobs: 6")
        .replace("max_parallel_jobs: 2", "max_parallel_jobs: 4")
    )
    proc = start("run", spec, "--runs-dir", runs)
    runner = psutil.Process(proc.pid)
    # hpt -> the trial supervisor -> trial -> child -> grandchild, for 4 trials.
    tree = wait_for(
        lambda: (lambda d: d if len(d) >= 13 else None)(runner.children(recursive=True)),
        what="the supervisor and 12 trial processes",
    )
    pids = [p.pid for p in tree]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = time.monotonic()
    wait_for(lambda: not alive(pids), timeout=5.0, what="every trial process to exit within 5 s")
    assert time.monotonic() - killed_at < 5.0
    assert stray_processes(runs / "orphans") == []


def test_sigkill_of_the_trial_supervisor_leaves_no_trial_process(write_spec, runs):
    """The supervisor killed outright: hpt (a child subreaper) inherits the trials, with their
    children and grandchildren, and kills them; the job ends without them."""
    spec = write_spec(fake_spec("headless", args=', --spawn, --sleep, "30"'))
    proc = start("run", spec, "--runs-dir", runs)
    runner = psutil.Process(proc.pid)
    # hpt -> the trial supervisor -> trial -> child -> grandchild, for 2 trials.
    tree = wait_for(
        lambda: (lambda d: d if len(d) >= 7 else None)(runner.children(recursive=True)),
        what="the supervisor and 6 trial processes",
    )
    (supervisor,) = [p for p in runner.children() if "_supervisor.py" in " ".join(p.cmdline())]
    pids = [p.pid for p in tree if p.pid != supervisor.pid]
    supervisor.kill()
    killed_at = time.monotonic()
    wait_for(lambda: not alive(pids), timeout=5.0, what="every trial process to exit within 5 s")
    assert time.monotonic() - killed_at < 5.0
    out, err = proc.communicate(timeout=60)
    assert "Traceback" not in err and "internal error" not in err, err
    # No trial can start any more: the job stops, to be resumed, rather than failing them all.
    assert proc.returncode == 1 and "the trial supervisor died" in err and "hpt resume headless" in err, err
    doc = show(runs, "headless")
    assert doc["status"] == "Stopped", doc["status"]
    reasons = {t["reason"] for t in doc["trial_list"][:2]}
    assert any("the trial supervisor died" in (r or "") for r in reasons), reasons
    assert [t["state"] for t in doc["trial_list"]][2:] == ["interrupted"]  # resumed later
    assert stray_processes(runs / "headless") == []


def test_a_supervisor_started_early_and_not_used_does_not_outlive_hpt(write_spec, runs):
    """hpt run starts the trial supervisor while it reads the spec; when no trial runs (here the
    spec is invalid) it ends with hpt."""
    spec = write_spec(fake_spec("invalid").replace("max_jobs: 4", "max_jobs: -1"))
    proc = start("run", spec, "--runs-dir", runs)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "max_jobs" in err, err

    def spares():
        out = []
        for p in psutil.process_iter(["cmdline"]):
            cmd = p.info["cmdline"] or []
            if any(c.endswith("_supervisor.py") for c in cmd) and cmd[-1] == str(proc.pid):
                out.append(p.pid)
        return out

    wait_for(lambda: not spares(), timeout=5.0, what="the spare supervisor to exit")


def test_resume_after_sigkill_reruns_interrupted_trials(write_spec, runs):
    spec = write_spec(
        fake_spec("crashy", args=', --sleep, "0.5", --steps, "4"').replace("max_jobs: 4", "max_jobs: 6")
    )
    proc = start("run", spec, "--runs-dir", runs)
    wait_for(lambda: running_attempts(runs / "crashy") == 2, what="two running trials")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {t["trial_id"]: t for t in show(runs, "crashy")["trial_list"]}
    assert [t["state"] for t in before.values()] == ["running", "running"]  # as the crash left them
    r = hpt("resume", "crashy", runs_dir=runs)
    assert r.code == 0, r.err
    doc = show(runs, "crashy")
    trials = doc["trial_list"]
    assert doc["status"] == "Completed" and [t["trial_id"] for t in trials] == [1, 2, 3, 4, 5, 6]
    assert all(t["state"] == "completed" for t in trials)
    for tid, old in before.items():  # same hyperparameters, a second attempt
        assert trials[tid - 1]["hyperparameters"] == old["hyperparameters"]
        assert trials[tid - 1]["attempts"] == 2
    store = Store.open(runs / "crashy")
    assert [a.state for a in store.attempts(1)] == ["interrupted", "completed"]


def test_second_runner_is_refused(write_spec, runs):
    # Trials far longer than the test, so a slow machine cannot finish the job before the
    # second runner tries; SIGINT ends it (grace period 1 s) in the finally block.
    spec = write_spec(
        fake_spec("locked", args=', --sleep, "1", --steps, "600"', limits="stop_grace_period: 1s")
    )
    proc = start("run", spec, "--runs-dir", runs)
    try:
        wait_for(lambda: running_attempts(runs / "locked") >= 1, what="a running trial")
        for args in (("run", spec), ("resume", "locked")):
            r = hpt(*args, "--runs-dir", runs)
            assert r.code == 2 and re.search(r"job 'locked' is already running \(pid \d+ on ", r.err), r.err
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)


def test_stop_from_outside_then_resume(write_spec, runs):
    spec = write_spec(
        fake_spec("stoppable", args=', --sleep, "1", --steps, "20"', limits="stop_grace_period: 3s")
    )
    proc = start("run", spec, "--runs-dir", runs)
    wait_for(lambda: running_attempts(runs / "stoppable") == 2, what="two running trials")
    asked = time.monotonic()
    r = hpt("stop", "stoppable", runs_dir=runs)
    assert r.code == 0 and "job stoppable stopped" in r.out
    # Well under the 20 s the trials would take: the grace period, not the trials, bounds it
    # (the slack is for starting two commands on a loaded machine).
    assert time.monotonic() - asked < 3.0 + 12.0
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    doc = show(runs, "stoppable")
    assert doc["status"] == "Stopped" and doc["counts"]["interrupted"] == 2
    assert hpt("stop", "stoppable", runs_dir=runs).code == 1  # not running any more
    # Resume (with fast trials: the trials read FAKE_TRAIN_SLEEP) and raise a limit.
    r = hpt("resume", "stoppable", "--max-parallel-jobs", "4", runs_dir=runs, FAKE_TRAIN_SLEEP="0")
    assert r.code == 0, r.err
    assert show(runs, "stoppable")["counts"]["completed"] == 4


def test_retries_keep_each_attempts_log(write_spec, runs):
    spec = write_spec(fake_spec("retry", args=", --fail-first-attempt", limits="max_retries: 1"))
    r = hpt("run", spec, "--runs-dir", runs, "-o", "json")
    assert r.code == 0, r.err
    trials = show(runs, "retry")["trial_list"]
    assert all(t["state"] == "completed" and t["attempts"] == 2 for t in trials)
    for t in trials:
        tdir = runs / "retry" / "trials" / f"{t['trial_id']:04d}"
        assert "first attempt fails on purpose" in (tdir / "attempt-1" / "stderr.log").read_text()
        assert "loss=" in (tdir / "attempt-2" / "stdout.log").read_text()
    no_retry = write_spec(fake_spec("noretry", args=", --fail-first-attempt"), "noretry.yaml")
    r = hpt("run", no_retry, "--runs-dir", runs, "-o", "json")
    assert r.code == 1 and r.json()["counts"]["failed"] == 4


def value_grid(name: str, values: list[str], completion: str) -> str:
    """A grid job whose trial ``v`` prints ``loss=v``, ended by ``completion``."""
    quoted = ", ".join(f'"{v}"' for v in values)
    return f"""
name: {name}
command: [python, {FAKE}, --value, "{{v}}"]
objective: {{metric: loss, type: minimize}}
metrics: [{{name: loss, regex: 'loss=([-+0-9.eE]+)'}}]
strategy: grid
parameters: {{v: {{type: categorical, values: [{quoted}]}}}}
completion: {{{completion}}}
"""


def test_completion_target_stops_at_the_first_trial_reaching_it(write_spec, runs):
    spec = write_spec(value_grid("target", ["5", "4", "1", "3", "2"], "target: 1.5"))
    r = hpt("run", spec, "--runs-dir", runs, "-o", "json")
    doc = r.json()
    assert r.code == 0 and doc["status"] == "Completed"
    assert doc["reason"] == "target objective 1.5 reached by trial 3 (loss=1)"
    assert doc["trials"] == 3 and doc["best"]["trial_id"] == 3


def test_completion_not_improving(write_spec, runs):
    spec = write_spec(
        value_grid(
            "flat", ["1.0", "0.5", "0.499", "0.498", "0.6", "0.1", "0.05"], "max_jobs_not_improving: 3"
        )
    )
    doc = hpt("run", spec, "--runs-dir", runs, "-o", "json").json()
    # 0.499, 0.498 and 0.6 improve the best (0.5) by less than 1%: three in a row.
    assert doc["trials"] == 5 and "did not improve by 1% in the last 3 trials" in doc["reason"]


def test_improvement_and_convergence_rules():
    assert significant(0.5, None, maximize=False)
    assert significant(0.49, 0.5, maximize=False) and not significant(0.499, 0.5, maximize=False)
    assert significant(1.02, 1.0, maximize=True) and not significant(1.005, 1.0, maximize=True)
    assert not significant(0.6, 0.5, maximize=False)
    rising = [float(i) for i in range(40)]
    assert not converged(rising, maximize=True, max_jobs=40)
    plateau = [float(i) for i in range(10)] + [9.0] * 10 + [8.0] * 10
    assert converged(plateau, maximize=True, max_jobs=30)
    assert not converged(plateau[:19], maximize=True, max_jobs=30)  # fewer than 2W finished


def test_convergence_ends_a_job(write_spec, runs):
    spec = write_spec(
        fake_spec("conv", args=', --value, "0.5"', extra="completion: {convergence: true}").replace(
            "max_jobs: 4", "max_jobs: 40"
        )
    )
    doc = hpt("run", spec, "--runs-dir", runs, "-o", "json").json()
    assert doc["status"] == "Completed" and doc["reason"] == "the search converged (completion.convergence)"
    assert doc["trials"] < 40


def test_hostile_output_keeps_memory_bounded_and_metrics_parse(write_spec, runs):
    spec = write_spec(
        f"""
        name: hostile
        command: [python, {SCRIPTS / "hostile.py"}, "{{mode}}"]
        objective: {{metric: loss, type: minimize}}
        metrics: [{{name: loss, regex: 'loss=([0-9.]+)'}}]
        strategy: grid
        parameters: {{mode: {{type: categorical, values: [big, binary, longline]}}}}
        limits: {{max_parallel_jobs: 3}}
        """
    )
    proc = start("run", spec, "--runs-dir", runs, "-o", "json")
    me = psutil.Process(proc.pid)
    peak = 0
    deadline = time.monotonic() + 120
    while proc.poll() is None:
        assert time.monotonic() < deadline, "hpt did not finish the hostile job"
        try:
            peak = max(peak, me.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.02)
    out, err = proc.communicate()
    assert proc.returncode == 0, err
    assert peak < 200 * 1024 * 1024, f"hpt used {peak / 2**20:.0f} MiB"
    trials = {t["hyperparameters"]["mode"]: t for t in show(runs, "hostile")["trial_list"]}
    assert {m: t["objective"] for m, t in trials.items()} == {"big": 0.25, "binary": 0.5, "longline": 0.75}
    tdir = runs / "hostile" / "trials"
    big = tdir / f"{trials['big']['trial_id']:04d}" / "attempt-1" / "stdout.log"
    assert big.stat().st_size < 70 * 1024 * 1024  # 64 MiB head + 1 MiB tail
    text = big.read_bytes()
    assert b"bytes of output not kept in this log" in text and text.endswith(b"loss=0.25\n")
    longline = tdir / f"{trials['longline']['trial_id']:04d}" / "attempt-1" / "stdout.log"
    assert longline.stat().st_size == 10 * 1024 * 1024 + len(b"\nloss=0.75\n")


def test_resume_extends_a_finished_job_and_refuses_changes(write_spec, runs):
    spec = write_spec(fake_spec("extend"))
    assert hpt("run", spec, "--runs-dir", runs, "-q").code == 0
    first = [t["hyperparameters"] for t in show(runs, "extend")["trial_list"]]
    r = hpt("resume", "extend", runs_dir=runs)
    assert r.code == 2 and "raise a limit to extend it" in r.err
    r = hpt("resume", "extend", "--max-jobs", "3", runs_dir=runs)
    assert r.code == 2 and "max_jobs can only be raised" in r.err
    r = hpt("resume", "extend", "--max-jobs", "7", "-o", "json", runs_dir=runs)
    assert r.code == 0 and r.json()["trials"] == 7 and r.json()["max_jobs"] == 7
    trials = show(runs, "extend")["trial_list"]
    assert [t["hyperparameters"] for t in trials[:4]] == first and len(
        {json.dumps(t["hyperparameters"]) for t in trials}
    ) == 7
    # The raised limit sticks: the job is finished at 7.
    assert "already completed" in hpt("resume", "extend", runs_dir=runs).err
    # Raising max_jobs in the spec file itself also extends it, and says it resumes.
    raised = write_spec(fake_spec("extend").replace("max_jobs: 4", "max_jobs: 8"), "raised.yaml")
    r = hpt("run", raised, "--runs-dir", runs, "-o", "json")
    assert r.code == 0 and r.json()["trials"] == 8 and "resuming it" in r.err


def test_run_resumes_an_unfinished_job_with_the_same_spec(write_spec, runs):
    spec = write_spec(fake_spec("again", args=', --sleep, "0.5"'))
    proc = start("run", spec, "--runs-dir", runs)
    wait_for(lambda: running_attempts(runs / "again") == 2, what="two running trials")
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=30)
    changed = write_spec(fake_spec("again", args=', --sleep, "0.4"'), "changed.yaml")
    r = hpt("run", changed, "--runs-dir", runs)
    assert (
        r.code == 2
        and "already exists with a different spec" in r.err
        and "command[5]: '0.5' -> '0.4'" in r.err
    )
    r = hpt("run", spec, "--runs-dir", runs)
    assert r.code == 0 and "exists and is unfinished: resuming it" in r.err


@pytest.mark.slow
def test_fault_injection_sigkill_ten_times(write_spec, runs):
    """Kill hpt with SIGKILL at random moments, resume each time, and check that nothing was
    lost, duplicated or left running."""
    max_jobs = 16
    spec = write_spec(
        fake_spec("faults", args=', --sleep, "0.15", --steps, "3"')
        .replace("max_jobs: 4", f"max_jobs: {max_jobs}")
        .replace("max_parallel_jobs: 2", "max_parallel_jobs: 3")
    )
    jdir = runs / "faults"
    rng = random.Random(20261127)
    kills = 0
    proc = start("run", spec, "--runs-dir", runs)
    # Bounded: each turn either kills a run or sees it finish (and then raises max_jobs by 4),
    # so 40 turns are far more than 10 kills need; the deadline guards a hung hpt.
    deadline = time.monotonic() + 150
    for _ in range(40):
        if kills == 10:
            break
        assert time.monotonic() < deadline, f"only {kills} kills before the deadline"
        time.sleep(rng.uniform(0.3, 1.8))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.communicate(timeout=30)
            kills += 1
        else:
            _, err = proc.communicate(timeout=30)
            assert proc.returncode == 0, err
        status = job_status(jdir)
        if status is None:  # killed before the job existed
            proc = start("run", spec, "--runs-dir", runs)
            continue
        if status == "Completed":  # it finished before the kill: extend the job, go on
            max_jobs += 4
        proc = start("resume", "faults", "--max-jobs", max_jobs, "--runs-dir", runs)
    assert kills == 10
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    doc = show(runs, "faults")
    assert doc["status"] == "Completed"
    trials = show(runs, "faults")["trial_list"]
    assert [t["trial_id"] for t in trials] == list(range(1, max_jobs + 1))  # no loss, no gaps
    assert sum(1 for t in trials if t["state"] in ("completed", "failed", "stopped")) == max_jobs
    assert len({t["hyperparameters"]["x"] for t in trials}) == max_jobs  # no duplicates
    # Random search continued its seeded sequence across every crash.
    from hpt.spec import load_spec
    from hpt.strategies.random import RandomSampler

    sampler = RandomSampler(load_spec(spec).space)
    assert all(t["hyperparameters"] == sampler.draw(1, t["trial_id"]) for t in trials)
    # Every completed trial's objective is what its (last) log printed.
    for t in trials:
        assert t["state"] == "completed"
        log = jdir / "trials" / f"{t['trial_id']:04d}" / f"attempt-{t['attempts']}" / "stdout.log"
        last = re.findall(r"loss=([0-9.]+)", log.read_text())[-1]
        assert float(last) == t["objective"]
    assert stray_processes(jdir) == []
