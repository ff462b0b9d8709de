"""A job keeps its validated spec in canonical form: read back without validating, compared by
meaning, and jobs written by an older hpt (store version 1) upgraded when opened."""

import json
import shutil
import sqlite3

from conftest import FAKE, hpt

from hpt.spec import CANONICAL_VERSION


def spec_text(name: str, workdir: str, runtime: str) -> str:
    return f"""
name: {name}
command: [python, {FAKE}, --x, "{{x}}"]
workdir: {workdir}
objective: {{metric: loss, type: minimize}}
metrics:
  - {{name: loss, regex: 'loss=([-+0-9.eE]+)'}}
strategy: random
parameters:
  x: {{type: continuous, min: 0.0, max: 1.0}}
limits: {{max_jobs: 2, max_job_runtime: {runtime}}}
random_seed: 3
"""


def test_a_job_is_read_without_validating_again(write_spec, runs, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    spec = write_spec(spec_text("moved", str(work), "1h"))
    assert hpt("run", spec, "--runs-dir", runs, "-q").code == 0
    shutil.rmtree(work)  # the spec would no longer validate: its workdir is gone
    assert hpt("validate", spec).code == 2
    shown = hpt("show", "moved", "-o", "json", runs_dir=runs)
    assert shown.code == 0, shown.err
    assert shown.json()["status"] == "Completed"
    assert hpt("best", "moved", runs_dir=runs).code == 0


def test_the_same_limits_written_differently_are_the_same_job(write_spec, runs, tmp_path):
    a = write_spec(spec_text("same", str(tmp_path), "2h"), "a.yaml")
    b = write_spec(spec_text("same", str(tmp_path), "7200"), "b.yaml")
    assert hpt("run", a, "--runs-dir", runs, "-q").code == 0
    again = hpt("run", b, "--runs-dir", runs, "-q")
    assert again.code == 2 and "already ran" in again.err  # the same job, not a different spec
    c = write_spec(spec_text("same", str(tmp_path), "1h"), "c.yaml")
    other = hpt("run", c, "--runs-dir", runs, "-q")
    assert other.code == 2
    assert "limits.max_job_runtime: 7200.0 -> 3600.0" in other.err


def test_a_version_1_hyperband_job_keeps_the_sampler_it_began_with(write_spec, runs):
    """Hyperband's default sampler was random when version-1 stores were written: a job whose
    spec named none is upgraded with random, not today's default."""
    spec = write_spec(
        f"""
name: oldhb
command: [python, {FAKE}, --x, "{{x}}", --steps, "{{epochs}}"]
objective: {{metric: loss, type: minimize}}
metrics: [{{name: loss, regex: 'loss=([-+0-9.eE]+)'}}]
strategy: hyperband
static: {{epochs: 3}}
parameters: {{x: {{type: continuous, min: 0.0, max: 1.0}}}}
limits: {{max_jobs: 2}}
random_seed: 3
"""
    )
    assert hpt("run", spec, "--runs-dir", runs, "-q").code == 0
    db = runs / "oldhb" / "job.db"
    with sqlite3.connect(db) as conn:
        (form,) = conn.execute("SELECT spec_json FROM job").fetchone()
        assert json.loads(form)["hyperband"]["sampler"] == "bayesian"  # a new job: today's default
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
        raw = {"name": "oldhb", "strategy": "hyperband", "static": {"epochs": 3}}
        conn.execute("UPDATE job SET spec_json = ?", (json.dumps(raw),))
    assert hpt("resume", "oldhb", "--max-jobs", "3", "-q", runs_dir=runs).code == 0  # upgrades the store
    with sqlite3.connect(db) as conn:
        (form,) = conn.execute("SELECT spec_json FROM job").fetchone()
    assert json.loads(form)["hyperband"]["sampler"] == "random"
    again = hpt("run", spec, "--runs-dir", runs, "-q")  # today's default differs: named, refused
    assert again.code == 2 and "hyperband.sampler" in again.err, again.err
    assert "add `sampler: random` under `hyperband`" in again.err


def test_a_version_1_store_is_upgraded_when_opened(write_spec, runs, tmp_path):
    text = spec_text("old", str(tmp_path), "1h")
    spec = write_spec(text)
    assert hpt("run", spec, "--runs-dir", runs, "-q").code == 0
    db = runs / "old" / "job.db"
    # Make it as an older hpt wrote it: the raw YAML data instead of the canonical form.
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
        conn.execute("UPDATE job SET spec_json = ?", (json.dumps({"name": "old", "raw": True}),))
        for column in ("slot", "devices", "argv", "env"):  # what each attempt was launched with
            conn.execute(f"ALTER TABLE attempts DROP COLUMN {column}")
        conn.execute("DROP TABLE prior")  # a version-1 store has no table of warm-start parents
    shown = hpt("show", "old", "-o", "json", runs_dir=runs)  # read-only: read as it is
    assert shown.code == 0 and shown.json()["status"] == "Completed", shown.err
    assert hpt("best", "old", "--format", "argv", runs_dir=runs).code == 1  # not recorded back then
    resumed = hpt("resume", "old", "--max-jobs", "3", "--runs-dir", runs, "-q")  # writes: upgrades
    assert resumed.code == 0, resumed.err
    with sqlite3.connect(db) as conn:
        (version,) = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        (form,) = conn.execute("SELECT spec_json FROM job").fetchone()
        columns = {r[1] for r in conn.execute("PRAGMA table_info(attempts)")}
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert (
        version == "2"
        and json.loads(form)["version"] == CANONICAL_VERSION
        and json.loads(form)["name"] == "old"
    )
    assert {"slot", "devices", "argv", "env"} <= columns and "prior" in tables  # added by the upgrade
    with sqlite3.connect(db) as conn:
        (argv,) = conn.execute("SELECT argv FROM attempts WHERE trial_id = 3").fetchone()
    assert json.loads(argv)[0] == "python"
