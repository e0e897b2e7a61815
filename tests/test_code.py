"""Code submissions end to end: the rule, the contract, the two runs and what a participant
sees of them (the example run's output in full, the test run's never)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness import sandbox
from harness.cli import cli

needs_bwrap = pytest.mark.skipif(
    not sandbox.available() and os.environ.get("HARNESS_REQUIRE_BWRAP") != "1",
    reason="bubblewrap (bwrap) is not installed",
)

GOOD = """\
import pandas as pd
test = pd.read_csv("input/test.csv")
guess = (test.Sex == "female").astype(int)
pd.DataFrame({"PassengerId": test.PassengerId, "Survived": guess}).to_csv(
    "submission.csv", index=False
)
print("EXAMPLE-OR-TEST rows", len(test))
"""


def _cli(*args: str) -> object:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _script(tmp_path: Path, text: str, name: str = "solution.py") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_a_code_competition_is_a_rule_every_door_shows(titanic: Path) -> None:
    got = _cli("rules", "titanic", "--code-only", "--time-limit", "10m", "--memory", "4G")
    assert got.exit_code == 0, got.output
    assert "code only        yes (code submissions: 10 min on the test, 4G of memory" in got.stdout
    facts = json.loads(_cli("rules", "titanic", "--format", "json").stdout)
    assert (facts["code_only"], facts["time_limit"], facts["memory"]) == (True, 600, 4 << 30)
    described = _cli("describe", "titanic").stdout
    assert "This is a code competition" in described
    assert "submission.csv" in described and "Importable:" in described


def test_a_bad_time_limit_is_refused_with_its_value(titanic: Path) -> None:
    got = CliRunner().invoke(cli, ["rules", "titanic", "--time-limit", "ten minutes"])
    assert got.exit_code == 1
    assert "'ten minutes' is not a duration: expected e.g. 90s, 10m or 2h" in got.stderr


def test_a_csv_is_refused_in_a_code_competition_with_how_to_submit_code(titanic: Path) -> None:
    _cli("rules", "titanic", "--code-only")
    got = CliRunner().invoke(cli, ["submit", "titanic", str(titanic / "sample_submission.csv")])
    assert got.exit_code == 1
    assert "titanic is a code competition: a file of predictions is refused" in got.stderr
    assert "harness submit titanic --code solution.py" in got.stderr
    assert "sample_submission.csv" not in _cli("submissions", "titanic").stdout


def test_participants_get_an_example_test_in_a_code_competition(titanic: Path) -> None:
    import pandas as pd
    from harness.board.service import Board

    from harness.settings import Settings

    board = Board("titanic", Settings.resolve())
    full = {f.name: f for f in board.public_files()}
    assert full["test.csv"].path == titanic / "test.csv"
    board.set_rules(code_only=True)
    shown = {f.name: f for f in board.public_files()}
    assert set(shown) == set(full)
    example = pd.read_csv(shown["test.csv"].path)
    assert list(example.columns) == list(pd.read_csv(titanic / "test.csv").columns)
    assert len(example) == 5
    assert len(pd.read_csv(shown["sample_submission.csv"].path)) == 5
    assert shown["train.csv"].path == titanic / "train.csv"


@needs_bwrap
def test_a_valid_titanic_script_is_scored_and_shows_only_the_example_run(
    titanic: Path, tmp_path: Path
) -> None:
    _cli("rules", "titanic", "--code-only")
    got = _cli("submit", "titanic", "--code", _script(tmp_path, GOOD), "-m", "sex only")
    assert got.exit_code == 0, got.output
    assert "scored 0.7" in got.stdout
    assert "solution.py ran on the test (under 1 min)" in got.stdout
    assert "EXAMPLE-OR-TEST rows 5" in got.stderr  # the example run, in full
    assert "rows 179" not in got.output  # the test run's output never shown
    listing = _cli("submissions", "titanic", "--format", "json").stdout
    assert "solution.py" in listing


@needs_bwrap
def test_the_hidden_run_s_output_and_exit_status_never_reach_the_participant(
    titanic: Path, tmp_path: Path
) -> None:
    leaky = GOOD + (
        "import sys\n"
        "if len(test) > 5:\n"
        "    print('LEAK', test.Name.tolist()[:3])\n"
        "    print('LEAK-ERR', test.Age.tolist()[:3], file=sys.stderr)\n"
        "    sys.exit(37)\n"
    )
    got = CliRunner().invoke(cli, ["submit", "titanic", "--code", _script(tmp_path, leaky)])
    assert got.exit_code == 1
    assert "LEAK" not in got.output
    assert "37" not in got.stderr.split("Error:")[1]
    assert "its run on the test ended in error: exit code (under 1 min" in got.stderr
    listing = json.loads(_cli("submissions", "titanic", "--format", "json").stdout)
    rows = listing if isinstance(listing, list) else listing["rows"]
    assert "code run on the test: exit code" in json.dumps(rows)
    assert "LEAK" not in json.dumps(rows)


@needs_bwrap
def test_an_invalid_output_on_the_test_is_an_error_of_that_kind_without_details(
    titanic: Path, tmp_path: Path
) -> None:
    spell = GOOD + (
        "if len(test) > 5:\n"
        "    out = pd.read_csv('submission.csv')\n"
        "    out['Survived'] = test.Name\n"
        "    out.to_csv('submission.csv', index=False)\n"
    )
    got = CliRunner().invoke(cli, ["submit", "titanic", "--code", _script(tmp_path, spell)])
    assert got.exit_code == 1
    assert "ended in error: invalid output" in got.stderr
    assert "Braund" not in got.output and "Kelly" not in got.output


@needs_bwrap
def test_an_example_run_failure_is_shown_in_full_and_records_nothing(
    titanic: Path, tmp_path: Path
) -> None:
    broken = "import pandas as pd\nprint('reading')\npd.read_csv('input/nothere.csv')\n"
    got = CliRunner().invoke(cli, ["submit", "titanic", "--code", _script(tmp_path, broken)])
    assert got.exit_code == 1
    assert "solution.py failed on the example test (exit code 1)" in got.stderr
    assert "reading" in got.stderr
    assert "FileNotFoundError" in got.stderr and "nothere.csv" in got.stderr
    assert "solution.py" not in _cli("submissions", "titanic").stdout


@needs_bwrap
def test_an_endless_loop_on_the_test_ends_as_a_time_limit(titanic: Path, tmp_path: Path) -> None:
    _cli("rules", "titanic", "--time-limit", "3s")
    loop = GOOD + "if len(test) > 5:\n    while True:\n        pass\n"
    start = time.monotonic()
    got = CliRunner().invoke(cli, ["submit", "titanic", "--code", _script(tmp_path, loop)])
    assert got.exit_code == 1
    assert "ended in error: time limit" in got.stderr
    assert time.monotonic() - start < 3 + 5 + 20  # the example run and start-up besides


@needs_bwrap
def test_a_notebook_is_run_with_nbclient_and_scored(titanic: Path, tmp_path: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import pandas as pd\ntest = pd.read_csv('input/test.csv')"),
        nbformat.v4.new_code_cell(GOOD),
    ]
    path = tmp_path / "solution.ipynb"
    nbformat.write(nb, path)
    got = _cli("submit", "titanic", "--code", str(path))
    assert got.exit_code == 0, got.output
    assert "scored 0.7" in got.stdout
    assert "EXAMPLE-OR-TEST rows 5" in got.stderr


def test_a_code_file_that_is_neither_script_nor_notebook_is_refused(
    titanic: Path, tmp_path: Path
) -> None:
    got = CliRunner().invoke(cli, ["submit", "titanic", "--code", _script(tmp_path, "x", "a.sh")])
    assert got.exit_code == 1
    assert "a.sh: a code submission is a script (.py) or a notebook (.ipynb), got '.sh'" in (
        got.stderr
    )
    both = CliRunner().invoke(cli, ["submit", "titanic"])
    assert both.exit_code == 2
    assert "give a FILE of predictions or --code SCRIPT, one of the two" in both.stderr


@needs_bwrap
def test_a_hosted_code_submission_is_queued_at_once_then_run_by_a_worker(
    titanic: Path, settings: object, tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient
    from harness.board.queue import CodeQueue

    from harness.server.app import create_app
    from harness.server.participants import Participants

    people = Participants(settings)  # type: ignore[arg-type]
    alice = people.add("alice")
    app = TestClient(create_app(settings, max_upload=50_000))  # type: ignore[arg-type]
    auth = {"Authorization": f"Bearer {alice}"}
    _cli("rules", "titanic", "--code-only", "--daily-limit", "2")
    csv = app.post(
        "/api/competitions/titanic/submissions",
        headers=auth,
        files={"file": ("preds.csv", (titanic / "sample_submission.csv").read_bytes())},
    )
    assert csv.status_code == 403
    assert "titanic is a code competition" in csv.json()["error"]

    def upload(text: str) -> object:
        return app.post(
            "/api/competitions/titanic/code",
            headers=auth,
            files={"file": ("solution.py", text.encode())},
            data={"message": "hosted"},
        )

    start = time.monotonic()
    got = upload(GOOD)
    assert time.monotonic() - start < 5  # accepted, not run
    assert got.status_code == 200, got.text  # type: ignore[attr-defined]
    queued = got.json()  # type: ignore[attr-defined]
    assert queued["status"] == "queued" and queued["code"] == "solution.py"
    leaky = GOOD + "if len(test) > 5:\n    print('LEAK'); raise SystemExit(3)\n"
    assert upload(leaky).status_code == 200  # type: ignore[attr-defined]
    over = upload(GOOD)  # the limit counts queued code submissions
    assert over.status_code == 429, over.text  # type: ignore[attr-defined]

    def listing() -> list[dict[str, object]]:
        return list(app.get("/api/competitions/titanic/submissions", headers=auth).json()["rows"])

    assert [r["status"] for r in listing()] == ["queued", "queued"]
    assert CodeQueue(settings).work() == 2  # type: ignore[arg-type]
    rows = listing()
    assert [r["status"] for r in rows] == ["complete", "Error"]
    assert rows[1]["error"] == "code run on the test: exit code (under 1 min)"
    assert "LEAK" not in json.dumps(rows)
    one = app.get(f"/api/competitions/titanic/submissions/{queued['submission']}", headers=auth)
    assert one.status_code == 200 and one.json()["status"] == "complete"
    files = {f["name"]: f for f in app.get("/api/competitions/titanic/files", headers=auth).json()}
    example = app.get("/api/competitions/titanic/files/test.csv", headers=auth).text
    assert len(example.strip().splitlines()) == 1 + 5
    assert files["test.csv"]["size"] == len(example.encode())


@needs_bwrap
def test_the_notebook_api_submits_code_and_names_the_error_kind(
    titanic: Path, tmp_path: Path
) -> None:
    from harness.board.code import CodeFailed

    import harness

    got = harness.submit_code("titanic", _script(tmp_path, GOOD), message="api")
    assert got.result.public_score > 0.7
    assert "EXAMPLE-OR-TEST rows 5" in got.example_log
    assert got.runtime == "under 1 min"
    big = GOOD + "if len(test) > 5:\n    b = bytearray(30 * 2**30)\n"
    with pytest.raises(CodeFailed) as caught:
        harness.submit_code("titanic", _script(tmp_path, big, "big.py"))
    assert caught.value.kind == "memory"
    assert caught.value.log == ""  # the test run's output is never kept for the participant


@needs_bwrap
def test_the_pages_queue_code_and_show_its_status(
    titanic: Path, settings: object, tmp_path: Path
) -> None:
    import re

    from fastapi.testclient import TestClient
    from harness.board.queue import CodeQueue

    from harness.server.app import create_app
    from harness.server.participants import Participants

    token = Participants(settings).add("alice")  # type: ignore[arg-type]
    _cli("rules", "titanic", "--code-only", "--time-limit", "5m")
    web = TestClient(create_app(settings, max_upload=200_000))  # type: ignore[arg-type]
    assert web.post("/signin", data={"token": token}, follow_redirects=False).status_code == 303
    form = web.get("/c/titanic/submit").text
    assert 'accept=".py,.ipynb"' in form
    assert "code only        yes (code submissions: 5 min on the test" in form
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', form).group(1)  # type: ignore[union-attr]

    def post(name: str, data: bytes) -> object:
        fields = {"csrf": csrf, "message": "page"}
        return web.post("/c/titanic/submit", data=fields, files={"file": (name, data)})

    refused = post("preds.csv", (titanic / "sample_submission.csv").read_bytes())
    assert refused.status_code == 403  # type: ignore[attr-defined]
    assert "titanic is a code competition" in refused.text  # type: ignore[attr-defined]
    queued = post("solution.py", GOOD.encode())
    assert queued.status_code == 200, queued.text  # type: ignore[attr-defined]
    assert "solution.py is queued as" in queued.text  # type: ignore[attr-defined]
    listed = web.get("/c/titanic/submissions").text
    assert "queued" in listed and "solution.py" in listed
    assert CodeQueue(settings).work() == 1  # type: ignore[arg-type]
    listed = web.get("/c/titanic/submissions").text
    assert "complete" in listed and "queued" not in listed
