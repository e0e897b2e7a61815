"""The web pages in a real browser: Debian's Chromium (``/usr/bin/chromium``, driven by the
``playwright`` package through ``executable_path``; never a browser download) against one live
``harness serve`` for the module. A participant signs in with a token, uploads a valid file and
sees the new rank; an invalid file shows the validator's message; another participant's
submissions are not reachable; the private tab is absent before the end and present after the
reveal. Each test saves a screenshot in its tmp dir.

Without Chromium or Playwright these tests skip, unless ``HARNESS_REQUIRE_CHROMIUM=1`` (CI sets
it), when they fail instead. ``HARNESS_DOCS_SCREENSHOTS=DIR`` also writes the reference
screenshots of the README (docs/*.png) into DIR.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import servers

COMP = "titanic"
CHROMIUM, ARGS = servers.CHROMIUM, servers.CHROMIUM_ARGS


def _missing(why: str) -> None:
    if os.environ.get("HARNESS_REQUIRE_CHROMIUM") == "1":
        pytest.fail(why)
    pytest.skip(why)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is not installed (pip install -e '.[test]')")
    if not Path(CHROMIUM).exists():
        _missing(f"{CHROMIUM} is missing (.ci/run installs Debian's chromium)")
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> Iterator[dict[str, Any]]:
    """Titanic prepared, eight participants and a baseline on the board, a deadline in three
    days, tokens for alice and bob, and `harness serve` over it all."""
    import pandas as pd

    import harness
    from harness.server.participants import Participants
    from harness.settings import Settings

    root = tmp_path_factory.mktemp("browser")
    home = root / "home"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MLFLOW_TRACKING_URI", "HARNESS_PARTICIPANT", "HARNESS_LOCAL_PARTICIPANT")
    }
    env.update(HARNESS_HOME=str(home), MLFLOW_DISABLE_TELEMETRY="true")
    public = harness.prepare(COMP, home=home).public
    sample = pd.read_csv(public / "sample_submission.csv")
    train = pd.read_csv(public / "test.csv")
    female = (train["Sex"] == "female").astype(int).to_numpy()
    for i, who in enumerate(["ada", "ben", "cleo", "dev", "eve", "finn", "gus", "baseline/gbm"]):
        guess = female.copy()
        flip = (sample.index.to_numpy() * (i + 3)) % (9 + i) == 0  # each a little different
        guess[flip] = 1 - guess[flip]
        frame = sample.assign(Survived=guess)
        harness.submit(COMP, frame, message=f"try {i}", participant=who, home=home)
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).strftime("%Y-%m-%dT%H:%MZ")
    harness.rules(COMP, deadline=later, home=home)
    people = Participants(Settings.resolve(home, f"sqlite:///{home}/mlflow.db"))
    tokens = {name: people.add(name) for name in ("alice", "bob")}
    good = root / "preds.csv"
    sample.assign(Survived=female).to_csv(good, index=False)
    bad = root / "bad.csv"
    bad.write_text("PassengerId,Nope\n1,2\n")
    with servers.harness_serve(env) as url:
        yield {"url": url, "tokens": tokens, "env": env, "good": good, "bad": bad}


def _shot(page: Any, tmp_path: Path, name: str) -> None:
    page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
    docs = os.environ.get("HARNESS_DOCS_SCREENSHOTS")
    if docs:
        Path(docs).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(docs) / f"{name}.png"), full_page=False)


def _signed_in(browser: Any, site: dict[str, Any], who: str, *, width: int = 1000) -> Any:
    context = browser.new_context(viewport={"width": width, "height": 760})
    page = context.new_page()
    page.goto(site["url"] + "/signin")
    page.get_by_label("Token").fill(site["tokens"][who])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    assert f"Signed in as {who}" in page.locator("header").inner_text()
    return page


def test_a_participant_signs_in_submits_and_sees_the_new_rank(
    browser: Any, site: dict[str, Any], tmp_path: Path
) -> None:
    page = _signed_in(browser, site, "alice")
    page.goto(site["url"] + f"/c/{COMP}/submit")
    page.get_by_label("Predictions").set_input_files(str(site["good"]))
    page.get_by_label("Message").fill("women and children first")
    page.get_by_role("button", name="Submit", exact=True).click()
    page.wait_for_load_state()
    rank = page.locator("#new-rank").inner_text()
    assert rank.isdigit() and 1 <= int(rank) <= 9
    assert "on the public leaderboard" in page.locator("#submit-result").inner_text()
    _shot(page, tmp_path, "submit")
    page.goto(site["url"] + f"/c/{COMP}")
    mine = page.locator("tr.you")
    assert mine.count() == 1 and mine.locator("td").first.inner_text() == rank
    _shot(page, tmp_path, "leaderboard")
    page.goto(site["url"] + f"/c/{COMP}/submissions")
    assert "women and children first" in page.locator("table").inner_text()
    assert page.locator("svg.chart").count() == 1
    _shot(page, tmp_path, "submissions")
    page.context.close()


def test_an_invalid_file_shows_the_validators_message(
    browser: Any, site: dict[str, Any], tmp_path: Path
) -> None:
    page = _signed_in(browser, site, "alice", width=390)  # a phone's width
    page.goto(site["url"] + f"/c/{COMP}/submit")
    page.get_by_label("Predictions").set_input_files(str(site["bad"]))
    page.get_by_role("button", name="Submit", exact=True).click()
    page.wait_for_load_state()
    shown = page.locator("#submit-error").inner_text()
    cli = subprocess.run(
        [str(servers.BIN / "harness"), "validate", COMP, "bad.csv"],
        env=site["env"],
        cwd=site["bad"].parent,
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 1
    assert shown == cli.stderr.strip()  # exactly as the CLI prints it
    assert shown.startswith("Error: bad.csv: missing column 'Survived'")
    _shot(page, tmp_path, "invalid")
    page.context.close()


def test_another_participants_submissions_are_not_reachable(
    browser: Any, site: dict[str, Any], tmp_path: Path
) -> None:
    page = _signed_in(browser, site, "bob")
    answer = page.goto(site["url"] + f"/c/{COMP}/submissions?participant=alice")
    assert answer is not None and answer.status == 403
    assert "only your own submissions" in page.locator("main").inner_text()
    _shot(page, tmp_path, "refused")
    page.goto(site["url"] + f"/c/{COMP}/submissions")
    assert "women and children first" not in page.locator("main").inner_text()
    page.context.close()


def test_the_private_tab_is_absent_before_the_end_and_present_after_reveal(
    browser: Any, site: dict[str, Any], tmp_path: Path
) -> None:
    page = browser.new_page(viewport={"width": 1000, "height": 760})
    page.goto(site["url"] + f"/c/{COMP}")
    tabs = page.get_by_role("navigation", name="Titanic")
    assert tabs.get_by_role("link", name="Public leaderboard").count() == 1
    assert tabs.get_by_role("link", name="Private leaderboard").count() == 0
    assert page.goto(site["url"] + f"/c/{COMP}?view=private").status == 403  # type: ignore[union-attr]
    done = subprocess.run(
        [str(servers.BIN / "harness"), "reveal", COMP],
        env=site["env"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    page.goto(site["url"] + f"/c/{COMP}")
    page.get_by_role("link", name="Private leaderboard").click()
    page.wait_for_load_state()
    assert "Private leaderboard" in page.locator("h2").first.inner_text()
    assert "Medal" in page.locator("table").inner_text()
    _shot(page, tmp_path, "private")
    page.get_by_role("link", name="Shake-up", exact=True).click()
    page.wait_for_load_state()
    assert page.locator("svg.chart").count() == 2
    _shot(page, tmp_path, "shakeup")
    page.close()


# -- `harness ui <competition>`: MLflow's own UI ----------------------------------------------

#: `harness ui` with SIGTERM at its default disposition, whatever the tests inherited (a
#: background job may have it ignored), so the SIGTERM that stops it is never lost.
UI_START_S = 150  # 10-40 s on 2 cores: 13 processes import mlflow at once


def test_harness_ui_for_a_competition_opens_its_runs_with_the_public_score(
    browser: Any, tmp_path: Path
) -> None:
    """Submissions and a study, then `harness ui titanic`: the URL it prints opens the runs
    table in MLflow's Model-training view, with the run names and the public_score column."""
    import threading
    import time

    import pandas as pd

    import harness
    from tests.children import default_signals
    from tests.test_ui import _descendants, _kill

    home = tmp_path / "home"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MLFLOW_TRACKING_URI", "HARNESS_PARTICIPANT", "HARNESS_LOCAL_PARTICIPANT")
    }
    env.update(HARNESS_HOME=str(home), MLFLOW_DISABLE_TELEMETRY="true")
    public = harness.prepare(COMP, home=home).public
    sample = pd.read_csv(public / "sample_submission.csv")
    female = (pd.read_csv(public / "test.csv")["Sex"] == "female").astype(int)
    alice = harness.submit(
        COMP, sample.assign(Survived=female), message="women first", participant="alice", home=home
    )
    harness.submit(COMP, sample, message="nobody survives", participant="bob", home=home)
    harness.tune(COMP, model="gbm", trials=2, home=home)

    port = servers.free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "ui", COMP, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_signals,  # SIGTERM reaches it however the tests were started
    )
    lines: list[str] = []
    announced = threading.Event()

    def drain() -> None:  # the server writes to the same pipe: it must never fill up
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if "MLflow UI on http://" in line:
                announced.set()

    threading.Thread(target=drain, daemon=True).start()
    processes: dict[int, bytes] = {}
    try:
        started = time.monotonic()
        while not announced.wait(0.5):
            processes.update(_descendants(proc.pid))
            assert proc.poll() is None, "".join(lines)
            assert time.monotonic() - started < UI_START_S, "".join(lines)
        said = next(line for line in lines if "MLflow UI on http://" in line)
        url = said.split("MLflow UI on ", 1)[1].split(" (Ctrl-C stops it)")[0]
        base = f"http://127.0.0.1:{port}"
        assert url.startswith(base + "/#/experiments/")
        assert url.endswith("/runs?workflowType=machine_learning&viewStateShareKey=harness")

        # The same page, asked of the same store through the tracking server.
        remote = subprocess.run(
            [str(servers.BIN / "harness"), "ui", COMP, "--tracking-uri", base],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert remote.returncode == 0, remote.stderr
        assert remote.stdout == f"The store is a tracking server: open {url} in a browser.\n"

        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(url)
        page.get_by_text("study titanic-gbm").first.wait_for(timeout=60_000)
        column = page.locator('[role=columnheader][col-id="metrics.`public_score`"]')
        column.wait_for(timeout=30_000)  # the metric's column in the runs grid
        assert column.inner_text().strip() == "public_score"
        shown = page.locator("body").inner_text()
        assert "alice · women first" in shown
        assert "bob · nobody survives" in shown
        assert "study titanic-gbm" in shown
        assert repr(alice.entry.public_score) in shown  # its score in the public_score column
        assert "workflowType=machine_learning" in page.url  # not the GenAI view
        assert "Traces 0" not in shown and "Detect issues" not in shown
        _shot(page, tmp_path, "mlflow-runs")
        page.close()

        processes.update(_descendants(proc.pid))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert "Traceback" not in "".join(lines)
    finally:
        if proc.poll() is None:
            processes.update(_descendants(proc.pid))
            proc.kill()
            proc.wait(timeout=10)
        _kill(processes)
