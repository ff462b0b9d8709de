"""SageMaker script mode: the environment a SageMaker training container gives a script.

With ``sagemaker: {env: true}`` every trial gets the variables the SageMaker training toolkit
sets (``SM_HPS``, ``SM_HP_<NAME>``, ``SM_MODEL_DIR``, ``SM_CHANNEL_<NAME>``, ``SM_TRAINING_ENV``,
...), pointing at directories of the trial's own instead of ``/opt/ml``, so a script written
for SageMaker runs under hpt unchanged. Hyperparameter values are typed as a container reads
them: numbers stay numbers, and a categorical or static value is decoded as JSON when it is
JSON text (``"10"`` is 10, ``"true"`` is true, ``"rbf"`` stays a string), as the toolkit does.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..devices import parse_visible
from ..executors.proc import make_dirs, write_json
from ..spec.render import text_of

HOST = "algo-1"
#: The log level SageMaker containers get unless told otherwise (logging.INFO).
LOG_LEVEL = 20


def decoded(text: str) -> Any:
    """A hyperparameter's text as the training toolkit reads it: JSON when it is, else text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def hyperparameters(spec, params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """``(typed values, texts)`` of a trial's tuned, then static, hyperparameters."""
    typed: dict[str, Any] = {}
    texts: dict[str, str] = {}
    kinds = {p.name: p.kind for p in spec.space.params}
    for name, value in params.items():
        texts[name] = text_of(value)
        typed[name] = decoded(value) if kinds.get(name) == "categorical" else value
    for name, v in spec.static:
        texts[name] = v.text
        typed[name] = decoded(v.text)
    return typed, texts


def gpu_count(env: dict[str, str]) -> int:
    """GPUs the trial may use: those hpt placed it on (``HPT_GPUS``) or ``CUDA_VISIBLE_DEVICES``
    (the trial's, else hpt's own); 0 when neither says."""
    for key in ("HPT_GPUS", "CUDA_VISIBLE_DEVICES"):
        value = env.get(key)
        if value is None and key == "CUDA_VISIBLE_DEVICES":
            value = os.environ.get(key)
        if value is not None:
            return len(parse_visible(value))
    return 0


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def script_mode_env(
    spec, trial_id: int, tdir: Path, params: dict[str, Any], env: dict[str, str]
) -> dict[str, str]:
    """The SM_* variables of one trial in directory ``tdir`` (its directories are created, and
    ``input/config/*.json`` written as SageMaker writes them). ``env`` is the trial's environment
    so far, for the GPUs it was given."""
    typed, texts = hyperparameters(spec, params)
    model, output, config = tdir / "model", tdir / "output", tdir / "input" / "config"
    for d in (model, output / "data", output / "intermediate", config):
        make_dirs(d, inside=tdir)
    channels = {name: str((spec.workdir / path).resolve()) for name, path in spec.sagemaker.channels}
    data_config = {
        name: {
            "TrainingInputMode": "File",
            "S3DistributionType": "FullyReplicated",
            "RecordWrapperType": "None",
        }
        for name in channels
    }
    resource = {"current_host": HOST, "hosts": [HOST]}
    gpus, cpus = gpu_count(env), cpu_count()
    job_name = f"{spec.name}-{trial_id:03d}"
    write_json(config / "hyperparameters.json", texts)  # SageMaker writes every value as a string
    write_json(config / "resourceconfig.json", resource)
    write_json(config / "inputdataconfig.json", data_config)
    training_env = {
        "channel_input_dirs": channels,
        "current_host": HOST,
        "hosts": [HOST],
        "hyperparameters": typed,
        "input_config_dir": str(config),
        "input_data_config": data_config,
        "input_dir": str(tdir / "input"),
        "is_master": True,
        "job_name": job_name,
        "log_level": LOG_LEVEL,
        "master_hostname": HOST,
        "model_dir": str(model),
        "num_cpus": cpus,
        "num_gpus": gpus,
        "output_data_dir": str(output / "data"),
        "output_dir": str(output),
        "output_intermediate_dir": str(output / "intermediate"),
        "resource_config": resource,
    }
    out = {
        "SM_HPS": json.dumps(typed),
        "SM_USER_ARGS": json.dumps([a for name, text in texts.items() for a in ("--" + name, text)]),
        "SM_MODEL_DIR": str(model),
        "SM_OUTPUT_DIR": str(output),
        "SM_OUTPUT_DATA_DIR": str(output / "data"),
        "SM_OUTPUT_INTERMEDIATE_DIR": str(output / "intermediate"),
        "SM_INPUT_DIR": str(tdir / "input"),
        "SM_INPUT_CONFIG_DIR": str(config),
        "SM_INPUT_DATA_CONFIG": json.dumps(data_config),
        "SM_CHANNELS": json.dumps(sorted(channels)),
        "SM_NUM_GPUS": str(gpus),
        "SM_NUM_CPUS": str(cpus),
        "SM_HOSTS": json.dumps([HOST]),
        "SM_CURRENT_HOST": HOST,
        "SM_RESOURCE_CONFIG": json.dumps(resource),
        "SM_LOG_LEVEL": str(LOG_LEVEL),
        "SM_TRAINING_ENV": json.dumps(training_env),
        "TRAINING_JOB_NAME": job_name,
    }
    for name, text in texts.items():
        out["SM_HP_" + name.upper()] = text
    for name, path in channels.items():
        out["SM_CHANNEL_" + name.upper()] = path
    return out


__all__ = ["decoded", "gpu_count", "hyperparameters", "script_mode_env"]
