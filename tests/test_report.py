"""`hpt report`: a real job's HTML report rendered in headless Chromium (no JavaScript error, no
request leaving the file, every plot drawn), `hpt run --report`, parameter importance, and the
report writer's rate limit."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from conftest import VIEW_JOB, hpt, wait_for

from hpt import htmlreport
from hpt.importance import MIN_TRIALS, importance
from hpt.space import Param, Space
from hpt.store import Store
from hpt.trial import Trial

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PLOTS = ("plot-history", "plot-curves", "plot-parallel", "plot-importance", "plot-slices")


def _chromium() -> str | None:
    return os.environ.get("HPT_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def _trials(runs: Path) -> list[Trial]:
    store = Store.open(runs / VIEW_JOB, readonly=True)
    try:
        return store.trials()
    finally:
        store.close()


@pytest.fixture(scope="module")
def page_of(views_job):
    """The report of the shared job, written by `hpt run --report`, open in headless Chromium;
    yields ``(page, problems)`` where problems are console errors, page errors and requests
    that are not for the file itself."""
    executable = _chromium()
    if executable is None:
        pytest.skip("chromium not found (Debian: apt-get install chromium; .ci/run installs it)")
    from playwright.sync_api import sync_playwright

    out = views_job / VIEW_JOB / "report.html"  # written by `hpt run --report`
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on(
                "console",
                lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
            )
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
            page.on(
                "request",
                lambda r: (
                    None
                    if r.url.startswith(("file:", "data:", "blob:"))
                    else problems.append(f"request: {r.url}")
                ),
            )
            page.goto(out.as_uri(), wait_until="load")
            page.wait_for_function(
                f"document.querySelectorAll('.js-plotly-plot').length === {len(PLOTS)}", timeout=30_000
            )
            yield page, problems
        finally:
            browser.close()


def test_report_opens_offline_without_errors(page_of):
    page, problems = page_of
    assert problems == []


def test_every_plot_is_drawn(page_of, views_job):
    page, _ = page_of
    for pid in PLOTS:
        box = page.locator(f"#{pid}").bounding_box()
        assert box and box["width"] > 300 and box["height"] > 100, pid
    trials = _trials(views_job)
    scored = [t for t in trials if t.state in ("completed", "stopped")]
    count = page.evaluate

    # History: a marker per trial (failed ones too) in each of its two panels.
    assert count("document.querySelectorAll('#plot-history .scatterlayer .point').length") == 2 * len(trials)
    # Learning curves: hyperband's rungs drawn; stopped trials end in a mark.
    notes = count("[...document.querySelectorAll('#plot-curves .annotation-text')].map(e => e.textContent)")
    assert "rung 1" in notes and "rung 3" in notes
    assert count("document.querySelectorAll('#plot-curves .scatterlayer .trace').length") >= 3
    # Parallel coordinates: an axis per parameter and one for the objective, log where scaled.
    axes = count("[...document.querySelectorAll('#plot-parallel .axis-title')].map(e => e.textContent)")
    assert axes == ["x", "lr (log)", "kind", "loss"]
    assert count("document.querySelectorAll('#plot-parallel canvas').length") > 0
    # Importance: a bar per parameter; slices: a marker per trial with an objective, per parameter.
    assert len(scored) >= MIN_TRIALS
    assert count("document.querySelectorAll('#plot-importance .bars .point').length") == 3
    assert "random forest" in page.locator("#importance .method").inner_text()
    assert count("document.querySelectorAll('#plot-slices .scatterlayer .point').length") == 3 * len(scored)


def test_secondary_metric_is_selectable(page_of):
    page, _ = page_of
    title = "document.querySelector('#plot-curves .ytitle').textContent"
    assert page.evaluate(title) == "loss"
    page.locator("#plot-curves .updatemenu-header-group").click()
    page.locator("#plot-curves .updatemenu-dropdown-button", has_text="acc").click()
    page.wait_for_function(f"{title} === 'acc'", timeout=10_000)
    page.locator("#plot-curves .updatemenu-header-group").click()
    page.locator("#plot-curves .updatemenu-dropdown-button", has_text="loss").click()
    page.wait_for_function(f"{title} === 'loss'", timeout=10_000)


def test_trial_table_sorts_and_failures_are_grouped(page_of, views_job):
    page, _ = page_of
    trials = _trials(views_job)
    rows = page.locator("table.trials tbody tr")
    assert rows.count() == len(trials)
    page.locator("table.trials th", has_text="loss").click()  # ascending: the best (lowest) first
    best = min((t for t in trials if t.state in ("completed", "stopped")), key=lambda t: t.objective)
    assert rows.first.get_attribute("id") == f"trial-{best.id}"
    assert "★" in rows.first.inner_text()
    page.locator("table.trials th", has_text="loss").click()  # descending: missing values still last
    assert rows.last.locator("td").nth(1).inner_text() == "failed"
    # Markup in a hyperparameter value is text, never markup.
    assert page.locator("table.trials td", has_text="</script><b>x").count() >= 1
    failed = [t for t in trials if t.state == "failed"]
    groups = page.locator("table.failures tbody tr")
    assert groups.count() == 1  # 'x=… is too small', whatever x was
    assert groups.first.locator("td").nth(1).inner_text() == str(len(failed))


def test_run_report_writes_one_self_contained_file(views_job):
    path = views_job / VIEW_JOB / "report.html"  # hpt run --report
    page = path.read_text()
    assert page.count("* plotly.js v") == 1  # plotly.js embedded once
    assert not re.search(r"<script[^>]*\bsrc=", page) and "<link" not in page
    assert "Completed" in page
    for t in _trials(views_job):
        assert f'id="trial-{t.id}"' in page


def test_report_command(views_job, tmp_path):
    out = tmp_path / "sub" / "r.html"
    r = hpt("report", VIEW_JOB, "--out", out, runs_dir=views_job)
    assert r.code == 0 and r.out.strip() == str(out), r.err
    assert (views_job / VIEW_JOB / "report.html").read_text().count('class="s-') == out.read_text().count(
        'class="s-'
    )
    r = hpt("report", "nope", runs_dir=views_job)
    assert r.code == 2 and "no job named 'nope'" in r.err


# --------------------------------------------------------------------------- importance


def _space() -> Space:
    return Space(
        (
            Param("lr", "continuous", 1e-4, 1.0, "logarithmic", "logarithmic"),
            Param("noise", "continuous", 0.0, 1.0, "linear", "linear"),
            Param("kind", "categorical", values=("a", "b", "c")),
        )
    )


def _made_trials(n: int) -> list[Trial]:
    import numpy as np

    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        lr = float(10 ** rng.uniform(-4, 0))
        params = {"lr": lr, "noise": float(rng.uniform()), "kind": "abc"[i % 3]}
        out.append(Trial(i + 1, "completed", params, objective=(np.log10(lr) + 2) ** 2))
    return out


def test_importance_finds_the_parameter_that_matters_and_is_deterministic():
    trials = _made_trials(40)
    imp = importance(_space(), trials)
    assert imp.shares is not None and abs(sum(imp.shares.values()) - 1) < 1e-9
    assert max(imp.shares, key=imp.shares.get) == "lr" and imp.shares["lr"] > 0.8
    assert importance(_space(), trials) == imp
    assert "random forest" in imp.method and "40 trials" in imp.method


def test_importance_says_why_it_is_missing():
    few = importance(_space(), _made_trials(MIN_TRIALS - 1))
    assert few.shares is None and f"at least {MIN_TRIALS} needed" in few.note
    flat = [Trial(t.id, t.state, t.params, objective=1.0) for t in _made_trials(10)]
    assert "same objective" in importance(_space(), flat).note


def test_log_ticks_are_round_values_inside_the_range():
    assert htmlreport.log_ticks(1e-4, 0.3) == [1e-4, 1e-3, 1e-2, 0.1]
    assert htmlreport.log_ticks(8, 256) == [10, 20, 50, 100, 200]
    assert htmlreport.log_ticks(1.5, 1.9) == [1.5, 1.9]


# --------------------------------------------------------------------------- run --report


class _Run:
    spec = None

    def __init__(self, job_dir: Path):
        self.job_dir = job_dir


def test_report_reporter_is_rate_limited(monkeypatch, tmp_path):
    writes: list[Path] = []
    monkeypatch.setattr(htmlreport, "write_job_report", lambda jdir, spec, path: writes.append(path))
    reporter = htmlreport.ReportReporter(min_interval=3600)
    run = _Run(tmp_path)
    reporter.begin(run)
    wait_for(lambda: writes, 10, "the first write")
    for _ in range(20):
        reporter.trial_ended(run, None, 1, "completed")
    reporter.end(run, None)
    # Once when the job began (the rest fell within the interval) and once at its end.
    assert writes == [tmp_path / "report.html"] * 2


def test_report_reporter_notes_a_failure_once(monkeypatch, tmp_path):
    def fail(jdir, spec, path):
        raise OSError("disk full")

    notes: list[str] = []
    monkeypatch.setattr(htmlreport, "write_job_report", fail)
    reporter = htmlreport.ReportReporter(min_interval=0, note=notes.append)
    run = _Run(tmp_path)
    reporter.begin(run)
    reporter.trial_ended(run, None, 1, "completed")
    reporter.end(run, None)
    assert len(notes) == 1 and "could not write the report" in notes[0] and "disk full" in notes[0]
