"""Progress logs that CI and ssh sessions can follow: plain lines and JSON Lines, a progress line
per running trial per interval, hyperband rung decisions, what a stopping job waits for, the
live display's progress, and `-o json` on errors. The reporters are driven by the real runner
on the simulated executor (virtual time, so intervals are exact) and, end to end, by the real
`hpt` on real trials."""

from __future__ import annotations

import io
import json
import signal
from types import SimpleNamespace

import yaml
from conftest import fake_spec, hpt, hpt_start, wait_for
from rich.console import Console

from hpt.executors.sim import SimTrial, run_simulated
from hpt.progress import JsonlReporter, PlainReporter, RichReporter
from hpt.reporting import RunningTrial
from hpt.spec import parse_spec
from hpt.store import Store
from hpt.trial import Trial


def spec(**extra):
    data = {
        "name": "logs",
        "command": ["train", "{args}"],
        "objective": {"metric": "loss", "type": "minimize"},
        "metrics": [{"name": "loss", "regex": "loss=([-+0-9.eE]+)"}],
        "strategy": "random",
        "parameters": {"x": {"type": "continuous", "min": 0.0, "max": 1.0}},
        "limits": {"max_jobs": 3, "max_parallel_jobs": 2},
        "random_seed": 1,
    }
    data.update(extra)
    return parse_spec(yaml.safe_dump(data, sort_keys=False), "logs.yaml")


def events(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_first_point_then_one_progress_line_per_running_trial_per_interval(tmp_path):
    out = io.StringIO()
    # 40 points a trial, one a second: with an interval of 10 s, a trial gets its first point,
    # then a progress line at most every 10 s of its run.
    behaviour = lambda launch: SimTrial.curve([f"loss={launch.params['x'] + 1 / e}" for e in range(1, 41)])  # noqa: E731
    run_simulated(spec(), behaviour, tmp_path, reporter=JsonlReporter(out, interval=10))
    evs = events(out)
    assert {e["job"] for e in evs} == {"logs"} and all(e["time"].endswith("Z") for e in evs)
    for trial in (1, 2, 3):
        mine = [e for e in evs if e.get("trial") == trial]
        kinds = [e["event"] for e in mine]
        assert kinds[0] == "trial_started" and kinds[1] == "trial_point" and kinds[-1] == "trial_ended"
        assert mine[1]["first"] is True and mine[1]["step"] == 1
        progress = [e for e in mine if e["event"] == "trial_progress"]
        assert len(progress) == 3  # at 10, 20 and 30 seconds of a 40-second trial
        seconds = [e["running_seconds"] for e in progress]
        assert all(b - a >= 10 for a, b in zip([0.0, *seconds], seconds, strict=False))
        assert all(e["step"] >= 10 and e["metric"] == "loss" for e in progress)
    assert evs[-1]["event"] == "job_ended" and evs[-1]["status"] == "Completed"


def test_interval_zero_prints_every_point_and_plain_text_is_the_same_events(tmp_path):
    console = Console(file=io.StringIO(), width=200)
    behaviour = lambda launch: SimTrial.curve(["loss=0.5", "loss=0.4", "loss=0.3"])  # noqa: E731
    run_simulated(spec(), behaviour, tmp_path, reporter=PlainReporter(console, interval=0))
    text = console.file.getvalue()
    assert text.count("trial 1 first loss=0.5 at step 1") == 1
    assert "trial 1 loss=0.4 at step 2" in text and "trial 1 loss=0.3 at step 3" in text
    assert "trial 1 completed: loss=0.3 (best so far)" in text


def test_hyperband_rung_decisions_are_logged(tmp_path):
    out = io.StringIO()
    s = spec(
        strategy="hyperband",
        hyperband={"min_resource": 1, "max_resource": 9, "eta": 3},
        limits={"max_jobs": 9, "max_parallel_jobs": 3},
    )
    behaviour = lambda launch: SimTrial.curve([f"loss={launch.params['x'] + 1.0 / e}" for e in range(1, 10)])  # noqa: E731
    run_simulated(s, behaviour, tmp_path, reporter=JsonlReporter(out, interval=0), stop_delay=0.5)
    evs = events(out)
    rungs = [e for e in evs if e["event"] == "trial_rung"]
    stops = [e for e in evs if e["event"] == "trial_stopping"]
    assert rungs and stops
    assert all(e["rung"] in (1, 3) and e["rank"] <= e["quota"] <= e["count"] for e in rungs)
    assert all(e["kind"] == "early" and "hyperband: at rung" in e["reason"] for e in stops)
    assert "continues at rung" in rungs[0]["message"]


def test_a_stopping_job_says_what_it_waits_for(tmp_path):
    out = io.StringIO()
    behaviour = lambda launch: SimTrial.curve(["loss=0.5"] * 100)  # noqa: E731
    run_simulated(
        spec(limits={"max_jobs": 3, "max_parallel_jobs": 2, "max_runtime": 5, "stop_grace_period": 7}),
        behaviour,
        tmp_path,
        reporter=JsonlReporter(out),
        stop_delay=1.0,
    )
    (stopping,) = [e for e in events(out) if e["event"] == "job_stopping"]
    assert stopping["trials"] == 2 and stopping["grace_seconds"] == 7 and not stopping["user"]
    assert stopping["message"] == "stopping 2 trials, up to 7 s"


def test_the_live_display_shows_progress_the_time_left_and_the_stop():
    console = Console(file=io.StringIO(), force_terminal=True, width=120)
    r = RichReporter(console)
    s = spec(limits={"max_jobs": 10, "max_parallel_jobs": 2})
    trials = [Trial(i, "completed", {"x": 0.1}, objective=0.2) for i in (1, 2, 3, 4)]
    running = [
        RunningTrial(Trial(5, "running", {"x": 0.5}), 1, 0.0, (3, 0.25), ("1",), 0),
        RunningTrial(Trial(6, "running", {"x": 0.7}), 1, 2.0, None, ("0",), 1),
    ]
    view = SimpleNamespace(spec=s, trials=trials, running=running, now=lambda: 12.0)
    r._started -= 40  # 4 trials finished in 40 s of this run: 6 left take about 60 s
    r.stopping(view, 2, 5.0, user=True, kill=False)
    r.live.stop()
    capture = Console(file=io.StringIO(), width=120)
    capture.print(r._render(view))
    text = capture.file.getvalue()
    assert "4/10 trials" in text and "about 1m00s left" in text
    assert "stopping 2 trials, up to 5 s; Ctrl-C again to kill" in text
    assert "0.25" in text and " 1 " in text  # the running trial's latest value and its GPU


# --------------------------------------------------------------------------- end to end


def test_plain_logs_show_progress_inside_a_long_trial(write_spec, runs):
    path = write_spec(
        fake_spec("plain", args=', --steps, "16", --sleep, "0.1"', limits="")
        .replace("max_jobs: 4", "max_jobs: 1")
        .replace("max_parallel_jobs: 2", "max_parallel_jobs: 1")
    )
    r = hpt("run", path, "--runs-dir", runs, "--log-interval", "0.5")
    assert r.code == 0, r.err
    lines = r.err.splitlines()
    start = next(i for i, x in enumerate(lines) if "trial 1 started" in x)
    end = next(i for i, x in enumerate(lines) if "trial 1 completed" in x)
    inside = lines[start + 1 : end]
    assert any("trial 1 first loss=" in x and "at step 1" in x for x in inside)
    progress = [x for x in inside if "trial 1 running" in x]
    assert progress and all("step " in x and "loss=" in x for x in progress)


def test_jsonl_logs_on_stderr_and_json_on_stdout(write_spec, runs):
    path = write_spec(fake_spec("jsonl", args=', --steps, "3"'))
    r = hpt("run", path, "--runs-dir", runs, "--log-format", "jsonl", "-o", "json")
    assert r.code == 0, r.err
    evs = [json.loads(line) for line in r.err.splitlines()]
    kinds = [e["event"] for e in evs]
    assert kinds[0] == "job_started" and kinds[-1] == "job_ended"
    assert kinds.count("trial_started") == kinds.count("trial_ended") == 4
    assert all({"time", "event", "job", "message"} <= set(e) for e in evs)
    assert r.json()["status"] == "Completed"


def test_ctrl_c_says_what_the_job_waits_for(write_spec, runs):
    path = write_spec(fake_spec("ctrlc", args=', --sleep, "5"', limits="stop_grace_period: 1s"))
    proc = hpt_start("run", path, "--runs-dir", runs)
    try:

        def two_running():
            if not (runs / "ctrlc" / "job.db").exists():
                return False
            store = Store.open(runs / "ctrlc")
            try:
                return len([a for a in store.attempts() if a.pid]) == 2
            finally:
                store.close()

        wait_for(two_running, what="two trials running")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "stopping 2 trials, up to 1 s; Ctrl-C again to kill" in err


def test_output_json_on_errors(write_spec, runs, tmp_path):
    bad = write_spec(
        "name: bad\ncommand: [python, train.py]\nobjective: {metric: loss, type: maximise}\n", "bad.yaml"
    )
    r = hpt("run", bad, "--runs-dir", runs, "-o", "json")
    assert r.code == 2
    doc = r.json()
    assert doc["exit_code"] == 2 and "bad.yaml" in doc["error"]
    assert any(p["path"] == "objective.type" and p["line"] == 3 for p in doc["problems"])
    assert "Traceback" not in r.err and "objective.type" in r.err  # the message is on stderr too
    for args in (("show", "nope"), ("resume", "nope"), ("list", "--bogus-option")):
        r = hpt(*args, "--output=json", runs_dir=runs)
        assert r.code == 2 and r.json()["exit_code"] == 2 and r.json()["error"], args
    # A refused run: the job exists with another spec.
    first = write_spec(fake_spec("refused"), "a.yaml")
    assert hpt("run", first, "--runs-dir", runs, "-q").code == 0
    other = write_spec(fake_spec("refused", limits="max_retries: 2"), "b.yaml")
    r = hpt("run", other, "--runs-dir", runs, "-o", "json", "-q")
    assert r.code == 2 and "already exists with a different spec" in r.json()["error"]
