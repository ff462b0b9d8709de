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


class _Request:
    """The request being read: values taken out of it as they are mapped, so that what is left
    is what has no local meaning."""

    def __init__(self, request: dict):
        self.left = copy.deepcopy(request)
        self.warnings: list[str] = []
        self.decoded: list[str] = []

    def take(self, *path: str, default: Any = None) -> Any:
        node = self.left
        for key in path[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if not isinstance(node, dict) or path[-1] not in node:
            return default
        return node.pop(path[-1])

    def text(self, value: Any, where: str) -> str:
        """An API value (a string) as the spec writes it; JSON-encoded strings decoded."""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float)):
            return repr(value) if isinstance(value, float) else str(value)
        if not isinstance(value, str):
            raise UsageError(f"{where}: expected a string (got {json.dumps(value)})")
        if len(value) >= 2 and value[0] == value[-1] == '"':
            try:
                inner = json.loads(value)
            except ValueError:
                return value
            if isinstance(inner, str):
                self.decoded.append(where)
                return inner
        return value


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


def _definition(r: _Request) -> tuple[dict, str]:
    """The one training job definition, and the path it was read from."""
    single = r.take("TrainingJobDefinition")
    many = r.take("TrainingJobDefinitions")
    if single is not None and many is not None:
        raise UsageError("the request has both TrainingJobDefinition and TrainingJobDefinitions; keep one")
    if many is not None:
        if not isinstance(many, list) or len(many) != 1:
            n = len(many) if isinstance(many, list) else "?"
            raise UsageError(
                f"TrainingJobDefinitions has {n} definitions; hpt tunes one training command "
                "(import each definition as its own request)"
            )
        return (many[0] if isinstance(many[0], dict) else {}), "TrainingJobDefinitions[0]"
    return (single if isinstance(single, dict) else {}), "TrainingJobDefinition"


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
    r = _Request(request)
    best = request.get("BestTrainingJob")
    for key in _RESPONSE_ONLY:
        r.left.pop(key, None)
    config = r.left.get("HyperParameterTuningJobConfig")
    if not isinstance(config, dict):
        raise UsageError(
            "the request has no HyperParameterTuningJobConfig (is it a CreateHyperParameterTuningJob request?)"
        )
    definition, dpath = _definition(r)
    d = _Request(definition)
    C = ("HyperParameterTuningJobConfig",)

    job_name = name or r.take("HyperParameterTuningJobName")
    if not job_name:
        job_name = "sagemaker-import"
        r.warnings.append(f"the request names no job: it is called {job_name!r} (use --name)")
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise UsageError(f"--command: cannot split it: {exc}") from None
    if not argv:
        raise UsageError("--command is empty")
    out = [
        f"# Imported by `hpt import sagemaker` from {source}.",
        "# Settings without a local meaning are kept as comments at the end.",
        f"name: {scalar(str(job_name))}",
        f"command: {_flow([scalar(a) for a in argv])}",
    ]
    if workdir is not None:
        out.append(f"workdir: {scalar(workdir)}")

    env = d.take("Environment") or {}
    if env:
        out.append("env:")
        out += [f"  {scalar(k)}: {scalar(r.text(v, f'{dpath}.Environment.{k}'))}" for k, v in env.items()]

    static_all = d.take("StaticHyperParameters") or {}
    static, skipped = {}, {}
    for k, v in static_all.items():
        if k in _SAGEMAKER_STATIC or k.startswith(_SAGEMAKER_PREFIX):
            skipped[k] = v
        else:
            static[k] = r.text(v, f"{dpath}.StaticHyperParameters.{k}")
    if skipped:
        r.warnings.append(
            f"{dpath}.StaticHyperParameters {', '.join(skipped)}: set by SageMaker for its own containers; "
            "left out (kept as comments)"
        )
    if static:
        out.append("static:")
        out += [f"  {scalar(k)}: {scalar(v)}" for k, v in static.items()]

    # The objective and the ranges: in the job config, or (with several definitions) in the definition.
    objective = r.take(*C, "HyperParameterTuningJobObjective") or d.take("TuningObjective")
    if not isinstance(objective, dict) or "MetricName" not in objective:
        raise UsageError("the request has no HyperParameterTuningJobObjective with a MetricName")
    metric = objective["MetricName"]
    direction = str(objective.get("Type", "Maximize")).lower()
    if direction not in ("maximize", "minimize"):
        raise UsageError(
            f"HyperParameterTuningJobObjective.Type must be Maximize or Minimize (got {objective.get('Type')!r})"
        )
    out.append(f"objective: {{metric: {scalar(metric)}, type: {direction}}}")

    definitions = d.take("AlgorithmSpecification", "MetricDefinitions") or []
    out.append("metrics:")
    if not any(isinstance(m, dict) and m.get("Name") == metric for m in definitions):
        definitions = [*definitions, {"Name": metric, "Regex": re.escape(metric) + r"[=: ]+([-+0-9.eE]+)"}]
        r.warnings.append(
            f"no MetricDefinition for the objective {metric!r} (a built-in algorithm's metric?): "
            "a regex for lines such as `" + metric + "=0.93` was written; check it with `hpt check-metrics`"
        )
    for m in definitions:
        out.append(
            f"  - {{name: {scalar(str(m.get('Name', '')))}, regex: {_regex(str(m.get('Regex', '')))}}}"
        )

    strategy_name = r.take(*C, "Strategy", default="Bayesian")
    if strategy_name not in _STRATEGY:
        raise UsageError(f"Strategy must be one of {', '.join(_STRATEGY)} (got {strategy_name!r})")
    strategy = _STRATEGY[strategy_name]
    out.append(f"strategy: {strategy}")
    hb = r.take(*C, "StrategyConfig", "HyperbandStrategyConfig")
    if isinstance(hb, dict) and strategy == "hyperband":
        parts = [
            f"{k}: {int(hb[a])}"
            for a, k in (("MinResource", "min_resource"), ("MaxResource", "max_resource"))
            if a in hb
        ]
        if parts:
            out.append(f"hyperband: {{{', '.join(parts)}}}")
    _drop_empty(r.left, C + ("StrategyConfig",))

    ranges = r.take(*C, "ParameterRanges") or d.take("HyperParameterRanges") or {}
    rpath = "HyperParameterTuningJobConfig.ParameterRanges"
    out.append("parameters:")
    combos, n = 1, 0
    for key, kind in _RANGES:
        for i, p in enumerate(ranges.pop(key, None) or []):
            where = f"{rpath}.{key}[{i}]"
            pname = scalar(str(p.get("Name", "")))
            if kind == CATEGORICAL:
                values = [
                    scalar(r.text(v, f"{where}.Values[{j}]")) for j, v in enumerate(p.get("Values") or [])
                ]
                combos *= max(len(values), 1)
                out.append(f"  {pname}: {{type: categorical, values: {_flow(values)}}}")
            else:
                lo = _number(p.get("MinValue"), f"{where}.MinValue", kind == INTEGER)
                hi = _number(p.get("MaxValue"), f"{where}.MaxValue", kind == INTEGER)
                scaling = p.get("ScalingType")
                extra = ""
                if scaling is not None:
                    if scaling not in _SCALING:
                        raise UsageError(
                            f"{where}.ScalingType must be one of {', '.join(_SCALING)} (got {scaling!r})"
                        )
                    extra = f", scaling: {_SCALING[scaling]}"
                out.append(f"  {pname}: {{type: {kind}, min: {lo}, max: {hi}{extra}}}")
            n += 1
    if ranges.get("AutoParameters"):
        r.warnings.append(f"{rpath}.AutoParameters: hpt needs explicit ranges; left out (kept as comments)")
        r.left.setdefault("_unmapped", {})["ParameterRanges.AutoParameters"] = ranges.pop("AutoParameters")
    if n == 0:
        raise UsageError("the request has no ParameterRanges to tune")

    limits = []
    max_jobs = r.take(*C, "ResourceLimits", "MaxNumberOfTrainingJobs")
    parallel = r.take(*C, "ResourceLimits", "MaxParallelTrainingJobs")
    if strategy == "grid":
        if max_jobs is not None and int(max_jobs) != combos:
            r.warnings.append(
                f"MaxNumberOfTrainingJobs {max_jobs} is not the grid's {combos} combinations: left out "
                "(a grid runs every combination once)"
            )
            max_jobs = None
    elif max_jobs is None:
        max_jobs = 1
        r.warnings.append("no MaxNumberOfTrainingJobs: max_jobs is 1 (the SageMaker SDK's default); raise it")
    if max_jobs is not None:
        limits.append(f"max_jobs: {int(max_jobs)}")
        if parallel is not None and int(parallel) > int(max_jobs):
            r.warnings.append(
                f"MaxParallelTrainingJobs {parallel} is more than max_jobs: lowered to {int(max_jobs)}"
            )
            parallel = max_jobs
    if parallel is not None:
        limits.append(f"max_parallel_jobs: {int(parallel)}")
    runtime = r.take(*C, "ResourceLimits", "MaxRuntimeInSeconds")
    if runtime is not None:
        limits.append(f"max_runtime: {int(runtime)}")
    job_runtime = d.take("StoppingCondition", "MaxRuntimeInSeconds")
    if job_runtime is not None:
        limits.append(f"max_job_runtime: {int(job_runtime)}")
    retries = d.take("RetryStrategy", "MaximumRetryAttempts")
    if retries is not None:
        limits.append(f"max_retries: {int(retries)}")
        r.warnings.append(
            "RetryStrategy: SageMaker retries only internal errors; hpt retries any failed attempt "
            f"up to max_retries ({int(retries)})"
        )
    out.append("limits:")
    out += [f"  {x}" for x in limits]
    _drop_empty(r.left, C + ("ResourceLimits",))
    _drop_empty(d.left, ("StoppingCondition",))
    _drop_empty(d.left, ("RetryStrategy",))

    early = r.take(*C, "TrainingJobEarlyStoppingType", default="Off")
    if early not in ("Off", "Auto"):
        raise UsageError(f"TrainingJobEarlyStoppingType must be Off or Auto (got {early!r})")
    if early == "Auto":
        out.append("early_stopping: auto")

    criteria = r.take(*C, "TuningJobCompletionCriteria") or {}
    completion = []
    if criteria.get("TargetObjectiveMetricValue") is not None:
        completion.append(f"target: {float(criteria['TargetObjectiveMetricValue'])!r}")
    not_improving = (criteria.get("BestObjectiveNotImproving") or {}).get(
        "MaxNumberOfTrainingJobsNotImproving"
    )
    if not_improving is not None:
        completion.append(f"max_jobs_not_improving: {int(not_improving)}")
    if (criteria.get("ConvergenceDetected") or {}).get("CompleteOnConvergence") == "Enabled":
        completion.append("convergence: true")
    if completion:
        out.append(f"completion: {{{', '.join(completion)}}}")

    seed = r.take(*C, "RandomSeed")
    if seed is not None:
        out.append(f"random_seed: {int(seed)}")

    warm = r.take("WarmStartConfig")
    if isinstance(warm, dict):
        parents = [
            scalar(str(p.get("HyperParameterTuningJobName", "")))
            for p in warm.get("ParentHyperParameterTuningJobs") or []
        ]
        kind = _WARM.get(warm.get("WarmStartType"), "identical_data_and_algorithm")
        out.append(f"warm_start: {{parents: {_flow(parents)}, type: {kind}}}")
        r.warnings.append(
            "warm_start: the parent jobs must be hpt jobs of the same names in the runs directory "
            "(import and run each parent first)"
        )

    # Script mode: the SM_* environment, and the input channels that map to local directories.
    given = dict(channels or {})
    out.append("sagemaker:")
    out.append("  env: true")
    inputs = d.take("InputDataConfig") or []
    names = [c.get("ChannelName") for c in inputs if isinstance(c, dict)]
    mapped = {k: v for k, v in given.items()}
    unknown = [k for k in given if k not in names]
    if unknown and inputs:
        r.warnings.append(
            f"--channel {', '.join(unknown)}: not an input channel of the request ({', '.join(map(str, names))})"
        )
    pending = []
    for c in inputs:
        cname = c.get("ChannelName")
        uri = ((c.get("DataSource") or {}).get("S3DataSource") or {}).get("S3Uri") or ""
        if cname not in mapped:
            pending.append((cname, uri))
            r.warnings.append(
                f"input channel {cname!r} ({uri or 'no S3 location'}): give it a local directory with "
                f"--channel {cname}=DIR (left as a comment)"
            )
    if mapped:
        out.append("  channels:")
        out += [f"    {scalar(k)}: {scalar(v)}" for k, v in mapped.items()]
    elif pending:
        out.append("  # channels:")
    out += [f"  #   {k}: DIR   # {uri}" for k, uri in pending]

    if best and isinstance(best.get("TunedHyperParameters"), dict):
        tuned = best["TunedHyperParameters"]
        out.append("")
        out.append(
            f"# The best training job on SageMaker ({best.get('TrainingJobName', '?')}); to run it first:"
        )
        out.append(
            "# initial_points: [{"
            + ", ".join(f"{scalar(k)}: {scalar(r.text(v, k))}" for k, v in tuned.items())
            + "}]"
        )

    _drop_empty(d.left, ("AlgorithmSpecification",))
    if d.left:
        r.left.setdefault("_unmapped", {})[dpath] = d.left
    _drop_empty(r.left, C)
    unmapped = r.left.pop("_unmapped", {})
    unmapped_all = {**r.left, **unmapped}
    if skipped:
        unmapped_all.setdefault(dpath, {}).setdefault("StaticHyperParameters", {}).update(skipped)
    if unmapped_all:
        lines = _flatten(unmapped_all)
        out.append("")
        out.append("# From the request, without a local meaning:")
        out += [f"#   {line}" for line in lines]
        groups = sorted({_group(k) for k in _flat_keys(unmapped_all)} - {f"{dpath}.StaticHyperParameters"})
        if groups:
            r.warnings.append(f"no local meaning, kept as comments: {', '.join(groups)}")
    if r.decoded:
        r.warnings.append(
            f"decoded {len(r.decoded)} JSON-encoded string value(s) (the SageMaker SDK's encoding), e.g. {r.decoded[0]}"
        )
    return "\n".join(out) + "\n", r.warnings


def _drop_empty(tree: dict, path: tuple) -> None:
    node = tree
    for key in path[:-1]:
        node = node.get(key) if isinstance(node, dict) else None
    if isinstance(node, dict) and isinstance(node.get(path[-1]), dict) and not node[path[-1]]:
        del node[path[-1]]


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
    if not text:
        return {}
    from ..spec.yamlio import YamlLoadError, load

    try:
        return load(text).texts
    except YamlLoadError:
        return {}


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
