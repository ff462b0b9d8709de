"""Per-trial overhead of the Dask executor against the local one.

Runs N short trials (a Python script printing one metric) at max_parallel_jobs 2 through the
real `hpt` command line, on the local executor and on a two-worker Dask cluster on loopback
(a scheduler and two single-threaded workers started here as separate processes), and prints:

- wall time of each job, trials per second;
- per-trial overhead of Dask = (wall_dask - wall_local) * parallel / N, for each repeat (a
  local job, then a Dask job) and their median;
- median time from a trial's start to its end as recorded in the store;
- the latency of stopping a running trial on a worker (stop request to exit), over 10 stops.

    python benchmarks/dask_overhead.py [--trials 100] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
TRIAL = "import sys; print(f'loss={float(sys.argv[1]) ** 2}')"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env() -> dict:
    e = dict(os.environ)
    e["PATH"] = f"{BIN}{os.pathsep}{e.get('PATH', '')}"
    return e


def start_cluster(tmp: Path) -> tuple[str, list[subprocess.Popen]]:
    from distributed import Client

    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [
        subprocess.Popen(
            [str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            env=env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    for i in range(2):
        procs.append(
            subprocess.Popen(
                [
                    str(BIN / "dask"),
                    "worker",
                    address,
                    "--nthreads",
                    "1",
                    "--no-nanny",
                    "--no-dashboard",
                    "--local-directory",
                    str(tmp / f"w{i}"),
                ],
                env=env(),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with Client(address, timeout="5s") as c:
                if len(c.scheduler_info()["workers"]) == 2:
                    return address, procs
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit("the cluster did not start")


def spec(tmp: Path, name: str, n: int, executor: str) -> Path:
    script = tmp / "trial.py"
    script.write_text(TRIAL + "\n")
    path = tmp / f"{name}.yaml"
    path.write_text(
        f"""name: {name}
command: [python, {script}, "{{x}}"]
objective: {{metric: loss, type: minimize}}
metrics: [{{name: loss, regex: 'loss=([-+0-9.eE]+)'}}]
strategy: random
parameters: {{x: {{type: continuous, min: -1, max: 1}}}}
limits: {{max_jobs: {n}, max_parallel_jobs: 2}}
random_seed: 0
{executor}
"""
    )
    return path


def run_job(path: Path, runs: Path, extra: list[str]) -> tuple[float, float]:
    t0 = time.monotonic()
    r = subprocess.run(
        [sys.executable, "-m", "hpt", "run", str(path), "--runs-dir", str(runs), "-q", "-o", "json", *extra],
        env=env(),
        capture_output=True,
        text=True,
    )
    wall = time.monotonic() - t0
    doc = json.loads(r.stdout)
    assert doc["status"] == "Completed", r.stderr
    from hpt.store import Store

    store = Store.open(Path(doc["job_dir"]))
    durations = [a.ended - a.started for a in store.attempts()]
    store.close()
    return wall, statistics.median(durations)


def stop_latency(address: str, tmp: Path, n: int = 10) -> list[float]:
    from hpt.executors.base import Exited, Launch, Output
    from hpt.executors.dask import DaskExecutor

    events: queue.Queue = queue.Queue()
    ex = DaskExecutor(events, address)
    code = "import time\nfor i in range(10000):\n    print(f'loss={i}', flush=True)\n    time.sleep(0.05)\n"
    out = []
    try:
        for i in range(n):
            launch = Launch(
                i + 1, 1, (sys.executable, "-c", code), {}, str(tmp), str(tmp / f"stop-{i}"), grace=5.0
            )
            ex.start(launch)
            while not isinstance(events.get(timeout=60), Output):
                pass
            t0 = time.monotonic()
            ex.stop(launch.key)
            while True:
                e = events.get(timeout=30)
                if isinstance(e, Exited) and e.key == launch.key:
                    break
            out.append(time.monotonic() - t0)
    finally:
        ex.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        address, procs = start_cluster(tmp)
        try:
            rows = {"local": [], "dask": []}
            for r in range(args.repeats):
                for kind in ("local", "dask"):
                    executor = f'executor: {{type: dask, address: "{address}"}}' if kind == "dask" else ""
                    path = spec(tmp, f"{kind}-{r}", args.trials, executor)
                    rows[kind].append(run_job(path, tmp / "runs", []))
            stops = stop_latency(address, tmp)
        finally:
            # Workers first: a worker told to close while its scheduler is also going away can
            # hang in its goodbye (seen with distributed's CLI), so the scheduler goes last
            # and anything still there after a while is killed.
            for p in reversed(procs):
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()

    n = args.trials
    wl = statistics.median(w for w, _ in rows["local"])
    wd = statistics.median(w for w, _ in rows["dask"])
    # Each repeat runs the local job and then the Dask job: their difference is less exposed to
    # a change of load on a shared machine than the difference of the two medians.
    paired = [(d - lo) * 2 / n * 1000 for (lo, _), (d, _) in zip(rows["local"], rows["dask"], strict=True)]
    print(
        f"{n} trials, max_parallel_jobs 2, median of {args.repeats} runs (cluster: scheduler + 2 workers on loopback)\n"
    )
    print("| executor | job wall time | trials/s | median trial (start to end) |")
    print("|---|---|---|---|")
    for kind, wall in (("local", wl), ("dask", wd)):
        trial = statistics.median(t for _, t in rows[kind])
        print(f"| {kind} | {wall:.2f} s | {n / wall:.1f} | {trial * 1000:.0f} ms |")
    print(
        f"\nDask overhead per trial: {statistics.median(paired):.1f} ms  ((wall_dask - wall_local) x 2 / {n}, "
        f"median over the repeats; each repeat: {', '.join(f'{x:.1f}' for x in paired)})"
    )
    print(
        f"Stop latency on a worker (stop request to exit), {len(stops)} stops: "
        f"median {statistics.median(stops) * 1000:.0f} ms, max {max(stops) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
