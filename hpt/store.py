"""The job store: one SQLite database per job. The only module that speaks SQL; it keeps rows of
the records defined in :mod:`hpt.trial`.

Every state change is one transaction, so a crash at any moment leaves the store consistent:
a trial is pending, running, interrupted or finished, and a finished trial is never written
again. Strategy bookkeeping (grid index, bracket, rung) lives in each trial's ``info``, so a
job can be rebuilt from the store alone.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import socket
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import (
    JobCreatedMeanwhile,
    JobExistsError,
    JobLockedError,
    JobNotFoundError,
    StoreError,
    TrialFinishedError,
)
from .paths import DB_NAME
from .trial import FINISHED, IN_PROGRESS, INTERRUPTED, PENDING, RUNNING, Trial

#: The schema this hpt writes. Version 1 (before the canonical spec) is read, and upgraded by
#: :func:`hpt.jobs.stored_spec` when the job is opened.
SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)
#: Columns of ``attempts`` that version 1 lacks: what each attempt was launched with (its slot,
#: its devices and its exact argv and added environment, as JSON). Added by the upgrade.
_LAUNCH_COLUMNS = (("slot", "INTEGER"), ("devices", "TEXT"), ("argv", "TEXT"), ("env", "TEXT"))

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE job (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    name TEXT NOT NULL,
    spec_text TEXT NOT NULL,
    spec_json TEXT NOT NULL,
    spec_source TEXT NOT NULL,
    base_dir TEXT NOT NULL,
    seed INTEGER NOT NULL,
    status TEXT NOT NULL,
    end_reason TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    ended REAL,
    elapsed REAL NOT NULL DEFAULT 0,
    overrides TEXT NOT NULL DEFAULT '{}',
    stop_requested INTEGER NOT NULL DEFAULT 0,
    runner_pid INTEGER,
    runner_host TEXT
);
CREATE TABLE trials (
    id INTEGER PRIMARY KEY,
    state TEXT NOT NULL,
    params TEXT NOT NULL,
    info TEXT NOT NULL DEFAULT '{}',
    attempts INTEGER NOT NULL DEFAULT 0,
    objective REAL,
    objective_step INTEGER,
    reason TEXT,
    created REAL NOT NULL,
    started REAL,
    ended REAL
);
CREATE TABLE attempts (
    trial_id INTEGER NOT NULL REFERENCES trials(id),
    attempt INTEGER NOT NULL,
    state TEXT NOT NULL,
    pid INTEGER,
    pgid INTEGER,
    host TEXT,
    started REAL NOT NULL,
    ended REAL,
    exit_code INTEGER,
    reason TEXT,
    log_dir TEXT NOT NULL,
    slot INTEGER,
    devices TEXT,
    argv TEXT,
    env TEXT,
    PRIMARY KEY (trial_id, attempt)
);
CREATE TABLE metrics (
    trial_id INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    name TEXT NOT NULL,
    step INTEGER NOT NULL,
    value REAL,
    time REAL NOT NULL
);
CREATE INDEX metrics_by_trial ON metrics (trial_id, attempt, name);
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    time REAL NOT NULL,
    trial_id INTEGER,
    kind TEXT NOT NULL,
    detail TEXT
);
"""
# The trials of a warm start's parents, as the job saw them when it was created: a job stays
# whole (resumable, showable) when a parent is later extended or removed.
_PRIOR = """
CREATE TABLE IF NOT EXISTS prior (
    id INTEGER PRIMARY KEY,
    parent TEXT NOT NULL,
    parent_trial INTEGER NOT NULL,
    state TEXT NOT NULL,
    params TEXT NOT NULL,
    objective REAL,
    points TEXT NOT NULL DEFAULT '[]',
    used INTEGER NOT NULL,
    exact INTEGER NOT NULL DEFAULT 0,
    reason TEXT,
    note TEXT
)
"""


def _real(x: float | None) -> Any:
    """SQLite turns NaN into NULL; keep it as the text 'NaN' in a REAL column instead."""
    if x is None:
        return None
    x = float(x)
    return "NaN" if math.isnan(x) else x


def _float(v: Any) -> float | None:
    if v is None:
        return None
    return float(v)  # float('NaN') for the text form; inf round-trips as REAL


@dataclass
class JobRow:
    name: str
    spec_text: str  # the spec as the user wrote it
    spec: dict  # its canonical form (hpt.spec.canonical); in a version-1 store, the raw YAML data
    spec_source: str
    base_dir: str
    seed: int
    status: str
    end_reason: str | None
    created: float
    updated: float
    ended: float | None
    elapsed: float
    stop_requested: bool
    runner_pid: int | None
    runner_host: str | None
    overrides: dict


@dataclass
class PriorRow:
    """One trial of a warm start's parent, mapped into this job's space (:mod:`hpt.warmstart`).

    ``params`` are in this job's space when ``used`` (else the parent's own); ``points`` the
    objective points of its latest attempt; ``exact``: this job could have run it itself, so
    it is not run again; ``reason``: why it is not used; ``note``: what was adapted."""

    parent: str
    parent_trial: int
    state: str
    params: dict
    objective: float | None
    points: list
    used: bool
    exact: bool = False
    reason: str | None = None
    note: str | None = None


@dataclass
class AttemptRow:
    trial_id: int
    attempt: int
    state: str
    pid: int | None
    pgid: int | None
    host: str | None
    started: float
    ended: float | None
    exit_code: int | None
    reason: str | None
    log_dir: str
    slot: int | None = None
    devices: list[str] | None = None  # the GPUs it was given; None without resources.gpus
    argv: list[str] | None = None  # the command exactly as run
    env: dict[str, str] | None = None  # the variables hpt added to the machine's environment


def translate(exc: sqlite3.Error, path: Path) -> StoreError:
    """An SQLite error as one line that says what happened to the job and what to do."""
    text = str(exc)
    low = text.lower()
    name = path.parent.name
    if "disk is full" in low or "database or disk is full" in low:
        return StoreError(
            f"the disk holding {path} is full: free some space, then continue with `hpt resume {name}`"
        )
    if "readonly" in low or "read-only" in low:
        return StoreError(
            f"cannot write {path}: it is read-only (permissions or a read-only file system); "
            f"make it writable, then continue with `hpt resume {name}`"
        )
    if "malformed" in low or "not a database" in low or "corrupt" in low:
        return StoreError(f"{path} is damaged ({text}); hpt cannot read this job")
    if "unable to open" in low:
        return StoreError(f"cannot open {path} ({text})")
    if "locked" in low or "busy" in low:
        return StoreError(f"{path} is locked by another process ({text}); try again")
    return StoreError(f"{path}: {text}")


class _Rows:
    """A cursor whose reads (where a damaged page shows up) raise :class:`StoreError` too."""

    def __init__(self, cursor: sqlite3.Cursor, path: Path):
        self._cursor, self._path = cursor, path

    def fetchone(self) -> Any:
        try:
            return self._cursor.fetchone()
        except sqlite3.Error as exc:
            raise translate(exc, self._path) from None

    def fetchall(self) -> list:
        try:
            return self._cursor.fetchall()
        except sqlite3.Error as exc:
            raise translate(exc, self._path) from None

    def __iter__(self):
        return iter(self.fetchall())


class _Connection:
    """The SQLite connection, with every error turned into a :class:`StoreError` that says what
    to do (a full disk, a read-only or damaged file), never a bare ``OperationalError``."""

    def __init__(self, conn: sqlite3.Connection, path: Path):
        self._conn, self._path = conn, path

    def execute(self, sql: str, args: Any = ()) -> _Rows:
        try:
            return _Rows(self._conn.execute(sql, args), self._path)
        except sqlite3.Error as exc:
            raise translate(exc, self._path) from None

    def executemany(self, sql: str, rows: Any) -> None:
        try:
            self._conn.executemany(sql, rows)
        except sqlite3.Error as exc:
            raise translate(exc, self._path) from None

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._conn.close()


_INSERT_POINTS = "INSERT INTO metrics (trial_id, attempt, name, step, value, time) VALUES (?, ?, ?, ?, ?, ?)"
_SET_PROCESS = "UPDATE attempts SET pid = ?, pgid = ?, host = ? WHERE trial_id = ? AND attempt = ?"


def _launch_values(argv=None, env=None, slot=None, devices=None) -> tuple:
    """An attempt's ``slot``, ``devices``, ``argv`` and ``env`` columns."""
    return (
        slot,
        json.dumps(list(devices)) if devices is not None else None,
        json.dumps(list(argv)) if argv is not None else None,
        json.dumps(env) if env is not None else None,
    )


class Store:
    """A job's database. Use :meth:`create` or :meth:`open`; one writer (the runner) at a time."""

    def __init__(self, path: Path, conn: sqlite3.Connection):
        self.path = path
        self.dir = path.parent
        self._conn = _Connection(conn, path)
        self.version = SCHEMA_VERSION
        self._launch_columns = True

    # ------------------------------------------------------------------ opening

    @staticmethod
    def _connect(path: Path, readonly: bool = False, building: bool = False) -> sqlite3.Connection:
        if path.is_symlink():
            raise StoreError(f"{path} is a symbolic link; hpt does not write through links")
        try:
            if readonly:
                # mode=ro: this connection cannot write, whatever a caller does; WAL lets it
                # read while the runner writes.
                conn = sqlite3.connect(
                    f"{path.resolve().as_uri()}?mode=ro",
                    uri=True,
                    timeout=30.0,
                    isolation_level=None,
                    check_same_thread=False,
                )
                conn.execute("PRAGMA busy_timeout = 30000")
                return conn
            conn = sqlite3.connect(str(path), timeout=30.0, isolation_level=None, check_same_thread=False)
            if building:
                # No journal while a new job's database is built: no other process sees it
                # before it is complete, and a WAL's two files and its checkpoint cost half of
                # a job's creation. Opened as the job's database, it is switched to WAL.
                conn.execute("PRAGMA journal_mode = OFF")
                conn.execute("PRAGMA synchronous = FULL")
                return conn
            conn.execute("PRAGMA busy_timeout = 30000")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as exc:
            raise translate(exc, path) from None
        return conn

    @classmethod
    def create(
        cls,
        jdir: Path,
        *,
        name: str,
        spec_text: str,
        spec: dict,
        spec_source: str,
        base_dir: str,
        seed: int,
        prior: Iterable[PriorRow] = (),
    ) -> Store:
        """Create a new job directory and database. Fails if the job already exists.

        ``prior``: a warm start's parent trials, stored with the job.

        The database is built under a temporary name and linked into place complete, so a
        crash during creation never leaves a half-made job behind, and a reader never sees one.
        """
        jdir.mkdir(parents=True, exist_ok=True)
        path = jdir / DB_NAME
        raced = JobCreatedMeanwhile(
            f"job {name!r} was created by another hpt process at the same moment, which runs it; "
            f"see `hpt show {name}`"
        )
        if path.exists() or path.is_symlink():
            raise raced
        leftovers = [
            p.name for p in jdir.iterdir() if p.name != "lock" and not p.name.startswith(f".{DB_NAME}.")
        ]
        if leftovers:
            if path.exists():  # the other process got there in between
                raise raced
            # A job directory whose database is gone (deleted by hand?): its trial directories
            # would be written over, so it is not reused.
            raise JobExistsError(
                f"{jdir} exists but holds no {DB_NAME} (it has {', '.join(sorted(leftovers)[:3])}); "
                f"remove that directory, or run the spec under another name with --name"
            )
        tmp = jdir / f".{DB_NAME}.{os.getpid()}.tmp"
        tmp.unlink(missing_ok=True)
        conn = cls._connect(tmp, building=True)
        try:
            cls._build(conn, tmp, name, spec_text, spec, spec_source, base_dir, seed, prior)
        except sqlite3.Error as exc:
            raise translate(exc, path) from None
        finally:
            conn.close()
        try:
            os.link(tmp, path)  # no-clobber: of two concurrent creates, one fails cleanly
        except FileExistsError:
            raise raced from None
        finally:
            for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
                leftover.unlink(missing_ok=True)
        return cls.open(jdir)

    @classmethod
    def _build(cls, conn, tmp, name, spec_text, spec, spec_source, base_dir, seed, prior) -> None:
        """The schema, the job row and a warm start's parent trials, in the database at ``tmp``."""
        now = time.time()
        with cls(tmp, conn)._tx() as c:
            for stmt in _SCHEMA.split(";"):
                if stmt.strip():
                    c.execute(stmt)
            c.execute(_PRIOR)
            c.executemany(
                "INSERT INTO prior (parent, parent_trial, state, params, objective, points, used, exact,"
                " reason, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        r.parent,
                        r.parent_trial,
                        r.state,
                        json.dumps(r.params),
                        _real(r.objective),
                        json.dumps(r.points),
                        int(r.used),
                        int(r.exact),
                        r.reason,
                        r.note,
                    )
                    for r in prior
                ],
            )
            c.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            c.execute(
                "INSERT INTO job (id, name, spec_text, spec_json, spec_source, base_dir, seed,"
                " status, created, updated) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (name, spec_text, json.dumps(spec), spec_source, base_dir, seed, IN_PROGRESS, now, now),
            )

    @classmethod
    def open(cls, jdir: Path, *, readonly: bool = False) -> Store:
        """Open a job's database; ``readonly`` for views (report, export, logs) that must never
        write, even while the job runs."""
        path = jdir / DB_NAME
        if not path.is_file():
            raise JobNotFoundError(f"no job at {jdir}")
        conn = cls._connect(path, readonly)
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.Error as exc:
            conn.close()
            raise StoreError(f"{path} is not an hpt job database, or is damaged ({exc})") from None
        version = int(row[0]) if row is not None and str(row[0]).isdigit() else None
        if version not in READABLE_VERSIONS:
            conn.close()
            raise StoreError(
                f"{path} has store schema version {row[0] if row else '?'}; this hpt reads versions "
                + ", ".join(map(str, READABLE_VERSIONS))
            )
        store = cls(path, conn)
        store.version = version
        store._launch_columns = store._has_launch_columns()
        return store

    def _has_launch_columns(self) -> bool:
        names = {r[1] for r in self._conn.execute("PRAGMA table_info(attempts)")}
        return all(c in names for c, _ in _LAUNCH_COLUMNS)

    def close(self) -> None:
        self._conn.close()

    @contextlib.contextmanager
    def _tx(self) -> Iterator[_Connection]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            with contextlib.suppress(StoreError):  # a failed write may have ended it already
                self._conn.execute("ROLLBACK")
            raise
        else:
            self._conn.execute("COMMIT")

    @contextlib.contextmanager
    def reading(self) -> Iterator[Store]:
        """Several reads that see one state of the job (a read transaction), even while the
        runner writes."""
        self._conn.execute("BEGIN")
        try:
            yield self
        finally:
            self._conn.execute("COMMIT")

    def _event(self, conn, trial_id: int | None, kind: str, detail: str | None = None) -> None:
        conn.execute(
            "INSERT INTO events (time, trial_id, kind, detail) VALUES (?, ?, ?, ?)",
            (time.time(), trial_id, kind, detail),
        )

    # ------------------------------------------------------------------ job

    def job(self) -> JobRow:
        r = self._conn.execute(
            "SELECT name, spec_text, spec_json, spec_source, base_dir, seed, status, end_reason,"
            " created, updated, ended, elapsed, stop_requested, runner_pid, runner_host, overrides FROM job"
        ).fetchone()
        try:
            return self._job_row(r)
        except (TypeError, ValueError, IndexError) as exc:
            raise StoreError(f"{self.path} is damaged (its job row cannot be read: {exc})") from None

    @staticmethod
    def _job_row(r) -> JobRow:
        return JobRow(
            r[0],
            r[1],
            json.loads(r[2]),
            r[3],
            r[4],
            r[5],
            r[6],
            r[7],
            r[8],
            r[9],
            r[10],
            r[11],
            bool(r[12]),
            r[13],
            r[14],
            json.loads(r[15]),
        )

    def set_job_status(self, status: str, reason: str | None = None, elapsed: float | None = None) -> None:
        now = time.time()
        ended = None if status == IN_PROGRESS else now
        with self._tx() as c:
            c.execute(
                "UPDATE job SET status = ?, end_reason = ?, updated = ?, ended = ?,"
                " elapsed = COALESCE(?, elapsed) WHERE id = 1",
                (status, reason, now, ended, elapsed),
            )
            self._event(c, None, "job_" + status.lower(), reason)

    def upgrade_spec(self, spec: dict) -> None:
        """Store the canonical form of a version-1 job's spec, making the store version 2."""
        with self._tx() as c:
            c.execute("UPDATE job SET spec_json = ? WHERE id = 1", (json.dumps(spec),))
            have = {r[1] for r in c.execute("PRAGMA table_info(attempts)")}
            for column, kind in _LAUNCH_COLUMNS:
                if column not in have:
                    c.execute(f"ALTER TABLE attempts ADD COLUMN {column} {kind}")
            c.execute(_PRIOR)
            c.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
        self.version = SCHEMA_VERSION
        self._launch_columns = True

    def set_elapsed(self, elapsed: float) -> None:
        with self._tx() as c:
            c.execute("UPDATE job SET elapsed = ?, updated = ? WHERE id = 1", (elapsed, time.time()))

    def begin_run(self, overrides: dict | None = None) -> None:
        """Mark the job in progress under this process (a new run or a resume).

        ``overrides`` replaces the raised limits (max_jobs, max_parallel_jobs, max_runtime)
        that apply on top of the stored spec."""
        with self._tx() as c:
            c.execute(
                "UPDATE job SET status = ?, end_reason = NULL, ended = NULL, stop_requested = 0,"
                " runner_pid = ?, runner_host = ?, updated = ? WHERE id = 1",
                (IN_PROGRESS, os.getpid(), socket.gethostname(), time.time()),
            )
            if overrides is not None:
                c.execute("UPDATE job SET overrides = ? WHERE id = 1", (json.dumps(overrides),))
            self._event(c, None, "run_started", f"pid {os.getpid()}")

    def request_stop(self) -> None:
        with self._tx() as c:
            c.execute("UPDATE job SET stop_requested = 1, updated = ? WHERE id = 1", (time.time(),))
            self._event(c, None, "stop_requested")

    def stop_requested(self) -> bool:
        return bool(self._conn.execute("SELECT stop_requested FROM job").fetchone()[0])

    # ------------------------------------------------------------------ trials

    _TRIAL_COLS = (
        "id, state, params, info, attempts, objective, objective_step, reason, created, started, ended"
    )

    @staticmethod
    def _trial(r) -> Trial:
        return Trial(
            r[0],
            r[1],
            json.loads(r[2]),
            json.loads(r[3]),
            r[4],
            _float(r[5]),
            r[6],
            r[7],
            r[8],
            r[9],
            r[10],
        )

    def trials(self) -> list[Trial]:
        rows = self._conn.execute(f"SELECT {self._TRIAL_COLS} FROM trials ORDER BY id").fetchall()
        return [self._trial(r) for r in rows]

    def trial(self, trial_id: int) -> Trial:
        r = self._conn.execute(f"SELECT {self._TRIAL_COLS} FROM trials WHERE id = ?", (trial_id,)).fetchone()
        if r is None:
            raise StoreError(f"no trial {trial_id}")
        return self._trial(r)

    def create_trial(self, params: dict[str, Any], info: dict[str, Any] | None = None) -> Trial:
        """A new pending trial with the next id (ids have no gaps)."""
        now = time.time()
        with self._tx() as c:
            (next_id,) = c.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM trials").fetchone()
            c.execute(
                "INSERT INTO trials (id, state, params, info, created) VALUES (?, ?, ?, ?, ?)",
                (next_id, PENDING, json.dumps(params), json.dumps(info or {}), now),
            )
            self._event(c, next_id, "created", json.dumps(params))
        return Trial(next_id, PENDING, dict(params), dict(info or {}), created=now)

    def _check_open(self, c, trial_id: int) -> str:
        r = c.execute("SELECT state FROM trials WHERE id = ?", (trial_id,)).fetchone()
        if r is None:
            raise StoreError(f"no trial {trial_id}")
        if r[0] in FINISHED:
            raise TrialFinishedError(
                f"trial {trial_id} is already {r[0]}; a finished trial is never written again"
            )
        return r[0]

    def start_attempt(
        self,
        trial_id: int,
        log_dir: str,
        *,
        create: tuple[dict[str, Any], dict[str, Any]] | None = None,
        launch: dict[str, Any] | None = None,
    ) -> int:
        """Mark a trial running under a new attempt; returns the attempt number (1, 2, ...).

        ``create=(params, info)`` creates the trial (with id ``trial_id``, the next one) in the
        same transaction; ``launch`` (``argv``, ``env``, ``slot``, ``devices``) records what
        the attempt is started with (``hpt best --format argv|env``, ``hpt show``).
        """
        now = time.time()
        if create is not None:
            self._create_running(trial_id, log_dir, now, *create, launch)
            return 1
        with self._tx() as c:
            self._check_open(c, trial_id)
            (attempt,) = c.execute("SELECT attempts + 1 FROM trials WHERE id = ?", (trial_id,)).fetchone()
            c.execute(
                "UPDATE trials SET state = ?, attempts = ?, started = ?, reason = NULL,"
                " objective = NULL, objective_step = NULL WHERE id = ?",
                (RUNNING, attempt, now, trial_id),
            )
            c.execute(
                "INSERT INTO attempts (trial_id, attempt, state, started, log_dir) VALUES (?, ?, ?, ?, ?)",
                (trial_id, attempt, RUNNING, now, log_dir),
            )
            if launch is not None:
                self._write_launch(c, trial_id, attempt, **launch)
            self._event(c, trial_id, "started", f"attempt {attempt}")
        return attempt

    def _create_running(self, trial_id, log_dir, now, params, info, launch) -> None:
        """A new trial, running its first attempt: what start_attempt writes, in three statements
        (the runner starts trials one after another; each one's latency is a slot's idle time)."""
        self._need_launch_columns()
        text = json.dumps(params)
        with self._tx() as c:
            c.execute(
                "INSERT INTO trials (id, state, params, info, created, attempts, started) VALUES (?, ?, ?, ?, ?, 1, ?)",
                (trial_id, RUNNING, text, json.dumps(info or {}), now, now),
            )
            c.execute(
                "INSERT INTO attempts (trial_id, attempt, state, started, log_dir, slot, devices, argv, env)"
                " VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?)",
                (trial_id, RUNNING, now, log_dir, *_launch_values(**(launch or {}))),
            )
            c.executemany(
                "INSERT INTO events (time, trial_id, kind, detail) VALUES (?, ?, ?, ?)",
                [(now, trial_id, "created", text), (now, trial_id, "started", "attempt 1")],
            )

    def _need_launch_columns(self) -> None:
        if not self._launch_columns:
            raise StoreError(f"{self.path} is a version-1 store; open it with hpt.jobs.stored_spec first")

    def _write_launch(self, c, trial_id: int, attempt: int, *, argv, env, slot=None, devices=None) -> None:
        self._need_launch_columns()
        c.execute(
            "UPDATE attempts SET slot = ?, devices = ?, argv = ?, env = ? WHERE trial_id = ? AND attempt = ?",
            (*_launch_values(argv=argv, env=env, slot=slot, devices=devices), trial_id, attempt),
        )

    def save_progress(
        self,
        points: Iterable[tuple[int, int, str, int, float, float]] = (),
        processes: Iterable[tuple[int, int, int | None, int | None, str | None]] = (),
    ) -> None:
        """In one transaction: metric points ``(trial_id, attempt, name, step, value, time)`` of
        running attempts, and their processes ``(trial_id, attempt, pid, pgid, host)``."""
        rows = [(tid, a, n, st, _real(v), t) for tid, a, n, st, v, t in points]
        procs = [(pid, pgid, host, tid, a) for tid, a, pid, pgid, host in processes]
        if not rows and not procs:
            return
        with self._tx() as c:
            if rows:
                c.executemany(_INSERT_POINTS, rows)
            if procs:
                c.executemany(_SET_PROCESS, procs)

    def add_points(
        self, trial_id: int, attempt: int, points: Iterable[tuple[str, int, float, float]]
    ) -> None:
        """Metric points ``(name, step, value, time)`` of a running attempt."""
        self.save_progress((trial_id, attempt, *p) for p in points)

    def update_info(self, trial_id: int, info: dict[str, Any]) -> None:
        """Replace a trial's strategy bookkeeping (refused once the trial is finished)."""
        with self._tx() as c:
            self._check_open(c, trial_id)
            c.execute("UPDATE trials SET info = ? WHERE id = ?", (json.dumps(info), trial_id))

    def end_attempt(
        self,
        trial_id: int,
        attempt: int,
        *,
        attempt_state: str,
        trial_state: str,
        exit_code: int | None = None,
        reason: str | None = None,
        objective: float | None = None,
        objective_step: int | None = None,
        info: dict[str, Any] | None = None,
        attempt_reason: str | None = None,
        points: Iterable[tuple[str, int, float, float]] = (),
        process: tuple[int | None, int | None, str | None] | None = None,
    ) -> None:
        """End an attempt and move its trial to ``trial_state`` in one transaction.

        ``trial_state`` is a finished state, ``pending`` (it will be retried) or ``interrupted``
        (hpt stopped; it will run again on resume). ``attempt_reason`` (default: ``reason``) is
        recorded on the attempt, ``reason`` on the trial. Its last ``points`` ``(name, step,
        value, time)`` and its ``process`` ``(pid, pgid, host)``, not saved yet, go in the same
        transaction.
        """

        if trial_state not in (*FINISHED, PENDING, INTERRUPTED):
            raise StoreError(f"cannot end a trial attempt into state {trial_state!r}")
        now = time.time()
        rows = [(trial_id, attempt, n, st, _real(v), t) for n, st, v, t in points]
        with self._tx() as c:
            self._check_open(c, trial_id)
            if rows:
                c.executemany(_INSERT_POINTS, rows)
            if process is not None:
                c.execute(_SET_PROCESS, (*process, trial_id, attempt))
            c.execute(
                "UPDATE attempts SET state = ?, ended = ?, exit_code = ?, reason = ? WHERE trial_id = ? AND attempt = ?",
                (attempt_state, now, exit_code, attempt_reason or reason, trial_id, attempt),
            )
            c.execute(
                "UPDATE trials SET state = ?, reason = ?, objective = ?, objective_step = ?,"
                " ended = ?, info = COALESCE(?, info) WHERE id = ?",
                (
                    trial_state,
                    reason,
                    _real(objective),
                    objective_step,
                    now if trial_state in FINISHED else None,
                    json.dumps(info) if info is not None else None,
                    trial_id,
                ),
            )
            self._event(c, trial_id, trial_state, reason)

    def interrupt_running(self, reason: str) -> list[int]:
        """After a crash: every attempt still marked running becomes interrupted."""
        now = time.time()
        with self._tx() as c:
            ids = [r[0] for r in c.execute("SELECT id FROM trials WHERE state = ?", (RUNNING,))]
            c.execute(
                "UPDATE attempts SET state = ?, ended = ?, reason = ? WHERE state = ?",
                (INTERRUPTED, now, reason, RUNNING),
            )
            c.execute(
                "UPDATE trials SET state = ?, reason = ? WHERE state = ?",
                (INTERRUPTED, reason, RUNNING),
            )
            for i in ids:
                self._event(c, i, INTERRUPTED, reason)
        return ids

    # ------------------------------------------------------------------ reading

    def attempts(self, trial_id: int | None = None) -> list[AttemptRow]:
        launch = "slot, devices, argv, env" if self._launch_columns else "NULL, NULL, NULL, NULL"
        sql = (
            "SELECT trial_id, attempt, state, pid, pgid, host, started, ended, exit_code, reason, log_dir, "
            + launch
            + " FROM attempts"
        )
        args: tuple = ()
        if trial_id is not None:
            sql += " WHERE trial_id = ?"
            args = (trial_id,)
        rows = self._conn.execute(sql + " ORDER BY trial_id, attempt", args)
        return [
            AttemptRow(*r[:12], *(json.loads(x) if x is not None else None for x in r[12:])) for r in rows
        ]

    def final_points(self) -> dict[int, dict[str, tuple[int, float]]]:
        """``trial_id -> {metric: (step, value)}``: the last point of every metric of every
        trial's latest attempt (a running trial's current values)."""
        rows = self._conn.execute(
            "SELECT m.trial_id, m.name, m.step, m.value FROM metrics m JOIN ("
            " SELECT mm.trial_id, mm.name, MAX(mm.rowid) AS last FROM metrics mm"
            " JOIN trials t ON t.id = mm.trial_id AND mm.attempt = t.attempts"
            " GROUP BY mm.trial_id, mm.name) l ON m.rowid = l.last"
        )
        out: dict[int, dict[str, tuple[int, float]]] = {}
        for tid, name, step, value in rows:
            out.setdefault(tid, {})[name] = (step, _float(value))
        return out

    def points(
        self, trial_id: int, name: str | None = None, attempt: int | None = None
    ) -> list[tuple[str, int, float, float]]:
        """``(name, step, value, time)`` of a trial, for one attempt (default: its latest)."""
        if attempt is None:
            (attempt,) = self._conn.execute(
                "SELECT attempts FROM trials WHERE id = ?", (trial_id,)
            ).fetchone() or (0,)
        sql = "SELECT name, step, value, time FROM metrics WHERE trial_id = ? AND attempt = ?"
        args: tuple = (trial_id, attempt)
        if name is not None:
            sql += " AND name = ?"
            args += (name,)
        return [(n, s, _float(v), t) for n, s, v, t in self._conn.execute(sql + " ORDER BY rowid", args)]

    def metric_history(self, name: str) -> dict[int, list[tuple[int, float]]]:
        """``trial_id -> [(step, value), ...]`` of one metric, latest attempt of every trial."""
        out: dict[int, list[tuple[int, float]]] = {}
        rows = self._conn.execute(
            "SELECT m.trial_id, m.step, m.value FROM metrics m JOIN trials t ON t.id = m.trial_id"
            " AND m.attempt = t.attempts WHERE m.name = ? ORDER BY m.rowid",
            (name,),
        )
        for tid, step, value in rows:
            out.setdefault(tid, []).append((step, _float(value)))
        return out

    def all_points(self, latest: bool = True) -> list[tuple[int, int, str, int, float, float]]:
        """``(trial_id, attempt, name, step, value, time)`` of every metric point of the job in
        one query, in the order they were recorded: of each trial's latest attempt, or of every
        attempt (``latest=False``)."""
        sql = "SELECT m.trial_id, m.attempt, m.name, m.step, m.value, m.time FROM metrics m"
        if latest:
            sql += " JOIN trials t ON t.id = m.trial_id AND m.attempt = t.attempts"
        rows = self._conn.execute(sql + " ORDER BY m.rowid")
        return [(tid, a, n, s, _float(v), t) for tid, a, n, s, v, t in rows]

    def prior(self) -> list[PriorRow]:
        """The warm start's parent trials stored with the job (none in a version-1 store)."""
        if not self._conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'prior'"
        ).fetchone():
            return []
        rows = self._conn.execute(
            "SELECT parent, parent_trial, state, params, objective, points, used, exact, reason, note"
            " FROM prior ORDER BY id"
        )
        return [
            PriorRow(p, t, st, json.loads(pa), _float(o), json.loads(pts), bool(u), bool(e), r, n)
            for p, t, st, pa, o, pts, u, e, r, n in rows
        ]

    def events(self) -> list[tuple[float, int | None, str, str | None]]:
        return list(self._conn.execute("SELECT time, trial_id, kind, detail FROM events ORDER BY id"))


class JobLock:
    """An exclusive lock on a job, held by the live runner process (released when it dies)."""

    def __init__(self, jdir: Path):
        self.path = jdir / "lock"
        self._fd: int | None = None

    def acquire(self, name: str) -> None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        except OSError as exc:
            raise StoreError(f"cannot open {self.path} ({exc.strerror or exc})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                holder = os.read(fd, 200).decode(errors="replace").strip()
            finally:
                os.close(fd)
            raise JobLockedError(
                f"job {name!r} is already running ({holder or 'another hpt process'}); "
                f"stop it with `hpt stop {name}` or wait for it to finish"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
                os.close(self._fd)
            self._fd = None

    def held_by_other(self) -> bool:
        """True when a live process holds this job's lock."""
        if not self.path.exists():
            return False
        fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False


__all__ = ["AttemptRow", "JobLock", "JobRow", "PriorRow", "Store"]
