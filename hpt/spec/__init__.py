"""The spec: the only package that reads YAML, split by stage.

- :mod:`~hpt.spec.model`: the frozen dataclasses of a validated spec, and their defaults;
- :mod:`~hpt.spec.load`: ``load_spec``/``parse_spec``, the entry that runs the stages below;
- :mod:`~hpt.spec.yamlio`: line-aware, safe YAML (YAML 1.2 core scalars, positions, texts);
- :mod:`~hpt.spec.schema_errors`: the JSON Schema and its errors in words, with lines;
- :mod:`~hpt.spec.rules`: the rules a schema cannot express;
- :mod:`~hpt.spec.render`: a trial's argv and environment from the templates;
- :mod:`~hpt.spec.canonical`: the versioned JSON form a job stores, read back without
  validating, and the identity that says whether two specs are the same job.

Every problem is reported at once as ``path (line L, col C): message``.
"""

from __future__ import annotations

from .canonical import CANONICAL_VERSION, from_canonical, to_canonical
from .load import load_spec, parse_spec
from .model import (
    DEFAULT_BRACKETS,
    DEFAULT_GRACE,
    DEFAULT_MIN_STEPS,
    DEFAULT_MIN_TRIALS,
    EPOCH_KEYS,
    RAISABLE_LIMITS,
    STRATEGIES,
    Completion,
    EarlyStoppingRule,
    ExecutorConfig,
    Hyperband,
    InitialPoint,
    Limits,
    Metric,
    Objective,
    Resources,
    SageMakerConfig,
    Spec,
    WarmStart,
)
from .render import TemplateError, Value
from .rules import parse_duration
from .schema_errors import schema

__all__ = [
    "CANONICAL_VERSION",
    "DEFAULT_BRACKETS",
    "DEFAULT_GRACE",
    "DEFAULT_MIN_STEPS",
    "DEFAULT_MIN_TRIALS",
    "EPOCH_KEYS",
    "RAISABLE_LIMITS",
    "STRATEGIES",
    "Completion",
    "EarlyStoppingRule",
    "ExecutorConfig",
    "Hyperband",
    "InitialPoint",
    "Limits",
    "Metric",
    "Objective",
    "Resources",
    "SageMakerConfig",
    "Spec",
    "TemplateError",
    "Value",
    "WarmStart",
    "from_canonical",
    "load_spec",
    "parse_duration",
    "parse_spec",
    "schema",
    "to_canonical",
]
