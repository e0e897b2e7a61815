"""Teams as Kaggle has them (leaderboard.teams through the board service): create, invite,
join, leave, merge requests; the size cap, the merger deadline and the combined-submissions
rule refused with their numbers; the team owns the daily limit, the selections and the entry;
sixteen racing processes never get a team past its limit or a merge past the rule."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from harness.board.service import Board

import harness
from harness.cli import cli
from harness.errors import HarnessError, LimitReached, NotFound, RuleBroken
from harness.settings import Settings

COMP = "titanic"


def _predictions(titanic: Path, seed: int) -> pd.DataFrame:
    test = pd.read_csv(titanic / "test.csv")
    labels = np.random.default_rng(seed).integers(0, 2, len(test))
    return pd.DataFrame({"PassengerId": test["PassengerId"], "Survived": labels})


def _board(settings: Settings) -> Board:
    return Board(COMP, settings)


def test_a_solo_participant_is_a_team_of_one(titanic: Path, settings: Settings) -> None:
    board = _board(settings)
    got = board.team("ann")
    assert got.solo and got.members == ["ann"] and got.code is None
    harness.submit(COMP, _predictions(titanic, 1), participant="ann")
    frame = board.standings().frame
    assert list(frame["participant"]) == ["ann"]
    assert "members" not in frame.columns  # nothing changes where nobody made a team


def test_a_team_shares_its_entry_limit_and_submissions(titanic: Path, settings: Settings) -> None:
    board = _board(settings)
    board.set_rules(daily_limit=3)
    made = board.create_team("Owls", participant="ann")
    assert made.members == ["ann"] and made.code and made.code.startswith("team_")
    joined = board.join_team(made.code, participant="bob")
    assert joined.members == ["ann", "bob"]
    harness.submit(COMP, _predictions(titanic, 1), participant="ann")
    got = harness.submit(COMP, _predictions(titanic, 2), participant="bob")
    assert got.left_today == 1 and got.rank == 1
    harness.submit(COMP, _predictions(titanic, 3), participant="ann")
    with pytest.raises(LimitReached, match="3 of 3 used today"):
        harness.submit(COMP, _predictions(titanic, 4), participant="bob")
    frame = board.standings().frame
    assert list(frame["participant"]) == ["Owls"]  # the team once
    assert frame["members"].iloc[0] == "ann, bob" and frame["submissions"].iloc[0] == 3
    history = board.submissions("bob").frame  # the team's, each with who submitted it
    assert list(history["participant"]) == ["ann", "bob", "ann"]
    assert board.left_today("ann") == 0
    card = board.card(harness_viewer("bob"), standing=True)
    assert card.rank == 1 and card.left_today == 0 and card.participants == 1  # one team


def harness_viewer(name: str):  # type: ignore[no-untyped-def]
    from harness.board.service import Viewer

    return Viewer(name)


def test_selections_belong_to_the_team(titanic: Path, settings: Settings) -> None:
    board = _board(settings)
    board.set_rules(selections=1)
    code = board.create_team("Owls", participant="ann").code
    assert code is not None
    board.join_team(code, participant="bob")
    first = harness.submit(COMP, _predictions(titanic, 1), participant="ann").entry.run_id
    second = harness.submit(COMP, _predictions(titanic, 2), participant="bob").entry.run_id
    assert board.select(first, participant="bob").selections == [first]  # a teammate's
    with pytest.raises(RuleBroken, match=r"final selections: 1 of 1 used"):
        board.select(second, participant="ann")


def test_the_size_cap_and_the_merger_deadline_are_refused_with_numbers(
    titanic: Path, settings: Settings
) -> None:
    board = _board(settings)
    harness.submit(COMP, _predictions(titanic, 0), participant="host")  # the experiment
    board.set_rules(team_size=2)
    code = board.create_team("Owls", participant="ann").code
    assert code is not None
    board.join_team(code, participant="bob")
    with pytest.raises(RuleBroken) as refused:
        board.join_team(code, participant="cat")
    assert str(refused.value) == (
        "a team has at most 2 members: Owls has 2 and cat 1 (3 together)"
    )
    board.set_rules(team_size=None, merger_deadline="2020-01-01T00:00Z")
    with pytest.raises(RuleBroken, match=r"the merger deadline passed \(2020-01-01 00:00 UTC\)"):
        board.join_team(code, participant="cat")
    assert board.team("cat").solo


def test_a_merge_over_the_combined_limit_is_refused_with_the_numbers(
    titanic: Path, settings: Settings
) -> None:
    board = _board(settings)
    board.set_rules(daily_limit=2)
    for seed, who in enumerate(["ann", "ann", "bob"]):
        harness.submit(COMP, _predictions(titanic, seed), participant=who)
    board.create_team("Owls", participant="ann")
    board.create_team("Bats", participant="bob")
    with pytest.raises(RuleBroken) as refused:
        board.request_merge("Owls", participant="bob")
    assert str(refused.value) == (
        "a team has 2 submissions a day: Owls made 2 today and Bats 1 (3 together)"
    )
    assert board.team("bob").members == ["bob"]


def test_merge_requests_are_accepted_by_the_team_asked(titanic: Path, settings: Settings) -> None:
    board = _board(settings)
    board.create_team("Owls", participant="ann")
    board.create_team("Bats", participant="bob")
    asked = board.request_merge("Owls", participant="bob")
    assert asked.requests == ["Bats"] and asked.code is None  # others never see the code
    with pytest.raises(RuleBroken, match="team Cats has not asked"):
        board.accept_merge("Cats", participant="ann")
    merged = board.accept_merge("Bats", participant="ann")
    assert merged.members == ["ann", "bob"] and merged.requests == []
    assert [t.name for t in board.teams()] == ["Owls"]


def test_leaving_is_refused_once_the_team_submitted(titanic: Path, settings: Settings) -> None:
    board = _board(settings)
    code = board.create_team("Owls", participant="ann").code
    assert code is not None
    board.join_team(code, participant="bob")
    assert board.leave_team(participant="bob").solo
    board.join_team(code, participant="bob")
    harness.submit(COMP, _predictions(titanic, 1), participant="ann")
    with pytest.raises(RuleBroken, match="team Owls has made 1 valid submission: a member cannot"):
        board.leave_team(participant="bob")


def test_team_names_and_codes_are_checked(titanic: Path, settings: Settings) -> None:
    board = _board(settings)
    harness.submit(COMP, _predictions(titanic, 1), participant="zed")
    with pytest.raises(HarnessError, match="team name '<b>' has '<'"):
        board.create_team("<b>", participant="ann")
    with pytest.raises(RuleBroken, match="zed is a participant's name"):
        board.create_team("zed", participant="ann")
    board.create_team("Owls", participant="ann")
    with pytest.raises(RuleBroken, match="you are in team Owls already"):
        board.create_team("Hawks", participant="ann")
    with pytest.raises(RuleBroken, match="a team named Owls exists"):
        board.create_team("Owls", participant="bob")
    with pytest.raises(NotFound, match="no team in titanic has this invitation code"):
        board.join_team("team_nope", participant="bob")
    old = board.team("ann").code
    new = board.renew_team_code(participant="ann").code
    assert new != old
    with pytest.raises(NotFound):
        board.join_team(str(old), participant="bob")


def test_the_team_cli(titanic: Path) -> None:
    def run(*args: str) -> object:
        return CliRunner().invoke(cli, list(args))

    made = run("team", "create", COMP, "Owls", "--as", "ann")
    assert made.exit_code == 0, made.output
    code = made.stdout.split("invitation code: ")[1].split()[0]
    joined = run("team", "join", COMP, code, "--as", "bob")
    assert joined.exit_code == 0 and "Owls: ann, bob" in joined.stdout
    shown = run("team", "show", COMP, "--as", "bob")
    assert code in shown.stdout
    listed = run("team", "list", COMP)
    assert "Owls" in listed.stdout and code not in listed.stdout
    run("rules", COMP, "--team-size", "2")
    refused = run("team", "join", COMP, code, "--as", "cat")
    assert refused.exit_code == 1
    assert "Error: a team has at most 2 members: Owls has 2 and cat 1 (3 together)" in (
        refused.stderr
    )


# -- racing --------------------------------------------------------------------------------------

_RACER = r"""
import sys
import harness
from harness.board.service import Board
from harness.errors import HarnessError
from harness.settings import Settings

me, path, other = sys.argv[1], sys.argv[2], sys.argv[3]
board = Board("titanic", Settings.resolve())
said = []
for step in range(3):
    try:
        harness.submit("titanic", path, participant=me, message=f"{me} {step}")
        said.append("submitted")
    except HarnessError as exc:
        said.append("limit" if "daily limit" in str(exc) else "refused")
    try:
        code = board.team(other).code
        if code:
            board.join_team(code, participant=me)
            said.append("joined")
    except HarnessError:
        said.append("no-merge")
print(" ".join(said))
"""


def test_sixteen_racing_processes_never_get_a_team_past_its_limit(
    titanic: Path, settings: Settings, tmp_path: Path
) -> None:
    board = _board(settings)
    board.set_rules(daily_limit=3, team_size=4)
    harness.submit(COMP, _predictions(titanic, 0), participant="warm-up")
    for i in range(0, 16, 4):  # four teams to join, each led by one racer
        board.create_team(f"team{i}", participant=f"r{i}")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = []
    for i in range(16):
        path = tmp_path / f"p{i}.csv"
        _predictions(titanic, 100 + i).to_csv(path, index=False)
        leader = f"r{(i // 4) * 4}" if i % 4 else f"r{(i + 4) % 16}"
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", _RACER, f"r{i}", str(path), leader],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    said = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), [e[-800:] for _, e in said]
    runs = harness.submissions(COMP)
    valid = runs[(runs["status"] == "complete") & runs["participant"].str.startswith("r")]
    teams = board.teams()
    seen = set()
    for team in teams:
        assert len(team.members) <= 4
        mine = valid[valid["participant"].isin(team.members)]
        assert len(mine) <= 3, (team, mine[["participant", "message"]])
        seen.update(team.members)
    for alone in {f"r{i}" for i in range(16)} - seen:
        assert (valid["participant"] == alone).sum() <= 3
    assert len(valid) >= 4  # each team submitted, the rest was refused with a reason
    told = " ".join(out for out, _ in said).split()
    assert told.count("joined") >= 1  # merges went through …
    assert told.count("no-merge") >= 1 and told.count("limit") >= 1  # … and the rules bit
    # the board shows each team once
    frame = board.standings(stats=False).frame
    assert frame["participant"].is_unique
    today = dt.datetime.now(dt.UTC).date()
    assert all(pd.Timestamp(t).date() == today for t in valid["submitted_at"])


def test_the_doors_agree_on_a_team(titanic: Path, settings: Settings) -> None:
    import re

    from fastapi.testclient import TestClient

    from harness.server.app import create_app
    from harness.server.participants import Participants

    made = harness.team(COMP, "create", "Owls", participant="ann")
    harness.team(COMP, "join", made["code"], participant="bob")
    token = Participants(settings).add("bob")
    with TestClient(create_app(settings, max_upload=0)) as http:
        api = http.get(
            f"/api/competitions/{COMP}/team", headers={"Authorization": f"Bearer {token}"}
        ).json()
        http.post("/signin", data={"token": token})
        page = http.get(f"/c/{COMP}/team").text
    cli_out = CliRunner().invoke(cli, ["team", "show", COMP, "--as", "bob"]).stdout
    notebook = harness.team(COMP, participant="bob")
    assert api == notebook and notebook["members"] == ["ann", "bob"]
    assert cli_out.splitlines()[0] == "Owls: ann, bob"
    assert f"invitation code: {made['code']}" in cli_out
    found = re.search(r'<code id="team-code">([\w-]+)</code>', page)
    assert found and found.group(1) == api["code"] == made["code"]
    assert "Team <strong>Owls</strong>: ann, bob." in page
    with pytest.raises(HarnessError, match="team action must be one of show, create"):
        harness.team(COMP, "disband", participant="bob")


def test_the_ladder_is_the_teams(titanic: Path, settings: Settings) -> None:
    board = _board(settings)
    board.set_rules(ladder=True)
    code = board.create_team("Owls", participant="ann").code
    assert code is not None
    board.join_team(code, participant="bob")
    test = pd.read_csv(titanic / "test.csv")
    good = pd.DataFrame(
        {"PassengerId": test["PassengerId"], "Survived": (test["Sex"] == "female").astype(int)}
    )
    first = harness.submit(COMP, good, participant="ann")
    again = harness.submit(COMP, good, participant="bob")  # the same file: no improvement
    assert first.entry.tags["harness.ladder"] == "accepted"
    assert again.entry.tags["harness.ladder"] == "held"
    assert again.shown_score == first.shown_score


def test_a_team_named_as_a_later_solo_participant_keeps_two_rows(
    titanic: Path, settings: Settings
) -> None:
    board = _board(settings)
    board.create_team("bob", participant="ann")  # bob had not submitted yet
    harness.submit(COMP, _predictions(titanic, 1), participant="ann")
    got = harness.submit(COMP, _predictions(titanic, 2), participant="bob")
    assert sorted(board.standings().frame["participant"]) == ["bob", "bob (solo)"]
    assert got.participants == 2 and got.rank in (1, 2)
