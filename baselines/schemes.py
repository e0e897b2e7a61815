"""How a trial is scored on the *public* train (the answers are never read here): one class
per validation scheme, each with ``objective(trial)`` for Optuna and the test predictions of
the trial that wins.

- :class:`KFold`: k folds (stratified for classification), repeated :data:`REPEATS` times with
  other shuffles on small data (fewer than :data:`SMALL` rows), the same folds for every trial;
  a fresh sklearn estimator per fold, the running mean reported after each fold (Optuna prunes
  there), the standard error of the mean recorded. A competition's ``outliers`` are left out
  of the validation folds' scores as they are of every fit (the local and Kaggle tests still
  score every row: the bench's nested CV measures what that costs). The study's pick is not
  its raw maximum but the one-standard-error rule, and that pick replaces the defaults only if
  it still beats them on fresh shuffles of the folds (:meth:`KFold.choose`); it is refitted on
  all of public train.
- :class:`HeldOut`: one seeded held-out slice, one training run of a
  :class:`~baselines.HeldOutModel` that reports the slice's score after every epoch; the
  leader's test predictions are kept as it trains, so the winner needs no refit.

Every trial first caps its threads (:mod:`baselines.cpu`).
"""

from __future__ import annotations

import abc
import os
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
from harness.baselines import Baseline
from harness.baselines.cpu import CpuShare, limit_threads
from harness.baselines.data import (
    Data,
    from_proba,
    is_classification,
    predict,
    split_rows,
    take,
    truth,
)
from harness.baselines.tracking import RECORD

from harness.competition import Competition

if TYPE_CHECKING:
    import optuna

FOLDS = 5
#: Rows below which k-fold CV is repeated: on Titanic's 712 rows one 5-fold CV's accuracy moves
#: by ±0.01 with the shuffle alone, and 100 trials then pick the luckiest shuffle's favourite.
SMALL = 5_000
REPEATS = 3  # 3 × 5 folds on small data: 15 fits a trial
#: The check of a study's pick against the defaults (:meth:`KFold.confirmed`) runs on fresh
#: shuffles of the same folds, as many as the study's, seeded ``seed + CONFIRM_SEED``.
CONFIRM_SEED = 1_000


def repeats_for(rows: int) -> int:
    """How many times k-fold CV is repeated on ``rows`` rows: :data:`REPEATS` below
    :data:`SMALL`, else once."""
    return REPEATS if rows < SMALL else 1


def standard_error(scores: list[float]) -> float:
    """The standard error of the mean of per-fold scores, std (ddof 1) / √n. Folds of a
    repeated CV overlap, so this understates the truth a little; it is what caret's and
    Breiman's one-standard-error rules use."""
    if len(scores) < 2:
        return 0.0
    return float(np.std(scores, ddof=1) / np.sqrt(len(scores)))


class Scheme(abc.ABC):
    """What both schemes share: the baseline, the data, the pinned settings, the CPU share."""

    step = "step"  # what a pruned trial's last step counts, for "pruned at fold 2 of 5"
    splits: list[tuple[np.ndarray, np.ndarray]]  # (train rows, validation rows) per fold

    def __init__(
        self,
        baseline: Baseline,
        comp: Competition,
        data: Data,
        *,
        seed: int,
        overrides: dict[str, Any],
        options: dict[str, Any],
        share: CpuShare,
    ) -> None:
        self.baseline, self.comp, self.data, self.seed = baseline, comp, data, seed
        self.overrides, self.options, self.share = overrides, options, share

    def params(self, trial: Any) -> dict[str, Any]:
        """The trial's hyperparameters: the baseline's space, the pinned ones fixed."""
        pinned: Any = _Pinned(trial, self.overrides)  # a Trial as the space sees it
        return {**self.baseline.space(pinned), **self.overrides}

    def best_params(self, best: optuna.trial.FrozenTrial) -> dict[str, Any]:
        """A finished trial's hyperparameters, replayed through the space (pins included)."""
        import optuna

        return self.params(optuna.trial.FixedTrial(dict(best.params)))

    def objective(self, trial: optuna.Trial) -> float:
        used = self.share.threads()
        limit_threads(used)
        trial.set_user_attr("threads", used)
        trial.set_user_attr("pid", os.getpid())  # which process ran it (--jobs: several)
        return self.score(trial, self.params(trial))

    def build(self, params: dict[str, Any]) -> Any:
        return self.baseline.build(params, self.comp, self.data.columns, self.seed, **self.options)

    def choose(self, study: optuna.Study) -> optuna.trial.FrozenTrial | None:
        """The trial whose model is submitted: by default the best COMPLETE one."""
        from harness.baselines.tracking import best_trial

        return best_trial(study)

    @abc.abstractmethod
    def score(self, trial: optuna.Trial, params: dict[str, Any]) -> float:
        """The trial's score on public train, reporting as it goes (Optuna prunes there)."""

    @abc.abstractmethod
    def test_predictions(self, best: optuna.trial.FrozenTrial) -> np.ndarray:
        """The winner's predictions of the test set, in the form the metric scores."""

    @abc.abstractmethod
    def pruned_at(self, last_step: int) -> str:
        """A pruned trial's last reported step in words: "fold 2 of 5", "epoch 3"."""


class KFold(Scheme):
    def __init__(
        self, *args: Any, folds: int = FOLDS, repeats: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        from sklearn.model_selection import RepeatedKFold, RepeatedStratifiedKFold

        self.repeats = repeats_for(len(self.data.y_train)) if repeats is None else repeats
        kind = RepeatedStratifiedKFold if is_classification(self.comp) else RepeatedKFold
        splitter = kind(n_splits=folds, n_repeats=self.repeats, random_state=self.seed)
        self.splits = self._without_outliers(
            list(splitter.split(self.data.x_train, self.data.y_train))
        )
        self.step = f"fold of {len(self.splits)}"

    def score(self, trial: optuna.Trial, params: dict[str, Any]) -> float:
        import optuna

        scores: list[float] = []
        for fold, value in enumerate(self.fold_scores(params, self.splits)):
            scores.append(value)
            trial.report(float(np.mean(scores)), fold)
            if trial.should_prune():
                raise optuna.TrialPruned()
        trial.set_user_attr("cv_std", float(np.std(scores)))
        trial.set_user_attr("cv_se", standard_error(scores))
        trial.set_user_attr("folds", len(scores))
        return float(np.mean(scores))

    def fold_scores(
        self, params: dict[str, Any], splits: list[tuple[np.ndarray, np.ndarray]]
    ) -> Iterator[float]:
        """``params``' score on each fold of ``splits``, a fresh estimator per fold."""
        data = self.data
        for train_rows, valid_rows in splits:
            estimator = self.build(params)
            estimator.fit(take(data.x_train, train_rows), data.y_train[train_rows])
            pred = predict(self.comp, estimator, take(data.x_train, valid_rows))
            yield float(self.comp.metric.fn(truth(self.comp, data.y_train[valid_rows]), pred))

    def choose(self, study: optuna.Study) -> optuna.trial.FrozenTrial | None:
        """The one-standard-error rule (:meth:`near_best`), then a check on fresh folds
        (:meth:`confirmed`): the pick replaces the defaults only if it still beats them there.
        What the check found is kept in :attr:`confirmation` (None: no check was needed)."""
        self.confirmation: dict[str, Any] | None = None
        pick = self.near_best(study)
        if pick is None:
            return None
        defaults = self._defaults_trial(study)
        if defaults is None or defaults.number == pick.number:
            return pick
        return pick if self.confirmed(pick) else defaults

    def near_best(self, study: optuna.Study) -> optuna.trial.FrozenTrial | None:
        """Of the COMPLETE trials scoring within one standard error (the best trial's) of the
        best, the baseline's defaults if they are among them, else the simplest by the
        baseline's ``complexity`` (ties: the better score). Without a ``complexity``, the
        best. On noisy small data the raw maximum of 100 trials is mostly luck (Titanic,
        nested CV: a 15-trial pick scored 0.010 below the defaults on unseen rows); the rule
        leaves the defaults only for a gain larger than the noise."""
        import optuna

        best = super().choose(study)
        complexity = self.baseline.complexity
        if best is None or complexity is None:
            return best
        se = float(best.user_attrs.get("cv_se", 0.0))
        metric = self.comp.metric
        bound = float(best.values[0]) - se if metric.greater_is_better else best.values[0] + se
        near = [
            t
            for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
            if t.values is not None and not metric.is_better(bound, t.values[0])
        ]
        sign = -1.0 if metric.greater_is_better else 1.0
        defaults = self._defaults()

        def simplest(t: optuna.trial.FrozenTrial) -> tuple[bool, float, float]:
            params = self.best_params(t)
            return (params != defaults, complexity(params), sign * t.values[0])

        return min(near, key=simplest)

    def confirmed(self, pick: optuna.trial.FrozenTrial) -> bool:
        """Whether ``pick`` beats the defaults by more than one standard error of the paired
        per-fold differences on fresh shuffles of the folds (as many as the study's), which no
        trial was chosen on: 2 × 15 more fits on small data, 2 × 5 on large. The study's best
        is the maximum of many noisy estimates, biased upward by the very choice (the winner's
        curse); scores on folds it was not chosen on are not (Titanic, nested CV: the 1-SE
        pick alone still lost 0.005 to the defaults)."""
        from sklearn.model_selection import RepeatedKFold, RepeatedStratifiedKFold

        kind = RepeatedStratifiedKFold if is_classification(self.comp) else RepeatedKFold
        folds = len(self.splits) // self.repeats
        splitter = kind(
            n_splits=folds, n_repeats=self.repeats, random_state=self.seed + CONFIRM_SEED
        )
        fresh = self._without_outliers(list(splitter.split(self.data.x_train, self.data.y_train)))
        limit_threads(self.share.threads())
        mine = list(self.fold_scores(self.best_params(pick), fresh))
        theirs = list(self.fold_scores(self._defaults(), fresh))
        sign = 1.0 if self.comp.metric.greater_is_better else -1.0
        gains = [sign * (a - b) for a, b in zip(mine, theirs, strict=True)]
        gain, se = float(np.mean(gains)), standard_error(gains)
        self.confirmation = {
            "trial": pick.number,
            "folds": len(fresh),
            "pick": float(np.mean(mine)),
            "defaults": float(np.mean(theirs)),
            "gain": gain,
            "gain_se": se,
            "kept": "pick" if gain > se else "defaults",
        }
        return gain > se

    def _defaults(self) -> dict[str, Any]:
        return {**self.baseline.defaults, **self.overrides}

    def _defaults_trial(self, study: optuna.Study) -> optuna.trial.FrozenTrial | None:
        """The first COMPLETE trial of the defaults (``harness tune`` enqueues them first)."""
        import optuna

        defaults = self._defaults()
        for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
            if t.values is not None and self.best_params(t) == defaults:
                return t
        return None

    def test_predictions(self, best: optuna.trial.FrozenTrial) -> np.ndarray:
        estimator = self.build(self.best_params(best))
        estimator.fit(self.data.x_train, self.data.y_train)
        return predict(self.comp, estimator, self.data.x_test)

    def pruned_at(self, last_step: int) -> str:
        return f"fold {last_step + 1} {self.step.removeprefix('fold ')}"  # "fold 2 of 15"

    def _without_outliers(
        self, splits: list[tuple[np.ndarray, np.ndarray]]
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """A competition's outliers are not scored: no model learns from them either."""
        if self.comp.outliers is None:
            return splits
        flagged = np.asarray(self.comp.outliers(self.data.x_train, self.data.y_train))
        return [(fit, valid[~flagged[valid]]) for fit, valid in splits]


class HeldOut(Scheme):
    step = "epoch"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        assert self.baseline.holdout is not None
        rows = np.arange(len(self.data.y_train))
        stratify = is_classification(self.comp)
        split = split_rows(
            rows, self.data.y_train, self.baseline.holdout, self.seed, stratify=stratify
        )
        self.splits = [split]
        self.leader: tuple[int, float] | None = None  # (trial number, score) of the kept one
        self.kept: np.ndarray | None = None  # the leader's test predictions
        self._lock = threading.Lock()  # --jobs: trials finish in several threads

    def score(self, trial: optuna.Trial, params: dict[str, Any]) -> float:
        """One training run on public train less the slice, scored on the slice after every
        epoch (Optuna prunes on it); the test predictions kept for a new leader."""
        import optuna

        train_rows, valid_rows = self.splits[0]
        comp, data = self.comp, self.data
        answer = truth(comp, data.y_train[valid_rows])

        def report(epoch: int, proba: np.ndarray) -> None:
            trial.report(comp.metric.fn(answer, from_proba(comp, proba)), epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()

        estimator = self.build(params)
        if hasattr(estimator, "will_predict"):  # a time budget keeps room for these
            estimator.will_predict = len(valid_rows) + len(data.x_test)
        estimator.fit(data.x_train, data.y_train, rows=train_rows, valid=valid_rows, report=report)
        # by rows of the whole array: a copy would be uploaded to the device again every trial
        proba = estimator.predict_proba(data.x_train, rows=valid_rows)
        score = float(comp.metric.fn(answer, from_proba(comp, proba)))
        trial.set_user_attr("cv_std", 0.0)
        trial.set_user_attr("cv_se", 0.0)
        trial.set_user_attr("train_seconds", float(getattr(estimator, "train_seconds", 0.0)))
        for key, value in getattr(estimator, "record", {}).items():  # weights, precision, batch
            trial.set_user_attr(f"{RECORD}{key}", value)
        with self._lock:
            if self.leader is None or comp.metric.is_better(score, self.leader[1]):
                self.leader = (trial.number, score)  # only the leader's predictions are kept
                self.kept = predict(comp, estimator, data.x_test)
        return score

    def test_predictions(self, best: optuna.trial.FrozenTrial) -> np.ndarray:
        if self.leader is not None and self.leader[0] == best.number and self.kept is not None:
            return self.kept
        # a resumed study's best ran in another process: train it again, as in its trial
        estimator = self.build(self.best_params(best))
        estimator.fit(self.data.x_train, self.data.y_train, rows=self.splits[0][0])
        return predict(self.comp, estimator, self.data.x_test)

    def pruned_at(self, last_step: int) -> str:
        return f"epoch {last_step}"


def scheme(baseline: Baseline, comp: Competition, data: Data, **settings: Any) -> Scheme:
    """The baseline's scheme: k-fold CV, or its held-out slice (``baseline.holdout``)."""
    if baseline.holdout is not None:
        settings.pop("folds", None)
        settings.pop("repeats", None)
        return HeldOut(baseline, comp, data, **settings)
    return KFold(baseline, comp, data, **settings)


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
