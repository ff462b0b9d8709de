"""Executors start trial attempts, stream their output back as events, and stop them.

The protocol every executor implements (see :class:`Executor`): ``start(launch)`` returns at
once; the executor then puts :class:`~hpt.executors.proc.Started`, :class:`~.proc.Output` and
finally exactly one :class:`~.proc.Exited` for that attempt on the runner's event queue.
``stop(key)`` asks an attempt to end (SIGTERM to its process group, SIGKILL after the grace
period); its ``Exited`` still follows. Executor threads only put events on the queue; the
runner thread alone touches the store and the strategies.
"""

from __future__ import annotations

from typing import Protocol

from .proc import Event, Exited, Key, Launch, Output, Started


class Executor(Protocol):
    name: str

    def start(self, launch: Launch) -> None: ...

    def stop(self, key: Key) -> None: ...

    def close(self) -> None: ...


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

        resources = dict(spec.executor.resources)
        patterns = [m.regex for m in spec.metrics]
        return lambda events: DaskExecutor(events, address, resources, patterns)
    raise UsageError(f"unknown executor {kind!r} (local or dask)")


__all__ = ["Executor", "Event", "Exited", "Key", "Launch", "Output", "Started", "executor_factory"]
