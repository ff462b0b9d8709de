"""Jobs: creating, reopening and resuming them, and cleaning up after a crash."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import time
from pathlib import Path
from typing import Any

from .errors import HptError, JobExistsError, StoreError, UsageError
from .paths import check_name, job_dir
from .spec import RAISABLE_LIMITS, Spec, from_canonical, parse_duration, parse_spec, to_canonical
from .spec.canonical import differences, identity
from .store import JobLock, Store
from .trial import IN_PROGRESS, JOB_COMPLETED, JOB_FAILED


def _limit_seconds(value: Any) -> float | None:
    return None if value is None else parse_duration(value)


def apply_overrides(spec: Spec, overrides: dict[str, Any]) -> Spec:
    """The spec with raised limits applied (validated: only raising, parallel <= max_jobs)."""
    if not overrides:
        return spec
    limits = spec.limits
    changes: dict[str, Any] = {}
    if overrides.get("max_jobs") is not None:
        changes["max_jobs"] = int(overrides["max_jobs"])
    if overrides.get("max_parallel_jobs") is not None:
        changes["max_parallel_jobs"] = int(overrides["max_parallel_jobs"])
    if overrides.get("max_runtime") is not None:
        seconds = _limit_seconds(overrides["max_runtime"])
        if seconds is None:
            raise UsageError(
                f"--max-runtime must be a number of seconds or a duration such as 2h (got {overrides['max_runtime']!r})"
            )
        changes["max_runtime"] = seconds
    for key, value in changes.items():
        old = getattr(limits, key)
        if old is not None and value < old:
            raise UsageError(f"{key} can only be raised on resume (it is {old:g}, asked for {value:g})")
    new = dataclasses.replace(limits, **changes)
    if new.max_parallel_jobs > new.max_jobs:
        raise UsageError(
            f"max_parallel_jobs ({new.max_parallel_jobs}) cannot exceed max_jobs ({new.max_jobs})"
        )
    size = spec.space.cardinality
    if spec.strategy == "grid" and new.max_jobs != limits.max_jobs:
        raise UsageError(f"a grid job runs its {limits.max_jobs} combinations once; max_jobs cannot change")
    if size is not None and new.max_jobs > size:
        raise UsageError(
            f"the search space has only {size} distinct combinations, fewer than max_jobs {new.max_jobs}"
        )
    return dataclasses.replace(spec, limits=new)


def stored_spec(store: Store) -> Spec:
    """The spec a job was created with, plus the limits raised since.

    Read from the job's canonical form, without validating again: a job stays readable when a
    rule has changed since, or its workdir has moved. A job written before the canonical form
    existed (store version 1) is validated once, from its text, and upgraded.
    """
    job = store.job()
    if store.version < 2:
        spec = _as_version_1(
            parse_spec(job.spec_text, source=job.spec_source, base_dir=Path(job.base_dir)), job.spec
        )
        form = to_canonical(dataclasses.replace(spec, name=job.name))
        with contextlib.suppress(StoreError):  # a read-only store is read as it is
            store.upgrade_spec(form)
    else:
        form = job.spec
    spec = dataclasses.replace(from_canonical(form), name=job.name)
    return apply_overrides(spec, job.overrides)


def _as_version_1(spec: Spec, raw: Any) -> Spec:
    """A spec validated again as the hpt that wrote a version-1 store read it: hyperband's sampler
    was then random unless the spec named one (the default has changed since; a resumed job must
    go on as it began)."""
    hb = raw.get("hyperband") if isinstance(raw, dict) else None
    if spec.hyperband is not None and not (isinstance(hb, dict) and "sampler" in hb):
        spec = dataclasses.replace(spec, hyperband=dataclasses.replace(spec.hyperband, sampler="random"))
    return spec


def raised_limits(old: Spec, new: Spec) -> dict[str, Any]:
    """Limits the new spec raises over the old one, as overrides."""
    out = {}
    for key in RAISABLE_LIMITS:
        a, b = getattr(old.limits, key), getattr(new.limits, key)
        if b is not None and (a is None or b > a):
            out[key] = b
    return out


def create_or_reopen(spec: Spec, runs_dir: Path) -> tuple[Store, Spec, bool]:
    """Create the job of ``spec``, or reopen it when an unfinished job with the same spec exists.

    A new job with ``warm_start`` checks its parents in ``runs_dir`` first (a
    :class:`~hpt.errors.SpecError` at the spec's lines when they do not fit) and stores their
    trials with it.

    Returns ``(store, effective spec, resumed)``.
    """
    jdir = job_dir(runs_dir, spec.name)
    if not (jdir / "job.db").exists():
        from .warmstart import collect

        # The parents are read (and checked) once, here; their trials are stored with the job.
        prior = collect(spec, Path(runs_dir))
        # os.urandom, as secrets does, without secrets' import of hmac and OpenSSL (8 ms a start)
        seed = spec.random_seed if spec.random_seed is not None else int.from_bytes(os.urandom(4), "little")
        store = Store.create(
            jdir,
            name=spec.name,
            spec_text=spec.text,
            spec=to_canonical(spec),
            spec_source=spec.source,
            base_dir=str(spec.base_dir),
            seed=seed,
            prior=prior,
        )
        return store, spec, False
    store = Store.open(jdir)
    try:
        job = store.job()
        old = stored_spec(store)
        diff = differences(identity(to_canonical(old)), identity(to_canonical(spec)))
        if diff:
            hint = ""
            if any(d.startswith("hyperband.sampler") for d in diff) and old.hyperband.sampler == "random":
                hint = "\n(the job draws configurations at random, as hyperband did by default before: add `sampler: random` under `hyperband` to go on as it began)"
            raise JobExistsError(
                f"job {spec.name!r} already exists with a different spec ({jdir}):\n  "
                + "\n  ".join(diff)
                + hint
                + "\nstart over with `hpt run --restart` (deletes the old job), run it under another name "
                + "with --name, or resume it unchanged with `hpt resume "
                + spec.name
                + "`"
            )
        raised = raised_limits(old, spec)
        for key in RAISABLE_LIMITS:
            if (
                getattr(spec.limits, key) is not None
                and getattr(old.limits, key) is not None
                and getattr(spec.limits, key) < getattr(old.limits, key)
            ):
                raise JobExistsError(
                    f"job {spec.name!r} exists with {key} {getattr(old.limits, key):g}; limits can only be raised"
                )
        if job.status in (JOB_COMPLETED, JOB_FAILED) and not raised:
            raise JobExistsError(
                f"job {spec.name!r} already ran ({job.status.lower()}: {job.end_reason}); see `hpt show {spec.name}`, "
                f"extend it with `hpt resume {spec.name} --max-jobs N`, start over with `hpt run --restart` "
                "(deletes it), or run the spec again under another name with --name"
            )
        effective = apply_overrides(old, {**job.overrides, **raised})
        # Where trials run (the executor, the devices) comes from the spec given now.
        return store, dataclasses.replace(effective, executor=spec.executor, resources=spec.resources), True

    except BaseException:
        store.close()
        raise


def reopen(runs_dir: Path, name: str, overrides: dict[str, Any]) -> tuple[Store, Spec, dict]:
    """Open an existing job for ``hpt resume``, applying raised limits.

    Returns ``(store, effective spec, all overrides to record)``."""
    from .errors import JobNotFoundError

    jdir = job_dir(runs_dir, check_name(name))
    if not (jdir / "job.db").exists():
        raise JobNotFoundError(f"no job named {name!r} in {runs_dir} (see `hpt list`)")
    store = Store.open(jdir)
    try:
        job = store.job()
        spec = stored_spec(store)
        merged = {**job.overrides, **{k: v for k, v in overrides.items() if v is not None}}
        spec = apply_overrides(spec, {k: v for k, v in overrides.items() if v is not None})
        if job.status in (JOB_COMPLETED, JOB_FAILED) and not any(v is not None for v in overrides.values()):
            raise UsageError(
                f"job {name!r} already {job.status.lower()} ({job.end_reason}); raise a limit to extend it, "
                f"e.g. `hpt resume {name} --max-jobs {spec.limits.max_jobs + 10}`"
            )
        return store, spec, merged
    except BaseException:
        store.close()
        raise


# ---------------------------------------------------------------------- deleting


def delete_job(runs_dir: Path, name: str) -> tuple[int, str]:
    """Delete a job and its directory; returns ``(trials, status)`` it had.

    Refused for a job that is running (its lock is held), for a directory that is not a job,
    and for a job directory that is a symbolic link: nothing outside the runs directory is
    ever deleted. The directory is first renamed to a hidden name (atomically, under the job's
    lock), so a crash mid-way leaves no half-deleted job behind, only a hidden directory.
    """
    import shutil

    from .errors import JobNotFoundError

    jdir = job_dir(runs_dir, check_name(name))
    if jdir.is_symlink():
        raise UsageError(f"{jdir} is a symbolic link; hpt deletes only job directories inside {runs_dir}")
    if not (jdir / "job.db").is_file():
        raise JobNotFoundError(f"no job named {name!r} in {runs_dir} (see `hpt list`)")
    if jdir.resolve().parent != Path(runs_dir).resolve():
        raise UsageError(f"{jdir} is not inside {runs_dir}; not deleting it")
    lock = JobLock(jdir)
    lock.acquire(name)  # a running job is refused, with its pid and host
    try:
        store = Store.open(jdir)
        try:
            trials, status = len(store.trials()), store.job().status
        finally:
            store.close()
        trash = jdir.parent / f".deleting-{name}-{os.getpid()}-{os.urandom(3).hex()}"
        os.rename(jdir, trash)
    finally:
        lock.release()
    shutil.rmtree(trash)
    return trials, status


# ---------------------------------------------------------------------- stray processes


def stray_processes(jdir: Path) -> list[int]:
    """Live processes started for this job (found by the HPT_JOB_DIR every trial inherits)."""
    marker = f"HPT_JOB_DIR={jdir.resolve()}".encode()
    me = os.getpid()
    found = []
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker in environ.split(b"\x00"):
            found.append(int(entry.name))
    return found


def kill_stray_processes(jdir: Path, grace: float) -> int:
    """Stop what a crashed run of this job left behind: SIGTERM, then SIGKILL after ``grace``."""
    pids = stray_processes(jdir)
    for pid in pids:
        _kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while pids and time.monotonic() < deadline:
        time.sleep(0.05)
        pids = [p for p in pids if _alive(p)]
    for pid in pids:
        _kill(pid, signal.SIGKILL)
    return len(pids)


def _kill(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().split(b") ", 1)[1][:1] != b"Z"
    except (OSError, IndexError):
        return False


def prepare(store: Store, spec: Spec, lock: JobLock, overrides: dict | None) -> list[int]:
    """Take the job's lock, clean up after a crashed run, and mark the job in progress.

    Returns the ids of trials that were running when the previous run died.
    """
    lock.acquire(spec.name)
    job = store.job()
    interrupted: list[int] = []
    if job.status == IN_PROGRESS or any(t.state == "running" for t in store.trials()):
        kill_stray_processes(store.dir, spec.limits.stop_grace_period)
        interrupted = store.interrupt_running("interrupted: hpt stopped while the trial ran")
    store.begin_run(overrides)
    return interrupted


__all__ = ["create_or_reopen", "delete_job", "reopen", "prepare", "stored_spec", "HptError"]
