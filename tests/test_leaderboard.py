"""The leaderboard: Kaggle's ranking rules, MLflow as the system of record, and the derived
index that must never disagree with it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
from harness.board import Leaderboard
from harness.board.ranking import standings

import harness
from harness.registry import get_competition
from harness.settings import Settings


def _subs(*rows: tuple[str, float, float, int]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "run_id": f"r{i}",
                "participant": p,
                "kind": "submission",
                "message": f"m{i}",
                "submitted_at": t,
                "public_score": pub,
                "private_score": priv,
            }
            for i, (p, pub, priv, t) in enumerate(rows)
        ]
    )


def test_each_participant_is_ranked_by_their_best_public_score() -> None:
    subs = _subs(
        ("ann", 0.70, 0.71, 1),
        ("bob", 0.80, 0.60, 2),
        ("ann", 0.75, 0.65, 3),
        ("cat", 0.60, 0.90, 4),
    )
    table = standings(subs, greater_is_better=True)
    assert table[["rank", "participant", "score", "submissions"]].values.tolist() == [
        [1, "bob", 0.80, 1],
        [2, "ann", 0.75, 2],
        [3, "cat", 0.60, 1],
    ]
    assert table["message"].tolist() == ["m1", "m2", "m3"]


def test_lower_is_better_metrics_rank_the_smallest_first() -> None:
    subs = _subs(("ann", 0.20, 0.2, 1), ("bob", 0.10, 0.3, 2), ("bob", 0.30, 0.1, 3))
    table = standings(subs, greater_is_better=False)
    assert table["participant"].tolist() == ["bob", "ann"]
    assert table["score"].tolist() == [0.10, 0.20]


def test_ties_go_to_the_earlier_submission_not_mlflows_newest_first_order() -> None:
    subs = _subs(("late", 0.8, 0.8, 20), ("early", 0.8, 0.8, 10), ("mid", 0.8, 0.8, 15))
    assert standings(subs, greater_is_better=True)["participant"].tolist() == [
        "early",
        "mid",
        "late",
    ]
    own = _subs(("ann", 0.8, 0.1, 5), ("ann", 0.8, 0.9, 9))  # own tie: the earlier one counts
    row = standings(own, greater_is_better=True, private=True).iloc[0]
    assert row["score"] == 0.1


def test_private_view_ranks_the_same_entries_by_private_score_with_rank_change() -> None:
    subs = _subs(
        ("ann", 0.90, 0.60, 1),
        ("bob", 0.80, 0.85, 2),
        ("bob", 0.70, 0.99, 3),
        ("cat", 0.70, 0.70, 4),
    )
    table = standings(subs, greater_is_better=True, private=True)
    # bob's entry is his best *public* submission (0.80), so its private 0.85 counts, not 0.99
    assert table[["rank", "change", "participant", "score", "public_score"]].values.tolist() == [
        [1, 1, "bob", 0.85, 0.80],
        [2, 1, "cat", 0.70, 0.70],
        [3, -2, "ann", 0.60, 0.90],
    ]


def test_an_empty_board_has_the_usual_columns(home: Path, titanic: Path) -> None:
    assert harness.leaderboard("titanic").empty
    assert list(harness.leaderboard("titanic", private=True).columns)[:2] == ["rank", "change"]


def test_submit_records_a_run_with_scores_tags_and_the_file(
    titanic: Path, settings: Settings
) -> None:
    from mlflow import MlflowClient

    result = harness.submit(
        "titanic", titanic / "sample_submission.csv", message="all die", participant="alice"
    )
    assert (result.rank, result.participants) == (1, 1)
    run = MlflowClient(settings.tracking_uri).get_run(result.entry.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["harness.participant"] == "alice"
    assert run.data.tags["harness.kind"] == "submission"
    assert run.data.tags["harness.message"] == "all die"
    assert run.data.metrics["public_score"] == result.public_score
    assert 0 < run.data.metrics["private_score"] < 1
    artifact = Path(run.info.artifact_uri.removeprefix("file://")) / "sample_submission.csv"
    assert artifact.read_bytes() == (titanic / "sample_submission.csv").read_bytes()
    assert run.data.tags["harness.sha256"] == result.entry.sha256
    assert str(settings.home) in run.info.artifact_uri  # artifacts live in HARNESS_HOME


def test_submit_takes_a_dataframe_and_history_lists_submissions_oldest_first(
    titanic: Path,
) -> None:
    frame = pd.read_csv(titanic / "sample_submission.csv")
    harness.submit("titanic", frame, message="first", participant="ann")
    frame["Survived"] = 1
    harness.submit("titanic", frame, message="second", participant="ann")
    harness.submit("titanic", frame, message="other", participant="bob")
    mine = harness.submissions("titanic", "ann")
    assert mine["message"].tolist() == ["first", "second"]
    assert mine["status"].tolist() == ["complete", "complete"]
    assert len(harness.submissions("titanic")) == 3


def test_an_invalid_submission_is_listed_as_an_error_and_never_ranked(
    titanic: Path, tmp_path: Path
) -> None:
    harness.submit("titanic", titanic / "sample_submission.csv", participant="ann")
    bad = tmp_path / "bad.csv"
    bad.write_text("PassengerId,Survived\n1,7\n")
    with pytest.raises(harness.InvalidSubmission) as raised:
        harness.submit("titanic", bad, participant="ann", message="oops")
    listed = harness.submissions("titanic")
    assert listed["status"].tolist() == ["complete", "Error"]
    error = listed.iloc[1]
    assert error["file"] == "bad.csv" and error["message"] == "oops"
    assert error["error"] == "; ".join(raised.value.problems)
    assert error["public_score"] != error["public_score"]  # NaN: never scored
    board = harness.leaderboard("titanic")
    assert board["submissions"].tolist() == [1]  # the error is not an entry


def _record(board: Leaderboard, file: Path, who: str, public: float) -> str:
    entry = board.record(
        get_competition("titanic"),
        participant=who,
        kind="submission",
        message=who,
        public_score=public,
        private_score=1 - public,
        file=file,
    )
    return entry.run_id


def _agree(board: Leaderboard) -> pd.DataFrame:
    comp = get_competition("titanic")
    indexed = board.submissions(comp)
    scanned = board.submissions_from_mlflow(comp)
    pd.testing.assert_frame_equal(indexed, scanned)
    rebuilt = board.submissions(comp, rebuild=True)
    pd.testing.assert_frame_equal(rebuilt, scanned)
    return indexed


def test_the_index_never_disagrees_with_mlflow(titanic: Path, settings: Settings) -> None:
    from mlflow import MlflowClient

    board = Leaderboard(settings)
    file = titanic / "sample_submission.csv"
    assert _agree(board).empty
    ids = [_record(board, file, f"p{i % 3}", i / 10) for i in range(6)]
    assert len(_agree(board)) == 6

    client = MlflowClient(settings.tracking_uri)
    client.delete_run(ids[0])  # deleted in the MLflow UI
    assert ids[0] not in set(_agree(board)["run_id"])
    client.restore_run(ids[0])
    assert ids[0] in set(_agree(board)["run_id"])

    experiment = client.get_experiment_by_name("harness/titanic").experiment_id
    client.create_run(
        experiment,
        tags={
            "harness.participant": "zed",  # a killed submit:
            "harness.kind": "submission",
        },
    )  # RUNNING forever
    client.create_run(experiment)  # someone's unrelated run in the same experiment
    assert len(_agree(board)) == 6

    time.sleep(2.5)  # past the index's slack: later reads use the watermark
    ids.append(_record(board, file, "late", 0.99))
    assert _agree(board)["run_id"].iloc[-1] == ids[-1]
    client.delete_run(ids[3])
    assert len(_agree(board)) == 6


def test_the_index_is_rebuilt_from_mlflow_alone_when_deleted(
    titanic: Path, settings: Settings
) -> None:
    board = Leaderboard(settings)
    for i in range(3):
        _record(board, titanic / "sample_submission.csv", f"p{i}", i / 10)
    before = harness.leaderboard("titanic")
    for path in settings.cache_dir.glob("runs-*.json"):
        path.unlink()
    pd.testing.assert_frame_equal(harness.leaderboard("titanic"), before)


def test_a_submit_killed_midway_leaves_no_half_entry(titanic: Path, settings: Settings) -> None:
    script = textwrap.dedent(f"""
        import os, mlflow.tracking.client as c
        def die(*a, **k): os._exit(9)  # killed after the run was created, before it finished
        c.MlflowClient.set_terminated = die
        import harness
        harness.submit("titanic", {str(titanic / "sample_submission.csv")!r}, participant="x")
    """)
    done = subprocess.run([sys.executable, "-c", script], env=os.environ.copy(), timeout=120)
    assert done.returncode == 9
    assert harness.submissions("titanic").empty
    assert harness.leaderboard("titanic").empty
    harness.submit("titanic", titanic / "sample_submission.csv", participant="x")
    assert len(harness.submissions("titanic")) == 1


def test_eight_processes_submitting_at_once_are_all_recorded(home: Path, titanic: Path) -> None:
    harness_cli = Path(sys.executable).with_name("harness")
    command = [str(harness_cli)] if harness_cli.exists() else [sys.executable, "-m", "harness.cli"]
    procs = [
        subprocess.Popen(
            [
                *command,
                "submit",
                "titanic",
                str(titanic / "sample_submission.csv"),
                "-m",
                f"n{i}",
                "--as",
                f"p{i}",
            ],
            env=os.environ.copy(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(8)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, outputs
    history = harness.submissions("titanic")
    assert sorted(history["message"]) == [f"n{i}" for i in range(8)]
    assert len(harness.leaderboard("titanic")) == 8


def test_an_unreachable_tracking_server_is_a_clear_error(
    titanic: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    with pytest.raises(harness.HarnessError, match=r"MLflow store http://127.0.0.1:9"):
        harness.leaderboard("titanic", tracking_uri="http://127.0.0.1:9")


def test_a_kept_board_is_the_computed_one_until_anyone_changes_the_store(
    home: Path, titanic: Path
) -> None:
    from harness.board import board as boards

    for i in range(3):
        harness.submit("titanic", titanic / "sample_submission.csv", participant=f"p{i}")
    boards._FINISHED.clear()
    first = harness.leaderboard("titanic")
    assert first["low"].notna().all()  # the statistics were computed, so the board is kept
    assert len(boards._FINISHED) == 1
    kept = harness.leaderboard("titanic")
    boards._FINISHED.clear()
    pd.testing.assert_frame_equal(kept, harness.leaderboard("titanic"))  # as if recomputed
    kept.loc[0, "participant"] = "changed by the caller"  # a copy: the kept one is untouched
    assert harness.leaderboard("titanic")["participant"].tolist() == first["participant"].tolist()

    harness_cli = Path(sys.executable).with_name("harness")
    command = [str(harness_cli)] if harness_cli.exists() else [sys.executable, "-m", "harness.cli"]
    done = subprocess.run(  # another process submits: this one's next read shows it
        [*command, "submit", "titanic", str(titanic / "sample_submission.csv"), "--as", "p9"],
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert sorted(harness.leaderboard("titanic")["participant"]) == ["p0", "p1", "p2", "p9"]
    assert len(boards._FINISHED) == 2
    harness.rules("titanic", ladder=True)  # a rule change is a new state too
    harness.leaderboard("titanic")
    assert len(boards._FINISHED) == 3
