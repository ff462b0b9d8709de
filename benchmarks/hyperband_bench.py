"""Hyperband and early stopping against full-budget random search and Optuna.

Two tasks, each with a fixed search space and a maximum resource R:

* ``synthetic``: ``benchmarks/synthetic_curve.py``, learning curves with a known best
  configuration, R = 81 epochs of 10 ms each;
* ``mlp``: ``examples/train_mlp.py``, a real MLP trained epoch by epoch on digits, R = 27.

The methods, all with 2 trials at a time:

* ``random``: hpt, ``strategy: random``, every trial runs to R;
* ``hyperband``: hpt, ``strategy: hyperband`` (min_resource 1, eta 3; its default 2 brackets)
  with ``sampler: random``;
* ``hyperband-all``: the same with every bracket of Hyperband (``hyperband.brackets``: 5 for
  R = 81, 4 for R = 27);
* ``hyperband-bayes``: ``hyperband.sampler: bayesian`` (the default sampler since decision 0016);
* ``median``: hpt, ``strategy: random`` with ``early_stopping: auto`` (default minimums);
* ``optuna``: Optuna's TPE sampler with its HyperbandPruner (min_resource 1, max_resource R,
  reduction_factor 3), in-process, ``n_jobs=2`` threads, on the same curves: the synthetic
  curve function with the same sleep per epoch, or the same MLP training code
  (``train_mlp.curve``).

The hpt methods run through the real CLI (``python -m hpt run``); their epochs and times come
from the job's store. An epoch is one objective point printed (hpt) or reported (Optuna), by any
trial, including the points a stopped trial printed before it died. A trial's objective counts
when it ends (its last value, for stopped and pruned trials too). Every run ends as soon as a
trial reaches the task's target (hpt: ``completion.target``; Optuna: ``study.stop()``), or
after a cap on the number of trials.

The target is fixed beforehand: the best full-budget objective in a pool of random
configurations (drawn with hpt's random sampler under a seed no run uses), computed once by
``targets`` and stored in ``benchmarks/data/``.

    python benchmarks/hyperband_bench.py targets --task synthetic --pool 300
    python benchmarks/hyperband_bench.py run --task synthetic --seeds 0-4
    python benchmarks/hyperband_bench.py report --task synthetic

Run results are kept in ``benchmarks/results/TASK.json`` (a run already there is skipped, so an
interrupted benchmark can be continued); ``report`` prints the tables from them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / "data"
RESULTS = ROOT / "benchmarks" / "results"
POOL_SEED = 10_000  # no benchmark run uses it
PARALLEL = 2
METHODS = ("random", "hyperband", "hyperband-all", "hyperband-bayes", "median", "optuna")
#: Results kept in a results file for the record but no longer runnable: the code changed.
ARCHIVED = ("hyperband-bayes-1level",)
#: What the report tables show, in this order.
REPORTED = (*METHODS, *ARCHIVED)
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT / "examples")]

from seeds import parse_seeds  # noqa: E402

# One BLAS thread, as the hpt trials get (OMP_NUM_THREADS=1 in the MLP spec): same numbers
# in-process and in subprocesses, and two trials share the two cores fairly.
os.environ.setdefault("OMP_NUM_THREADS", "1")


# --------------------------------------------------------------------------- tasks


@dataclass(frozen=True)
class Task:
    name: str
    max_resource: int
    spec: dict  # the hpt spec, without strategy, limits and seed
    caps: dict[str, int]  # method -> max trials
    budgets: tuple[int, ...]  # epoch budgets of the anytime table
    curve: Callable[[dict], Iterator[tuple[int, float]]]  # in-process training, epoch by epoch
    suggest: Callable  # Optuna's version of the search space


SYNTHETIC_SLEEP = 0.01


def _synthetic_curve(p: dict, sleep: float = SYNTHETIC_SLEEP) -> Iterator[tuple[int, float]]:
    from synthetic_curve import curve

    for epoch, acc in enumerate(curve(p["lr"], p["wd"], p["width"], p["dropout"], 81), start=1):
        if sleep:
            time.sleep(sleep)
        yield epoch, acc


def _synthetic_suggest(trial) -> dict:
    return {
        "lr": trial.suggest_float("lr", 1e-4, 1.0, log=True),
        "wd": trial.suggest_float("wd", 1e-6, 0.1, log=True),
        "width": trial.suggest_int("width", 16, 1024, log=True),
        "dropout": trial.suggest_float("dropout", 0.0, 0.7),
    }


_SPLIT = None


def _mlp_curve(p: dict) -> Iterator[tuple[int, float]]:
    global _SPLIT
    from train_mlp import curve, data

    if _SPLIT is None:
        _SPLIT = data(0)
    for epoch, acc, _loss in curve(
        p["lr"], p["alpha"], p["hidden"], int(p["batch_size"]), 27, seed=0, split=_SPLIT
    ):
        yield epoch, round(acc, 4)  # as printed


def _mlp_suggest(trial) -> dict:
    return {
        "lr": trial.suggest_float("lr", 1e-4, 0.3, log=True),
        "alpha": trial.suggest_float("alpha", 1e-6, 1.0, log=True),
        "hidden": trial.suggest_int("hidden", 8, 256, log=True),
        "batch_size": trial.suggest_categorical("batch_size", ["16", "32", "64", "128", "256"]),
    }


TASKS = {
    "synthetic": Task(
        "synthetic",
        81,
        {
            "command": [
                "python",
                "benchmarks/synthetic_curve.py",
                "--lr",
                "{lr}",
                "--wd",
                "{wd}",
                "--width",
                "{width}",
                "--dropout",
                "{dropout}",
                "--epochs",
                "{epochs}",
                "--sleep",
                str(SYNTHETIC_SLEEP),
            ],  # fmt: skip
            "static": {"epochs": 81},
            "objective": {"metric": "val_acc", "type": "maximize"},
            "metrics": [{"name": "val_acc", "regex": r"val_acc=([-+0-9.eE]+)"}],
            "parameters": {
                "lr": {"type": "continuous", "min": 1e-4, "max": 1.0, "scaling": "logarithmic"},
                "wd": {"type": "continuous", "min": 1e-6, "max": 0.1, "scaling": "logarithmic"},
                "width": {"type": "integer", "min": 16, "max": 1024, "scaling": "logarithmic"},
                "dropout": {"type": "continuous", "min": 0.0, "max": 0.7},
            },
        },
        {
            "random": 900,
            "median": 1500,
            "hyperband": 3000,
            "hyperband-all": 3000,
            "hyperband-bayes": 3000,
            "optuna": 3000,
        },
        (250, 500, 1000, 2000, 4000, 8000, 16000, 32000),
        _synthetic_curve,
        _synthetic_suggest,
    ),
    "mlp": Task(
        "mlp",
        27,
        {
            "command": [
                "python",
                "examples/train_mlp.py",
                "--lr",
                "{lr}",
                "--alpha",
                "{alpha}",
                "--hidden",
                "{hidden}",
                "--batch-size",
                "{batch_size}",
                "--epochs",
                "{epochs}",
                "--seed",
                "{seed}",
            ],  # fmt: skip
            "env": {"OMP_NUM_THREADS": "1"},
            "static": {"epochs": 27, "seed": 0},
            "objective": {"metric": "val_acc", "type": "maximize"},
            "metrics": [{"name": "val_acc", "regex": r"val_acc=([-+0-9.eE]+)"}],
            "parameters": {
                "lr": {"type": "continuous", "min": 1e-4, "max": 0.3, "scaling": "logarithmic"},
                "alpha": {"type": "continuous", "min": 1e-6, "max": 1.0, "scaling": "logarithmic"},
                "hidden": {"type": "integer", "min": 8, "max": 256, "scaling": "logarithmic"},
                "batch_size": {"type": "categorical", "values": [16, 32, 64, 128, 256]},
            },
        },
        {
            "random": 600,
            "median": 1000,
            "hyperband": 2000,
            "hyperband-all": 2000,
            "hyperband-bayes": 2000,
            "optuna": 2000,
        },
        (100, 250, 500, 1000, 2000, 4000, 8000, 16000),
        _mlp_curve,
        _mlp_suggest,
    ),
}


def spec_data(task: Task, method: str, seed: int, target: float | None) -> dict:
    from hpt.strategies.hyperband import max_bracket

    d = {"name": f"{task.name}-{method}-{seed}", **task.spec, "workdir": str(ROOT)}
    d["strategy"] = "hyperband" if method.startswith("hyperband") else "random"
    # max_resource comes from the static epochs; hyperband and hyperband-all draw configurations
    # at random (AMT's way), as when their results were recorded.
    if method == "hyperband":
        d["hyperband"] = {"min_resource": 1, "eta": 3, "sampler": "random"}
    if method == "hyperband-all":  # every bracket of Hyperband, not only the default two
        d["hyperband"] = {
            "min_resource": 1,
            "eta": 3,
            "sampler": "random",
            "brackets": max_bracket(1, task.max_resource, 3) + 1,
        }
    if method == "hyperband-bayes":  # model-based configurations (BOHB-style)
        d["hyperband"] = {"min_resource": 1, "eta": 3, "sampler": "bayesian"}
    if method == "median":
        d["early_stopping"] = "auto"
    d["limits"] = {"max_jobs": task.caps[method], "max_parallel_jobs": PARALLEL, "stop_grace_period": 2}
    if target is not None:
        d["completion"] = {"target": target}
    d["random_seed"] = seed
    return d


# --------------------------------------------------------------------------- targets


def _final(args) -> float:
    task_name, params = args
    last = None
    curve = TASKS[task_name].curve
    it = curve(params, 0) if task_name == "synthetic" else curve(params)
    for _, v in it:
        last = v
    return last


def make_targets(task: Task, pool: int) -> dict:
    """Final objectives of ``pool`` random configurations (hpt's random sampler, POOL_SEED)."""
    from multiprocessing import Pool

    from hpt.spec import parse_spec
    from hpt.strategies.random import RandomSampler

    spec = parse_spec(yaml.safe_dump(spec_data(task, "random", POOL_SEED, None)), "pool.yaml")
    sampler = RandomSampler(spec.space)
    configs = [sampler.draw(POOL_SEED, i) for i in range(1, pool + 1)]
    t0 = time.time()
    with Pool(PARALLEL) as p:
        finals = p.map(_final, [(task.name, c) for c in configs])
    order = sorted(range(pool), key=lambda i: -finals[i])
    return {
        "task": task.name,
        "rule": f"target = the best final objective among {pool} random configurations run to max_resource",
        "pool_seed": POOL_SEED,
        "pool_size": pool,
        "target": finals[order[0]],
        "best_config": configs[order[0]],
        "quantiles": {q: _quantile(finals, q) for q in (0.5, 0.9, 0.99)},
        "reached_by": sum(1 for v in finals if v >= finals[order[0]]),
        "finals": finals,
        "seconds": round(time.time() - t0, 1),
    }


def _quantile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def load_target(task: Task) -> float:
    """The target the runs stop at: the pool's best, unless the targets file says otherwise
    (``run_target``, with its reason in ``run_target_rule``)."""
    doc = json.loads((DATA / f"targets-{task.name}.json").read_text())
    return doc.get("run_target", doc["target"])


# --------------------------------------------------------------------------- running hpt


def run_hpt(task: Task, method: str, seed: int, target: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="hb-bench-") as tmp:
        spec_path = Path(tmp) / "spec.yaml"
        spec_path.write_text(yaml.safe_dump(spec_data(task, method, seed, target), sort_keys=False))
        env = dict(os.environ)
        env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
        t0 = time.time()
        proc = subprocess.run(
            [sys.executable, "-m", "hpt", "run", str(spec_path), "--runs-dir", tmp, "-q", "-o", "json"],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
        )
        total = time.time() - t0
        if proc.returncode not in (0,):
            raise RuntimeError(f"hpt failed ({proc.returncode}): {proc.stderr[-2000:]}")
        return read_job(Path(tmp) / f"{task.name}-{method}-{seed}" / "job.db", target) | {
            "process_seconds": round(total, 2)
        }


def read_job(db_path: Path, target: float) -> dict:
    """The trace of a job: after each trial that ended, (epochs so far, seconds, best so far)."""
    db = sqlite3.connect(db_path)
    try:
        trials = db.execute(
            "SELECT id, state, objective, objective_step, started, ended FROM trials ORDER BY ended"
        ).fetchall()
        times = sorted(
            t
            for (t,) in db.execute(
                "SELECT m.time FROM metrics m JOIN trials t ON t.id = m.trial_id AND m.attempt = t.attempts"
                " WHERE m.name = 'val_acc'"
            )
        )
    finally:
        db.close()
    start = min(t[4] for t in trials if t[4] is not None)
    events = [
        (ended, obj if state in ("completed", "stopped") else None) for _, state, obj, _, _, ended in trials
    ]
    stopped = sum(1 for t in trials if t[1] == "stopped")
    return trace_result(events, times, start, target) | {"trials": len(trials), "stopped": stopped}


def trace_result(events, point_times, start: float, target: float) -> dict:
    """``events``: (end time, objective or None) of every trial; ``point_times``: the time of
    every objective point printed."""
    import bisect

    best, trace, hit = None, [], None
    for ended, obj in sorted((e for e in events if e[0] is not None), key=lambda e: e[0]):
        if obj is not None and math.isfinite(obj) and (best is None or obj > best):
            best = obj
        epochs = bisect.bisect_right(point_times, ended)
        trace.append([epochs, round(ended - start, 3), best])
        if hit is None and best is not None and best >= target:
            hit = trace[-1]
    return {
        "reached": hit is not None,
        "epochs": hit[0] if hit else None,
        "seconds": hit[1] if hit else None,
        "total_epochs": len(point_times),
        "best": best,
        "trace": trace,
    }


# --------------------------------------------------------------------------- running Optuna


def run_optuna(task: Task, seed: int, target: float) -> dict:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.HyperbandPruner(
            min_resource=1, max_resource=task.max_resource, reduction_factor=3
        ),
    )
    lock = threading.Lock()
    point_times: list[float] = []
    events: list[tuple[float, float | None]] = []
    pruned = 0

    def objective(trial):
        nonlocal pruned
        params = task.suggest(trial)
        last = None
        for epoch, value in task.curve(params):
            with lock:
                point_times.append(time.time())
            last = value
            trial.report(value, epoch)
            if trial.should_prune():
                with lock:
                    pruned += 1
                    events.append((time.time(), last))
                    done = last >= target
                if done:
                    study.stop()
                raise optuna.TrialPruned()
        with lock:
            events.append((time.time(), last))
        if last >= target:
            study.stop()
        return last

    if task.name == "mlp":
        _mlp_curve({"lr": 1e-3, "alpha": 1e-4, "hidden": 8, "batch_size": 256}).__next__()  # load data
    start = time.time()
    study.optimize(objective, n_trials=task.caps["optuna"], n_jobs=PARALLEL)
    point_times.sort()
    return trace_result(events, point_times, start, target) | {"trials": len(study.trials), "stopped": pruned}


# --------------------------------------------------------------------------- report


def _median(values: list[float | None]) -> float | None:
    """Median with unreached runs (None) counted as worse than any reached one."""
    key = sorted(values, key=lambda v: math.inf if v is None else v)
    n = len(key)
    if n == 0:
        return None
    lo, hi = key[(n - 1) // 2], key[n // 2]
    if lo is None or hi is None:
        return None
    return (lo + hi) / 2


def best_at(trace: list, budget: int) -> float | None:
    best = None
    for epochs, _, b in trace:
        if epochs > budget:
            break
        best = b
    return best


def first_hit(trace: list, threshold: float, budget: float = math.inf) -> tuple[int, float] | None:
    """(epochs, seconds) when the best objective first reached ``threshold`` within ``budget``
    epochs, or None."""
    for epochs, seconds, best in trace:
        if epochs > budget:
            return None
        if best is not None and best >= threshold:
            return epochs, seconds
    return None


def epoch_budget(task: Task) -> int:
    """The same budget for every method: what random search's trial cap allows."""
    return task.caps["random"] * task.max_resource


def _target_table(task: Task, results: dict, threshold: float) -> list[str]:
    lines = [
        "| method | seeds reaching it | median epochs | median wall s | epochs vs random | epochs per seed | trials run (median) | stopped early (median) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    ref = None
    for method in REPORTED:
        runs = results.get(method, {})
        if not runs:
            continue
        seeds = sorted(runs, key=int)
        hits = [first_hit(runs[s]["trace"], threshold, epoch_budget(task)) for s in seeds]
        eps = [h[0] if h else None for h in hits]
        med_e, med_s = _median(eps), _median([h[1] if h else None for h in hits])
        if method == "random":
            ref = med_e
        ratio = f"{med_e / ref:.2f}" if med_e is not None and ref else "-"
        lines.append(
            f"| {method} | {sum(1 for e in eps if e is not None)}/{len(seeds)} "
            f"| {'not reached' if med_e is None else f'{med_e:g}'} "
            f"| {'-' if med_s is None else f'{med_s:.1f}'} | {ratio} "
            f"| {', '.join('-' if e is None else str(e) for e in eps)} "
            f"| {statistics.median(runs[s]['trials'] for s in seeds):g} "
            f"| {statistics.median(runs[s]['stopped'] for s in seeds):g} |"
        )
    return lines


def report(task: Task) -> str:
    results = json.loads((RESULTS / f"{task.name}.json").read_text())
    doc = json.loads((DATA / f"targets-{task.name}.json").read_text())
    best, q99 = doc["target"], doc["quantiles"]["0.99"]
    target = doc.get("run_target", best)
    if target == best:
        first, second = "the best of the pool", (q99, "the pool's 99th percentile")
    else:  # runs stop at the run target, so a second target must be below it to be read
        first, second = doc["run_target_rule"], (doc["quantiles"]["0.9"], "the pool's 90th percentile")
    lines = [
        f"Task {task.name}: max_resource {task.max_resource}, {PARALLEL} trials at a time. "
        f"Pool of {doc['pool_size']} random configurations run to max_resource: best {best:.4f} "
        f"(reached by {doc['reached_by']}), 99th percentile {q99:.4f}, median {doc['quantiles']['0.5']:.4f}.",
        "",
        f"Target {target:.4f} ({first}; every run ends when it reaches it). A run reaches "
        f"it only within {epoch_budget(task)} epochs, the budget of random search's {task.caps['random']} "
        "full trials, whatever its own cap; medians count a run that did not reach it as worse than any "
        "that did:",
        "",
        *_target_table(task, results, target),
        "",
        f"Secondary target {second[0]:.4f} ({second[1]}), read from the same runs:",
        "",
        *_target_table(task, results, second[0]),
        "",
        "Anytime: median over seeds of the best objective after a budget of epochs (a run that "
        "reached the target stopped there and keeps its best).",
        "",
        "| method | " + " | ".join(f"{b} ep" for b in task.budgets) + " |",
        "|---|" + "---|" * len(task.budgets),
    ]
    for method in REPORTED:
        runs = results.get(method, {})
        if not runs:
            continue
        cells = []
        for b in task.budgets:
            vals = [best_at(runs[s]["trace"], b) for s in runs]
            m = statistics.median(-math.inf if v is None else v for v in vals)
            cells.append("-" if m == -math.inf else f"{m:.4f}")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    lines += ["", *_paired(results, target, epoch_budget(task))]
    return "\n".join(lines)


def _paired(results: dict, threshold: float, budget: int) -> list[str]:
    """Seed by seed: on how many of the seeds both ran does each method reach the target with
    fewer epochs than random search, and than Optuna (a method that misses counts as worse)."""
    lines = [
        "Seed by seed (first target), fewer epochs than random search / than Optuna, over the seeds both ran:",
        "",
        "| method | fewer than random | fewer than optuna |",
        "|---|---|---|",
    ]

    def epochs(method: str) -> dict[str, float]:
        runs = results.get(method, {})
        hits = {s: first_hit(r["trace"], threshold, budget) for s, r in runs.items()}
        return {s: (h[0] if h else math.inf) for s, h in hits.items()}

    refs = [epochs("random"), epochs("optuna")]
    for method in REPORTED:
        if method in ("random", "optuna") or not results.get(method):
            continue
        mine, cells = epochs(method), []
        for theirs in refs:
            common = [s for s in mine if s in theirs]
            cells.append(f"{sum(mine[s] < theirs[s] for s in common)}/{len(common)}")
        lines.append(f"| {method} | {cells[0]} | {cells[1]} |")
    return lines


# --------------------------------------------------------------------------- CLI


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("targets", help="compute and store a task's target from a random pool")
    t.add_argument("--task", choices=TASKS, required=True)
    t.add_argument("--pool", type=int, default=300)
    r = sub.add_parser("run", help="run methods over seeds (skips runs already stored)")
    r.add_argument("--task", choices=TASKS, required=True)
    r.add_argument("--seeds", default="0-4")
    r.add_argument("--methods", default=",".join(METHODS))
    r.add_argument("--again", action="store_true", help="run again even if stored")
    s = sub.add_parser("report", help="print the tables")
    s.add_argument("--task", choices=TASKS, required=True)
    a = p.parse_args()
    task = TASKS[a.task]
    if a.cmd == "targets":
        DATA.mkdir(parents=True, exist_ok=True)
        doc = make_targets(task, a.pool)
        (DATA / f"targets-{task.name}.json").write_text(json.dumps(doc, indent=1) + "\n")
        print(f"{task.name}: target {doc['target']} ({doc['rule']}), reached by {doc['reached_by']}")
        return
    if a.cmd == "report":
        print(report(task))
        return
    target = load_target(task)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{task.name}.json"
    for seed in parse_seeds(a.seeds):
        for method in a.methods.split(","):
            results = json.loads(path.read_text()) if path.exists() else {}
            if str(seed) in results.get(method, {}) and not a.again:
                continue
            t0 = time.time()
            res = (
                run_optuna(task, seed, target) if method == "optuna" else run_hpt(task, method, seed, target)
            )
            results = json.loads(path.read_text()) if path.exists() else {}
            results.setdefault(method, {})[str(seed)] = res
            path.write_text(json.dumps(results) + "\n")
            print(
                f"{task.name} {method} seed {seed}: reached={res['reached']} epochs={res['epochs']} "
                f"seconds={res['seconds']} trials={res['trials']} ({time.time() - t0:.0f}s)",
                flush=True,
            )


if __name__ == "__main__":
    main()
