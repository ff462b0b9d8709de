"""A trial for the honest-results tests: prints the lines of a named scenario, then exits.

    lines.py MODE [TRIAL_DIR]

Each scenario is what a real training script does now and then: diverge, print a decimal
comma, print its epochs in one burst, leave a daemon behind, or print a line that makes a
backtracking regex work for ever.
"""

import os
import sys
import time

SCENARIOS = {
    "ok": ["loss=1.2", "loss=0.7", "loss=0.5"],
    "diverge": ["loss=1.2", "loss=0.7", "loss=nan"],
    "allnan": ["loss=nan", "loss=nan"],
    "comma": ["loss=0,5333"],
    "thousands": ["loss=1,200,000.0"],
    "good-burst": ["acc=0.9", "acc=0.9", "acc=0.9"],
    "bad-burst": ["acc=0.1", "acc=0.1", "acc=0.1"],
    "backtrack": ["a" * 40 + "b", "loss=0.3"],
    "secondary-nan": ["loss=0.5 grad=nan", "loss=0.4 grad=1.0"],
}


def daemon(trial_dir: str) -> None:
    """Double-fork and setsid: the child leaves the trial's process group and session."""
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            with open(os.path.join(trial_dir, "daemon.pid"), "w") as f:
                f.write(str(os.getpid()))
            time.sleep(120)
            os._exit(0)
        os._exit(0)
    os.wait()
    deadline = time.monotonic() + 10
    while not os.path.exists(os.path.join(trial_dir, "daemon.pid")) and time.monotonic() < deadline:
        time.sleep(0.01)
    print("loss=0.5", flush=True)


def main() -> None:
    mode = sys.argv[1]
    if mode == "daemon":
        return daemon(sys.argv[2])
    if mode.startswith("sleep-"):  # loss=0.1 at once, then a long wait
        print("loss=0.1", flush=True)
        time.sleep(float(mode.split("-", 1)[1]))
        return
    if mode.startswith("quick-"):  # one value after a short wait
        time.sleep(0.2)
        print(f"loss={mode.split('-', 1)[1]}", flush=True)
        return
    # One write for the whole scenario, then an immediate exit: the lines arrive together and
    # the process is gone before anything hpt decides about them can reach it.
    sys.stdout.write("".join(line + "\n" for line in SCENARIOS[mode]))
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
