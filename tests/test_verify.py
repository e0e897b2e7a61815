"""`harness verify`: answers re-derived from the raw data, artifacts against their sha256,
every submission regraded, the index against MLflow; and the index's signature, so a
hand-edited cache file never changes the board."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result

import harness
from harness.cli import cli
from harness.settings import Settings


def _cli(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def _predictions(titanic: Path, tmp_path: Path, flip: int, name: str = "preds.csv") -> Path:
    """The sample submission with the first ``flip`` predictions set to 1."""
    frame = pd.read_csv(titanic / "sample_submission.csv")
    frame.loc[: flip - 1, "Survived"] = 1
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def _submit(titanic: Path, tmp_path: Path, flip: int, who: str = "alice") -> str:
    path = _predictions(titanic, tmp_path, flip, f"preds{flip}.csv")
    return harness.submit("titanic", path, participant=who, message=f"flip {flip}").entry.run_id


def _client(settings: Settings):  # type: ignore[no-untyped-def]
    from mlflow import MlflowClient

    return MlflowClient(settings.tracking_uri)


def test_a_clean_home_verifies_with_exit_0(titanic: Path, tmp_path: Path) -> None:
    _submit(titanic, tmp_path, 10, "alice")
    _submit(titanic, tmp_path, 60, "bob")
    result = _cli("verify", "titanic")
    assert result.exit_code == 0, result.output
    assert "titanic: OK (2 submissions checked; answers re-derived from" in result.output
    assert result.output.rstrip().endswith(
        "verify: OK: 1 competition, 2 submissions, nothing differs."
    )
    everything = _cli("verify")  # every prepared competition
    assert everything.exit_code == 0, everything.output


def test_answers_edited_with_their_manifest_hash_are_caught(
    titanic: Path, tmp_path: Path, settings: Settings
) -> None:
    from harness.files import sha256_file

    _submit(titanic, tmp_path, 10)
    answers = settings.private_dir("titanic") / "answers.csv"
    frame = pd.read_csv(answers)
    frame.loc[:20, "Survived"] = 1 - frame.loc[:20, "Survived"]
    frame.to_csv(answers, index=False)
    manifest_path = settings.private_dir("titanic") / "MANIFEST.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["files"]["private/answers.csv"] = sha256_file(answers)  # covered up
    manifest_path.write_text(json.dumps(manifest))
    harness.validate("titanic", titanic / "sample_submission.csv")  # the manifest agrees

    result = _cli("verify", "titanic")
    assert result.exit_code == 1, result.output
    out = result.output
    assert "titanic: private/answers.csv: the manifest's sha256" in out
    assert "re-derived from the raw data" in out
    assert "public_score regrades to" in out  # and scores no longer match their answers


def test_a_hand_edited_score_in_the_index_does_not_change_the_board(
    titanic: Path, tmp_path: Path, settings: Settings
) -> None:
    _submit(titanic, tmp_path, 10, "alice")
    time.sleep(2.5)  # past the index's slack: a read no longer fetches alice's run again
    _submit(titanic, tmp_path, 60, "bob")
    before = _cli("leaderboard", "titanic", "--format", "csv")
    assert before.exit_code == 0

    def edit() -> None:
        [path] = settings.cache_dir.glob("runs-*.json")
        state = json.loads(path.read_text())
        for row in state["runs"].values():
            if row["participant"] == "alice":
                row["metrics"]["public_score"] = 1.0
        path.write_text(json.dumps(state, separators=(",", ":")))  # the signature kept

    edit()
    after = _cli("leaderboard", "titanic", "--format", "csv")
    assert after.output == before.output  # rebuilt from MLflow, not trusted
    key = settings.home / "private" / ".index-key"
    assert key.is_file() and (key.stat().st_mode & 0o777) == 0o600
    result = _cli("verify", "titanic")
    assert result.exit_code == 1, result.output
    assert "was rebuilt from MLflow at" in result.output
    assert "signature does not match" in result.output
    assert _cli("verify", "titanic").exit_code == 0  # reported once, and the index is sound

    edit()  # and verify right after the edit names the field
    result = _cli("verify", "titanic")
    assert result.exit_code == 1, result.output
    alice = harness.submissions("titanic", "alice")["public_score"].iloc[0]
    assert f"public_score 1.0 in the index, {alice:.5g} in MLflow" in result.output
    assert _cli("leaderboard", "titanic", "--format", "csv").output == before.output


def test_an_artifact_edited_on_disk_is_caught_and_regrades_differently(
    titanic: Path, tmp_path: Path, settings: Settings
) -> None:
    run_id = _submit(titanic, tmp_path, 10)
    _submit(titanic, tmp_path, 30, "bob")
    run = _client(settings).get_run(run_id)
    artifact = Path(run.info.artifact_uri.removeprefix("file://")) / "preds10.csv"
    assert artifact.is_file()
    os.chmod(artifact, 0o644)
    artifact.write_text(_predictions(titanic, tmp_path, 100, "other.csv").read_text())

    result = _cli("verify", "titanic")
    assert result.exit_code == 1, result.output
    out = result.output
    assert f"titanic: run {run_id[:8]}…: artifact preds10.csv has sha256" in out
    assert "its harness.sha256 tag says" in out
    assert f"titanic: run {run_id[:8]}…: public_score regrades to" in out
    assert out.count("titanic: run") == 3  # sha256, public and private of that run only


def test_a_score_edited_in_mlflow_is_caught_by_regrading(
    titanic: Path, tmp_path: Path, settings: Settings
) -> None:
    run_id = _submit(titanic, tmp_path, 10)
    time.sleep(2.5)  # past the index's slack: a later read no longer fetches the first run
    _submit(titanic, tmp_path, 30, "bob")
    harness.leaderboard("titanic")  # the index holds the score as recorded
    real = harness.submissions("titanic")["public_score"].iloc[0]
    _client(settings).log_metric(run_id, "public_score", 1.0)  # after the fact

    result = _cli("verify", "titanic")
    assert result.exit_code == 1, result.output
    out = result.output
    assert f"titanic: run {run_id[:8]}…: public_score regrades to {real:.5g}, 1.0 recorded" in out
    # the index missed the edit of a finished run: reported, then rebuilt from MLflow
    assert f"public_score {real:.5g} in the index, 1.0 in MLflow" in out
    assert "index rebuilt from MLflow" in out


@pytest.mark.parametrize("tamper", ["unsigned", "garbage"])
def test_an_index_file_this_home_did_not_sign_is_rebuilt(
    titanic: Path, tmp_path: Path, settings: Settings, tamper: str
) -> None:
    _submit(titanic, tmp_path, 10)
    before = harness.leaderboard("titanic")
    [path] = settings.cache_dir.glob("runs-*.json")
    state = json.loads(path.read_text())
    state.pop("signature")
    for row in state["runs"].values():
        row["metrics"]["public_score"] = 1.0
    path.write_text(json.dumps(state) if tamper == "unsigned" else "{not json")
    pd.testing.assert_frame_equal(harness.leaderboard("titanic"), before)
    [report] = harness.verify("titanic")
    assert not report.ok and report.findings[0].check == "index"


def test_stale_running_runs_are_reported_and_swept_with_sweep(
    titanic: Path, tmp_path: Path, settings: Settings
) -> None:
    _submit(titanic, tmp_path, 10)
    client = _client(settings)
    experiment = client.get_experiment_by_name("harness/titanic").experiment_id
    started = int(time.time() * 1000) - 2 * 3_600_000  # a submit killed two hours ago
    tags = {"harness.participant": "zed", "harness.kind": "submission"}
    stale = client.create_run(experiment, tags=tags, start_time=started).info.run_id
    for path in settings.cache_dir.glob("runs-*.json"):  # backdated: the index never saw it
        path.unlink()

    result = _cli("verify", "titanic", "--grace", "600")  # not stale yet under 10 h
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output
    result = _cli("verify", "titanic")
    assert result.exit_code == 0, result.output  # a warning: nothing recorded differs
    assert f"titanic: warning: run {stale[:8]}…: RUNNING for 2.0 h (zed;" in result.output
    result = _cli("verify", "titanic", "--sweep")
    assert result.exit_code == 0, result.output
    assert "titanic: note: swept 1 stale run(s)" in result.output
    assert client.get_run(stale).info.status == "FAILED"
    assert _cli("verify", "titanic").output.count("warning") == 0


def test_without_raw_data_only_the_installed_files_are_checked(
    titanic: Path, tmp_path: Path, settings: Settings
) -> None:
    import dataclasses

    from harness.board.verify import verify

    from harness.registry import get_competition

    comp = dataclasses.replace(get_competition("titanic"), embedded_raw=None)
    report = verify(comp, settings)
    assert report.ok and report.rederived is None
    assert "raw data not at hand: answers not re-derived" in report.notes
    (settings.public_dir("titanic") / "test.csv").write_text("PassengerId\n1\n")
    [finding] = verify(comp, settings).findings
    assert str(finding).startswith("titanic: public/test.csv: the installed file's sha256")
    assert "differs from the manifest's" in str(finding)
