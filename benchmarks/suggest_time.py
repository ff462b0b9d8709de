"""Time of one suggestion of the bayesian strategy, at 20, 100 and 300 completed trials in 10-D.

    python benchmarks/suggest_time.py [--repeats 5] [--pending 0]

The space has 10 continuous parameters (linear, logarithmic and reverse-logarithmic); the
completed trials sit at random points with the values of a 10-D Ackley-like function. Each
row is the time of ``BayesianSampler.ask`` (everything a suggestion costs: rebuilding the data
from the trials, fitting the GP, optimising the acquisition), over several trial numbers.
"""

from __future__ import annotations

import argparse
import math
import platform
import statistics
import sys
import textwrap
import time
from pathlib import Path

import numpy as np

from hpt.spec import parse_spec
from hpt.strategies.base import Context
from hpt.strategies.bayesian import BayesianSampler
from hpt.trial import COMPLETED, RUNNING, Trial

SPEC = textwrap.dedent(
    """
    name: suggest-time
    command: [python, train.py, "{args}"]
    objective: {metric: loss, type: minimize}
    metrics: [{name: loss, regex: 'loss=([-+0-9.eE]+)'}]
    strategy: bayesian
    limits: {max_jobs: 1000}
    parameters:
      x0: {type: continuous, min: 0.0, max: 1.0}
      x1: {type: continuous, min: -5.0, max: 5.0}
      x2: {type: continuous, min: 1.0e-5, max: 1.0, scaling: logarithmic}
      x3: {type: continuous, min: 0.9, max: 0.9999, scaling: reverse_logarithmic}
      x4: {type: continuous, min: 0.0, max: 1.0}
      x5: {type: continuous, min: 0.0, max: 10.0}
      x6: {type: continuous, min: 1.0e-3, max: 1.0e+3, scaling: logarithmic}
      x7: {type: continuous, min: 0.0, max: 1.0}
      x8: {type: continuous, min: -1.0, max: 1.0}
      x9: {type: continuous, min: 0.0, max: 1.0}
    """
)


def value(u: np.ndarray) -> float:
    x = 4 * (u - 0.3)
    return float(
        -20 * math.exp(-0.2 * math.sqrt(np.mean(x * x)))
        - math.exp(np.mean(np.cos(2 * math.pi * x)))
        + 20
        + math.e
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5, help="suggestions timed per row (default 5)")
    ap.add_argument("--pending", type=int, default=0, help="running trials besides the completed ones")
    ap.add_argument("--sizes", default="20,100,300", help="numbers of completed trials")
    args = ap.parse_args(argv)
    spec = parse_spec(SPEC, base_dir=Path.cwd())
    space = spec.space
    sampler = BayesianSampler(space, maximize=False)
    rng = np.random.default_rng(0)
    # The first suggestion of a process also imports scikit-learn's GP code: timed apart.
    warm = [
        Trial(id=i, state=COMPLETED, params=space.decode(rng.random(space.dim)), objective=float(i))
        for i in range(1, 13)
    ]
    t0 = time.perf_counter()
    sampler.ask(Context(spec, 0, warm, {}))
    first = time.perf_counter() - t0
    print(f"python {platform.python_version()}, {platform.machine()}, {platform.processor() or '?'}; 10-D")
    print(f"first suggestion of the process (12 trials, includes imports): {first:.2f} s")
    print()
    print("| completed trials | running trials | median s | max s |")
    print("|---|---|---|---|")
    for n in (int(s) for s in args.sizes.split(",")):
        trials = []
        for i in range(1, n + args.pending + 1):
            u = rng.random(space.dim)
            params = space.decode(u)
            if i <= n:
                trials.append(
                    Trial(id=i, state=COMPLETED, params=params, objective=value(space.encode(params)))
                )
            else:
                trials.append(Trial(id=i, state=RUNNING, params=params))
        times = []
        # Different trial numbers give different random draws (candidates, perturbations).
        for r in range(args.repeats):
            ctx = Context(spec, r, trials, {})
            t0 = time.perf_counter()
            sampler.ask(ctx)
            times.append(time.perf_counter() - t0)
        print(f"| {n} | {args.pending} | {statistics.median(times):.2f} | {max(times):.2f} |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
