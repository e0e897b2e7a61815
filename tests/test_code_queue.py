"""The hosted queue of code submissions against a live `harness serve --code-workers`: the
upload returns at once, a worker runs it, and a server killed mid-run (SIGKILL) recovers the
queue on restart: nothing lost, nothing run twice."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import sandbox
from harness.client import Client
from harness.server.participants import Participants
from harness.settings import Settings
from tests import servers

pytestmark = pytest.mark.skipif(
    not sandbox.available() and os.environ.get("HARNESS_REQUIRE_BWRAP") != "1",
    reason="bubblewrap (bwrap) is not installed",
)

SLOW = """\
import time
import pandas as pd
test = pd.read_csv("input/test.csv")
if len(test) > 5:
    time.sleep(8)
guess = (test.Sex == "female").astype(int)
pd.DataFrame({"PassengerId": test.PassengerId, "Survived": guess}).to_csv(
    "submission.csv", index=False
)
"""


def _start(env: dict[str, str], port: int, log: object) -> subprocess.Popen[bytes]:
    cmd = [str(servers.BIN / "harness"), "serve", "--port", str(port), "--code-workers", "1"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=log)  # type: ignore[arg-type]
    servers.wait_http(f"http://127.0.0.1:{port}/api/health", proc, timeout=120)
    return proc


@pytest.fixture
def served(titanic: Path, settings: Settings) -> Iterator[dict[str, object]]:
    token = Participants(settings).add("alice")
    env = {**os.environ, "HARNESS_HOME": str(settings.home), "MLFLOW_DISABLE_TELEMETRY": "true"}
    yield {"env": env, "token": token, "settings": settings}


def _holding(path: str) -> list[int]:
    """The processes that have ``path`` open."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if any(os.readlink(fd) == path for fd in (entry / "fd").iterdir()):
                found.append(int(entry.name))
        except OSError:
            pass
    return found


def _rows(client: Client) -> list[dict[str, object]]:
    return list(client.submissions("titanic")["rows"])


def _wait(client: Client, done: object, timeout: float = 120) -> list[dict[str, object]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = _rows(client)
        if done(rows):  # type: ignore[operator]
            return rows
        time.sleep(0.3)
    raise AssertionError(f"not reached in {timeout} s: {_rows(client)}")


def test_a_server_killed_mid_run_recovers_the_queue_on_restart(
    served: dict[str, object], tmp_path: Path
) -> None:
    from harness.board.queue import CodeQueue

    env: dict[str, str] = served["env"]  # type: ignore[assignment]
    settings: Settings = served["settings"]  # type: ignore[assignment]
    code = tmp_path / "solution.py"
    code.write_text(SLOW)
    port = servers.free_port()
    url = f"http://127.0.0.1:{port}"
    client = Client(url, str(served["token"]))
    with tempfile.TemporaryFile() as log:
        proc = _start(env, port, log)
        try:
            got = client.board("titanic").submit_code(code, message="slow")
            assert got.status == "queued"  # accepted, not run in the request
            _wait(client, lambda rows: [r["status"] for r in rows] == ["running"])
            time.sleep(1.5)  # inside the run on the test (it sleeps 8 s)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            queue_db = str(settings.home / "private" / "code-queue.db")
            deadline = time.monotonic() + 10
            while _holding(queue_db) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert _holding(queue_db) == []  # its consumer and workers died with it
            job = CodeQueue(settings).job(got.submission)
            assert job.status == "running" and job.attempts == 1
            proc = _start(env, port, log)  # the restart puts the job back in the queue
            rows = _wait(client, lambda rows: [r["status"] for r in rows] == ["complete"])
        finally:
            proc.terminate()
            proc.wait(20)
    assert [r["status"] for r in rows] == ["complete"]  # one entry: not lost, not twice
    assert rows[0]["file"] == "solution.py"
    job = CodeQueue(settings).job(got.submission)
    assert (job.status, job.attempts) == ("complete", 2)
    assert job.run_id == rows[0]["run_id"]


def test_runners_on_postgresql_take_each_queued_job_exactly_once(
    titanic: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import collections

    from harness.board.queue import CodeQueue
    from harness.board.schema import JOB_TAG
    from harness.board.service import Board
    from harness.board.store import Leaderboard

    pg = servers.Postgres()
    try:
        database = pg.url("harness_runners")
        monkeypatch.setenv("HARNESS_DATABASE", database)
        settings = Settings.resolve()
        board = Board("titanic", settings)
        code = tmp_path / "solution.py"
        code.write_text(SLOW.replace("time.sleep(8)", "time.sleep(1)"))
        ids = [
            board.queue_code(code, participant=f"p{i}", message=f"#{i}").submission
            for i in range(4)
        ]
        env = {**os.environ, "HARNESS_HOME": str(settings.home), "HARNESS_DATABASE": database}
        cmd = [str(servers.BIN / "harness"), "runner", "--once"]
        runners = [
            subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(2)
        ]
        outputs = [r.communicate(timeout=300) for r in runners]
        assert [r.returncode for r in runners] == [0, 0], outputs
        ran = sum(int(out.decode().split()[0]) for out, _ in outputs)
        assert ran == 4  # between them, each job once
        queue = CodeQueue(settings)
        jobs = [queue.job(i) for i in ids]
        assert [j.status for j in jobs] == ["complete"] * 4
        assert all(j.attempts == 1 for j in jobs)
        store = Leaderboard(settings)
        experiment = store.experiment_id(board.comp, create=False)
        runs = store.client.search_runs([experiment])
        per_job = collections.Counter(r.data.tags.get(JOB_TAG) for r in runs)
        assert all(per_job[i] == 1 for i in ids)
    finally:
        pg.close()
