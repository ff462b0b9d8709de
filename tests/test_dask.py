"""Trials on a real Dask cluster: a scheduler and workers as separate processes on 127.0.0.1."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from conftest import FAKE, cli_env, fake_spec, hpt, hpt_start, wait_for

pytest.importorskip("distributed")

import contextlib

from hpt.executors.base import Exited, Launch, Output, Started  # noqa: E402
from hpt.executors.dask import DaskExecutor  # noqa: E402
from hpt.store import Store  # noqa: E402

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A scheduler and workers started with the `dask` command line, torn down with a check that
    nothing of theirs (or of their trials) is left running."""

    def __init__(self, tmp: Path, workers: list[dict]):
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.tmp = tmp
        self.procs: dict[str, subprocess.Popen] = {}
        self.seen: set[int] = set()
        env = cli_env()
        self.procs["scheduler"] = self._start(
            ["scheduler", "--host", "127.0.0.1", "--port", str(self.port), "--no-dashboard"], env, "scheduler"
        )
        self.worker_address = {}
        for i, w in enumerate(workers):
            port = free_port()
            args = [
                "worker",
                self.address,
                "--nthreads",
                "1",
                "--no-nanny",
                "--no-dashboard",
                "--host",
                "127.0.0.1",
                "--worker-port",
                str(port),
                "--name",
                f"w{i}",
                "--local-directory",
                str(tmp / f"w{i}"),
            ]
            if w.get("resources"):
                args += ["--resources", w["resources"]]
            self.procs[f"w{i}"] = self._start(args, env, f"w{i}")
            self.worker_address[f"w{i}"] = f"tcp://127.0.0.1:{port}"
        self._wait(len(workers))

    def _start(self, args, env, name) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
        return subprocess.Popen([str(BIN / "dask"), *args], env=env, stdout=log, stderr=subprocess.STDOUT)

    def _wait(self, n: int) -> None:
        from distributed import Client

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with Client(self.address, timeout="5s") as c:
                    if len(c.scheduler_info()["workers"]) >= n:
                        return
            except OSError:
                pass
            time.sleep(0.3)
        raise AssertionError("the Dask cluster did not start")

    def remember(self) -> None:
        """Record every process of the cluster and its trials, to check the teardown."""
        for p in self.procs.values():
            with_children = [p.pid]
            with contextlib.suppress(psutil.NoSuchProcess):
                with_children += [c.pid for c in psutil.Process(p.pid).children(recursive=True)]
            self.seen.update(with_children)

    def kill_worker(self, name: str) -> None:
        self.remember()
        os.kill(self.procs[name].pid, signal.SIGKILL)
        self.procs[name].wait()

    def shutdown(self) -> None:
        self.remember()
        # Workers first: a worker whose scheduler has gone waits to reconnect before it exits.
        names = [n for n in self.procs if n != "scheduler"] + ["scheduler"]
        for name in names:
            p = self.procs[name]
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.alive():
            time.sleep(0.1)

    def alive(self) -> list[int]:
        out = []
        for pid in self.seen:
            try:
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    out.append(pid)
            except psutil.NoSuchProcess:
                pass
        return out


@pytest.fixture
def cluster(tmp_path):
    clusters = []

    def make(workers=({}, {})):
        c = Cluster(tmp_path, list(workers))
        clusters.append(c)
        return c

    yield make
    for c in clusters:
        c.shutdown()
        assert c.alive() == [], "processes of the cluster or its trials were left running"


def running(jdir: Path) -> list:
    if not (jdir / "job.db").exists():
        return []
    store = Store.open(jdir)
    try:
        return [a for a in store.attempts() if a.state == "running" and a.host]
    finally:
        store.close()


def test_hyperband_on_a_cluster_with_a_worker_lost(cluster, runs, write_spec):
    """The issue's end-to-end check: a hyperband spec through a scheduler and two workers, trials
    stopped early on the workers, a worker killed mid-trial, that trial retried, the job
    complete, and nothing of the cluster or its trials left once it is shut down."""
    c = cluster()
    spec = write_spec(
        f"""
        name: onduty
        command: [python, {FAKE}, --x, "{{x}}", --sleep, "0.3", --steps, "{{epochs}}"]
        objective: {{metric: loss, type: minimize}}
        metrics: [{{name: loss, regex: 'loss=([-+0-9.eE]+)'}}]
        strategy: hyperband
        static: {{epochs: 9}}
        hyperband: {{min_resource: 1, eta: 3}}
        parameters: {{x: {{type: continuous, min: 0, max: 1}}}}
        limits: {{max_jobs: 10, max_parallel_jobs: 2, max_retries: 1, stop_grace_period: 2s}}
        random_seed: 4
        executor: {{type: dask, address: "{c.address}"}}
        """
    )
    proc = hpt_start("run", spec, "--runs-dir", runs, "-o", "json")
    attempts = wait_for(
        lambda: (lambda r: r if len(r) == 2 else None)(running(runs / "onduty")),
        what="two trials on the workers",
    )
    victim = attempts[0]
    worker = next(n for n, addr in c.worker_address.items() if victim.host.endswith(addr))
    trial_pids = [victim.pid] + [p.pid for p in psutil.Process(victim.pid).children(recursive=True)]
    c.kill_worker(worker)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    store = Store.open(runs / "onduty")
    first, second = store.attempts(victim.trial_id)
    assert first.state == "failed" and first.reason.startswith("worker lost")
    assert second.state in ("completed", "stopped") and not second.host.endswith(c.worker_address[worker])
    trials = store.trials()
    assert len(trials) == 10 and {t.state for t in trials} <= {"completed", "stopped"}
    stopped = [t for t in trials if t.state == "stopped"]
    assert stopped and all(t.objective_step < 9 for t in stopped)  # stopped early, on the workers
    assert all(a.host.split(" ")[1] in c.worker_address.values() for a in store.attempts())
    best = min((t for t in trials if t.objective is not None), key=lambda t: t.objective)
    assert best.state == "completed" and best.objective_step == 9  # the best ran to max_resource

    wait_for(
        lambda: (
            not any(
                psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE
                for p in trial_pids
            )
        ),
        timeout=10,
        what="the dead worker's trial processes to be gone",
    )
    # Logs came back to the job directory on this machine.
    log = runs / "onduty" / "trials" / f"{second.trial_id:04d}" / "attempt-2" / "stdout.log"
    assert log.read_text().count("loss=") == (second_trial := store.trial(second.trial_id)).objective_step
    assert second_trial.attempts == 2


def test_stop_reaches_the_trial_on_the_worker(cluster, tmp_path):
    c = cluster(({},))
    events: queue.Queue = queue.Queue()
    ex = DaskExecutor(events, c.address)
    try:
        code = "import time\nfor i in range(600):\n    print(f'loss={i}', flush=True)\n    time.sleep(0.1)\n"
        launch = Launch(
            1, 1, (sys.executable, "-c", code), {}, str(tmp_path), str(tmp_path / "logs"), grace=5.0
        )
        ex.start(launch)
        got = []
        for _ in range(1000):  # a handful of events come before the first line
            got.append(events.get(timeout=60))
            if isinstance(got[-1], Output):
                break
        assert isinstance(got[0], Started)
        t0 = time.monotonic()
        ex.stop(launch.key)
        for _ in range(1000):  # at most the trial's 600 lines, then its exit
            if isinstance(got[-1], Exited):
                break
            got.append(events.get(timeout=30))
        latency = time.monotonic() - t0
        assert got[-1].exit_code == -signal.SIGTERM
        assert latency < 5.0  # well within the grace period; benchmarks/dask_overhead.py reports it
        assert "loss=0" in (tmp_path / "logs" / "stdout.log").read_text()
    finally:
        ex.close()


def test_a_worker_slot_is_free_as_soon_as_its_trial_exits(cluster, tmp_path):
    """Ten attempts queued on one single-threaded worker: each task must return, and so free the
    worker's slot for the next, right after its trial exits, not after a wait of its own (such
    as a stop watcher finishing a poll of a few hundred milliseconds). Both ends are read on the
    worker's machine with its own clock: the trial's exit time (its Exited event) and the
    moment the worker saw the task finish (a worker plugin; Dask's task stream shifts times by
    an estimate of the scheduler's clock offset, which under load is off by 0.2 s). The bound
    is far above the few milliseconds the task needs (1 to 5 ms measured) and below a poll's
    wait."""
    from distributed.diagnostics.plugin import WorkerPlugin

    class TaskEnds(WorkerPlugin):  # defined here, so it is sent to the worker by value
        name = "hpt-test-task-ends"

        def setup(self, worker):
            self.ends = {}

        def transition(self, key, start, finish, **kwargs):
            if start == "executing":
                self.ends[key] = time.time()

    c = cluster(({},))
    events: queue.Queue = queue.Queue()
    ex = DaskExecutor(events, c.address)
    n = 10
    try:
        ex.client.register_plugin(TaskEnds())
        for i in range(n):
            argv = (sys.executable, "-c", "print('loss=1')")
            ex.start(Launch(i + 1, 1, argv, {}, str(tmp_path), str(tmp_path / f"logs-{i}")))
        exits = {}
        for _ in range(100 * n):  # a few events per attempt
            e = events.get(timeout=60)
            if isinstance(e, Exited):
                assert e.exit_code == 0, e
                exits[e.key] = e.time
                if len(exits) == n:
                    break

        def task_ends():
            (ends,) = ex.client.run(
                lambda dask_worker: dict(dask_worker.plugins["hpt-test-task-ends"].ends)
            ).values()
            return ends if len(ends) >= n else None

        ends = {}
        for key, when in wait_for(task_ends, timeout=30, what="every task to end").items():
            trial, attempt = (int(x) for x in str(key).rsplit("-", 2)[1:])
            ends[(trial, attempt)] = when
        held = sorted(ends[k] - exits[k] for k in exits)
        assert len(held) == n
        assert held[n // 2] < 0.1, f"seconds each worker slot stayed held after its trial exited: {held}"
    finally:
        ex.close()


def test_resources_map_to_worker_resources(cluster, runs, write_spec):
    c = cluster(({"resources": "GPU=1"}, {}))
    executor = f'executor: {{type: dask, address: "{c.address}", resources: {{GPU: 1}}}}'
    spec = write_spec(fake_spec("gpu", extra=executor))
    r = hpt("run", spec, "--runs-dir", runs, "-q")
    assert r.code == 0, r.err
    store = Store.open(runs / "gpu")
    assert {a.host.split(" ")[1] for a in store.attempts()} == {c.worker_address["w0"]}


def test_missing_dask_extra_is_one_line(tmp_path, write_spec, runs):
    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "distributed.py").write_text("raise ImportError('No module named distributed')\n")
    spec = write_spec(fake_spec("nodask"))
    r = hpt(
        "run",
        spec,
        "--runs-dir",
        runs,
        "--executor",
        "dask",
        "--address",
        "tcp://127.0.0.1:1",
        PYTHONPATH=str(blocker),
    )
    assert r.code == 2
    assert r.err.strip() == "error: the dask executor needs Dask distributed: pip install 'hpt[dask]'"
    r = hpt("run", spec, "--runs-dir", runs, "--executor", "dask")
    assert r.code == 2 and "needs a scheduler address" in r.err


def test_unreachable_scheduler(write_spec, runs):
    spec = write_spec(fake_spec("noway"))

    r = hpt(
        "run",
        spec,
        "--runs-dir",
        runs,
        "--executor",
        "dask",
        "--address",
        f"tcp://127.0.0.1:{free_port()}",
        timeout=120,
    )
    assert r.code == 1 and "cannot connect to the Dask scheduler" in r.err and "Traceback" not in r.err
