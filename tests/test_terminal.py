"""A terminal that fits: `hpt show` at 80 columns (and a running trial's progress in it),
`hpt best --format argv|env`, unquoted placeholders, shell completion, and starting over
(`hpt delete`, `--restart`). End to end, with the real `hpt` on real trials."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess

import pytest
from conftest import FAKE, fake_spec, hpt, hpt_start, wait_for
from rich.cells import cell_len

from hpt.errors import SpecError
from hpt.report import fmt
from hpt.spec import parse_spec
from hpt.store import JobLock

WIDE_SPEC = f"""
name: wide
command: [python, {FAKE}, --x, "{{x}}", --fail-if-x-below, "0.35", --lr, "{{learning_rate}}",
          --opt, "{{optimizer}}", --wd, "{{weight_decay}}", --record, "{{trial_dir}}/argv.json"]
env: {{MY_FLAG: "on-{{optimizer}}"}}
objective: {{metric: "validation:loss", type: minimize}}
metrics:
  - {{name: "validation:loss", regex: 'loss=([-+0-9.eE]+)'}}
  - {{name: "train:step", regex: 'step=([0-9]+)'}}
strategy: random
parameters:
  x: {{type: continuous, min: 0.0, max: 1.0}}
  learning_rate: {{type: continuous, min: 1.0e-5, max: 1.0e-1}}
  optimizer: {{type: categorical, values: [adam, sgd-with-nesterov-momentum, rmsprop]}}
  weight_decay: {{type: continuous, min: 1.0e-6, max: 1.0e-2}}
static: {{seed: 7}}
limits: {{max_jobs: 8, max_parallel_jobs: 4}}
random_seed: 1
"""


@pytest.fixture(scope="module")
def wide_job(tmp_path_factory):
    """A finished job with long parameter values, failures with long reasons, two metrics."""
    tmp = tmp_path_factory.mktemp("wide")
    spec = tmp / "wide.yaml"
    spec.write_text(WIDE_SPEC)
    runs = tmp / "runs"
    r = hpt("run", spec, "--runs-dir", runs, "-q")
    assert r.code == 0, r.err
    doc = hpt("show", "wide", "-o", "json", runs_dir=runs).json()
    assert doc["counts"]["failed"] >= 2 and doc["counts"]["completed"] >= 2  # the test needs both
    return runs, doc


def test_show_fits_80_columns_without_cutting_the_objective(wide_job):
    runs, doc = wide_job
    r = hpt("show", "wide", runs_dir=runs, COLUMNS="80")
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert max(cell_len(x) for x in lines) <= 80
    for t in doc["trial_list"]:
        if t["objective"] is not None:
            assert fmt(t["objective"]) in r.out  # in full, never "0.97…"
    assert "…" not in r.out
    # Columns that did not fit are named; failures' reasons are listed under the table, whole.
    assert "not shown at this width (--wide shows every column):" in r.out
    failed = [t for t in doc["trial_list"] if t["state"] == "failed"]
    for t in failed:
        assert f"trial {t['trial_id']}: {t['reason']}" in r.out.replace("\n", " ") or any(
            x.startswith(f"trial {t['trial_id']}: exit code 1") for x in lines
        )


def test_show_wide_top_metrics_and_pipes(wide_job):
    runs, doc = wide_job
    wide = hpt("show", "wide", "--wide", runs_dir=runs, COLUMNS="80")
    header = next(x for x in wide.out.splitlines() if "trial" in x and "state" in x)
    for column in ("learning_rate", "optimizer", "weight_decay", "time", "reason"):
        assert column in header
    assert max(cell_len(x) for x in wide.out.splitlines()) > 80
    # In a pipe without COLUMNS nothing is cut or folded either.
    piped = hpt("show", "wide", runs_dir=runs)
    assert "reason" in next(x for x in piped.out.splitlines() if "trial" in x and "state" in x)
    top = hpt("show", "wide", "--top", "2", "--metrics", runs_dir=runs, COLUMNS="120")
    assert "the best 2 of 8 trials (--top)" in top.out
    assert "train:step" in top.out
    best_id = doc["best"]["trial_id"]
    assert f"* {best_id}" in top.out
    rows = [x for x in top.out.splitlines() if x.startswith("│")]
    assert len(rows) == 2
    listed = {t["trial_id"]: t for t in doc["trial_list"]}
    assert listed[best_id]["metrics"] == {"validation:loss": doc["best"]["objective"], "train:step": 3.0}


def test_best_prints_the_exact_argv_and_env_of_the_best_trial(wide_job):
    runs, doc = wide_job
    best = doc["best"]
    argv = hpt("best", "wide", "--format", "argv", runs_dir=runs)
    assert argv.code == 0, argv.err
    words = shlex.split(argv.out)
    recorded = json.loads((runs / "wide" / "trials" / f"{best['trial_id']:04d}" / "argv.json").read_text())
    assert words[0] == "python" and words[1] == str(FAKE) and words[2:] == recorded
    assert "--fail-if-x-below" in words and "0.35" in words  # static flags, as run
    env = hpt("best", "wide", "--format", "env", runs_dir=runs)
    pairs = dict(line.split("=", 1) for line in env.out.splitlines())
    assert pairs["HPT_TRIAL_ID"] == str(best["trial_id"])
    assert shlex.split(pairs["MY_FLAG"]) == [f"on-{best['hyperparameters']['optimizer']}"]


def test_an_unquoted_placeholder_says_how_to_quote_it():
    with pytest.raises(SpecError) as info:
        parse_spec(
            """
name: q
command: [python, train.py, --lr, {lr}, --fmt, {lr:.2e}]
objective: {metric: loss, type: minimize}
metrics: [{name: loss, regex: 'loss=(.*)'}]
parameters: {lr: {type: continuous, min: 0.001, max: 0.1}}
limits: {max_jobs: 2}
""",
            "q.yaml",
        )
    messages = [str(p) for p in info.value.problems]
    assert messages[0].startswith("command[3] (line 3, col 35): YAML reads the unquoted {lr} as a mapping")
    assert messages[0].endswith('quote the placeholder: "{lr}"')
    assert messages[1].endswith('quote the placeholder: "{lr:.2e}"')
    with pytest.raises(SpecError) as info:
        parse_spec("name: q\ncommand: [python, --lr={lr}]\n", "q.yaml")
    assert 'a {placeholder} must be quoted, the whole element: [python, train.py, "--lr={lr}"]' in str(
        info.value.problems[0]
    )


def test_shell_completion_is_enabled_and_completes_job_names(runs, write_spec):
    assert "--install-completion" in hpt("--help").out
    assert hpt("run", write_spec(fake_spec("comp")), "--runs-dir", runs, "-q").code == 0
    r = hpt(
        runs_dir=runs,
        _HPT_COMPLETE="complete_bash",
        COMP_WORDS="hpt show co",
        COMP_CWORD="2",
    )
    assert r.out.split() == ["comp"]
    r = hpt(_HPT_COMPLETE="complete_bash", COMP_WORDS="hpt sh", COMP_CWORD="1")
    assert r.out.split() == ["show"]


def test_delete_and_restart(write_spec, runs, tmp_path):
    path = write_spec(fake_spec("again").replace("max_jobs: 4", "max_jobs: 2"))
    assert hpt("run", path, "--runs-dir", runs, "-q").code == 0
    # Not at a terminal, deleting needs --yes.
    r = hpt("delete", "again", runs_dir=runs)
    assert r.code == 2 and "without --yes" in r.err and (runs / "again" / "job.db").exists()
    # A running job (its lock held) is refused.
    lock = JobLock(runs / "again")
    lock.acquire("again")
    try:
        r = hpt("delete", "again", "--yes", runs_dir=runs)
        assert r.code == 2 and "already running" in r.err
        r = hpt("run", path, "--runs-dir", runs, "--restart", "-q")
        assert r.code == 2 and "already running" in r.err
    finally:
        lock.release()
    # --restart deletes the finished job (which `hpt run` alone refuses to run again) and starts over.
    r = hpt("run", path, "--runs-dir", runs, "--restart", "-o", "json")
    assert r.code == 0, r.err
    assert "deleted the existing job again (Completed, 2 trials): starting over" in r.err
    assert r.json()["trials"] == 2
    r = hpt("delete", "again", "--yes", runs_dir=runs)
    assert r.code == 0 and "deleted job again (Completed, 2 trials)" in r.err
    assert not (runs / "again").exists() and not [p for p in runs.iterdir() if p.name.startswith(".")]
    assert hpt("delete", "again", "--yes", runs_dir=runs).code == 2  # no such job


def test_delete_never_follows_a_symlink_out_of_the_runs_directory(write_spec, runs, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    path = write_spec(fake_spec("precious"))
    assert hpt("run", path, "--runs-dir", elsewhere, "-q").code == 0
    os.symlink(elsewhere / "precious", runs / "precious")
    r = hpt("delete", "precious", "--yes", runs_dir=runs)
    assert r.code == 2 and "symbolic link" in r.err
    assert (elsewhere / "precious" / "job.db").exists()
    r = hpt("delete", "../elsewhere", "--yes", runs_dir=runs)
    assert r.code == 2 and "invalid job name" in r.err


def test_a_running_trials_current_step_shows_from_another_shell(write_spec, runs):
    path = write_spec(
        fake_spec("live", args=', --steps, "100", --sleep, "0.1"')
        .replace("max_jobs: 4", "max_jobs: 1")
        .replace("max_parallel_jobs: 2", "max_parallel_jobs: 1")
    )
    proc = hpt_start(
        "run", path, "--runs-dir", runs, "-q", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:

        def current():
            r = hpt("show", "live", "-o", "json", runs_dir=runs)
            if r.code != 0:
                return None
            t = r.json()["trial_list"][0] if r.json()["trial_list"] else None
            return t if t and t["current"] and t["current"]["step"] >= 2 else None

        t = wait_for(current, what="a point of the running trial")
        assert t["state"] == "running" and t["metrics"]["loss"] == t["current"]["value"]
        shown = hpt("show", "live", runs_dir=runs, COLUMNS="100")
        row = next(x for x in shown.out.splitlines() if " running " in x)
        _, _, state, value, step, *_ = [c.strip() for c in row.split("│")]
        # The trial moved on meanwhile: a later step, and its value there.
        assert state == "running" and int(step) >= t["current"]["step"] and float(value) > 0
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)


def test_output_no_terminal_reads_is_the_text_as_it_is(write_spec, runs):
    """In a pipe (CI, a log file) hpt prints plain lines: a value that looks like rich markup
    is printed as it is, not taken for a style."""
    text = fake_spec(
        "plain",
        args=', --opt, "{optimizer}"',
        params="x: {type: continuous, min: 0.0, max: 1.0}\n  optimizer: {type: categorical, values: ['[bold]adam']}",
    )
    r = hpt("run", write_spec(text), "-q", runs_dir=runs)
    assert r.code == 0, r.err
    assert "    optimizer = [bold]adam" in r.out.splitlines(), r.out


def test_a_console_is_rich_only_where_a_terminal_reads_it(monkeypatch):
    import io

    from hpt import reporting

    for var in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr("sys.stdout", io.StringIO())
    plain = reporting.console()
    assert isinstance(plain, reporting.PlainConsole) and not plain.is_terminal
    plain.print("[red]x[/red] :smile:", style="bold")
    assert plain.file.getvalue() == "[red]x[/red] :smile:\n"
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert isinstance(reporting.console(), reporting.Console)

    class Closed(io.StringIO):
        def write(self, text):
            raise BrokenPipeError

    with pytest.raises(reporting.OutputClosed):
        reporting.PlainConsole(Closed()).print("x")
