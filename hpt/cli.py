"""The command line. The only place where exceptions become messages and exit codes.

Exit codes: 0 the job completed (or the command succeeded), 1 the job failed, 2 an invalid spec
or wrong usage, 130 the job was interrupted or stopped (it can be resumed).
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from enum import Enum
from pathlib import Path

import typer
from rich.console import Console

from . import __version__
from .api import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from .errors import HptError, JobNotFoundError, SpecError, UsageError

app = typer.Typer(
    name="hpt",
    help="hpt: a local-first hyperparameter tuner. A YAML spec in, the best hyperparameters out.",
    no_args_is_help=True,
    add_completion=False,
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


RunsDir = typer.Option(
    None,
    "--runs-dir",
    envvar="HPT_RUNS_DIR",
    help="Directory that holds the jobs (default ./hpt-runs; also HPT_RUNS_DIR).",
    show_default=False,
)


def _runs_dir(value: Path | None) -> Path:
    return Path(value) if value else Path("hpt-runs")


def _err() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def _out() -> Console:
    return Console(highlight=False, soft_wrap=True)


def _tables() -> Console:
    """A console for tables: full width at a terminal, wide (not 80 columns) in a pipe or file."""
    return Console(highlight=False, width=None if sys.stdout.isatty() else 200)


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


def _print_problems(console: Console, source: str, problems) -> None:
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


def _reporter(quiet: bool):
    """Progress on standard error: live at a terminal, plain lines otherwise; with ``--quiet``
    only messages (warnings, "resuming")."""
    from .progress import PlainReporter, RichReporter
    from .reporting import QuietReporter

    err = _err()
    if quiet:

        class _Notes(QuietReporter):
            def note(self, text: str) -> None:
                err.print(text, markup=False)

        return _Notes()
    return RichReporter(err) if err.is_terminal else PlainReporter(err)


def _finish(result, output: Output) -> None:
    """Print a finished job's result and exit with its code."""
    from .report import dumps, summary

    if output == Output.json:
        print(dumps(result.to_dict(trials=False)))
    else:
        summary(_out(), result)
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
) -> None:
    """Run a tuning job (or resume it, if an unfinished job with the same spec exists)."""
    from . import api

    result = api.run(
        spec_path,
        runs_dir=_runs_dir(runs_dir),
        name=name,
        reporter=_reporter(quiet),
        executor=executor.value if executor else None,
        address=address,
        report=report,
    )
    _finish(result, output)


@app.command()
def resume(
    job: str = typer.Argument(..., help="The job name.", show_default=False),
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
) -> None:
    """Continue a job after a crash, Ctrl-C or `hpt stop`; raise its limits to extend it."""
    from . import api

    result = api.resume(
        job,
        runs_dir=_runs_dir(runs_dir),
        max_jobs=max_jobs,
        max_parallel_jobs=max_parallel_jobs,
        max_runtime=max_runtime,
        reporter=_reporter(quiet),
        executor=executor.value if executor else None,
        address=address,
        report=report,
    )
    _finish(result, output)


@app.command()
def stop(
    job: str = typer.Argument(..., help="The job name.", show_default=False),
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
        _err().print(f"job {job} is not running", markup=False)
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


# --------------------------------------------------------------------------- inspecting jobs


@app.command()
def show(
    job: str = typer.Argument(..., help="The job name.", show_default=False),
    output: Output = typer.Option(Output.text, "--output", "-o", help="text or json."),
    runs_dir: Path | None = RunsDir,
) -> None:
    """Show a job's trials, best first, with AMT-style status counts."""
    from . import api
    from .report import dumps, trials_table

    result = api.load(job, runs_dir=_runs_dir(runs_dir))
    if output == Output.json:
        print(dumps(result.to_dict()))
        return
    console = _tables()
    console.print(
        f"job {result.name}: {result.status}" + (f" ({result.reason})" if result.reason else ""),
        markup=False,
    )
    console.print(trials_table(result))


@app.command()
def best(
    job: str = typer.Argument(..., help="The job name.", show_default=False),
    format: BestFormat = typer.Option(
        BestFormat.json, "--format", "-f", help="json, yaml, or args (command-line arguments)."
    ),
    runs_dir: Path | None = RunsDir,
) -> None:
    """Print the best hyperparameters of a job."""
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

    rows = [r for r in (job_line(p) for p in list_jobs(_runs_dir(runs_dir))) if r]
    if output == Output.json:
        print(dumps({"jobs": rows}))
        return
    if not rows:
        _err().print(f"no jobs in {_runs_dir(runs_dir)}", markup=False)
        return
    table = Table()
    for col in ("job", "status", "trials", "completed", "best", "updated"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["job"],
            r["status"],
            str(r["trials"]),
            str(r["completed"]),
            fmt(r["best"]) if r["best"] is not None else "",
            time.strftime("%Y-%m-%d %H:%M", time.localtime(r["updated"])),
        )
    _tables().print(table)


class ExportFormat(str, Enum):
    csv = "csv"
    jsonl = "jsonl"


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
        ExportFormat.csv, "--format", "-f", help="csv or jsonl (JSON Lines)."
    ),
    points: bool = typer.Option(
        False, "--points", help="Every metric point (trial, attempt, metric, step, value, time)."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Write to this file instead of standard output.", show_default=False
    ),
    runs_dir: Path | None = RunsDir,
) -> None:
    """Export a job's trials, one row each, as CSV or JSON Lines (columns: docs/export.md).

    Example: hpt export digits-svc-random --format csv > trials.csv
    """
    from . import api

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

    api.logs(job, trial, attempt=attempt, stderr=stderr, follow=follow, runs_dir=_runs_dir(runs_dir))


@app.command("check-metrics")
def check_metrics(
    spec_path: Path = typer.Argument(..., metavar="SPEC", help="The spec file.", show_default=False),
    logfile: Path = typer.Argument(
        ..., metavar="LOGFILE", help="A sample of the training script's output.", show_default=False
    ),
    limit: int = typer.Option(5, "--show", help="Matches to show per metric."),
) -> None:
    """Show what each metric regex captures from a sample log (a regex tester)."""
    from .executors.proc import LineSplitter
    from .metrics import MetricParser, final_value
    from .report import fmt
    from .spec import load_spec

    spec = load_spec(spec_path)
    try:
        data = logfile.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {logfile}: {exc.strerror or exc}") from None
    splitter = LineSplitter()
    lines = splitter.feed(data) + splitter.flush()
    parser = MetricParser(spec.metrics)
    found: dict[str, list[tuple[int, int, float, str]]] = {m.name: [] for m in spec.metrics}
    for number, line in enumerate(lines, 1):
        for p in parser.feed(line):
            found[p.name].append((number, p.step, p.value, line))
    out = _out()
    out.print(f"{logfile}: {len(lines)} lines", markup=False)
    objective_found = False
    for m in spec.metrics:
        points = found[m.name]
        is_obj = m.name == spec.objective.metric
        label = f"{m.name}{' (objective)' if is_obj else ''}  regex {m.regex!r}"
        if not points:
            out.print(
                f"\n{label}\n  no match. Check the regex against a line of the log; in YAML single quotes a backslash is literal ('\\d'), in double quotes it must be doubled (\"\\\\d\").",
                markup=False,
            )
            continue
        values = [v for _, _, v, _ in points]
        use = spec.objective.use if is_obj else "last"
        final = final_value(values, use, spec.objective.maximize)
        objective_found = objective_found or is_obj
        out.print(f"\n{label}\n  {len(points)} matches; final value ({use}) = {fmt(final)}", markup=False)
        shown = points if len(points) <= limit else points[: limit - 1] + points[-1:]
        for number, step, value, line in shown:
            text = line if len(line) <= 100 else line[:97] + "..."
            out.print(f"  line {number:>5}  step {step:>4}  value {fmt(value):>12}   {text}", markup=False)
        if len(points) > limit:
            out.print(f"  ... {len(points) - limit} more", markup=False)
    if parser.unparsed:
        out.print(
            f"\n{parser.unparsed} matches captured text that is not a number (ignored)",
            markup=False,
        )
    if not objective_found:
        _err().print(
            f"the objective metric {spec.objective.metric!r} matched nothing: every trial would fail",
            markup=False,
        )
        raise typer.Exit(EXIT_FAILED)


# --------------------------------------------------------------------------- entry point


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the app and turn every error into a message and an exit code."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    err = _err()
    try:
        # Without standalone mode click returns the code of typer.Exit instead of exiting.
        result = app(args=args, prog_name="hpt", standalone_mode=False)
        code = result if isinstance(result, int) else EXIT_OK
    except typer.Exit as exc:
        code = exc.exit_code
    except typer.Abort:
        code = EXIT_INTERRUPTED
    except SpecError as exc:
        _print_problems(err, exc.source, exc.problems)
        code = exc.exit_code
    except HptError as exc:
        if debug:
            traceback.print_exc()
        err.print(f"error: {exc}", markup=False)
        code = exc.exit_code
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of our output went away (e.g. `hpt show | head`): not an error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = EXIT_OK
    except Exception as exc:
        if hasattr(exc, "show") and hasattr(exc, "format_message"):
            # A command-line usage error from typer's (possibly vendored) click.
            exc.show(file=sys.stderr)
            sys.exit(getattr(exc, "exit_code", EXIT_USAGE) or EXIT_USAGE)
        # A bug in hpt, not a user mistake.
        if debug:
            traceback.print_exc()
        err.print(
            f"internal error: {type(exc).__name__}: {exc} (run with --debug for a traceback, and please report it)",
            markup=False,
        )
        code = EXIT_FAILED
    sys.exit(code)


__all__ = ["app", "main", "EXIT_OK", "EXIT_FAILED", "EXIT_USAGE", "EXIT_INTERRUPTED"]
