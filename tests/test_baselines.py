"""Tabular baselines and the Optuna core: defaults replay through the search space, tuning
reads only public files, studies resume and are shared by processes, each trial is a nested
MLflow run, the best is submitted, and a seed gives the same result twice."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from click.testing import CliRunner
from harness.baselines import baselines, for_competition, get_baseline

import harness
from harness.cli import cli
from harness.errors import HarnessError
from harness.registry import get_competition
from harness.settings import Settings


@pytest.mark.parametrize("key", sorted(baselines()), ids=lambda k: "/".join(k))
def test_defaults_replay_through_the_search_space(key: tuple[str, str]) -> None:
    baseline = baselines()[key]
    assert baseline.space(optuna.trial.FixedTrial(baseline.defaults)) == baseline.defaults
    assert baseline.source is not None and baseline.source.is_file()


def test_tabular_baselines_serve_every_tabular_competition_and_only_those(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from harness.baselines import cpu

    tabular = {"linear", "forest", "gbm", "lgbm", "ensemble"}  # lgbm: the test extra
    assert set(for_competition(get_competition("titanic"))) == tabular
    assert set(for_competition(get_competition("house-prices"))) == tabular
    vision = {"airnet", "resnet18", "resnet26d", "cnn", "logistic", "svc", "hgb"}
    vision |= {"lite0-lr", "lite0-ft"}
    assert set(for_competition(get_competition("cifar10"))) == vision
    monkeypatch.setattr(cpu, "cuda_here", lambda: True)
    assert get_baseline(get_competition("dogs-vs-cats")).name == "airnet"
    monkeypatch.setattr(cpu, "cuda_here", lambda: False)
    assert get_baseline(get_competition("dogs-vs-cats")).name == "lite0-lr"
    with pytest.raises(HarnessError, match=r"no baseline 'gmb' for titanic \(did you mean 'gbm'"):
        get_baseline(get_competition("titanic"), "gmb")


def test_the_baselines_command_lists_them() -> None:
    result = CliRunner().invoke(cli, ["baselines"])
    assert result.exit_code == 0
    assert all(name in result.stdout for name in ("linear", "forest", "gbm"))
    assert "vision default on this machine: " in result.stdout


def test_baseline_submits_its_defaults_with_the_cv_score(
    titanic: Path, settings: Settings
) -> None:
    from mlflow import MlflowClient

    result = harness.baseline("titanic", model="linear")
    entry = result.entry
    assert entry.participant == "baseline/linear" and entry.kind == "baseline"
    assert result.params == {"strength": 1.0}
    assert 0.75 < result.cv_score < 0.9
    run = MlflowClient(settings.tracking_uri).get_run(entry.run_id)
    assert run.data.metrics["cv_score"] == pytest.approx(result.cv_score)
    assert run.data.params["strength"] == "1.0"
    artifacts = {a.path for a in MlflowClient(settings.tracking_uri).list_artifacts(entry.run_id)}
    assert {"config.json", "linear.py"} <= artifacts
    board = harness.leaderboard("titanic")
    assert board["participant"].tolist() == ["baseline/linear"]
    assert board["cv_score"].tolist() == [pytest.approx(result.cv_score)]  # CV beside public
    assert "cv_score" in harness.leaderboard("titanic", private=True).columns


def test_parallel_trials_and_an_rdb_storage_url(titanic: Path, home: Path) -> None:
    url = f"sqlite:///{home / 'optuna.db'}"
    result = harness.tune("titanic", model="linear", trials=4, jobs=2, storage=url, submit=False)
    assert len(optuna.load_study(study_name="titanic-linear", storage=url).trials) == 4
    assert result.cv_score > 0.75


def test_jobs_run_trials_in_processes_exactly_as_many_as_asked_each_tracked(
    titanic: Path, settings: Settings
) -> None:
    from mlflow import MlflowClient

    seen = []
    result = harness.tune("titanic", model="linear", trials=6, jobs=2, progress=seen.append)
    trials = result.study.trials
    assert len(trials) == 6 and trials[0].params == {"strength": 1.0}
    assert len({t.user_attrs["pid"] for t in trials}) == 2  # this process and one spawned
    assert max(p.trial for p in seen) <= 6 and seen[-1].trial >= len(seen)  # counts both
    client = MlflowClient(settings.tracking_uri)
    experiment = client.get_experiment_by_name("harness/titanic").experiment_id
    parent = client.search_runs([experiment], "tags.`harness.study` = 'titanic-linear'")[0]
    children = client.search_runs(
        [experiment], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'"
    )
    assert sorted(int(c.data.tags["harness.trial"]) for c in children) == list(range(6))
    again = harness.tune("titanic", model="linear", trials=3, jobs=2, submit=False)
    assert len(again.study.trials) == 9  # a study continued: this run's 3 more, not 3 in all


def test_tuning_tracks_each_trial_as_a_nested_run_and_submits_the_best(
    titanic: Path, settings: Settings
) -> None:
    from mlflow import MlflowClient

    seen = []
    result = harness.tune("titanic", model="linear", trials=4, progress=seen.append)
    assert len(result.study.trials) == 4 and [p.trial for p in seen] == [1, 2, 3, 4]
    assert result.study.trials[0].params == {"strength": 1.0}  # the defaults come first
    # a report a fold: 3 × 5 folds on fewer than 5,000 rows
    assert all(len(t.intermediate_values) == 15 for t in result.study.trials)
    client = MlflowClient(settings.tracking_uri)
    experiment = client.get_experiment_by_name("harness/titanic").experiment_id
    parents = client.search_runs([experiment], "tags.`harness.study` = 'titanic-linear'")
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    children = client.search_runs(
        [experiment], f"tags.`mlflow.parentRunId` = '{parents[0].info.run_id}'"
    )
    assert sorted(int(c.data.tags["harness.trial"]) for c in children) == [0, 1, 2, 3]
    assert all("cv_score" in c.data.metrics and "strength" in c.data.params for c in children)
    parent_files = {a.path for a in client.list_artifacts(parents[0].info.run_id)}
    assert {"config.json", "linear.py", "optimization_history.png"} <= parent_files
    # the raw best; the submitted trial is the one-standard-error rule's pick (its own test)
    assert result.best_score == max(t.value for t in result.study.trials if t.value is not None)
    assert len(harness.submissions("titanic")) == 1  # trials are not submissions


def test_a_named_study_continues_where_it_stopped(titanic: Path) -> None:
    harness.tune("titanic", model="linear", trials=2, study="mine", submit=False)
    again = harness.tune("titanic", model="linear", trials=3, study="mine", submit=False)
    assert len(again.study.trials) == 5
    assert again.study.trials[0].params == {"strength": 1.0}  # enqueued once, not again


def test_tuning_never_reads_the_private_answers(titanic: Path, settings: Settings) -> None:
    private = settings.private_dir("titanic")
    hidden = private.with_name("hidden")
    private.rename(hidden)  # were tuning to touch the answers, it would fail
    try:
        (hidden.parent / "titanic").mkdir()
        (hidden / "MANIFEST.json").rename(private / "MANIFEST.json")  # "prepared" still
        result = harness.tune("titanic", model="linear", trials=2, submit=False)
        assert result.submission is None and len(result.study.trials) == 2
    finally:
        (private / "MANIFEST.json").rename(hidden / "MANIFEST.json")
        private.rmdir()
        hidden.rename(private)


def test_the_same_seed_gives_the_same_best_params_and_score(titanic: Path) -> None:
    runs = [
        harness.tune("titanic", model="forest", trials=3, study=f"seeded-{i}", submit=False)
        for i in range(2)
    ]
    assert runs[0].params == runs[1].params
    assert runs[0].cv_score == runs[1].cv_score


def test_lightgbm_tunes_like_the_others(titanic: Path) -> None:
    result = harness.tune("titanic", model="lgbm", trials=2, submit=False)
    assert result.study.trials[0].params == baselines()[("tabular", "lgbm")].defaults
    assert 0.75 < result.cv_score < 0.9


def test_house_prices_learns_the_log_price(house_prices: Path) -> None:
    result = harness.baseline("house-prices", model="linear")
    assert 0.09 < result.cv_score < 0.25  # RMSE of log price; a constant scores ~0.4
    assert result.entry.public_score < 0.25


def test_two_worker_processes_share_one_study(titanic: Path, home: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "harness.cli",
        "tune",
        "titanic",
        "--model",
        "linear",
        "--trials",
        "3",
        "--study",
        "shared",
    ]
    procs = [
        subprocess.Popen(
            command,
            env=os.environ.copy(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(home / "optuna" / "titanic.journal"))
    )
    study = optuna.load_study(study_name="shared", storage=storage)
    assert len(study.trials) == 6
    assert len({t.number for t in study.trials}) == 6


def test_the_tune_command_prints_a_line_per_trial(titanic: Path) -> None:
    result = CliRunner().invoke(cli, ["tune", "titanic", "--model", "linear", "--trials", "2"])
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0].startswith("trial 1/2") and "best" in lines[0] and "ETA" in lines[0]
    assert "submitted as baseline/linear" in result.stdout


def test_text_baseline_vectorises_each_fold_once_across_trials(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    from tests.fixtures import imdb_archive

    harness.prepare("sentiment", imdb_archive(tmp_path, per_class=10))
    fits = []
    original = TfidfVectorizer.fit_transform

    def counting(self: TfidfVectorizer, *args: object, **kwargs: object) -> object:
        fits.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(TfidfVectorizer, "fit_transform", counting)
    result = harness.tune("sentiment", model="tfidf-lr", trials=4, study="text")
    assert len(result.study.trials) == 4
    assert len(fits) == 15 + 1  # 3 × 5 folds (20 rows) once, then the refit on all of train
    entry = result.entry
    assert entry.participant == "baseline/tfidf-lr@text"
    assert set(entry.extra) >= {"accuracy_public", "accuracy_private", "cv_score"}
    assert 0.5 <= entry.public_score <= 1.0  # ROC AUC


def test_nbsvm_scales_counts_by_the_naive_bayes_log_count_ratio(
    home: Path, tmp_path: Path
) -> None:
    import numpy as np
    from harness.baselines.text.nbsvm import LogCountRatio
    from scipy.sparse import csr_matrix

    from tests.fixtures import imdb_archive

    x = csr_matrix(np.array([[1, 0, 1], [1, 1, 0], [0, 1, 0], [0, 1, 1]]))
    y = np.array([1, 1, 0, 0])
    ratio = LogCountRatio(alpha=1.0).fit(x, y).ratio_
    p, q = np.array([3, 2, 2]), np.array([1, 3, 2])  # alpha + counts in each class
    np.testing.assert_allclose(ratio, np.log((p / p.sum()) / (q / q.sum())))

    harness.prepare("sentiment", imdb_archive(tmp_path, per_class=10))
    result = harness.baseline("sentiment", model="nbsvm")
    assert result.entry.participant == "baseline/nbsvm"
    assert 0.5 <= result.entry.public_score <= 1.0


def test_nbsvm_blend_marks_negations_and_shrinks_towards_naive_bayes() -> None:
    import numpy as np
    from harness.baselines.text.nbsvm_blend import R_ADJ, W_ADJ, nbsvm_pp, negated
    from scipy.sparse import csr_matrix

    assert negated("It was NOT good,<br />but fun") == "it was not NOT_good, but fun"
    assert negated("I didn't like it. Great cast!") == "i did n't NOT_like NOT_it. great cast!"

    x = csr_matrix(np.array([[1, 0, 1], [1, 1, 0], [0, 1, 0], [0, 1, 1]] * 8))
    y = np.array([1, 1, 0, 0] * 8)
    ratio = np.array([1.0, -0.5, 0.2])
    # a heavy weight decay holds w at 0: the model is naive Bayes scaled by W_ADJ / R_ADJ
    coef, _ = nbsvm_pp(x, y, ratio, epochs=30, lr=0.02, wd=100.0, seed=0)
    np.testing.assert_allclose(coef, W_ADJ / R_ADJ * ratio, atol=0.01)
    # without it, w grows where the data says so: the first (the separating) feature's weight
    coef, _ = nbsvm_pp(x, y, ratio, epochs=30, lr=0.02, wd=0.0, seed=0)
    assert coef[0] > 2 * W_ADJ / R_ADJ * ratio[0]


def test_nbsvm_blend_classifies_text_and_refuses_more_than_two_classes(
    home: Path, tmp_path: Path
) -> None:
    import numpy as np
    from harness.baselines.text.nbsvm_blend import NBSVMBlend

    from tests.fixtures import imdb_archive

    good = [f"a great and wonderful film number {i}" for i in range(20)]
    bad = [f"an awful, boring film number {i}" for i in range(20)]
    labels = np.array(["pos"] * 20 + ["neg"] * 20)
    model = NBSVMBlend(epochs=3).fit(good + bad, labels)
    p = model.predict_proba(["wonderful, great", "boring and awful", "not great"])
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert list(model.predict(["wonderful, great", "boring and awful"])) == ["pos", "neg"]
    assert p[0, 1] > 0.5 > p[1, 1]  # columns in the order of classes_: neg, pos
    with pytest.raises(HarnessError, match="two classes; this target has 3: use nbsvm"):
        NBSVMBlend().fit(good + bad + ["meh meh"], np.append(labels, "meh"))

    harness.prepare("sentiment", imdb_archive(tmp_path, per_class=10))
    result = harness.baseline("sentiment", model="nbsvm-blend")
    assert result.entry.participant == "baseline/nbsvm-blend"
    assert 0.5 <= result.entry.public_score <= 1.0
