"""Warm start: how much a parent job's trials help a new job on the same problem.

For each problem and seed, a parent job (``strategy: bayesian``, ``--parent`` trials) runs to
its end; then the same child spec (``--child`` trials, another seed) runs twice: without
``warm_start`` and with ``warm_start: {parents: [parent]}`` (identical_data_and_algorithm). The
table gives the child's simple regret (best value so far minus the optimum) after n of its own
trials: the median over the seeds, with the 25th and 75th percentiles. Every job runs through
the real runner on the simulated executor (``hpt.executors.sim``), so no process starts and
the numbers do not depend on the machine's speed.

    python benchmarks/warm_start.py                      # branin and hartmann6, seeds 0-9
    python benchmarks/warm_start.py --problems branin --seeds 0-4
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from objectives import PROBLEMS  # noqa: E402
from seeds import parse_seeds  # noqa: E402

#: The parent's budget and the child's, per problem: a parent with enough trials to have found
#: the optimum's region, a child short enough that the first trials matter.
PARENT = {"branin": 20, "hartmann6": 30}
CHECKPOINTS = (1, 5, 10)


def make_spec(problem: str, name: str, budget: int, seed: int, parent: str | None = None):
    from hpt.spec import parse_spec

    doc = {
        "name": name,
        "command": ["python", "objectives.py", problem, "{args}"],
        "objective": {"metric": "value", "type": "minimize"},
        "metrics": [{"name": "value", "regex": r"value=([-+0-9.eE]+)"}],
        "strategy": "bayesian",
        "parameters": PROBLEMS[problem].parameters,
        "limits": {"max_jobs": budget},
        "random_seed": seed,
    }
    if parent is not None:
        doc["warm_start"] = {"parents": [parent]}
    return parse_spec(yaml.safe_dump(doc, sort_keys=False), f"{name}.yaml")


def run(
    problem: str, name: str, budget: int, seed: int, runs: Path, parent: str | None = None
) -> list[float]:
    """The job's objective values, trial by trial."""
    from hpt.executors.sim import SimTrial, run_simulated

    fn = PROBLEMS[problem].fn

    def behaviour(launch):
        return SimTrial(((1.0, f"value={fn(launch.params)!r}"),))

    result, _ = run_simulated(make_spec(problem, name, budget, seed, parent), behaviour, runs)
    return [t.objective for t in result.trials]


def regret_after(values: list[float], n: int, optimum: float) -> float:
    return min(values[:n]) - optimum


def cell(values: list[float]) -> str:
    q25, q50, q75 = np.percentile(values, [25, 50, 75])
    return f"{q50:.3g} [{q25:.3g}, {q75:.3g}]"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--problems", default="branin,hartmann6")
    parser.add_argument("--seeds", default="0-9")
    parser.add_argument("--child", type=int, default=max(CHECKPOINTS), help="trials of each child job")
    args = parser.parse_args()
    seeds = parse_seeds(args.seeds)
    rows = []
    t0 = time.monotonic()
    for problem in args.problems.split(","):
        optimum = PROBLEMS[problem].optimum
        n_parent = PARENT.get(problem, 20)
        parent_best, cold, warm = [], {n: [] for n in CHECKPOINTS}, {n: [] for n in CHECKPOINTS}
        with tempfile.TemporaryDirectory() as tmp:
            runs = Path(tmp)
            for seed in seeds:
                values = run(problem, f"parent-{seed}", n_parent, seed, runs)
                parent_best.append(min(values) - optimum)
                c = run(problem, f"cold-{seed}", args.child, 1000 + seed, runs)
                w = run(problem, f"warm-{seed}", args.child, 1000 + seed, runs, parent=f"parent-{seed}")
                for n in CHECKPOINTS:
                    cold[n].append(regret_after(c, n, optimum))
                    warm[n].append(regret_after(w, n, optimum))
                print(f"  {problem} seed {seed} done ({time.monotonic() - t0:.0f} s)", file=sys.stderr)
        for n in CHECKPOINTS:
            rows.append((problem, n_parent, cell(parent_best), n, cell(cold[n]), cell(warm[n])))
    print(
        f"\nchild regret after n of its own trials; median [25th, 75th percentile] over seeds {args.seeds}\n"
    )
    print("| problem | parent trials | parent's regret | n | without warm start | with warm start |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(map(str, r)) + " |")
    print(f"\n{time.monotonic() - t0:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
