"""Linear models for any tabular competition: logistic regression or ridge, on standardised
numbers and one-hot categories.

measured: defaults, 3 × 5-fold CV on the public train, seed 0 (bench/nested_cv.py, 2-core
CPU): Titanic accuracy 0.834 ± 0.007 SE, nested CV on Kaggle's 891 labelled rows 0.838; House
Prices RMSE of log 0.114 ± 0.002, local test 0.104 / 0.119, nested 0.125 (bench/RESULTS.md §15).
"""

from __future__ import annotations

from typing import Any

from harness.baselines import register
from harness.baselines.tabular import Columns, hinted, is_classification, preprocessor

from harness.competition import Competition

# ----------------------------------------------------------------------------------------------
# Defaults and search space
# ----------------------------------------------------------------------------------------------
# Ridge's penalty is against a sum of squared errors over every row, logistic regression's C
# against a sum of log losses: at strength 1, alpha 20 is what House Prices' 1,168 standardised,
# one-hot sales want (CV 0.114 against 0.130 at alpha 1) and C 1 what Titanic's 712 do.
RIDGE_ALPHA = 20.0  # ridge's alpha at strength 1

DEFAULTS: dict[str, Any] = {
    "strength": 1.0,  # inverse regularisation: C for logistic regression, RIDGE_ALPHA/alpha
}


def space(trial: Any) -> dict[str, Any]:
    return {"strength": trial.suggest_float("strength", 1e-3, 1e3, log=True)}


def complexity(params: dict[str, Any]) -> float:
    """Less regularisation, more capacity (the 1-SE rule picks the strongest penalty)."""
    return float(params["strength"])


# ----------------------------------------------------------------------------------------------
# Model
# ----------------------------------------------------------------------------------------------
@register(
    "linear",
    defaults=DEFAULTS,
    space=space,
    summary="logistic regression / ridge on one-hot features",
    complexity=complexity,
)
def build(params: dict[str, Any], comp: Competition, columns: Columns, seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline

    if is_classification(comp):
        model: Any = LogisticRegression(C=params["strength"], max_iter=2000, random_state=seed)
    else:
        model = Ridge(alpha=RIDGE_ALPHA / params["strength"], random_state=seed)
    return hinted(
        make_pipeline(preprocessor(columns, scale=True, one_hot=True), model), comp, seed
    )
