"""Random forest for any tabular competition.

measured: defaults, 3 × 5-fold CV on the public train, seed 0 (bench/nested_cv.py, 2-core
CPU): Titanic accuracy 0.840 ± 0.009 SE, nested CV on Kaggle's 891 labelled rows 0.823
(bench/RESULTS.md §15); House Prices, 5 folds before issue 16's hints: 0.142
(bench/RESULTS.md §10).
"""

from __future__ import annotations

from typing import Any

from harness.baselines import register
from harness.baselines.tabular import Columns, hinted, is_classification, preprocessor

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


def complexity(params: dict[str, Any]) -> float:
    """Depth over rows per leaf, times the share of features a split sees (the 1-SE rule)."""
    return params["max_depth"] / params["min_samples_leaf"] * params["max_features"]


# ----------------------------------------------------------------------------------------------
# Model
# ----------------------------------------------------------------------------------------------
@register(
    "forest",
    defaults=DEFAULTS,
    space=space,
    summary="scikit-learn random forest",
    complexity=complexity,
)
def build(params: dict[str, Any], comp: Competition, columns: Columns, seed: int) -> Any:
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
    from sklearn.pipeline import make_pipeline

    model_class = RandomForestClassifier if is_classification(comp) else RandomForestRegressor
    model = model_class(**params, random_state=seed, n_jobs=1)
    return hinted(
        make_pipeline(preprocessor(columns, scale=False, one_hot=False), model), comp, seed
    )
