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
    if spec.strategy == "hyperband":
        from .hyperband import make_hyperband_sampler

        return make_hyperband_sampler(spec)
    if spec.strategy == "bayesian":
        from .bayesian import BayesianSampler

        return BayesianSampler(spec.space, spec.objective.maximize)
    raise HptError(f"strategy {spec.strategy!r} is not available in this version of hpt")


def make_stopper(spec: Spec) -> Stopper:
    """The stopper of a spec: ASHA for hyperband, the median rule for ``early_stopping: auto``,
    else none."""
    if spec.strategy == "hyperband":
        from .hyperband import HyperbandStopper

        return HyperbandStopper(spec)
    if spec.early_stopping == "auto":
        from .median import MedianStopper

        return MedianStopper(spec)
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
