"""A trial attempt's launch, prepared in one place: its directory, ``params.json``, argv and env.

:func:`prepare` writes ``<job>/trials/NNNN/params.json`` at every launch, before the command
starts (a crash between creating a trial and starting it leaves it to the next launch, which
replaces the file whole), renders the
command and environment with the trial's values, and adds the ``HPT_*`` variables every trial
gets, the attempt's slot and GPUs (``CUDA_VISIBLE_DEVICES``) when it has them, and SageMaker's
``SM_*`` variables under ``sagemaker: {env: true}``. A placeholder that cannot be rendered
raises :class:`~hpt.spec.render.TemplateError`; the runner records it as the trial's failure.
"""

from __future__ import annotations

from pathlib import Path

from .devices import Assignment
from .executors.base import Launch
from .executors.proc import make_dirs, write_json
from .paths import attempt_dir, trial_dir
from .trial import Trial


def params_of(spec, trial: Trial) -> dict:
    """What ``params.json`` holds: the tuned, then the static hyperparameters."""
    return {**trial.params, **{k: v.value for k, v in spec.static}}


def write_params(tdir: Path, params: dict) -> None:
    """``params.json``, never through a link (see :func:`~hpt.executors.proc.write_json`)."""
    make_dirs(tdir, inside=tdir.parent.parent)
    write_json(tdir / "params.json", params)


def prepare(spec, jdir: Path, trial: Trial, attempt: int, assignment: Assignment | None = None) -> Launch:
    """The launch of ``attempt`` of ``trial`` in job directory ``jdir`` (absolute), with the
    slot and devices the allocator gave it (``{slot}`` is 0 and ``{gpus}`` empty without)."""
    tdir = trial_dir(jdir, trial.id)
    params = params_of(spec, trial)
    write_params(tdir, params)
    a = assignment or Assignment(0)
    builtins = {
        "trial_id": str(trial.id),
        "trial_dir": str(tdir),
        "job_dir": str(jdir),
        "gpus": a.gpus,
        "slot": a.slot,
    }
    argv, env = spec.render(trial.params, builtins)
    env.update(
        HPT_JOB_NAME=spec.name,
        HPT_JOB_DIR=str(jdir),
        HPT_TRIAL_ID=str(trial.id),
        HPT_TRIAL_DIR=str(tdir),
        HPT_ATTEMPT=str(attempt),
        HPT_SLOT=str(a.slot),
    )
    if a.devices:
        env.update(CUDA_VISIBLE_DEVICES=a.gpus, HPT_GPUS=a.gpus)
        if a.device_order:
            env["CUDA_DEVICE_ORDER"] = a.device_order
    if spec.sagemaker is not None and spec.sagemaker.env:
        from .sagemaker.script_mode import script_mode_env

        # Last, so that SM_NUM_GPUS sees the devices the trial was given; a variable the spec's
        # env sets itself is kept.
        for key, value in script_mode_env(spec, trial.id, tdir, trial.params, env).items():
            env.setdefault(key, value)
    return Launch(
        trial_id=trial.id,
        attempt=attempt,
        argv=tuple(argv),
        env=env,
        cwd=str(spec.workdir),
        log_dir=str(attempt_dir(jdir, trial.id, attempt)),
        grace=spec.limits.stop_grace_period,
        params=params,
    )


__all__ = ["params_of", "prepare", "write_params"]
