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
