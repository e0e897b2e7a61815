"""What tuning shows and records is the truth: a pruned trial is shown as pruned (where it
stopped), never counted as a score, never lowers the best shown, and its MLflow run is KILLED
without ``cv_score``; trials cap their threads; Ctrl-C says what was kept and how to go on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import optuna
import pytest
from click.testing import CliRunner
from harness.baselines.cpu import CpuShare, cores, limit_threads
from harness.baselines.tracking import Progress, TrialTracker
from harness.baselines.tune import study_storage
from harness.board.runs import StudyRuns

import harness
from harness.cli import cli
from harness.registry import get_competition
from harness.settings import Settings
from tests.children import default_signals


def _children(settings: Settings, parent: str) -> list:  # type: ignore[type-arg]
    from mlflow import MlflowClient

    client = MlflowClient(settings.tracking_uri)
    experiment = client.get_experiment_by_name("harness/titanic").experiment_id
    runs = client.search_runs([experiment], f"tags.`mlflow.parentRunId` = '{parent}'")
    return sorted(runs, key=lambda r: int(r.data.tags["harness.trial"]))


def test_a_pruned_trial_is_shown_and_recorded_as_pruned(settings: Settings) -> None:
    comp = get_competition("titanic")  # accuracy: greater is better
    runs = StudyRuns(settings)
    parent = runs.start(comp, name="study t", tags={}, params={})
    study = optuna.create_study(direction="maximize")
    seen: list[Progress] = []
    where = {1: "fold 2 of 5"}.__getitem__  # the k-fold scheme's words for step 1
    tracker = TrialTracker(runs, comp, parent, {}, where, seen.append, 4, None, study)
    # a complete trial at 0.80, then one pruned after a *higher* partial mean on fold 2
    plan = [([0.80, 0.80], None), ([0.95, 0.90], 1), ([0.70, 0.82], None), ([0.5], "fail")]

    def objective(trial: optuna.Trial) -> float:
        values, prune_at = plan[trial.number]
        for step, value in enumerate(values):
            trial.report(value, step)
            if prune_at == step:
                raise optuna.TrialPruned()
        if prune_at == "fail":
            raise ValueError("boom")
        return values[-1]

    study.optimize(objective, n_trials=4, callbacks=[tracker], catch=(ValueError,))

    assert [p.state for p in seen] == ["complete", "pruned", "complete", "fail"]
    assert [p.value for p in seen] == [0.80, None, 0.82, None]
    assert seen[1].pruned_at == "fold 2 of 5"
    assert [p.best for p in seen] == [0.80, 0.80, 0.82, 0.82]  # never the pruned 0.90
    assert [p.best_trial for p in seen] == [0, 0, 2, 2]
    assert study.trials[1].value == 0.90  # Optuna keeps the partial value; we do not show it
    runs = _children(settings, parent)
    assert [r.info.status for r in runs] == ["FINISHED", "KILLED", "FINISHED", "FAILED"]
    assert [r.data.tags["harness.state"] for r in runs] == [
        "COMPLETE",
        "PRUNED",
        "COMPLETE",
        "FAIL",
    ]
    assert "cv_score" not in runs[1].data.metrics  # sorting trials by cv_score stays honest
    assert runs[1].data.metrics["pruned_score"] == 0.90
    assert runs[1].data.tags["harness.pruned_at"] == "fold 2 of 5"
    assert runs[2].data.metrics["cv_score"] == 0.82


def test_the_tune_command_shows_pruned_trials_and_a_best_that_never_falls(
    titanic: Path,
) -> None:
    result = CliRunner().invoke(cli, ["tune", "titanic", "--model", "linear", "--trials", "14"])

    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("trial ")]
    assert len(lines) == 14
    bests = [float(line.split("best ")[1].split()[0]) for line in lines]
    assert bests == sorted(bests)  # accuracy: the best shown only rises
    study = optuna.load_study(
        study_name="titanic-linear",
        storage=optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(
                str(Path(os.environ["HARNESS_HOME"]) / "optuna" / "titanic.journal")
            )
        ),
    )
    assert study.metric_names == ["accuracy"]
    pruned = [t.number for t in study.trials if t.state is optuna.trial.TrialState.PRUNED]
    shown = [line for line in lines if "pruned at fold" in line]
    assert len(shown) == len(pruned)
    assert all(f"(#{n})" in " ".join(shown) for n in pruned)


def test_each_trial_runs_with_the_threads_it_was_given(titanic: Path) -> None:
    result = harness.tune("titanic", model="gbm", trials=2, threads=1)

    assert [t.user_attrs["threads"] for t in result.study.trials] == [1, 1]


def test_a_trial_thread_caps_its_own_openmp_pool() -> None:
    from threadpoolctl import threadpool_info

    seen: list[list[int]] = []

    def trial() -> None:
        limit_threads(1)
        seen.append([p["num_threads"] for p in threadpool_info() if p["user_api"] == "openmp"])

    worker = threading.Thread(target=trial)
    worker.start()
    worker.join()
    assert seen and all(n == 1 for n in seen[0])


def test_the_share_leaves_the_cores_that_other_work_uses(tmp_path: Path) -> None:
    if cores() < 2 or not Path("/proc/stat").exists():
        pytest.skip("needs Linux and two cores")
    assert CpuShare(jobs=2, threads=3).threads() == 3  # given: as given
    assert CpuShare(jobs=cores() + 1).threads() == 1  # never below one
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        share = CpuShare(jobs=1, probe=1.0)
        assert share.busy >= 0.5
        assert share.threads() <= cores() - 1
    finally:
        hog.kill()
        hog.wait()


@pytest.mark.parametrize("jobs", ["1", "2"], ids=["one process", "two processes"])
def test_ctrl_c_during_tune_says_what_was_kept_and_how_to_resume(
    titanic: Path, home: Path, jobs: str
) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "tune",
            "titanic",
            "--trials",
            "200",
            "--jobs",
            jobs,
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "HARNESS_HOME": str(home)},
        preexec_fn=default_signals,  # SIGINT reaches it however the tests were started
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 120
    for line in proc.stderr:
        done = line.split()[1].split("/")[0] if line.startswith("trial ") else "0"
        if int(done) >= 2 or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)

    assert proc.returncode == 130
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert "interrupted: " in err and "study 'titanic-gbm' keeps " in err
    assert "Run the same command again to continue it" in err
    assert harness.submissions("titanic").empty  # nothing half-done was submitted
    if jobs == "2":  # the worker process stopped too, its trial told as failed, not left running
        storage = study_storage(Settings.resolve(home), get_competition("titanic"), None)
        study = optuna.load_study(study_name="titanic-gbm", storage=storage)
        assert "RUNNING" not in {t.state.name for t in study.trials}


def test_small_rough_edges(home: Path, titanic: Path) -> None:
    runner = CliRunner()
    assert "Trials to run now" in runner.invoke(cli, ["tune", "--help"]).output
    empty = runner.invoke(cli, ["leaderboard", "titanic"])
    assert f"no submissions yet in sqlite:///{home}/mlflow.db" in empty.output

    harness.submit("titanic", titanic / "sample_submission.csv", participant="baseline/x")
    as_json = runner.invoke(cli, ["leaderboard", "titanic", "--format", "json"]).output
    assert '"participant": "baseline/x"' in as_json and "\\/" not in as_json

    failed = runner.invoke(cli, ["download", "cifar10", "--url", "http://127.0.0.1:9/x.tar.gz"])
    assert failed.exit_code == 1 and failed.output.startswith("Error: ")
    assert "0/?" not in failed.output and "bytes" not in failed.output


def test_claimed_trials_stop_when_another_worker_failed_and_never_pass_the_total() -> None:
    import contextlib

    from harness.baselines.workers import optimize_claimed

    study = optuna.create_study()
    told: list[int] = []
    ran = optimize_claimed(
        study,
        lambda trial: float(trial.number),
        lambda s, t: told.append(t.number),
        claim=contextlib.nullcontext,
        total=3,
        timeout=None,
        started=time.monotonic(),
    )
    assert ran == 3 and told == [0, 1, 2] and len(study.trials) == 3

    calls = []

    def check() -> None:
        calls.append(1)
        if len(calls) > 2:
            raise RuntimeError("a tuning worker process failed: boom")

    with pytest.raises(RuntimeError, match="boom"):
        optimize_claimed(
            study,
            lambda t: 0.0,
            lambda s, t: None,
            claim=contextlib.nullcontext,
            total=None,
            timeout=None,
            started=time.monotonic(),
            check=check,
        )
    assert len(study.trials) == 5  # two more, then the check stopped it before a claim


def test_after_an_interrupt_the_trials_this_command_left_running_are_told_failed() -> None:
    """A Ctrl-C landing inside Optuna's ask or tell leaves a trial RUNNING: once every process
    of the command has stopped it is told failed; a trial running before it started (another
    command's) is left alone."""
    import datetime as dt

    from harness.baselines.tune import _fail_orphans, _running

    study = optuna.create_study()
    theirs = study.ask()  # another command's, running already
    before, since = _running(study), dt.datetime.now()
    ours = study.ask()
    _fail_orphans(study, before, since)
    states = {t.number: t.state.name for t in study.trials}
    assert states == {theirs.number: "RUNNING", ours.number: "FAIL"}
