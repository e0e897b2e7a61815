"""Gradient-boosted trees (scikit-learn's HistGradientBoosting) on the pixels, on the core
install: one tree per class and round, so slower than the linear model and weaker than the SVC
on digits, but a fair tree baseline.

measured (bench/digits.py, 2-core CPU, bench/RESULTS.md §14): digits 97.33% local test
(5-fold CV 0.972) in 47 s; MNIST not measured.
"""

from __future__ import annotations

from typing import Any

from harness.baselines import register
from harness.baselines.vision.shared import Pixels

from harness.competition import Competition

# ----------------------------------------------------------------------------------------------
# Defaults and search space
# ----------------------------------------------------------------------------------------------
DEFAULTS: dict[str, Any] = {
    "learning_rate": 0.1,  # shrinkage per round
    "max_iter": 200,  # boosting rounds (each grows one tree per class)
    "max_leaf_nodes": 31,  # leaves per tree
    "min_samples_leaf": 20,  # images per leaf
    "l2_regularization": 0.01,  # on leaf values
}


def space(trial: Any) -> dict[str, Any]:
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.3, log=True),
        "max_iter": trial.suggest_int("max_iter", 50, 400, log=True),
        "max_leaf_nodes": trial.suggest_int("max_leaf_nodes", 8, 63, log=True),
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 5, 60, log=True),
        "l2_regularization": trial.suggest_float("l2_regularization", 1e-4, 10.0, log=True),
    }


# ----------------------------------------------------------------------------------------------
# Model
# ----------------------------------------------------------------------------------------------
@register(
    "hgb",
    defaults=DEFAULTS,
    space=space,
    summary="scikit-learn HistGradientBoosting on the pixels (CPU)",
)
def build(params: dict[str, Any], comp: Competition, columns: Any, seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import make_pipeline

    model = HistGradientBoostingClassifier(**params, early_stopping=False, random_state=seed)
    return make_pipeline(Pixels(), model)
