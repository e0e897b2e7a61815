"""Logistic regression on the pixels (multinomial, L2): the linear baseline of any image
competition, on the core install (scikit-learn only, no torch).

measured (bench/digits.py, 2-core CPU, bench/RESULTS.md §14): digits 94.89% local test
(5-fold CV 0.941) in 1.3 s; digit-recognizer (MNIST) 92.59% in 103 s (CV + refit).
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
    "strength": 0.1,  # inverse L2 regularisation C, on pixels in [0, 1]
}


def space(trial: Any) -> dict[str, Any]:
    return {"strength": trial.suggest_float("strength", 1e-3, 1e2, log=True)}


# ----------------------------------------------------------------------------------------------
# Model
# ----------------------------------------------------------------------------------------------
@register(
    "logistic",
    defaults=DEFAULTS,
    space=space,
    summary="logistic regression on the pixels (scikit-learn, CPU)",
)
def build(params: dict[str, Any], comp: Competition, columns: Any, seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(
        Pixels(), LogisticRegression(C=params["strength"], max_iter=500, random_state=seed)
    )
