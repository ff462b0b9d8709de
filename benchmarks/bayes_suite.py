"""Sample efficiency of hpt's bayesian strategy against random search and Optuna.

Every hpt run goes through the real command line: a spec file per (problem, method, seed) whose
command runs ``benchmarks/objectives.py`` (it prints ``value=...``), run with
``hpt run SPEC -o json``. Optuna's samplers run in-process on the same functions.

    python benchmarks/bayes_suite.py                        # everything: 7 problems x 10 seeds x 50 trials
    python benchmarks/bayes_suite.py --problems branin --seeds 2 --methods hpt-bayesian,optuna-tpe
    python benchmarks/bayes_suite.py --table                # re-print the tables from saved results
    python benchmarks/bayes_suite.py --chance --results seq.jsonl p4-run1.jsonl p4-run2.jsonl ...
                                                            # how often a further parallel run meets the bound

Methods: hpt-bayesian, hpt-random, optuna-tpe, optuna-gp (needs torch), hpt-bayesian-p4 (hpt
bayesian with ``max_parallel_jobs: 4``). Raw results go to ``benchmarks/results/suite.jsonl``
(one line per run; runs already there are skipped, so an interrupted suite resumes).

Simple regret is the best value found minus the known optimum; for the real model (no known
optimum) it is the best value found minus the best value any method found in any seed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np
import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from objectives import PROBLEMS  # noqa: E402

RESULTS = HERE / "results" / "suite.jsonl"
RANKED = ["hpt-bayesian", "hpt-random", "optuna-tpe", "optuna-gp"]
ALL_METHODS = [*RANKED, "hpt-bayesian-p4"]


# --------------------------------------------------------------------------- running


def run_hpt(problem: str, method: str, seed: int, budget: int) -> dict:
    prob = PROBLEMS[problem]
    strategy = "random" if method == "hpt-random" else "bayesian"
    parallel = 4 if method.endswith("-p4") else 1
    spec = {
        "name": f"{problem}-{method}-{seed}",
        "command": [
            "python",
            str(HERE / "objectives.py"),
            problem,
            "{args}",
        ],
        "env": {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"},
        "objective": {"metric": "value", "type": "minimize"},
        "metrics": [{"name": "value", "regex": r"value=([-+0-9.eE]+)"}],
        "strategy": strategy,
        "parameters": prob.parameters,
        "limits": {"max_jobs": budget, "max_parallel_jobs": parallel},
        "random_seed": seed,
    }
    with tempfile.TemporaryDirectory(prefix="hpt-bench-") as tmp:
        path = Path(tmp) / "spec.yaml"
        path.write_text(yaml.safe_dump(spec, sort_keys=False))
        env = dict(os.environ)
        env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
        t0 = time.time()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "hpt",
                "run",
                str(path),
                "--runs-dir",
                str(Path(tmp) / "runs"),
                "-o",
                "json",
                "-q",
            ],
            capture_output=True,
            text=True,
            env=env,
        )
        elapsed = time.time() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"hpt failed ({proc.returncode}) on {spec['name']}: {proc.stderr[-2000:]}")
    doc = json.loads(proc.stdout)
    completed = doc["counts"].get("completed", 0)
    if completed != budget:
        raise RuntimeError(f"{spec['name']}: {completed} of {budget} trials completed: {doc['counts']}")
    return {"best": doc["best"]["objective"], "trials": doc["trials"], "seconds": elapsed}


def run_optuna(problem: str, method: str, seed: int, budget: int) -> dict:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    prob = PROBLEMS[problem]
    if method == "optuna-tpe":
        sampler = optuna.samplers.TPESampler(seed=seed)
    else:
        import torch

        torch.set_num_threads(1)
        sampler = optuna.samplers.GPSampler(seed=seed)

    def objective(trial):
        params = {}
        for name, p in prob.parameters.items():
            if p["type"] == "categorical":
                params[name] = trial.suggest_categorical(name, p["values"])
            elif p["type"] == "integer":
                params[name] = trial.suggest_int(
                    name, p["min"], p["max"], log=p.get("scaling") == "logarithmic"
                )
            else:
                params[name] = trial.suggest_float(
                    name, p["min"], p["max"], log=p.get("scaling") == "logarithmic"
                )
        return prob.fn(params)

    t0 = time.time()
    study = optuna.create_study(sampler=sampler, direction="minimize")
    study.optimize(objective, n_trials=budget)
    return {"best": study.best_value, "trials": len(study.trials), "seconds": time.time() - t0}


def code_version() -> str:
    """The commit of the hpt being measured, marked ``+dirty`` when the tree has changes."""
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "hpt"], cwd=HERE.parent, capture_output=True, text=True
        )
        return rev + ("+dirty" if dirty.stdout.strip() else "")
    except OSError:
        return "unknown"


def run_one(problem: str, method: str, seed: int, budget: int, version: str) -> dict:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    fn = run_optuna if method.startswith("optuna") else run_hpt
    out = fn(problem, method, seed, budget)
    return {"problem": problem, "method": method, "seed": seed, "budget": budget, "hpt": version, **out}


def load(path: Path, budget: int | None = None) -> list[dict]:
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in rows if budget is None or r["budget"] == budget]


# --------------------------------------------------------------------------- tables

# The bound the parallel search must meet: median regret at most PARALLEL_BOUND times the
# sequential one on at least PARALLEL_MIN_PROBLEMS of the problems.
PARALLEL_BOUND = 1.5
PARALLEL_MIN_PROBLEMS = 5


def within_bound(parallel_median, sequential_median):
    """Whether a parallel median regret is within the bound of the sequential one (equal
    medians always are, so two runs that both reach the optimum pass). Works on arrays."""
    mp = np.asarray(parallel_median)
    return (mp <= PARALLEL_BOUND * sequential_median) | (mp == sequential_median)


def _regret_of(rows: list[dict]):
    """A function of one row giving its simple regret: against the known optimum, or, for a
    problem without one, against the best value of any row given here."""
    best_seen: dict[str, float] = {}
    for r in rows:
        best_seen[r["problem"]] = min(best_seen.get(r["problem"], np.inf), r["best"])

    def regret(r: dict) -> float:
        opt = PROBLEMS[r["problem"]].optimum
        return max(r["best"] - (best_seen[r["problem"]] if opt is None else opt), 0.0)

    return regret


def regrets(rows: list[dict]) -> dict[tuple[str, str], list[float]]:
    """``(problem, method) -> [regret per seed]``."""
    regret = _regret_of(rows)
    out: dict[tuple[str, str], list[float]] = {}
    for r in sorted(rows, key=lambda r: r["seed"]):
        out.setdefault((r["problem"], r["method"]), []).append(regret(r))
    return out


def _cell(values: list[float]) -> str:
    q25, q50, q75 = np.percentile(values, [25, 50, 75])
    return f"{q50:.3g} [{q25:.3g}, {q75:.3g}]"


def table(rows: list[dict], methods: list[str], problems: list[str]) -> str:
    reg = regrets(rows)
    methods = [m for m in methods if any((p, m) in reg for p in problems)]
    lines = [
        "Final simple regret: median [25%, 75%] over seeds (lower is better)",
        "",
        "| problem | " + " | ".join(methods) + " |",
        "|---|" + "---|" * len(methods),
    ]
    ranks: dict[str, list[float]] = {m: [] for m in methods}
    for p in problems:
        cells, medians = [], {}
        for m in methods:
            v = reg.get((p, m))
            cells.append(f"{_cell(v)} (n={len(v)})" if v else "-")
            if v:
                medians[m] = float(np.median(v))
        ordered = sorted(medians.values())
        for m, med in medians.items():
            # Ties share the mean of their ranks.
            first = ordered.index(med) + 1
            count = ordered.count(med)
            ranks[m].append(first + (count - 1) / 2)
        lines.append(f"| {p} | " + " | ".join(cells) + " |")
    lines.append(
        "| **mean rank** | "
        + " | ".join(f"**{np.mean(ranks[m]):.2f}**" if ranks[m] else "-" for m in methods)
        + " |"
    )
    return "\n".join(lines)


def parallel_table(rows: list[dict], problems: list[str]) -> str:
    reg = regrets(rows)
    lines = [
        "hpt bayesian with max_parallel_jobs: 4 against sequential hpt bayesian and random search",
        "",
        "| problem | bayesian (1) median | bayesian (4) median | ratio (4)/(1) "
        f"| within {PARALLEL_BOUND:g}x | random median | (4) ahead of random |",
        "|---|---|---|---|---|---|---|",
    ]
    within = ahead = counted = 0
    for p in problems:
        s, par, rnd = (reg.get((p, m)) for m in ("hpt-bayesian", "hpt-bayesian-p4", "hpt-random"))
        if not (s and par and rnd):
            continue
        counted += 1
        ms, mp, mr = (float(np.median(v)) for v in (s, par, rnd))
        ratio = mp / ms if ms > 0 else (1.0 if mp == 0 else float("inf"))
        ok = bool(within_bound(mp, ms))
        within += ok
        ahead += mp < mr
        lines.append(
            f"| {p} | {ms:.3g} | {mp:.3g} | {ratio:.2f} | {'yes' if ok else 'no'} | {mr:.3g} | {'yes' if mp < mr else 'no'} |"
        )
    lines.append(
        f"\nwithin {PARALLEL_BOUND:g}x of sequential: {within}/{counted}; ahead of random: {ahead}/{counted}"
    )
    return "\n".join(lines)


def rerun_chance(rows: list[dict], problems: list[str], draws: int = 4000) -> str:
    """How often one more parallel run of the suite would meet the bound, from repeated runs.

    The sequential runs are deterministic, so a rerun of the benchmark changes only the
    parallel runs, through the order in which their trials finish. Given several parallel runs
    of each seed (rows of several results files), each resample takes, for every seed, one of
    that seed's parallel runs at random, and compares the median with the sequential median of
    the same seeds, as ``parallel_table`` does. Per problem the fraction of resamples within
    the bound, then the mean count over the problems and the chance of meeting it on at least
    ``PARALLEL_MIN_PROBLEMS`` of them (a problem without parallel runs counts as a miss).
    """
    regret = _regret_of(rows)
    rng = np.random.default_rng(0)
    hits = np.zeros((draws, len(problems)), dtype=bool)
    lines = [
        f"Chance that one more parallel run is within {PARALLEL_BOUND:g}x of the sequential median "
        f"({draws} resamples)",
        "",
        "| problem | seeds | parallel runs per seed | sequential median | chance |",
        "|---|---|---|---|---|",
    ]
    for j, p in enumerate(problems):
        seq = {r["seed"]: regret(r) for r in rows if r["problem"] == p and r["method"] == "hpt-bayesian"}
        par: dict[int, list[float]] = {}
        for r in rows:
            if r["problem"] == p and r["method"] == "hpt-bayesian-p4" and r["seed"] in seq:
                par.setdefault(r["seed"], []).append(regret(r))
        if not par:
            lines.append(f"| {p} | 0 | 0 | - | 0.00 |")
            continue
        seeds = sorted(par)
        ms = float(np.median([seq[s] for s in seeds]))
        runs = [np.array(par[s]) for s in seeds]
        picks = np.column_stack([v[rng.integers(len(v), size=draws)] for v in runs])
        mp = np.median(picks, axis=1)
        hits[:, j] = within_bound(mp, ms)
        lo, hi = min(map(len, runs)), max(map(len, runs))
        per_seed = str(lo) if lo == hi else f"{lo}-{hi}"
        lines.append(f"| {p} | {len(seeds)} | {per_seed} | {ms:.3g} | {hits[:, j].mean():.2f} |")
    count = hits.sum(axis=1)
    enough = (count >= PARALLEL_MIN_PROBLEMS).mean()
    lines.append(f"\nmean count: {count.mean():.2f}; chance of {PARALLEL_MIN_PROBLEMS} or more: {enough:.2f}")
    return "\n".join(lines)


def print_tables(rows: list[dict], problems: list[str]) -> None:
    print(table(rows, RANKED, problems))
    print()
    if any(r["method"] == "hpt-bayesian-p4" for r in rows):
        print(parallel_table(rows, problems))
        print()
    secs: dict[str, list[float]] = {}
    for r in rows:
        secs.setdefault(r["method"], []).append(r["seconds"])
    print(
        "Wall time per run (mean seconds): "
        + ", ".join(f"{m} {np.mean(v):.1f}" for m, v in sorted(secs.items()))
    )


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=10, help="seeds 0..N-1 (default 10)")
    ap.add_argument("--budget", type=int, default=50, help="trials per run (default 50)")
    ap.add_argument("--problems", default=",".join(PROBLEMS), help="comma-separated (default: all)")
    ap.add_argument("--methods", default=",".join(ALL_METHODS), help="comma-separated (default: all)")
    ap.add_argument("--jobs", type=int, default=2, help="runs at once (default 2; they share the cores)")
    ap.add_argument(
        "--results",
        type=Path,
        nargs="+",
        default=[RESULTS],
        help="JSON-lines files of raw results: new runs go to the first, tables read them all",
    )
    ap.add_argument("--table", action="store_true", help="only print the tables from saved results")
    ap.add_argument(
        "--chance",
        action="store_true",
        help=f"only print how often one more parallel run would meet the {PARALLEL_BOUND:g}x bound, "
        "resampling the saved parallel runs of each seed (give several runs' files)",
    )
    args = ap.parse_args(argv)
    problems = [p for p in args.problems.split(",") if p]
    methods = [m for m in args.methods.split(",") if m]
    for p in problems:
        if p not in PROBLEMS:
            ap.error(f"unknown problem {p!r} (choose from {', '.join(PROBLEMS)})")
    for m in methods:
        if m not in ALL_METHODS:
            ap.error(f"unknown method {m!r} (choose from {', '.join(ALL_METHODS)})")

    if not (args.table or args.chance):
        target = args.results[0]
        target.parent.mkdir(parents=True, exist_ok=True)
        done = {(r["problem"], r["method"], r["seed"]) for f in args.results for r in load(f, args.budget)}
        todo = [
            (p, m, s) for s in range(args.seeds) for p in problems for m in methods if (p, m, s) not in done
        ]
        print(f"{len(todo)} runs to do ({len(done)} already done)", file=sys.stderr)
        t0 = time.time()
        version = code_version()
        with ProcessPoolExecutor(args.jobs) as pool, target.open("a") as out:
            futures = {pool.submit(run_one, p, m, s, args.budget, version): (p, m, s) for p, m, s in todo}
            for i, fut in enumerate(as_completed(futures), 1):
                row = fut.result()
                out.write(json.dumps(row) + "\n")
                out.flush()
                print(
                    f"[{i}/{len(todo)} {time.time() - t0:.0f}s] {row['problem']} {row['method']} seed {row['seed']}: "
                    f"best {row['best']:.6g} ({row['seconds']:.1f}s)",
                    file=sys.stderr,
                    flush=True,
                )
    rows = [
        r
        for f in args.results
        for r in load(f, args.budget)
        if r["problem"] in problems and r["seed"] < args.seeds
    ]
    if args.chance:
        print(rerun_chance(rows, problems))
        return
    print(f"{args.budget} trials per run, seeds 0..{args.seeds - 1}\n")
    print_tables(rows, problems)


if __name__ == "__main__":
    main()
