"""The store: transitions, refusals, and exact round trips of floats (inf and NaN included)."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hpt.errors import StoreError, TrialFinishedError, UsageError
from hpt.paths import check_name, job_dir
from hpt.store import JobLock, Store
from hpt.trial import COMPLETED, FAILED, INTERRUPTED, PENDING, RUNNING


@pytest.fixture
def store(tmp_path):
    s = Store.create(
        tmp_path / "job",
        name="job",
        spec_text="x",
        spec={"a": 1},
        spec_source="s.yaml",
        base_dir="/",
        seed=5,
    )
    yield s
    s.close()


def test_create_and_reopen(tmp_path, store):
    t = store.create_trial({"x": 0.5}, {"grid_index": 0})
    assert t.id == 1 and t.state == PENDING
    again = Store.open(tmp_path / "job")
    assert again.job().seed == 5 and again.trials()[0].info == {"grid_index": 0}
    with pytest.raises(StoreError):
        Store.create(
            tmp_path / "job", name="job", spec_text="x", spec={}, spec_source="", base_dir="/", seed=1
        )


def test_a_new_job_database_is_complete_in_wal_mode_with_nothing_left_beside_it(tmp_path, store):
    import sqlite3

    store.close()
    conn = sqlite3.connect(f"file:{tmp_path / 'job' / 'job.db'}?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("SELECT name, seed FROM job").fetchone() == ("job", 5)
    finally:
        conn.close()
    assert not [p.name for p in (tmp_path / "job").iterdir() if p.name.startswith(".job.db")]


def test_trial_lifecycle_and_finished_trials_are_never_written(store):
    t = store.create_trial({"x": 1})
    a = store.start_attempt(t.id, "/logs/1")
    assert a == 1 and store.trial(t.id).state == RUNNING
    store.add_points(t.id, a, [("loss", 1, 0.5, 1.0), ("loss", 2, 0.25, 2.0)])
    store.end_attempt(
        t.id, a, attempt_state=COMPLETED, trial_state=COMPLETED, exit_code=0, objective=0.25, objective_step=2
    )
    row = store.trial(t.id)
    assert row.state == COMPLETED and row.objective == 0.25 and row.objective_step == 2
    with pytest.raises(TrialFinishedError):
        store.start_attempt(t.id, "/logs/2")
    with pytest.raises(TrialFinishedError):
        store.end_attempt(t.id, a, attempt_state=FAILED, trial_state=FAILED)
    with pytest.raises(TrialFinishedError):
        store.update_info(t.id, {"x": 1})
    assert store.points(t.id, "loss") == [("loss", 1, 0.5, 1.0), ("loss", 2, 0.25, 2.0)]


def test_a_trial_created_running_is_the_trial_created_then_started(tmp_path, store):
    """start_attempt(create=...) writes in one go what creating a trial and starting it write."""
    other = Store.create(
        tmp_path / "two", name="two", spec_text="x", spec={"a": 1}, spec_source="s.yaml", base_dir="/", seed=5
    )
    launch = {"argv": ["python", "t.py"], "env": {"HPT_TRIAL_ID": "1"}, "slot": 0, "devices": ["0"]}
    try:
        store.start_attempt(1, "/logs/1", create=({"x": 1}, {"k": 2}), launch=launch)
        t = other.create_trial({"x": 1}, {"k": 2})
        other.start_attempt(t.id, "/logs/1")
        other._write_launch(other._conn, t.id, 1, **launch)

        def shape(s):
            tr = s.trial(1)
            (a,) = s.attempts(1)
            kinds = [r[0] for r in s._conn.execute("SELECT kind FROM events WHERE trial_id = 1 ORDER BY id")]
            return (
                (tr.state, tr.attempts, tr.params, tr.info, tr.started is not None),
                (a.state, a.log_dir, a.argv, a.env, a.slot, a.devices),
                kinds,
            )

        assert shape(store) == shape(other)
    finally:
        other.close()


def test_retry_and_interrupt_keep_the_trial_id(store):
    t = store.create_trial({"x": 1})
    a1 = store.start_attempt(t.id, "/l/1")
    store.end_attempt(t.id, a1, attempt_state=FAILED, trial_state=PENDING, reason="retry")
    a2 = store.start_attempt(t.id, "/l/2")
    assert a2 == 2
    assert store.interrupt_running("crash") == [t.id]
    assert store.trial(t.id).state == INTERRUPTED
    assert [a.state for a in store.attempts(t.id)] == [FAILED, INTERRUPTED]
    assert store.start_attempt(t.id, "/l/3") == 3
    assert [t.id for t in store.trials()] == [1]


def test_metric_history_uses_latest_attempt(store):
    t = store.create_trial({})
    a1 = store.start_attempt(t.id, "/l")
    store.add_points(t.id, a1, [("m", 1, 9.0, 0)])
    store.end_attempt(t.id, a1, attempt_state=FAILED, trial_state=PENDING)
    a2 = store.start_attempt(t.id, "/l")
    store.add_points(t.id, a2, [("m", 1, 1.0, 0), ("other", 1, 5.0, 0)])
    assert store.metric_history("m") == {1: [(1, 1.0)]}


def test_all_points_in_one_query(store):
    t1, t2 = store.create_trial({}), store.create_trial({})
    a = store.start_attempt(t1.id, "/l")
    store.add_points(t1.id, a, [("m", 1, 9.0, 0.5)])
    store.end_attempt(t1.id, a, attempt_state=FAILED, trial_state=PENDING)
    a = store.start_attempt(t1.id, "/l")
    store.add_points(t1.id, a, [("m", 1, 1.0, 1.5), ("n", 1, math.nan, 1.5)])
    store.add_points(t2.id, store.start_attempt(t2.id, "/l"), [("m", 3, -math.inf, 2.5)])
    latest = store.all_points()  # of each trial's latest attempt, in the order recorded
    assert latest[0] == (1, 2, "m", 1, 1.0, 1.5) and latest[2] == (2, 1, "m", 3, -math.inf, 2.5)
    assert latest[1][:4] == (1, 2, "n", 1) and math.isnan(latest[1][4])
    assert [(tid, att, name) for tid, att, name, *_ in store.all_points(latest=False)] == [
        (1, 1, "m"),
        (1, 2, "m"),
        (1, 2, "n"),
        (2, 1, "m"),
    ]


def test_readonly_store_reads_while_the_writer_writes(tmp_path, store):
    reader = Store.open(tmp_path / "job", readonly=True)
    try:
        store.create_trial({"x": 1})
        with reader.reading():
            seen = reader.trials()
            store.create_trial({"x": 2})  # a write during the read transaction...
            assert len(reader.trials()) == len(seen) == 1  # ...is not seen by it
        assert len(reader.trials()) == 2
        with pytest.raises(StoreError, match="read-only"):
            reader.create_trial({"x": 3})
    finally:
        reader.close()


@settings(max_examples=100, deadline=None)
@given(values=st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=20))
def test_float_round_trip(tmp_path_factory, values):
    s = Store.create(
        tmp_path_factory.mktemp("j") / "job",
        name="j",
        spec_text="",
        spec={},
        spec_source="",
        base_dir="/",
        seed=0,
    )
    t = s.create_trial({"x": values[0]} if math.isfinite(values[0]) else {})
    a = s.start_attempt(t.id, "/l")
    s.add_points(t.id, a, [("m", i, v, 0.0) for i, v in enumerate(values)])
    s.end_attempt(t.id, a, attempt_state=COMPLETED, trial_state=COMPLETED, objective=values[-1])
    back = [v for _, _, v, _ in s.points(t.id, "m")]
    for want, got in zip(values, back, strict=True):
        assert (math.isnan(want) and math.isnan(got)) or want == got
    obj = s.trial(t.id).objective
    assert (math.isnan(values[-1]) and math.isnan(obj)) or obj == values[-1]
    s.close()


@pytest.mark.parametrize("bad", ["../x", "/abs", "a/b", "a\x00b", "", "x" * 64, ".", "..", "a b", "é"])
def test_names_cannot_escape_the_runs_directory(bad, tmp_path):
    with pytest.raises(UsageError):
        job_dir(tmp_path, bad)


def test_good_names(tmp_path):
    assert check_name("digits-svc_2") == "digits-svc_2"
    assert job_dir(tmp_path, "a") == tmp_path / "a"


def test_lock_is_exclusive_and_released(tmp_path, store):
    from hpt.errors import JobLockedError

    lock = JobLock(store.dir)
    lock.acquire("job")
    assert lock.held_by_other()
    with pytest.raises(JobLockedError):
        JobLock(store.dir).acquire("job")
    lock.release()
    assert not JobLock(store.dir).held_by_other()


def test_schema_version_is_checked(tmp_path, store):
    store._conn.execute("UPDATE meta SET value = '99'")
    with pytest.raises(StoreError, match="schema version 99"):
        Store.open(store.dir)
