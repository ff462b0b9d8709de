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


__all__ = ["Executor", "Event", "Exited", "Key", "Launch", "Output", "Started"]
