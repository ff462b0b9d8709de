"""Shared test helpers: run the real `hpt` command, write specs, find the repository."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPTS = Path(__file__).resolve().parent / "scripts"
FAKE = SCRIPTS / "fake_train.py"


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


def cli_env(runs_dir: Path | None = None, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    # Trials call `python`: make it the interpreter running the tests, as in an activated venv.
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.pop("HPT_RUNS_DIR", None)
    # The width of whatever runs the tests is not the width a test asks for (it passes COLUMNS).
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    if runs_dir is not None:
        env["HPT_RUNS_DIR"] = str(runs_dir)
    env.update(extra)
    return env


def hpt(
    *args: str, runs_dir: Path | None = None, cwd: Path | None = None, timeout: float = 120, **env
) -> Result:
    """Run the real hpt command line in a subprocess."""
    proc = subprocess.run(
        [sys.executable, "-m", "hpt", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=cli_env(runs_dir, **env),
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def hpt_start(*args: str, **popen) -> subprocess.Popen:
    """Start the real hpt command line without waiting (text output piped, unless given)."""
    popen = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True, **popen}
    return subprocess.Popen([sys.executable, "-m", "hpt", *map(str, args)], env=cli_env(), **popen)


def wait_for(predicate, timeout: float = 30.0, what: str = "condition"):
    """Poll ``predicate`` until it returns something truthy, and return that."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    d = tmp_path / "runs"
    d.mkdir()
    return d


@pytest.fixture
def write_spec(tmp_path: Path):
    """Write a spec (dedented) into tmp_path and return its path."""

    def write(text: str, name: str = "spec.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        return path

    return write


def fake_spec(
    name: str = "job",
    *,
    args: str = "",
    params: str | None = None,
    limits: str = "",
    extra: str = "",
    strategy: str = "random",
) -> str:
    """A spec around tests/scripts/fake_train.py (fast: no ML import)."""
    params = params or "x: {type: continuous, min: 0.0, max: 1.0}"
    return f"""
name: {name}
command: [python, {FAKE}, --x, "{{x}}" {args}]
objective: {{metric: loss, type: minimize}}
metrics:
  - {{name: loss, regex: 'loss=([-+0-9.eEnaif]+)'}}
strategy: {strategy}
parameters:
  {params}
limits:
  max_jobs: 4
  max_parallel_jobs: 2
  {limits}
random_seed: 1
{extra}
"""


VIEW_JOB = "views"


def views_spec(name: str = VIEW_JOB, *, max_jobs: int = 8, sleep: float = 0.01, steps: int = 9) -> str:
    """A hyperband job of fake_train.py for the report, export and logs tests: two metrics,
    trials that fail (x < 0.15), trials stopped at rungs, and categorical values that are
    hostile to HTML and CSV."""
    return f"""
name: {name}
command: [python, {FAKE}, --x, "{{x}}", --lr, "{{lr}}", --kind, "{{kind}}", --steps, "{{epochs}}",
          --sleep, "{sleep}", --acc, --fail-if-x-below, "0.15"]
static: {{epochs: {steps}}}
objective: {{metric: loss, type: minimize}}
metrics:
  - {{name: loss, regex: 'loss=([-+0-9.eEnaif]+)'}}
  - {{name: acc, regex: 'acc=([-+0-9.eE]+)'}}
strategy: hyperband
hyperband: {{min_resource: 1, eta: 3}}
parameters:
  x: {{type: continuous, min: 0.0, max: 1.0}}
  lr: {{type: continuous, min: 1.0e-4, max: 1.0, scaling: logarithmic}}
  kind: {{type: categorical, values: [a, "b,c", "</script><b>x"]}}
limits: {{max_jobs: {max_jobs}, max_parallel_jobs: {min(2, max_jobs)}}}
random_seed: 3
"""


@pytest.fixture(scope="session")
def views_job(tmp_path_factory) -> Path:
    """The runs directory of one finished real job (``VIEW_JOB``), run with ``--report``;
    shared by the read-only view tests, which must not change it."""
    base = tmp_path_factory.mktemp("views")
    spec = base / "spec.yaml"
    spec.write_text(views_spec())
    runs = base / "runs"
    r = hpt("run", spec, "--runs-dir", runs, "-q", "--report")
    assert r.code == 0, r.err
    return runs
