"""Competition metrics. Names say the direction: ``*_score`` higher is better, ``*_error`` /
``*_loss`` lower is better, and every :class:`Metric` declares it.

Each function takes aligned ``(y_true, y_pred)`` arrays and returns a plain ``float``. They are
written in numpy (scikit-learn's import alone costs half a second per submit) and tested
against scikit-learn's reference implementations on random inputs.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

ArrayLike = npt.ArrayLike

#: Kaggle's clipping for log loss: predictions are kept in [EPS, 1 - EPS].
LOG_LOSS_EPS = 1e-15


class Needs(enum.Enum):
    """What a metric requires of the predicted values; the validator checks it."""

    LABELS = "labels"  # one of the competition's labels
    PROBABILITIES = "probabilities"  # a real number in [0, 1]
    FINITE = "finite"  # any finite real number
    POSITIVE = "positive"  # a finite real number > 0


def _identity(means: np.ndarray) -> np.ndarray:
    return means


@dataclass(frozen=True)
class Metric:
    """A metric. ``rows`` (optional) gives one value per row such that ``reduce`` of their mean
    is the score: the bootstrap and the ladder resample rows through it
    (:mod:`leaderboard.stats`); a metric without ``rows`` gets no intervals."""

    name: str
    fn: Callable[[ArrayLike, ArrayLike], float]
    greater_is_better: bool
    needs: Needs
    description: str = ""
    rows: Callable[[ArrayLike, ArrayLike], np.ndarray] | None = None
    reduce: Callable[[np.ndarray], np.ndarray] = _identity
    #: a metric that scores whole tables at once (a host's metric file, Kaggle's signature):
    #: ``table(answers_csv, ids, predictions_by_column, halves) -> {half: score}``, one call
    #: for the public and private halves; scoring uses it instead of ``fn``
    table: Callable[..., dict[str, float]] | None = None

    def __call__(self, y_true: ArrayLike, y_pred: ArrayLike) -> float:
        return self.fn(y_true, y_pred)

    @property
    def direction(self) -> str:
        return "higher is better" if self.greater_is_better else "lower is better"

    def is_better(self, a: float, b: float) -> bool:
        """Whether score ``a`` beats score ``b`` (ties are not better)."""
        return a > b if self.greater_is_better else a < b


def _check_pair(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    t, p = np.asarray(y_true), np.asarray(y_pred)
    if t.shape != p.shape or t.ndim != 1:
        raise ValueError(
            f"y_true and y_pred must be 1-d of one length, got {t.shape} and {p.shape}"
        )
    if t.size == 0:
        raise ValueError("cannot score an empty set of predictions")
    return t, p


def _check_real(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    t, p = _check_pair(y_true, y_pred)
    t, p = t.astype(np.float64), p.astype(np.float64)
    if not (np.isfinite(t).all() and np.isfinite(p).all()):
        raise ValueError("y_true and y_pred must be finite")
    return t, p


def _check_binary(y_true: ArrayLike) -> np.ndarray:
    t = np.asarray(y_true).astype(np.float64)
    if not np.isin(t, (0.0, 1.0)).all():
        raise ValueError("y_true must hold only 0 and 1")
    return t


def accuracy_score(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Fraction of predictions equal to the truth."""
    t, p = _check_pair(y_true, y_pred)
    return float(np.mean(t == p))


def rmse_log_error(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Root mean squared error between log(prediction) and log(truth) (Kaggle House Prices).

    Non-positive values have no logarithm: that is an error, never a NaN.
    """
    t, p = _check_real(y_true, y_pred)
    if (t <= 0).any() or (p <= 0).any():
        raise ValueError("rmse_log_error needs positive y_true and y_pred")
    return float(np.sqrt(np.mean(np.square(np.log(p) - np.log(t)))))


def log_loss(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Binary cross-entropy of P(class 1), predictions clipped to [1e-15, 1 - 1e-15] (Kaggle)."""
    t, p = _check_real(y_true, y_pred)
    t = _check_binary(t)
    p = np.clip(p, LOG_LOSS_EPS, 1 - LOG_LOSS_EPS)
    return float(-np.mean(t * np.log(p) + (1 - t) * np.log1p(-p)))


def roc_auc_score(y_true: ArrayLike, y_score: ArrayLike) -> float:
    """Area under the ROC curve: the chance a random positive outranks a random negative.

    Computed from average ranks (Mann-Whitney U), so ties count one half, as in scikit-learn.
    """
    from scipy.stats import rankdata

    t, s = _check_real(y_true, y_score)
    t = _check_binary(t)
    n_pos = float(t.sum())
    n_neg = t.size - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError("ROC AUC needs both classes in y_true")
    ranks = rankdata(s)
    return float((ranks[t == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def accuracy_rows(y_true: ArrayLike, y_pred: ArrayLike) -> np.ndarray:
    t, p = _check_pair(y_true, y_pred)
    return (t == p).astype(np.float64)


def squared_log_rows(y_true: ArrayLike, y_pred: ArrayLike) -> np.ndarray:
    """Per-row squared log error: the square root of their mean is :func:`rmse_log_error`."""
    t, p = _check_real(y_true, y_pred)
    if (t <= 0).any() or (p <= 0).any():
        raise ValueError("rmse_log_error needs positive y_true and y_pred")
    return np.square(np.log(p) - np.log(t))


def log_loss_rows(y_true: ArrayLike, y_pred: ArrayLike) -> np.ndarray:
    t, p = _check_real(y_true, y_pred)
    t = _check_binary(t)
    p = np.clip(p, LOG_LOSS_EPS, 1 - LOG_LOSS_EPS)
    return -(t * np.log(p) + (1 - t) * np.log1p(-p))


def roc_auc_rows(y_true: ArrayLike, y_score: ArrayLike) -> np.ndarray:
    """Pseudo-values whose mean is the ROC AUC exactly and whose weighted mean, for resampling
    weights that sum to the row count, is its first-order (DeLong) linearisation::

        z_i = AUC + (n / n_pos) (V_i - AUC)  for a positive, V_i = share of negatives below it
        z_j = AUC + (n / n_neg) (V_j - AUC)  for a negative, V_j = share of positives above it

    (ties count one half). An exact bootstrap of the AUC re-ranks every resample; this one is a
    matrix product, and agrees with it to within resampling error on a few hundred rows or more
    (tests/test_stats.py)."""
    from scipy.stats import rankdata

    t, s = _check_real(y_true, y_score)
    t = _check_binary(t) == 1
    n, n_pos = t.size, int(t.sum())
    n_neg = n - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError("ROC AUC needs both classes in y_true")
    all_ranks = rankdata(s)
    pos_ranks = rankdata(s[t])
    neg_ranks = rankdata(s[~t])
    z = np.empty(n)
    # a positive's rank among all, less its rank among positives: negatives below it (ties 1/2)
    v_pos = (all_ranks[t] - pos_ranks) / n_neg
    v_neg = 1 - (all_ranks[~t] - neg_ranks) / n_pos  # share of positives above a negative
    auc = float(v_pos.mean())
    z[t] = auc + (n / n_pos) * (v_pos - auc)
    z[~t] = auc + (n / n_neg) * (v_neg - auc)
    return z


def accuracy_at_half_rows(y_true: ArrayLike, y_score: ArrayLike) -> np.ndarray:
    t, s = _check_real(y_true, y_score)
    return ((s >= 0.5) == (_check_binary(t) == 1)).astype(np.float64)


def _sqrt(means: np.ndarray) -> np.ndarray:
    return np.sqrt(np.maximum(means, 0.0))


def accuracy_at_half_score(y_true: ArrayLike, y_score: ArrayLike) -> float:
    """Accuracy of thresholding a probability at 0.5 (class 1 when score >= 0.5)."""
    t, s = _check_real(y_true, y_score)
    return float(np.mean((s >= 0.5) == (_check_binary(t) == 1)))


ACCURACY = Metric(
    "accuracy",
    accuracy_score,
    greater_is_better=True,
    needs=Needs.LABELS,
    description="fraction of rows whose predicted label equals the truth",
    rows=accuracy_rows,
)
RMSE_LOG = Metric(
    "rmse_log",
    rmse_log_error,
    greater_is_better=False,
    needs=Needs.POSITIVE,
    description="root mean squared error between log(prediction) and log(truth)",
    rows=squared_log_rows,
    reduce=_sqrt,
)
LOG_LOSS = Metric(
    "log_loss",
    log_loss,
    greater_is_better=False,
    needs=Needs.PROBABILITIES,
    description="binary log loss of P(class 1), clipped to [1e-15, 1 - 1e-15]",
    rows=log_loss_rows,
)
ROC_AUC = Metric(
    "roc_auc",
    roc_auc_score,
    greater_is_better=True,
    needs=Needs.FINITE,
    description="area under the ROC curve (only the order of the scores matters)",
    rows=roc_auc_rows,
)
ACCURACY_AT_HALF = Metric(
    "accuracy",
    accuracy_at_half_score,
    greater_is_better=True,
    needs=Needs.FINITE,
    description="accuracy with the score thresholded at 0.5",
    rows=accuracy_at_half_rows,
)


def rmse_error(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Root mean squared error (scikit-learn's ``root_mean_squared_error``)."""
    t, p = _check_real(y_true, y_pred)
    return float(np.sqrt(np.mean(np.square(p - t))))


def squared_error_rows(y_true: ArrayLike, y_pred: ArrayLike) -> np.ndarray:
    t, p = _check_real(y_true, y_pred)
    return np.square(p - t)


def mae_error(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean absolute error (scikit-learn's ``mean_absolute_error``)."""
    t, p = _check_real(y_true, y_pred)
    return float(np.mean(np.abs(p - t)))


def absolute_error_rows(y_true: ArrayLike, y_pred: ArrayLike) -> np.ndarray:
    t, p = _check_real(y_true, y_pred)
    return np.abs(p - t)


def r2_score(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Coefficient of determination (scikit-learn's ``r2_score``; 0 for a constant truth that
    is predicted exactly, as scikit-learn's ``force_finite`` gives 1, so is this)."""
    t, p = _check_real(y_true, y_pred)
    residual = float(np.sum(np.square(t - p)))
    total = float(np.sum(np.square(t - t.mean())))
    if total == 0.0:
        return 1.0 if residual == 0.0 else 0.0
    return 1.0 - residual / total


def f1_macro_score(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Unweighted mean over the classes seen in truth or prediction of each class's F1
    (scikit-learn's ``f1_score(average="macro")``, a class never predicted nor true absent)."""
    t, p = _check_pair(y_true, y_pred)
    classes = np.union1d(t, p)
    scores = []
    for c in classes:
        tp = float(np.sum((t == c) & (p == c)))
        fp = float(np.sum((t != c) & (p == c)))
        fn = float(np.sum((t == c) & (p != c)))
        scores.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores))


RMSE = Metric(
    "rmse",
    rmse_error,
    greater_is_better=False,
    needs=Needs.FINITE,
    description="root mean squared error",
    rows=squared_error_rows,
    reduce=_sqrt,
)
MAE = Metric(
    "mae",
    mae_error,
    greater_is_better=False,
    needs=Needs.FINITE,
    description="mean absolute error",
    rows=absolute_error_rows,
)
R2 = Metric(
    "r2",
    r2_score,
    greater_is_better=True,
    needs=Needs.FINITE,
    description="coefficient of determination (1 is perfect, 0 is the mean's)",
)
F1_MACRO = Metric(
    "f1_macro",
    f1_macro_score,
    greater_is_better=True,
    needs=Needs.LABELS,
    description="F1 score averaged over the classes, each class counting the same",
)

#: The metrics a competition made from a folder may name (``harness create --metric NAME``),
#: by name, with whether each is for classification (True) or regression (False).
NAMED: dict[str, tuple[Metric, bool]] = {
    "accuracy": (ACCURACY, True),
    "f1_macro": (F1_MACRO, True),
    "roc_auc": (ROC_AUC, True),
    "log_loss": (LOG_LOSS, True),
    "rmse": (RMSE, False),
    "mae": (MAE, False),
    "r2": (R2, False),
    "rmse_log": (RMSE_LOG, False),
}
