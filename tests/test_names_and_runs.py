"""Names and messages are data, entries belong to one preparation, and killed submits are swept:
what one participant, one re-preparation or one killed process must not do to everyone's board."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from harness.board import Leaderboard

import harness
from harness.cli import cli
from harness.registry import get_competition
from harness.settings import Settings


def run(*args: str) -> object:
    # without HARNESS_PARTICIPANT, which `submissions` would take as its filter
    return CliRunner().invoke(cli, list(args), env={"HARNESS_PARTICIPANT": None})


def _record(board: Leaderboard, file: Path, who: str, message: str, public: float) -> str:
    """Straight into the store, past submit's checks: a run written by an older harness or by
    hand in MLflow, which every view must still print as text."""
    from harness.data.preparation import read_manifest

    comp = get_competition("titanic")
    digest = read_manifest(comp, board.settings)["files"]["private/answers.csv"]
    entry = board.record(
        comp,
        participant=who,
        kind="submission",
        message=message,
        public_score=public,
        private_score=1 - public,
        file=file,
        tags={"harness.preparation": digest},
    )
    return entry.run_id


# -- 1. names and messages ---------------------------------------------------------------------


def test_markup_and_control_characters_on_the_board_are_printed_as_text(
    titanic: Path, settings: Settings
) -> None:
    board = Leaderboard(settings)
    file = titanic / "sample_submission.csv"
    _record(board, file, "[/oops]", "[red]not red[/red]", 0.5)
    _record(board, file, "[bold]mallory[/bold]", "title\x1b]0;pwned\x07 \x1b[2J", 0.6)
    _record(board, file, "eve\n 1 | admin", "two\nlines", 0.7)
    for args in (
        ["leaderboard", "titanic"],
        ["leaderboard", "titanic", "--private"],
        ["leaderboard", "titanic", "--all-preparations"],
        ["submissions", "titanic"],
    ):
        result = run(*args)
        assert result.exit_code == 0, (args, result.stderr, result.exception)
        out = result.stdout
        assert "[/oops]" in out and "[bold]mallory[/bold]" in out, args
        assert "[red]not red[/red]" in out, args
        assert "\x1b" not in out and "\x07" not in out, args
        assert "\\x1b]0;pwned\\x07" in out, args  # visible, escaped
        assert "eve\\n 1 | admin" in out and "two\\nlines" in out, args


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("[/oops]", "has '[', outside letters, digits, space and . _ - / @ + :"),
        ("[bold]mallory[/bold]", "has '[', outside letters, digits, space and . _ - / @ + :"),
        ("mal\x1b]0;x\x07lory", "has '\\x1b', outside letters, digits, space and . _ - / @ + :"),
        ("nul\x00", "has '\\x00', outside letters, digits, space and . _ - / @ + :"),
        ("eve\n 1 | admin", "has '\\n', outside letters, digits, space and . _ - / @ + :"),
        ("x" * 65, "is 65 characters long; at most 64"),
        ("", "is empty"),
        (" alice", "starts or ends with a space"),
    ],
)
def test_submit_refuses_a_participant_name_that_could_break_or_spoof_the_board(
    titanic: Path, name: str, problem: str
) -> None:
    file = titanic / "sample_submission.csv"
    with pytest.raises(harness.HarnessError, match="participant name") as caught:
        harness.submit("titanic", file, participant=name)
    assert problem in str(caught.value)
    assert "\x1b" not in str(caught.value) and "\n" not in str(caught.value)
    result = run("submit", "titanic", str(file), "--as", name)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: participant name "), result.stderr
    assert problem in result.stderr
    assert harness.submissions("titanic").empty


def test_the_error_names_the_participant_with_its_characters_escaped(titanic: Path) -> None:
    with pytest.raises(harness.HarnessError) as caught:
        harness.submit("titanic", titanic / "sample_submission.csv", participant="a\x1bb")
    assert str(caught.value) == (
        "participant name 'a\\x1bb' has '\\x1b', outside letters, digits, space and . _ - / @ + :"
    )


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        ("a" * 1001, "message is 1,001 characters long; at most 1,000"),
        ("red \x1b[31m", "message has a control character: '\\x1b'"),
        ("two\nlines", "message has a control character: '\\n'"),
        ("rtl \u202e", "message has a control character: '\\u202e'"),
    ],
)
def test_submit_refuses_a_message_too_long_or_with_control_characters(
    titanic: Path, message: str, problem: str
) -> None:
    with pytest.raises(harness.HarnessError) as caught:
        harness.submit("titanic", titanic / "sample_submission.csv", message=message)
    assert str(caught.value) == problem
    assert harness.submissions("titanic").empty


def test_valid_names_and_messages_are_recorded_and_shown_verbatim(titanic: Path) -> None:
    file = titanic / "sample_submission.csv"
    for name in ("baseline/gbm", "Zoë Müller", "a.b_c-d/e@f+g", "x" * 64):
        harness.submit("titanic", file, participant=name, message="[b]not bold[/b] ✓ " * 2)
    harness.submit("titanic", file, participant="ann", message="m" * 1000)
    result = run("submit", "titanic", str(file), "--as", "bob", "-m", "[red]x[/red]")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("titanic: bob's submission scored")
    board = run("leaderboard", "titanic").stdout
    assert "baseline/gbm" in board and "Zoë Müller" in board and "[b]not bold[/b]" in board
    assert "[red]x[/red]" in run("submissions", "titanic").stdout


# -- 2. preparations ---------------------------------------------------------------------------


def _prepare_again_from_other_data(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    shutil.copytree(get_competition("titanic").embedded_raw, raw)
    train = pd.read_csv(raw / "train.csv")
    train.iloc[10:].to_csv(raw / "train.csv", index=False)
    harness.prepare("titanic", raw=raw, force=True)


def test_entries_of_an_earlier_preparation_are_not_ranked_by_default(
    titanic: Path, settings: Settings, tmp_path: Path
) -> None:
    from mlflow import MlflowClient

    from harness.data.preparation import read_manifest

    comp = get_competition("titanic")
    first_digest = read_manifest(comp, settings)["files"]["private/answers.csv"]
    old = harness.submit("titanic", titanic / "sample_submission.csv", participant="old")
    client = MlflowClient(settings.tracking_uri)
    assert client.get_run(old.entry.run_id).data.tags["harness.preparation"] == first_digest

    _prepare_again_from_other_data(tmp_path)
    digest = read_manifest(comp, settings)["files"]["private/answers.csv"]
    assert digest != first_digest
    new = harness.submit("titanic", titanic / "sample_submission.csv", participant="new")
    assert (new.rank, new.participants) == (1, 1)
    assert client.get_run(new.entry.run_id).data.tags["harness.preparation"] == digest

    board = harness.leaderboard("titanic")
    assert board["participant"].tolist() == ["new"]
    note = "1 entry from an earlier preparation is not ranked (--all-preparations shows them)"
    assert board.attrs["note"] == note
    assert harness.leaderboard("titanic", private=True)["participant"].tolist() == ["new"]
    every = harness.leaderboard("titanic", all_preparations=True)
    assert sorted(every["participant"]) == ["new", "old"]
    which = dict(zip(every["participant"], every["preparation"], strict=True))
    assert which == {"new": "current", "old": f"earlier {first_digest[:12]}"}

    table = run("leaderboard", "titanic")
    assert table.exit_code == 0, table.stderr
    assert "│ new " in table.stdout and "│ old " not in table.stdout
    assert note in table.stdout
    shown = run("leaderboard", "titanic", "--all-preparations")
    assert "old" in shown.stdout and "preparation" in shown.stdout
    assert "earlier" in shown.stdout
    csv = run("leaderboard", "titanic", "--format", "csv")
    assert "\nold," not in csv.stdout and "\n1,new," in csv.stdout and note in csv.stderr


def test_runs_without_the_preparation_tag_count_by_when_they_were_recorded(
    titanic: Path, settings: Settings
) -> None:
    from mlflow import MlflowClient

    old = harness.submit("titanic", titanic / "sample_submission.csv", participant="old")
    client = MlflowClient(settings.tracking_uri)
    client.delete_tag(old.entry.run_id, "harness.preparation")  # written by an older harness
    board = Leaderboard(settings)
    board.submissions(get_competition("titanic"), rebuild=True)
    # recorded after the current preparation was made: it was scored on it
    assert harness.leaderboard("titanic")["participant"].tolist() == ["old"]

    time.sleep(1.1)  # the manifest's prepared_at has a resolution of one second
    harness.prepare("titanic", force=True)
    harness.submit("titanic", titanic / "sample_submission.csv", participant="new")
    assert harness.leaderboard("titanic")["participant"].tolist() == ["new"]
    every = harness.leaderboard("titanic", all_preparations=True)
    assert dict(zip(every["participant"], every["preparation"], strict=True))["old"] == "unknown"


# -- 3. killed submits -------------------------------------------------------------------------


def _killed_submit(settings: Settings, hours_ago: float, who: str = "killed") -> str:
    from mlflow import MlflowClient

    client = MlflowClient(settings.tracking_uri)
    experiment = client.get_experiment_by_name("harness/titanic").experiment_id
    run = client.create_run(
        experiment,
        start_time=int((time.time() - hours_ago * 3600) * 1000),
        tags={"harness.participant": who, "harness.kind": "submission"},
    )
    return str(run.info.run_id)


def test_sweep_marks_submissions_running_past_the_grace_period_failed(
    titanic: Path, settings: Settings
) -> None:
    from mlflow import MlflowClient

    harness.submit("titanic", titanic / "sample_submission.csv", participant="ann")
    board = Leaderboard(settings)
    comp = get_competition("titanic")
    before = harness.leaderboard("titanic")
    stale = _killed_submit(settings, hours_ago=2)
    recent = _killed_submit(settings, hours_ago=0)  # may still be in flight: left alone
    client = MlflowClient(settings.tracking_uri)
    experiment = client.get_experiment_by_name("harness/titanic").experiment_id
    study = client.create_run(experiment, start_time=int((time.time() - 7200) * 1000))

    assert board.sweep_stale(comp) == [stale]
    swept = client.get_run(stale)
    assert swept.info.status == "FAILED"
    assert "RUNNING" in swept.data.tags["harness.swept"]
    assert client.get_run(recent).info.status == "RUNNING"
    assert client.get_run(study.info.run_id).info.status == "RUNNING"  # not a submission
    assert board.sweep_stale(comp) == []  # done once
    assert board.sweep_stale(comp, older_than_ms=0) == [recent]

    pd.testing.assert_frame_equal(harness.leaderboard("titanic"), before)
    pd.testing.assert_frame_equal(board.submissions(comp), board.submissions_from_mlflow(comp))
    assert board.sweep_stale(get_competition("house-prices")) == []  # no experiment yet


def test_reading_the_board_sweeps_stale_runs_it_notices(titanic: Path, settings: Settings) -> None:
    from mlflow import MlflowClient

    harness.submit("titanic", titanic / "sample_submission.csv", participant="ann")
    before = harness.leaderboard("titanic")
    stale = _killed_submit(settings, hours_ago=3)
    for path in settings.cache_dir.glob("runs-*.json"):  # read again in full: the index sees it
        path.unlink()
    pd.testing.assert_frame_equal(harness.leaderboard("titanic"), before)
    client = MlflowClient(settings.tracking_uri)
    assert client.get_run(stale).info.status == "FAILED"
    assert "harness.swept" in client.get_run(stale).data.tags
    board = Leaderboard(settings)
    comp = get_competition("titanic")
    pd.testing.assert_frame_equal(board.submissions(comp), board.submissions_from_mlflow(comp))
