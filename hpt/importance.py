"""Which hyperparameters matter: the mean decrease in impurity of a random forest.

A scikit-learn random forest regressor is fitted on the trials whose objective counts, each
configuration in the space's unit-cube encoding (so a logarithmic range is seen in log scale and
a categorical one as its one-hot columns). A parameter's importance is the impurity decrease of
the splits on its coordinates (a categorical's columns summed), as a share of the total. The
forest has a fixed seed, so the same trials always give the same shares.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .trial import STOPPED, Trial, has_objective

#: Fewer trials with an objective than this, and no importance is computed: it would be noise.
MIN_TRIALS = 5
N_TREES = 100
SEED = 0


@dataclass(frozen=True)
class Importance:
    """Shares (summing to 1) per parameter, or None with ``note`` saying why not; ``method``
    names how they were computed, for people."""

    shares: dict[str, float] | None
    method: str
    note: str
    trials: int


def importance(space, trials: Sequence[Trial]) -> Importance:
    """The importance of each parameter of ``space`` for the objective of ``trials``."""
    used = [t for t in trials if has_objective(t)]
    rows, ys = [], []
    for t in used:
        try:
            rows.append(space.encode(t.params))
        except (KeyError, ValueError):
            continue  # a value outside the space (a hand-edited store): leave the trial out
        ys.append(t.objective)
    n = len(ys)
    stopped = sum(1 for t in used if t.state == STOPPED)
    method = (
        f"Mean decrease in impurity of a random forest regressor (scikit-learn, {N_TREES} trees, "
        f"random_state {SEED}) fitted on the {n} trials with an objective"
        + (f" ({stopped} of them stopped early, with the objective they had when stopped)" if stopped else "")
        + ", each configuration in the unit-cube encoding (logarithmic ranges in log scale, a categorical"
        " parameter one-hot with its columns summed); shares of 1."
    )
    if n < MIN_TRIALS:
        return Importance(
            None, method, f"Not computed: {n} trials with an objective, at least {MIN_TRIALS} needed.", n
        )
    y = np.asarray(ys, dtype=float)
    if float(np.ptp(y)) == 0.0:
        return Importance(None, method, "Not computed: every trial has the same objective.", n)
    from sklearn.ensemble import RandomForestRegressor

    forest = RandomForestRegressor(n_estimators=N_TREES, random_state=SEED, n_jobs=1)
    forest.fit(np.vstack(rows), y)
    raw = forest.feature_importances_
    shares = {p.name: float(raw[space.coords(p.name)].sum()) for p in space.params}
    total = sum(shares.values())
    if not total or not math.isfinite(total):
        return Importance(None, method, "Not computed: the forest found no split that helps.", n)
    return Importance({k: v / total for k, v in shares.items()}, method, "", n)


__all__ = ["Importance", "MIN_TRIALS", "importance"]
