"""The Optuna core every baseline shares: k-fold CV on the *public* train only, a seeded TPE
sampler with the baseline's defaults as trial 0, median pruning on per-fold reports, resumable
studies (a journal file in HARNESS_HOME by default, any Optuna storage URL for many workers),
each trial a nested MLflow run under the study's run, and the best trial refitted on all of
train and submitted as participant ``baseline/<model>``.

The private answers are never read here: the only data is ``harness.load`` (public files).
"""

from __future__ import annotations

import importlib
import json
import os
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from baselines import Baseline, get_baseline
from baselines.cpu import CpuShare, limit_threads
from baselines.data import Data, from_proba, predict, take, truth
from harness.competition import Competition
from harness.errors import HarnessError, Interrupted
from harness.settings import Settings

if TYPE_CHECKING:
    import optuna

    from leaderboard import Leaderboard
    from leaderboard.submit import SubmissionResult

FOLDS = 5


@dataclass(frozen=True)
class Progress:
    """What the per-trial progress line shows."""

    trial: int  # trials finished in this run (1-based)
    trials: int | None  # planned in this run
    value: float | None  # a complete trial's score; None when pruned or failed
    state: str  # "complete", "pruned", "fail"
    best: float  # the best complete trial's score so far (never falls); nan before one
    best_trial: int
    elapsed: float  # seconds since this run started
    timeout: float | None
    number: int = -1  # the trial's number in the study
    pruned_at: str | None = None  # "fold 2 of 5", "epoch 3": where a pruned trial stopped
    threads: int = 1  # the threads this trial could use


@dataclass(frozen=True)
class TuneResult:
    study: optuna.Study
    baseline: Baseline
    cv_score: float
    cv_std: float
    params: dict[str, Any]
    seconds: float
    submission: SubmissionResult | None

    @property
    def entry(self) -> Any:
        return None if self.submission is None else self.submission.entry


def tune(
    comp: Competition,
    settings: Settings,
    *,
    model: str | None = None,
    trials: int | None = 20,
    timeout: float | None = None,
    jobs: int = 1,
    threads: int | None = None,
    study_name: str | None = None,
    storage: str | None = None,
    seed: int = 0,
    folds: int = FOLDS,
    fixed: bool = False,
    submit: bool = True,
    progress: Callable[[Progress], None] | None = None,
    overrides: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
) -> TuneResult:
    """Tune ``model`` on ``comp`` (``fixed``: run its defaults once, no search).

    ``threads`` caps each trial's threads (default: the free cores // ``jobs``, measured
    before every trial, see :mod:`baselines.cpu`). ``overrides`` pin hyperparameters
    (``{"epochs": 5}``) in every trial; ``options`` are run settings the baseline declares
    (``device``, ``checkpoint``, ``image_size``…)."""
    import optuna

    from harness.data.loading import load
    from leaderboard import Leaderboard

    baseline = get_baseline(comp, model)
    baseline.check_installed()
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    options = {k: v for k, v in (options or {}).items() if v is not None}
    if "progress" not in baseline.options:  # a line per epoch, for the models that have epochs
        options.pop("progress", None)
    _check_settings(baseline, overrides, options)
    if "settings" in baseline.options:  # e.g. the ensemble, to find its members' studies
        options["settings"] = settings
    public = load(comp, settings, size=options.get("image_size"))
    data = importlib.import_module(f"baselines.{baseline.kind}").load_data(comp, public)
    splits = _splits(comp, data, folds, seed, baseline.holdout)
    folds = len(splits)
    board = Leaderboard(settings)
    test_predictions: dict[int, np.ndarray] = {}  # holdout baselines: trial -> test predictions

    # A failed trial's error is raised by `optimize` itself; Optuna's own warning would print
    # its traceback a second time (and one for Ctrl-C).
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    direction = (
        optuna.study.StudyDirection.MAXIMIZE
        if comp.metric.greater_is_better
        else optuna.study.StudyDirection.MINIMIZE
    )
    name = study_name or f"{comp.id}-{baseline.name}" + ("-defaults" if fixed else "")
    study = optuna.create_study(
        study_name=name,
        storage=_storage(settings, comp, storage, fixed),
        direction=direction,
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1),
        load_if_exists=True,
    )
    with warnings.catch_warnings():  # experimental since Optuna 3.2, and stable in use
        warnings.simplefilter("ignore")
        study.set_metric_names([comp.metric.name])  # optuna-dashboard shows "accuracy"
    if not study.trials:
        study.enqueue_trial(baseline.defaults)
    parent = board.start_run(
        comp,
        name=f"study {name}",
        tags={"harness.study": name, "harness.model": baseline.name},
        params={
            "model": baseline.name,
            "folds": folds,
            "seed": seed,
            "storage": storage or "journal (HARNESS_HOME)",
        },
    )
    share = CpuShare(jobs, threads)

    def objective(trial: optuna.Trial) -> float:
        used = share.threads()
        limit_threads(used)
        trial.set_user_attr("threads", used)
        params = {**baseline.space(_Pinned(trial, overrides)), **overrides}  # type: ignore[arg-type]
        if baseline.holdout is not None:
            return _holdout_trial(trial, params)
        scores: list[float] = []
        for fold, (train_rows, valid_rows) in enumerate(splits):
            estimator = baseline.build(params, comp, data.columns, seed, **options)
            estimator.fit(take(data.x_train, train_rows), data.y_train[train_rows])
            pred = predict(comp, estimator, take(data.x_train, valid_rows))
            scores.append(comp.metric.fn(truth(comp, data.y_train[valid_rows]), pred))
            trial.report(float(np.mean(scores)), fold)
            if trial.should_prune():
                raise optuna.TrialPruned()
        trial.set_user_attr("cv_std", float(np.std(scores)))
        return float(np.mean(scores))

    def _holdout_trial(trial: optuna.Trial, params: dict[str, Any]) -> float:
        """One training run on public train less the held-out slice, scored on that slice
        after every epoch (Optuna prunes on it); the test predictions kept for the submission."""
        train_rows, valid_rows = splits[0]
        answer = truth(comp, data.y_train[valid_rows])

        def report(epoch: int, proba: np.ndarray) -> None:
            trial.report(comp.metric.fn(answer, from_proba(comp, proba)), epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()

        estimator = baseline.build(params, comp, data.columns, seed, **options)
        estimator.fit(data.x_train, data.y_train, rows=train_rows, valid=valid_rows, report=report)
        # by rows of the whole array: a copy would be uploaded to the device again every trial
        proba = estimator.predict_proba(data.x_train, rows=valid_rows)
        score = float(comp.metric.fn(answer, from_proba(comp, proba)))
        trial.set_user_attr("cv_std", 0.0)
        trial.set_user_attr("train_seconds", float(getattr(estimator, "train_seconds", 0.0)))
        leader = _best(trial.study)
        if leader is None or comp.metric.is_better(score, float(leader.values[0])):
            test_predictions.clear()  # only the leader's predictions can be submitted
            test_predictions[trial.number] = predict(comp, estimator, data.x_test)
        return score

    step = "epoch" if baseline.holdout is not None else f"fold of {folds}"
    tracker = _Tracker(board, comp, parent, overrides, step, progress, trials, timeout, study)
    try:
        # Enqueued trials run one at a time first: two threads can otherwise both pop the same
        # waiting trial from an RDB storage (SQLite has no row locks) and one fails to `tell` it.
        waiting = len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,)))
        first = 0 if jobs == 1 else waiting if trials is None else min(waiting, trials)
        if first:
            study.optimize(objective, n_trials=first, timeout=timeout, callbacks=[tracker])
        left = None if trials is None else trials - first
        if left is None or left > 0:
            remaining = (
                None
                if timeout is None
                else max(0.0, timeout - (time.monotonic() - tracker.started))
            )
            study.optimize(
                objective, n_trials=left, timeout=remaining, n_jobs=jobs, callbacks=[tracker]
            )
    except KeyboardInterrupt:
        board.end_run(parent, status="KILLED")
        raise Interrupted(_interrupted(study, tracker.done, resumable=not fixed)) from None
    except BaseException:
        board.end_run(parent, status="KILLED")
        raise
    best = _best(study)
    if best is None:
        board.end_run(parent, status="FAILED")
        raise HarnessError(f"study '{name}': no trial completed (all pruned or failed)")
    fixed_best = optuna.trial.FixedTrial(dict(best.params))
    params = {**baseline.space(_Pinned(fixed_best, overrides)), **overrides}  # type: ignore[arg-type]
    best_score = float(best.values[0])
    seconds = time.monotonic() - tracker.started

    with tempfile.TemporaryDirectory() as tmp:
        artifacts = _artifacts(Path(tmp), study, baseline, params, comp, seed, folds)
        board.end_run(
            parent,
            metrics={"best_cv_score": best_score, "trials": len(study.trials)},
            artifacts=artifacts,
        )
        submission = None
        if submit:
            submission = _submit(
                comp,
                settings,
                baseline,
                data,
                params,
                best,
                seed,
                len(study.trials),
                artifacts,
                test_predictions.get(best.number),
                splits[0][0] if baseline.holdout is not None else None,
                options,
            )
    return TuneResult(
        study=study,
        baseline=baseline,
        cv_score=best_score,
        cv_std=float(best.user_attrs.get("cv_std", 0.0)),
        params=params,
        seconds=seconds,
        submission=submission,
    )


class _Pinned:
    """A trial whose ``suggest_*`` return the pinned value for a pinned name, without searching
    (or recording) it: ``--epochs 5`` fixes the epochs of every trial."""

    def __init__(self, trial: Any, pinned: dict[str, Any]) -> None:
        self._trial, self._pinned = trial, pinned

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._trial, name)
        if not name.startswith("suggest_"):
            return attribute

        def suggest(param: str, *args: Any, **kwargs: Any) -> Any:
            return (
                self._pinned[param] if param in self._pinned else attribute(param, *args, **kwargs)
            )

        return suggest


class _Tracker:
    """An Optuna callback: every finished trial becomes a nested MLflow run under the study's
    run, and a progress line. Only a COMPLETE trial has a score: a pruned one keeps Optuna's
    partial value as ``pruned_score`` (never ``cv_score``) on a KILLED run, so sorting trials by
    score in MLflow is honest, and the best shown never falls."""

    def __init__(
        self,
        board: Leaderboard,
        comp: Competition,
        parent: str,
        overrides: dict[str, Any],
        step: str,  # "fold of 5" or "epoch": what a pruned trial's last step counts
        progress: Callable[[Progress], None] | None,
        trials: int | None,
        timeout: float | None,
        study: optuna.Study,
    ) -> None:
        self.board, self.comp, self.parent, self.overrides = board, comp, parent, overrides
        self.step, self.progress, self.trials, self.timeout = step, progress, trials, timeout
        self.started = time.monotonic()
        self.done = 0
        self._lock = threading.Lock()  # --jobs: callbacks run in the trials' threads
        leader = _best(study)  # a resumed study starts from its best so far
        self.best = (float(leader.values[0]), leader.number) if leader is not None else None

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        import optuna

        state = trial.state
        complete = state is optuna.trial.TrialState.COMPLETE
        pruned = state is optuna.trial.TrialState.PRUNED
        metrics = {"duration_s": trial.duration.total_seconds() if trial.duration else 0.0}
        tags = {"harness.trial": str(trial.number), "harness.state": state.name}
        if complete and trial.value is not None:
            metrics["cv_score"] = trial.value
            metrics["cv_std"] = trial.user_attrs.get("cv_std", 0.0)
        pruned_at = self._pruned_at(trial) if pruned else None
        if pruned_at is not None:
            tags["harness.pruned_at"] = pruned_at
            if trial.value is not None:  # the mean of the folds (or the epoch) it ran
                metrics["pruned_score"] = trial.value
        if "train_seconds" in trial.user_attrs:
            metrics["train_seconds"] = trial.user_attrs["train_seconds"]
        start = trial.datetime_start.timestamp() if trial.datetime_start else time.time()
        end = trial.datetime_complete.timestamp() if trial.datetime_complete else time.time()
        self.board.log_child(
            self.comp,
            self.parent,
            name=f"trial {trial.number}",
            params={**trial.params, **self.overrides},
            metrics=metrics,
            tags=tags,
            start_ms=int(start * 1000),
            end_ms=int(end * 1000),
            status="FINISHED" if complete else "KILLED" if pruned else "FAILED",
        )
        with self._lock:
            self.done += 1
            value = trial.value if complete else None
            if value is not None and (
                self.best is None or self.comp.metric.is_better(value, self.best[0])
            ):
                self.best = (value, trial.number)
            if self.progress is None:
                return
            self.progress(
                Progress(
                    trial=self.done,
                    trials=self.trials,
                    value=value,
                    state=state.name.lower(),
                    best=float("nan") if self.best is None else self.best[0],
                    best_trial=-1 if self.best is None else self.best[1],
                    elapsed=time.monotonic() - self.started,
                    timeout=self.timeout,
                    number=trial.number,
                    pruned_at=pruned_at,
                    threads=int(trial.user_attrs.get("threads", 1)),
                )
            )

    def _pruned_at(self, trial: optuna.trial.FrozenTrial) -> str | None:
        last = trial.last_step
        if last is None:
            return None
        if self.step == "epoch":
            return f"epoch {last}"
        return f"fold {last + 1} {self.step.removeprefix('fold ')}"  # "fold 2 of 5"


def _interrupted(study: optuna.Study, done: int, *, resumable: bool) -> str:
    import optuna

    if not resumable:
        return "interrupted: nothing was submitted"
    states = [t.state for t in study.get_trials(deepcopy=False)]
    complete = states.count(optuna.trial.TrialState.COMPLETE)
    pruned = states.count(optuna.trial.TrialState.PRUNED)
    return (
        f"interrupted: {done} trial{'s' if done != 1 else ''} finished in this run; study "
        f"'{study.study_name}' keeps {complete} complete and {pruned} pruned. Run the same "
        "command again to continue it (a study of the same name resumes)."
    )


def _check_settings(
    baseline: Baseline, overrides: dict[str, Any], options: dict[str, Any]
) -> None:
    """Refuse settings this baseline would ignore, naming them."""
    for given, accepted in (
        (options, baseline.options | {"settings"}),
        (overrides, set(baseline.defaults)),
    ):
        unknown = sorted(set(given) - accepted)
        if unknown:
            flags = ", ".join("--" + name.replace("_", "-") for name in unknown)
            verb = "does" if len(unknown) == 1 else "do"
            raise HarnessError(f"{flags} {verb} not apply to the {baseline.name} baseline")


def _best(study: optuna.Study) -> optuna.trial.FrozenTrial | None:
    import optuna

    complete = [t for t in study.trials if t.state is optuna.trial.TrialState.COMPLETE]
    if not complete:
        return None
    return study.best_trial


def _splits(
    comp: Competition, data: Data, folds: int, seed: int, holdout: float | None = None
) -> list[tuple[Any, Any]]:
    """k folds of public train, or one held-out slice (stratified for classification)."""
    from sklearn.model_selection import KFold, StratifiedKFold

    from baselines.data import is_classification, split_rows

    if holdout is not None:
        rows = np.arange(len(data.y_train))
        return [split_rows(rows, data.y_train, holdout, seed, stratify=is_classification(comp))]
    if is_classification(comp):
        splitter: Any = StratifiedKFold(folds, shuffle=True, random_state=seed)
    else:
        splitter = KFold(folds, shuffle=True, random_state=seed)
    return list(splitter.split(data.x_train, data.y_train))


def _storage(settings: Settings, comp: Competition, storage: str | None, fixed: bool) -> Any:
    """Any Optuna storage URL; by default an append-only journal file in HARNESS_HOME, which
    several processes on one machine can share (SQLite is for one machine too, and slower)."""
    import optuna

    if fixed:
        return None  # running the defaults once needs no persistence
    if storage:
        return storage
    path = settings.home / "optuna" / f"{comp.id}.journal"
    path.parent.mkdir(parents=True, exist_ok=True)
    from optuna.storages.journal import JournalFileBackend

    backend = JournalFileBackend(str(path))
    return optuna.storages.JournalStorage(backend)


def _artifacts(
    folder: Path,
    study: optuna.Study,
    baseline: Baseline,
    params: dict[str, Any],
    comp: Competition,
    seed: int,
    folds: int,
) -> list[Path]:
    """The config and source that reproduce the entry, and Optuna's plots as images."""
    config = folder / "config.json"
    config.write_text(
        json.dumps(
            {
                "competition": comp.id,
                "model": baseline.name,
                "params": params,
                "seed": seed,
                "folds": folds,
                "study": study.study_name,
            },
            indent=1,
        )
    )
    paths = [config]
    if baseline.source is not None:
        paths.append(baseline.source)
    paths += _plots(folder, study)
    return paths


def _plots(folder: Path, study: optuna.Study) -> list[Path]:
    os.environ.setdefault("MPLBACKEND", "Agg")

    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as vis

    made = []
    for name, draw in (
        ("optimization_history.png", vis.plot_optimization_history),
        ("param_importances.png", vis.plot_param_importances),
    ):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                draw(study)
            plt.gcf().savefig(folder / name, dpi=80, bbox_inches="tight")
            made.append(folder / name)
        except (ValueError, RuntimeError):  # e.g. importances need two finished trials
            pass
        finally:
            plt.close("all")
    return made


def _submit(
    comp: Competition,
    settings: Settings,
    baseline: Baseline,
    data: Data,
    params: dict[str, Any],
    best: optuna.trial.FrozenTrial,
    seed: int,
    trials: int,
    artifacts: list[Path],
    predictions: np.ndarray | None,
    rows: np.ndarray | None,
    options: dict[str, Any],
) -> SubmissionResult:
    import pandas as pd

    from leaderboard.submit import submit

    if predictions is None:  # refit the best trial (k-fold baselines, or a resumed study)
        estimator = baseline.build(params, comp, data.columns, seed, **options)
        if rows is None:
            estimator.fit(data.x_train, data.y_train)
        else:  # as in its trial: public train less the held-out slice
            estimator.fit(data.x_train, data.y_train, rows=rows)
        predictions = predict(comp, estimator, data.x_test)
    if data.labels is not None:
        predictions = np.asarray(data.labels, dtype=object)[np.asarray(predictions, dtype=int)]
    frame = pd.DataFrame({comp.id_column: data.test_ids, comp.target_columns[0]: predictions})
    score = float(best.values[0])
    return submit(
        comp,
        settings,
        frame,
        message=f"{baseline.name}: CV {score:.5f} ({trials} trial{'s' if trials > 1 else ''})",
        participant=f"baseline/{baseline.name}",
        kind="baseline",
        params=params,
        metrics={
            "cv_score": score,
            "cv_std": float(best.user_attrs.get("cv_std", 0.0)),
            **{k: float(v) for k, v in best.user_attrs.items() if k == "train_seconds"},
        },
        artifacts=artifacts,
    )
