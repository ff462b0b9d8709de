"""GPUs for trials: which devices exist, and which running trial holds which.

:func:`plan` decides, at the start of a run, the devices a job may use: the spec's
``resources.gpus`` list, or with ``gpus: auto`` the devices in hpt's own ``CUDA_VISIBLE_DEVICES``
when it is set, else those ``nvidia-smi`` lists. An :class:`Allocator` then hands each trial
attempt a *slot* (``0 .. capacity-1``, stable while it runs, e.g. for a port number) and, when
the job has devices, the devices it may use, and takes them back when the attempt exits. A
trial starts only when the allocator has room for it, so no two running trials share a device
unless ``gpus_per_trial`` is a fraction (two trials per device with ``0.5``).

Without ``resources`` the allocator hands out slots only (capacity ``max_parallel_jobs``). With
the Dask executor the workers own their GPUs: ``gpus_per_trial`` becomes the Dask resource
``GPU`` (``hpt.executors``) and no local device is assigned.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

from .errors import HptError

#: How long ``nvidia-smi`` may take to list the devices.
NVIDIA_SMI_TIMEOUT = 15.0


class DeviceError(HptError):
    """No GPU could be found for ``resources.gpus: auto``, or the devices cannot run a trial."""

    exit_code = 2


def per_trial_ok(per_trial: float) -> bool:
    """A whole number of devices per trial, or a fraction that divides one device (1/2, 1/4...)."""
    if not (per_trial > 0 and math.isfinite(per_trial)):
        return False
    if per_trial >= 1:
        return float(per_trial).is_integer()
    shares = 1.0 / per_trial
    return abs(shares - round(shares)) < 1e-9


def shares_per_device(per_trial: float) -> int:
    """Trials one device holds at once (1 for whole devices)."""
    return 1 if per_trial >= 1 else round(1.0 / per_trial)


def capacity(devices: int, per_trial: float) -> int:
    """How many trials ``devices`` devices run at once at ``per_trial`` devices each."""
    if per_trial >= 1:
        return devices // int(per_trial)
    return devices * shares_per_device(per_trial)


def format_per_trial(per_trial: float) -> str:
    return f"{per_trial:g}"


# --------------------------------------------------------------------------- discovery


def parse_visible(value: str) -> list[str]:
    """The device ids of a ``CUDA_VISIBLE_DEVICES`` value (indices or UUIDs); ``-1`` or an
    empty value hides every device, as CUDA reads it."""
    ids = []
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        if part.lstrip("-").isdigit() and int(part) < 0:
            break  # CUDA ignores this id and every one after it
        ids.append(part)
    return ids


def nvidia_smi_devices(executable: str = "nvidia-smi") -> list[str]:
    """The device indices ``nvidia-smi`` lists; empty when it is missing, fails or lists none."""
    path = shutil.which(executable)
    if path is None:
        return []
    try:
        proc = subprocess.run(
            [path, "--query-gpu=index", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=NVIDIA_SMI_TIMEOUT,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    if proc.returncode != 0:
        return []
    return [line.strip() for line in proc.stdout.splitlines() if line.strip().isdigit()]


def discover(environ: Mapping[str, str] | None = None) -> tuple[list[str], str]:
    """The devices ``gpus: auto`` means, and where they came from."""
    environ = os.environ if environ is None else environ
    if "CUDA_VISIBLE_DEVICES" in environ:
        return parse_visible(environ["CUDA_VISIBLE_DEVICES"]), "CUDA_VISIBLE_DEVICES"
    return nvidia_smi_devices(), "nvidia-smi"


# --------------------------------------------------------------------------- allocation


@dataclass(frozen=True)
class Assignment:
    """What one running attempt holds: its slot and its devices (empty without GPUs)."""

    slot: int
    devices: tuple[str, ...] = ()
    #: ``CUDA_DEVICE_ORDER`` for the trial, when the ids need one to mean what they meant to hpt.
    device_order: str | None = None

    @property
    def gpus(self) -> str:
        """The devices as ``CUDA_VISIBLE_DEVICES`` and ``{gpus}`` write them."""
        return ",".join(self.devices)


class Allocator:
    """Slots and devices for running attempts: :meth:`acquire` when one starts, :meth:`release`
    when it exits.

    ``slots`` caps how many run at once (``max_parallel_jobs``); with ``devices``, each attempt
    also takes ``per_trial`` of them: whole devices (the first free ones, in the order given),
    or a share of one device (the device with the most free shares, so trials spread over the
    devices before they share one).
    """

    def __init__(
        self, slots: int, devices: Sequence[str] = (), per_trial: float = 1.0, device_order: str | None = None
    ):
        if slots < 1:
            raise ValueError("an allocator needs at least one slot")
        self.devices = tuple(devices)
        self.device_order = device_order
        self.per_trial = per_trial
        self._shares = shares_per_device(per_trial)
        self._need = int(per_trial) if per_trial >= 1 else 1
        self._free = dict.fromkeys(self.devices, self._shares)
        room = capacity(len(self.devices), per_trial) if self.devices else slots
        self.capacity = min(slots, room)
        self._slots = list(range(self.capacity))  # free slots, lowest first
        self._held: dict[Hashable, Assignment] = {}

    @property
    def available(self) -> bool:
        """Can an attempt start now?"""
        return bool(self._slots) and self._pick() is not None

    @property
    def in_use(self) -> int:
        return len(self._held)

    def _pick(self) -> tuple[str, ...] | None:
        if not self.devices:
            return ()
        if self._shares == 1:
            free = [d for d in self.devices if self._free[d] == 1]
            return tuple(free[: self._need]) if len(free) >= self._need else None
        best = max(self.devices, key=lambda d: self._free[d])  # first of the freest, in order
        return (best,) if self._free[best] > 0 else None

    def acquire(self, key: Hashable) -> Assignment | None:
        """Slot and devices for the attempt ``key``; None when there is no room now."""
        if key in self._held:
            return self._held[key]
        devices = self._pick() if self._slots else None
        if devices is None:
            return None
        for d in devices:
            self._free[d] -= 1
        a = Assignment(self._slots.pop(0), devices, self.device_order if devices else None)
        self._held[key] = a
        return a

    def release(self, key: Hashable) -> None:
        """The attempt ``key`` exited: its slot and devices are free again (no-op if unknown)."""
        a = self._held.pop(key, None)
        if a is None:
            return
        for d in a.devices:
            self._free[d] += 1
        self._slots.append(a.slot)
        self._slots.sort()

    def held(self) -> dict[Hashable, Assignment]:
        return dict(self._held)


# --------------------------------------------------------------------------- a run's plan


@dataclass(frozen=True)
class Plan:
    """The devices one run of a job uses (empty: none), and where they came from."""

    devices: tuple[str, ...] = ()
    per_trial: float = 1.0
    source: str = ""

    def allocator(self, max_parallel_jobs: int) -> Allocator:
        return Allocator(max_parallel_jobs, self.devices, self.per_trial, self.device_order)

    @property
    def device_order(self) -> str | None:
        """Ids from nvidia-smi or the spec are nvidia-smi's, in PCI bus order, while CUDA numbers
        devices fastest first unless told otherwise. Ids taken from hpt's own
        ``CUDA_VISIBLE_DEVICES`` keep the order hpt's environment gives them."""
        if not self.devices or self.source == "CUDA_VISIBLE_DEVICES" or "CUDA_DEVICE_ORDER" in os.environ:
            return None
        return "PCI_BUS_ID"

    def notes(self, max_parallel_jobs: int) -> list[str]:
        """What the user is told at the start of the run."""
        if not self.devices:
            return []
        cap = capacity(len(self.devices), self.per_trial)
        where = f" (from {self.source})" if self.source else ""
        out = [
            f"GPUs {','.join(self.devices)}{where}, {format_per_trial(self.per_trial)} per trial: "
            f"up to {cap} trial{'s' if cap != 1 else ''} at once"
        ]
        if max_parallel_jobs > cap and self.source != "resources.gpus":  # else validation warned
            out.append(
                f"warning: max_parallel_jobs {max_parallel_jobs} is more than the GPUs allow; "
                f"the run uses {cap}"
            )
        return out


NO_GPU_HELP = (
    "name the devices in the spec (resources: {gpus: [0, 1]}) or set CUDA_VISIBLE_DEVICES=0,1 "
    "for hpt; remove `resources` to run without GPUs"
)


def plan(spec, executor: str | None = None, environ: Mapping[str, str] | None = None) -> Plan:
    """The devices a run of ``spec`` uses on this machine. ``executor`` overrides the spec's.

    Raises :class:`DeviceError` (exit 2) when ``gpus: auto`` finds none, or finds fewer than
    one trial needs.
    """
    res = getattr(spec, "resources", None)
    kind = executor or spec.executor.type
    if res is None or kind == "dask":
        return Plan()
    if res.gpus is None:
        devices, source = discover(environ)
        if not devices:
            where = (
                "CUDA_VISIBLE_DEVICES is set but names no device"
                if source == "CUDA_VISIBLE_DEVICES"
                else "nvidia-smi is not on PATH or lists no device"
            )
            raise DeviceError(f"resources.gpus is auto but no GPU was found ({where}); {NO_GPU_HELP}")
    else:
        devices, source = list(res.gpus), "resources.gpus"
    if capacity(len(devices), res.gpus_per_trial) < 1:
        raise DeviceError(
            f"a trial needs {format_per_trial(res.gpus_per_trial)} GPUs but only {len(devices)} "
            f"{'was' if len(devices) == 1 else 'were'} found ({', '.join(devices)}, from {source}); "
            "lower resources.gpus_per_trial"
        )
    return Plan(tuple(devices), res.gpus_per_trial, source)


__all__ = [
    "Allocator",
    "Assignment",
    "DeviceError",
    "Plan",
    "capacity",
    "discover",
    "parse_visible",
    "per_trial_ok",
    "plan",
]
