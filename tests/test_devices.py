"""GPUs per trial: discovery, the allocator, and the runner on the simulated executor (no GPU,
no process: allocation is checked exactly, on a virtual clock)."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import Result, cli_env

from hpt.devices import Allocator, DeviceError, Plan, capacity, discover, parse_visible, per_trial_ok, plan
from hpt.errors import SpecError
from hpt.executors.sim import SimTrial, run_simulated
from hpt.spec import from_canonical, parse_spec, to_canonical
from hpt.spec.canonical import differences, identity
from hpt.trial import COMPLETED, JOB_COMPLETED


def spec(**extra):
    data = {
        "name": "gpu",
        "command": ["train", "--device", "cuda:{gpus}", "--port", "{slot}", "{args}"],
        "objective": {"metric": "loss", "type": "minimize"},
        "metrics": [{"name": "loss", "regex": "loss=([-+0-9.eE]+)"}],
        "strategy": "random",
        "parameters": {"x": {"type": "continuous", "min": 0.0, "max": 1.0}},
        "limits": {"max_jobs": 12, "max_parallel_jobs": 4},
        "resources": {"gpus": [0, 1, 3], "gpus_per_trial": 1},
        "random_seed": 2,
    }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key].update(value)
        elif value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return parse_spec(yaml.safe_dump(data, sort_keys=False), "gpu.yaml")


def problems(**extra):
    with pytest.raises(SpecError) as info:
        spec(**extra)
    return [str(p) for p in info.value.problems]


# --------------------------------------------------------------------------- the allocator


def test_whole_devices_are_never_shared_and_slots_are_reused():
    a = Allocator(8, ["0", "1", "3"], 1)
    assert a.capacity == 3
    got = [a.acquire(k) for k in "abc"]
    assert [g.devices for g in got] == [("0",), ("1",), ("3",)] and [g.slot for g in got] == [0, 1, 2]
    assert not a.available and a.acquire("d") is None
    a.release("b")
    d = a.acquire("d")
    assert d.devices == ("1",) and d.slot == 1
    a.release("nobody")  # unknown keys are ignored
    assert a.in_use == 3


def test_two_devices_per_trial_and_fractions():
    a = Allocator(4, ["0", "1", "2", "3", "4"], 2)
    assert a.capacity == 2  # the fifth device is left over
    assert [a.acquire(k).devices for k in "ab"] == [("0", "1"), ("2", "3")]
    half = Allocator(8, ["0", "1"], 0.5)
    assert half.capacity == 4
    # Trials spread over the devices before they share one.
    assert [half.acquire(k).devices for k in "abcd"] == [("0",), ("1",), ("0",), ("1",)]
    half.release("a")
    assert half.acquire("e").devices == ("0",)
    assert Allocator(3, ["0", "1"], 0.25).capacity == 3  # max_parallel_jobs caps it


def test_without_devices_there_are_slots_only():
    a = Allocator(2)
    assert [a.acquire(k) for k in "ab"] == [a.held()["a"], a.held()["b"]]
    assert a.held()["b"].slot == 1 and a.held()["b"].devices == () and not a.available


def test_fractions_must_divide_a_device():
    assert all(per_trial_ok(x) for x in (0.5, 0.25, 0.2, 1, 2, 3.0))
    assert not any(per_trial_ok(x) for x in (0.3, 0.75, 1.5, 0, -1))
    assert capacity(4, 0.5) == 8 and capacity(3, 2) == 1 and capacity(1, 2) == 0


# --------------------------------------------------------------------------- discovery


def test_auto_uses_hpts_own_cuda_visible_devices_first():
    assert discover({"CUDA_VISIBLE_DEVICES": "2, 3"}) == (["2", "3"], "CUDA_VISIBLE_DEVICES")
    assert parse_visible("GPU-aa,GPU-bb") == ["GPU-aa", "GPU-bb"]
    assert parse_visible("0,-1,2") == ["0"] and parse_visible("") == []


def test_auto_with_no_device_is_an_error_that_says_how_to_name_them(tmp_path):
    s = spec(resources={"gpus": "auto"})
    with pytest.raises(DeviceError) as info:
        plan(s, environ={"CUDA_VISIBLE_DEVICES": ""})
    assert info.value.exit_code == 2
    assert "resources: {gpus: [0, 1]}" in str(info.value) and "CUDA_VISIBLE_DEVICES" in str(info.value)
    assert plan(s, environ={"CUDA_VISIBLE_DEVICES": "5"}).devices == ("5",)
    assert plan(s, "dask").devices == ()  # Dask workers own their GPUs: nothing is looked up
    with pytest.raises(DeviceError, match="needs 2 GPUs but only 1"):
        plan(spec(resources={"gpus": "auto", "gpus_per_trial": 2}), environ={"CUDA_VISIBLE_DEVICES": "0"})


# --------------------------------------------------------------------------- the spec


def test_resources_are_validated_with_their_lines():
    assert "resources.gpus_per_trial (line" in problems(resources={"gpus_per_trial": 0.3})[0]
    assert "fraction that divides one device" in problems(resources={"gpus_per_trial": 0.3})[0]
    assert "must be > 0" in problems(resources={"gpus_per_trial": 0})[0]
    assert "device 1 is listed twice" in problems(resources={"gpus": [0, 1, 1]})[0]
    assert (
        "needs 2 devices but resources.gpus lists 1"
        in problems(resources={"gpus": [0], "gpus_per_trial": 2})[0]
    )
    assert "must be auto or a list of device ids" in problems(resources={"gpus": "all"})[0]
    no_resources = problems(resources=None)
    assert len(no_resources) == 1 and "{gpus} names the GPUs hpt assigns" in no_resources[0]
    assert "command[2]" in no_resources[0]
    dask = problems(executor={"type": "dask", "resources": {"GPU": 1}}, command=["train", "{args}"])
    assert "set twice" in dask[0]


def test_max_parallel_jobs_above_the_devices_is_a_warning_and_the_run_uses_the_cap():
    s = spec()
    (w,) = [str(p) for p in s.warnings]
    assert w.startswith("limits.max_parallel_jobs (line") and "the run uses 3" in w
    # Devices found at the start (auto) are checked then; a listed one was checked above.
    assert Plan(("0", "1", "3"), 1.0, "nvidia-smi").notes(4)[1] == (
        "warning: max_parallel_jobs 4 is more than the GPUs allow; the run uses 3"
    )
    assert len(Plan(("0", "1", "3"), 1.0, "resources.gpus").notes(4)) == 1


def test_the_devices_are_not_part_of_a_jobs_identity_but_gpus_per_trial_is():
    a = to_canonical(spec())
    assert from_canonical(a).resources == spec().resources
    b = to_canonical(spec(resources={"gpus": "auto"}))
    assert from_canonical(b).resources.gpus is None
    assert differences(identity(a), identity(b)) == []
    c = to_canonical(spec(resources={"gpus_per_trial": 0.5}))
    assert differences(identity(a), identity(c)) == ["resources.gpus_per_trial: 1.0 -> 0.5"]
    plain = to_canonical(spec(resources=None, command=["train", "{args}"]))
    del plain["resources"]  # a form written before resources existed
    assert from_canonical(plain).resources is None
    assert "resources" not in identity(plain)


def test_with_dask_gpus_per_trial_becomes_the_worker_resource_gpu():
    from hpt.executors import dask_resources

    s = spec(
        executor={"type": "dask", "resources": {"MEM": 2}},
        resources={"gpus": "auto", "gpus_per_trial": 0.5},
        command=["train", "{args}", "--port", "{slot}"],
    )
    assert dask_resources(s) == {"MEM": 2.0, "GPU": 0.5}
    assert plan(s).devices == ()  # nothing is looked up on the runner's machine
    listed = spec(executor={"type": "dask"}, command=["train", "{args}"])
    assert any("not used with the dask executor" in str(w) for w in listed.warnings)
    assert "{gpus} is not known with the dask executor" in problems(executor={"type": "dask"})[0]


# --------------------------------------------------------------------------- the runner


def _spans(sim):
    """(start, end, devices, slot) of every attempt, on the virtual clock."""
    return [
        (*sim.span(launch.key), launch.env.get("CUDA_VISIBLE_DEVICES", ""), int(launch.env["HPT_SLOT"]))
        for launch in sim.launches
    ]


def _lasting(seconds):
    return lambda launch: SimTrial(((seconds(launch), f"loss={launch.params['x']}"),))


def test_no_two_running_trials_share_a_device_and_each_gets_its_env(tmp_path):
    result, sim = run_simulated(spec(), _lasting(lambda launch: 1.0 + (launch.trial_id * 7) % 5), tmp_path)
    assert result.status == JOB_COMPLETED and all(t.state == COMPLETED for t in result.trials)
    spans = _spans(sim)
    assert len(spans) == 12
    for (s1, e1, d1, slot1), (s2, e2, d2, slot2) in itertools.combinations(spans, 2):
        if s1 < e2 and s2 < e1:  # ran at the same time
            assert d1 != d2 and slot1 != slot2
    assert {d for _, _, d, _ in spans} == {"0", "1", "3"}
    assert {slot for *_, slot in spans} == {0, 1, 2}  # capped at 3, not max_parallel_jobs 4
    first = sim.launches[0]
    assert first.env["HPT_GPUS"] == first.env["CUDA_VISIBLE_DEVICES"] == "0"
    assert first.env["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"
    assert first.argv[:4] == ("train", "--device", "cuda:0", "--port")
    # The store keeps each attempt's devices, slot and exact argv.
    from hpt.store import Store

    store = Store.open(tmp_path / "gpu")
    try:
        att = store.attempts(1)[0]
        assert att.devices == ["0"] and att.slot == 0 and att.argv == list(first.argv)
        assert att.env["CUDA_VISIBLE_DEVICES"] == "0"
    finally:
        store.close()


def test_half_a_device_per_trial_runs_two_trials_on_each(tmp_path):
    s = spec(resources={"gpus": [0, 1], "gpus_per_trial": 0.5}, limits={"max_parallel_jobs": 4})
    result, sim = run_simulated(s, _lasting(lambda launch: 3.0), tmp_path)
    assert result.status == JOB_COMPLETED
    at_once = [d for start, _, d, _ in _spans(sim) if start == 0.0]
    assert sorted(at_once) == ["0", "0", "1", "1"]


def test_a_retry_may_get_other_devices(tmp_path):
    s = spec(resources={"gpus": [0, 1]}, limits={"max_jobs": 3, "max_parallel_jobs": 2, "max_retries": 1})

    def behaviour(launch):  # trial 2's first attempt fails as trial 1 completes
        return SimTrial(((1.0, f"loss={launch.params['x']}"),), exit_code=3 if launch.key == (2, 1) else 0)

    result, sim = run_simulated(s, behaviour, tmp_path)
    assert [(t.state, t.attempts) for t in result.trials] == [(COMPLETED, 1), (COMPLETED, 2), (COMPLETED, 1)]
    devices = {launch.key: launch.env["CUDA_VISIBLE_DEVICES"] for launch in sim.launches}
    # Both devices were freed at once; the retry runs first and takes the first free one.
    assert devices == {(1, 1): "0", (2, 1): "1", (2, 2): "0", (3, 1): "1"}


# --------------------------------------------------------------------------- end to end


GPU_TRIAL = Path(__file__).resolve().parent / "scripts" / "gpu_trial.py"


def fake_nvidia_smi(bindir: Path, lines: str, code: int = 0) -> None:
    """An ``nvidia-smi`` that answers hpt's query with ``lines`` (no GPU needed)."""
    bindir.mkdir(exist_ok=True)
    script = bindir / "nvidia-smi"
    script.write_text(
        "#!/bin/sh\n"
        'case "$*" in *--query-gpu=index*--format=csv,noheader*) ;; *) echo "unexpected: $*" >&2; exit 9;; esac\n'
        f"printf '{lines}'\nexit {code}\n"
    )
    script.chmod(0o755)


def gpu_env(bindir: Path) -> dict[str, str]:
    env = cli_env()
    env.pop("CUDA_VISIBLE_DEVICES", None)
    env.pop("CUDA_DEVICE_ORDER", None)
    env["PATH"] = f"{bindir}{os.pathsep}{env['PATH']}"
    return env


def run_hpt(*args, env) -> Result:
    proc = subprocess.run(
        [sys.executable, "-m", "hpt", *map(str, args)], capture_output=True, text=True, timeout=120, env=env
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


GPU_SPEC = f"""
name: gpus
command: [python, {GPU_TRIAL}, --x, "{{x}}", --device, "cuda:{{gpus}}", --port, "90{{slot:02d}}"]
objective: {{metric: loss, type: minimize}}
metrics: [{{name: loss, regex: 'loss=([0-9.]+)'}}]
strategy: random
parameters: {{x: {{type: continuous, min: 0.0, max: 1.0}}}}
static: {{epochs: 3}}
limits: {{max_jobs: 6, max_parallel_jobs: 4}}
resources: {{gpus: auto, gpus_per_trial: 1}}
random_seed: 4
"""


def test_end_to_end_with_a_fake_nvidia_smi_no_two_running_trials_share_a_device(write_spec, runs, tmp_path):
    bindir = tmp_path / "bin"
    fake_nvidia_smi(bindir, "0\\n1\\n")
    env = gpu_env(bindir)
    path = write_spec(GPU_SPEC)
    r = run_hpt("run", path, "--runs-dir", runs, env=env)
    assert r.code == 0, r.err
    assert "GPUs 0,1 (from nvidia-smi), 1 per trial: up to 2 trials at once" in r.err
    assert "max_parallel_jobs 4 is more than the GPUs allow; the run uses 2" in r.err
    records = [json.loads(p.read_text()) for p in sorted((runs / "gpus" / "trials").glob("*/gpu-1.json"))]
    assert len(records) == 6
    for rec in records:
        assert rec["cuda"] == rec["gpus"] in ("0", "1") and rec["slot"] in ("0", "1")
        assert f"cuda:{rec['cuda']}" in rec["argv"] and f"90{int(rec['slot']):02d}" in rec["argv"]
    overlapping = [
        (a, b)
        for a, b in itertools.combinations(records, 2)
        if a["start"] < b["end"] and b["start"] < a["end"]
    ]
    assert overlapping, "trials ran one at a time: the test shows nothing"
    for a, b in overlapping:
        assert a["cuda"] != b["cuda"] and a["slot"] != b["slot"]
    doc = run_hpt("show", "gpus", "-o", "json", "--runs-dir", runs, env=env).json()
    assert {tuple(t["devices"]) for t in doc["trial_list"]} == {("0",), ("1",)}
    shown = run_hpt("show", "gpus", "--runs-dir", runs, env=env)
    assert "gpus" in shown.out.splitlines()[3]  # a column of the devices each trial used


def test_end_to_end_no_gpu_found_is_a_clear_error_before_the_job_exists(write_spec, runs, tmp_path):
    bindir = tmp_path / "bin"
    fake_nvidia_smi(bindir, "No devices were found\\n", code=6)
    path = write_spec(GPU_SPEC)
    r = run_hpt("run", path, "--runs-dir", runs, env=gpu_env(bindir))
    assert r.code == 2 and "Traceback" not in r.err
    assert (
        "resources.gpus is auto but no GPU was found (nvidia-smi is not on PATH or lists no device)" in r.err
    )
    assert "resources: {gpus: [0, 1]}" in r.err and "CUDA_VISIBLE_DEVICES=0,1" in r.err
    assert not (runs / "gpus").exists()
    # hpt's own CUDA_VISIBLE_DEVICES is what auto uses when it is set.
    path.write_text(
        GPU_SPEC.replace("max_jobs: 6, max_parallel_jobs: 4", "max_jobs: 2, max_parallel_jobs: 1")
    )
    ok = run_hpt("run", path, "--runs-dir", runs, "-q", env={**gpu_env(bindir), "CUDA_VISIBLE_DEVICES": "3"})
    assert ok.code == 0, ok.err
    used = {json.loads(p.read_text())["cuda"] for p in (runs / "gpus" / "trials").glob("*/gpu-1.json")}
    assert used == {"3"}
