"""Strategies: samplers decide what to try, stoppers decide when a running trial stops."""

from __future__ import annotations

from ..errors import HptError
from ..spec import Spec
from .base import Context, NeverStop, Sampler, Stopper, Suggestion


def make_sampler(spec: Spec) -> Sampler:
    """The sampler of a spec's strategy."""
    if spec.strategy == "grid":
        from .grid import GridSampler

        return GridSampler(spec.space)
    if spec.strategy == "random":
        from .random import RandomSampler

        return RandomSampler(spec.space)
    if spec.strategy == "bayesian":
        from .bayesian import BayesianSampler

        return BayesianSampler(spec.space, spec.objective.maximize)
    raise HptError(f"strategy {spec.strategy!r} is not available in this version of hpt")


def make_stopper(spec: Spec) -> Stopper:
    """The stopper of a spec: none unless early stopping or hyperband asks for one."""
    if spec.early_stopping == "auto" or spec.strategy == "hyperband":
        raise HptError("early stopping is not available in this version of hpt")
    return NeverStop()


__all__ = [
    "Context",
    "NeverStop",
    "Sampler",
    "Stopper",
    "Suggestion",
    "make_sampler",
    "make_stopper",
]
