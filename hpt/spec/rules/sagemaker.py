"""Rules of ``sagemaker`` (script mode): channels and the SM_* names they and the
hyperparameters become.

SageMaker names a channel's variable ``SM_CHANNEL_<NAME>`` and a hyperparameter's
``SM_HP_<NAME>``, upper-cased: two names that differ only in case would collide. A channel's
directory that does not exist yet is a warning, not an error: data is often prepared after the
spec is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...space import Space
from ..model import SageMakerConfig
from .context import Context


def build_sagemaker(
    ctx: Context, sm: Any, workdir: Path | None, space: Space | None, static: dict
) -> SageMakerConfig | None:
    if not isinstance(sm, dict):
        return None
    env = sm.get("env", True)
    channels = sm.get("channels") if isinstance(sm.get("channels"), dict) else {}
    if channels and env is False:
        ctx.warn(("sagemaker", "channels"), "channels take effect only with sagemaker.env: true")
    upper: dict[str, str] = {}
    out = []
    for name, path in channels.items():
        where = ("sagemaker", "channels", name)
        if not isinstance(path, str):
            continue
        if name.upper() in upper:
            ctx.error(
                where,
                f"channel {name!r} and channel {upper[name.upper()]!r} both become SM_CHANNEL_{name.upper()}",
                key=True,
            )
            continue
        upper[name.upper()] = name
        out.append((name, path))
        if workdir is not None and not (workdir / path).is_dir():
            ctx.warn(
                where, f"channel {name!r}: {path!r} is not a directory (yet); resolved to {workdir / path}"
            )
    if env is not False and space is not None:
        seen: dict[str, str] = {}
        for name, kind in [(n, "parameters") for n in space.names] + [(n, "static") for n in static]:
            key = name.upper()
            if key in seen:
                ctx.error(
                    (kind, name),
                    f"{name!r} and {seen[key]!r} both become SM_HP_{key} in SageMaker script mode",
                    key=True,
                )
            seen[key] = name
    return SageMakerConfig(env is not False, tuple(out))
