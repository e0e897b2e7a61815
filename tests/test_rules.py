"""Competition rules as on Kaggle (leaderboard.rules, .submit, .board, .referee): the daily
limit, errors that do not count, the hidden private score before the end, reveal, late entries,
final selections, medals, the ladder, and the warnings; the index stays equal to MLflow."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from harness.board import Leaderboard, rules

import harness
from harness.cli import cli
from harness.registry import get_competition
from harness.settings import Settings

COMP = "titanic"


def run(*args: str) -> object:
    return CliRunner().invoke(cli, list(args))


def _predictions(titanic: Path, seed: int, *, good: bool = False) -> pd.DataFrame:
    """Random labels, or (``good``) the gender model with a few rows flipped by ``seed``."""
    test = pd.read_csv(titanic / "test.csv")
    rng = np.random.default_rng(seed)
    if good:
        labels = (test["Sex"] == "female").astype(int).to_numpy().copy()
        flip = rng.choice(len(labels), size=3, replace=False)
        labels[flip] ^= 1
    else:
        labels = rng.integers(0, 2, len(test))
    return pd.DataFrame({"PassengerId": test["PassengerId"], "Survived": labels})


def _answers(settings: Settings) -> pd.DataFrame:
    return pd.read_csv(settings.private_dir(COMP) / "answers.csv")


def _mlflow_runs(settings: Settings) -> list:  # type: ignore[type-arg]
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=settings.tracking_uri)
    experiment = client.get_experiment_by_name(f"harness/{COMP}")
    return list(client.search_runs([experiment.experiment_id], max_results=1000))


def _agree(settings: Settings) -> pd.DataFrame:
    board = Leaderboard(settings)
    comp = get_competition(COMP)
    indexed = board.records(comp)
    pd.testing.assert_frame_equal(indexed, board.records_from_mlflow(comp))
    pd.testing.assert_frame_equal(board.records(comp, rebuild=True), indexed)
    return indexed


# -- defaults ------------------------------------------------------------------------------------


def test_the_default_is_practice_mode_as_before(titanic: Path) -> None:
    got = harness.rules(COMP)
    assert got == rules.Rules()
    assert got.phase() == "practice" and got.daily_limit is None and got.selections == 2
    result = harness.submit(COMP, _predictions(titanic, 0), participant="ann")
    assert result.entry.private_score is not None and result.left_today is None
    assert len(harness.leaderboard(COMP, private=True)) == 1


def test_rules_are_experiment_tags_shown_and_checked(titanic: Path, settings: Settings) -> None:
    out = run("rules", COMP, "--daily-limit", "5", "--deadline", "2099-01-31T23:59Z")
    assert out.exit_code == 0, out.output
    assert "5 per UTC day" in out.output and "2099-01-31 23:59 UTC" in out.output
    assert "running: private scores hidden until the end" in out.output
    from mlflow import MlflowClient

    tags = (
        MlflowClient(tracking_uri=settings.tracking_uri)
        .get_experiment_by_name(f"harness/{COMP}")
        .tags
    )
    assert tags["harness.rules.daily_limit"] == "5"
    assert tags["harness.rules.deadline"] == "2099-01-31T23:59:00Z"
    shown = json.loads(run("rules", COMP, "--format", "json").output)
    assert shown["daily_limit"] == 5 and shown["phase"] == "running"
    bad = run("rules", COMP, "--deadline", "next tuesday")
    assert bad.exit_code == 2 and "not a time: expected ISO 8601" in bad.output
    bad = run("rules", COMP, "--daily-limit", "five")
    assert bad.exit_code == 2 and "not a whole number" in bad.output
    assert run("rules", COMP, "--daily-limit", "none").exit_code == 0
    assert harness.rules(COMP).daily_limit is None


# -- the daily limit -----------------------------------------------------------------------------


def test_the_daily_limit_counts_valid_submissions_only(
    titanic: Path, settings: Settings, tmp_path: Path
) -> None:
    harness.rules(COMP, daily_limit=2)
    first = harness.submit(COMP, _predictions(titanic, 1), participant="ann")
    assert (first.left_today, first.daily_limit) == (1, 2)
    bad = tmp_path / "bad.csv"
    bad.write_text("PassengerId,Survived\n1,7\n")
    for _ in range(3):  # errors are recorded and do not count
        with pytest.raises(harness.InvalidSubmission):
            harness.submit(COMP, bad, participant="ann")
    second = harness.submit(COMP, _predictions(titanic, 2), participant="ann")
    assert second.left_today == 0
    with pytest.raises(harness.LimitReached) as refused:
        harness.submit(COMP, _predictions(titanic, 3), participant="ann")
    assert str(refused.value).startswith(
        "daily limit reached: 2 of 2 used today (UTC), next at 00:00Z (in "
    )
    # another participant has their own allowance; the CLI says what is left
    out = run("submit", COMP, str(titanic / "sample_submission.csv"), "--as", "bob")
    assert out.exit_code == 0 and "1 of 2 submissions left today (UTC)." in out.output
    out = run("submit", COMP, str(titanic / "sample_submission.csv"), "--as", "ann")
    assert out.exit_code == 1
    assert "Error: daily limit reached: 2 of 2 used today (UTC)" in out.output
    assert "Traceback" not in out.output
    listed = harness.submissions(COMP, "ann")
    assert listed["status"].tolist() == ["complete", "Error", "Error", "Error", "complete"]
    assert (listed["error"][listed["status"] == "Error"] != "").all()
    _agree(settings)


def test_a_new_utc_day_gives_a_new_allowance(
    titanic: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness.rules(COMP, daily_limit=1)
    harness.submit(COMP, _predictions(titanic, 1), participant="ann")
    with pytest.raises(harness.LimitReached):
        harness.submit(COMP, _predictions(titanic, 2), participant="ann")
    tomorrow = rules.day_start(rules.now_utc()) + dt.timedelta(days=1, minutes=1)
    monkeypatch.setattr(rules, "clock", lambda: tomorrow.timestamp())
    assert harness.submit(COMP, _predictions(titanic, 2), participant="ann").left_today == 0


_RACER = """
import sys
import harness
from harness.errors import LimitReached
try:
    harness.submit("titanic", sys.argv[1], participant="racer", message=sys.argv[2])
except LimitReached:
    print("refused")
else:
    print("accepted")
"""


def test_sixteen_racing_processes_never_get_past_the_limit(
    titanic: Path, settings: Settings, tmp_path: Path
) -> None:
    harness.rules(COMP, daily_limit=5)
    harness.submit(COMP, _predictions(titanic, 0), participant="warm-up")  # the db exists
    files = []
    for i in range(16):
        path = tmp_path / f"p{i}.csv"
        _predictions(titanic, 100 + i).to_csv(path, index=False)
        files.append(path)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _RACER, str(path), f"m{i}"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i, path in enumerate(files)
    ]
    said = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [e[-500:] for _, e in said]
    answers = [out.strip() for out, _ in said]
    assert answers.count("accepted") == 5 and answers.count("refused") == 11
    racer = harness.submissions(COMP, "racer")
    assert len(racer) == 5 and (racer["status"] == "complete").all()
    runs = [r for r in _mlflow_runs(settings) if r.data.tags["harness.participant"] == "racer"]
    assert len(runs) == 5  # nothing half-recorded by the refused ones


# -- the deadline, reveal, late entries ----------------------------------------------------------


def test_no_private_score_anywhere_before_the_end_then_reveal(
    titanic: Path, settings: Settings
) -> None:
    harness.rules(COMP, deadline="2099-01-01T00:00Z")
    first = harness.submit(COMP, _predictions(titanic, 1, good=True), participant="ann")
    harness.submit(COMP, _predictions(titanic, 2), participant="bob")
    out = run("submit", COMP, str(titanic / "sample_submission.csv"), "--as", "cat")
    assert out.exit_code == 0 and "Private scores are hidden until the competition ends" in (
        out.output
    )
    assert first.entry.private_score is None
    assert not any(k.endswith("_private") for k in first.entry.extra)
    for mlflow_run in _mlflow_runs(settings):  # not even in MLflow
        assert not any("private" in name for name in mlflow_run.data.metrics)
    with pytest.raises(harness.RuleBroken, match="hidden until the competition ends"):
        harness.leaderboard(COMP, private=True)
    refused = run("leaderboard", COMP, "--private")
    assert refused.exit_code == 1 and "Error: the private leaderboard of titanic is hidden" in (
        refused.output
    )
    for fmt in ("json", "csv", "table"):
        for command in (["leaderboard", COMP], ["submissions", COMP]):
            shown = run(
                *command, "--format", fmt, *(["--as", "ann"] if "sub" in command[0] else [])
            )
            assert shown.exit_code == 0 and "ann" in shown.output
            assert "private" not in shown.output.replace(str(settings.home), "")
    assert "private_score" not in harness.submissions(COMP).columns
    (report,) = harness.verify(COMP)  # hidden private scores are not a difference
    assert report.findings == [] and report.submissions == 3

    ended = run("reveal", COMP, "--yes")
    assert ended.exit_code == 0, ended.output
    assert "3 private scores computed" in ended.output
    board = harness.leaderboard(COMP, private=True)
    answers = _answers(settings)
    private = answers[answers["Usage"] == "Private"]
    test = pd.read_csv(titanic / "test.csv")
    mine = _predictions(titanic, 1, good=True).set_index("PassengerId")
    expected = float(
        (
            mine.loc[private["PassengerId"], "Survived"].to_numpy()
            == private["Survived"].to_numpy()
        ).mean()
    )
    assert dict(zip(board["participant"], board["score"], strict=True))["ann"] == pytest.approx(
        expected
    )
    assert len(test) == len(answers)
    assert "medal" in board and board["medal"].iloc[0] == "gold"
    assert set(board.attrs["shakeup"]) == {
        "kendall_tau",
        "mean_abs_change",
        "forecast_mean_abs_change",
    }
    assert all("private_score" in r.data.metrics for r in _mlflow_runs(settings))
    _agree(settings)  # the index saw the graded runs (a new generation)

    late = harness.submit(COMP, _predictions(titanic, 5, good=True), participant="dan")
    assert late.late and late.rank is None and late.entry.private_score is not None
    assert "dan" not in set(harness.leaderboard(COMP)["participant"])
    assert "dan" not in set(harness.leaderboard(COMP, private=True)["participant"])
    listed = harness.submissions(COMP, "dan")
    assert listed["status"].tolist() == ["late"]
    out = run("submit", COMP, str(titanic / "sample_submission.csv"), "--as", "eve")
    assert "Late submission" in out.output and "never ranked" in out.output
    _agree(settings)
    (report,) = harness.verify(COMP)  # graded private scores regrade the same
    assert report.findings == [] and report.submissions == 5


def test_a_passed_deadline_grades_on_the_first_private_read(
    titanic: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    soon = rules.now_utc() + dt.timedelta(hours=1)
    harness.rules(COMP, deadline=soon)
    harness.submit(COMP, _predictions(titanic, 1, good=True), participant="ann")
    harness.submit(COMP, _predictions(titanic, 2), participant="bob")
    with pytest.raises(harness.RuleBroken):
        harness.leaderboard(COMP, private=True)
    later = soon + dt.timedelta(minutes=1)
    monkeypatch.setattr(rules, "clock", lambda: later.timestamp())
    board = harness.leaderboard(COMP, private=True)
    assert board["score"].notna().all() and board["participant"].tolist()[0] == "ann"
    with pytest.raises(harness.RuleBroken, match="selections closed"):
        harness.select(COMP, harness.submissions(COMP)["run_id"].iloc[0], participant="ann")


# -- final selections ----------------------------------------------------------------------------


def test_selections_pick_the_private_entry_and_have_an_allowance(
    titanic: Path, settings: Settings
) -> None:
    harness.rules(COMP, selections=2)
    ids = [
        harness.submit(COMP, _predictions(titanic, i, good=i < 2), participant="ann").entry.run_id
        for i in range(3)
    ]
    other = harness.submit(COMP, _predictions(titanic, 9), participant="bob").entry.run_id
    listed = harness.submissions(COMP, "ann")
    assert set(listed["selected"]) <= {"auto", ""} and (listed["selected"] == "auto").sum() == 2
    # the random entry (ids[2]) was not among ann's best two by public score: select it
    out = run("select", COMP, ids[2][:8], "--as", "ann")
    assert out.exit_code == 0 and "Final selections" in out.output and "(1 of 2)" in out.output
    private = harness.leaderboard(COMP, private=True)
    ann = private[private["participant"] == "ann"].iloc[0]
    graded = harness.submissions(COMP, "ann").set_index("run_id")
    assert ann["score"] == graded.loc[ids[2], "private_score"]  # only the selected one counts
    assert harness.select(COMP, ids[0], participant="ann")["selections"] == sorted(ids[::2])
    with pytest.raises(harness.RuleBroken, match="final selections: 2 of 2 used"):
        harness.select(COMP, ids[1], participant="ann")
    with pytest.raises(harness.RuleBroken, match="is not yours"):
        harness.select(COMP, other, participant="ann")
    with pytest.raises(harness.RuleBroken, match="not a submission id"):
        harness.select(COMP, "x';drop", participant="ann")
    with pytest.raises(harness.RuleBroken, match="no submission"):
        harness.select(COMP, "abcdef0123", participant="ann")
    harness.select(COMP, ids[2], participant="ann", unselect=True)
    assert harness.select(COMP, ids[1], participant="ann")["selections"] == sorted(ids[:2])
    flags = harness.submissions(COMP, "ann").set_index("run_id")["selected"]
    assert flags.to_dict() == {ids[0]: "yes", ids[1]: "yes", ids[2]: ""}
    _agree(settings)


# -- the statistics on the board -----------------------------------------------------------------


def test_the_public_board_shows_intervals_classes_and_the_forecast(titanic: Path) -> None:
    for i, who in enumerate(["ann", "bob", "cat"]):
        harness.submit(COMP, _predictions(titanic, i, good=who == "ann"), participant=who)
    board = harness.leaderboard(COMP)
    assert list(board.columns[:7]) == [
        "rank",
        "participant",
        "score",
        "low",
        "high",
        "class",
        "holds",
    ]
    assert (board["low"] <= board["score"]).all() and (board["score"] <= board["high"]).all()
    assert board["class"].iloc[0] == 1 and board["holds"].between(0, 1).all()
    again = harness.leaderboard(COMP)  # seeded: the same board gives the same statistics
    pd.testing.assert_frame_equal(board, again)
    table = run("leaderboard", COMP)
    assert "95% interval" in table.output and "holds" in table.output


def test_intervals_survive_a_lost_cache_by_regrading_the_artifacts(
    titanic: Path, settings: Settings
) -> None:
    import shutil

    for i, who in enumerate(["ann", "bob"]):
        harness.submit(COMP, _predictions(titanic, i), participant=who)
    before = harness.leaderboard(COMP)
    shutil.rmtree(settings.cache_dir / "rows")
    pd.testing.assert_frame_equal(harness.leaderboard(COMP), before)


# -- the ladder ----------------------------------------------------------------------------------


def test_ladder_mode_shows_only_improvements_beyond_the_noise(titanic: Path) -> None:
    harness.rules(COMP, ladder=True)
    good = _predictions(titanic, 1, good=True)
    first = harness.submit(COMP, good, participant="ann")
    assert first.shown_score == pytest.approx(first.public_score)
    noisy = good.copy()
    noisy.loc[noisy.index[:2], "Survived"] ^= 1  # two rows changed: within the noise
    held = harness.submit(COMP, noisy, participant="ann")
    assert held.entry.tags["harness.ladder"] == "held"
    assert held.shown_score == first.shown_score
    board = harness.leaderboard(COMP)
    assert board["score"].tolist() == [first.shown_score]
    assert not any(c.endswith("_public") for c in board.columns)
    out = run("submit", COMP, str(titanic / "sample_submission.csv"), "--as", "ann")
    assert out.exit_code == 0 and "on the ladder" in out.output
    listed = harness.submissions(COMP, "ann")
    assert listed["public_score"].iloc[1] == first.shown_score  # never the raw score


# -- warnings ------------------------------------------------------------------------------------


def test_identical_files_and_a_public_score_far_above_the_cv_are_warned_of(
    titanic: Path,
) -> None:
    first = harness.submit(COMP, titanic / "sample_submission.csv", participant="ann")
    assert first.warnings == ()
    again = harness.submit(COMP, titanic / "sample_submission.csv", participant="ann")
    assert len(again.warnings) == 1 and first.entry.run_id[:8] in again.warnings[0]
    assert "byte-identical" in again.warnings[0]
    flattered = harness.submit(
        COMP, _predictions(titanic, 1, good=True), participant="bob", cv=0.40
    )
    assert any("beats your CV 0.40000" in w for w in flattered.warnings)
    honest = harness.submit(
        COMP, _predictions(titanic, 2, good=True), participant="cat", cv=flattered.public_score
    )
    assert honest.warnings == ()
    board = harness.leaderboard(COMP)
    assert dict(zip(board["participant"], board["cv_score"], strict=True))["bob"] == 0.40
    out = run("submit", COMP, str(titanic / "sample_submission.csv"), "--as", "ann")
    assert "warning: this file is byte-identical" in out.output
