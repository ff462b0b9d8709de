"""The command line. The only place where exceptions become messages and exit codes.

Exit codes: 0 the job completed (or the command succeeded), 1 the job failed, 2 an invalid spec
or wrong usage, 130 the job was interrupted or stopped (it can be resumed).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sys
import time
import traceback
from enum import Enum
from pathlib import Path
from typing import NoReturn

import typer

from . import __version__, reporting
from .api import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from .errors import HptError, JobNotFoundError, SpecError, UsageError
from .paths import NO_RUNNER, job_reason
from .reporting import OutputClosed, console
from .trial import IN_PROGRESS

app = typer.Typer(
    name="hpt",
    help="hpt: a local-first hyperparameter tuner. A YAML spec in, the best hyperparameters out.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_state = {"debug": False}


class Output(str, Enum):
    text = "text"
    json = "json"


class BestFormat(str, Enum):
    json = "json"
    yaml = "yaml"
    args = "args"
    argv = "argv"
    env = "env"


RunsDir = typer.Option(
    None,
    "--runs-dir",
    envvar="HPT_RUNS_DIR",
    help="Directory that holds the jobs (default ./hpt-runs; also HPT_RUNS_DIR).",
    show_default=False,
)


def _runs_dir(value: Path | None) -> Path:
    return Path(value) if value else Path("hpt-runs")


def _complete_jobs(ctx: typer.Context, incomplete: str) -> list[str]:
    """Shell completion of job names, from the runs directory on the command line so far."""
    from .paths import list_jobs

    runs = ctx.params.get("runs_dir") or os.environ.get("HPT_RUNS_DIR")
    return [p.name for p in list_jobs(_runs_dir(runs)) if p.name.startswith(incomplete)]


JobArg = typer.Argument(
    ..., metavar="JOB", help="The job name.", show_default=False, autocompletion=_complete_jobs
)


def _err():
    return console(stderr=True)


def _out():
    return console()


def _print_table(table) -> None:
    """A table at the width :func:`show_width` gives (never narrower than its columns that do
    not wrap: those overflow rather than being cut), or at its natural width in a pipe."""
    from rich.measure import Measurement

    wide = reporting.Console(highlight=False, width=100_000)
    need = Measurement.get(wide, wide.options, table)
    width = show_width()
    width = need.maximum if width is None else max(width, need.minimum)
    reporting.Console(highlight=False, width=width).print(table)


def _version(value: bool) -> None:
    if value:
        print(f"hpt {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors (for reporting bugs)."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    _state["debug"] = debug


# --------------------------------------------------------------------------- validate / schema


def _print_problems(console, source: str, problems) -> None:
    for p in problems:
        tag = "error" if p.severity == "error" else "warning"
        console.print(f"{source}: {tag}: {p}", markup=False)


@app.command()
def validate(
    specs: list[Path] = typer.Argument(..., help="Spec files to check.", show_default=False),
) -> None:
    """Check specs against the schema and hpt's rules; report every problem with its line."""
    from .spec import load_spec

    out, err = _out(), _err()
    bad = False
    for path in specs:
        try:
            spec = load_spec(path)
        except SpecError as exc:
            _print_problems(err, str(path), exc.problems)
            bad = True
            continue
        _print_problems(err, str(path), spec.warnings)
        size = spec.space.cardinality
        extra = f", {size} combinations" if size is not None else ""
        out.print(
            f"{path}: ok ({spec.strategy}, {len(spec.space.params)} parameters{extra}, "
            f"max_jobs {spec.limits.max_jobs}, max_parallel_jobs {spec.limits.max_parallel_jobs})",
            markup=False,
        )
        for p in spec.space.params:
            if p.requested_scaling == "auto":
                out.print(f"  {p.name}: {p.describe()}", markup=False)
    if bad:
        raise typer.Exit(EXIT_USAGE)


@app.command()
def schema() -> None:
    """Print the JSON Schema of a spec (for editors: yaml-language-server)."""
    from .spec import schema as load_schema

    print(json.dumps(load_schema(), indent=2))


# --------------------------------------------------------------------------- run / resume


class ExecutorKind(str, Enum):
    local = "local"
    dask = "dask"


ExecutorOpt = typer.Option(
    None, "--executor", help="Where trials run: local, or dask (overrides the spec's executor)."
)
AddressOpt = typer.Option(
    None, "--address", help="Dask scheduler address, e.g. tcp://127.0.0.1:8786 (with --executor dask)."
)
ReportOpt = typer.Option(
    False,
    "--report",
    help="Keep <job dir>/report.html (see `hpt report`) current as trials end.",
)


class LogFormat(str, Enum):
    auto = "auto"
    plain = "plain"
    jsonl = "jsonl"


LogFormatOpt = typer.Option(
    LogFormat.auto,
    "--log-format",
    help="Progress on stderr: auto (a live display at a terminal, plain lines otherwise), plain, "
    "or jsonl (one JSON object per event, for tools; docs/logs.md).",
)
LogIntervalOpt = typer.Option(
    "30s",
    "--log-interval",
    help="Plain and JSONL logs: at most one progress line per running trial this often "
    "(seconds, or 30s, 2m...); 0 prints every objective point.",
)


def _interval(value: str) -> float:
    from .spec import parse_duration

    if value.strip() in ("0", "0s", "0.0"):
        return 0.0
    seconds = parse_duration(value)
    if seconds is None:
        raise UsageError(
            f"--log-interval must be a number of seconds or a duration such as 30s (got {value!r})"
        )
    return seconds


def _reporter(quiet: bool, log_format: LogFormat = LogFormat.auto, interval: str = "30s"):
    """Progress on standard error: live at a terminal, plain lines otherwise, or JSON Lines;
    with ``--quiet`` only messages (warnings, "resuming")."""
    from .progress import make_reporter

    return make_reporter(_err(), log_format=log_format.value, interval=_interval(interval), quiet=quiet)


def _spare_supervisor(executor: ExecutorKind | None) -> None:
    """Start the local executor's trial supervisor while the spec is still being read."""
    if executor != ExecutorKind.dask:
        from .executors.proc import start_spare_supervisor

        start_spare_supervisor()


def _finish(result, output: Output) -> None:
    """Print a finished job's result and exit with its code."""
    from .report import dumps, summary

    try:
        if output == Output.json:
            print(dumps(result.to_dict(trials=False)))
        else:
            summary(_out(), result)
        sys.stdout.flush()
    except (OSError, OutputClosed):  # nobody reads our output any more: the result is stored
        _quiet_stdout()
    raise typer.Exit(result.exit_code)


@app.command()
def run(
    spec_path: Path = typer.Argument(..., metavar="SPEC", help="The spec file.", show_default=False),
    output: Output = typer.Option(
        Output.text,
        "--output",
        "-o",
        help="text: a summary; json: one JSON document on stdout (for CI).",
    ),
    runs_dir: Path | None = RunsDir,
    name: str | None = typer.Option(
        None, "--name", help="Run the spec under this job name instead of its own."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output; only the final summary."),
    executor: ExecutorKind | None = ExecutorOpt,
    address: str | None = AddressOpt,
    report: bool = ReportOpt,
    log_format: LogFormat = LogFormatOpt,
    log_interval: str = LogIntervalOpt,
    restart: bool = typer.Option(
        False,
        "--restart",
        help="Delete an existing job of this name (finished or not, never a running one) and start over.",
    ),
) -> None:
    """Run a tuning job (or resume it, if an unfinished job with the same spec exists).

    Example: hpt run specs/digits-svc-random.yaml --log-format jsonl -o json > result.json
    """
    _spare_supervisor(executor)
    from . import api

    result = api.run(
        spec_path,
        runs_dir=_runs_dir(runs_dir),
        name=name,
        reporter=_reporter(quiet, log_format, log_interval),
        executor=executor.value if executor else None,
        address=address,
        report=report,
        restart=restart,
    )
    _finish(result, output)


@app.command()
def resume(
    job: str = JobArg,
    max_jobs: int | None = typer.Option(
        None, "--max-jobs", min=1, help="Raise max_jobs (extends a finished job)."
    ),
    max_parallel_jobs: int | None = typer.Option(
        None, "--max-parallel-jobs", min=1, help="Raise max_parallel_jobs."
    ),
    max_runtime: str | None = typer.Option(
        None, "--max-runtime", help="Raise max_runtime (seconds, or 30m, 2h...)."
    ),
    output: Output = typer.Option(Output.text, "--output", "-o", help="text or json."),
    runs_dir: Path | None = RunsDir,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output."),
    executor: ExecutorKind | None = ExecutorOpt,
    address: str | None = AddressOpt,
    report: bool = ReportOpt,
    log_format: LogFormat = LogFormatOpt,
    log_interval: str = LogIntervalOpt,
) -> None:
    """Continue a job after a crash, Ctrl-C or `hpt stop`; raise its limits to extend it.

    Example: hpt resume digits-svc-random --max-jobs 30
    """
    _spare_supervisor(executor)
    from . import api

    result = api.resume(
        job,
        runs_dir=_runs_dir(runs_dir),
        max_jobs=max_jobs,
        max_parallel_jobs=max_parallel_jobs,
        max_runtime=max_runtime,
        reporter=_reporter(quiet, log_format, log_interval),
        executor=executor.value if executor else None,
        address=address,
        report=report,
    )
    _finish(result, output)


@app.command()
def stop(
    job: str = JobArg,
    runs_dir: Path | None = RunsDir,
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Wait until the job has stopped."),
) -> None:
    """Stop a running job from another shell: its trials are stopped and it can be resumed."""
    from .paths import job_dir
    from .store import JobLock, Store

    jdir = job_dir(_runs_dir(runs_dir), job)
    if not (jdir / "job.db").exists():
        raise JobNotFoundError(f"no job named {job!r} in {_runs_dir(runs_dir)} (see `hpt list`)")
    lock = JobLock(jdir)
    if not lock.held_by_other():
        store = Store.open(jdir, readonly=True)
        try:
            row = store.job()
        finally:
            store.close()
        reason = job_reason(jdir, row.name, row.status, row.end_reason)
        why = f": {reason}" if row.status == IN_PROGRESS and reason else ""
        _err().print(f"job {job} is not running{why}", markup=False)
        raise typer.Exit(EXIT_FAILED)
    store = Store.open(jdir)
    try:
        store.request_stop()
        _err().print(f"stop requested for job {job}", markup=False)
        if wait:
            while lock.held_by_other():
                time.sleep(0.1)
            status = store.job()
            print(f"job {job} {status.status.lower()}: {status.end_reason}")
    finally:
        store.close()


@app.command()
def delete(
    job: str = JobArg,
    runs_dir: Path | None = RunsDir,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask (required when not at a terminal)."),
) -> None:
    """Delete a job and everything in its directory (not a running job).

    Example: hpt delete digits-svc-random --yes
    """
    from .api import load
    from .jobs import delete_job

    runs = _runs_dir(runs_dir)
    if not yes:
        result = load(job, runs_dir=runs)  # an unknown job is an error before any question
        if not sys.stdin.isatty():
            raise UsageError(f"not deleting job {job!r} without --yes (standard input is not a terminal)")
        if not typer.confirm(
            f"Delete job {job} ({result.status}, {len(result.trials)} trials) and {result.job_dir}?",
            default=False,
            err=True,
        ):
            _err().print("nothing deleted", markup=False)
            raise typer.Exit(EXIT_FAILED)
    trials, status = delete_job(runs, job)
    _err().print(f"deleted job {job} ({status}, {trials} trials)", markup=False)


# --------------------------------------------------------------------------- inspecting jobs


def show_width() -> int | None:
    """The width ``hpt show`` fits its table into: ``COLUMNS`` when set, else the terminal's
    when standard output is one; None (nothing cut or folded, as ``--wide``) in a pipe or file."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if sys.stdout.isatty():
        return os.get_terminal_size(sys.stdout.fileno()).columns
    return None


@app.command()
def show(
    job: str = JobArg,
    output: Output = typer.Option(Output.text, "--output", "-o", help="text or json."),
    runs_dir: Path | None = RunsDir,
    top: int | None = typer.Option(None, "--top", min=1, help="Only the N best trials."),
    wide: bool = typer.Option(
        False, "--wide", "-w", help="Every column at full width, whatever the terminal's width."
    ),
    metrics: bool = typer.Option(False, "--metrics", "-m", help="Add the final value of every metric."),
) -> None:
    """Show a job's trials, best first, with AMT-style status counts.

    The table fits the terminal (COLUMNS): the trial, state, objective and step are never cut;
    hyperparameters that do not fit are named under it, and long reasons are listed below.
    A running trial shows its latest step and value.

    Example: hpt show digits-svc-random --top 10 --metrics
    """
    from . import api
    from .report import dumps, warm_start_line
    from .trials_view import trials_view

    result = api.load(job, runs_dir=_runs_dir(runs_dir))
    if output == Output.json:
        print(dumps(result.to_dict()))
        return
    width = show_width()
    view = trials_view(result, width=width, wide=wide, top=top, metrics=metrics)
    # Never narrower than the table: numbers overflow a tiny terminal rather than being cut.
    screen = reporting.Console(
        highlight=False, width=max(width or 0, view.width) if width and not wide else view.width
    )
    head = f"job {result.name}: {result.status}" + (f" ({result.reason})" if result.reason else "")
    screen.print(head, markup=False, soft_wrap=width is None or wide)
    line = warm_start_line(result)
    if line:
        screen.print(line, markup=False, soft_wrap=width is None or wide)
    screen.print(view.table)
    for note in view.notes:
        screen.print(note, markup=False, soft_wrap=width is None or wide)


@app.command()
def best(
    job: str = JobArg,
    format: BestFormat = typer.Option(
        BestFormat.json,
        "--format",
        "-f",
        help="json, yaml, args (the hyperparameters as --name value), argv (the best trial's exact "
        "command line, shell-quoted) or env (the variables hpt set for it, NAME=value).",
    ),
    runs_dir: Path | None = RunsDir,
) -> None:
    """Print the best hyperparameters of a job, or the best trial's exact command.

    Example: hpt best digits-svc-random --format argv
    """
    from . import api
    from .report import best_output

    text = best_output(api.load(job, runs_dir=_runs_dir(runs_dir)), format.value)
    if not text:
        _err().print(f"job {job} has no trial with an objective yet", markup=False)
        raise typer.Exit(EXIT_FAILED)
    print(text)


@app.command("list")
def list_(
    runs_dir: Path | None = RunsDir,
    output: Output = typer.Option(Output.text, "--output", "-o", help="text or json."),
) -> None:
    """List the jobs in the runs directory."""
    from rich.table import Table

    from .paths import list_jobs
    from .report import dumps, fmt, job_line

    rows = [job_line(p) for p in list_jobs(_runs_dir(runs_dir))]
    if output == Output.json:
        print(dumps({"jobs": rows}))
        return
    if not rows:
        _err().print(f"no jobs in {_runs_dir(runs_dir)}", markup=False)
        return
    table = Table()
    for col in ("job", "status", "trials", "completed", "best", "updated"):
        # Names and numbers are never cut: a narrow terminal wraps the status and dates instead.
        table.add_column(
            col,
            no_wrap=col not in ("status", "updated"),
            justify="left" if col in ("job", "status") else "right",
        )
    for r in rows:
        status = r["status"]
        if status == "Unreadable" or (r["reason"] or "").startswith(NO_RUNNER):
            status += f" ({r['reason']})"
        table.add_row(
            r["job"],
            status,
            str(r["trials"]),
            str(r["completed"]),
            fmt(r["best"]) if r["best"] is not None else "",
            time.strftime("%Y-%m-%d %H:%M", time.localtime(r["updated"])),
        )
    _print_table(table)


class ExportFormat(str, Enum):
    csv = "csv"
    jsonl = "jsonl"
    sagemaker = "sagemaker"


@app.command()
def report(
    job: str = typer.Argument(..., help="The job name.", show_default=False),
    out: Path | None = typer.Option(
        None, "--out", help="Where to write it (default <job dir>/report.html).", show_default=False
    ),
    runs_dir: Path | None = RunsDir,
) -> None:
    """Write a job's HTML report: one file with its plots that opens offline, even while the
    job runs. Prints the file's path.

    Example: hpt report digits-mlp-hyperband --out report.html
    """
    from . import api

    print(api.report(job, out=out, runs_dir=_runs_dir(runs_dir)))


@app.command()
def export(
    job: str = typer.Argument(..., help="The job name.", show_default=False),
    format: ExportFormat = typer.Option(
        ExportFormat.csv,
        "--format",
        "-f",
        help="csv or jsonl (JSON Lines): the trials; sagemaker: a CreateHyperParameterTuningJob request.",
    ),
    points: bool = typer.Option(
        False, "--points", help="Every metric point (trial, attempt, metric, step, value, time)."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Write to this file instead of standard output.", show_default=False
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite --out if it exists."),
    runs_dir: Path | None = RunsDir,
) -> None:
    """Export a job's trials, one row each, as CSV or JSON Lines (columns: docs/export.md), or
    the job as a SageMaker tuning-job request (fields SageMaker needs that a spec does not know,
    such as the role or the training image, are named on standard error).

    Example: hpt export digits-svc-random --format csv > trials.csv
    """
    from . import api

    if out is not None and out.exists() and not force:
        raise UsageError(f"{out} exists; use --force to overwrite it")
    if format == ExportFormat.sagemaker:
        from .sagemaker.request import spec_to_request

        with api.open_job(job, _runs_dir(runs_dir), readonly=True) as (store, spec):
            request, warnings = spec_to_request(spec, store.job().spec_text)
        _deliver(json.dumps(request, indent=2) + "\n", out, force, warnings)
        return
    api.export(
        job,
        format.value,
        points=points,
        out=out if out is not None else sys.stdout,
        runs_dir=_runs_dir(runs_dir),
    )


@app.command()
def logs(
    job: str = typer.Argument(..., help="The job name.", show_default=False),
    trial: int = typer.Argument(..., help="The trial id.", show_default=False),
    attempt: int | None = typer.Option(
        None, "--attempt", min=1, help="Which attempt (default: the latest).", show_default=False
    ),
    stderr: bool = typer.Option(False, "--stderr", help="Show its standard error instead of its output."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing while the trial runs."),
    runs_dir: Path | None = RunsDir,
) -> None:
    """Print what a trial printed (its stdout.log), or follow it live while it runs.

    Example: hpt logs digits-svc-random 3 --stderr
    """
    from . import api

    if not follow:
        api.logs(job, trial, attempt=attempt, stderr=stderr, runs_dir=_runs_dir(runs_dir))
        return
    import signal
    import threading

    # Ctrl-C sets a flag the loop checks, rather than raising wherever it lands: a
    # KeyboardInterrupt raised inside a finalizer (a closing SQLite cursor) is swallowed, and
    # following would go on.
    ctrl_c = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: ctrl_c.set())
    try:
        api.logs(
            job,
            trial,
            attempt=attempt,
            stderr=stderr,
            follow=True,
            runs_dir=_runs_dir(runs_dir),
            interrupted=ctrl_c.is_set,
        )
    finally:
        signal.signal(signal.SIGINT, previous)
    if ctrl_c.is_set():
        raise typer.Exit(EXIT_INTERRUPTED)


@app.command("check-metrics")
def check_metrics(
    spec_path: Path = typer.Argument(..., metavar="SPEC", help="The spec file.", show_default=False),
    logfile: Path = typer.Argument(
        ..., metavar="LOGFILE", help="A sample of the training script's output.", show_default=False
    ),
    limit: int = typer.Option(5, "--show", help="Matches to show per metric."),
) -> None:
    """Show what each metric regex captures from a sample log (a regex tester).

    Example: hpt check-metrics specs/digits-svc-random.yaml sample.log
    """
    from .executors.proc import LineSplitter
    from .metrics import check_lines, describe_bad, final_value
    from .report import fmt
    from .spec import load_spec
    from .timelimit import MATCH_LIMIT, MatchTimer

    spec = load_spec(spec_path)
    try:
        data = logfile.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {logfile}: {exc.strerror or exc}") from None
    splitter = LineSplitter()
    lines = splitter.feed(data) + splitter.flush()
    with MatchTimer() as timer:
        checks = check_lines(spec.metrics, lines, guard=timer.guard)
    out = _out()
    out.print(f"{logfile}: {len(lines)} lines", markup=False)

    def show_line(number: int, p, line: str, value: str) -> None:
        text = line if len(line) <= 100 else line[:97] + "..."
        out.print(f"  line {number:>5}  step {p.step:>4}  value {value:>12}   {text}", markup=False)

    problem = None
    for c in checks:
        is_obj = c.name == spec.objective.metric
        if is_obj and c.timed_out:
            problem = "took too long on a line: every trial would fail"
        elif is_obj and c.bad:
            problem = "was printed as no finite number: a trial printing such a line fails"
        elif is_obj and not c.points:
            problem = "matched nothing: every trial would fail"
        out.print(f"\n{c.name}{' (objective)' if is_obj else ''}  regex {c.regex!r}", markup=False)
        if c.timed_out:
            number, line = c.timed_out
            out.print(
                f"  line {number}: the regex took more than {MATCH_LIMIT:g} s on this line of {len(line)} characters "
                "(catastrophic backtracking); it is not read after that",
                markup=False,
            )
        if not c.points and not c.bad:
            out.print(
                "  no match. Check the regex against a line of the log; in YAML single quotes a backslash is literal ('\\d'), in double quotes it must be doubled (\"\\\\d\").",
                markup=False,
            )
            continue
        if c.points:
            use = spec.objective.use if is_obj else "last"
            final = final_value([p.value for _, p, _ in c.points], use, spec.objective.maximize)
            out.print(f"  {len(c.points)} matches; final value ({use}) = {fmt(final)}", markup=False)
            shown = c.points if len(c.points) <= limit else c.points[: limit - 1] + c.points[-1:]
            for number, p, line in shown:
                show_line(number, p, line, fmt(p.value))
            if len(c.points) > limit:
                out.print(f"  ... {len(c.points) - limit} more", markup=False)
        if c.bad:
            consequence = (
                "a trial that prints one fails (a diverged run with objective.use: best stops there)"
                if is_obj
                else "such points are skipped and counted"
            )
            out.print(
                f"  {len(c.bad)} lines name the metric but carry no finite number; {consequence}:",
                markup=False,
            )
            for number, p, line in c.bad:
                show_line(number, p, line, repr(p.text))
                out.print(f"{'':>15}{describe_bad(p)}", markup=False)
    if problem:
        _err().print(f"the objective metric {spec.objective.metric!r} {problem}", markup=False)
        raise typer.Exit(EXIT_FAILED)


# --------------------------------------------------------------------------- SageMaker


import_app = typer.Typer(
    help="Turn another tool's tuning job into an hpt spec.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(import_app, name="import")


def _deliver(text: str, out: Path | None, force: bool, warnings):
    """Warnings on standard error, then ``text`` on standard output or into ``out``."""
    err = _err()
    for w in warnings:
        err.print(f"warning: {w}", markup=False)
    if out is None:
        print(text, end="")
    else:
        _write_new(out, text, force)
        err.print(f"wrote {out}", markup=False)
    return err


def _write_new(path: Path, text: str, force: bool) -> None:
    if path.exists() and not force:
        raise UsageError(f"{path} exists; use --force to overwrite it")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


def _channel(value: str) -> tuple[str, str]:
    name, sep, path = value.partition("=")
    if not sep or not name or not path:
        raise UsageError(f"--channel takes NAME=DIR, e.g. train=data/train (got {value!r})")
    return name, path


@import_app.command("sagemaker")
def import_sagemaker(
    request: Path = typer.Argument(
        ...,
        metavar="REQUEST.json",
        help="A CreateHyperParameterTuningJob request (as `aws sagemaker create-hyper-parameter-tuning-job "
        "--generate-cli-skeleton` shapes it) or a DescribeHyperParameterTuningJob response.",
        show_default=False,
    ),
    command: str = typer.Option(
        ...,
        "--command",
        help='The training command, e.g. "python train.py {args}" ({args}: every hyperparameter as --name value, '
        "as SageMaker passes them). Relative paths are relative to the current directory.",
        show_default=False,
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Write the spec to this file (default: standard output)."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite --out if it exists."),
    channel: list[str] = typer.Option(
        [], "--channel", help="An input channel's local directory, NAME=DIR (repeatable).", show_default=False
    ),
    name: str | None = typer.Option(None, "--name", help="The job name (default: the request's)."),
) -> None:
    """Turn a SageMaker tuning-job request into an hpt spec.

    Settings without a local meaning (images, instances, roles, VPC, S3 locations) become comments
    in the spec and warnings here.

    Example: hpt import sagemaker tuning-job.json --command "python train.py {args}"
    --channel train=data/train --out spec.yaml
    """
    from .sagemaker.request import request_to_spec
    from .spec import parse_spec

    try:
        data = json.loads(request.read_text("utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read {request}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise UsageError(f"{request} is not JSON: {exc}") from None
    cwd = Path.cwd().resolve()
    target = out.resolve().parent if out is not None else None
    workdir = None
    if target is None:
        workdir = str(cwd)
    elif target != cwd:
        workdir = os.path.relpath(cwd, target)
    text, warnings = request_to_spec(
        data,
        command,
        channels=dict(_channel(c) for c in channel),
        workdir=workdir,
        name=name,
        source=request.name,
    )
    err = _deliver(text, out, force, warnings)
    # The spec must validate as it is; say so now rather than at `hpt run`.
    source = str(out) if out is not None else "<imported spec>"
    _print_problems(err, source, parse_spec(text, source=source, base_dir=target or cwd).warnings)


# --------------------------------------------------------------------------- entry point


class _Stream:
    """Standard output or error, whose closed pipe raises :class:`OutputClosed` instead of
    ``BrokenPipeError``: the command-line library would otherwise exit 1 on its own."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            raise OutputClosed("the reader of hpt's output went away") from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise OutputClosed("the reader of hpt's output went away") from None

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def _quiet_stdout() -> None:
    """Point standard output at /dev/null: its reader went away, and the flush at exit must not
    fail (it would turn a success into exit code 120)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _printable(text: str) -> str:
    """A message without control characters or binary garbage (from a damaged file, say)."""
    return "".join(c if c.isprintable() or c in "\n\t" else f"\\x{ord(c):02x}" for c in text)


def wants_json(args: list[str]) -> bool:
    """Did the command line ask for ``-o json`` (``--output json``, ``--output=json``, ``-ojson``)?"""
    for i, a in enumerate(args):
        if a == "--":
            return False
        if a in ("-o", "--output") and i + 1 < len(args) and args[i + 1] == "json":
            return True
        if a in ("--output=json", "-ojson", "-o=json"):
            return True
    return False


def _json_error(message: str, code: int, problems=None) -> None:
    """With ``-o json`` a failure is still one JSON document on stdout, for CI to parse."""
    doc: dict = {"error": message, "exit_code": code}
    if problems is not None:
        doc["problems"] = [dataclasses.asdict(p) for p in problems]
    with contextlib.suppress(OSError, OutputClosed):
        print(json.dumps(doc, indent=2), flush=True)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the app and turn every error into a message and an exit code.

    With ``-o json`` on the command line, every failure also prints one JSON document on
    stdout: ``{"error": message, "exit_code": code}``, plus ``problems`` for an invalid spec.
    Called without ``argv`` (as the ``hpt`` program), it ends the process with :func:`leave`.
    """
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    as_json = wants_json(args)
    streams = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Stream(sys.stdout), _Stream(sys.stderr)
    err = _err()
    error: tuple[str, int, list | None] | None = None
    try:
        # Without standalone mode click returns the code of typer.Exit instead of exiting.
        result = app(args=args, prog_name="hpt", standalone_mode=False)
        code = result if isinstance(result, int) else EXIT_OK
    except typer.Exit as exc:
        code = exc.exit_code
    except typer.Abort:
        code = EXIT_INTERRUPTED
        error = ("interrupted", code, None)
    except SpecError as exc:
        _print_problems(err, exc.source, exc.problems)
        code = exc.exit_code
        more = len(exc.problems) - 1
        error = (str(exc) + (f" (and {more} more)" if more > 0 else ""), code, exc.problems)
    except HptError as exc:
        if debug:
            traceback.print_exc()
        err.print(f"error: {_printable(str(exc))}", markup=False)
        code = exc.exit_code
        error = (str(exc), code, None)
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
        error = ("interrupted", code, None)
    except (BrokenPipeError, OutputClosed):
        # The reader of our output went away (e.g. `hpt show | head`): not an error.
        _quiet_stdout()
        code = EXIT_OK
    except Exception as exc:
        if hasattr(exc, "show") and hasattr(exc, "format_message"):
            # A command-line usage error from typer's (possibly vendored) click.
            exc.show(file=sys.stderr)
            code = getattr(exc, "exit_code", EXIT_USAGE) or EXIT_USAGE
            if as_json:
                _json_error(exc.format_message(), code)
            sys.exit(code)
        # A bug in hpt, not a user mistake.
        if debug:
            traceback.print_exc()
        message = f"internal error: {type(exc).__name__}: {_printable(str(exc))} (run with --debug for a traceback, and please report it)"
        err.print(message, markup=False)
        code = EXIT_FAILED
        error = (message, code, None)
    if as_json and error is not None:
        _json_error(*error)
    try:
        sys.stdout.flush()
    except (OSError, OutputClosed):
        _quiet_stdout()
    sys.stdout, sys.stderr = streams
    if argv is None:
        leave(code)
    sys.exit(code)


def leave(code: int) -> NoReturn:
    """End the process as ``sys.exit`` would, without the interpreter's teardown.

    Non-daemon threads are waited for, ``atexit`` handlers run and the standard streams are
    flushed; what is skipped is freeing every module and object one by one, about 0.1 s with
    numpy, pydantic and rich loaded, which a command that has finished has no use for.
    """
    import atexit
    import threading

    try:
        for thread in threading.enumerate():
            if thread is not threading.current_thread() and not thread.daemon:
                thread.join()
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


__all__ = ["app", "main", "EXIT_OK", "EXIT_FAILED", "EXIT_USAGE", "EXIT_INTERRUPTED"]
