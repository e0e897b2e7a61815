"""The web pages (harness/server/pages.py) in-process: what each role reaches, sign-in by cookie,
CSRF and Origin checks, escaping, the validator's message as the CLI prints it, the private tab
and the shake-up after the end, the baselines, local mode, and the static export. The same
flows in a real browser are tests/test_browser.py."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

import harness
from harness.server.app import create_app
from harness.server.pages import COOKIE, LOCAL_ENV, STATIC, TEMPLATES, export
from harness.server.participants import Participants
from harness.settings import Settings

COMP = "titanic"


@pytest.fixture
def web(titanic: Path, settings: Settings) -> dict[str, object]:
    people = Participants(settings)
    tokens = {name: people.add(name) for name in ("alice", "bob")}
    tokens["host"] = people.add("host", role="host")
    return {"app": create_app(settings, max_upload=200_000), "tokens": tokens, "public": titanic}


def _client(web: dict[str, object], who: str | None = None) -> TestClient:
    client = TestClient(web["app"])
    if who is not None:
        tokens: dict[str, str] = web["tokens"]  # type: ignore[assignment]
        got = client.post("/signin", data={"token": tokens[who]}, follow_redirects=False)
        assert got.status_code == 303
    return client


def _csrf(client: TestClient, path: str = f"/c/{COMP}/submit") -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', client.get(path).text)
    assert found, "no csrf field"
    return found.group(1)


def _upload(client: TestClient, data: bytes, name: str = "preds.csv", **form: str) -> object:
    fields = {"csrf": _csrf(client), "message": "m", **form}
    return client.post(f"/c/{COMP}/submit", data=fields, files={"file": (name, data)})


def _sample(web: dict[str, object]) -> bytes:
    return (Path(str(web["public"])) / "sample_submission.csv").read_bytes()


def test_anonymous_reads_the_public_pages_only(web: dict[str, object]) -> None:
    anon = _client(web)
    home = anon.get("/")
    assert home.status_code == 200 and "Titanic" in home.text and "Sign in" in home.text
    assert "Your rank" not in home.text
    board = anon.get(f"/c/{COMP}")
    assert board.status_code == 200 and "Public leaderboard" in board.text
    assert "default-src 'none'" in board.headers["content-security-policy"]
    for path in (f"/c/{COMP}/submissions", f"/c/{COMP}/submit"):
        refused = anon.get(path)
        assert refused.status_code == 401 and "sign in" in refused.text.lower()
    assert anon.get("/c/nope").status_code == 404
    assert anon.get(f"/c/{COMP}/baselines").status_code == 200


def test_sign_in_keeps_the_token_in_a_strict_httponly_cookie(web: dict[str, object]) -> None:
    tokens: dict[str, str] = web["tokens"]  # type: ignore[assignment]
    client = TestClient(web["app"])
    bad = client.post("/signin", data={"token": "hst_nope"}, follow_redirects=False)
    assert bad.status_code == 401 and "unknown or revoked token" in bad.text
    got = client.post(
        "/signin",
        data={"token": tokens["alice"], "next": "//evil.example/"},
        follow_redirects=False,
    )
    assert got.status_code == 303 and got.headers["location"] == "/"  # no open redirect
    cookie = got.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie
    assert "samesite=strict" in cookie.lower()
    home = client.get("/")
    assert "Signed in as <strong>alice</strong>" in home.text and "Your rank" in home.text
    assert client.post("/signout", follow_redirects=False).status_code == 303


def test_submit_shows_the_rank_and_the_validators_message_as_the_cli_prints_it(
    web: dict[str, object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = _client(web, "alice")
    good = _upload(alice, _sample(web), message="all die")
    assert good.status_code == 200, good.text
    assert re.search(r'Rank <strong id="new-rank">1</strong> of 1', good.text)
    bad_csv = b"PassengerId,Nope\n1,2\n"
    bad = _upload(alice, bad_csv, name="bad.csv")
    assert bad.status_code == 422
    shown = re.search(r'<pre class="error"[^>]*>(.*?)</pre>', bad.text, re.S)
    assert shown is not None
    from harness.cli import cli

    monkeypatch.chdir(tmp_path)
    Path("bad.csv").write_bytes(bad_csv)
    printed = CliRunner().invoke(cli, ["submit", COMP, "bad.csv", "--as", "carol"])
    assert printed.exit_code == 1
    import html

    assert html.unescape(shown.group(1)) == printed.output.strip()
    listed = alice.get(f"/c/{COMP}/submissions").text
    assert "Error" in listed and "missing column" in listed and "all die" in listed
    import gzip

    packed = _upload(alice, gzip.compress(_sample(web)), name="preds.csv.gz", message="gz")
    assert packed.status_code == 200 and "new-rank" in packed.text


def test_another_participants_submissions_are_not_reachable(web: dict[str, object]) -> None:
    alice, bob, host = _client(web, "alice"), _client(web, "bob"), _client(web, "host")
    assert _upload(alice, _sample(web), message="alice secret plan").status_code == 200
    mine = bob.get(f"/c/{COMP}/submissions")
    assert mine.status_code == 200 and "alice secret plan" not in mine.text
    theirs = bob.get(f"/c/{COMP}/submissions", params={"participant": "alice"})
    assert theirs.status_code == 403 and "alice secret plan" not in theirs.text
    # selecting alice's entry from bob's session is refused by the referee
    run = re.search(
        r'name="submission" value="([0-9a-f]+)"', alice.get(f"/c/{COMP}/submissions").text
    )
    assert run is not None
    taken = bob.post(
        f"/c/{COMP}/select",
        data={"submission": run.group(1), "csrf": _csrf(bob)},
        follow_redirects=False,
    )
    assert taken.status_code == 403 and "not yours" in taken.text
    seen = host.get(f"/c/{COMP}/submissions", params={"participant": "alice"})
    assert seen.status_code == 200 and "alice secret plan" in seen.text


def test_posts_need_the_forms_csrf_field_and_this_sites_origin(web: dict[str, object]) -> None:
    alice = _client(web, "alice")
    files = {"file": ("p.csv", _sample(web))}
    forged = alice.post(f"/c/{COMP}/submit", data={"csrf": "0" * 32}, files=files)
    assert forged.status_code == 403 and "another site" in forged.text
    elsewhere = alice.post(
        f"/c/{COMP}/submit",
        data={"csrf": _csrf(alice)},
        files=files,
        headers={"origin": "https://evil.example"},
    )
    assert elsewhere.status_code == 403
    assert harness.submissions(COMP).empty  # nothing recorded


def test_names_and_messages_are_escaped(web: dict[str, object]) -> None:
    alice = _client(web, "alice")
    attack = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    assert _upload(alice, _sample(web), message=attack).status_code == 200
    page = alice.get(f"/c/{COMP}/submissions").text
    assert "<script>" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_selection_toggles(web: dict[str, object]) -> None:
    alice = _client(web, "alice")
    _upload(alice, _sample(web))
    page = alice.get(f"/c/{COMP}/submissions").text
    run = re.search(r'name="submission" value="([0-9a-f]+)"', page)
    assert run is not None and ">Select</button>" in page
    done = alice.post(
        f"/c/{COMP}/select",
        data={"submission": run.group(1), "selected": "yes", "csrf": _csrf(alice)},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert ">Unselect</button>" in alice.get(f"/c/{COMP}/submissions").text
    assert list(harness.submissions(COMP)["selected"]) == ["yes"]


def test_private_tab_and_shakeup_appear_after_the_reveal(
    web: dict[str, object], titanic: Path
) -> None:
    sample = pd.read_csv(titanic / "sample_submission.csv")
    for i, who in enumerate(("ann", "ben", "cid", "baseline/gbm")):
        frame = sample.assign(Survived=(sample.index * (i + 1)) % 2)
        harness.submit(COMP, frame, message=f"m{i}", participant=who)
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).strftime("%Y-%m-%dT%H:%MZ")
    harness.rules(COMP, deadline=later)
    anon = _client(web)
    board = anon.get(f"/c/{COMP}")
    assert "Private leaderboard" not in board.text and "Shake-up forecast" in board.text
    assert 'class="baseline"' in board.text and "<svg" in board.text
    hidden = anon.get(f"/c/{COMP}", params={"view": "private"})
    assert hidden.status_code == 403 and "hidden until the competition ends" in hidden.text
    assert anon.get(f"/c/{COMP}/shakeup").status_code == 403
    harness.reveal(COMP)
    board = anon.get(f"/c/{COMP}")
    assert "Private leaderboard" in board.text
    private = anon.get(f"/c/{COMP}", params={"view": "private"})
    assert private.status_code == 200 and "Medal" in private.text and "Kendall" in private.text
    shake = anon.get(f"/c/{COMP}/shakeup")
    assert shake.status_code == 200 and "Public rank to private rank" in shake.text
    assert "forecast from public rows" in shake.text


def test_baselines_list_the_studies(web: dict[str, object], settings: Settings) -> None:
    from harness.board.runs import StudyRuns

    from harness.registry import get_competition

    runs = StudyRuns(settings)
    comp = get_competition(COMP)
    parent = runs.start(
        comp,
        name="study titanic-gbm",
        tags={"harness.study": "titanic-gbm", "harness.model": "gbm"},
        params={"model": "gbm"},
    )
    runs.child(
        comp,
        parent,
        name="trial 0",
        params={},
        metrics={"cv_score": 0.8},
        tags={},
        start_ms=0,
        end_ms=1,
    )
    runs.end(parent, metrics={"best_cv_score": 0.8312, "trials": 20})
    page = _client(web).get(f"/c/{COMP}/baselines").text
    assert "titanic-gbm" in page and "0.83120" in page and ">20<" in page
    assert f"/runs/{parent}" in page and "optuna-dashboard" in page
    assert "trial 0" not in page


def test_local_mode_needs_no_token_and_answers_only_loopback(
    titanic: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(LOCAL_ENV, "tester")
    local = TestClient(create_app(settings, max_upload=200_000), base_url="http://127.0.0.1:8000")
    page = local.get(f"/c/{COMP}/submissions")
    assert page.status_code == 200 and "Signed in as <strong>tester</strong> (local)" in page.text
    sample = (titanic / "sample_submission.csv").read_bytes()
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', local.get(f"/c/{COMP}/submit").text)
    assert csrf is not None
    got = local.post(
        f"/c/{COMP}/submit",
        data={"csrf": csrf.group(1), "message": "local"},
        files={"file": ("p.csv", sample)},
    )
    assert got.status_code == 200 and "new-rank" in got.text
    assert list(harness.submissions(COMP)["participant"]) == ["tester"]
    rebound = local.get("/", headers={"host": "evil.example"})  # DNS rebinding
    assert rebound.status_code == 403


def test_export_writes_plain_public_pages(
    web: dict[str, object], settings: Settings, tmp_path: Path
) -> None:
    harness.submit(COMP, Path(str(web["public"])) / "sample_submission.csv", participant="ann")
    written = export(settings, tmp_path / "site")
    names = sorted(str(p.relative_to(tmp_path / "site")) for p in written)
    assert {"index.html", f"{COMP}/index.html", f"{COMP}/private.html", "static/style.css"} <= set(
        names
    )
    board = (tmp_path / "site" / COMP / "index.html").read_text()
    assert 'href="../static/style.css"' in board and "ann" in board
    assert "Sign in" not in board and "/c/" not in board  # nothing live is linked


def test_assets_ship_in_the_package_and_stay_small(web: dict[str, object]) -> None:
    for path in [*TEMPLATES.glob("*.html"), *STATIC.iterdir()]:
        text = path.read_text()
        assert "<script" not in text and "https://" not in text and "http://" not in text, path
    anon = _client(web)
    weight = len(anon.get(f"/c/{COMP}").content) + len(anon.get("/static/style.css").content)
    assert weight < 300_000
    assert 'name="viewport"' in anon.get("/").text


def test_serve_local_refuses_other_addresses_and_export_writes_files(
    titanic: Path, tmp_path: Path
) -> None:
    from harness.cli import cli

    refused = CliRunner().invoke(cli, ["serve", "--local", "--host", "0.0.0.0"])
    assert refused.exit_code == 2 and "127.0.0.1 only" in refused.output
    done = CliRunner().invoke(cli, ["serve", "--export", str(tmp_path / "site")])
    assert done.exit_code == 0, done.output
    assert (tmp_path / "site" / "index.html").exists()
