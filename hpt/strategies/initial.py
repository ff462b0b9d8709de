"""``initial_points``: configurations run first, in order, before the strategy chooses.

:class:`InitialPoints` wraps a strategy's sampler. While a point has no trial, the next trial is
that point: exactly as written when it names every parameter, else completed by the sampler (its
``complete(ctx, partial)`` when it has one: grid picks the first free combination with those
values, bayesian the model's suggestion with them held; otherwise the sampler's own suggestion
with the given values put in). The point's index is stored on the trial
(``info["initial_point"]``), so a resumed job never runs a point twice; after the last point
the wrapped sampler takes over, seeing those trials as its own.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..spec.model import InitialPoint
from .base import Context, Sampler, Suggestion


class InitialPoints:
    def __init__(self, inner: Sampler, points: Sequence[InitialPoint]):
        self.inner = inner
        self.points = [p.as_dict() for p in points]

    def ask(self, ctx: Context) -> Suggestion | None:
        done = {t.info.get("initial_point") for t in ctx.trials}
        for i, partial in enumerate(self.points):
            if i in done:
                continue
            suggestion = self._complete(ctx, partial)
            if suggestion is not None:  # None: a grid has no free combination with these values
                return Suggestion(suggestion.params, {**suggestion.info, "initial_point": i})
        return self.inner.ask(ctx)

    def _complete(self, ctx: Context, partial: dict) -> Suggestion | None:
        complete = getattr(self.inner, "complete", None)
        if complete is not None:
            return complete(ctx, partial)
        if len(partial) == len(ctx.space.params):
            return Suggestion(dict(partial))
        drawn = self.inner.ask(ctx)
        if drawn is None:  # an exhausted discrete space: fill in from the space's centre
            import numpy as np

            drawn = Suggestion(ctx.space.decode(np.full(ctx.space.dim, 0.5)))
        return Suggestion({**drawn.params, **partial}, drawn.info)
