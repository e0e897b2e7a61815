"""Gradient-boosted trees (scikit-learn's HistGradientBoosting) for any tabular competition.

measured: 100 Optuna trials, 5-fold CV on the public train, seed 0 (bench/tune.py, 2-core
CPU): Titanic accuracy 0.837 in 124 s, House Prices RMSE of log 0.131 in 349 s (bench/RESULTS.md
§5); its defaults 0.815 / 0.135 (§10).
"""

from __future__ import annotations

from typing import Any

from baselines import register
from baselines.tabular import Columns, is_classification, preprocessor
from harness.competition import Competition

# ----------------------------------------------------------------------------------------------
# Defaults and search space
# ----------------------------------------------------------------------------------------------
DEFAULTS: dict[str, Any] = {
    "learning_rate": 0.05,  # shrinkage per tree
    "max_iter": 300,  # trees (boosting rounds)
    "max_leaf_nodes": 15,  # leaves per tree
    "min_samples_leaf": 20,  # rows per leaf
    "l2_regularization": 0.1,  # on leaf values
    "max_features": 0.8,  # share of features each split considers
}


def space(trial: Any) -> dict[str, Any]:
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
        "max_iter": trial.suggest_int("max_iter", 50, 800, log=True),
        "max_leaf_nodes": trial.suggest_int("max_leaf_nodes", 4, 63, log=True),
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 2, 60, log=True),
        "l2_regularization": trial.suggest_float("l2_regularization", 1e-4, 10.0, log=True),
        "max_features": trial.suggest_float("max_features", 0.3, 1.0),
    }


# ----------------------------------------------------------------------------------------------
# Model
# ----------------------------------------------------------------------------------------------
@register(
    "gbm",
    defaults=DEFAULTS,
    space=space,
    summary="scikit-learn HistGradientBoosting (boosted trees)",
)
def build(params: dict[str, Any], comp: Competition, columns: Columns, seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.pipeline import make_pipeline

    model_class = (
        HistGradientBoostingClassifier
        if is_classification(comp)
        else HistGradientBoostingRegressor
    )
    # Categories are ordinal codes: trees split them as well as one-hot columns, and faster.
    model = model_class(**params, early_stopping=False, random_state=seed)
    return make_pipeline(preprocessor(columns, scale=False, one_hot=False), model)
