"""The spec's model: the frozen dataclasses a validated spec is made of, and their defaults.

Nothing here validates: :mod:`hpt.spec.load` builds these from YAML through the schema and the
rules, :mod:`hpt.spec.canonical` from a stored canonical form.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import Problem
from ..space import Space
from . import render as _render
from .render import Value

STRATEGIES = ("grid", "random", "bayesian", "hyperband")
EPOCH_KEYS = ("epochs", "num_epochs", "n_epochs", "numepochs", "n-epochs")
DEFAULT_GRACE = 5.0
#: hyperband uses this many of its most aggressive brackets unless ``hyperband.brackets`` says
#: otherwise (fewer when fewer exist): see docs/strategies.md.
DEFAULT_BRACKETS = 2
#: ``early_stopping_rule`` defaults: the median rule judges no trial before this step...
DEFAULT_MIN_STEPS = 3
#: ...nor before this many earlier trials (completed or stopped) exist.
DEFAULT_MIN_TRIALS = 5
#: Limits that may be raised when a job is resumed; every other field defines the job.
RAISABLE_LIMITS = ("max_jobs", "max_parallel_jobs", "max_runtime")


@dataclass(frozen=True)
class Metric:
    name: str
    regex: str
    pattern: re.Pattern = field(compare=False, repr=False)


@dataclass(frozen=True)
class Objective:
    metric: str
    type: str  # "maximize" | "minimize"
    use: str = "last"  # "last" | "best"

    @property
    def maximize(self) -> bool:
        return self.type == "maximize"

    def better(self, a: float, b: float | None) -> bool:
        """True when ``a`` is strictly better than ``b`` (anything beats None)."""
        if b is None:
            return True
        return a > b if self.maximize else a < b

    def sort_key(self, value: float | None) -> float:
        """Ascending sort key: best first, missing last."""
        if value is None or math.isnan(value):
            return math.inf
        return -value if self.maximize else value


@dataclass(frozen=True)
class Limits:
    max_jobs: int
    max_parallel_jobs: int = 1
    max_runtime: float | None = None
    max_job_runtime: float | None = None
    max_failed_jobs: int | None = None
    max_retries: int = 0
    stop_grace_period: float = DEFAULT_GRACE


@dataclass(frozen=True)
class Hyperband:
    min_resource: int
    max_resource: int
    eta: int = 3
    sampler: str = "bayesian"  # docs/decisions/0016
    brackets: int = DEFAULT_BRACKETS  # how many of the most aggressive brackets are used


@dataclass(frozen=True)
class EarlyStoppingRule:
    """Minimums of the median rule of ``early_stopping: auto``."""

    min_steps: int = DEFAULT_MIN_STEPS
    min_trials: int = DEFAULT_MIN_TRIALS


@dataclass(frozen=True)
class Completion:
    target: float | None = None
    max_jobs_not_improving: int | None = None
    convergence: bool = False


@dataclass(frozen=True)
class ExecutorConfig:
    """Where trials run: ``local`` subprocesses, or a Dask cluster at ``address``."""

    type: str = "local"
    address: str | None = None
    resources: tuple[tuple[str, float], ...] = ()


#: AMT's WarmStartType, in hpt's spelling.
WARM_START_TYPES = ("identical_data_and_algorithm", "transfer_learning")


@dataclass(frozen=True)
class WarmStart:
    """``warm_start``: the parent jobs whose trials inform this job, and how (AMT's
    WarmStartConfig). The parents are checked against the runs directory when the job starts."""

    parents: tuple[str, ...]
    type: str = "identical_data_and_algorithm"

    @property
    def identical(self) -> bool:
        return self.type == "identical_data_and_algorithm"


@dataclass(frozen=True)
class InitialPoint:
    """One of ``initial_points``: values of some (or all) parameters, in declaration order;
    categorical values as their text, numbers as given."""

    values: tuple[tuple[str, Any], ...]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.values)


@dataclass(frozen=True)
class SageMakerConfig:
    """``sagemaker``: SageMaker script mode (the SM_* environment) and its input channels,
    name -> directory as written (relative to the workdir)."""

    env: bool = True
    channels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Resources:
    """GPUs for trials: the devices (``None``: ``auto``, found when a run starts) and how many
    (or what share of one) each trial uses. See :mod:`hpt.devices`."""

    gpus: tuple[str, ...] | None = None
    gpus_per_trial: float = 1.0


@dataclass(frozen=True)
class Spec:
    """A validated, immutable tuning job spec."""

    name: str
    command: tuple[str, ...]
    workdir: Path
    env: tuple[tuple[str, str], ...]
    static: tuple[tuple[str, Value], ...]
    objective: Objective
    metrics: tuple[Metric, ...]
    strategy: str
    space: Space
    limits: Limits
    early_stopping: str = "off"
    hyperband: Hyperband | None = None
    early_stopping_rule: EarlyStoppingRule = EarlyStoppingRule()
    completion: Completion = Completion()
    executor: ExecutorConfig = ExecutorConfig()
    resources: Resources | None = None
    random_seed: int | None = None
    warm_start: WarmStart | None = None
    initial_points: tuple[InitialPoint, ...] = ()
    sagemaker: SageMakerConfig | None = None
    data: dict = field(default_factory=dict, compare=False, repr=False)
    text: str = field(default="", compare=False, repr=False)
    source: str = field(default="<spec>", compare=False)
    base_dir: Path = field(default=Path("."), compare=False)
    warnings: tuple[Problem, ...] = field(default=(), compare=False)

    @property
    def static_values(self) -> dict[str, Value]:
        return dict(self.static)

    @property
    def arg_names(self) -> list[str]:
        """What ``{args}`` expands to, in order: tuned parameters, then static ones."""
        return self.space.names + [k for k, _ in self.static]

    def placeholder_values(self, params: dict[str, Any], builtins: dict[str, str]) -> dict[str, Value]:
        return _render.placeholder_values(self, params, builtins)

    def render(self, params: dict[str, Any], builtins: dict[str, str]) -> tuple[list[str], dict[str, str]]:
        """argv and extra environment of one trial."""
        return _render.trial_command(self, params, builtins)

    def objective_metric(self) -> Metric:
        return next(m for m in self.metrics if m.name == self.objective.metric)
