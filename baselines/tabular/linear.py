"""Linear models for any tabular competition: logistic regression or ridge, on standardised
numbers and one-hot categories.

measured: defaults, 5-fold CV on the public train (bench/tabular_defaults.py, 2-core CPU):
Titanic accuracy 0.826, House Prices RMSE of log 0.140, 3-5 s each (bench/RESULTS.md §10).
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
    "strength": 1.0,  # inverse regularisation: C for logistic regression, 1/alpha for ridge
}


def space(trial: Any) -> dict[str, Any]:
    return {"strength": trial.suggest_float("strength", 1e-3, 1e3, log=True)}


# ----------------------------------------------------------------------------------------------
# Model
# ----------------------------------------------------------------------------------------------
@register(
    "linear",
    defaults=DEFAULTS,
    space=space,
    summary="logistic regression / ridge on one-hot features",
)
def build(params: dict[str, Any], comp: Competition, columns: Columns, seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline

    if is_classification(comp):
        model: Any = LogisticRegression(C=params["strength"], max_iter=2000, random_state=seed)
    else:
        model = Ridge(alpha=1.0 / params["strength"], random_state=seed)
    return make_pipeline(preprocessor(columns, scale=True, one_hot=True), model)
