"""A trial that leaves a child and a grandchild behind and ignores SIGTERM, all three of them.

    spawning_trial.py TRIAL_ID TRIAL_DIR [--x X]

Trial 1 prints a good objective three times and exits. Any other trial starts a child, which
starts a grandchild (their pids go to TRIAL_DIR/pids.txt), then prints a poor objective every
0.1 s for a minute: an early stopper stops it, and since everything ignores SIGTERM, only the
SIGKILL after the grace period can end the three processes.
"""

import os
import signal
import subprocess
import sys
import time


def sleeper() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    time.sleep(60)


def child(pidfile: str) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    grandchild = subprocess.Popen([sys.executable, __file__, "--grandchild"])
    with open(pidfile + ".tmp", "w") as f:
        f.write(f"{os.getpid()} {grandchild.pid}\n")
    os.replace(pidfile + ".tmp", pidfile)
    time.sleep(60)


def main() -> None:
    if sys.argv[1] == "--grandchild":
        return sleeper()
    if sys.argv[1] == "--child":
        return child(sys.argv[2])
    trial_id, trial_dir = sys.argv[1], sys.argv[2]
    if trial_id == "1":
        for _ in range(3):
            print("acc=0.9", flush=True)
        return
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    pidfile = os.path.join(trial_dir, "pids.txt")
    subprocess.Popen([sys.executable, __file__, "--child", pidfile])
    deadline = time.monotonic() + 30
    while not os.path.exists(pidfile) and time.monotonic() < deadline:
        time.sleep(0.01)
    for _ in range(600):
        print("acc=0.1", flush=True)
        time.sleep(0.1)


if __name__ == "__main__":
    main()
