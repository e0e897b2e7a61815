"""A class in a real browser (Debian's Chromium through playwright, as tests/test_browser.py):
the host makes an invitation code on the host's page; a participant signs up with it and a
name of their choice, makes a team, a second one signs up and joins with the team's code; both
submit and the board shows the team once with both names; the host sets the daily limit from
the web; a third participant's merge over the limit is refused with the numbers on the page;
the host reveals from the web and the private tab appears.

Every page the test visits is saved as a screenshot in its tmp dir (pytest keeps the dirs of
the last runs: a failure leaves the pages that led to it, and the one it failed on); on a
failure they are also copied to ``HARNESS_SCREENSHOTS`` where that names a folder."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import servers

COMP = "titanic"
CHROMIUM, ARGS = servers.CHROMIUM, servers.CHROMIUM_ARGS


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("HARNESS_REQUIRE_CHROMIUM") == "1":
            pytest.fail("the playwright package is not installed")
        pytest.skip("the playwright package is not installed (pip install -e '.[test]')")
    if not Path(CHROMIUM).exists():
        if os.environ.get("HARNESS_REQUIRE_CHROMIUM") == "1":
            pytest.fail(f"{CHROMIUM} is missing")
        pytest.skip(f"{CHROMIUM} is missing (.ci/run installs Debian's chromium)")
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture
def site(tmp_path: Path, browser: Any) -> Iterator[dict[str, Any]]:
    import pandas as pd

    import harness
    from harness.server.participants import Participants
    from harness.settings import Settings

    home = tmp_path / "home"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MLFLOW_TRACKING_URI", "HARNESS_PARTICIPANT", "HARNESS_LOCAL_PARTICIPANT")
    }
    env.update(HARNESS_HOME=str(home), MLFLOW_DISABLE_TELEMETRY="true")
    public = harness.prepare(COMP, home=home).public
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).strftime("%Y-%m-%dT%H:%MZ")
    harness.rules(COMP, deadline=later, home=home)
    host = Participants(Settings.resolve(home, f"sqlite:///{home}/mlflow.db")).add(
        "teacher", role="host"
    )
    sample = pd.read_csv(public / "sample_submission.csv")
    female = (pd.read_csv(public / "test.csv")["Sex"] == "female").astype(int)
    files = []
    for i in range(3):
        path = tmp_path / f"preds{i}.csv"
        guess = female.copy()
        guess.iloc[i :: 7 + i] = 1 - guess.iloc[i :: 7 + i]
        sample.assign(Survived=guess.to_numpy()).to_csv(path, index=False)
        files.append(path)
    with servers.harness_serve(env) as url:
        yield {"url": url, "host": host, "files": files}


class Pages:
    """Each participant's browser page, with a screenshot of every page it shows."""

    def __init__(self, browser: Any, url: str, shots: Path) -> None:
        self.browser, self.url, self.shots = browser, url, shots
        self.count = 0
        self.open: list[Any] = []

    def new(self) -> Any:
        context = self.browser.new_context(viewport={"width": 1100, "height": 800})
        page = context.new_page()
        self.open.append(page)
        return page

    def shot(self, page: Any, name: str) -> None:
        self.count += 1
        page.screenshot(path=str(self.shots / f"{self.count:02d}-{name}.png"), full_page=True)

    def go(self, page: Any, path: str, name: str) -> None:
        page.goto(self.url + path)
        self.shot(page, name)


def _sign_up(pages: Pages, code: str, name: str) -> Any:
    page = pages.new()
    pages.go(page, f"/signup?code={code}", f"signup-{name}")
    page.get_by_label("Your name").fill(name)
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_load_state()
    pages.shot(page, f"signed-up-{name}")
    assert page.locator("#signed-up-name").inner_text() == name
    assert page.locator("#token").inner_text().startswith("hst_")
    assert f"Signed in as {name}" in page.locator("header").inner_text()
    page.goto(pages.url + "/")  # the token is shown once: not on the next page
    assert "hst_" not in page.content()
    return page


def _submit(pages: Pages, page: Any, file: Path, who: str) -> None:
    pages.go(page, f"/c/{COMP}/submit", f"submit-{who}")
    page.get_by_label("Predictions").set_input_files(str(file))
    page.get_by_role("button", name="Submit", exact=True).click()
    page.wait_for_load_state()
    pages.shot(page, f"submitted-{who}")
    assert "on the public leaderboard" in page.locator("#submit-result").inner_text()


def test_a_class_signs_up_forms_a_team_and_the_host_runs_it_from_the_web(
    browser: Any, site: dict[str, Any], tmp_path: Path
) -> None:
    pages = Pages(browser, site["url"], tmp_path)
    try:
        _a_class(pages, site)
    except BaseException:
        for i, page in enumerate(pages.open):  # the page each browser was on when it failed
            page.screenshot(path=str(tmp_path / f"failed-{i}.png"), full_page=True)
        kept = os.environ.get("HARNESS_SCREENSHOTS")  # CI: a folder it uploads
        if kept:
            import shutil

            for shot in tmp_path.glob("*.png"):
                Path(kept).mkdir(parents=True, exist_ok=True)
                shutil.copyfile(shot, Path(kept) / shot.name)
        print(f"screenshots: {tmp_path}" + (f" and {kept}" if kept else ""))
        raise
    finally:
        for page in pages.open:
            page.context.close()


def _a_class(pages: Pages, site: dict[str, Any]) -> None:
    url = site["url"]
    host = pages.new()
    pages.go(host, "/signin", "host-signin")
    host.get_by_label("Token").fill(site["host"])
    host.get_by_role("button", name="Sign in").click()
    host.wait_for_load_state()
    pages.go(host, f"/c/{COMP}/host", "host")
    host.get_by_role("button", name="Make a code").click()
    host.wait_for_load_state()
    pages.shot(host, "host-code")
    code = host.locator("#made-code code").first.inner_text()
    assert code.startswith("inv_")

    ann = _sign_up(pages, code, "Ann Lee")
    pages.go(ann, f"/c/{COMP}/overview", "overview")
    assert ann.locator("article.prose h1").count() >= 1
    pages.go(ann, f"/c/{COMP}/data", "data")
    assert "train.csv" in ann.locator("table").inner_text()
    assert f"harness download {COMP} --server" in ann.locator("#download-line").inner_text()
    pages.go(ann, f"/c/{COMP}/rules", "rules")
    assert "Deadline:" in ann.locator("#rules-words").inner_text()
    pages.go(ann, f"/c/{COMP}/team", "team-solo")
    ann.get_by_label("Make a team named").fill("Night Owls")
    ann.get_by_role("button", name="Create the team").click()
    ann.wait_for_load_state()
    pages.shot(ann, "team-made")
    assert "Team Night Owls: Ann Lee." in ann.locator("#team-name").inner_text()
    team_code = ann.locator("#team-code").inner_text()

    bo = _sign_up(pages, code, "Bo")
    pages.go(bo, f"/c/{COMP}/team", "team-bo")
    bo.get_by_label("Join a team with its invitation code").fill(team_code)
    bo.get_by_role("button", name="Join", exact=True).click()
    bo.wait_for_load_state()
    pages.shot(bo, "team-joined")
    assert "Team Night Owls: Ann Lee, Bo." in bo.locator("#team-name").inner_text()

    _submit(pages, ann, site["files"][0], "ann")
    _submit(pages, bo, site["files"][1], "bo")
    pages.go(ann, f"/c/{COMP}", "board")
    rows = ann.locator("table.board tbody tr")
    assert rows.count() == 1  # the team once
    row = rows.first.inner_text()
    assert "Night Owls" in row and "Ann Lee, Bo" in row and "2" in row

    pages.go(host, f"/c/{COMP}/host", "host-rules")
    host.get_by_label("Daily limit").fill("2")
    host.get_by_role("button", name="Set the rules").click()
    host.wait_for_load_state()
    pages.shot(host, "host-rules-set")
    assert "2 per UTC day" in host.locator("#host-rules").inner_text()

    cy = _sign_up(pages, code, "Cy")
    _submit(pages, cy, site["files"][2], "cy")
    pages.go(cy, f"/c/{COMP}/team", "team-cy")
    cy.get_by_label("Join a team with its invitation code").fill(team_code)
    cy.get_by_role("button", name="Join", exact=True).click()
    cy.wait_for_load_state()
    pages.shot(cy, "merge-refused")
    assert cy.locator("#team-error").inner_text() == (
        "Error: a team has 2 submissions a day: Night Owls made 2 today and Cy 1 (3 together)"
    )
    assert "You are in no team" in cy.locator("#team-name").inner_text()

    pages.go(host, f"/c/{COMP}/host", "host-reveal")
    host.get_by_role("button", name="Reveal the private board now").click()
    host.wait_for_load_state()
    pages.go(host, f"/c/{COMP}?view=private", "private")
    assert host.get_by_role("link", name="Private leaderboard").count() == 1
    assert "Night Owls" in host.locator("table.board").inner_text()
    assert url in host.url
