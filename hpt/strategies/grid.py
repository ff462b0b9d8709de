"""Grid search: every combination once, in declaration order. Keeps no memory of its own: the
next point is the first grid index no trial in the store has taken."""

from __future__ import annotations

from .base import Context, Suggestion


class GridSampler:
    def __init__(self, space):
        self._points = list(space.grid())

    def ask(self, ctx: Context) -> Suggestion | None:
        taken = {t.info.get("grid_index") for t in ctx.trials}
        for i, point in enumerate(self._points):
            if i not in taken:
                return Suggestion(dict(point), {"grid_index": i})
        return None
