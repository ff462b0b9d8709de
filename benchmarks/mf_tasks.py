"""Multi-fidelity tasks for comparing Hyperband variants: learning curves that are a
deterministic function of the configuration, so that a method can be replayed on a virtual
clock for many seeds (``mf_suite.py``).

Each task has a search space (an hpt ``parameters`` block, and the same space for Optuna), a
maximum resource R (epochs), ``curve(params)``: the validation accuracy after each epoch 1..R
as a training script would print it, and ``cost(params)``: what one epoch costs (1 unless the
task says otherwise). The tasks differ in what makes them hard:

* ``synthetic``: ``synthetic_curve.py``'s curves (hyperband_bench.py's task): fast learners
  lead early and are overtaken, wide weakly regularized networks overfit late. R = 81.
* ``crossing``: early epochs rank configurations badly (Spearman correlation of epoch 1 with
  the final value 0.05): large steps learn fastest and then collapse, the best configurations
  start slowly, and large batches stall late. R = 81.
* ``noisy``: the synthetic curves with independent noise of sd 0.01 on every printed value (a
  small validation set), so rungs rank on noise as much as on the configuration. R = 81.
* ``categorical``: the optimizer (4 values) moves the best learning rate by two orders of
  magnitude and changes the asymptote, the activation (3 values) matters too; 3 numeric
  parameters. R = 81.
* ``batchcost``: the batch size (8 to 1024, logarithmic) sets the cost of an epoch (a batch
  of 8 costs 8.5 times a batch of 1024) and small batches generalize better and learn more
  per epoch; what counts is the compute spent (epochs weighted by their cost), not epochs.
  R = 81.
* ``digits``: the real MLP of ``examples/train_mlp.py`` on scikit-learn's digits (the space
  of ``specs/digits-mlp-hyperband.yaml``), R = 27, tabulated: 2,000 configurations (400 per
  batch size, the numeric parameters on a scrambled Sobol sequence) were trained once and their
  curves stored in ``benchmarks/data/digits-mlp-pool.csv`` (the number of the 540 validation
  images right after each epoch, and the CPU time of an epoch); a configuration gets the curve
  of the nearest tabulated one (same batch size, nearest in the scaled unit cube).

    python benchmarks/mf_tasks.py tabulate-digits        # about an hour of CPU; writes the pool
    python benchmarks/mf_tasks.py describe               # rank correlations of early and final values
"""

from __future__ import annotations

import argparse
import csv
import math
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / "data"
DIGITS_POOL = DATA / "digits-mlp-pool.csv"
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT / "examples"), str(ROOT)]

import synthetic_curve  # noqa: E402


@dataclass(frozen=True)
class Task:
    name: str
    max_resource: int
    parameters: dict  # an hpt spec's `parameters` block
    curve: Callable[[dict], list[float]]
    cost: Callable[[dict], float] = field(default=lambda p: 1.0)
    about: str = ""

    @property
    def measure(self) -> str:
        return "cost-weighted epochs" if self.name == "batchcost" else "epochs"


def _bounded(x: float) -> float:
    return round(min(max(x, 0.0), 1.0), 4)


def _rng(name: str, p: dict) -> random.Random:
    """The noise of one configuration: a pure function of it (a replay gives the same curve)."""
    return random.Random(name + "|" + ",".join(f"{k}={p[k]!r}" for k in sorted(p)))


# ---------------------------------------------------------------------------- synthetic

SYNTHETIC_PARAMS = {
    "lr": {"type": "continuous", "min": 1e-4, "max": 1.0, "scaling": "logarithmic"},
    "wd": {"type": "continuous", "min": 1e-6, "max": 0.1, "scaling": "logarithmic"},
    "width": {"type": "integer", "min": 16, "max": 1024, "scaling": "logarithmic"},
    "dropout": {"type": "continuous", "min": 0.0, "max": 0.7},
}


def _synthetic(p: dict) -> list[float]:
    return synthetic_curve.curve(p["lr"], p["wd"], p["width"], p["dropout"], 81)


def _noisy(p: dict) -> list[float]:
    rng = _rng("noisy", p)
    return [_bounded(v + rng.gauss(0.0, 0.01)) for v in _synthetic(p)]


# ---------------------------------------------------------------------------- crossing

CROSSING_PARAMS = {
    "lr": {"type": "continuous", "min": 1e-5, "max": 1.0, "scaling": "logarithmic"},
    "momentum": {"type": "continuous", "min": 0.0, "max": 0.99},
    "batch": {"type": "integer", "min": 16, "max": 1024, "scaling": "logarithmic"},
    "wd": {"type": "continuous", "min": 1e-6, "max": 0.1, "scaling": "logarithmic"},
}


def _crossing(p: dict) -> list[float]:
    """Speed and asymptote pull apart: the effective step ``lr / (1 - momentum)`` sets how fast a
    configuration learns, but the asymptote is best at a moderate step (1e-3); steps above 0.1
    learn fastest and then become unstable and collapse; large batches learn fast per epoch at
    first and stall late."""
    step = math.log10(p["lr"] / (1.0 - p["momentum"]))  # -5 .. 2
    b = math.log2(p["batch"])  # 4 .. 10
    v = math.log10(p["wd"])
    a = 0.96 - 0.025 * (step + 3.0) ** 2 - 0.004 * (b - 5.0) ** 2 - 0.005 * (v + 3.5) ** 2
    a = max(a, 0.3)
    tau = 10 ** (-(step + 2.5)) * 2 ** (-(b - 7.0) / 2.0)
    blow = max(0.0, step + 1.0)
    rng = _rng("crossing", p)
    out = []
    for t in range(1, 82):
        acc = a - (a - 0.1) * (1 + t / tau) ** -1.0
        if blow > 0:
            acc -= (acc - 0.1) * (1 - math.exp(-blow * t / 8.0))
        acc -= 0.03 * max(0.0, b - 6.0) / 4.0 * (t / 81)
        out.append(_bounded(acc + rng.gauss(0.0, 0.004)))
    return out


# ---------------------------------------------------------------------------- categorical

CATEGORICAL_PARAMS = {
    "optimizer": {"type": "categorical", "values": ["sgd", "momentum", "adam", "rmsprop"]},
    "activation": {"type": "categorical", "values": ["relu", "tanh", "sigmoid"]},
    "lr": {"type": "continuous", "min": 1e-5, "max": 1.0, "scaling": "logarithmic"},
    "wd": {"type": "continuous", "min": 1e-6, "max": 0.1, "scaling": "logarithmic"},
    "width": {"type": "integer", "min": 16, "max": 1024, "scaling": "logarithmic"},
}
#: optimizer -> (best log10 lr, asymptote bonus, speed factor)
_OPTIMIZERS = {
    "sgd": (-1.0, -0.03, 0.4),
    "momentum": (-2.0, 0.0, 1.0),
    "adam": (-3.3, 0.01, 2.0),
    "rmsprop": (-3.0, -0.01, 1.6),
}
_ACTIVATIONS = {"relu": (0.0, 1.0), "tanh": (-0.015, 0.8), "sigmoid": (-0.06, 0.4)}


def _categorical(p: dict) -> list[float]:
    best_lr, bonus, speed = _OPTIMIZERS[p["optimizer"]]
    act, act_speed = _ACTIVATIONS[p["activation"]]
    u, v, w = math.log10(p["lr"]), math.log10(p["wd"]), math.log2(p["width"])
    a = (
        0.95
        + bonus
        + act
        - 0.035 * (u - best_lr) ** 2
        - 0.006 * (v + 4.0) ** 2
        - 0.004 * (w - 8.0) ** 2
        - 0.3 * max(0.0, u - best_lr - 1.2) ** 2  # diverges above its optimizer's range
    )
    a = max(a, 0.1)
    tau = 8.0 / (speed * act_speed) * 10 ** (-0.3 * (u - best_lr)) * 2 ** (-(w - 8.0) / 6)
    rng = _rng("categorical", p)
    return [_bounded(a - (a - 0.1) * (1 + t / tau) ** -1.2 + rng.gauss(0.0, 0.004)) for t in range(1, 82)]


# ---------------------------------------------------------------------------- batchcost

BATCHCOST_PARAMS = {
    "batch": {"type": "integer", "min": 8, "max": 1024, "scaling": "logarithmic"},
    "lr": {"type": "continuous", "min": 1e-4, "max": 1.0, "scaling": "logarithmic"},
    "wd": {"type": "continuous", "min": 1e-6, "max": 0.1, "scaling": "logarithmic"},
    "dropout": {"type": "continuous", "min": 0.0, "max": 0.7},
}


def _batchcost_cost(p: dict) -> float:
    """The cost of an epoch relative to a batch of 128: N/b steps, each with a fixed cost equal
    to the compute of 64 samples, so a batch of 8 costs 8.5 times a batch of 1024."""
    return (1.0 + 64.0 / p["batch"]) / (1.0 + 64.0 / 128.0)


def _batchcost(p: dict) -> list[float]:
    b = math.log2(p["batch"])  # 3 .. 10
    u = math.log10(p["lr"]) - 0.5 * (b - 7.0) * math.log10(2.0)  # the best lr grows with sqrt(batch)
    a = (
        synthetic_curve.asymptote(10**u, p["wd"], 256, p["dropout"]) - 0.006 * max(0.0, b - 5.0) ** 2
    )  # a generalization gap
    a = max(a, 0.1)
    tau = 10 ** (-0.3 * (u + 2.5)) * 2 ** ((b - 7.0) / 2.0) * (1 + p["dropout"])  # fewer steps per epoch
    rng = _rng("batchcost", p)
    return [_bounded(a - (a - 0.1) * (1 + t / tau) ** -1.2 + rng.gauss(0.0, 0.004)) for t in range(1, 82)]


# ---------------------------------------------------------------------------- digits (tabulated)

DIGITS_PARAMS = {
    "lr": {"type": "continuous", "min": 1e-4, "max": 0.3, "scaling": "logarithmic"},
    "alpha": {"type": "continuous", "min": 1e-6, "max": 1.0, "scaling": "logarithmic"},
    "hidden": {"type": "integer", "min": 8, "max": 256, "scaling": "logarithmic"},
    "batch_size": {"type": "categorical", "values": [16, 32, 64, 128, 256]},
}
DIGITS_R = 27
DIGITS_VALIDATION = 540  # validation images: the pool stores how many were right after each epoch
DIGITS_NUMERIC = ("lr", "alpha", "hidden")


def _unit(name: str, value: float) -> float:
    """A numeric digits parameter in the scaled unit interval (as hpt's space encodes it)."""
    spec = DIGITS_PARAMS[name]
    lo, hi = spec["min"], spec["max"]
    if spec["type"] == "integer":
        lo, hi = lo - 0.5, hi + 0.5
    return (math.log(value) - math.log(lo)) / (math.log(hi) - math.log(lo))


@lru_cache(maxsize=1)
def _digits_table():
    import numpy as np

    if not DIGITS_POOL.exists():
        raise SystemExit(f"{DIGITS_POOL} is missing: run `python benchmarks/mf_tasks.py tabulate-digits`")
    by_batch: dict[str, tuple[list, list]] = {}
    with DIGITS_POOL.open() as f:
        for row in csv.DictReader(f):
            u = [_unit(n, float(row[n])) for n in DIGITS_NUMERIC]
            acc = [round(int(row[f"e{t}"]) / DIGITS_VALIDATION, 4) for t in range(1, DIGITS_R + 1)]
            pts, curves = by_batch.setdefault(row["batch_size"], ([], []))
            pts.append(u)
            curves.append(acc)
    return {b: (np.array(pts), curves) for b, (pts, curves) in by_batch.items()}


def _digits(p: dict) -> list[float]:
    import numpy as np

    pts, curves = _digits_table()[str(p["batch_size"])]
    u = np.array([_unit(n, float(p[n])) for n in DIGITS_NUMERIC])
    return curves[int(np.argmin(((pts - u) ** 2).sum(axis=1)))]


def tabulate_digits(n_per_batch: int, jobs: int) -> None:
    """Train ``n_per_batch`` configurations per batch size for DIGITS_R epochs; write the pool."""
    from multiprocessing import Pool

    from scipy.stats import qmc

    rows = []
    for i, batch in enumerate(DIGITS_PARAMS["batch_size"]["values"]):
        sobol = qmc.Sobol(3, scramble=True, seed=20_000 + i).random(n_per_batch)
        for u in sobol:
            p = {}
            for name, x in zip(DIGITS_NUMERIC, u, strict=True):
                spec = DIGITS_PARAMS[name]
                lo, hi = spec["min"], spec["max"]
                if spec["type"] == "integer":
                    v = math.exp(math.log(lo - 0.5) + x * (math.log(hi + 0.5) - math.log(lo - 0.5)))
                    p[name] = int(min(max(math.floor(v + 0.5), lo), hi))
                else:
                    p[name] = float(f"{math.exp(math.log(lo) + x * (math.log(hi) - math.log(lo))):.6g}")
            p["batch_size"] = batch
            rows.append(p)
    t0 = time.time()
    with Pool(jobs) as pool:
        out = pool.map(_train_digits, rows, chunksize=4)
    DATA.mkdir(parents=True, exist_ok=True)
    with DIGITS_POOL.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(
            [*DIGITS_NUMERIC, "batch_size", "cpu_ms_per_epoch", *(f"e{t}" for t in range(1, DIGITS_R + 1))]
        )
        for p, (ms, acc) in zip(rows, out, strict=True):
            right = (round(a * DIGITS_VALIDATION) for a in acc)
            w.writerow([p["lr"], p["alpha"], p["hidden"], p["batch_size"], ms, *right])
    print(f"{len(rows)} configurations in {time.time() - t0:.0f} s -> {DIGITS_POOL}")


def _train_digits(p: dict) -> tuple[int, list[float]]:
    import os

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from train_mlp import curve, data

    global _SPLIT
    if "_SPLIT" not in globals():
        _SPLIT = data(0)
    t0 = time.process_time()
    acc = [
        a for _, a, _ in curve(p["lr"], p["alpha"], p["hidden"], int(p["batch_size"]), DIGITS_R, 0, _SPLIT)
    ]
    return round((time.process_time() - t0) / DIGITS_R * 1000), acc


# ---------------------------------------------------------------------------- registry

TASKS = {
    t.name: t
    for t in (
        Task("synthetic", 81, SYNTHETIC_PARAMS, _synthetic, about="synthetic_curve.py"),
        Task("crossing", 81, CROSSING_PARAMS, _crossing, about="early epochs rank badly"),
        Task("noisy", 81, SYNTHETIC_PARAMS, _noisy, about="synthetic + noise sd 0.01"),
        Task("categorical", 81, CATEGORICAL_PARAMS, _categorical, about="optimizer and activation matter"),
        Task("batchcost", 81, BATCHCOST_PARAMS, _batchcost, _batchcost_cost, about="small batches cost more"),
        Task("digits", DIGITS_R, DIGITS_PARAMS, _digits, about="digits MLP, tabulated"),
    )
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("tabulate-digits")
    t.add_argument("--per-batch", type=int, default=400)
    t.add_argument("--jobs", type=int, default=2)
    sub.add_parser("describe")
    a = ap.parse_args()
    if a.cmd == "tabulate-digits":
        tabulate_digits(a.per_batch, a.jobs)


if __name__ == "__main__":
    main()
