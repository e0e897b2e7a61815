"""Hosted competitions (`harness serve`, harness.server, harness.client): identity from tokens,
what each role may read, uploads, the same output as locally, and the real components a team
runs — `mlflow server` on PostgreSQL, `harness serve --workers 4` with the rules' lock held in
PostgreSQL, 16 clients racing one daily limit."""

from __future__ import annotations

import concurrent.futures
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

import harness
from harness.client import Client, RemoteError
from harness.server.app import create_app
from harness.server.participants import TOKEN_PREFIX, Participants
from harness.settings import Settings
from tests import servers

COMP = "titanic"


@pytest.fixture
def hosted(titanic: Path, settings: Settings) -> dict[str, object]:
    people = Participants(settings)
    tokens = {name: people.add(name) for name in ("alice", "bob")}
    tokens["host"] = people.add("host", role="host")
    app = TestClient(create_app(settings, max_upload=50_000))
    return {"app": app, "tokens": tokens, "people": people, "public": titanic}


def _auth(token: str | None) -> dict[str, str]:
    return {} if token is None else {"Authorization": f"Bearer {token}"}


def _upload(app: TestClient, token: str | None, data: bytes, name: str = "preds.csv") -> object:
    return app.post(
        f"/api/competitions/{COMP}/submissions",
        headers=_auth(token),
        files={"file": (name, data)},
        data={"message": "m"},
    )


# -- tokens ------------------------------------------------------------------------------------


def test_tokens_are_random_hashed_and_revocable(
    hosted: dict[str, object], settings: Settings
) -> None:
    import sqlalchemy as sa

    people: Participants = hosted["people"]  # type: ignore[assignment]
    tokens: dict[str, str] = hosted["tokens"]  # type: ignore[assignment]
    alice = tokens["alice"]
    assert alice.startswith(TOKEN_PREFIX) and len(alice) >= len(TOKEN_PREFIX) + 43  # 256 bits
    assert len(set(tokens.values())) == 3
    with people.engine.connect() as conn:
        stored = [tuple(r) for r in conn.execute(sa.select(people.table)).all()]
    assert not any(alice in str(row) for row in stored)  # only the hash is kept
    assert people.identify(alice).name == "alice"  # type: ignore[union-attr]
    assert people.identify(alice[:-1] + ("A" if alice[-1] != "A" else "B")) is None
    app: TestClient = hosted["app"]  # type: ignore[assignment]
    assert (
        app.get(f"/api/competitions/{COMP}/submissions", headers=_auth(alice)).status_code == 200
    )
    people.revoke("alice")
    refused = app.get(f"/api/competitions/{COMP}/submissions", headers=_auth(alice))
    assert refused.status_code == 401 and "revoked" in refused.json()["error"]
    with pytest.raises(harness.HarnessError, match="exists"):
        people.add("bob")


# -- every route, every role -------------------------------------------------------------------


def test_every_route_with_every_role(hosted: dict[str, object]) -> None:
    app: TestClient = hosted["app"]  # type: ignore[assignment]
    tokens: dict[str, str] = hosted["tokens"]  # type: ignore[assignment]
    public: Path = hosted["public"]  # type: ignore[assignment]
    sample = (public / "sample_submission.csv").read_bytes()
    mine = _upload(app, tokens["alice"], sample).json()["run_id"]
    roles = {
        "anonymous": None,
        "participant": tokens["alice"],
        "other": tokens["bob"],
        "host": tokens["host"],
    }
    base = f"/api/competitions/{COMP}"
    # (method, path, json): the status each role gets
    routes = [
        ("GET", "/api/competitions", None, (200, 200, 200, 200)),
        ("GET", base, None, (200, 200, 200, 200)),
        ("GET", base + "/rules", None, (200, 200, 200, 200)),
        ("GET", base + "/leaderboard", None, (200, 200, 200, 200)),
        ("GET", base + "/files", None, (401, 200, 200, 200)),
        ("GET", base + "/files/train.csv", None, (401, 200, 200, 200)),
        ("GET", base + "/files/answers.csv", None, (401, 404, 404, 404)),
        ("GET", base + "/files/../../private/titanic/answers.csv", None, (404, 404, 404, 404)),
        (
            "GET",
            base + "/files/%2e%2e/%2e%2e/private/titanic/answers.csv",
            None,
            (401, 404, 404, 404),
        ),
        ("GET", base + "/submissions", None, (401, 200, 200, 200)),
        ("GET", base + "/submissions?participant=alice", None, (401, 200, 403, 200)),
        ("GET", f"{base}/submissions/{mine[:8]}", None, (401, 200, 403, 200)),
        ("POST", base + "/selections", {"submission": mine[:8]}, (401, 200, 403, 403)),
        ("PUT", base + "/rules", {"daily_limit": 50}, (401, 403, 403, 200)),
        ("GET", "/api/competitions/nope/leaderboard", None, (404, 404, 404, 404)),
    ]
    for method, path, body, wanted in routes:
        for (role, token), status in zip(roles.items(), wanted, strict=True):
            got = app.request(method, path, headers=_auth(token), json=body)
            assert got.status_code == status, (method, path, role, got.text)
            if status >= 400:
                assert set(got.json()) == {"error", "status"}
            assert "Survived,Usage" not in got.text  # never the answers
    # only alice's rows reach alice and bob sees none of hers
    rows = app.get(base + "/submissions", headers=_auth(tokens["bob"])).json()["rows"]
    assert rows == []
    everyone = app.get(base + "/submissions", headers=_auth(tokens["host"])).json()["rows"]
    assert [r["participant"] for r in everyone] == ["alice"]
    # the schema is machine-readable
    schema = app.get("/openapi.json").json()
    assert f"{base.replace(COMP, '{cid}')}/submissions" in schema["paths"]


def test_no_private_score_before_the_end_over_http(hosted: dict[str, object]) -> None:
    app: TestClient = hosted["app"]  # type: ignore[assignment]
    tokens: dict[str, str] = hosted["tokens"]  # type: ignore[assignment]
    public: Path = hosted["public"]  # type: ignore[assignment]
    assert (
        app.put(
            f"/api/competitions/{COMP}/rules",
            headers=_auth(tokens["host"]),
            json={"deadline": "2099-01-01T00:00Z"},
        ).status_code
        == 200
    )
    got = _upload(app, tokens["alice"], (public / "sample_submission.csv").read_bytes())
    assert got.status_code == 200 and got.json()["private_score"] is None
    for path in ("/leaderboard", "/submissions"):
        text = app.get(f"/api/competitions/{COMP}{path}", headers=_auth(tokens["alice"])).text
        assert "private" not in text
    refused = app.get(f"/api/competitions/{COMP}/leaderboard?private=true")
    assert refused.status_code == 403
    assert refused.json()["error"].startswith("the private leaderboard of titanic is hidden")
    ended = app.post(f"/api/competitions/{COMP}/reveal", headers=_auth(tokens["host"]))
    assert ended.status_code == 200 and ended.json()["graded"] == 1
    assert app.get(f"/api/competitions/{COMP}/leaderboard?private=true").status_code == 200


# -- uploads -----------------------------------------------------------------------------------


def test_uploads_are_capped_checked_and_never_named_by_the_client(
    hosted: dict[str, object], settings: Settings
) -> None:
    app: TestClient = hosted["app"]  # type: ignore[assignment]
    alice: str = hosted["tokens"]["alice"]  # type: ignore[index]
    public: Path = hosted["public"]  # type: ignore[assignment]
    sample = (public / "sample_submission.csv").read_bytes()
    too_big = _upload(app, alice, sample + b"9" * 60_000)
    assert too_big.status_code == 413 and "limit of 0.05 MB" in too_big.json()["error"]

    def chunked() -> Iterator[bytes]:  # no Content-Length: counted while it streams
        boundary = b"xyz"
        yield b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\n'
        for _ in range(100):
            yield b"1" * 1000
        yield b"\r\n--" + boundary + b"--\r\n"

    streamed = app.post(
        f"/api/competitions/{COMP}/submissions",
        headers={**_auth(alice), "Content-Type": "multipart/form-data; boundary=xyz"},
        content=chunked(),
    )
    assert streamed.status_code == 413
    invalid = _upload(app, alice, b"PassengerId,Survived\n1,7\n", name="bad.csv")
    assert invalid.status_code == 422
    assert invalid.json()["error"].startswith("bad.csv: ")
    hostile = _upload(app, alice, sample, name="../../../../etc/passwd.csv")
    assert hostile.status_code == 200
    listed = app.get(f"/api/competitions/{COMP}/submissions", headers=_auth(alice)).json()["rows"]
    assert listed[-1]["file"] == "passwd.csv"  # the name is text; the artifact is upload.csv
    assert not list(settings.artifact_root.rglob("passwd.csv"))
    assert list(settings.artifact_root.rglob("upload.csv"))
    import io
    import zipfile

    two = io.BytesIO()
    with zipfile.ZipFile(two, "w") as z:
        z.writestr("a.csv", sample)
        z.writestr("b.csv", sample)
    zipped = _upload(app, alice, two.getvalue(), name="preds.zip")
    assert zipped.status_code == 422 and "the zip holds 2 files" in zipped.json()["error"]


# -- the client and the CLI against a live `harness serve` (sqlite) -----------------------------


@pytest.fixture
def live(titanic: Path, settings: Settings) -> Iterator[dict[str, str]]:
    people = Participants(settings)
    token = people.add("alice")
    env = {**os.environ, "HARNESS_HOME": str(settings.home), "MLFLOW_DISABLE_TELEMETRY": "true"}
    with servers.harness_serve(env) as url:
        yield {"url": url, "token": token, "public": str(titanic)}


def _cli(args: list[str], server: str, token: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("HARNESS_HOME", "HARNESS_PARTICIPANT")}
    env.update(HARNESS_SERVER=server, HARNESS_TOKEN=token, HARNESS_HOME=str(tmp / "nothing"))
    return subprocess.run(
        [str(servers.BIN / "harness"), *args], env=env, capture_output=True, text=True, cwd=tmp
    )


def test_a_participant_machine_downloads_submits_and_reads_over_http(
    live: dict[str, str], tmp_path: Path
) -> None:
    url, token = live["url"], live["token"]
    got = _cli(["download", COMP], url, token, tmp_path)
    assert got.returncode == 0, got.stderr
    assert "sha256 checked" in got.stdout
    assert (tmp_path / COMP / "test.csv").read_bytes() == (
        Path(live["public"]) / "test.csv"
    ).read_bytes()
    assert not (tmp_path / COMP / "answers.csv").exists()
    sample = tmp_path / COMP / "sample_submission.csv"
    out = _cli(["submit", COMP, str(sample), "-m", "first"], url, token, tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"{COMP}: alice's submission scored ")
    assert "Rank 1 of 1" in out.stdout
    board = _cli(["leaderboard", COMP], url, token, tmp_path)
    assert "alice" in board.stdout and "95% interval" in board.stdout
    mine = _cli(["submissions", COMP, "--format", "json"], url, token, tmp_path)
    import json

    rows = json.loads(mine.stdout)
    assert [r["message"] for r in rows] == ["first"]
    refused = _cli(["submit", COMP, str(sample), "--as", "bob"], url, token, tmp_path)
    assert refused.returncode == 2 and "--as is refused on a hosted competition" in refused.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("PassengerId,Survived\n1,7\n")
    err = _cli(["submit", COMP, str(bad)], url, token, tmp_path)
    assert err.returncode == 1 and err.stderr.startswith("Error: bad.csv: ")
    assert "Traceback" not in err.stderr
    wrong = _cli(["submissions", COMP], url, "hst_wrong", tmp_path)
    assert wrong.returncode == 1 and "unknown or revoked token" in wrong.stderr
    # the notebook API, same result type
    result = harness.submit(COMP, pd.read_csv(sample), server=url, token=token, message="nb")
    assert isinstance(result, harness.SubmissionResult) and result.rank == 1
    frame = harness.leaderboard(COMP, server=url, token=token)
    assert frame["participant"].tolist() == ["alice"] and frame["submissions"].tolist() == [2]
    selected = harness.select(COMP, result.entry.run_id, server=url, token=token)
    assert selected["selections"] == [result.entry.run_id]


def test_the_client_imports_nothing_heavy() -> None:
    code = (
        "import sys; from harness.cli import main; import harness.client; "
        "heavy = ('pandas', 'mlflow', 'sklearn', 'torch', 'fastapi'); "
        "print([m for m in heavy if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- the real team setup: mlflow server on PostgreSQL, serve --workers 4 -----------------------


@pytest.fixture(scope="module")
def postgres() -> Iterator[servers.Postgres]:
    pg = servers.Postgres()
    yield pg
    pg.close()


def test_sixteen_clients_against_four_workers_on_postgresql_get_exactly_the_limit(
    postgres: servers.Postgres, titanic: Path, settings: Settings, tmp_path: Path
) -> None:
    backend = postgres.url("mlflow_race")
    database = postgres.url("harness_race")
    with servers.mlflow_server(backend, tmp_path / "artifacts") as tracking:
        env = {
            **os.environ,
            "HARNESS_HOME": str(settings.home),
            "MLFLOW_TRACKING_URI": tracking,
            "HARNESS_DATABASE": database,
        }
        os.environ["HARNESS_DATABASE"] = database  # this process adds the participants there
        try:
            host_settings = Settings.resolve(settings.home, tracking)
            people = Participants(host_settings)
            token = people.add("racer")
            harness.rules(COMP, daily_limit=5, tracking_uri=tracking)
        finally:
            del os.environ["HARNESS_DATABASE"]
        with servers.harness_serve(env, workers=4) as url:
            files = []
            for i in range(16):
                frame = pd.read_csv(titanic / "sample_submission.csv")
                frame["Survived"] = (frame.index + i) % 2
                path = tmp_path / f"p{i}.csv"
                frame.to_csv(path, index=False)
                files.append(path)

            def one(path: Path) -> str:
                try:
                    Client(url, token).submit(COMP, path, message=path.stem)
                    return "accepted"
                except RemoteError as exc:
                    assert exc.status == 429, str(exc)
                    return "refused"

            with concurrent.futures.ThreadPoolExecutor(16) as pool:
                said = list(pool.map(one, files))
            assert said.count("accepted") == 5 and said.count("refused") == 11
            listed = Client(url, token).submissions(COMP)["rows"]
            assert len(listed) == 5 and all(r["status"] == "complete" for r in listed)
            assert all(r["participant"] == "racer" for r in listed)
        # MLflow on PostgreSQL holds exactly those five runs
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=tracking)
        experiment = client.get_experiment_by_name(f"harness/{COMP}")
        runs = client.search_runs([experiment.experiment_id])
        assert len(runs) == 5


def test_four_tuning_workers_on_one_postgresql_study_finish_exactly_the_trials(
    postgres: servers.Postgres, titanic: Path, settings: Settings
) -> None:
    import optuna

    storage = postgres.url("optuna_workers")
    env = {**os.environ, "HARNESS_HOME": str(settings.home), "OMP_NUM_THREADS": "1"}
    cmd = [
        str(servers.BIN / "harness"),
        "tune",
        COMP,
        "--model",
        "linear",
        "--study",
        "shared",
        "--storage",
        storage,
        "--trials",
        "10",
        "--threads",
        "1",
    ]
    workers = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    said = [w.communicate(timeout=600) for w in workers]
    assert all(w.returncode == 0 for w in workers), [err[-800:] for _, err in said]
    study = optuna.load_study(study_name="shared", storage=storage)
    states = [t.state for t in study.trials]
    finished = [
        s
        for s in states
        if s in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    ]
    assert len(finished) == 10 and len(states) == 10  # none lost, none doubled, none left
    assert sorted(t.number for t in study.trials) == list(range(10))


def test_serve_binds_to_loopback_unless_told_otherwise() -> None:
    from harness.cli import cli

    options = {p.name: p for p in cli.commands["serve"].params}
    assert options["host"].default == "127.0.0.1"
    assert options["max_upload_mb"].default == 200.0
