"""Teams and sign-up on the team setup (as tests/test_hosted.py): `mlflow server` on
PostgreSQL, `harness serve --workers 4` with the Harness database in PostgreSQL. Team members
on four teams race sixteen submissions through the HTTP API (each team gets exactly its daily
limit, never more); six solo participants race to join a team capped at three (exactly two get
in); ten sign-ups race one invitation code of four uses (exactly four get a token)."""

from __future__ import annotations

import concurrent.futures
import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

import harness
from harness.client import Client, RemoteError
from harness.server.participants import Participants
from harness.server.signup import Invitations
from harness.settings import Settings
from tests import servers

COMP = "titanic"


@pytest.fixture(scope="module")
def postgres() -> Iterator[servers.Postgres]:
    pg = servers.Postgres()
    yield pg
    pg.close()


def test_teams_and_sign_ups_hold_their_rules_on_postgresql_with_four_workers(
    postgres: servers.Postgres, titanic: Path, settings: Settings, tmp_path: Path
) -> None:
    backend, database = postgres.url("mlflow_teams"), postgres.url("harness_teams")
    with servers.mlflow_server(backend, tmp_path / "artifacts") as tracking:
        env = {
            **os.environ,
            "HARNESS_HOME": str(settings.home),
            "MLFLOW_TRACKING_URI": tracking,
            "HARNESS_DATABASE": database,
        }
        os.environ["HARNESS_DATABASE"] = database  # this process adds the participants there
        try:
            people = Participants(Settings.resolve(settings.home, tracking))
            names = [f"m{i}" for i in range(8)] + [f"s{i}" for i in range(6)] + ["cap"]
            tokens = {name: people.add(name) for name in names}
            invitations = Invitations(people)
            code = invitations.create(uses=4, days=1).code

            def sign_up(i: int) -> str:
                try:
                    invitations.sign_up(code, f"new{i}")
                    return "in"
                except harness.HarnessError as exc:
                    assert "used up" in str(exc), str(exc)
                    return "refused"

            with concurrent.futures.ThreadPoolExecutor(10) as pool:
                signed = list(pool.map(sign_up, range(10)))
            assert signed.count("in") == 4, signed
            (listed,) = invitations.list()
            assert listed.uses == 4
            harness.rules(COMP, daily_limit=3, team_size=3, tracking_uri=tracking)
        finally:
            del os.environ["HARNESS_DATABASE"]
        with servers.harness_serve(env, workers=4) as url:
            for t in range(4):  # teams of two, made and joined over HTTP
                made = Client(url, tokens[f"m{2 * t}"]).team(COMP, "", {"name": f"T{t}"})
                Client(url, tokens[f"m{2 * t + 1}"]).team(COMP, "join", {"code": made["code"]})
            files = []
            for i in range(16):
                frame = pd.read_csv(titanic / "sample_submission.csv")
                frame["Survived"] = (frame.index + i) % 2
                path = tmp_path / f"p{i}.csv"
                frame.to_csv(path, index=False)
                files.append(path)

            def one(i: int) -> str:
                try:
                    Client(url, tokens[f"m{i % 8}"]).submit(COMP, files[i], message=f"{i}")
                    return "accepted"
                except RemoteError as exc:
                    assert exc.status == 429, str(exc)
                    return "refused"

            with concurrent.futures.ThreadPoolExecutor(16) as pool:
                said = list(pool.map(one, range(16)))
            assert said.count("accepted") == 12 and said.count("refused") == 4, said
            board = Client(url, tokens["m0"]).leaderboard(COMP)["rows"]
            assert sorted(r["participant"] for r in board) == ["T0", "T1", "T2", "T3"]
            assert all(r["submissions"] == 3 for r in board)
            assert {r["members"] for r in board} == {f"m{2 * t}, m{2 * t + 1}" for t in range(4)}
            capped = Client(url, tokens["cap"]).team(COMP, "", {"name": "Capped"})

            def join(i: int) -> str:
                try:
                    Client(url, tokens[f"s{i}"]).team(COMP, "join", {"code": capped["code"]})
                    return "joined"
                except RemoteError as exc:
                    assert exc.status == 403 and "at most 3 members" in str(exc), str(exc)
                    return "refused"

            with concurrent.futures.ThreadPoolExecutor(6) as pool:
                joined = list(pool.map(join, range(6)))
            assert joined.count("joined") == 2, joined
            teams = {t["name"]: t["members"] for t in Client(url, tokens["cap"]).teams(COMP)}
            assert len(teams["Capped"]) == 3


def test_the_team_commands_against_a_live_server(
    titanic: Path, settings: Settings, tmp_path: Path
) -> None:
    import subprocess

    people = Participants(settings)
    ann, bob = people.add("ann"), people.add("bob")
    env = {**os.environ, "HARNESS_HOME": str(settings.home), "MLFLOW_DISABLE_TELEMETRY": "true"}

    def cli(token: str, *args: str) -> subprocess.CompletedProcess[str]:
        mine = {k: v for k, v in os.environ.items() if k not in ("HARNESS_HOME",)}
        mine.update(HARNESS_SERVER=url, HARNESS_TOKEN=token, HARNESS_HOME=str(tmp_path / "x"))
        return subprocess.run(
            [str(servers.BIN / "harness"), "team", *args],
            env=mine,
            capture_output=True,
            text=True,
            cwd=tmp_path,
        )

    with servers.harness_serve(env) as url:
        made = cli(ann, "create", COMP, "Owls")
        assert made.returncode == 0, made.stderr
        code = made.stdout.split("invitation code: ")[1].split()[0]
        joined = harness.team(COMP, "join", code, server=url, token=bob)
        assert joined["members"] == ["ann", "bob"]
        shown = cli(bob, "show", COMP)
        assert shown.stdout.splitlines()[0] == "Owls: ann, bob" and code in shown.stdout
        refused = cli(bob, "create", COMP, "Hawks")
        assert refused.returncode == 1
        assert refused.stderr.strip() == (
            "Error: you are in team Owls already: leave it first (a participant is in one "
            "team per competition)"
        )
        as_other = cli(bob, "show", COMP, "--as", "ann")
        assert as_other.returncode == 2 and "--as is refused" in as_other.stderr
        listed = cli(ann, "list", COMP)
        assert listed.stdout.strip() == "Owls: ann, bob"
