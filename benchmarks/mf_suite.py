"""Hyperband's samplers against Optuna's Hyperband, on many multi-fidelity tasks and seeds.

Every method runs each task (``mf_tasks.py``) on a virtual clock, 2 trials at a time, until a
finished trial reaches the task's strict target, or a cap of 3,000 trials:

* ``hpt-random``, ``hpt-bayesian``: hpt's real runner (``hpt.executors.sim``)
  with ``strategy: hyperband`` (min_resource 1, eta 3, the default brackets) and
  ``hyperband.sampler`` set to that value; ``hpt-default`` leaves the sampler out, so it is
  whatever the current default is;
* ``optuna-random``, ``optuna-tpe``: Optuna's ``RandomSampler`` or ``TPESampler`` (seeded) with
  its ``HyperbandPruner`` (min_resource 1, max_resource R, reduction_factor 3), through
  ask-and-tell on the same virtual clock: each running trial reports every epoch and asks
  ``should_prune``.

An epoch of a configuration takes ``cost(params)`` virtual seconds (1, except on
``batchcost``); a stopped or pruned trial prints nothing after the decision, and its slot goes
to a new trial at once.

**Target**: the 99th percentile of the final values of 1,000 random configurations (drawn with
hpt's random sampler under a seed no run uses): the best 1% (``targets``; stored in
``benchmarks/data/mf-targets.json``). **Measure**: the epochs (weighted by their cost on
``batchcost``) that all trials had run, stopped ones included, when a trial first *finished*
(completed, stopped or pruned) with a final value at or above the target, counting every epoch
up to that moment on the virtual clock. A run that hits the cap counts as worse than any that
reached the target.

    python benchmarks/mf_suite.py targets
    python benchmarks/mf_suite.py run --seeds 0-49 [--tasks ...] [--methods ...]
    python benchmarks/mf_suite.py report

``run`` appends one line per run to ``benchmarks/results/mf.jsonl`` (runs already there are
skipped; ``--out`` for another file); ``report`` prints the tables from the files given.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT)]

from mf_tasks import DATA, TASKS, Task  # noqa: E402
from seeds import parse_seeds  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
TARGETS = DATA / "mf-targets.json"
POOL_SEED = 10_000
POOL = 1000
PARALLEL = 2
CAP = 3000
HPT_METHODS = ("hpt-default", "hpt-random", "hpt-bayesian")
OPTUNA_METHODS = ("optuna-random", "optuna-tpe")
METHODS = (*HPT_METHODS, *OPTUNA_METHODS)


# ---------------------------------------------------------------------------- hpt


def spec_data(task: Task, sampler: str | None, seed: int, target: float | None) -> dict:
    hb = {"min_resource": 1, "eta": 3}
    if sampler is not None:
        hb["sampler"] = sampler
    d = {
        "name": f"{task.name}-{sampler or 'default'}-{seed}",
        "command": ["python", "train.py", "{args}"],
        "static": {"epochs": task.max_resource},
        "objective": {"metric": "val_acc", "type": "maximize"},
        "metrics": [{"name": "val_acc", "regex": r"val_acc=([-+0-9.eE]+)"}],
        "strategy": "hyperband",
        "hyperband": hb,
        "parameters": task.parameters,
        "limits": {"max_jobs": CAP, "max_parallel_jobs": PARALLEL},
        "random_seed": seed,
    }
    if target is not None:
        d["completion"] = {"target": target}
    return d


def parse(data: dict):
    from hpt.spec import parse_spec

    return parse_spec(yaml.safe_dump(data, sort_keys=False), "mf.yaml")


def run_hpt(task: Task, sampler: str | None, seed: int, target: float) -> dict:
    from hpt.executors.sim import SimTrial, run_simulated
    from hpt.store import Store

    spec = parse(spec_data(task, sampler, seed, target))

    def behaviour(launch):
        values = task.curve(launch.params)
        return SimTrial.curve([f"val_acc={v!r}" for v in values], task.cost(launch.params))

    t0 = time.process_time()
    with tempfile.TemporaryDirectory() as tmp:
        result, _ = run_simulated(spec, behaviour, tmp)
        store = Store.open(result.job_dir)
        try:
            trials = store.trials()
            points = {t.id: store.points(t.id, "val_acc") for t in trials}
        finally:
            store.close()
    cost = {t.id: task.cost(t.params) for t in trials}
    ends = [  # a trial stopped because the job ended was still running: it does not count
        max(p[3] for p in points[t.id])
        for t in trials
        if t.state in ("completed", "stopped")
        and t.info.get("stopped") != "job_end"
        and t.objective is not None
        and t.objective >= target
        and points[t.id]
    ]
    hit = min(ends) if ends else None
    spent = sum(cost[tid] for tid, pts in points.items() for p in pts if hit is None or p[3] <= hit + 1e-9)
    return {
        "reached": hit is not None,
        "epochs": round(spent, 3),
        "trials": len(trials),
        "stopped": sum(1 for t in trials if t.state == "stopped"),
        "model_trials": sum(1 for t in trials if "model_observations" in t.info),
        "cpu_s": round(time.process_time() - t0, 2),
    }


# ---------------------------------------------------------------------------- Optuna


def suggest(trial, parameters: dict) -> dict:
    p = {}
    for name, s in parameters.items():
        log = s.get("scaling") == "logarithmic"
        if s["type"] == "continuous":
            p[name] = trial.suggest_float(name, s["min"], s["max"], log=log)
        elif s["type"] == "integer":
            p[name] = trial.suggest_int(name, s["min"], s["max"], log=log)
        else:
            p[name] = trial.suggest_categorical(name, [str(v) for v in s["values"]])
    return p


def run_optuna(task: Task, sampler: str, seed: int, target: float) -> dict:
    """Optuna's ask-and-tell on a virtual clock with PARALLEL workers: the same rules as the
    simulated executor (an epoch takes cost(params) seconds; a pruned trial's slot is refilled at
    the moment of the decision)."""
    import heapq

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    samplers = {"random": optuna.samplers.RandomSampler, "tpe": optuna.samplers.TPESampler}
    study = optuna.create_study(
        direction="maximize",
        study_name=f"mf-{task.name}-{seed}",  # the pruner assigns brackets from a hash of it
        sampler=samplers[sampler](seed=seed),
        pruner=optuna.pruners.HyperbandPruner(
            min_resource=1, max_resource=task.max_resource, reduction_factor=3
        ),
    )
    t0 = time.process_time()
    heap: list = []
    seq = 0
    started = 0
    spent = 0.0
    pruned = 0

    def start(now: float) -> None:
        nonlocal seq, started
        trial = study.ask()
        p = suggest(trial, task.parameters)
        c = task.cost(p)
        started += 1
        seq += 1
        heapq.heappush(heap, (now + c, seq, trial, task.curve(p), c, 0))

    for _ in range(PARALLEL):
        start(0.0)
    hit = None
    while heap:
        now, s, trial, values, c, step = heapq.heappop(heap)
        if hit is not None:
            if now <= hit + 1e-9:
                spent += c  # an epoch that ended at the same moment
            continue
        step += 1
        value = values[step - 1]
        spent += c
        trial.report(value, step)
        if step == len(values):
            study.tell(trial, value)
        elif trial.should_prune():
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            pruned += 1
        else:
            heapq.heappush(heap, (now + c, s, trial, values, c, step))
            continue
        if value >= target:
            hit = now
            continue
        if started < CAP:
            start(now)
    return {
        "reached": hit is not None,
        "epochs": round(spent, 3),
        "trials": started,
        "stopped": pruned,
        "cpu_s": round(time.process_time() - t0, 2),
    }


# ---------------------------------------------------------------------------- targets


def make_targets(names: list[str]) -> dict:
    from hpt.strategies.random import RandomSampler

    out = {
        "rule": f"the 99th percentile of the final values of {POOL} random configurations "
        f"(hpt's random sampler, seed {POOL_SEED}): the best 1%",
        "tasks": load_targets() if TARGETS.exists() else {},
    }
    for task in (TASKS[n] for n in names):
        space = parse(spec_data(task, None, POOL_SEED, None)).space
        sampler = RandomSampler(space)
        finals = sorted(task.curve(sampler.draw(POOL_SEED, i))[-1] for i in range(1, POOL + 1))
        target = finals[int(0.99 * POOL)]
        out["tasks"][task.name] = {
            "target": target,
            "reached_by": sum(1 for v in finals if v >= target),
            "best": finals[-1],
            "median": finals[POOL // 2],
            "spearman": rank_correlations(task),
        }
    return out


def rank_correlations(task: Task, n: int = 1000) -> dict[str, float]:
    """Spearman correlation between the value at epoch t and the final value over n random
    configurations: how well early epochs predict the final ranking."""
    import numpy as np
    from scipy.stats import spearmanr

    from hpt.strategies.random import RandomSampler

    space = parse(spec_data(task, None, POOL_SEED, None)).space
    sampler = RandomSampler(space)
    curves = np.array([task.curve(sampler.draw(POOL_SEED + 1, i)) for i in range(n)])
    levels = [t for t in (1, 3, 9, 27) if t < task.max_resource]
    return {str(t): round(float(spearmanr(curves[:, t - 1], curves[:, -1])[0]), 2) for t in levels}


def load_targets() -> dict:
    return json.loads(TARGETS.read_text())["tasks"]


# ---------------------------------------------------------------------------- running


def one(args) -> dict:
    task_name, method, seed, target = args
    task = TASKS[task_name]
    kind, _, sampler = method.partition("-")
    if kind == "optuna":
        res = run_optuna(task, sampler, seed, target)
    else:
        res = run_hpt(task, None if sampler == "default" else sampler, seed, target)
    return {"task": task_name, "method": method, "seed": seed, **res}


def run(tasks: list[str], methods: list[str], seeds: list[int], out: Path, jobs: int) -> None:
    from multiprocessing import Pool

    targets = load_targets()
    done = set()
    if out.exists():
        for line in out.read_text().splitlines():
            r = json.loads(line)
            done.add((r["task"], r["method"], r["seed"]))
    todo = [
        (t, m, s, targets[t]["target"])
        for t in tasks
        for m in methods
        for s in seeds
        if (t, m, s) not in done
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    with Pool(jobs) as pool, out.open("a") as f:
        for r in pool.imap_unordered(one, todo):
            f.write(json.dumps(r) + "\n")
            f.flush()
            print(
                f"{r['task']} {r['method']} seed {r['seed']}: reached={r['reached']} "
                f"epochs={r['epochs']:g} trials={r['trials']} cpu={r['cpu_s']}s",
                flush=True,
            )


# ---------------------------------------------------------------------------- report


def _q(values: list[float], q: float) -> float:
    """Quantile by linear interpolation (inf for runs that did not reach the target)."""
    s = sorted(values)
    x = q * (len(s) - 1)
    lo, hi = math.floor(x), math.ceil(x)
    if math.isinf(s[hi]) or math.isinf(s[lo]):
        return s[hi] if math.isinf(s[hi]) and x > lo else s[lo] if lo == hi else math.inf
    return s[lo] + (s[hi] - s[lo]) * (x - lo)


def _fmt(x: float) -> str:
    return "-" if math.isinf(x) else f"{x:.0f}"


def load_results(paths: list[Path]) -> dict:
    """task -> method -> seed -> run (a later file wins)."""
    out: dict = {}
    for path in paths:
        for line in path.read_text().splitlines():
            r = json.loads(line)
            out.setdefault(r["task"], {}).setdefault(r["method"], {})[r["seed"]] = r
    return out


def default_sampler() -> str:
    """The sampler ``strategy: hyperband`` uses when the spec names none."""
    return parse(spec_data(TASKS["synthetic"], None, 0, None)).hyperband.sampler


def _ratio_interval(mine: list[float], theirs: list[float], n: int = 4000) -> tuple[float, float]:
    """A 90% bootstrap interval of median(mine) / median(theirs), resampling seeds in pairs."""
    import numpy as np

    rng = np.random.default_rng(0)
    a, b = np.array(mine), np.array(theirs)
    idx = rng.integers(0, len(a), size=(n, len(a)))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.median(a[idx], axis=1) / np.median(b[idx], axis=1)
    lo, hi = np.nanpercentile(r, [5, 95])
    return float(lo), float(hi)


def report(paths: list[Path], methods: list[str] | None = None) -> str:
    results = load_results(paths)
    targets = load_targets()
    default = f"hpt-{default_sampler()}"
    shown = [
        m
        for m in (methods or [m for m in METHODS if m != "hpt-default"])
        if any(m in r for r in results.values())
    ]
    head = [f"{m} (default)" if m == default else m for m in shown]
    lines = [
        f"Median [25%, 75%] over seeds of the epochs spent until a finished trial reached the target "
        f"(batchcost: epochs weighted by their cost); in brackets the seeds that reached it within {CAP} "
        f"trials, when not all did. Last columns: the default ({default}) against the better of Optuna's "
        "two by median: the ratio of medians with a 90% bootstrap interval over seeds, and the seeds on "
        "which the default needed fewer epochs; then the ratio of medians against hpt's other samplers.",
        "",
        "| task | target | seeds | "
        + " | ".join(head)
        + " | default / best Optuna | fewer on | default / other hpt |",
        "|---|---|---|" + "---|" * len(shown) + "---|---|---|",
    ]
    wins, worst = 0, 0.0
    counted = 0
    for name in TASKS:
        runs = results.get(name)
        if not runs:
            continue
        present = [m for m in shown if m in runs]
        seeds = sorted(set.intersection(*(set(runs[m]) for m in present)))
        if not seeds:
            continue
        vals, med, cells = {}, {}, []
        for m in shown:
            if m not in runs:
                cells.append("")
                continue
            vals[m] = [runs[m][s]["epochs"] if runs[m][s]["reached"] else math.inf for s in seeds]
            med[m] = _q(vals[m], 0.5)
            reached = sum(1 for v in vals[m] if not math.isinf(v))
            extra = "" if reached == len(seeds) else f" ({reached})"
            cells.append(f"{_fmt(med[m])} [{_fmt(_q(vals[m], 0.25))}, {_fmt(_q(vals[m], 0.75))}]{extra}")
        optuna = [m for m in OPTUNA_METHODS if m in med]
        ratio, fewer = "-", "-"
        others = [m for m in med if m.startswith("hpt-") and m != default]
        versus = ", ".join(f"{med[default] / med[m]:.2f} vs {m}" for m in others) if default in med else "-"
        if optuna and default in med:
            best = min(optuna, key=lambda m: med[m])
            r = med[default] / med[best]
            lo, hi = _ratio_interval(vals[default], vals[best])
            ratio = f"{r:.2f} [{lo:.2f}, {hi:.2f}] vs {best}"
            fewer = f"{sum(a < b for a, b in zip(vals[default], vals[best], strict=True))}/{len(seeds)}"
            counted += 1
            wins += r < 1
            worst = max(worst, r)
        lines.append(
            f"| {name} | {targets[name]['target']:.4f} | {len(seeds)} | "
            + " | ".join(cells)
            + f" | {ratio} | {fewer} | {versus or '-'} |"
        )
    if counted:
        lines += [
            "",
            f"The default needs fewer epochs than Optuna's better variant on {wins} of {counted} tasks; "
            f"its largest ratio is {worst:.2f}.",
        ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("targets", help="compute the targets and store them")
    t.add_argument("--tasks", default=",".join(TASKS))
    r = sub.add_parser("run")
    r.add_argument("--tasks", default=",".join(TASKS))
    r.add_argument("--methods", default=",".join(m for m in METHODS if m != "hpt-default"))
    r.add_argument("--seeds", default="0-49")
    r.add_argument("--jobs", type=int, default=2)
    r.add_argument("--out", type=Path, default=RESULTS / "mf.jsonl")
    s = sub.add_parser("report")
    s.add_argument("results", nargs="*", type=Path, default=[RESULTS / "mf.jsonl"])
    s.add_argument("--methods", default=None)
    a = ap.parse_args()
    if a.cmd == "targets":
        doc = make_targets(a.tasks.split(","))
        TARGETS.write_text(json.dumps(doc, indent=1) + "\n")
        for name, t in doc["tasks"].items():
            print(name, t)
    elif a.cmd == "run":
        run(a.tasks.split(","), a.methods.split(","), parse_seeds(a.seeds), a.out, a.jobs)
    else:
        print(report(a.results, a.methods.split(",") if a.methods else None))


if __name__ == "__main__":
    main()
