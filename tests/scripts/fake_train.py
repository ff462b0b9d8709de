"""A fake training script for tests: fast (no ML import), steered by its arguments.

Prints ``step=i loss=...`` lines (loss = (x - 0.3)^2 + 1/i) unless told otherwise.
"""

import argparse
import json
import os
import sys
import time

p = argparse.ArgumentParser()
p.add_argument("--x", type=float, default=0.5)
p.add_argument("--steps", type=int, default=3)
p.add_argument("--sleep", type=float, default=0.0, help="seconds per step")
p.add_argument("--exit", type=int, default=0, help="exit code at the end")
p.add_argument("--no-objective", action="store_true")
p.add_argument("--value", default=None, help="print this literal value as the loss")
p.add_argument("--record", default=None, help="append argv as JSON to this file")
p.add_argument("--fail-if-x-below", type=float, default=None)
p.add_argument("--fail-first-attempt", action="store_true")
p.add_argument("--ignore-term", action="store_true")
p.add_argument("--mode", default="ok", help="ok | crash | silent | slow | nan")
p.add_argument("--spawn", action="store_true", help="start a child that starts a grandchild, all sleeping")
p.add_argument(
    "--acc", action="store_true", help="also print acc=1-loss/2 on each loss line (a second metric)"
)
args, unknown = p.parse_known_args()
if "FAKE_TRAIN_SLEEP" in os.environ:  # lets a test resume the same spec with fast trials
    args.sleep = float(os.environ["FAKE_TRAIN_SLEEP"])

if args.record:
    with open(args.record, "a") as f:
        f.write(json.dumps(sys.argv[1:]) + "\n")
if args.ignore_term:
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_IGN)
if args.mode == "crash":
    print("Traceback (most recent call last):\nValueError: the model diverged", file=sys.stderr)
    sys.exit(1)
if args.mode == "silent":
    args.no_objective = True
if args.mode == "slow":
    args.sleep = 30.0
if args.mode == "nan":
    args.value = "nan"
if args.spawn:
    import subprocess

    grandchild = "import time; time.sleep(600)"
    child = f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {grandchild!r}]); time.sleep(600)"
    subprocess.Popen([sys.executable, "-c", child])
if args.fail_first_attempt and os.environ.get("HPT_ATTEMPT") == "1":
    print("first attempt fails on purpose", file=sys.stderr)
    sys.exit(3)
if args.fail_if_x_below is not None and args.x < args.fail_if_x_below:
    print(f"x={args.x} is too small", file=sys.stderr)
    sys.exit(1)
gate = os.environ.get("FAKE_TRAIN_GATE")  # the last step waits for this file (at most 600 s)
for i in range(1, args.steps + 1):
    if args.sleep:
        time.sleep(args.sleep)
    if gate and i == args.steps:
        deadline = time.monotonic() + 600
        while not os.path.exists(gate) and time.monotonic() < deadline:
            time.sleep(0.05)
    if args.no_objective:
        print(f"step={i} nothing useful")
    elif args.value is not None:
        print(f"step={i} loss={args.value}")
    else:
        loss = (args.x - 0.3) ** 2 + 1.0 / i
        print(f"step={i} loss={loss:.6f}" + (f" acc={1 - loss / 2:.6f}" if args.acc else ""))
if args.exit:
    print("exiting with an error on purpose", file=sys.stderr)
sys.exit(args.exit)
