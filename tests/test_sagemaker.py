"""SageMaker compatibility: a tuning-job request imported as a spec and exported back, and
script mode (the SM_* environment) in real trials."""

from __future__ import annotations

import copy
import json
import runpy
import sys
from pathlib import Path

import pytest
from conftest import REPO, SCRIPTS, hpt

from hpt.errors import SpecError, UsageError
from hpt.sagemaker.request import request_to_spec, spec_to_request
from hpt.sagemaker.script_mode import gpu_count, script_mode_env
from hpt.spec import parse_spec

EXAMPLE = REPO / "examples" / "sagemaker" / "tuning-job.json"


def example() -> dict:
    return json.loads(EXAMPLE.read_text())


def imported(request: dict, command: str = "python train.py {args}", **kw):
    text, warnings = request_to_spec(request, command, **kw)
    return parse_spec(text, "imported.yaml", base_dir=Path.cwd()), text, warnings


# The fields the import maps: what a round trip must give back exactly.
MAPPED_CONFIG = (
    "Strategy",
    "StrategyConfig",
    "HyperParameterTuningJobObjective",
    "ResourceLimits",
    "ParameterRanges",
    "TrainingJobEarlyStoppingType",
    "TuningJobCompletionCriteria",
    "RandomSeed",
)
MAPPED_DEFINITION = ("StaticHyperParameters", "Environment", "StoppingCondition", "RetryStrategy")


def mapped(request: dict) -> dict:
    config = request["HyperParameterTuningJobConfig"]
    definition = request["TrainingJobDefinition"]
    out = {
        "HyperParameterTuningJobName": request["HyperParameterTuningJobName"],
        "config": {k: config[k] for k in MAPPED_CONFIG if k in config},
        "definition": {k: definition[k] for k in MAPPED_DEFINITION if k in definition},
        "metrics": definition["AlgorithmSpecification"]["MetricDefinitions"],
        "warm": request.get("WarmStartConfig"),
    }
    statics = out["definition"].get("StaticHyperParameters", {})
    out["definition"]["StaticHyperParameters"] = {
        k: v for k, v in statics.items() if not k.startswith("sagemaker_")
    }
    return out


def test_the_example_request_maps_every_setting_and_validates():
    spec, text, warnings = imported(example(), channels={"train": "data/train"})
    assert spec.name == "digits-sgd" and spec.strategy == "bayesian"
    assert (spec.objective.metric, spec.objective.type) == ("validation:accuracy", "maximize")
    p = {x.name: x for x in spec.space.params}
    assert (p["epochs"].kind, p["epochs"].low, p["epochs"].high, p["epochs"].requested_scaling) == (
        "integer",
        2,
        30,
        "linear",
    )
    assert (p["alpha"].kind, p["alpha"].low, p["alpha"].scaling) == ("continuous", 1e-6, "logarithmic")
    assert p["loss"].values == ("hinge", "log_loss", "modified_huber")
    lim = spec.limits
    assert (lim.max_jobs, lim.max_parallel_jobs, lim.max_runtime, lim.max_job_runtime, lim.max_retries) == (
        12,
        2,
        1800,
        600,
        1,
    )
    assert spec.completion.max_jobs_not_improving == 8 and spec.random_seed == 42
    assert spec.static_values["penalty"].text == "l2" and "sagemaker_program" not in spec.static_values
    assert dict(spec.env) == {"OMP_NUM_THREADS": "1"}
    assert spec.sagemaker.env and spec.sagemaker.channels == (("train", "data/train"),)
    # Cloud-only settings are comments, and said so.
    assert '#   TrainingJobDefinition.ResourceConfig.InstanceType: "ml.m5.large"' in text
    assert "sagemaker-scikit-learn" in text and "RoleArn" in text
    assert any("no local meaning" in w and "ResourceConfig" in w for w in warnings)
    assert any("sagemaker_program" in w for w in warnings)


def test_import_then_export_gives_the_same_configuration_back():
    request = example()
    request["HyperParameterTuningJobConfig"]["TuningJobCompletionCriteria"]["TargetObjectiveMetricValue"] = (
        0.99
    )
    request["WarmStartConfig"] = {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "digits-sgd-1"}],
        "WarmStartType": "TransferLearning",
    }
    spec, text, _ = imported(request, channels={"train": "data/train"})
    back, warnings = spec_to_request(spec, text)
    assert mapped(back) == mapped(request)
    assert any("RoleArn" in w and "TrainingImage" in w for w in warnings)
    # A second round is a fixed point, text for text.
    again, _, _ = imported(back)
    assert spec_to_request(again)[0] == back


def test_hyperband_grid_and_early_stopping_round_trip():
    hb = example()
    config = hb["HyperParameterTuningJobConfig"]
    config["Strategy"] = "Hyperband"
    config["StrategyConfig"] = {"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 27}}
    config["ParameterRanges"]["ContinuousParameterRanges"].append(
        {"Name": "momentum", "MinValue": "0.9", "MaxValue": "0.999", "ScalingType": "ReverseLogarithmic"}
    )
    spec, text, _ = imported(hb)
    assert (spec.hyperband.min_resource, spec.hyperband.max_resource) == (1, 27)
    assert spec.space["momentum"].scaling == "reverse_logarithmic"
    assert mapped(spec_to_request(spec, text)[0]) == mapped(hb)

    grid = example()
    config = grid["HyperParameterTuningJobConfig"]
    config["Strategy"], config["TrainingJobEarlyStoppingType"] = "Grid", "Auto"
    config["ParameterRanges"] = {
        "CategoricalParameterRanges": [{"Name": "loss", "Values": ["hinge", "log_loss"]}]
    }
    config["ResourceLimits"]["MaxNumberOfTrainingJobs"] = 2
    spec, text, _ = imported(grid)
    assert spec.strategy == "grid" and spec.early_stopping == "auto" and spec.limits.max_jobs == 2
    assert mapped(spec_to_request(spec, text)[0]) == mapped(grid)


def test_a_describe_response_and_the_sdks_encoding():
    response = example()
    response.update(
        {
            "HyperParameterTuningJobArn": "arn:aws:sagemaker:eu-west-1:111122223333:hyper-parameter-tuning-job/x",
            "HyperParameterTuningJobStatus": "Completed",
            "CreationTime": "2024-05-01T10:00:00Z",
            "TrainingJobStatusCounters": {"Completed": 12},
            "BestTrainingJob": {
                "TrainingJobName": "digits-sgd-007-1a2b3c4d",
                "TunedHyperParameters": {"alpha": "0.0003", "epochs": "17", "loss": '"log_loss"'},
            },
        }
    )
    definition = response.pop("TrainingJobDefinition")
    definition["StaticHyperParameters"]["penalty"] = '"l2"'  # as the SDK's framework estimators send it
    definition["StaticHyperParameters"]["_tuning_objective_metric"] = "validation:accuracy"
    response["TrainingJobDefinitions"] = [definition]
    spec, text, warnings = imported(response)
    assert spec.static_values["penalty"].text == "l2"
    assert "_tuning_objective_metric" not in spec.static_values
    assert "# initial_points: [{alpha: 0.0003, epochs: 17, loss: log_loss}]" in text
    assert "Arn" not in text.replace("RoleArn", "")  # a response's run details are not settings
    assert any("JSON-encoded" in w for w in warnings)


def test_requests_hpt_cannot_take_are_refused_with_a_reason():
    two = example()
    definition = two.pop("TrainingJobDefinition")
    two["TrainingJobDefinitions"] = [definition, definition]
    with pytest.raises(UsageError, match="TrainingJobDefinitions has 2 definitions"):
        request_to_spec(two, "python train.py {args}")
    bad = example()
    bad["HyperParameterTuningJobConfig"]["ParameterRanges"]["ContinuousParameterRanges"][0]["MinValue"] = (
        "tiny"
    )
    with pytest.raises(UsageError, match=r"ContinuousParameterRanges\[0\].MinValue: 'tiny' is not a number"):
        request_to_spec(bad, "python train.py {args}")
    with pytest.raises(UsageError, match="no HyperParameterTuningJobConfig"):
        request_to_spec({"TrainingJobDefinition": {}}, "python train.py {args}")


def test_a_built_in_algorithms_objective_gets_a_regex():
    request = example()
    request["TrainingJobDefinition"]["AlgorithmSpecification"] = {
        "TrainingImage": "xgboost",
        "TrainingInputMode": "File",
    }
    spec, _, warnings = imported(request)
    assert spec.objective_metric().pattern.search("validation:accuracy=0.93").group(1) == "0.93"
    assert any("hpt check-metrics" in w for w in warnings)


def test_script_mode_environment(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    spec = parse_spec(
        f"""
name: sm
command: [python, t.py]
workdir: {tmp_path}
objective: {{metric: loss, type: minimize}}
metrics: [{{name: loss, regex: 'loss=(.*)'}}]
strategy: random
static: {{epochs: 10, mode: "fast", flag: "true"}}
parameters:
  lr: {{type: continuous, min: 0.001, max: 0.1}}
  batch-size: {{type: integer, min: 16, max: 64}}
  act: {{type: categorical, values: [relu, "64"]}}
limits: {{max_jobs: 2}}
sagemaker: {{channels: {{train: data, test: data}}}}
""",
        "sm.yaml",
    )
    tdir = tmp_path / "trial"
    env = script_mode_env(spec, 3, tdir, {"lr": 0.01, "batch-size": 32, "act": "64"}, {"HPT_GPUS": "0,1"})
    hps = json.loads(env["SM_HPS"])
    assert hps == {"lr": 0.01, "batch-size": 32, "act": 64, "epochs": 10, "mode": "fast", "flag": True}
    assert env["SM_HP_BATCH-SIZE"] == "32" and env["SM_HP_ACT"] == "64" and env["SM_HP_LR"] == "0.01"
    assert env["SM_MODEL_DIR"] == str(tdir / "model") and (tdir / "model").is_dir()
    assert env["SM_OUTPUT_DATA_DIR"] == str(tdir / "output" / "data") and (tdir / "output" / "data").is_dir()
    assert env["SM_CHANNEL_TRAIN"] == str(data) == env["SM_CHANNEL_TEST"]
    assert json.loads(env["SM_CHANNELS"]) == ["test", "train"]
    assert json.loads(env["SM_HOSTS"]) == ["algo-1"] and env["SM_CURRENT_HOST"] == "algo-1"
    assert env["SM_NUM_GPUS"] == "2" and int(env["SM_NUM_CPUS"]) >= 1
    training = json.loads(env["SM_TRAINING_ENV"])
    assert training["hyperparameters"] == hps and training["channel_input_dirs"]["train"] == str(data)
    assert training["job_name"] == "sm-003" and training["model_dir"] == env["SM_MODEL_DIR"]
    written = json.loads((tdir / "input" / "config" / "hyperparameters.json").read_text())
    assert written["batch-size"] == "32" and written["flag"] == "true"
    assert gpu_count({"CUDA_VISIBLE_DEVICES": ""}) == 0 and gpu_count({"CUDA_VISIBLE_DEVICES": "2"}) == 1
    assert gpu_count({"CUDA_VISIBLE_DEVICES": "0,-1,2"}) == 1  # CUDA stops at a negative id


def test_script_mode_names_must_not_collide(tmp_path):
    text = f"""
name: sm
command: [python, t.py]
workdir: {tmp_path}
objective: {{metric: loss, type: minimize}}
metrics: [{{name: loss, regex: 'loss=(.*)'}}]
strategy: random
static: {{LR: 1}}
parameters:
  lr: {{type: continuous, min: 0.001, max: 0.1}}
limits: {{max_jobs: 2}}
sagemaker:
  channels: {{train: a, TRAIN: b}}
"""
    with pytest.raises(SpecError) as err:
        parse_spec(text, "sm.yaml")
    messages = [str(p) for p in err.value.problems]
    assert (
        "sagemaker.channels.TRAIN (line 13, col 24): channel 'TRAIN' and channel 'train' both become SM_CHANNEL_TRAIN"
        in messages
    )
    assert (
        "static.LR (line 8, col 10): 'LR' and 'lr' both become SM_HP_LR in SageMaker script mode" in messages
    )


def test_a_script_mode_script_runs_under_hpt_unchanged(write_spec, runs, tmp_path):
    train = tmp_path / "train"
    train.mkdir()
    (train / "scale.txt").write_text("2.0\n")
    spec = write_spec(
        f"""
        name: sm
        command: [{sys.executable}, {SCRIPTS / "sm_script.py"}]
        objective: {{metric: loss, type: minimize}}
        metrics: [{{name: loss, regex: 'loss=([-+0-9.eE]+)'}}]
        strategy: random
        static: {{offset: 0.5}}
        parameters:
          x: {{type: continuous, min: 0.0, max: 1.0}}
        limits: {{max_jobs: 2, max_parallel_jobs: 2}}
        initial_points: [{{x: 0.3}}]
        sagemaker: {{env: true, channels: {{train: {train}}}}}
        """
    )
    r = hpt("run", spec, "-o", "json", runs_dir=runs)
    assert r.code == 0, r.err
    doc = hpt("show", "sm", "-o", "json", runs_dir=runs).json()
    first = next(t for t in doc["trial_list"] if t["trial_id"] == 1)
    assert first["objective"] == 0.5  # 2.0 * (0.3 - 0.3)^2 + 0.5: SM_HPS and the channel were read
    saved = json.loads((runs / "sm" / "trials" / "0001" / "model" / "model.json").read_text())
    assert saved == {"hps": {"x": 0.3, "offset": 0.5}, "channels": ["train"]}


def test_import_example_then_run_it_and_export_it(runs, tmp_path, monkeypatch):
    request = example()
    # A tiny budget; random search, so that hpt itself starts without the Gaussian process.
    request["HyperParameterTuningJobConfig"]["Strategy"] = "Random"
    request["HyperParameterTuningJobConfig"]["ResourceLimits"].update(
        MaxNumberOfTrainingJobs=2, MaxParallelTrainingJobs=2
    )
    src = tmp_path / "request.json"
    src.write_text(json.dumps(request))
    data = tmp_path / "train"
    monkeypatch.setattr(sys, "argv", ["prepare_data.py", str(data)])
    runpy.run_path(str(REPO / "examples" / "sagemaker" / "prepare_data.py"), run_name="__main__")
    out = tmp_path / "specs" / "digits.yaml"
    args = [
        "import",
        "sagemaker",
        src,
        "--command",
        "python examples/sagemaker_train.py {args}",
        "--channel",
        f"train={data}",
    ]
    made = hpt(*args, "--out", out, cwd=REPO)
    assert made.code == 0, made.err
    assert "warning: no local meaning, kept as comments:" in made.err and f"wrote {out}" in made.err
    again = hpt(*args, "--out", out, cwd=REPO)
    assert again.code == 2 and "exists; use --force" in again.err
    assert hpt("validate", out).code == 0
    ran = hpt("run", out, "-o", "json", runs_dir=runs)
    assert ran.code == 0, ran.err
    assert ran.json()["counts"]["completed"] == 2
    assert (runs / "digits-sgd" / "trials" / "0001" / "model" / "model.joblib").is_file()
    exported = hpt("export", "digits-sgd", "--format", "sagemaker", runs_dir=runs)
    assert exported.code == 0, exported.err
    assert mapped(json.loads(exported.out)) == mapped(copy.deepcopy(request))
    assert "add before sending it to SageMaker: RoleArn" in exported.err


def test_import_and_export_have_help():
    for args in (("import", "sagemaker", "--help"), ("export", "--help")):
        r = hpt(*args)
        assert r.code == 0 and "Usage" in r.out and "Example" in r.out
