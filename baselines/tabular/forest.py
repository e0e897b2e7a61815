"""Random forest for any tabular competition.

measured: defaults, 5-fold CV on the public train (bench/tabular_defaults.py, 2-core CPU):
Titanic accuracy 0.824, House Prices RMSE of log 0.142, 4-12 s (bench/RESULTS.md §10).
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
    "n_estimators": 300,  # trees
    "max_depth": 12,  # levels per tree
    "min_samples_leaf": 2,  # rows per leaf
    "max_features": 0.5,  # share of features each split considers
}


def space(trial: Any) -> dict[str, Any]:
    return {
        "n_estimators": trial.suggest_int("n_estimators", 50, 600, log=True),
        "max_depth": trial.suggest_int("max_depth", 3, 30, log=True),
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 1, 20, log=True),
        "max_features": trial.suggest_float("max_features", 0.1, 1.0),
    }


# ----------------------------------------------------------------------------------------------
# Model
# ----------------------------------------------------------------------------------------------
@register(
    "forest",
    defaults=DEFAULTS,
    space=space,
    summary="scikit-learn random forest",
)
def build(params: dict[str, Any], comp: Competition, columns: Columns, seed: int) -> Any:
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
    from sklearn.pipeline import make_pipeline

    model_class = RandomForestClassifier if is_classification(comp) else RandomForestRegressor
    model = model_class(**params, random_state=seed, n_jobs=1)
    return make_pipeline(preprocessor(columns, scale=False, one_hot=False), model)
