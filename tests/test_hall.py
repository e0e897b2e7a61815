"""The hall (DESIGN.md, "The hall"): one board service behind the four front doors.

- parity: for one store with submissions, an error, rules and a selection, the CLI's JSON, the
  notebook API, the HTTP JSON and the page text give the same standings, counts and statuses;
- fast reads: a warm `harness leaderboard` on a local store that nothing wrote to since the
  last read answers from the signed index without importing MLflow, and any write shows at the
  next read;
- errors carry their HTTP status in their class.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import harness
from harness import errors
from harness.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HARNESS_HOME": str(home)}
    env.pop("MLFLOW_TRACKING_URI", None)
    env.pop("HARNESS_SERVER", None)
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )


def _predictions(home: Path, seed: int) -> pd.DataFrame:
    import numpy as np

    sample = pd.read_csv(home / "public" / "titanic" / "sample_submission.csv")
    sample.iloc[:, 1] = np.random.RandomState(seed).randint(0, 2, len(sample))
    return sample


@pytest.fixture
def store(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    harness.prepare("titanic", home=home)
    for seed, who in enumerate(["alice", "bob", "alice", "carol"]):
        harness.submit("titanic", _predictions(home, seed), participant=who, home=home)
    bad = tmp_path / "bad.csv"
    bad.write_text("PassengerId,Survived\n1,2\n")
    with pytest.raises(errors.InvalidSubmission):
        harness.submit("titanic", bad, participant="bob", home=home)
    harness.rules("titanic", daily_limit=9, selections=1, home=home)
    first = harness.submissions("titanic", "alice", home=home)["run_id"].iloc[0]
    harness.select("titanic", first[:8], participant="alice", home=home)
    return home


def _age(home: Path, seconds: float = 10) -> None:
    """Date the store's files back, as if written ``seconds`` ago (past the racy window)."""
    then = time.time() - seconds
    for path in home.glob("mlflow.db*"):
        os.utime(path, (then, then))


def test_the_four_doors_agree(store: Path) -> None:
    from fastapi.testclient import TestClient

    from harness.server.app import create_app
    from harness.server.participants import Participants

    settings = Settings.resolve(store)
    token = Participants(settings).add("alice", role="host")
    with TestClient(create_app(settings, max_upload=0)) as http:
        auth = {"Authorization": f"Bearer {token}"}
        api_board = http.get("/api/competitions/titanic/leaderboard").json()
        api_subs = http.get("/api/competitions/titanic/submissions", headers=auth).json()
        api_card = http.get("/api/competitions/titanic").json()
        page = http.get("/c/titanic").text
    cli_board = json.loads(_cli(store, "leaderboard", "titanic", "--format", "json").stdout)
    cli_subs = json.loads(_cli(store, "submissions", "titanic", "--format", "json").stdout)
    nb_board = harness.leaderboard("titanic", home=store)
    nb_subs = harness.submissions("titanic", home=store)

    def standings(rows: list[dict[str, object]]) -> list[tuple[object, object, object]]:
        return [(r["rank"], r["participant"], round(float(r["score"]), 9)) for r in rows]

    expected = standings(nb_board.to_dict(orient="records"))
    assert standings(cli_board) == expected == standings(api_board["rows"])
    assert sorted(p for _, p, _ in expected) == ["alice", "bob", "carol"]
    for _, who, score in expected:  # the page shows every participant with its score
        assert f"{who}" in page and f"{score:.5f}" in page

    def statuses(rows: list[dict[str, object]]) -> list[tuple[object, object, object]]:
        return [(r["id"], r["status"], r["selected"]) for r in rows]

    nb_rows = nb_subs.to_dict(orient="records")
    assert statuses(cli_subs) == statuses(nb_rows) == statuses(api_subs["rows"])
    assert sorted(r["status"] for r in nb_rows).count("Error") == 1
    assert [r["selected"] for r in nb_rows].count("yes") == 1
    scored = sum(r["status"] == "complete" for r in nb_rows)
    assert api_card["submissions"] == scored == 4
    assert api_card["participants"] == len(expected) == 3
    assert api_card["rules"]["daily_limit"] == 9


def test_a_warm_leaderboard_skips_mlflow_and_still_sees_every_write(store: Path) -> None:
    _age(store)
    first = _cli(store, "leaderboard", "titanic", "--format", "json")  # a full read: noted
    code = (  # the command's exit handlers still run (it skips only the interpreter's teardown)
        "import atexit, sys, runpy; sys.argv = ['harness', 'leaderboard', 'titanic', '--format', "
        "'json']\natexit.register(lambda: print('MLFLOW' if 'mlflow' in sys.modules else "
        "'NO-MLFLOW', file=sys.stderr))\nrunpy.run_module('harness.cli', run_name='__main__')"
    )
    env = {**os.environ, "HARNESS_HOME": str(store)}
    env.pop("MLFLOW_TRACKING_URI", None)
    warm = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=ROOT
    )
    assert "NO-MLFLOW" in warm.stderr, warm.stderr
    assert json.loads(warm.stdout) == json.loads(first.stdout)
    for args in (["rules", "titanic"], ["submissions", "titanic", "--format", "json"]):
        assert _cli(store, *args).returncode == 0
    # another process writes: the next read shows it
    harness.submit("titanic", _predictions(store, 7), participant="dave", home=store)
    after = json.loads(_cli(store, "leaderboard", "titanic", "--format", "json").stdout)
    assert "dave" in {r["participant"] for r in after}
    harness.rules("titanic", daily_limit=3, home=store)
    shown = _cli(store, "rules", "titanic", "--format", "json").stdout
    assert json.loads(shown)["daily_limit"] == 3


def test_errors_carry_their_http_status() -> None:
    assert errors.HarnessError("x").status == 400
    assert errors.UnknownCompetition("nope", ["titanic"]).status == 404
    assert errors.NotPrepared("titanic").status == 404
    assert errors.InvalidName("x").status == 422
    assert errors.InvalidSubmission("f", ["bad"]).status == 422
    assert errors.RuleBroken("x").status == 403
    assert errors.LimitReached("x").status == 429
    assert errors.UnknownSubmission("x").status == 404
    assert errors.Unauthorized("x").status == 401
    assert errors.TooLarge("x").status == 413
