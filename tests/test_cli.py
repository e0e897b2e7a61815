"""The `harness` command line: help, exit codes, output, and the MLflow UI."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import cli
from tests.children import default_signals

COMMANDS = sorted(cli.commands)


def run(*args: str) -> object:
    return CliRunner().invoke(cli, list(args))


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_help_that_ends_with_an_example(name: str) -> None:
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0
    text = result.stdout.rstrip()
    example = text[text.rindex("Example:") :]
    assert "harness " + name.split()[0] in example or (name == "ui" and "harness ui" in example)
    assert text.index("Example:") < text.index("Options:")


def test_the_top_level_help_names_the_data_home() -> None:
    result = run("--help")
    assert result.exit_code == 0
    assert "HARNESS_HOME (default $XDG_DATA_HOME/harness" in result.stdout


def test_help_imports_nothing_heavy() -> None:
    code = (
        "import sys; from harness.cli import cli; "
        "print([m for m in ('pandas', 'mlflow', 'sklearn', 'rich', 'optuna', 'torch') "
        "if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_unknown_competition_is_a_bad_argument_with_a_suggestion(home: Path) -> None:
    result = run("describe", "titanc")
    assert result.exit_code == 2
    from harness.registry import competitions

    known = ", ".join(sorted(competitions()))
    assert (
        "Error: Invalid value for 'COMPETITION': unknown competition 'titanc' "
        f"(did you mean 'titanic'?) — known: {known}"
    ) in result.stderr
    assert "cifar10, " in known and "titanic" in known


def test_bad_option_exits_two(home: Path) -> None:
    assert run("leaderboard", "titanic", "--format", "xml").exit_code == 2


def test_library_errors_print_error_and_exit_one(home: Path) -> None:
    result = run("submit", "titanic", "preds.csv")
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: competition 'titanic' is not prepared in {home} (HARNESS_HOME): "
        "run `harness prepare titanic`\n"
    )
    assert "Traceback" not in result.stdout + result.stderr


def test_the_command_leaves_with_its_status_its_output_and_its_exit_handlers(home: Path) -> None:
    """`harness` skips the interpreter's teardown at the end (``harness.cli._leave``), so
    what a normal exit does is checked: the status, the whole output through a pipe, the
    process's exit handlers, a message given to ``sys.exit``."""
    code = (  # a thread pool left running, as MLflow leaves one: its workers must be told
        "import atexit, concurrent.futures, sys\n"
        "from harness.cli import main\n"
        "atexit.register(lambda: print('handler ran', file=sys.stderr))\n"
        "pool = concurrent.futures.ThreadPoolExecutor(2)\npool.submit(sum, [1, 2]).result()\n"
        "main(sys.argv[1:])\n"
    )

    def harness(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60
        )

    listed = harness("list")
    assert listed.returncode == 0 and "handler ran" in listed.stderr
    assert "titanic" in listed.stdout.splitlines()[-2] and listed.stdout.endswith("┘\n")
    refused = harness("submit", "titanic", "preds.csv")  # not prepared: a library error
    assert refused.returncode == 1 and refused.stderr.startswith("Error: competition 'titanic'")
    assert harness("leaderboard", "titanic", "--format", "xml").returncode == 2
    gone = subprocess.run(
        [sys.executable, "-c", "from harness.cli import _leave\n_leave('stopped: the reason')"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (gone.returncode, gone.stderr) == (1, "stopped: the reason\n")


def test_download_to_a_folder_is_for_a_hosted_competition(home: Path) -> None:
    result = run("download", "titanic", "--to", "somewhere")
    assert result.exit_code == 1
    assert "a folder for the files is for a hosted competition (--server)" in result.stderr


def test_the_whole_loop_from_the_command_line(home: Path, tmp_path: Path) -> None:
    result = run("prepare", "titanic")
    assert result.exit_code == 0, result.stderr
    assert (
        "titanic prepared from the data embedded in the package: 712 train rows, 179 test "
        "rows." in result.stdout
    )
    assert "already prepared" in run("prepare", "titanic").stdout

    listing = run("list").stdout
    assert "titanic" in listing and "house-prices" in listing and "712" in listing

    described = run("describe", "titanic").stdout
    assert "accuracy (higher is better)" in described and "PassengerId,Survived" in described

    sample = home / "public" / "titanic" / "sample_submission.csv"
    assert run("validate", "titanic", str(sample)).stdout == (
        f"{sample}: valid submission for titanic (179 rows).\n"
    )
    first = run("submit", "titanic", str(sample), "-m", "all die", "--as", "alice")
    assert first.exit_code == 0, first.stderr
    assert first.stdout.startswith("titanic: alice's submission scored 0.6")
    assert "Rank 1 of 1" in first.stdout

    gender = tmp_path / "gender.csv"
    import pandas as pd

    test = pd.read_csv(home / "public" / "titanic" / "test.csv")
    pd.DataFrame(
        {"PassengerId": test["PassengerId"], "Survived": (test["Sex"] == "female").astype(int)}
    ).to_csv(gender, index=False)
    second = run("submit", "titanic", str(gender), "-m", "gender", "--as", "bob")
    assert "Rank 1 of 2" in second.stdout

    board = json.loads(run("leaderboard", "titanic", "--format", "json").stdout)
    assert [row["participant"] for row in board] == ["bob", "alice"]
    private = run("leaderboard", "titanic", "--private", "--format", "csv").stdout
    assert private.splitlines()[0].startswith("rank,change,participant,score,public_score")
    table = run("leaderboard", "titanic").stdout
    assert "public leaderboard (accuracy, higher is better)" in table and "bob" in table

    history = run("submissions", "titanic", "--as", "alice", "--format", "csv").stdout
    assert history.splitlines()[0] == (
        "id,submitted_at,participant,kind,file,message,status,error,public_score,"
        "private_score,selected,run_id"
    )
    assert len(history.splitlines()) == 2 and "all die" in history


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_ui_serves_the_mlflow_ui_over_the_same_store(home: Path, titanic: Path) -> None:
    import harness

    harness.submit("titanic", titanic / "sample_submission.csv", participant="ann")
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "ui", "--port", str(port)],
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=default_signals,  # SIGTERM reaches it however the tests were started
    )
    try:
        deadline = time.monotonic() + 90
        body = ""
        while time.monotonic() < deadline:
            try:
                url = (
                    f"http://127.0.0.1:{port}/ajax-api/2.0/mlflow/experiments/"
                    "get-by-name?experiment_name=harness/titanic"
                )
                with urllib.request.urlopen(url, timeout=2) as response:
                    body = response.read().decode()
                break
            except OSError:
                time.sleep(0.5)
        assert '"name": "harness/titanic"' in body or '"name":"harness/titanic"' in body
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)


def test_a_signalled_child_gets_sigint_even_where_the_tests_started_with_it_ignored() -> None:
    """The tests' children start with the default disposition (tests/children.py), so a test that
    sends SIGINT works in a background job of a non-interactive shell too (SIGINT ignored there,
    and inherited)."""
    import signal

    report = "import signal; print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)"
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as `bash -c "pytest ..." &` starts
    try:
        inherited = subprocess.run([sys.executable, "-c", report], capture_output=True, text=True)
        restored = subprocess.run(
            [sys.executable, "-c", report],
            capture_output=True,
            text=True,
            preexec_fn=default_signals,
        )
    finally:
        signal.signal(signal.SIGINT, previous)
    assert inherited.stdout.strip() == "False"  # what broke the Ctrl-C tests in the background
    assert restored.stdout.strip() == "True"
