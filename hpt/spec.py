"""The spec: the only module that reads YAML.

``load_spec(path)`` parses the file (line-aware), checks it against ``schemas/spec.schema.json``,
then checks the rules a schema cannot express, and returns a frozen :class:`Spec`. Every
problem is reported at once as ``path (line L, col C): message``.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import shlex
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np

from . import command as cmd
from .errors import Problem, SpecError
from .space import (
    CATEGORICAL,
    CONTINUOUS,
    INTEGER,
    LOG,
    REVERSE_LOG,
    Param,
    Space,
    resolve_scaling,
)
from .yamlio import Document, YamlLoadError, format_path, load

STRATEGIES = ("grid", "random", "bayesian", "hyperband")
EPOCH_KEYS = ("epochs", "num_epochs", "n_epochs", "numepochs", "n-epochs")
DEFAULT_GRACE = 5.0
#: hyperband uses this many of its most aggressive brackets unless ``hyperband.brackets`` says
#: otherwise (fewer when fewer exist): see the README's "Hyperband and early stopping".
DEFAULT_BRACKETS = 2
#: ``early_stopping_rule`` defaults: the median rule judges no trial before this step...
DEFAULT_MIN_STEPS = 3
#: ...nor before this many earlier trials (completed or stopped) exist.
DEFAULT_MIN_TRIALS = 5
AMT_FAILED_WITHOUT_SUCCESS = 5


@lru_cache(maxsize=1)
def schema() -> dict:
    """The JSON Schema (draft 2020-12) of a spec, as shipped in ``schemas/spec.schema.json``."""
    # In a source checkout (or an editable install) the file sits beside the package; in an
    # installed wheel it is the package data hpt.schemas.
    beside = Path(__file__).resolve().parent.parent / "schemas" / "spec.schema.json"
    if beside.is_file():
        text = beside.read_text("utf-8")
    else:
        text = resources.files("hpt.schemas").joinpath("spec.schema.json").read_text("utf-8")
    return json.loads(text)


# --------------------------------------------------------------------------- the Spec


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
    sampler: str = "random"
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


@dataclass(frozen=True)
class Spec:
    """A validated, immutable tuning job spec."""

    name: str
    command: tuple[str, ...]
    workdir: Path
    env: tuple[tuple[str, str], ...]
    static: tuple[tuple[str, cmd.Value], ...]
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
    random_seed: int | None = None
    data: dict = field(default_factory=dict, compare=False, repr=False)
    text: str = field(default="", compare=False, repr=False)
    source: str = field(default="<spec>", compare=False)
    base_dir: Path = field(default=Path("."), compare=False)
    warnings: tuple[Problem, ...] = field(default=(), compare=False)

    @property
    def static_values(self) -> dict[str, cmd.Value]:
        return dict(self.static)

    @property
    def arg_names(self) -> list[str]:
        """What ``{args}`` expands to, in order: tuned parameters, then static ones."""
        return self.space.names + [k for k, _ in self.static]

    def placeholder_values(self, params: dict[str, Any], builtins: dict[str, str]) -> dict[str, cmd.Value]:
        values = dict(self.static)
        for name, v in params.items():
            values[name] = cmd.Value(v, cmd.text_of(v))
        for name, v in builtins.items():
            values[name] = cmd.Value(v, str(v))
        return values

    def render(self, params: dict[str, Any], builtins: dict[str, str]) -> tuple[list[str], dict[str, str]]:
        """argv and extra environment of one trial."""
        values = self.placeholder_values(params, builtins)
        argv = cmd.build_argv(self.command, values, self.arg_names)
        env = {k: cmd.render(t, values) for k, t in self.env}
        return argv, env

    def objective_metric(self) -> Metric:
        return next(m for m in self.metrics if m.name == self.objective.metric)


# --------------------------------------------------------------------------- loading


def load_spec(path: str | Path) -> Spec:
    """Load and validate a spec file. Raises :class:`SpecError` with every problem found."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise SpecError(
            str(p), [Problem("", None, None, f"cannot read the spec: {exc.strerror or exc}")]
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(
            str(p),
            [Problem("", None, None, f"the spec is not UTF-8 text ({exc.reason} at byte {exc.start})")],
        ) from None
    return parse_spec(text, source=str(p), base_dir=p.resolve().parent)


def parse_spec(text: str, source: str = "<spec>", base_dir: Path | None = None) -> Spec:
    """Validate spec text. ``base_dir`` anchors a relative ``workdir`` (the spec file's folder)."""
    base = (base_dir or Path.cwd()).resolve()
    if "\x00" in text:
        raise SpecError(source, [Problem("", None, None, "the spec contains a NUL byte")])
    try:
        doc = load(text, source)
    except YamlLoadError as exc:
        raise SpecError(source, exc.problems) from None
    problems: list[Problem] = []
    if not isinstance(doc.data, dict):
        line, col = doc.where(())
        raise SpecError(
            source,
            [
                Problem(
                    "",
                    line,
                    col,
                    "the spec must be a mapping of keys such as name, command, parameters",
                )
            ],
        )
    problems += _schema_problems(doc)
    checker = _Rules(doc, source)
    spec = checker.run(text, base, schema_failed=bool(problems))
    problems += checker.problems
    errors = _dedupe([p for p in problems if p.severity == "error"])
    if errors:
        raise SpecError(source, sorted(errors, key=lambda p: (p.line or 0, p.col or 0)))
    assert spec is not None  # no errors means the rules built a spec
    return spec


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen, out = set(), []
    for p in problems:
        if (p.path, p.message) not in seen:
            seen.add((p.path, p.message))
            out.append(p)
    return out


# --------------------------------------------------------------------------- JSON Schema


def _suggest(word: str, options) -> str:
    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


_TYPE_WORDS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "object": "a mapping",
    "array": "a list",
}


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nothing (null)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _schema_at(path: tuple) -> dict:
    """The subschema that describes ``path`` (best effort, for messages)."""
    node = schema()
    for part in path:
        if isinstance(part, int):
            node = node.get("items", {})
        elif "properties" in node and part in node["properties"]:
            node = node["properties"][part]
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        else:
            return {}
        if "$ref" in node:
            node = schema()["$defs"][node["$ref"].rsplit("/", 1)[1]]
    return node


# JSON Schema counts 1.0 as an integer; the rules that follow (and the runner) need a real one, so
# `max_jobs: 10.0` is reported here, with its line, rather than slipping through half-checked.
_Validator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator,
    type_checker=jsonschema.Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _checker, x: isinstance(x, int) and not isinstance(x, bool)
    ),
)


def _schema_problems(doc: Document) -> list[Problem]:
    validator = _Validator(schema())
    out: list[Problem] = []

    def add(path: tuple, message: str, key: bool = False) -> None:
        line, col = doc.where(path, key=key)
        out.append(Problem(format_path(path), line, col, message))

    def visit(err: jsonschema.ValidationError) -> None:
        path = tuple(err.absolute_path)
        v = err.validator
        if v == "additionalProperties":
            allowed = list(err.schema.get("properties", {}))
            for extra in sorted(set(err.instance) - set(allowed)):
                add(path + (extra,), f"unknown key {extra!r}{_suggest(extra, allowed)}", key=True)
        elif v == "required":
            missing = re.findall(r"'([^']+)' is a required property", err.message)
            what = missing[0] if missing else err.message
            add(path, f"missing required key {what!r}")
        elif v == "enum":
            options = err.validator_value
            add(
                path,
                f"must be one of {', '.join(map(str, options))} (got {_describe(err.instance)})"
                + _suggest(err.instance, options),
            )
        elif v == "const":
            add(path, f"must be {err.validator_value!r}")
        elif v == "type":
            types = err.validator_value if isinstance(err.validator_value, list) else [err.validator_value]
            want = " or ".join(_TYPE_WORDS.get(t, t) for t in types)
            add(path, f"must be {want} (got {_describe(err.instance)})")
        elif v in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            op = {
                "minimum": ">=",
                "maximum": "<=",
                "exclusiveMinimum": ">",
                "exclusiveMaximum": "<",
            }[v]
            add(path, f"must be {op} {err.validator_value} (got {_describe(err.instance)})")
        elif v in ("minItems", "minProperties", "minLength"):
            add(path, "must not be empty")
        elif v in ("maxItems", "maxProperties", "maxLength"):
            add(path, f"is too long (at most {err.validator_value})")
        elif v == "pattern":
            if path == ("name",):
                add(
                    path,
                    f"must be 1-63 letters, digits, '-' or '_' (got {_describe(err.instance)})",
                )
            else:
                add(
                    path,
                    f"{_describe(err.instance)} does not match the pattern {err.validator_value}",
                )
        elif v == "propertyNames":
            for sub in err.context or []:
                bad = sub.instance
                add(
                    path + (bad,),
                    f"{bad!r} is not a valid name (letters, digits, '_' and '-', starting with a letter or '_')",
                    key=True,
                )
        elif v == "anyOf":
            if path == ("command",):
                add(path, "must be a non-empty string or a non-empty list of arguments")
            elif "(s|m|h|d)" in json.dumps(_schema_at(path).get("anyOf", [])):
                add(
                    path,
                    f"must be a number of seconds or a duration such as 30s, 10m, 2h (got {_describe(err.instance)})",
                )
            else:
                add(path, err.message)
        elif v in ("allOf", "if", "then"):
            for sub in err.context or []:
                visit(sub)
        else:
            add(path, err.message)

    for err in validator.iter_errors(doc.data):
        visit(err)
    return out


# --------------------------------------------------------------------------- semantic rules


def parse_duration(value: Any) -> float | None:
    """Seconds from a number or ``30s``/``10m``/``2h``/``1d``; None when not a duration."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) and value > 0 else None
    if isinstance(value, str):
        m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([smhd]?)\s*", value)
        if m:
            seconds = float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
            return seconds if seconds > 0 else None
    return None


def _num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


class _Rules:
    """The rules a JSON Schema cannot express. Written defensively: the data may be invalid."""

    def __init__(self, doc: Document, source: str):
        self.doc = doc
        self.source = source
        self.problems: list[Problem] = []

    def error(self, path: tuple, message: str, key: bool = False) -> None:
        line, col = self.doc.where(path, key=key)
        self.problems.append(Problem(format_path(path), line, col, message))

    def warn(self, path: tuple, message: str) -> None:
        line, col = self.doc.where(path)
        self.problems.append(Problem(format_path(path), line, col, message, severity="warning"))

    def text(self, path: tuple, value: Any) -> str:
        """A scalar's text exactly as written in the spec."""
        if path in self.doc.texts and not isinstance(value, str):
            return self.doc.texts[path]
        return value if isinstance(value, str) else cmd.text_of(value)

    def get(self, d: Any, key: str, kind: type | tuple | None = None) -> Any:
        if not isinstance(d, dict):
            return None
        v = d.get(key)
        if kind is not None and not isinstance(v, kind):
            return None
        return v

    def run(self, text: str, base: Path, schema_failed: bool) -> Spec | None:
        d = self.doc.data
        strategy = d.get("strategy", "bayesian")
        if strategy not in STRATEGIES:
            strategy = None

        space = self.parameters(d.get("parameters"), strategy)
        metrics = self.metrics(d.get("metrics"))
        objective = self.objective(d.get("objective"), metrics)
        static = self.static(d.get("static"), space)
        command = self.command(d.get("command"))
        env = self.env(d.get("env"))
        self.placeholders(command, env, space, static)
        limits = self.limits(d.get("limits"), strategy, space)
        hyperband = self.hyperband(d, strategy, static)
        early = d.get("early_stopping", "off")
        if strategy == "hyperband" and early == "auto":
            self.error(
                ("early_stopping",),
                "hyperband stops trials itself; set early_stopping: off (AMT requires it for Hyperband)",
            )
        rule = self.early_stopping_rule(d.get("early_stopping_rule"), early)
        completion = self.completion(d.get("completion"))
        executor = self.executor(d.get("executor"))
        workdir = self.workdir(d.get("workdir"), base)

        if schema_failed or any(p.severity == "error" for p in self.problems):
            return None
        if None in (space, metrics, objective, command, limits, strategy, workdir):
            return None
        return Spec(
            name=d["name"],
            command=tuple(command),
            workdir=workdir,
            env=tuple(env.items()),
            static=tuple(static.items()),
            objective=objective,
            metrics=tuple(metrics),
            strategy=strategy,
            space=space,
            limits=limits,
            early_stopping=early,
            hyperband=hyperband,
            early_stopping_rule=rule,
            completion=completion,
            executor=executor,
            random_seed=d.get("random_seed"),
            data=d,
            text=text,
            source=self.source,
            base_dir=base,
            warnings=tuple(p for p in self.problems if p.severity == "warning"),
        )

    # ---- parameters

    def parameters(self, params: Any, strategy: str | None) -> Space | None:
        if not isinstance(params, dict) or not params:
            return None
        out, ok = [], True
        for name, p in params.items():
            path = ("parameters", name)
            if name in cmd.RESERVED:
                self.error(path, f"{name!r} is a built-in placeholder; choose another name", key=True)
                ok = False
            if not isinstance(p, dict):
                ok = False
                continue
            kind = p.get("type")
            if strategy == "grid" and kind in (CONTINUOUS, INTEGER):
                self.error(
                    path + ("type",),
                    f"grid search takes categorical parameters only; parameter {name!r} is {kind} (list its values as a categorical, or use strategy random or bayesian)",
                )
                ok = False
            param = self.parameter(name, p, path)
            if param is None:
                ok = False
            else:
                out.append(param)
        return Space(tuple(out)) if ok else None

    def parameter(self, name: str, p: dict, path: tuple) -> Param | None:
        kind = p.get("type")
        if kind == CATEGORICAL:
            for k in ("min", "max", "scaling"):
                if k in p:
                    self.error(
                        path + (k,),
                        f"{k!r} is for continuous and integer parameters; a categorical parameter lists its values",
                        key=True,
                    )
            values = p.get("values")
            if not isinstance(values, list) or not values:
                return None
            texts, ok = [], True
            for i, v in enumerate(values):
                if isinstance(v, (dict, list)) or v is None:
                    ok = False
                    continue
                t = self.text(path + ("values", i), v)
                if t in texts:
                    self.error(
                        path + ("values", i),
                        f"duplicate value {t!r}; categorical values must be unique",
                    )
                    ok = False
                texts.append(t)
            return (
                Param(name, CATEGORICAL, values=tuple(texts), scaling="none", requested_scaling="none")
                if ok
                else None
            )
        if kind not in (CONTINUOUS, INTEGER):
            return None
        if "values" in p:
            self.error(
                path + ("values",),
                f"'values' is for categorical parameters; a {kind} parameter has min and max",
                key=True,
            )
        lo, hi = p.get("min"), p.get("max")
        scaling = p.get("scaling", "auto")
        if not (_num(lo) and _num(hi)):
            return None
        ok = True
        for key, v in (("min", lo), ("max", hi)):
            if not math.isfinite(v):
                self.error(path + (key,), f"must be a finite number (got {v})")
                ok = False
            elif kind == INTEGER and not float(v).is_integer():
                self.error(
                    path + (key,),
                    f"an integer parameter needs integer bounds (got {self.text(path + (key,), v)})",
                )
                ok = False
        if not ok:
            return None
        if not lo < hi:
            self.error(
                path + ("max",),
                f"max must be greater than min (min {self.text(path + ('min',), lo)}, max {self.text(path + ('max',), hi)})",
            )
            return None
        if scaling == LOG and lo <= 0:
            self.error(
                path + ("min",),
                f"logarithmic scaling needs min > 0 (got {self.text(path + ('min',), lo)})",
            )
            return None
        if scaling == REVERSE_LOG:
            if kind != CONTINUOUS:
                self.error(
                    path + ("scaling",),
                    "reverse_logarithmic scaling is for continuous parameters only",
                )
                return None
            if not (0 <= lo < hi < 1):
                self.error(
                    path + ("scaling",),
                    f"reverse_logarithmic scaling needs 0 <= min < max < 1 (got min {lo}, max {hi})",
                )
                return None
        if scaling not in ("auto", "linear", LOG, REVERSE_LOG):
            return None
        if kind == INTEGER:
            lo, hi = float(int(lo)), float(int(hi))
        return Param(name, kind, float(lo), float(hi), resolve_scaling(scaling, lo, hi), scaling)

    # ---- metrics and objective

    def metrics(self, metrics: Any) -> list[Metric] | None:
        if not isinstance(metrics, list) or not metrics:
            return None
        out, names, ok = [], set(), True
        for i, m in enumerate(metrics):
            path = ("metrics", i)
            name, regex = self.get(m, "name", str), self.get(m, "regex", str)
            if name is None or regex is None:
                ok = False
                continue
            if name in names:
                self.error(path + ("name",), f"duplicate metric name {name!r}")
                ok = False
            names.add(name)
            try:
                pattern = re.compile(regex)
            except re.error as exc:
                self.error(path + ("regex",), f"the regex does not compile: {exc}")
                ok = False
                continue
            named = pattern.groupindex
            if "value" in named:
                pass
            elif pattern.groups == 0:
                self.error(
                    path + ("regex",),
                    "the regex needs a capture group around the number, e.g. 'loss=([-+0-9.eE]+)'",
                )
                ok = False
                continue
            elif pattern.groups - (1 if "step" in named else 0) != 1:
                self.error(
                    path + ("regex",),
                    f"the regex has {pattern.groups} capture groups; use exactly one (make others non-capturing with (?:...)) or name the number's group (?P<value>...)",
                )
                ok = False
                continue
            out.append(Metric(name, regex, pattern))
        return out if ok else None

    def objective(self, objective: Any, metrics: list[Metric] | None) -> Objective | None:
        metric, typ = self.get(objective, "metric", str), self.get(objective, "type", str)
        if metric is None or typ not in ("maximize", "minimize"):
            return None
        raw_metrics = self.doc.data.get("metrics")
        names = [self.get(m, "name", str) for m in raw_metrics] if isinstance(raw_metrics, list) else []
        names = [n for n in names if n]
        if names and metric not in names:
            self.error(
                ("objective", "metric"),
                f"objective metric {metric!r} is not one of the metrics ({', '.join(names)})"
                + _suggest(metric, names),
            )
            return None
        use = objective.get("use", "last")
        return Objective(metric, typ, use) if use in ("last", "best") else None

    # ---- static, command, env

    def static(self, static: Any, space: Space | None) -> dict[str, cmd.Value]:
        out = {}
        if not isinstance(static, dict):
            return out
        tuned = set(
            (self.doc.data.get("parameters") or {})
            if isinstance(self.doc.data.get("parameters"), dict)
            else ()
        )
        for k, v in static.items():
            path = ("static", k)
            if k in tuned:
                self.error(path, f"{k!r} is both static and tuned; keep one", key=True)
            if k in cmd.RESERVED:
                self.error(path, f"{k!r} is a built-in placeholder; choose another name", key=True)
            if isinstance(v, (dict, list)) or v is None:
                continue
            out[k] = cmd.Value(v, self.text(path, v))
        return out

    def command(self, command: Any) -> list[str] | None:
        if isinstance(command, str):
            try:
                parts = shlex.split(command)
            except ValueError as exc:
                self.error(("command",), f"cannot split the command string: {exc}; write it as a list")
                return None
            if not parts:
                self.error(("command",), "the command is empty")
                return None
            return parts
        if isinstance(command, list) and command:
            out = []
            for i, c in enumerate(command):
                if isinstance(c, (dict, list)) or c is None:
                    return None
                out.append(self.text(("command", i), c))
            return out
        return None

    def env(self, env: Any) -> dict[str, str]:
        if not isinstance(env, dict):
            return {}
        return {
            k: self.text(("env", k), v)
            for k, v in env.items()
            if not isinstance(v, (dict, list)) and v is not None
        }

    def placeholders(self, command, env, space: Space | None, static: dict) -> None:
        params = self.doc.data.get("parameters")
        tuned = list(params) if isinstance(params, dict) else []
        known = set(tuned) | set(static) | set(cmd.BUILTINS)
        used: set[str] = set()
        uses_args = False
        templates = [(("command", i), c) for i, c in enumerate(command or [])]
        if isinstance(self.doc.data.get("command"), str):
            templates = [(("command",), c) for c in command or []]
        templates += [(("env", k), v) for k, v in env.items()]
        for path, template in templates:
            if template == "{args}" and path[0] == "command":
                uses_args = True
                continue
            try:
                found = cmd.fields(template)
            except cmd.TemplateError as exc:
                self.error(path, str(exc))
                continue
            for name, _spec in found:
                if name == cmd.ARGS:
                    self.error(
                        path,
                        "{args} expands to several arguments, so it must be a whole command element on its own"
                        if path[0] == "command"
                        else "{args} is only for the command",
                    )
                elif name not in known:
                    self.error(
                        path,
                        f"unknown placeholder {{{name}}}; it must name a parameter, a static value or one of {{trial_id}}, {{trial_dir}}, {{job_dir}}"
                        + _suggest(name, known),
                    )
                else:
                    used.add(name)
        if uses_args:
            used |= set(tuned)
        for name in tuned:
            if name not in used:
                self.warn(
                    ("parameters", name),
                    f"parameter {name!r} is tuned but appears nowhere in command or env (add {{{name}}} or {{args}})",
                )
        # Format specs are checked by rendering once with representative values.
        if space is not None and command and not any(p.severity == "error" for p in self.problems):
            sample = space.decode(np.full(space.dim, 0.5))
            values = {n: cmd.Value(v, cmd.text_of(v)) for n, v in sample.items()}
            values.update(static)
            values.update({b: cmd.Value("x", "x") for b in cmd.BUILTINS})
            for path, template in templates:
                if template == "{args}":
                    continue
                try:
                    cmd.render(template, values)
                except (cmd.TemplateError, KeyError) as exc:
                    self.error(path, str(exc).strip('"'))

    # ---- limits, hyperband, completion

    def limits(self, limits: Any, strategy: str | None, space: Space | None) -> Limits | None:
        limits = limits if isinstance(limits, dict) else {}
        if not isinstance(self.doc.data.get("limits", {}), dict):
            return None
        max_jobs = limits.get("max_jobs")
        parallel = limits.get("max_parallel_jobs", 1)
        size = space.cardinality if space is not None else None
        if strategy == "grid" and space is not None:
            if max_jobs is None:
                max_jobs = size
            elif isinstance(max_jobs, int) and max_jobs != size:
                self.error(
                    ("limits", "max_jobs"),
                    f"grid search runs every combination once: max_jobs must be {size} (the number of combinations) or left out (got {max_jobs})",
                )
        elif strategy in ("random", "bayesian", "hyperband") and max_jobs is None:
            self.error(
                ("limits",) if "limits" in self.doc.data else (),
                f"strategy {strategy} needs limits.max_jobs (the number of trials to run)",
            )
        if (
            strategy in ("random", "bayesian", "hyperband")
            and isinstance(max_jobs, int)
            and size is not None
            and size < max_jobs
        ):
            self.error(
                ("limits", "max_jobs"),
                f"the search space has only {size} distinct combinations, fewer than max_jobs {max_jobs}; lower max_jobs or widen the ranges",
            )
        if isinstance(max_jobs, int) and isinstance(parallel, int) and parallel > max_jobs:
            self.error(
                ("limits", "max_parallel_jobs"),
                f"max_parallel_jobs ({parallel}) cannot exceed max_jobs ({max_jobs})",
            )
        durations = {}
        for key in ("max_runtime", "max_job_runtime", "stop_grace_period"):
            if key in limits:
                durations[key] = parse_duration(limits[key])
                if durations[key] is None:
                    return None  # the schema already reported it
        if not isinstance(max_jobs, int) or not isinstance(parallel, int):
            return None
        return Limits(
            max_jobs=max_jobs,
            max_parallel_jobs=parallel,
            max_runtime=durations.get("max_runtime"),
            max_job_runtime=durations.get("max_job_runtime"),
            max_failed_jobs=limits.get("max_failed_jobs"),
            max_retries=limits.get("max_retries", 0),
            stop_grace_period=durations.get("stop_grace_period") or DEFAULT_GRACE,
        )

    def hyperband(self, d: dict, strategy: str | None, static: dict) -> Hyperband | None:
        hb = d.get("hyperband")
        if hb is not None and strategy != "hyperband":
            self.error(
                ("hyperband",),
                f"hyperband settings apply to strategy: hyperband only (strategy is {strategy})",
                key=True,
            )
            return None
        if strategy != "hyperband":
            return None
        hb = hb if isinstance(hb, dict) else {}
        max_r = hb.get("max_resource")
        if max_r is None:
            for key in EPOCH_KEYS:
                if key in static:
                    v = static[key].value
                    if isinstance(v, int) and not isinstance(v, bool) and v >= 1:
                        max_r = v
                        break
                    self.error(
                        ("static", key),
                        f"hyperband infers max_resource from static {key!r}, which must be a positive integer (got {static[key].text!r})",
                    )
                    return None
            else:
                self.error(
                    ("hyperband",) if "hyperband" in d else ("strategy",),
                    "hyperband needs hyperband.max_resource, or a static value named epochs, num_epochs, n_epochs, numepochs or n-epochs to infer it from",
                )
                return None
        min_r = hb.get("min_resource", 1)
        if not (isinstance(min_r, int) and isinstance(max_r, int)):
            return None
        if min_r > max_r:
            self.error(
                ("hyperband", "min_resource"),
                f"min_resource ({min_r}) cannot exceed max_resource ({max_r})",
            )
            return None
        eta, sampler = hb.get("eta", 3), hb.get("sampler", "random")
        if not isinstance(eta, int) or eta < 2 or min_r < 1 or sampler not in ("random", "bayesian"):
            return None
        available, level = 1, min_r  # floor(log_eta(max / min)) + 1, in integers
        while level * eta <= max_r:
            level *= eta
            available += 1
        brackets = hb.get("brackets", min(DEFAULT_BRACKETS, available))
        if not isinstance(brackets, int):
            return None
        if brackets > available:
            self.error(
                ("hyperband", "brackets"),
                f"only {available} brackets exist from min_resource {min_r} to max_resource {max_r} with eta {eta} "
                f"(floor(log_eta(max_resource / min_resource)) + 1); use at most {available}",
            )
            return None
        return Hyperband(min_r, max_r, eta, sampler, brackets)

    def early_stopping_rule(self, rule: Any, early: Any) -> EarlyStoppingRule:
        if rule is not None and early != "auto":
            self.error(
                ("early_stopping_rule",),
                f"early_stopping_rule configures early_stopping: auto (early_stopping is {early})",
                key=True,
            )
        if not isinstance(rule, dict):
            return EarlyStoppingRule()
        steps, trials = rule.get("min_steps", DEFAULT_MIN_STEPS), rule.get("min_trials", DEFAULT_MIN_TRIALS)
        if not (isinstance(steps, int) and isinstance(trials, int)):
            return EarlyStoppingRule()  # the schema already reported it
        return EarlyStoppingRule(steps, trials)

    def completion(self, c: Any) -> Completion:
        if not isinstance(c, dict):
            return Completion()
        target = c.get("target")
        if _num(target) and not math.isfinite(target):
            self.error(("completion", "target"), f"must be a finite number (got {target})")
        n = c.get("max_jobs_not_improving")
        return Completion(
            target=float(target) if _num(target) else None,
            max_jobs_not_improving=n if isinstance(n, int) else None,
            convergence=c.get("convergence") is True,
        )

    def executor(self, e: Any) -> ExecutorConfig:
        if not isinstance(e, dict):
            return ExecutorConfig()
        kind = e.get("type", "local")
        if kind == "local":
            for key in ("address", "resources"):
                if key in e:
                    self.error(
                        ("executor", key),
                        f"{key!r} applies to the dask executor only (executor.type is local)",
                        key=True,
                    )
        resources = e.get("resources") if isinstance(e.get("resources"), dict) else {}
        address = e.get("address") if isinstance(e.get("address"), str) else None
        return ExecutorConfig(
            kind if kind in ("local", "dask") else "local",
            address,
            tuple((k, float(v)) for k, v in resources.items() if _num(v)),
        )

    def workdir(self, workdir: Any, base: Path) -> Path | None:

        if workdir is None:
            return base
        if not isinstance(workdir, str):
            return None
        path = (base / workdir).resolve()
        if not path.is_dir():
            self.error(("workdir",), f"{workdir!r} is not a directory (resolved to {path})")
            return None
        return path
