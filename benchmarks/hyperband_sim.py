"""How many brackets should hpt's hyperband use? A simulation over many seeds.

The real benchmark (``hyperband_bench.py``) runs hpt through its CLI, which costs minutes per
seed; the median of a few seeds of an epochs-to-target count is noisy (random search's count is
a geometric variable). This script runs the synthetic task on hpt's real runner with the
simulated executor (``hpt.executors.sim``): one virtual second per epoch, 2 trials at a time, a
stopped trial printing nothing after the decision (``--overshoot 1``: one more epoch, as a
trial that trains faster than a stop lands), and the same configurations as the real runs for
a given seed. It prints, for each number of brackets, the median over seeds of the epochs
needed to reach the target, relative to full-budget random search on the same seeds, on the
benchmark's curves and on variants of the curve family (faster or slower learning-rate
effects, more overfitting, another power law), with the rank correlation between early and
final accuracy of each family.

    python benchmarks/hyperband_sim.py --seeds 100
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from multiprocessing import Pool
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT)]

from hyperband_bench import DATA, POOL_SEED, TASKS, spec_data  # noqa: E402
from synthetic_curve import curve  # noqa: E402

from hpt.spec import parse_spec  # noqa: E402
from hpt.strategies.hyperband import max_bracket  # noqa: E402
from hpt.strategies.random import RandomSampler  # noqa: E402

R = 81
CAP = 3000  # trials, as the real benchmark's cap for hyperband
VARIANTS = {
    "benchmark": {},
    "lr_speed 0.5": {"lr_speed": 0.5},
    "lr_speed 0.15": {"lr_speed": 0.15},
    "overfit 0.12": {"overfit": 0.12},
    "lr_speed 0.5 + overfit 0.12": {"lr_speed": 0.5, "overfit": 0.12},
    "power 0.8": {"power": 0.8},
}


def hb_spec(brackets: int):
    data = spec_data(TASKS["synthetic"], "hyperband", 0, None)
    data["hyperband"] = {**data["hyperband"], "brackets": brackets}
    return parse_spec(yaml.safe_dump(data, sort_keys=False), "sim.yaml")


def simulate(spec, seed: int, target: float, model: dict, parallel: int = 2, overshoot: int = 0):
    """Epochs until a finished trial reaches ``target`` (None if the cap comes first): the real
    runner on the simulated executor, one virtual second per epoch."""
    import dataclasses
    import tempfile

    from hpt.executors.sim import SimTrial, run_simulated
    from hpt.spec import Completion

    spec = dataclasses.replace(
        spec,
        random_seed=seed,
        completion=Completion(target=target),
        limits=dataclasses.replace(spec.limits, max_jobs=CAP, max_parallel_jobs=parallel),
    )

    def behaviour(launch):
        p = launch.params
        values = curve(p["lr"], p["wd"], p["width"], p["dropout"], R, **model)
        return SimTrial.curve([f"val_acc={v!r}" for v in values])

    with tempfile.TemporaryDirectory() as tmp:
        result, _ = run_simulated(spec, behaviour, tmp, stop_delay=overshoot)
        if "target" not in (result.reason or ""):
            return None
        from hpt.store import Store

        store = Store.open(result.job_dir)
        try:
            return sum(len(store.points(t.id, spec.objective.metric)) for t in result.trials)
        finally:
            store.close()


def random_epochs(seed: int, target: float, model: dict) -> int | None:
    """Full-budget random search: 81 epochs per trial until one reaches the target."""
    spec = hb_spec(1)
    sampler = RandomSampler(spec.space)
    for k in range(1, CAP + 1):
        p = sampler.draw(seed, k)
        if curve(p["lr"], p["wd"], p["width"], p["dropout"], R, **model)[-1] >= target:
            return R * k
    return None


def pool_target(model: dict) -> float:
    """The best of the benchmark's pool of 300 configurations, under this curve model."""
    if not model:
        return json.loads((DATA / "targets-synthetic.json").read_text())["target"]
    data = spec_data(TASKS["synthetic"], "random", POOL_SEED, None)
    sampler = RandomSampler(parse_spec(yaml.safe_dump(data), "pool.yaml").space)
    return max(
        curve(p["lr"], p["wd"], p["width"], p["dropout"], R, **model)[-1]
        for p in (sampler.draw(POOL_SEED, i) for i in range(1, 301))
    )


def rank_correlations(model: dict, n: int = 2000) -> dict[int, float]:
    """Spearman correlation between the accuracy at epoch t and at epoch 81, over ``n`` random
    configurations: how well early epochs predict the final ranking."""
    import numpy as np
    from scipy.stats import spearmanr

    sampler = RandomSampler(hb_spec(1).space)
    curves = np.array(
        [
            curve(p["lr"], p["wd"], p["width"], p["dropout"], R, **model)
            for p in (sampler.draw(POOL_SEED + 1, i) for i in range(n))
        ]
    )
    return {t: float(spearmanr(curves[:, t - 1], curves[:, -1])[0]) for t in (1, 3, 9, 27)}


def _job(args):
    kind, brackets, seed, target, model, overshoot = args
    if kind == "random":
        return random_epochs(seed, target, model)
    return simulate(hb_spec(brackets), seed, target, model, overshoot=overshoot)


def _median(values):
    return statistics.median(float("inf") if v is None else v for v in values)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=100)
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument(
        "--overshoot", type=int, default=0, help="epochs a stopped trial prints after the decision"
    )
    a = p.parse_args()
    all_brackets = list(range(1, max_bracket(1, R, 3) + 2))
    print(
        f"median epochs to the target relative to full-budget random search, {a.seeds} seeds "
        "(in brackets: seeds that reached it within 3000 trials)\n"
    )
    print(
        "| curves | Spearman at epochs 1, 3, 9, 27 | random (epochs) | "
        + " | ".join(f"brackets: {b}" for b in all_brackets)
        + " |"
    )
    print("|---|---|---|" + "---|" * len(all_brackets))
    with Pool(2) as pool:
        for name in a.variants.split(","):
            model = VARIANTS[name]
            target = pool_target(model)
            seeds = range(a.seeds)
            rnd = pool.map(_job, [("random", 0, s, target, model, a.overshoot) for s in seeds])
            ref = _median(rnd)
            cells = []
            for b in all_brackets:
                hb = pool.map(_job, [("hyperband", b, s, target, model, a.overshoot) for s in seeds])
                reached = sum(1 for v in hb if v is not None)
                cells.append(f"{_median(hb) / ref:.2f} ({reached})")
            rho = ", ".join(f"{v:.2f}" for v in rank_correlations(model).values())
            print(
                f"| {name} (target {target:.4f}) | {rho} | {ref:g} | " + " | ".join(cells) + " |", flush=True
            )


if __name__ == "__main__":
    main()
