"""`harness ui`: the URL only once the server answers, and a signal to `harness ui` alone stops
every process behind it (uvicorn and its workers, MLflow's job runner, the huey consumers)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.children import default_signals

START_DEADLINE_S = 150  # 7-40 s here on 2 cores; more when the machine is busy
STOP_DEADLINE_S = 20


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _processes() -> dict[int, tuple[int, bytes, bytes]]:
    """pid -> (parent pid, state, start time), from /proc/<pid>/stat (this kernel has no
    /proc/<pid>/task/*/children)."""
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                data = Path(f"/proc/{entry}/stat").read_bytes()
            except OSError:
                continue
            fields = data[data.rfind(b")") + 1 :].split()
            table[int(entry)] = (int(fields[1]), fields[0], fields[19])
    return table


def _descendants(root: int) -> dict[int, bytes]:
    """pid -> start time of each process below root."""
    table = _processes()
    found: dict[int, bytes] = {}
    stack = [root]
    while stack:
        parent = stack.pop()
        for pid, (ppid, _, start) in table.items():
            if ppid == parent and pid not in found:
                found[pid] = start
                stack.append(pid)
    return found


def _alive(processes: dict[int, bytes]) -> list[int]:
    """Those still running: same pid and start time (not reused), not a zombie."""
    table = _processes()
    return [
        pid
        for pid, start in processes.items()
        if pid in table and table[pid][2] == start and table[pid][1] != b"Z"
    ]


def _get(url: str, timeout: float = 10) -> str:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=timeout) as response:
        return str(response.read().decode())


def _accepts(port: int) -> bool:
    with socket.socket() as client:
        client.settimeout(2)
        return client.connect_ex(("127.0.0.1", port)) == 0


def _kill(processes: dict[int, bytes]) -> None:
    for pid in _alive(processes):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_ui_answers_when_it_says_so_and_a_signal_stops_everything(
    home: Path, titanic: Path, signum: int
) -> None:
    import harness

    harness.submit("titanic", titanic / "sample_submission.csv", participant="ann")
    port = _free_port()
    command = [sys.executable, "-m", "harness.cli", "ui", "--port", str(port)]
    proc = subprocess.Popen(
        command,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
        preexec_fn=default_signals,  # the signal reaches it however the tests were started
    )
    assert proc.stderr is not None
    lines: list[str] = []
    announced = threading.Event()

    def drain() -> None:  # the server writes to the same pipe: it must never fill up
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if "MLflow UI on http://" in line:
                announced.set()

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    processes: dict[int, bytes] = {}
    try:
        started = time.monotonic()
        while not announced.wait(0.5):
            processes.update(_descendants(proc.pid))
            assert proc.poll() is None, "".join(lines)
            assert time.monotonic() - started < START_DEADLINE_S, "".join(lines)
        assert f"MLflow UI on http://127.0.0.1:{port} (Ctrl-C stops it)" in "".join(lines)
        assert "starting the MLflow UI on 127.0.0.1:" in lines[0]

        # It answers now, not only eventually, and over the leaderboard's store.
        body = _get(
            f"http://127.0.0.1:{port}/ajax-api/2.0/mlflow/experiments/"
            "get-by-name?experiment_name=harness/titanic"
        )
        assert json.loads(body)["experiment"]["name"] == "harness/titanic"

        processes.update(_descendants(proc.pid))
        # uvicorn + workers, job runner + huey consumers: all must go, not just the first.
        assert len(processes) > 2

        stopping = time.monotonic()
        proc.send_signal(signum)  # to `harness ui` only, not to its process group
        assert proc.wait(timeout=STOP_DEADLINE_S) == 0
        assert time.monotonic() - stopping < STOP_DEADLINE_S
        assert _alive(processes) == [], "".join(lines)
        assert not _accepts(port)
        reader.join(timeout=10)
        assert "Traceback" not in "".join(lines)
    finally:
        if proc.poll() is None:
            processes.update(_descendants(proc.pid))
            proc.kill()
        _kill(processes)
        proc.wait(timeout=10)


def test_ui_says_the_port_is_taken_at_once(home: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "harness.cli", "ui", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            env=os.environ.copy(),
        )
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "Error:" in output
    assert f"port {port} on 127.0.0.1 is in use" in output
    assert "Traceback" not in output
    assert time.monotonic() - started < 30  # no server start, no waiting for it


def test_ui_stop_reaches_what_left_the_group_and_what_ignores_sigterm(tmp_path: Path) -> None:
    """Stands in for an MLflow job: it runs in a session of its own and ignores SIGTERM."""
    from harness.mlflow_ui import stop as _ui_stop

    pid_file = tmp_path / "job.pid"
    job = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"
    server_code = (
        "import subprocess, sys, time;"
        f" job = subprocess.Popen([sys.executable, '-c', {job!r}], start_new_session=True);"
        f" open({str(pid_file)!r}, 'w').write(str(job.pid)); time.sleep(600)"
    )
    server = subprocess.Popen(
        [sys.executable, "-c", server_code], start_new_session=True, preexec_fn=default_signals
    )
    processes: dict[int, bytes] = {}
    try:
        deadline = time.monotonic() + 60
        while not pid_file.exists() or not pid_file.read_text():
            assert time.monotonic() < deadline
            time.sleep(0.1)
        job_pid = int(pid_file.read_text())
        processes = _descendants(server.pid)
        assert job_pid in processes
        assert os.getpgid(job_pid) != server.pid  # outside the group a killpg reaches

        started = time.monotonic()
        _ui_stop(server, {}, hurry=lambda: False, grace=1.0)
        assert time.monotonic() - started < 10
        assert server.returncode is not None
        assert _alive(processes) == []
    finally:
        _kill(processes)
        if server.poll() is None:
            server.kill()
            server.wait()


# -- `harness ui <competition>`: which page, and the tags MLflow's UI reads -------------------


def test_ui_page_is_the_runs_table_in_the_model_training_view_with_harness_s_view() -> None:
    from harness.mlflow_ui import runs_page

    assert runs_page("http://127.0.0.1:5000/", "7") == (
        "http://127.0.0.1:5000/#/experiments/7/runs"
        "?workflowType=machine_learning&viewStateShareKey=harness"
    )
    assert runs_page("http://127.0.0.1:5000") == "http://127.0.0.1:5000"


def test_ui_for_an_unknown_competition_or_one_with_nothing_recorded_is_an_error(
    home: Path,
) -> None:
    from click.testing import CliRunner

    from harness.cli import cli

    unknown = CliRunner().invoke(cli, ["ui", "titanc", "--port", "0"])
    assert unknown.exit_code == 2
    assert "Error: Invalid value for '[COMPETITION]': unknown competition 'titanc'" in (
        unknown.stderr
    )
    started = time.monotonic()
    empty = CliRunner().invoke(cli, ["ui", "titanic", "--port", str(_free_port())])
    assert empty.exit_code == 1
    assert empty.stderr.endswith(
        f"Error: titanic: nothing recorded in sqlite:///{home}/mlflow.db yet (no submission,"
        " no study): submit first, or run `harness ui` for every experiment\n"
    )
    assert "starting the MLflow UI" not in empty.output  # refused before any server start
    assert time.monotonic() - started < 30


def test_every_experiment_carries_the_ui_tags_new_ones_at_once_old_ones_on_verify_or_a_write(
    home: Path, titanic: Path
) -> None:
    from harness.board.schema import EXPERIMENT_KIND, EXPERIMENT_KIND_TAG, UI_TAGS, VIEW_TAG
    from harness.board.store import Leaderboard
    from harness.board.verify import verify

    import harness
    from harness.registry import get_competition
    from harness.settings import Settings

    assert UI_TAGS[EXPERIMENT_KIND_TAG] == EXPERIMENT_KIND == "custom_model_development"
    assert json.loads(UI_TAGS[VIEW_TAG]) == {"selectedColumns": ["metrics.`public_score`"]}
    harness.submit("titanic", titanic / "sample_submission.csv", participant="ann")
    settings = Settings.resolve(None, None)
    comp = get_competition("titanic")
    client = Leaderboard(settings).client

    def tags() -> dict[str, str]:
        found = client.get_experiment_by_name("harness/titanic")
        assert found is not None
        return dict(found.tags)

    assert {k: tags().get(k) for k in UI_TAGS} == UI_TAGS  # new: at creation

    experiment = client.get_experiment_by_name("harness/titanic").experiment_id  # type: ignore[union-attr]
    for name in UI_TAGS:  # as an experiment made before Harness wrote them
        client.delete_experiment_tag(experiment, name)
    report = verify(comp, settings)
    assert report.ok
    assert [n for n in report.notes if "for MLflow's UI" in n] == [
        f"tagged its experiment {name} for MLflow's UI" for name in UI_TAGS
    ]
    assert {k: tags().get(k) for k in UI_TAGS} == UI_TAGS
    assert not [n for n in verify(comp, settings).notes if "for MLflow's UI" in n]  # once

    for name in UI_TAGS:
        client.delete_experiment_tag(experiment, name)
    harness.submit("titanic", titanic / "sample_submission.csv", participant="bo")
    assert {k: tags().get(k) for k in UI_TAGS} == UI_TAGS  # the next write

    client.set_experiment_tag(experiment, EXPERIMENT_KIND_TAG, "genai_development")
    verify(comp, settings)
    harness.submit("titanic", titanic / "sample_submission.csv", participant="cy")
    assert tags()[EXPERIMENT_KIND_TAG] == "genai_development"  # a choice made in the UI stays
