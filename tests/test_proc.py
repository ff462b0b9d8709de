"""Running one attempt: line splitting, capped logs, the supervisor, streaming."""

import os
import queue
import selectors
import sys
import threading
import time

import pytest

from hpt.executors.base import Exited, Launch, Output, Started
from hpt.executors.proc import (
    CappedLog,
    LineSplitter,
    StopSignal,
    run_attempt,
)


def test_splitter_breaks_on_newline_and_carriage_return():
    s = LineSplitter()
    assert s.feed(b"a\nb\rc\r\nd") == ["a", "b", "c"]
    assert s.feed(b"e\n") == ["de"]
    assert s.feed(b"progress 10%\rprogress 20%\r") == ["progress 10%", "progress 20%"]
    assert s.feed(b"\nnext\n") == ["next"]  # the \n of a split \r\n is not an empty line
    assert s.flush() == []


def test_splitter_cuts_long_lines_and_drops_the_rest():
    s = LineSplitter(limit=10)
    assert s.feed(b"0123456789abcdef") == ["0123456789"]
    assert s.feed(b"ghij" * 100) == []
    assert s.feed(b"klm\nok\n") == ["ok"]


def test_splitter_replaces_invalid_utf8():
    s = LineSplitter()
    assert s.feed(b"caf\xc3\xa9 \xff\xfe x=1\n") == ["café \ufffd\ufffd x=1"]
    assert s.feed(b"tail") == [] and s.flush() == ["tail"]


def test_capped_log_keeps_head_and_tail(tmp_path):
    log = CappedLog(tmp_path / "out.log", head=10, tail=5)
    total = 0
    for chunk in (b"0123456789", b"ABCDEFGHIJ", b"vwxyz"):
        log.write(chunk)
        total += len(chunk)
    log.close(total)
    text = (tmp_path / "out.log").read_bytes()
    assert text.startswith(b"0123456789") and text.endswith(b"vwxyz")
    assert b"10 bytes of output not kept" in text


def test_make_dirs_refuses_a_link_below_inside_and_says_what_it_made(tmp_path):
    from hpt.executors.proc import make_dirs

    assert make_dirs(tmp_path / "a" / "b", inside=tmp_path) is True
    assert make_dirs(tmp_path / "a" / "b", inside=tmp_path) is False
    (tmp_path / "link").symlink_to(tmp_path / "a")
    with pytest.raises(OSError, match="symbolic link"):
        make_dirs(tmp_path / "link" / "c", inside=tmp_path)
    assert make_dirs(tmp_path / "x" / "y", inside="/") is True  # checks up to the root, and ends


def _run(tmp_path, argv, grace=2.0, stop_after=None, env=None):
    events = queue.Queue()
    stop = StopSignal()
    env = {"HPT_TEST": "1", **(env or {})}
    launch = Launch(1, 1, tuple(argv), env, str(tmp_path), str(tmp_path / "logs"), grace=grace)
    t = threading.Thread(target=run_attempt, args=(launch, events.put, stop))
    t.start()
    if stop_after is not None:
        time.sleep(stop_after)
        stop.set()
    t.join(timeout=30)
    stop.close()
    out = []

    while not events.empty():
        out.append(events.get())
    return out


def test_streams_lines_and_reports_exit(tmp_path):
    code = (
        "import sys,os; print('a=1'); print('b', file=sys.stderr); print(os.environ['HPT_TEST']); sys.exit(3)"
    )
    events = _run(tmp_path, [sys.executable, "-c", code])
    assert isinstance(events[0], Started)
    lines = {(e.stream, text) for e in events if isinstance(e, Output) for text in e.lines}
    assert lines == {("stdout", "a=1"), ("stderr", "b"), ("stdout", "1")}
    assert isinstance(events[-1], Exited) and events[-1].exit_code == 3
    assert (tmp_path / "logs" / "stdout.log").read_text() == "a=1\n1\n"
    assert (tmp_path / "logs" / "stderr.log").read_text() == "b\n"


def test_attempts_run_this_way_share_one_supervisor_and_keep_their_own_events(tmp_path):
    """Dask tasks on one worker: the first starts a supervisor, later ones reuse it, and two
    attempts with the same key (two jobs on one worker) each get their own lines and exit."""
    for name in ("a", "b", "c"):
        (tmp_path / name).mkdir()
    code = "import os, time; time.sleep(0.3); print('{}', os.getppid())"  # its parent: the supervisor
    first = _run(tmp_path / "a", [sys.executable, "-c", code.format("a")])
    assert isinstance(first[0], Started) and first[-1].exit_code == 0
    (supervisor,) = [text.split()[1] for e in first if isinstance(e, Output) for text in e.lines]
    threads, results = [], {}
    for name in ("b", "c"):

        def go(name=name):
            results[name] = _run(tmp_path / name, [sys.executable, "-c", code.format(name)])

        threads.append(threading.Thread(target=go))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    for name in ("b", "c"):
        events = results[name]
        assert [e.key for e in events] == [(1, 1)] * len(events)
        assert [text for e in events if isinstance(e, Output) for text in e.lines] == [f"{name} {supervisor}"]
        assert isinstance(events[-1], Exited) and events[-1].exit_code == 0


def test_an_attempt_ends_when_no_supervisor_can_be_started(tmp_path, monkeypatch):
    from hpt.executors import proc

    def cannot(*args, **kwargs):
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(proc, "_shared", None)
    monkeypatch.setattr(proc, "SupervisorProcess", cannot)
    events = _run(tmp_path, [sys.executable, "-c", "print('never')"])
    assert [type(e) for e in events] == [Exited]
    assert events[0].error == "cannot start the trial supervisor: Too many open files"


def test_a_caller_whose_events_fail_does_not_break_the_shared_supervisor(tmp_path):
    """One Dask task's failing event handler ends its own attempt (stopped, internal error); the
    next attempt in the process runs as usual."""
    got = []

    def emit(event):
        got.append(event)
        if isinstance(event, Output):
            raise RuntimeError("the handler broke")

    stop = StopSignal()
    code = "import time; print('up', flush=True); time.sleep(30)"
    launch = Launch(1, 1, (sys.executable, "-c", code), {}, str(tmp_path), str(tmp_path / "logs"), grace=1.0)
    t0 = time.monotonic()
    run_attempt(launch, emit, stop)
    stop.close()
    assert time.monotonic() - t0 < 20  # the trial was stopped, not waited for
    assert isinstance(got[-1], Exited) and "the handler broke" in got[-1].error
    assert sum(isinstance(e, Exited) for e in got) == 1
    (tmp_path / "next").mkdir()
    events = _run(tmp_path / "next", [sys.executable, "-c", "print('fine')"])
    assert events[-1].exit_code == 0 and any(isinstance(e, Output) for e in events)


def test_an_attempt_runs_in_a_process_with_many_descriptors(tmp_path):
    """A long-lived Dask worker may hold more than 1024 descriptors (select() cannot wait on
    those)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if max(soft, hard if hard != resource.RLIM_INFINITY else 4096) < 1200:
        pytest.skip("cannot open 1200 descriptors here")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        events = _run(tmp_path, [sys.executable, "-c", "import time; time.sleep(0.3); print('fine')"])
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert events[-1].exit_code == 0, events[-1]
    assert [t for e in events if isinstance(e, Output) for t in e.lines] == ["fine"]


def test_a_trial_inherits_no_descriptor_but_its_standard_streams(tmp_path):
    """Not the supervisor's socket to hpt, nor the other ends of its pipes."""
    code = "import os; print(sorted(int(fd) for fd in os.listdir('/proc/self/fd')))"
    events = _run(tmp_path, [sys.executable, "-c", code])
    (line,) = [t for e in events if isinstance(e, Output) for t in e.lines]
    assert line == "[0, 1, 2, 3]"  # 3: the listing's own descriptor


def test_a_trial_gets_hpts_environment_with_the_launchs_variables_laid_over_it(tmp_path):
    """Python trials stream their lines (PYTHONUNBUFFERED=1) unless hpt's environment or the
    launch says otherwise."""
    code = "import os; print(os.environ['PYTHONUNBUFFERED'], os.environ['HPT_TEST'], os.environ['PATH'])"
    events = _run(tmp_path, [sys.executable, "-c", code])
    lines = [t for e in events if isinstance(e, Output) for t in e.lines]
    assert lines == [f"{os.environ.get('PYTHONUNBUFFERED', '1')} 1 {os.environ['PATH']}"]
    events = _run(tmp_path, [sys.executable, "-c", code], env={"PYTHONUNBUFFERED": "0", "HPT_TEST": "2"})
    lines = [t for e in events if isinstance(e, Output) for t in e.lines]
    assert lines == [f"0 2 {os.environ['PATH']}"]


def test_a_command_is_found_on_the_path_the_trial_is_given(tmp_path):
    (tmp_path / "bin").mkdir()
    tool = tmp_path / "bin" / "hpt-test-tool"
    tool.write_text("#!/bin/sh\necho from-the-trial-path\n")
    tool.chmod(0o755)
    (tmp_path / "bin" / "hpt-not-executable").write_text("#!/bin/sh\n")
    path = f"{tmp_path / 'bin'}:{os.environ['PATH']}"
    events = _run(tmp_path, ["hpt-test-tool"], env={"PATH": path})
    assert [t for e in events if isinstance(e, Output) for t in e.lines] == ["from-the-trial-path"]
    events = _run(tmp_path, ["hpt-not-executable"], env={"PATH": path})
    assert events[-1].error == "permission denied: hpt-not-executable is not executable"


def test_command_not_found(tmp_path):
    events = _run(tmp_path, ["definitely-not-a-command-hpt"])
    assert events[-1].error == "command not found: definitely-not-a-command-hpt"


def test_stop_sends_sigterm_then_sigkill(tmp_path):
    code = "import signal,time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(60)"
    start = time.monotonic()
    events = _run(tmp_path, [sys.executable, "-c", code], grace=0.5, stop_after=1.0)
    assert events[-1].exit_code == -9
    assert time.monotonic() - start < 20


def test_stop_signal_wakes_a_selector_waiting_on_it():
    """The supervising thread waits on the trial's pipes and on the signal: a stop must wake it
    at once, not at the trial's next line (else a trial stopped at a rung trains one more epoch)."""
    stop = StopSignal()
    sel = selectors.DefaultSelector()
    sel.register(stop, selectors.EVENT_READ, "wake")
    assert sel.select(timeout=0) == [] and not stop.is_set()
    threading.Timer(0.2, stop.set).start()
    ready = sel.select(timeout=30)  # returns when set() writes, long before the timeout
    assert [key.data for key, _ in ready] == ["wake"] and stop.is_set()
    sel.close()
    stop.close()


def test_stop_signal_after_close_writes_nowhere():
    stop = StopSignal()
    stop.close()
    r, w = os.pipe()  # may reuse the closed descriptors' numbers
    try:
        stop.set()
        stop.close()
        os.set_blocking(r, False)
        with pytest.raises(BlockingIOError):  # nothing was written to the new pipe
            os.read(r, 10)
        assert stop.is_set()
    finally:
        os.close(r)
        os.close(w)


def test_a_stop_right_after_a_start_is_not_overtaken_by_it(tmp_path):
    """The local executor starts attempts in its own thread: a stop asked for before that thread
    has started the attempt still stops it, and a kill of everything still kills it."""
    from hpt.executors.local import LocalExecutor

    events: queue.Queue = queue.Queue()
    ex = LocalExecutor(events)
    code = "import time; print('up', flush=True); time.sleep(60)"
    try:
        for i, how in ((1, "stop"), (2, "kill_all")):
            launch = Launch(
                trial_id=i,
                attempt=1,
                argv=(sys.executable, "-c", code),
                env={},
                cwd=str(tmp_path),
                log_dir=str(tmp_path / f"t{i}"),
                grace=0.5,
            )
            t0 = time.monotonic()
            ex.start(launch)
            ex.stop(launch.key) if how == "stop" else ex.kill_all()
            deadline = time.monotonic() + 30
            ended = None
            while ended is None and time.monotonic() < deadline:
                e = events.get(timeout=max(deadline - time.monotonic(), 0.01))
                if isinstance(e, Exited) and e.key == launch.key:
                    ended = e
            assert ended is not None, f"trial {i} ({how}) did not end"
            assert ended.exit_code in (-15, -9) or ended.error, ended
            assert time.monotonic() - t0 < 20
    finally:
        ex.close()
