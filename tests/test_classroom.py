"""A class on the pages (harness/server/classroom.py, signup.py) in-process: sign-up with an
invitation code (uses, expiry, revoke, re-issue; a taken name spends no use), failed sign-in and
sign-up attempts limited per address, the Overview's Markdown rendered inert, Data, Rules, the
Team page (create, join, a merge refused with its numbers) and the host's page (rules, reveal,
invitations), every POST behind CSRF; and the team actions over the HTTP JSON API."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

import harness
from harness.server.app import create_app
from harness.server.classroom import markdown
from harness.server.participants import Participants
from harness.server.signup import Invitations
from harness.settings import Settings

COMP = "titanic"


@pytest.fixture
def web(titanic: Path, settings: Settings) -> dict[str, object]:
    people = Participants(settings)
    host = people.add("host", role="host")
    return {"app": create_app(settings, max_upload=200_000), "host": host, "public": titanic}


def _signed_in(web: dict[str, object], token: str) -> TestClient:
    client = TestClient(web["app"])
    got = client.post("/signin", data={"token": token}, follow_redirects=False)
    assert got.status_code == 303
    return client


def _csrf(client: TestClient, path: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', client.get(path).text)
    assert found, f"no csrf field on {path}"
    return found.group(1)


def _invite(web: dict[str, object], uses: int = 5) -> str:
    host = _signed_in(web, str(web["host"]))
    csrf = _csrf(host, f"/c/{COMP}/host")
    page = host.post(
        f"/c/{COMP}/host", data={"csrf": csrf, "action": "invite", "uses": str(uses), "days": "7"}
    )
    assert page.status_code == 200
    found = re.search(r"New invitation code: <code>(inv_[\w-]+)</code>", page.text)
    assert found, page.text[-2000:]
    return found.group(1)


def _sign_up(web: dict[str, object], code: str, name: str) -> tuple[TestClient, str]:
    client = TestClient(web["app"])
    page = client.post("/signup", data={"code": code, "name": name})
    assert page.status_code == 200, page.text[-1500:]
    token = re.search(r'<pre id="token">(hst_[\w-]+)</pre>', page.text)
    assert token
    return client, token.group(1)


def test_markdown_with_script_javascript_links_and_raw_html_renders_inert() -> None:
    hostile = (
        "# Title\n\n<script>alert(1)</script>\n\n[click](javascript:alert(2)) "
        '[ok](https://example.org "t")\n\n<img src=x onerror=alert(3)>\n\n'
        '<a href="javascript:alert(4)">raw</a> **bold** `code`\n\n'
        "[data](data:text/html;base64,PHNjcmlwdD4=)\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    )
    html = markdown(hostile)
    tags = _tags(html)
    assert {t for t, _ in tags} <= {"h1", "p", "a", "strong", "code", "table", "thead", "tbody",
                                    "tr", "th", "td"}  # fmt: skip
    links = [dict(attrs) for t, attrs in tags if t == "a"]
    assert [a["href"] for a in links] == ["https://example.org"]  # no javascript:, no data:
    assert all(not k.startswith("on") for _, attrs in tags for k, _ in attrs)
    assert "&lt;script&gt;" in html and "&lt;img" in html  # raw HTML is shown as text
    assert '<a href="https://example.org" title="t" rel="noopener noreferrer nofollow">ok</a>' in (
        html
    )
    assert "<h1>Title</h1>" in html and "<strong>bold</strong>" in html and "<table>" in html


def _tags(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    from html.parser import HTMLParser

    found: list[tuple[str, list[tuple[str, str | None]]]] = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.append((tag, attrs))

    Collect().feed(html)
    return found


def test_sign_up_with_a_code_shows_the_token_once_and_signs_in(web: dict[str, object]) -> None:
    code = _invite(web, uses=2)
    client, token = _sign_up(web, code, "Ann Lee")
    assert "Signed in as <strong>Ann Lee</strong>" in client.get("/").text
    assert token not in client.get("/").text  # shown once, on the sign-up answer only
    taken = TestClient(web["app"]).post("/signup", data={"code": code, "name": "Ann Lee"})
    assert taken.status_code == 400 and "the name &#39;Ann Lee&#39; is taken" in taken.text
    _sign_up(web, code, "bob")  # the taken name spent no use: the second use is still there
    used_up = TestClient(web["app"]).post("/signup", data={"code": code, "name": "cat"})
    assert used_up.status_code == 403 and "this invitation code is used up" in used_up.text
    bad_name = TestClient(web["app"]).post("/signup", data={"code": code, "name": "<b>"})
    assert bad_name.status_code == 422 and "&lt;b&gt;" in bad_name.text


def test_the_host_lists_revokes_and_reissues_codes(
    web: dict[str, object], settings: Settings
) -> None:
    code = _invite(web)
    invitations = Invitations(Participants(settings))
    (listed,) = invitations.list()
    assert listed.code == code and listed.state() == "open"
    host = _signed_in(web, str(web["host"]))
    page = host.get(f"/c/{COMP}/host")
    assert code in page.text and "0 of 5" in page.text
    csrf = _csrf(host, f"/c/{COMP}/host")
    host.post(f"/c/{COMP}/host", data={"csrf": csrf, "action": "reissue", "target": listed.id})
    old, new = invitations.list()
    assert old.state() == "revoked" and new.state() == "open" and new.max_uses == 5
    refused = TestClient(web["app"]).post("/signup", data={"code": code, "name": "ann"})
    assert refused.status_code == 403 and "this invitation code is revoked" in refused.text
    _sign_up(web, new.code, "ann")
    expired = invitations.create(uses=3, days=1e-9)
    late = TestClient(web["app"]).post("/signup", data={"code": expired.code, "name": "zed"})
    assert late.status_code == 403 and "expired" in late.text


def test_failed_sign_in_and_sign_up_attempts_are_limited_per_address(
    web: dict[str, object],
) -> None:
    client = TestClient(web["app"])
    for _ in range(10):
        assert client.post("/signup", data={"code": "inv_guess", "name": "x"}).status_code == 403
    refused = client.post("/signin", data={"token": "hst_guess"})
    assert refused.status_code == 429
    assert "too many failed sign-in attempts from your address (10 in 10 min" in refused.text
    # a good token is refused too while the address is over: the limit is per address
    again = client.post("/signin", data={"token": str(web["host"])}, follow_redirects=False)
    assert again.status_code == 429


def test_overview_data_and_rules_pages(web: dict[str, object]) -> None:
    anon = TestClient(web["app"])
    overview = anon.get(f"/c/{COMP}/overview")
    assert overview.status_code == 200 and "<h1>" in overview.text and "Overview" in overview.text
    data = anon.get(f"/c/{COMP}/data")
    assert "train.csv" in data.text and f"harness download {COMP} --server" in data.text
    assert "Sign in</a> to download" in data.text
    assert anon.get(f"/c/{COMP}/data/train.csv").status_code == 401
    code = _invite(web)
    client, _ = _sign_up(web, code, "ann")
    got = client.get(f"/c/{COMP}/data/train.csv")
    train = Path(str(web["public"])) / "train.csv"
    assert got.status_code == 200 and got.content == train.read_bytes()
    assert client.get(f"/c/{COMP}/data/../private/answers.csv").status_code == 404
    harness.rules(COMP, daily_limit=4, team_size=3, deadline="2099-01-01T00:00Z")
    rules = client.get(f"/c/{COMP}/rules").text
    assert "4 valid submissions per team per UTC day" in rules
    assert "at most 3 members" in rules and "2099-01-01 00:00 UTC (in " in rules
    assert "Your team has <strong>4</strong> left today" in rules


def test_a_team_forms_on_the_pages_and_a_merge_over_the_limit_is_refused_with_numbers(
    web: dict[str, object],
) -> None:
    code = _invite(web)
    ann, _ = _sign_up(web, code, "ann")
    bob, _ = _sign_up(web, code, "bob")
    cat, _ = _sign_up(web, code, "cat")
    path = f"/c/{COMP}/team"
    assert ann.post(path, data={"action": "create", "value": "Owls"}).status_code == 403  # csrf
    made = ann.post(path, data={"csrf": _csrf(ann, path), "action": "create", "value": "Owls"})
    assert made.status_code == 200 and "Team <strong>Owls</strong>: ann." in made.text
    team_code = re.search(r'<code id="team-code">([\w-]+)</code>', made.text)
    assert team_code
    joined = bob.post(
        path, data={"csrf": _csrf(bob, path), "action": "join", "value": team_code.group(1)}
    )
    assert "Team <strong>Owls</strong>: ann, bob." in joined.text
    harness.rules(COMP, daily_limit=2)
    sample = (Path(str(web["public"])) / "sample_submission.csv").read_bytes()
    for client in (ann, bob, cat):
        csrf = _csrf(client, f"/c/{COMP}/submit")
        sent = client.post(
            f"/c/{COMP}/submit",
            data={"csrf": csrf, "message": "m"},
            files={"file": ("p.csv", sample)},
        )
        assert sent.status_code == 200, sent.text[-800:]
    board = ann.get(f"/c/{COMP}").text
    assert board.count(">Owls<") == 0 and board.count("Owls") == 1 and "ann, bob" in board
    refused = cat.post(
        path, data={"csrf": _csrf(cat, path), "action": "join", "value": team_code.group(1)}
    )
    assert refused.status_code == 403
    assert "a team has 2 submissions a day: Owls made 2 today and cat 1 (3 together)" in (
        refused.text
    )


def test_the_host_page_sets_rules_and_reveals_and_is_the_hosts_only(
    web: dict[str, object],
) -> None:
    code = _invite(web)
    ann, _ = _sign_up(web, code, "ann")
    assert ann.get(f"/c/{COMP}/host").status_code == 403
    host = _signed_in(web, str(web["host"]))
    path = f"/c/{COMP}/host"
    csrf = _csrf(host, path)
    assert host.post(path, data={"action": "reveal"}).status_code == 403  # no csrf
    done = host.post(
        path, data={"csrf": csrf, "action": "rules", "daily_limit": "3", "team_size": "2"}
    )
    assert done.status_code == 200 and "3 per UTC day" in done.text
    assert harness.rules(COMP).team_size == 2
    bad = host.post(path, data={"csrf": csrf, "action": "rules", "daily_limit": "lots"})
    assert bad.status_code == 400 and "the daily limit must be a whole number or none" in bad.text
    host.post(path, data={"csrf": csrf, "action": "reveal"})
    assert harness.rules(COMP).revealed_at is not None
    host.post(path, data={"csrf": csrf, "action": "revoke-participant", "target": "ann"})
    assert ann.get(f"/c/{COMP}/team").status_code == 401  # the token is revoked


def test_teams_over_the_http_json_api(web: dict[str, object], settings: Settings) -> None:
    people = Participants(settings)
    ann, bob = people.add("ann"), people.add("bob")
    http = TestClient(web["app"])
    auth = {"Authorization": f"Bearer {ann}"}
    made = http.post(f"/api/competitions/{COMP}/team", json={"name": "Owls"}, headers=auth)
    assert made.status_code == 200 and made.json()["members"] == ["ann"]
    code = made.json()["code"]
    bob_auth = {"Authorization": f"Bearer {bob}"}
    got = http.post(f"/api/competitions/{COMP}/team/join", json={"code": code}, headers=bob_auth)
    assert got.json()["members"] == ["ann", "bob"]
    listed = http.get(f"/api/competitions/{COMP}/teams").json()
    assert listed == [
        {
            "competition": COMP,
            "name": "Owls",
            "members": ["ann", "bob"],
            "code": None,
            "requests": [],
            "solo": False,
        }
    ]
    harness.rules(COMP, team_size=2)
    cat = people.add("cat")
    refused = http.post(
        f"/api/competitions/{COMP}/team/join",
        json={"code": code},
        headers={"Authorization": f"Bearer {cat}"},
    )
    assert refused.status_code == 403
    assert (
        refused.json()["error"]
        == "a team has at most 2 members: Owls has 2 and cat 1 (3 together)"
    )
    assert http.post(f"/api/competitions/{COMP}/team", json={"name": "x"}).status_code == 401
    frame = pd.DataFrame(harness.leaderboard(COMP))
    assert frame.empty


def test_the_invitations_cli(home: Path) -> None:
    from click.testing import CliRunner

    from harness.cli import cli

    def run(*args: str) -> object:
        return CliRunner().invoke(cli, list(args))

    made = run("invitations", "create", "--uses", "3", "--days", "2")
    assert made.exit_code == 0 and made.stdout.strip().startswith("inv_")
    code = made.stdout.strip()
    listed = run("invitations", "list")
    assert code in listed.stdout and "open" in listed.stdout
    ident = re.search(r"invitation (\w+): 0 of 3 used", made.stderr)
    assert ident
    revoked = run("invitations", "revoke", ident.group(1))
    assert revoked.exit_code == 0 and "revoked" in revoked.stdout
    again = run("invitations", "reissue", ident.group(1))
    assert again.exit_code == 0 and "open" in again.stdout
    missing = run("invitations", "revoke", "nope")
    assert missing.exit_code == 1 and "Error: no invitation nope" in missing.stderr
    zero = run("invitations", "create", "--uses", "0")
    assert zero.exit_code == 2


def test_merge_requests_are_asked_and_accepted_on_the_team_page(web: dict[str, object]) -> None:
    code = _invite(web)
    ann, _ = _sign_up(web, code, "ann")
    bob, _ = _sign_up(web, code, "bob")
    path = f"/c/{COMP}/team"
    ann.post(path, data={"csrf": _csrf(ann, path), "action": "create", "value": "Owls"})
    bob.post(path, data={"csrf": _csrf(bob, path), "action": "create", "value": "Bats"})
    unknown = bob.post(path, data={"csrf": _csrf(bob, path), "action": "merge", "value": "Cats"})
    assert unknown.status_code == 404 and "no team named Cats in titanic" in unknown.text
    bob.post(path, data={"csrf": _csrf(bob, path), "action": "merge", "value": "Owls"})
    page = ann.get(path).text
    assert "Bats asks to merge in." in page
    done = ann.post(path, data={"csrf": _csrf(ann, path), "action": "accept", "value": "Bats"})
    assert "Team <strong>Owls</strong>: ann, bob." in done.text
    assert "Team <strong>Owls</strong>: ann, bob." in bob.get(path).text
