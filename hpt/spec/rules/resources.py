"""Rules of ``resources``: the GPUs trials may use and how many each takes.

Beyond the schema: ``gpus_per_trial`` is a whole number or a fraction that divides one device;
a listed device appears once; one trial fits on the listed devices; ``max_parallel_jobs`` above
what the devices allow is a warning (the run uses the cap); with the Dask executor the workers
own their devices, so a list of local devices is not used and ``executor.resources.GPU`` must
not say it a second time.
"""

from __future__ import annotations

from typing import Any

from ... import devices as dev
from ..model import Resources
from .context import Context, is_number


def build_resources(ctx: Context, res: Any, limits: Any, executor: Any) -> Resources | None:
    if not isinstance(res, dict):
        return None
    ok = True
    per_trial = res.get("gpus_per_trial", 1)
    if not is_number(per_trial) or per_trial <= 0:
        return None  # the schema reported it
    if not dev.per_trial_ok(per_trial):
        ctx.error(
            ("resources", "gpus_per_trial"),
            f"must be a whole number of devices (1, 2...) or a fraction that divides one device "
            f"(0.5, 0.25...); got {ctx.text(('resources', 'gpus_per_trial'), per_trial)}",
        )
        ok = False
    gpus = res.get("gpus", "auto")
    listed: tuple[str, ...] | None = None
    if isinstance(gpus, list):
        texts: list[str] = []
        for i, g in enumerate(gpus):
            if isinstance(g, bool) or not isinstance(g, (int, str)):
                return None  # the schema reported it
            t = str(g)
            if t in texts:
                ctx.error(("resources", "gpus", i), f"device {t} is listed twice")
                ok = False
            texts.append(t)
        listed = tuple(texts)
    elif gpus != "auto":
        return None
    kind = executor.get("type", "local") if isinstance(executor, dict) else "local"
    if kind == "dask":
        if listed is not None:
            ctx.warn(
                ("resources", "gpus"),
                "resources.gpus is not used with the dask executor: each worker owns its GPUs "
                "and gpus_per_trial becomes the Dask resource GPU",
            )
        ex_res = executor.get("resources") if isinstance(executor.get("resources"), dict) else {}
        if "GPU" in ex_res:
            ctx.error(
                ("executor", "resources", "GPU"),
                "the GPUs per trial are set twice: keep resources.gpus_per_trial (it becomes the Dask resource GPU)",
                key=True,
            )
            ok = False
    elif listed is not None and ok:
        cap = dev.capacity(len(listed), per_trial)
        if cap < 1:
            ctx.error(
                ("resources", "gpus_per_trial"),
                f"a trial needs {dev.format_per_trial(per_trial)} devices but resources.gpus lists {len(listed)}",
            )
            ok = False
        else:
            parallel = limits.get("max_parallel_jobs", 1) if isinstance(limits, dict) else 1
            if isinstance(parallel, int) and parallel > cap:
                where = ("limits", "max_parallel_jobs")
                ctx.warn(
                    where,
                    f"max_parallel_jobs {parallel} is more than the GPUs allow: {len(listed)} devices at "
                    f"{dev.format_per_trial(per_trial)} per trial run {cap} at once; the run uses {cap}",
                )
    if not ok:
        return None
    return Resources(listed, float(per_trial))
