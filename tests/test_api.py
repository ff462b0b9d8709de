"""The Python API: hpt.run / hpt.load return what `hpt show -o json` shows for the same job."""

import json

import pytest
import yaml
from conftest import fake_spec, hpt

import hpt as api
from hpt.report import dumps


def as_json(doc: dict) -> dict:
    return json.loads(dumps(doc))


def test_run_and_load_match_show_json(write_spec, runs):
    spec = write_spec(fake_spec("api"))
    result = api.run(spec, runs_dir=runs)
    assert result.status == "Completed" and result.exit_code == 0
    assert len(result.trials) == 4 and all(t.state == "completed" for t in result.trials)
    best = min(result.trials, key=lambda t: t.objective)
    assert result.best.trial_id == best.id and result.best.objective == best.objective
    assert result.best.hyperparameters == best.params
    shown = hpt("show", "api", "-o", "json", runs_dir=runs)
    assert shown.code == 0, shown.err
    assert as_json(result.to_dict()) == shown.json()
    assert as_json(api.load("api", runs_dir=runs).to_dict()) == shown.json()


def test_run_takes_a_dict_and_a_name(runs, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = yaml.safe_load(fake_spec("from-dict"))
    result = api.run(data, runs_dir=runs, name="renamed")
    assert result.name == "renamed" and result.status == "Completed"
    assert (runs / "renamed" / "job.db").is_file()


def test_user_mistakes_raise_hpt_errors(runs, tmp_path):
    bad = yaml.safe_load(fake_spec("bad"))
    bad["parameters"]["x"]["min"] = 2.0
    with pytest.raises(api.SpecError) as info:
        api.run(bad, runs_dir=runs)
    assert any(p.path == "parameters.x.max" and p.line for p in info.value.problems)
    with pytest.raises(api.HptError, match="no job named 'nope'"):
        api.load("nope", runs_dir=runs)


def test_resume_extends_a_job(write_spec, runs):
    spec = write_spec(fake_spec("more", args=', --steps, "1"'))
    assert api.run(spec, runs_dir=runs).status == "Completed"
    result = api.resume("more", runs_dir=runs, max_jobs=6)
    assert result.status == "Completed" and len(result.trials) == 6
