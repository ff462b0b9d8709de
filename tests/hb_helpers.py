"""Helpers of the hyperband and median-rule tests: specs and hand-made jobs for the strategy
unit tests, and the CLI run from the repository (conftest's ``hpt``)."""

from __future__ import annotations

from pathlib import Path

import yaml
from conftest import REPO, SCRIPTS, Result, hpt

from hpt.spec import parse_spec
from hpt.strategies import Context
from hpt.trial import Trial

__all__ = ["REPO", "SCRIPTS", "Job", "make_spec", "run_hpt", "show_json"]


def make_spec(strategy: str = "hyperband", maximize: bool = True, **extra):
    """A small valid spec; ``extra`` keys go to the top level (e.g. ``hyperband={...}``)."""
    data = {
        "name": "t",
        "command": ["x", "{args}"],
        "objective": {"metric": "acc", "type": "maximize" if maximize else "minimize"},
        "metrics": [{"name": "acc", "regex": "acc=([-+0-9.eE]+|nan)"}],
        "strategy": strategy,
        "parameters": {"lr": {"type": "continuous", "min": 1e-4, "max": 1.0}},
        "limits": {"max_jobs": 100},
        "random_seed": 1,
    }
    data.update(extra)
    return parse_spec(yaml.safe_dump(data, sort_keys=False), "test.yaml")


class Job:
    """Trials and their objective points as a runner would show them to a strategy."""

    def __init__(self, spec, seed: int = 1):
        self.spec, self.seed = spec, seed
        self.trials: list[Trial] = []
        self.history: dict[int, list[tuple[int, float]]] = {}

    def add(self, state: str, curve=(), bracket: int | None = 0, attempts: int = 1) -> Trial:
        tid = len(self.trials) + 1
        info = {} if bracket is None else {"bracket": bracket}
        t = Trial(tid, state, {"lr": 0.1}, info, attempts)
        self.trials.append(t)
        self.history[tid] = [(i, float(v)) for i, v in enumerate(curve, start=1)]
        return t

    def ctx(self) -> Context:
        return Context(self.spec, self.seed, list(self.trials), self.history)

    def report(self, stopper, trial: Trial, value: float, step: int | None = None) -> str | None:
        """Append one point to a running trial and tell the stopper, as the runner does."""
        points = self.history[trial.id]
        step = step if step is not None else (points[-1][0] + 1 if points else 1)
        points.append((step, float(value)))
        return stopper.on_report(self.ctx(), trial, step, float(value))


def run_hpt(*args, timeout: float = 120) -> Result:
    """The real CLI in a subprocess, run from the repository (example paths are relative to it)."""
    return hpt(*args, cwd=REPO, timeout=timeout)


def show_json(job: str, runs_dir: Path) -> dict:
    r = run_hpt("show", job, "--runs-dir", runs_dir, "-o", "json")
    assert r.code == 0, r.err
    return r.json()
