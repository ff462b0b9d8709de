"""Where trials run: the protocol (``base``), local subprocesses (``local``), a Dask cluster
(``dask``) and a simulator on a virtual clock (``sim``). :func:`executor_factory` picks one."""

from __future__ import annotations

from .base import Clock, Event, Executor, Exited, Key, Launch, Output, RealClock, Started


def dask_resources(spec) -> dict[str, float]:
    """The Dask worker resources one trial needs: ``executor.resources``, and ``GPU`` from
    ``resources.gpus_per_trial``. The workers own their GPUs: hpt assigns no device ids there."""
    resources = dict(spec.executor.resources)
    if getattr(spec, "resources", None) is not None:
        resources["GPU"] = spec.resources.gpus_per_trial
    return resources


def executor_factory(spec, kind: str | None = None, address: str | None = None):
    """A function ``events_queue -> Executor`` for a spec, with command-line overrides."""
    import os

    from ..errors import UsageError

    kind = kind or spec.executor.type
    if kind == "local":
        from .local import LocalExecutor

        return LocalExecutor
    if kind == "dask":
        address = address or spec.executor.address or os.environ.get("DASK_SCHEDULER_ADDRESS")
        if not address:
            raise UsageError(
                "the dask executor needs a scheduler address: executor.address in the spec, --address, or DASK_SCHEDULER_ADDRESS"
            )
        from .dask import DaskExecutor

        resources = dask_resources(spec)
        patterns = [m.regex for m in spec.metrics]
        return lambda events: DaskExecutor(events, address, resources, patterns)
    raise UsageError(f"unknown executor {kind!r} (local or dask)")


__all__ = [
    "Clock",
    "Event",
    "Executor",
    "Exited",
    "Key",
    "Launch",
    "Output",
    "RealClock",
    "Started",
    "dask_resources",
    "executor_factory",
]
