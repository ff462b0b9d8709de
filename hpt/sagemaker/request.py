"""A SageMaker tuning-job request in and out: ``hpt import sagemaker`` and
``hpt export JOB --format sagemaker``.

:func:`request_to_spec` turns a ``CreateHyperParameterTuningJob`` request (the shape of
``aws sagemaker create-hyper-parameter-tuning-job --generate-cli-skeleton``, or a
``DescribeHyperParameterTuningJob`` response) into the text of an hpt spec: the strategy (with
``HyperbandStrategyConfig``), the objective, every range with its scaling, the resource
limits, early stopping, the completion criteria, the random seed, warm start, and from the
training job definition the static hyperparameters, metric definitions, environment, stopping
condition and retry strategy. What has no local meaning (images, instance types, roles, VPC,
S3 locations) is kept as comments at the end of the spec and named in the warnings.
:func:`spec_to_request` writes a spec back as a request, with what hpt knows.

Values in the API are strings; the spec keeps them as written. String values the SageMaker
SDK JSON-encodes for framework estimators (``"\\"rbf\\""``) are decoded, as the training
toolkit does.
"""

from __future__ import annotations

import copy
import json
import math
import re
import shlex
from typing import Any

from ..errors import UsageError
from ..space import CATEGORICAL, CONTINUOUS, INTEGER

_STRATEGY = {"Bayesian": "bayesian", "Random": "random", "Hyperband": "hyperband", "Grid": "grid"}
_SCALING = {
    "Auto": "auto",
    "Linear": "linear",
    "Logarithmic": "logarithmic",
    "ReverseLogarithmic": "reverse_logarithmic",
}
_WARM = {"IdenticalDataAndAlgorithm": "identical_data_and_algorithm", "TransferLearning": "transfer_learning"}
_RANGES = (
    ("IntegerParameterRanges", INTEGER),
    ("ContinuousParameterRanges", CONTINUOUS),
    ("CategoricalParameterRanges", CATEGORICAL),
)
#: Fields of a DescribeHyperParameterTuningJob response that describe a run, not a request.
_RESPONSE_ONLY = (
    "HyperParameterTuningJobArn",
    "HyperParameterTuningJobStatus",
    "CreationTime",
    "HyperParameterTuningEndTime",
    "LastModifiedTime",
    "TrainingJobStatusCounters",
    "ObjectiveStatusCounters",
    "BestTrainingJob",
    "OverallBestTrainingJob",
    "FailureReason",
    "TuningJobCompletionDetails",
    "ConsumedResources",
    "ResponseMetadata",
)
#: A static hyperparameter AMT adds itself, and the prefix of those the SageMaker SDK adds for
#: its framework containers: none of them means anything to a local script.
_SAGEMAKER_STATIC = ("_tuning_objective_metric",)
_SAGEMAKER_PREFIX = "sagemaker_"
#: AMT's job-name rule (HyperParameterTuningJobName).
_AMT_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}$")
_NUMBER = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_PLAIN = re.compile(r"^[A-Za-z0-9_./][A-Za-z0-9_./+-]*$")


# --------------------------------------------------------------------------- YAML text


def scalar(text: str) -> str:
    """``text`` as a YAML scalar that hpt reads back with exactly this text: plain when that is
    safe, else double-quoted (JSON string syntax is valid YAML)."""
    if _PLAIN.fullmatch(text) and text.lower() not in ("null", "~"):
        return text
    return json.dumps(text)


def _flow(items: list[str]) -> str:
    return "[" + ", ".join(items) + "]"


def _regex(text: str) -> str:
    """A regex in YAML single quotes, where a backslash is itself."""
    return "'" + text.replace("'", "''") + "'"


# --------------------------------------------------------------------------- reading a request

_CONFIG = "HyperParameterTuningJobConfig"


def _take(tree: dict, path: tuple, default: Any = None) -> Any:
    """Remove and return the value at ``path`` (``default`` when absent)."""
    node = tree
    for key in path[:-1]:
        node = node.get(key) if isinstance(node, dict) else None
    if not isinstance(node, dict) or path[-1] not in node:
        return default
    return node.pop(path[-1])


def _drop_empty(tree: dict, path: tuple) -> None:
    node = tree
    for key in path[:-1]:
        node = node.get(key) if isinstance(node, dict) else None
    if isinstance(node, dict) and isinstance(node.get(path[-1]), dict) and not node[path[-1]]:
        del node[path[-1]]


def _decode(value: str) -> str | None:
    """The string inside a JSON-encoded string value (the SDK's ``"\\"rbf\\""``), else None."""
    if len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            inner = json.loads(value)
        except ValueError:
            return None
        return inner if isinstance(inner, str) else None
    return None


def _int(value: Any, where: str) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UsageError(f"{where}: expected an integer (got {json.dumps(value)})") from None
    if not number.is_integer():
        raise UsageError(f"{where}: expected an integer (got {json.dumps(value)})")
    return int(number)


def _number(text: Any, where: str, integer: bool) -> str:
    """A range bound as spec text: the request's own text when it is a plain number."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        text = repr(text) if isinstance(text, float) else str(text)
    if not isinstance(text, str):
        raise UsageError(f"{where}: expected a number as a string (got {json.dumps(text)})")
    try:
        value = float(text.strip())
    except ValueError:
        raise UsageError(f"{where}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise UsageError(f"{where}: {text!r} is not a finite number")
    if integer:
        if not value.is_integer():
            raise UsageError(f"{where}: {text!r} is not an integer")
        return str(int(value))
    return text.strip() if _NUMBER.fullmatch(text.strip()) else repr(value)


class _Import:
    """One request being turned into spec lines. Values are taken out of ``left`` (the request)
    and ``definition`` (its one training job definition) as they are mapped, so that what is
    left at the end is what has no local meaning."""

    def __init__(self, request: dict):
        self.left = copy.deepcopy(request)
        self.best = self.left.get("BestTrainingJob")
        for key in _RESPONSE_ONLY:
            self.left.pop(key, None)
        if not isinstance(self.left.get(_CONFIG), dict):
            raise UsageError(f"the request has no {_CONFIG} (is it a CreateHyperParameterTuningJob request?)")
        self.definition, self.dpath = self._one_definition()
        self.warnings: list[str] = []
        self.decoded: list[str] = []
        self.skipped: dict[str, Any] = {}  # SageMaker's own static hyperparameters
        self.combos = 1  # the grid's size

    def _one_definition(self) -> tuple[dict, str]:
        single = self.left.pop("TrainingJobDefinition", None)
        many = self.left.pop("TrainingJobDefinitions", None)
        if single is not None and many is not None:
            raise UsageError(
                "the request has both TrainingJobDefinition and TrainingJobDefinitions; keep one"
            )
        if many is None:
            return (single if isinstance(single, dict) else {}), "TrainingJobDefinition"
        if not isinstance(many, list) or len(many) != 1:
            n = len(many) if isinstance(many, list) else "?"
            raise UsageError(
                f"TrainingJobDefinitions has {n} definitions; hpt tunes one training command "
                "(import each definition as its own request)"
            )
        return (many[0] if isinstance(many[0], dict) else {}), "TrainingJobDefinitions[0]"

    def config(self, *path: str, default: Any = None) -> Any:
        return _take(self.left, (_CONFIG, *path), default)

    def job(self, *path: str, default: Any = None) -> Any:
        return _take(self.definition, path, default)

    def text(self, value: Any, where: str) -> str:
        """An API value (a string) as the spec writes it; a JSON-encoded string decoded."""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float)):
            return repr(value) if isinstance(value, float) else str(value)
        if not isinstance(value, str):
            raise UsageError(f"{where}: expected a string (got {json.dumps(value)})")
        inner = _decode(value)
        if inner is None:
            return value
        self.decoded.append(where)
        return inner

    # ------------------------------------------------------------------ sections

    def environment(self) -> list[str]:
        env = self.job("Environment") or {}
        lines = [
            f"  {scalar(k)}: {scalar(self.text(v, f'{self.dpath}.Environment.{k}'))}" for k, v in env.items()
        ]
        return ["env:", *lines] if lines else []

    def static(self) -> list[str]:
        lines = []
        for k, v in (self.job("StaticHyperParameters") or {}).items():
            if k in _SAGEMAKER_STATIC or k.startswith(_SAGEMAKER_PREFIX):
                self.skipped[k] = v
            else:
                lines.append(
                    f"  {scalar(k)}: {scalar(self.text(v, f'{self.dpath}.StaticHyperParameters.{k}'))}"
                )
        if self.skipped:
            self.warnings.append(
                f"{self.dpath}.StaticHyperParameters {', '.join(self.skipped)}: set by SageMaker for its own "
                "containers; left out (kept as comments)"
            )
        return ["static:", *lines] if lines else []

    def objective(self) -> list[str]:
        # With several definitions AMT keeps the objective in the definition (TuningObjective).
        objective = self.config("HyperParameterTuningJobObjective") or self.job("TuningObjective")
        if not isinstance(objective, dict) or "MetricName" not in objective:
            raise UsageError("the request has no HyperParameterTuningJobObjective with a MetricName")
        metric = str(objective["MetricName"])
        direction = str(objective.get("Type", "Maximize")).lower()
        if direction not in ("maximize", "minimize"):
            raise UsageError(
                "HyperParameterTuningJobObjective.Type must be Maximize or Minimize "
                f"(got {objective.get('Type')!r})"
            )
        definitions = self.job("AlgorithmSpecification", "MetricDefinitions") or []
        if not any(isinstance(m, dict) and m.get("Name") == metric for m in definitions):
            definitions = [
                *definitions,
                {"Name": metric, "Regex": re.escape(metric) + r"[=: ]+([-+0-9.eE]+)"},
            ]
            self.warnings.append(
                f"no MetricDefinition for the objective {metric!r} (a built-in algorithm's metric?): a regex "
                f"for lines such as `{metric}=0.93` was written; check it with `hpt check-metrics`"
            )
        metrics = [
            f"  - {{name: {scalar(str(m.get('Name', '')))}, regex: {_regex(str(m.get('Regex', '')))}}}"
            for m in definitions
        ]
        return [f"objective: {{metric: {scalar(metric)}, type: {direction}}}", "metrics:", *metrics]

    def strategy(self) -> tuple[str, list[str]]:
        name = self.config("Strategy", default="Bayesian")
        if name not in _STRATEGY:
            raise UsageError(f"Strategy must be one of {', '.join(_STRATEGY)} (got {name!r})")
        lines = [f"strategy: {_STRATEGY[name]}"]
        hb = self.config("StrategyConfig", "HyperbandStrategyConfig")
        _drop_empty(self.left, (_CONFIG, "StrategyConfig"))
        if isinstance(hb, dict) and name == "Hyperband":
            parts = [
                f"{key}: {_int(hb[field], f'HyperbandStrategyConfig.{field}')}"
                for field, key in (("MinResource", "min_resource"), ("MaxResource", "max_resource"))
                if field in hb
            ]
            if parts:
                lines.append(f"hyperband: {{{', '.join(parts)}}}")
        return _STRATEGY[name], lines

    def parameters(self) -> list[str]:
        ranges = self.config("ParameterRanges") or self.job("HyperParameterRanges") or {}
        rpath = f"{_CONFIG}.ParameterRanges"
        lines = []
        for key, kind in _RANGES:
            for i, p in enumerate(ranges.pop(key, None) or []):
                lines.append(
                    f"  {scalar(str(p.get('Name', '')))}: {{{self._range(p, kind, f'{rpath}.{key}[{i}]')}}}"
                )
        if ranges.get("AutoParameters"):
            self.warnings.append(
                f"{rpath}.AutoParameters: hpt needs explicit ranges; left out (kept as comments)"
            )
            self.left.setdefault(_CONFIG, {})["ParameterRanges"] = {
                "AutoParameters": ranges.pop("AutoParameters")
            }
        if not lines:
            raise UsageError("the request has no ParameterRanges to tune")
        return ["parameters:", *lines]

    def _range(self, p: dict, kind: str, where: str) -> str:
        if kind == CATEGORICAL:
            values = [
                scalar(self.text(v, f"{where}.Values[{j}]")) for j, v in enumerate(p.get("Values") or [])
            ]
            self.combos *= max(len(values), 1)
            return f"type: categorical, values: {_flow(values)}"
        lo = _number(p.get("MinValue"), f"{where}.MinValue", kind == INTEGER)
        hi = _number(p.get("MaxValue"), f"{where}.MaxValue", kind == INTEGER)
        scaling = p.get("ScalingType")
        if scaling is None:
            return f"type: {kind}, min: {lo}, max: {hi}"
        if scaling not in _SCALING:
            raise UsageError(f"{where}.ScalingType must be one of {', '.join(_SCALING)} (got {scaling!r})")
        return f"type: {kind}, min: {lo}, max: {hi}, scaling: {_SCALING[scaling]}"

    def limits(self, strategy: str) -> list[str]:
        where = f"{_CONFIG}.ResourceLimits"
        max_jobs = self.config("ResourceLimits", "MaxNumberOfTrainingJobs")
        parallel = self.config("ResourceLimits", "MaxParallelTrainingJobs")
        runtime = self.config("ResourceLimits", "MaxRuntimeInSeconds")
        _drop_empty(self.left, (_CONFIG, "ResourceLimits"))
        if max_jobs is not None:
            max_jobs = _int(max_jobs, f"{where}.MaxNumberOfTrainingJobs")
        if strategy == "grid" and max_jobs is not None and max_jobs != self.combos:
            self.warnings.append(
                f"MaxNumberOfTrainingJobs {max_jobs} is not the grid's {self.combos} combinations: left out "
                "(a grid runs every combination once)"
            )
            max_jobs = None
        elif strategy != "grid" and max_jobs is None:
            max_jobs = 1
            self.warnings.append(
                "no MaxNumberOfTrainingJobs: max_jobs is 1 (the SageMaker SDK's default); raise it"
            )
        lines = []
        if max_jobs is not None:
            lines.append(f"max_jobs: {max_jobs}")
        if parallel is not None:
            parallel = _int(parallel, f"{where}.MaxParallelTrainingJobs")
            if max_jobs is not None and parallel > max_jobs:
                self.warnings.append(
                    f"MaxParallelTrainingJobs {parallel} is more than max_jobs: lowered to {max_jobs}"
                )
                parallel = max_jobs
            lines.append(f"max_parallel_jobs: {parallel}")
        if runtime is not None:
            lines.append(f"max_runtime: {_int(runtime, f'{where}.MaxRuntimeInSeconds')}")
        job_runtime = self.job("StoppingCondition", "MaxRuntimeInSeconds")
        _drop_empty(self.definition, ("StoppingCondition",))
        if job_runtime is not None:
            lines.append(
                f"max_job_runtime: {_int(job_runtime, f'{self.dpath}.StoppingCondition.MaxRuntimeInSeconds')}"
            )
        retries = self.job("RetryStrategy", "MaximumRetryAttempts")
        _drop_empty(self.definition, ("RetryStrategy",))
        if retries is not None:
            retries = _int(retries, f"{self.dpath}.RetryStrategy.MaximumRetryAttempts")
            lines.append(f"max_retries: {retries}")
            self.warnings.append(
                "RetryStrategy: SageMaker retries only internal errors; hpt retries any failed attempt "
                f"up to max_retries ({retries})"
            )
        return ["limits:", *(f"  {x}" for x in lines)]

    def search_settings(self) -> list[str]:
        """Early stopping, completion criteria and the random seed."""
        lines = []
        early = self.config("TrainingJobEarlyStoppingType", default="Off")
        if early not in ("Off", "Auto"):
            raise UsageError(f"TrainingJobEarlyStoppingType must be Off or Auto (got {early!r})")
        if early == "Auto":
            lines.append("early_stopping: auto")
        criteria = self.config("TuningJobCompletionCriteria") or {}
        where = f"{_CONFIG}.TuningJobCompletionCriteria"
        completion = []
        target = criteria.get("TargetObjectiveMetricValue")
        if target is not None:
            try:
                completion.append(f"target: {float(target)!r}")
            except (TypeError, ValueError):
                raise UsageError(
                    f"{where}.TargetObjectiveMetricValue: expected a number (got {target!r})"
                ) from None
        not_improving = (criteria.get("BestObjectiveNotImproving") or {}).get(
            "MaxNumberOfTrainingJobsNotImproving"
        )
        if not_improving is not None:
            completion.append(
                f"max_jobs_not_improving: {_int(not_improving, f'{where}.BestObjectiveNotImproving')}"
            )
        if (criteria.get("ConvergenceDetected") or {}).get("CompleteOnConvergence") == "Enabled":
            completion.append("convergence: true")
        if completion:
            lines.append(f"completion: {{{', '.join(completion)}}}")
        seed = self.config("RandomSeed")
        if seed is not None:
            lines.append(f"random_seed: {_int(seed, f'{_CONFIG}.RandomSeed')}")
        return lines

    def warm_start(self) -> list[str]:
        warm = self.left.pop("WarmStartConfig", None)
        if not isinstance(warm, dict):
            return []
        parents = [
            scalar(str(p.get("HyperParameterTuningJobName", "")))
            for p in warm.get("ParentHyperParameterTuningJobs") or []
            if isinstance(p, dict)
        ]
        kind = _WARM.get(warm.get("WarmStartType"), "identical_data_and_algorithm")
        self.warnings.append(
            "warm_start: the parent jobs must be hpt jobs of the same names in the runs directory "
            "(import and run each parent first)"
        )
        return [f"warm_start: {{parents: {_flow(parents)}, type: {kind}}}"]

    def script_mode(self, channels: dict[str, str]) -> list[str]:
        """``sagemaker``: the SM_* environment, and the channels given local directories; the
        others are comments with their S3 location."""
        inputs = [c for c in self.job("InputDataConfig") or [] if isinstance(c, dict)]
        names = [c.get("ChannelName") for c in inputs]
        unknown = [k for k in channels if k not in names]
        if unknown and inputs:
            self.warnings.append(
                f"--channel {', '.join(unknown)}: not an input channel of the request ({', '.join(map(str, names))})"
            )
        pending = []
        for c in inputs:
            if c.get("ChannelName") in channels:
                continue
            uri = ((c.get("DataSource") or {}).get("S3DataSource") or {}).get("S3Uri") or "no S3 location"
            pending.append(f"  #   {c.get('ChannelName')}: DIR   # {uri}")
            self.warnings.append(
                f"input channel {c.get('ChannelName')!r} ({uri}): give it a local directory with "
                f"--channel {c.get('ChannelName')}=DIR (left as a comment)"
            )
        lines = ["sagemaker:", "  env: true"]
        if channels:
            lines += ["  channels:", *(f"    {scalar(k)}: {scalar(v)}" for k, v in channels.items())]
        elif pending:
            lines.append("  # channels:")
        return lines + pending

    def best_job(self) -> list[str]:
        """A Describe response's best training job, as an initial point to uncomment."""
        tuned = self.best.get("TunedHyperParameters") if isinstance(self.best, dict) else None
        if not isinstance(tuned, dict):
            return []
        values = ", ".join(
            f"{scalar(k)}: {scalar((_decode(v) or v) if isinstance(v, str) else str(v))}"
            for k, v in tuned.items()
        )
        return [
            "",
            f"# The best training job on SageMaker ({self.best.get('TrainingJobName', '?')}); to run it first:",
            f"# initial_points: [{{{values}}}]",
        ]

    def leftovers(self) -> list[str]:
        """What was not mapped, as comments."""
        _drop_empty(self.definition, ("AlgorithmSpecification",))
        _drop_empty(self.left, (_CONFIG,))
        rest = dict(self.left)
        if self.definition:
            rest[self.dpath] = self.definition
        if self.skipped:
            rest.setdefault(self.dpath, {}).setdefault("StaticHyperParameters", {}).update(self.skipped)
        if not rest:
            return []
        groups = sorted({_group(k) for k in _flat_keys(rest)} - {f"{self.dpath}.StaticHyperParameters"})
        if groups:
            self.warnings.append(f"no local meaning, kept as comments: {', '.join(groups)}")
        return [
            "",
            "# From the request, without a local meaning:",
            *(f"#   {line}" for line in _flatten(rest)),
        ]


def request_to_spec(
    request: dict,
    command: str,
    *,
    channels: dict[str, str] | None = None,
    workdir: str | None = None,
    name: str | None = None,
    source: str = "the request",
) -> tuple[str, list[str]]:
    """The text of an hpt spec for a SageMaker tuning-job request, and the warnings to show.

    ``command`` is the training command (``{args}`` passes every hyperparameter as ``--name
    value``, as SageMaker passes them to a script); ``channels`` maps input channel names to
    local directories (relative to ``workdir``); ``workdir`` is written as the spec's workdir
    (relative to where the spec will be). Raises :class:`~hpt.errors.UsageError` for a request
    that cannot be read.
    """
    if not isinstance(request, dict):
        raise UsageError("a tuning-job request is a JSON object")
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise UsageError(f"--command: cannot split it: {exc}") from None
    if not argv:
        raise UsageError("--command is empty")
    job = _Import(request)
    job_name = name or job.left.pop("HyperParameterTuningJobName", None)
    if not job_name:
        job_name = "sagemaker-import"
        job.warnings.append(f"the request names no job: it is called {job_name!r} (use --name)")
    out = [
        f"# Imported by `hpt import sagemaker` from {source}.",
        "# Settings without a local meaning are kept as comments at the end.",
        f"name: {scalar(str(job_name))}",
        f"command: {_flow([scalar(a) for a in argv])}",
    ]
    if workdir is not None:
        out.append(f"workdir: {scalar(workdir)}")
    out += job.environment() + job.static() + job.objective()
    strategy, lines = job.strategy()
    out += lines + job.parameters() + job.limits(strategy) + job.search_settings() + job.warm_start()
    out += job.script_mode(dict(channels or {})) + job.best_job() + job.leftovers()
    if job.decoded:
        job.warnings.append(
            f"decoded {len(job.decoded)} JSON-encoded string value(s) (the SageMaker SDK's encoding), "
            f"e.g. {job.decoded[0]}"
        )
    return "\n".join(out) + "\n", job.warnings


def _flat_keys(tree: Any, prefix: str = "") -> list[str]:
    if isinstance(tree, dict) and tree:
        return [k for key, v in tree.items() for k in _flat_keys(v, f"{prefix}.{key}" if prefix else key)]
    return [prefix]


def _group(key: str) -> str:
    """A flattened key's group: its first two levels (``TrainingJobDefinition.ResourceConfig``)."""
    parts = key.split(".")
    if parts[0].startswith("TrainingJobDefinition") and len(parts) > 1:
        return ".".join(parts[:2])
    return parts[0]


def _flatten(tree: Any, prefix: str = "") -> list[str]:
    if isinstance(tree, dict) and tree:
        return [line for k, v in tree.items() for line in _flatten(v, f"{prefix}.{k}" if prefix else k)]
    text = json.dumps(tree, ensure_ascii=False)
    return [f"{prefix}: {text}".replace("\n", " ")]


# --------------------------------------------------------------------------- writing a request


def _spec_texts(text: str | None):
    """The scalar texts of a spec's YAML (for bounds exactly as written), or an empty map."""
    from ..spec.yamlio import load_valid

    doc = load_valid(text)
    return doc.texts if doc is not None else {}


def _bound(p, key: str, texts: dict) -> str:
    value = p.low if key == "min" else p.high
    if p.kind == INTEGER:
        return str(int(value))
    written = texts.get(("parameters", p.name, key))
    if written is not None:
        try:
            if float(written) == value:
                return written
        except ValueError:
            pass
    return repr(float(value))


def spec_to_request(spec, text: str | None = None) -> tuple[dict[str, Any], list[str]]:
    """A ``CreateHyperParameterTuningJob`` request for a spec, and warnings: what hpt has no
    SageMaker field for, and the fields SageMaker requires that a spec does not know (role,
    training image, instances, S3 locations). ``text``, the spec's YAML, gives the range
    bounds exactly as written."""
    from ..spec import DEFAULT_BRACKETS, DEFAULT_GRACE, EarlyStoppingRule

    warnings: list[str] = []
    texts = _spec_texts(text or spec.text)
    if not _AMT_NAME.fullmatch(spec.name):
        warnings.append(
            f"job name {spec.name!r} is not a valid HyperParameterTuningJobName "
            "(1-32 letters, digits and hyphens, starting and ending with a letter or digit)"
        )
    ranges: dict[str, list] = {key: [] for key, _ in _RANGES}
    for p in spec.space.params:
        if p.kind == CATEGORICAL:
            ranges["CategoricalParameterRanges"].append({"Name": p.name, "Values": list(p.values)})
            continue
        key = "IntegerParameterRanges" if p.kind == INTEGER else "ContinuousParameterRanges"
        scaling = {v: k for k, v in _SCALING.items()}[p.requested_scaling]
        ranges[key].append(
            {
                "Name": p.name,
                "MinValue": _bound(p, "min", texts),
                "MaxValue": _bound(p, "max", texts),
                "ScalingType": scaling,
            }
        )
    limits: dict[str, Any] = {
        "MaxNumberOfTrainingJobs": spec.limits.max_jobs,
        "MaxParallelTrainingJobs": spec.limits.max_parallel_jobs,
    }
    if spec.limits.max_runtime is not None:
        limits["MaxRuntimeInSeconds"] = int(round(spec.limits.max_runtime))
    config: dict[str, Any] = {
        "Strategy": {v: k for k, v in _STRATEGY.items()}[spec.strategy],
        "HyperParameterTuningJobObjective": {
            "Type": spec.objective.type.capitalize(),
            "MetricName": spec.objective.metric,
        },
        "ResourceLimits": limits,
        "ParameterRanges": {k: v for k, v in ranges.items() if v},
        "TrainingJobEarlyStoppingType": "Auto" if spec.early_stopping == "auto" else "Off",
    }
    if spec.hyperband is not None:
        hb = spec.hyperband
        config["StrategyConfig"] = {
            "HyperbandStrategyConfig": {"MinResource": hb.min_resource, "MaxResource": hb.max_resource}
        }
        if hb.eta != 3 or hb.brackets != DEFAULT_BRACKETS or hb.sampler != "random":
            warnings.append(
                f"hyperband eta {hb.eta}, brackets {hb.brackets}, sampler {hb.sampler}: AMT does not publish or "
                "take these (its Hyperband draws configurations at random)"
            )
    c = spec.completion
    criteria: dict[str, Any] = {}
    if c.target is not None:
        criteria["TargetObjectiveMetricValue"] = c.target
    if c.max_jobs_not_improving is not None:
        criteria["BestObjectiveNotImproving"] = {
            "MaxNumberOfTrainingJobsNotImproving": c.max_jobs_not_improving
        }
    if c.convergence:
        criteria["ConvergenceDetected"] = {"CompleteOnConvergence": "Enabled"}
    if criteria:
        config["TuningJobCompletionCriteria"] = criteria
    if spec.random_seed is not None:
        config["RandomSeed"] = spec.random_seed

    algorithm: dict[str, Any] = {
        "TrainingInputMode": "File",
        "MetricDefinitions": [{"Name": m.name, "Regex": m.regex} for m in spec.metrics],
    }
    for m in spec.metrics:
        if m.pattern.groupindex:
            warnings.append(
                f"metric {m.name!r}: SageMaker takes the first capture group of {m.regex!r}; "
                "hpt's named groups (value, step) mean nothing there"
            )
    definition: dict[str, Any] = {"AlgorithmSpecification": algorithm}
    if spec.static:
        definition["StaticHyperParameters"] = {k: v.text for k, v in spec.static}
    if spec.env:
        definition["Environment"] = dict(spec.env)
        templated = [k for k, t in spec.env if "{" in t]
        if templated:
            warnings.append(f"env {', '.join(templated)}: SageMaker does not fill in hpt's placeholders")
    if spec.limits.max_job_runtime is not None:
        definition["StoppingCondition"] = {"MaxRuntimeInSeconds": int(round(spec.limits.max_job_runtime))}
    if spec.limits.max_retries:
        definition["RetryStrategy"] = {"MaximumRetryAttempts": spec.limits.max_retries}

    request: dict[str, Any] = {
        "HyperParameterTuningJobName": spec.name,
        "HyperParameterTuningJobConfig": config,
        "TrainingJobDefinition": definition,
    }
    if spec.warm_start is not None:
        request["WarmStartConfig"] = {
            "ParentHyperParameterTuningJobs": [
                {"HyperParameterTuningJobName": p} for p in spec.warm_start.parents
            ],
            "WarmStartType": {v: k for k, v in _WARM.items()}[spec.warm_start.type],
        }

    unexported = []
    if spec.objective.use != "last":
        unexported.append(f"objective.use {spec.objective.use} (AMT uses the last value)")
    if spec.early_stopping_rule != EarlyStoppingRule():
        unexported.append("early_stopping_rule")
    if spec.limits.max_failed_jobs is not None:
        unexported.append("limits.max_failed_jobs")
    if spec.limits.stop_grace_period != DEFAULT_GRACE:
        unexported.append("limits.stop_grace_period")
    if spec.initial_points:
        unexported.append("initial_points")
    if spec.executor.type != "local":
        unexported.append("executor")
    if unexported:
        warnings.append(f"no SageMaker field for: {', '.join(unexported)}")
    channels = [name for name, _ in spec.sagemaker.channels] if spec.sagemaker else []
    missing = [
        "RoleArn",
        "TrainingJobDefinition.AlgorithmSpecification.TrainingImage (the command "
        + " ".join(shlex.quote(a) for a in spec.command)
        + " becomes the container's entry point)",
        "TrainingJobDefinition.ResourceConfig",
        "TrainingJobDefinition.OutputDataConfig",
    ]
    if channels:
        missing.append(
            f"TrainingJobDefinition.InputDataConfig (S3 locations of channels {', '.join(channels)})"
        )
    if spec.limits.max_job_runtime is None:
        missing.append("TrainingJobDefinition.StoppingCondition")
    warnings.append("add before sending it to SageMaker: " + "; ".join(missing))
    return request, warnings


__all__ = ["request_to_spec", "scalar", "spec_to_request"]
