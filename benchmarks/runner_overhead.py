"""What running a trial costs hpt, next to `xargs -P` and GNU `parallel` running the same commands.

200 trials of a 50 ms command (`sh -c 'sleep 0.05; echo "loss=$1"'`), 8 at a time. hpt runs
them as a random-search job through its command line (`hpt run SPEC -q`, the `hpt` installed
beside the interpreter, a fresh job in a new runs directory each time: its start-up, the store,
every trial's logs and metrics included); `xargs -P8` and
`parallel -j8` run the same command lines with nothing around them. Each is timed end to end
(wall clock) `--repeat` times, interleaved, and the table gives the median, the range, and the
ratio of hpt's median to xargs's. A one-trial hpt job gives hpt's fixed cost (start-up), and
the last line the trials' cost without it.

    python benchmarks/runner_overhead.py --repeat 7

``--python PATH`` (repeatable) also times the hpt installed with another interpreter (another
virtual environment, say with other versions of hpt's dependencies), interleaved with the rest.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMAND = 'sleep {sleep}; echo "loss=$1"'


def spec(path: Path, trials: int, parallel: int, sleep: float) -> Path:
    path.write_text(
        f"""name: overhead
command: [sh, -c, '{COMMAND.format(sleep=sleep)}', trial, "{{x}}"]
objective: {{metric: loss, type: minimize}}
metrics: [{{name: loss, regex: 'loss=([-+0-9.eE]+)'}}]
strategy: random
parameters: {{x: {{type: continuous, min: 0, max: 1}}}}
limits: {{max_jobs: {trials}, max_parallel_jobs: {parallel}}}
random_seed: 1
"""
    )
    return path


def timed(argv: list[str], stdin: str | None = None, env: dict[str, str] | None = None) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, input=stdin, text=True, stdout=subprocess.DEVNULL, check=True, env=env)
    return time.perf_counter() - t0


def run_hpt(tmp: Path, spec_path: Path, python: str = sys.executable) -> float:
    # A new runs directory each time, all removed at the end: deleting the last run's thousand
    # files just before would time ext4 looking past recently freed inodes for new ones (up to
    # a fifth of hpt's CPU in perf), which is the benchmark's own doing, not hpt's.
    runs = Path(tempfile.mkdtemp(dir=tmp)) / "runs"
    # The `hpt` command installed beside the interpreter, as a user runs it.
    script = Path(python).parent / "hpt"
    hpt = [str(script)] if script.is_file() else [python, "-m", "hpt"]
    return timed([*hpt, "run", str(spec_path), "--runs-dir", str(runs), "-q"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trials", type=int, default=200)
    p.add_argument("--parallel", type=int, default=8)
    p.add_argument("--sleep", type=float, default=0.05)
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--python", action="append", default=[], help="also time the hpt of this interpreter")
    a = p.parse_args()
    inputs = "".join(f"{i / a.trials}\n" for i in range(a.trials))
    cmd = COMMAND.format(sleep=a.sleep)
    methods = {
        "xargs -P": lambda tmp: timed(["xargs", f"-P{a.parallel}", "-n1", "sh", "-c", cmd, "trial"], inputs),
        "hpt run": lambda tmp: run_hpt(tmp, tmp / "spec.yaml"),
        "hpt run, 1 trial": lambda tmp: run_hpt(tmp, tmp / "one.yaml"),
    }
    for py in a.python:
        methods[f"hpt run ({py})"] = lambda tmp, py=py: run_hpt(tmp, tmp / "spec.yaml", py)
        methods[f"hpt run, 1 trial ({py})"] = lambda tmp, py=py: run_hpt(tmp, tmp / "one.yaml", py)
    if shutil.which("parallel"):
        # GNU parallel keeps each job's output in temporary files, two a job: on tmpfs when
        # there is one, so that the next hpt job does not pay ext4's search past 400 freshly
        # freed inodes (see run_hpt).
        shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
        env = {**os.environ, "TMPDIR": shm} if shm else None
        methods["GNU parallel"] = lambda tmp: timed(
            ["parallel", "-q", f"-j{a.parallel}", "sh", "-c", cmd, "trial", ":::", *inputs.split()], env=env
        )
    times: dict[str, list[float]] = {m: [] for m in methods}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        spec(tmp / "spec.yaml", a.trials, a.parallel, a.sleep)
        spec(tmp / "one.yaml", 1, 1, a.sleep)
        for _ in range(a.repeat):
            for name, method in methods.items():
                times[name].append(method(tmp))
    ideal = a.trials * a.sleep / a.parallel
    base = statistics.median(times["xargs -P"])
    print(
        f"{a.trials} trials of {a.sleep * 1000:g} ms, {a.parallel} at a time (no overhead at all: "
        f"{ideal:.2f} s); wall seconds over {a.repeat} runs\n"
    )
    print("| runner | median | min | max | / xargs |")
    print("|---|---|---|---|---|")
    for name, values in times.items():
        med = statistics.median(values)
        print(f"| {name} | {med:.2f} | {min(values):.2f} | {max(values):.2f} | {med / base:.2f} |")
    # hpt's fixed cost (start-up and end of a job): the one-trial job less its one trial.
    fixed = statistics.median(times["hpt run, 1 trial"]) - a.sleep
    rest = statistics.median(times["hpt run"]) - fixed
    print(
        f"\nhpt's fixed cost per job: {fixed:.2f} s; its {a.trials} trials without it: {rest:.2f} s, "
        f"{rest / base:.2f} x xargs"
    )


if __name__ == "__main__":
    main()
