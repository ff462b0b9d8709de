"""End-to-end: the real `hpt` command on real subprocess trials."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest
import yaml
from conftest import FAKE, REPO, fake_spec, hpt, hpt_start

from hpt.store import Store


def test_example_grid_spec_runs_to_completion(runs):
    r = hpt("run", REPO / "specs" / "digits-svc-grid.yaml", "--runs-dir", runs)
    assert r.code == 0, r.err
    assert "Job digits-svc-grid Completed: max_jobs (9) reached" in r.out
    assert "best: trial" in r.out and "kernel = " in r.out
    # Plain progress (not a terminal): one line per event on stderr.
    assert r.err.count("started") >= 9 and "completed: validation:accuracy=" in r.err
    doc = hpt("show", "digits-svc-grid", "-o", "json", runs_dir=runs).json()
    assert doc["counts"]["completed"] == 9
    combos = {(t["hyperparameters"]["kernel"], t["hyperparameters"]["C"]) for t in doc["trial_list"]}
    assert combos == {(k, c) for k in ("rbf", "poly", "sigmoid") for c in ("0.1", "1", "10")}


def test_validate_grid_with_continuous_parameter(write_spec):
    path = write_spec(
        """
        name: g
        command: [python, t.py, "{kernel}", "{C}"]
        objective: {metric: acc, type: maximize}
        metrics: [{name: acc, regex: 'acc=(.*)'}]
        strategy: grid
        parameters:
          kernel: {type: categorical, values: [rbf, poly]}
          C: {type: continuous, min: 0.1, max: 10}
        """
    )
    r = hpt("validate", path)
    assert r.code == 2
    assert (
        "parameters.C.type (line 8, col 13): grid search takes categorical parameters only; parameter 'C' is continuous"
        in r.err
    )
    assert "Traceback" not in r.err


def test_validate_hyperband_with_early_stopping(write_spec):
    path = write_spec(
        fake_spec(strategy="hyperband", extra="hyperband: {max_resource: 9}\nearly_stopping: auto")
    )
    r = hpt("validate", path)
    assert r.code == 2
    assert (
        "early_stopping (line" in r.err and "hyperband stops trials itself; set early_stopping: off" in r.err
    )


def test_validate_unknown_key_suggests(write_spec):
    path = write_spec(fake_spec(limits="max_paralell_jobs: 1"))
    r = hpt("validate", path)
    assert r.code == 2 and "unknown key 'max_paralell_jobs'; did you mean 'max_parallel_jobs'?" in r.err


def test_validate_ok_and_several_files(write_spec):
    good = write_spec(fake_spec(), "good.yaml")
    bad = write_spec("name: [\n", "bad.yaml")
    r = hpt("validate", good, bad)
    assert r.code == 2
    assert f"{good}: ok (random, 1 parameters, max_jobs 4, max_parallel_jobs 2)" in r.out
    assert f"{bad}: error:" in r.err and "YAML syntax error" in r.err
    assert hpt("validate", good).code == 0


def test_hostile_categorical_value_is_one_literal_argument(write_spec, runs, tmp_path):
    marker = tmp_path / "x"
    record = tmp_path / "argv.jsonl"
    spec = f"""
name: inject
command: [python, {FAKE}, --mode, "{{mode}}", --record, {record}, --x, "0.5"]
objective: {{metric: loss, type: minimize}}
metrics: [{{name: loss, regex: 'loss=([-+0-9.eE]+)'}}]
strategy: grid
parameters:
  mode: {{type: categorical, values: ["a; touch {marker}", "$(touch {marker})", "`touch {marker}`"]}}
"""
    path = tmp_path / "inject.yaml"
    path.write_text(spec)
    r = hpt("run", path, "--runs-dir", runs)
    assert r.code == 0 or "never printed" in r.out + r.err
    argvs = [json.loads(line) for line in record.read_text().splitlines()]
    assert sorted(a[1] for a in argvs) == sorted(
        [f"a; touch {marker}", f"$(touch {marker})", f"`touch {marker}`"]
    )
    assert all(len(a) == 6 for a in argvs)
    assert not marker.exists()


def test_failures_are_recorded_with_their_reason_and_the_job_goes_on(write_spec, runs):
    path = write_spec(
        f"""
        name: failing
        command: [python, {FAKE}, --mode, "{{mode}}", --x, "0.5"]
        objective: {{metric: loss, type: minimize}}
        metrics: [{{name: loss, regex: 'loss=([-+0-9.eEnaif]+)'}}]
        strategy: grid
        parameters:
          mode: {{type: categorical, values: [ok, crash, silent, slow, nan]}}
        limits: {{max_parallel_jobs: 3, max_job_runtime: 2s, stop_grace_period: 1s}}
        """
    )
    r = hpt("run", path, "--runs-dir", runs, "-o", "json")
    assert r.code == 0, r.err
    doc = r.json()
    assert doc["status"] == "Completed" and doc["counts"]["completed"] == 1 and doc["counts"]["failed"] == 4
    trials = {
        t["hyperparameters"]["mode"]: t
        for t in hpt("show", "failing", "-o", "json", runs_dir=runs).json()["trial_list"]
    }
    assert trials["ok"]["state"] == "completed"
    assert trials["crash"]["reason"] == "exit code 1: ValueError: the model diverged"
    assert trials["silent"]["reason"].startswith("objective metric 'loss' was never printed")
    assert trials["slow"]["reason"] == "timeout: exceeded max_job_runtime (2s)"
    assert trials["nan"]["reason"] == "objective printed as 'nan' at step 1 (not a finite number)"


def test_command_not_found_and_failed_job_exit_code(write_spec, runs):
    path = write_spec(
        """
        name: missing
        command: [no-such-program-hpt, "{x}"]
        objective: {metric: loss, type: minimize}
        metrics: [{name: loss, regex: 'loss=(.*)'}]
        strategy: random
        parameters: {x: {type: continuous, min: 0, max: 1}}
        limits: {max_jobs: 10, max_parallel_jobs: 2}
        """
    )
    r = hpt("run", path, "--runs-dir", runs, "-o", "json")
    assert r.code == 1
    doc = r.json()
    assert doc["status"] == "Failed" and doc["exit_code"] == 1
    assert doc["reason"].startswith("5 trials failed and none completed")  # AMT's rule
    trials = hpt("show", "missing", "-o", "json", runs_dir=runs).json()["trial_list"]
    assert {t["reason"] for t in trials if t["state"] == "failed"} == {
        "command not found: no-such-program-hpt"
    }


def test_max_failed_jobs_is_configurable(write_spec, runs):
    path = write_spec(
        fake_spec("mf", args=', --fail-if-x-below, "0.5"', limits="max_failed_jobs: 2", extra="").replace(
            "max_jobs: 4", "max_jobs: 12"
        )
    )
    r = hpt("run", path, "--runs-dir", runs, "-o", "json")
    doc = r.json()
    assert (
        r.code == 1 and doc["status"] == "Failed" and "2 trials failed (max_failed_jobs 2)" in doc["reason"]
    )


def test_output_json_and_best_formats(write_spec, runs):
    path = write_spec(
        fake_spec(
            "js",
            params='x: {type: continuous, min: 0.0, max: 1.0}\n  k: {type: categorical, values: [a, "b c"]}',
            args=', --k, "{k}"',
        )
    )
    r = hpt("run", path, "--runs-dir", runs, "-o", "json", "--quiet")
    assert r.code == 0 and r.err == ""
    doc = r.json()
    assert doc["status"] == "Completed" and doc["trials"] == 4 and doc["counts"]["completed"] == 4
    best = doc["best"]
    assert set(best["hyperparameters"]) == {"x", "k"} and best["objective"] == min(
        t["objective"] for t in hpt("show", "js", "-o", "json", runs_dir=runs).json()["trial_list"]
    )
    j = hpt("best", "js", runs_dir=runs).json()
    assert j["hyperparameters"] == best["hyperparameters"]
    args = hpt("best", "js", "--format", "args", runs_dir=runs).out.strip()
    assert args.startswith("--x ") and "--k " in args
    y = yaml.safe_load(hpt("best", "js", "--format", "yaml", runs_dir=runs).out)
    assert y == best["hyperparameters"]
    # params.json in every trial directory, with tuned and static values.
    params = json.loads((runs / "js" / "trials" / f"{best['trial_id']:04d}" / "params.json").read_text())
    assert params == best["hyperparameters"]


def test_random_seed_makes_jobs_reproducible(write_spec, runs):
    path = write_spec(fake_spec("seeded", params="x: {type: continuous, min: 1.0e-4, max: 1.0}"))
    a = hpt("run", path, "--runs-dir", runs, "--name", "a", "-q")
    b = hpt("run", path, "--runs-dir", runs, "--name", "b", "-q")
    assert a.code == b.code == 0
    pa = [t["hyperparameters"] for t in hpt("show", "a", "-o", "json", runs_dir=runs).json()["trial_list"]]
    pb = [t["hyperparameters"] for t in hpt("show", "b", "-o", "json", runs_dir=runs).json()["trial_list"]]
    assert pa == pb and len({p["x"] for p in pa}) == 4


def test_existing_job_is_refused_and_name_runs_again(write_spec, runs):
    path = write_spec(fake_spec("dup"))
    assert hpt("run", path, "--runs-dir", runs, "-q").code == 0
    again = hpt("run", path, "--runs-dir", runs, "-q")
    assert again.code == 2 and "job 'dup' already ran" in again.err
    assert hpt("run", path, "--runs-dir", runs, "-q", "--name", "dup2").code == 0
    bad = hpt("run", path, "--runs-dir", runs, "--name", "../escape")
    assert bad.code == 2 and "invalid job name" in bad.err
    changed = write_spec(fake_spec("dup").replace("min: 0.0", "min: 0.1"), "changed.yaml")
    r = hpt("run", changed, "--runs-dir", runs)
    assert r.code == 2 and "parameters.x.min: 0.0 -> 0.1" in r.err


def test_runs_dir_from_environment(write_spec, tmp_path):
    path = write_spec(fake_spec("envdir"))
    r = hpt("run", path, "-q", runs_dir=tmp_path / "elsewhere")
    assert r.code == 0 and (tmp_path / "elsewhere" / "envdir" / "job.db").exists()
    assert "envdir" in hpt("list", runs_dir=tmp_path / "elsewhere").out


def test_metrics_are_read_while_the_trial_runs(write_spec, runs):
    path = write_spec(
        fake_spec("stream", args=', --sleep, "0.4", --steps, "4"')
        .replace("max_jobs: 4", "max_jobs: 1")
        .replace("max_parallel_jobs: 2", "max_parallel_jobs: 1")
    )
    assert hpt("run", path, "--runs-dir", runs, "-q").code == 0
    store = Store.open(runs / "stream")
    times = [t for _, _, _, t in store.points(1, "loss")]
    ended = store.attempts(1)[0].ended
    assert len(times) == 4
    assert ended - times[0] > 0.8  # the first point was recorded long before the trial ended


def test_sigint_stops_the_job_and_records_trials(write_spec, runs):
    path = write_spec(fake_spec("interrupt", args=', --sleep, "5"', limits="stop_grace_period: 2s"))
    proc = hpt_start("run", path, "--runs-dir", runs)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if (runs / "interrupt" / "job.db").exists():
            store = Store.open(runs / "interrupt")
            started = [a for a in store.attempts() if a.pid]
            store.close()
            if len(started) == 2:
                break
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    doc = hpt("show", "interrupt", "-o", "json", runs_dir=runs).json()
    assert doc["status"] == "Stopped"
    assert [t["state"] for t in doc["trial_list"]] == ["interrupted", "interrupted"]
    store = Store.open(runs / "interrupt")
    pids = [a.pid for a in store.attempts()]
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_inspection_commands(write_spec, runs, tmp_path):
    path = write_spec(fake_spec("inspect"))
    assert hpt("run", path, "--runs-dir", runs, "-q").code == 0
    show = hpt("show", "inspect", runs_dir=runs)
    assert show.code == 0 and "Completed 4" in show.out and "* " in show.out
    assert hpt("show", "nope", runs_dir=runs).code == 2
    assert "no job named 'nope'" in hpt("best", "nope", runs_dir=runs).err
    lst = hpt("list", "-o", "json", runs_dir=runs).json()
    assert lst["jobs"][0]["job"] == "inspect" and lst["jobs"][0]["status"] == "Completed"
    schema = json.loads(hpt("schema").out)
    assert schema["title"] == "hpt tuning job spec"
    log = tmp_path / "sample.log"
    log.write_bytes(b"step=1 loss=0.5\nnoise\nstep=2 loss=0.25\r\n")
    cm = hpt("check-metrics", path, log)
    assert cm.code == 0 and "2 matches; final value (last) = 0.25" in cm.out and "line     3" in cm.out
    log.write_text("nothing\n")
    cm = hpt("check-metrics", path, log)
    assert cm.code == 1 and "no match" in cm.out and "matched nothing" in cm.err


@pytest.mark.parametrize(
    "command",
    [
        "run",
        "resume",
        "validate",
        "show",
        "best",
        "list",
        "schema",
        "check-metrics",
        "stop",
        "report",
        "export",
        "logs",
        "delete",
    ],
)
def test_every_command_has_help(command):
    r = hpt(command, "--help")
    assert r.code == 0 and "Usage" in r.out
    if command in ("report", "export", "logs"):
        assert f"Example: hpt {command} " in r.out


def test_usage_errors_exit_2():
    assert hpt("run").code == 2
    assert hpt("frobnicate").code == 2
    r = hpt("run", "/no/such/spec.yaml")
    assert r.code == 2 and "cannot read the spec" in r.err and "Traceback" not in r.err
