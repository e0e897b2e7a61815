"""A support-vector classifier with an RBF kernel on the pixels: the strongest classical
digit recogniser (~98.6% on MNIST in the literature), on the core install. Its fit grows with
the square of the training rows: seconds on ``digits``, many minutes on MNIST's 60,000.

measured (bench/digits.py, 2-core CPU, bench/RESULTS.md §14): digits 99.11% local test
(5-fold CV 0.986) in 1.7 s; MNIST not measured (6 fits on 60,000 rows).
"""

from __future__ import annotations

from typing import Any

from harness.baselines import register
from harness.baselines.vision.shared import Pixels

from harness.competition import Competition
from harness.metrics import Needs

# ----------------------------------------------------------------------------------------------
# Defaults and search space
# ----------------------------------------------------------------------------------------------
DEFAULTS: dict[str, Any] = {
    "strength": 10.0,  # C: the penalty of a margin violation
    # gamma: a multiple of scikit-learn's "scale", 1 / (pixels · their variance), so one range
    # serves 8×8 and 28×28 images alike
    "gamma": 1.0,
}


def space(trial: Any) -> dict[str, Any]:
    return {
        "strength": trial.suggest_float("strength", 0.1, 100.0, log=True),
        "gamma": trial.suggest_float("gamma", 0.2, 5.0, log=True),
    }


# ----------------------------------------------------------------------------------------------
# Model
# ----------------------------------------------------------------------------------------------
@register(
    "svc",
    defaults=DEFAULTS,
    space=space,
    summary="SVC with an RBF kernel on the pixels (scikit-learn, CPU)",
)
def build(params: dict[str, Any], comp: Competition, columns: Any, seed: int) -> Any:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import SVC

    svc: Any = SVC(
        C=params["strength"],
        gamma=params["gamma"],  # on pixels scaled to unit kernel width: a multiple of "scale"
        cache_size=1000,  # MB of kernel rows
        random_state=seed,
    )
    if comp.metric.needs in (Needs.PROBABILITIES, Needs.FINITE):  # log loss, AUC: Platt scaling
        svc = CalibratedClassifierCV(svc, method="sigmoid", ensemble=False)
    return make_pipeline(Pixels(unit_width=True), svc)
