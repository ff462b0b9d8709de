"""The benchmark problems, and a trial program that evaluates one of them.

As a program (what hpt's spec files run)::

    python benchmarks/objectives.py branin --x1 0.5 --x2 3.1
    value=17.508

As a module: :data:`PROBLEMS` maps a name to a :class:`Problem` (its hpt ``parameters`` block,
the function, and the known optimum where there is one). Every problem is a minimisation.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Problem:
    name: str
    description: str
    parameters: dict[str, dict[str, Any]]  # as in an hpt spec
    fn: Callable[[dict[str, Any]], float]
    optimum: float | None  # None: regret is measured against the best value any method found


def branin(p):
    x1, x2 = p["x1"], p["x2"]
    b, c, r, s, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 6.0, 10.0, 1 / (8 * math.pi)
    return (x2 - b * x1 * x1 + c * x1 - r) ** 2 + s * (1 - t) * math.cos(x1) + s


_H_A = [
    [10, 3, 17, 3.5, 1.7, 8],
    [0.05, 10, 17, 0.1, 8, 14],
    [3, 3.5, 1.7, 10, 17, 8],
    [17, 8, 0.05, 10, 0.1, 14],
]
_H_P = [
    [1312, 1696, 5569, 124, 8283, 5886],
    [2329, 4135, 8307, 3736, 1004, 9991],
    [2348, 1451, 3522, 2883, 3047, 6650],
    [4047, 8828, 8732, 5743, 1091, 381],
]
_H_ALPHA = [1.0, 1.2, 3.0, 3.2]


def hartmann6(p):
    x = [p[f"x{i}"] for i in range(1, 7)]
    total = 0.0
    for a, P, al in zip(_H_A, _H_P, _H_ALPHA, strict=True):
        inner = sum(a[j] * (x[j] - P[j] * 1e-4) ** 2 for j in range(6))
        total -= al * math.exp(-inner)
    return total


def ackley(p):
    x = [p[f"x{i}"] for i in range(1, 6)]
    n = len(x)
    s1 = sum(v * v for v in x) / n
    s2 = sum(math.cos(2 * math.pi * v) for v in x) / n
    return -20 * math.exp(-0.2 * math.sqrt(s1)) - math.exp(s2) + 20 + math.e


def rosenbrock(p):
    x = [p[f"x{i}"] for i in range(1, 5)]
    return sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(3))


def logscale(p):
    """A learning rate over six orders of magnitude and a dropout rate, correlated; the bowl is
    narrow in log(lr) and flat far from it (log1p), as training losses often are."""
    a = math.log10(p["lr"]) + 3.3
    b = p["dropout"] - 0.3
    return math.log1p(0.5 * a * a + 0.3 * a * b + 3 * b * b)


_ACT = {"relu": 0.0, "gelu": 0.15, "tanh": 0.5, "sigmoid": 1.2}


def mixed(p):
    """Integers (depth, width), a categorical (activation) and a log-scaled learning rate."""
    depth = (p["layers"] - 4) ** 2 / 4
    width = (math.log2(p["units"]) - 7) ** 2 / 2
    lr = (math.log10(p["lr"]) + 2.5) ** 2
    return depth + width + lr + _ACT[p["activation"]] + 0.1 * depth * lr


def svr_diabetes(p):
    """5-fold cross-validated RMSE of an RBF support-vector regressor on scikit-learn's bundled
    diabetes data (features and target standardised)."""
    import numpy as np
    from sklearn.datasets import load_diabetes
    from sklearn.model_selection import KFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVR

    X, y = load_diabetes(return_X_y=True)
    y = (y - y.mean()) / y.std()
    model = make_pipeline(StandardScaler(), SVR(C=p["C"], gamma=p["gamma"], epsilon=p["epsilon"]))
    folds = KFold(5, shuffle=True, random_state=0)
    mse = -cross_val_score(model, X, y, cv=folds, scoring="neg_mean_squared_error")
    return float(np.sqrt(mse.mean()))


def _box(n: int, lo: float, hi: float) -> dict[str, dict[str, Any]]:
    return {f"x{i}": {"type": "continuous", "min": lo, "max": hi} for i in range(1, n + 1)}


PROBLEMS: dict[str, Problem] = {
    p.name: p
    for p in [
        Problem(
            "branin",
            "Branin, 2-D",
            {
                "x1": {"type": "continuous", "min": -5.0, "max": 10.0},
                "x2": {"type": "continuous", "min": 0.0, "max": 15.0},
            },
            branin,
            0.397887357729738,
        ),
        Problem("hartmann6", "Hartmann, 6-D", _box(6, 0.0, 1.0), hartmann6, -3.32236801141551),
        Problem("ackley5", "Ackley, 5-D on [-32.768, 32.768]", _box(5, -32.768, 32.768), ackley, 0.0),
        Problem("rosenbrock4", "Rosenbrock, 4-D on [-5, 10]", _box(4, -5.0, 10.0), rosenbrock, 0.0),
        Problem(
            "logscale",
            "learning rate 1e-6..1 (log) and dropout, 2-D",
            {
                "lr": {"type": "continuous", "min": 1e-6, "max": 1.0, "scaling": "logarithmic"},
                "dropout": {"type": "continuous", "min": 0.0, "max": 0.9},
            },
            logscale,
            0.0,
        ),
        Problem(
            "mixed",
            "2 integers, a 4-way categorical and a log-scaled float",
            {
                "layers": {"type": "integer", "min": 1, "max": 10},
                "units": {"type": "integer", "min": 8, "max": 1024, "scaling": "logarithmic"},
                "activation": {"type": "categorical", "values": list(_ACT)},
                "lr": {"type": "continuous", "min": 1e-5, "max": 1.0, "scaling": "logarithmic"},
            },
            mixed,
            0.0,
        ),
        Problem(
            "svr-diabetes",
            "SVR (C, gamma, epsilon; all log) on sklearn's diabetes data, 5-fold CV RMSE",
            {
                "C": {"type": "continuous", "min": 1e-2, "max": 1e3, "scaling": "logarithmic"},
                "gamma": {"type": "continuous", "min": 1e-4, "max": 1e1, "scaling": "logarithmic"},
                "epsilon": {"type": "continuous", "min": 1e-3, "max": 1.0, "scaling": "logarithmic"},
            },
            svr_diabetes,
            None,
        ),
    ]
}


def parse_value(spec: dict[str, Any], text: str) -> Any:
    if spec["type"] == "integer":
        return int(text)
    if spec["type"] == "continuous":
        return float(text)
    return text


def main(argv: list[str]) -> None:
    if not argv or argv[0] not in PROBLEMS:
        sys.exit(f"usage: objectives.py {{{'|'.join(PROBLEMS)}}} --name value ...")
    problem = PROBLEMS[argv[0]]
    pairs = argv[1:]
    params = {}
    for name, text in zip(pairs[::2], pairs[1::2], strict=True):
        key = name.removeprefix("--")
        params[key] = parse_value(problem.parameters[key], text)
    print(f"value={problem.fn(params)!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
