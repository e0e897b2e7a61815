"""What the Optuna core needs from every kind of baseline: the shape of a competition's
public data, the target as models learn it, and predictions in the form the metric scores."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.competition import Competition
from harness.metrics import Needs


@dataclass(frozen=True)
class Data:
    """A competition's public data, ready for a model: ``x_*`` index with ``.iloc``."""

    x_train: Any  # a DataFrame of features, or a Series of texts
    y_train: np.ndarray  # in the model's space (log price for RMSE-of-log)
    x_test: Any
    test_ids: np.ndarray
    columns: Any = None  # the kind's own description of x (tabular: column kinds)
    labels: Any = None  # class names a submission holds, indexed by the predicted class


def take(x: Any, rows: Any) -> Any:
    """Rows of a DataFrame, a Series or an array."""
    return x.iloc[rows] if hasattr(x, "iloc") else x[rows]


def is_classification(comp: Competition) -> bool:
    return comp.task.is_classification


def encode_target(comp: Competition, y: np.ndarray) -> np.ndarray:
    """The target as the model learns it: log for a metric on the log scale."""
    if comp.metric.needs is Needs.POSITIVE:
        return np.log(y.astype(np.float64))
    return y


def predict(comp: Competition, model: Any, x: Any) -> np.ndarray:
    """Predictions in the form the metric scores: labels, P(class 1), or the original scale."""
    needs = comp.metric.needs
    if is_classification(comp) and needs in (Needs.PROBABILITIES, Needs.FINITE):
        return np.asarray(model.predict_proba(x)[:, 1])
    pred = np.asarray(model.predict(x))
    return np.exp(pred) if needs is Needs.POSITIVE else pred


def truth(comp: Competition, y_model: np.ndarray) -> np.ndarray:
    """The target back in the metric's space (inverse of :func:`encode_target`)."""
    return np.exp(y_model) if comp.metric.needs is Needs.POSITIVE else y_model


def from_proba(comp: Competition, proba: np.ndarray) -> np.ndarray:
    """Class probabilities (n × classes) in the form the metric scores."""
    if comp.metric.needs in (Needs.PROBABILITIES, Needs.FINITE):
        return np.asarray(proba[:, 1])
    return np.asarray(proba.argmax(1))


def split_rows(
    rows: np.ndarray, y: np.ndarray, fraction: float, seed: int, *, stratify: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """``rows`` split into kept and held-out (``fraction`` of them), seeded, stratified by
    ``y[rows]`` when asked; both sorted."""
    from sklearn.model_selection import train_test_split

    kept, held = train_test_split(
        rows, test_size=fraction, random_state=seed, stratify=y[rows] if stratify else None
    )
    return np.sort(kept), np.sort(held)
