"""Grid search: every combination once, in declaration order. Keeps no memory of its own: the
next point is the first grid index no trial in the store has taken (nor, under
``warm_start: identical_data_and_algorithm``, a parent ran)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import Context, Suggestion


class GridSampler:
    def __init__(self, space):
        self.space = space
        self._points = list(space.grid())

    def _first(self, ctx: Context, match: Mapping[str, Any], skip_prior: bool) -> Suggestion | None:
        taken = {t.info.get("grid_index") for t in ctx.trials}
        before = ctx.tried_before() if skip_prior else set()
        for i, point in enumerate(self._points):
            if i in taken or any(point[k] != v for k, v in match.items()):
                continue
            if before and self.space.key(point) in before:
                continue
            return Suggestion(dict(point), {"grid_index": i})
        return None

    def ask(self, ctx: Context) -> Suggestion | None:
        return self._first(ctx, {}, skip_prior=True)

    def complete(self, ctx: Context, partial: Mapping[str, Any]) -> Suggestion | None:
        """The first combination not taken yet that has the values of ``partial`` (an initial
        point: run even when a parent ran it), or None when there is none."""
        return self._first(ctx, partial, skip_prior=False)
