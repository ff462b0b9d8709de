"""The bayesian suite simulated in-process, for quick comparisons while developing the sampler.

Runs :class:`~hpt.strategies.bayesian.BayesianSampler` on the problems of ``objectives.py``
without subprocesses: the sampler sees exactly the trial rows the runner would give it. With
``--parallel K`` the K workers are simulated with seeded, varying trial durations (log-normal),
so completions arrive out of order as they do with real trials: the real runner drives the
simulated executor (``hpt.executors.sim``) on a virtual clock. Results are deterministic for a given code, seed, K and
``--draw`` (the stream of durations), so two variants can be compared on the same seeds, and the
same code on other completion orders; the real benchmark (``bayes_suite.py``, through the CLI)
remains the measurement of record.

    python benchmarks/bayes_inprocess.py --parallel 1,4 --seeds 0-19 --out /tmp/base.jsonl
    python benchmarks/bayes_inprocess.py --table /tmp/base.jsonl /tmp/variant.jsonl
    python benchmarks/bayes_inprocess.py --compare /tmp/base.jsonl /tmp/variant.jsonl
    python benchmarks/bayes_inprocess.py --lag /tmp/base.jsonl
    python benchmarks/bayes_inprocess.py --chance /tmp/base.jsonl

The table prints, per problem, the median final regret for each file and K, and the ratio of
each parallel median to the sequential median of the same file; ``--compare`` pairs two files
run by run (same problem, seed and worker count); ``--lag`` says how many trials the parallel
runs are behind the sequential ones at the end, and where along the way they fell behind;
``--chance`` estimates how often a suite of 10 seeds would meet the issue's 1.5x bound.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import textwrap
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np
import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bayes_suite import PARALLEL_BOUND, PARALLEL_MIN_PROBLEMS, within_bound  # noqa: E402
from objectives import PROBLEMS  # noqa: E402
from seeds import parse_seeds  # noqa: E402

#: Regret reference for the problem without a known optimum: the best value any run found
#: (the suite itself uses the best of the runs it tabulates).
SVR_BEST = 0.6943889296232452


def make_spec(problem: str, budget: int, parallel: int, seed: int):
    from hpt.spec import parse_spec

    doc = {
        "name": f"{problem}-{seed}",
        "command": ["python", "objectives.py", problem, "{args}"],
        "objective": {"metric": "value", "type": "minimize"},
        "metrics": [{"name": "value", "regex": r"value=([-+0-9.eE]+)"}],
        "strategy": "bayesian",
        "parameters": PROBLEMS[problem].parameters,
        "limits": {"max_jobs": budget, "max_parallel_jobs": parallel},
        "random_seed": seed,
    }
    return parse_spec(yaml.safe_dump(doc, sort_keys=False), base_dir=HERE)


def _reference(problem: str) -> float:
    """The value regret is measured from: the known optimum, or :data:`SVR_BEST`."""
    optimum = PROBLEMS[problem].optimum
    return SVR_BEST if optimum is None else optimum


def simulate(
    problem: str, seed: int, parallel: int, budget: int, draw: int = 0, extra_initial: int = 0
) -> dict:
    """One run; ``values`` are the objectives in trial-id order, ``order`` the completion order.

    The real runner drives the simulated executor: trial ``n`` takes a seeded log-normal time
    and prints its objective as it ends. ``draw`` picks another stream of durations (it changes
    nothing at one worker); ``extra_initial`` lengthens the sampler's initial design.
    """
    import tempfile

    from hpt.executors.sim import SimExecutor, SimTrial
    from hpt.jobs import create_or_reopen
    from hpt.runner import Runner

    prob = PROBLEMS[problem]
    spec = make_spec(problem, budget, parallel, seed)
    durations = np.random.default_rng([seed, 0xD0 + draw]).lognormal(0.0, 0.5, size=budget)

    def behaviour(launch):
        value = prob.fn(launch.params)
        return SimTrial(((float(durations[launch.trial_id - 1]), f"value={value!r}"),))

    sim = SimExecutor(behaviour)
    ask_seconds = []
    with tempfile.TemporaryDirectory() as tmp:
        store, spec, _ = create_or_reopen(spec, Path(tmp))
        try:
            runner = Runner(spec, store, sim.factory, seed=seed, clock=sim.clock, poll_interval=math.inf)
            runner.sampler.gp.n_initial += extra_initial
            ask = runner.sampler.ask

            def timed_ask(ctx):
                t0 = time.perf_counter()
                try:
                    return ask(ctx)
                finally:
                    ask_seconds.append(time.perf_counter() - t0)

            runner.sampler.ask = timed_ask
            runner.run()
            trials = store.trials()
        finally:
            store.close()
    values = [t.objective for t in trials]
    order = [t.id for t in sorted(trials, key=lambda t: (t.ended, t.id))]
    ref = _reference(problem)
    return {
        "problem": problem,
        "seed": seed,
        "parallel": parallel,
        "budget": budget,
        "draw": draw,
        **({"extra_initial": extra_initial} if extra_initial else {}),
        "regret": max(min(values) - ref, 0.0),
        "values": values,
        "order": order,
        "ask_seconds": float(np.sum(ask_seconds)),
    }


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _regrets(path: Path) -> dict[tuple[str, int], dict[int, float]]:
    """``(problem, workers) -> {seed: regret}`` of one file."""
    out: dict[tuple[str, int], dict[int, float]] = {}
    for r in _rows(path):
        out.setdefault((r["problem"], r["parallel"]), {})[r["seed"]] = r["regret"]
    return out


def _paired(new: dict[int, float], old: dict[int, float]) -> tuple[float, float, int]:
    """Mean and standard error of log10(new / old) over the seeds of both, and their number."""
    d = [math.log10(max(new[s], 1e-12) / max(old[s], 1e-12)) for s in new if s in old]
    se = float(np.std(d, ddof=1) / math.sqrt(len(d))) if len(d) > 1 else float("nan")
    return (float(np.mean(d)) if d else float("nan")), se, len(d)


def table(files: list[Path], problems: list[str]) -> str:
    data: dict[tuple[str, str, int], dict[int, float]] = {}
    for f in files:
        for (problem, k), regrets in _regrets(f).items():
            data[(f.stem, problem, k)] = regrets
    cols = sorted({(f, k) for f, _, k in data}, key=lambda c: ([x.stem for x in files].index(c[0]), c[1]))
    head = ["problem", *(f"{f} p{k}" for f, k in cols)]
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    within = {c: 0 for c in cols}
    for p in problems:
        cells = [p]
        for f, k in cols:
            v = data.get((f, p, k))
            if not v:
                cells.append("-")
                continue
            med = float(np.median(list(v.values())))
            cell = f"{med:.3g} (n={len(v)})"
            seq = data.get((f, p, 1))
            if k != 1 and seq:
                seq_med = float(np.median(list(seq.values())))
                ratio = med / max(seq_med, 1e-300)
                within[(f, k)] += bool(within_bound(med, seq_med))
                cell += f" x{ratio:.2f}"
            cells.append(cell)
        lines.append("| " + " | ".join(cells) + " |")
    lines.append(
        f"within {PARALLEL_BOUND:g}x of sequential: "
        + ", ".join(f"{f} p{k} {within[(f, k)]}/{len(problems)}" for f, k in cols if k != 1)
    )
    # The median ratio of 10 or 20 seeds swings by more than 1.5x between variants that do not
    # differ: the seed-by-seed log ratio, with its standard error, shows what is signal.
    lines += ["", "Paired by seed: mean of log10(parallel / sequential) ± standard error", ""]
    for f, k in cols:
        if k == 1:
            continue
        cells = []
        for p in problems:
            mean, se, n = _paired(data.get((f, p, k), {}), data.get((f, p, 1), {}))
            cells.append(f"{p} {mean:+.2f}±{se:.2f}" if n else f"{p} -")
        lines.append(f"{f} p{k}: " + ", ".join(cells))
    return "\n".join(lines)


def lag(files: list[Path], problems: list[str]) -> str:
    """How far behind the sequential run each parallel run is, in trials.

    From the median best-so-far regret (trial-id order) of each (problem, workers, extra initial
    points) over the seeds, files pooled (a later file's runs replace an earlier one's); runs
    with ``--extra-initial`` are compared with the sequential runs without it. With K workers,
    each suggestion misses the K - 1 results still running, so a parallel run can be expected
    to stand where the sequential one stood at least K - 1 trials earlier (the first table
    prints the ratio a run K - 1 and 2(K - 1) trials behind would show at the budget, the ratio
    the run shows, and how many trials before the budget the sequential median was already as
    good). The second says where the lag arises: the trial at which each median first reached
    each decade of regret, from the sequential median after 10 trials down to its end.
    """
    runs: dict[tuple[str, int, int], dict[int, np.ndarray]] = {}
    for f in files:
        for r in _rows(f):
            best = np.minimum.accumulate(np.array(r["values"], dtype=float))
            key = (r["problem"], r["parallel"], r.get("extra_initial", 0))
            runs.setdefault(key, {})[r["seed"]] = np.maximum(best - _reference(r["problem"]), 0.0)
    median = {key: np.median(np.array(list(v.values())), axis=0) for key, v in runs.items()}

    def label(k: int, extra: int) -> str:
        return f"{k}" + (f" (+{extra} initial)" if extra else "")

    lines = [
        "| problem | workers | sequential K-1 / 2(K-1) trials before the end, over its end | "
        "run / sequential at the end | trials behind |",
        "|---|---|---|---|---|",
    ]
    decades = ["", "Trial at which the median run first reached each regret (sequential / run):", ""]
    for p in problems:
        seq = median.get((p, 1, 0))
        if seq is None:
            continue
        n = len(seq)
        end = max(float(seq[-1]), 1e-300)
        top = math.floor(math.log10(max(float(seq[min(10, n - 1)]), 1e-300)))
        low = math.ceil(math.log10(end))
        for k, extra in sorted((k, e) for q, k, e in median if q == p and (k, e) != (1, 0)):
            run = median[(p, k, extra)]
            early = " / ".join(f"x{seq[max(n - 1 - b, 0)] / end:.2f}" for b in (k - 1, 2 * (k - 1)))
            reached = [i + 1 for i in range(n) if seq[i] <= run[-1]]
            behind = f"{n - reached[0]}" if reached else "none (ahead)"
            lines.append(f"| {p} | {label(k, extra)} | {early} | x{run[-1] / end:.2f} | {behind} |")
            cells = []
            for e in range(top, low - 1, -1):
                hit = [_first(c, 10.0**e) for c in (seq, run)]
                cells.append(f"1e{e}: " + " / ".join("-" if h is None else str(h) for h in hit))
            decades.append(f"- {p}, {label(k, extra)}: " + "; ".join(cells))
    return "\n".join(lines + decades)


def _first(curve: np.ndarray, level: float) -> int | None:
    """The 1-based trial at which ``curve`` first is at or below ``level``, or None."""
    hit = np.flatnonzero(curve <= level)
    return int(hit[0]) + 1 if hit.size else None


def chance(files: list[Path], problems: list[str], seeds: int = 10, draws: int = 4000) -> str:
    """How often a suite of ``seeds`` seeds would put the parallel median within 1.5x of the
    sequential one, by resampling the runs of these files (pooled, a later file's runs replacing
    an earlier one's) with replacement.

    Two columns per worker count K > 1: the parallel runs against the sequential runs of the
    same seeds (what ``bayes_suite.py`` compares), and, as the yardstick, the sequential runs
    against sequential runs of an independent draw of seeds: what a method exactly as good as the
    sequential search, but not following its path seed by seed, would score. Then the mean count
    over the problems and the chance of at least 5 of them (the bound the issue asks for).
    """
    data: dict[tuple[str, int], dict[int, float]] = {}
    for f in files:
        for key, regrets in _regrets(f).items():
            data.setdefault(key, {}).update(regrets)
    rng = np.random.default_rng(0)
    ks = sorted({k for _, k in data if k != 1})
    cols: dict[str, np.ndarray] = {}
    for k in [1, *ks]:
        hits = np.zeros((draws, len(problems)), dtype=bool)
        for j, p in enumerate(problems):
            seq, run = data.get((p, 1), {}), data.get((p, k), {})
            common = sorted(set(seq) & set(run)) if k != 1 else sorted(seq)
            if len(common) < 2:
                continue  # counted as missing the bound
            a = np.array([seq[s] for s in common])
            b = np.array([run[s] for s in common])
            for i in range(draws):
                pick = rng.integers(len(common), size=seeds)
                # K = 1: the "parallel" runs are sequential runs of an independent draw of seeds.
                other = rng.integers(len(common), size=seeds) if k == 1 else pick
                hits[i, j] = within_bound(np.median(b[other]), np.median(a[pick]))
        cols["another sequential" if k == 1 else f"parallel ({k})"] = hits
    head = ["problem", *cols]
    lines = [
        f"Chance that the median of {seeds} seeds is within {PARALLEL_BOUND:g}x of the sequential median "
        f"({draws} resamples with replacement)",
        "",
        "| " + " | ".join(head) + " |",
        "|---" * len(head) + "|",
    ]
    for j, p in enumerate(problems):
        lines.append(f"| {p} | " + " | ".join(f"{h[:, j].mean():.2f}" for h in cols.values()) + " |")
    count = {c: h.sum(axis=1) for c, h in cols.items()}
    lines.append("| mean count | " + " | ".join(f"{v.mean():.2f}" for v in count.values()) + " |")
    lines.append(
        f"| chance of {PARALLEL_MIN_PROBLEMS} or more | "
        + " | ".join(f"{(v >= PARALLEL_MIN_PROBLEMS).mean():.2f}" for v in count.values())
        + " |"
    )
    return "\n".join(lines)


def compare(old: Path, new: Path, problems: list[str]) -> str:
    """Two variants (or two codes) on the same seeds and draw, paired run by run."""
    a, b = _regrets(old), _regrets(new)
    lines = [
        f"Paired by seed: mean of log10({new.stem} / {old.stem}) ± standard error, medians "
        f"{old.stem} -> {new.stem}, and the seeds where {new.stem} is lower",
    ]
    for k in sorted({k for _, k in a}):
        lines += ["", f"| problem | p{k} |", "|---|---|"]
        for p in problems:
            ra, rb = a.get((p, k), {}), b.get((p, k), {})
            seeds = [s for s in ra if s in rb]
            if not seeds:
                continue
            mean, se, n = _paired(rb, ra)
            lower = sum(rb[s] < ra[s] for s in seeds)
            lines.append(
                f"| {p} | {mean:+.2f} ± {se:.2f} ({np.median([ra[s] for s in seeds]):.3g} -> "
                f"{np.median([rb[s] for s in seeds]):.3g}; {lower} of {n} lower) |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=textwrap.dedent(__doc__ or ""), formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--problems", default=",".join(PROBLEMS))
    ap.add_argument("--seeds", default="0-9", help="e.g. 0-19 or 0,3,5 (default 0-9)")
    ap.add_argument("--parallel", default="1,4", help="worker counts (default 1,4)")
    ap.add_argument("--budget", type=int, default=50)
    ap.add_argument(
        "--draw",
        type=int,
        default=0,
        help="stream of simulated trial durations (default 0); the same code on another draw "
        "shows how much of a parallel result is the luck of the completion order",
    )
    ap.add_argument(
        "--extra-initial",
        type=int,
        default=0,
        help="lengthen the initial design by this many trials (to see what the longer design "
        "a parallel run gets while its first results come back costs a sequential one)",
    )
    ap.add_argument("--jobs", type=int, default=2, help="runs at once")
    ap.add_argument(
        "--out", type=Path, help="JSON lines of the runs (appended; runs already there are skipped)"
    )
    ap.add_argument("--table", type=Path, nargs="+", help="only print the table of these files")
    ap.add_argument(
        "--lag",
        type=Path,
        nargs="+",
        help="only print how many trials the parallel runs of these files are behind the sequential ones",
    )
    ap.add_argument(
        "--chance",
        type=Path,
        nargs="+",
        help="only estimate how often 10 seeds of these files' runs meet the 1.5x bound",
    )
    ap.add_argument(
        "--compare",
        type=Path,
        nargs=2,
        metavar=("OLD", "NEW"),
        help="only compare two files of the same seeds and draw, run by run",
    )
    args = ap.parse_args(argv)
    problems = [p for p in args.problems.split(",") if p]
    if args.table:
        print(table(args.table, problems))
        return
    if args.compare:
        print(compare(*args.compare, problems))
        return
    if args.lag:
        print(lag(args.lag, problems))
        return
    if args.chance:
        print(chance(args.chance, problems))
        return
    if args.out is None:
        ap.error("--out is required to run")
    done = set()
    if args.out.exists():
        for r in _rows(args.out):
            # A file holds one draw: its parallel runs would otherwise be taken as done, and the
            # table would mix two completion orders.
            if r["parallel"] > 1 and r.get("draw", 0) != args.draw:
                ap.error(f"{args.out} holds parallel runs of draw {r.get('draw', 0)}; use another --out")
            if r.get("extra_initial", 0) != args.extra_initial:
                ap.error(f"{args.out} holds runs with another --extra-initial; use another --out")
            done.add((r["problem"], r["seed"], r["parallel"]))
    todo = [
        (p, s, k)
        for s in parse_seeds(args.seeds)
        for p in problems
        for k in (int(x) for x in args.parallel.split(","))
        if (p, s, k) not in done
    ]
    t0 = time.time()
    with ProcessPoolExecutor(args.jobs) as pool, args.out.open("a") as out:
        futures = [
            pool.submit(simulate, p, s, k, args.budget, args.draw, args.extra_initial) for p, s, k in todo
        ]
        for i, fut in enumerate(as_completed(futures), 1):
            r = fut.result()
            out.write(json.dumps(r) + "\n")
            out.flush()
            print(
                f"[{i}/{len(todo)} {time.time() - t0:.0f}s] {r['problem']} seed {r['seed']} p{r['parallel']}: "
                f"regret {r['regret']:.4g}",
                file=sys.stderr,
                flush=True,
            )
    print(table([args.out], problems))


if __name__ == "__main__":
    main()
