"""Random search: uniform in the unit cube, i.e. uniform in each parameter's scaled coordinates
(log-uniform for logarithmic ranges). The draw for trial ``n`` comes from a generator seeded
with ``(random_seed, n)``, so a job's sequence is reproducible and a resumed job continues it
exactly. In an all-discrete space no configuration is drawn twice, nor one that a parent ran
under ``warm_start: identical_data_and_algorithm``."""

from __future__ import annotations

from ..seeded import uniform
from .base import Context, Suggestion

_ENUMERATE_LIMIT = 1_000_000


class RandomSampler:
    def __init__(self, space):
        self.space = space

    def draw(self, seed: int, trial_id: int, k: int = 0) -> dict:
        # numpy.random.default_rng([seed, trial_id, k]).random(dim), without importing numpy
        return self.space.decode(uniform((seed, trial_id, k), self.space.dim))

    def ask(self, ctx: Context) -> Suggestion | None:
        space = self.space
        tid = ctx.next_trial_id
        if not space.is_discrete:
            return Suggestion(self.draw(ctx.seed, tid))
        seen = ctx.taken()
        size = space.cardinality
        if len(seen) >= size:
            return None
        for k in range(200):
            params = self.draw(ctx.seed, tid, k)
            if space.key(params) not in seen:
                return Suggestion(params)
        if size > _ENUMERATE_LIMIT:  # so large that 200 misses mean something else is wrong
            return None
        # Nearly exhausted: choose uniformly among what is left.
        import numpy as np

        left = [p for p in space.grid() if space.key(p) not in seen]
        rng = np.random.default_rng([ctx.seed, tid, 200])
        return Suggestion(left[int(rng.integers(len(left)))])
