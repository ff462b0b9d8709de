"""Strategies: samplers decide what to try, stoppers decide when a running trial stops."""

from __future__ import annotations

from ..errors import HptError
from ..spec import Spec
from .base import Context, NeverStop, Observation, Sampler, Stopper, Suggestion


def make_sampler(spec: Spec) -> Sampler:
    """The sampler of a spec's strategy, running the spec's ``initial_points`` first."""
    if spec.strategy == "hyperband":
        from .hyperband import make_hyperband_sampler

        return make_hyperband_sampler(spec, _with_initial_points)
    return _with_initial_points(spec, _strategy_sampler(spec))


def _with_initial_points(spec: Spec, sampler: Sampler) -> Sampler:
    if not spec.initial_points:
        return sampler
    from .initial import InitialPoints

    return InitialPoints(sampler, spec.initial_points)


def _strategy_sampler(spec: Spec) -> Sampler:
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
    "Observation",
    "Sampler",
    "Stopper",
    "Suggestion",
    "make_sampler",
    "make_stopper",
]
