"""A trial that records which GPUs and slot it was given, and when it ran (for the GPU tests).

Writes ``gpu.json`` in its trial directory: its start and end times, ``CUDA_VISIBLE_DEVICES``,
``HPT_GPUS``, ``HPT_SLOT`` and its argv; sleeps ``--sleep`` seconds; prints ``loss=...``.
"""

import argparse
import json
import os
import sys
import time

p = argparse.ArgumentParser()
p.add_argument("--x", type=float, default=0.5)
p.add_argument("--sleep", type=float, default=0.3)
args, _ = p.parse_known_args()
start = time.time()
time.sleep(args.sleep)
record = {
    "start": start,
    "end": time.time(),
    "cuda": os.environ.get("CUDA_VISIBLE_DEVICES"),
    "gpus": os.environ.get("HPT_GPUS"),
    "slot": os.environ.get("HPT_SLOT"),
    "argv": sys.argv[1:],
}
with open(os.path.join(os.environ["HPT_TRIAL_DIR"], f"gpu-{os.environ['HPT_ATTEMPT']}.json"), "w") as f:
    json.dump(record, f)
print(f"loss={(args.x - 0.3) ** 2:.6f}", flush=True)
