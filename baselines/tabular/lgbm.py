"""LightGBM gradient boosting for any tabular competition, when ``lightgbm`` is installed
(``pip install 'harness[tabular]'``); without it, it is listed and refused with that hint.

measured: defaults, 3 × 5-fold CV on the public train, seed 0 (bench/nested_cv.py, 2-core
CPU): Titanic accuracy 0.828 ± 0.010 SE, nested CV on Kaggle's 891 labelled rows 0.814; House
Prices RMSE of log 0.123 ± 0.002, local test 0.116 / 0.117, nested 0.131 (bench/RESULTS.md §15).
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
    "learning_rate": 0.05,  # shrinkage per tree
    "n_estimators": 300,  # boosting rounds
    "num_leaves": 15,  # leaves per tree
    "min_child_samples": 20,  # rows per leaf
    "reg_lambda": 0.1,  # L2 on leaf values
    "colsample_bytree": 0.8,  # share of features per tree
    "subsample": 0.8,  # share of rows per tree (bagging every round)
}


def space(trial: Any) -> dict[str, Any]:
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
        "n_estimators": trial.suggest_int("n_estimators", 50, 500, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 4, 63, log=True),
        "min_child_samples": trial.suggest_int("min_child_samples", 2, 60, log=True),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-4, 10.0, log=True),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.3, 1.0),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
    }


def complexity(params: dict[str, Any]) -> float:
    """Leaves × rounds × shrinkage over rows per leaf, less for more L2 (the 1-SE rule)."""
    fit = params["num_leaves"] * params["n_estimators"] * params["learning_rate"]
    return fit / params["min_child_samples"] / (1 + params["reg_lambda"])


# ----------------------------------------------------------------------------------------------
# Model
# ----------------------------------------------------------------------------------------------
@register(
    "lgbm",
    defaults=DEFAULTS,
    space=space,
    summary="LightGBM (boosted trees; optional extra)",
    requires=("lightgbm",),
    extra="tabular",
    complexity=complexity,
)
def build(params: dict[str, Any], comp: Competition, columns: Columns, seed: int) -> Any:
    import lightgbm
    from sklearn.pipeline import make_pipeline

    model_class = lightgbm.LGBMClassifier if is_classification(comp) else lightgbm.LGBMRegressor
    # One thread: Optuna's --jobs parallelises trials; verbose -1 silences per-fit warnings.
    model = model_class(**params, subsample_freq=1, random_state=seed, n_jobs=1, verbose=-1)
    return hinted(
        make_pipeline(preprocessor(columns, scale=False, one_hot=False), model), comp, seed
    )
