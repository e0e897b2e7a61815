"""The metrics in :mod:`harness.metrics` against scikit-learn's reference implementations on
random inputs, and the properties every metric must have (plain floats, row order does not
matter, a perfect prediction gets the best value, the declared direction matches the name)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
import sklearn.metrics as skm

from harness import metrics
from harness.metrics import (
    ACCURACY,
    ACCURACY_AT_HALF,
    F1_MACRO,
    LOG_LOSS,
    LOG_LOSS_EPS,
    MAE,
    NAMED,
    R2,
    RMSE,
    RMSE_LOG,
    ROC_AUC,
    Metric,
)

SEEDS = [0, 1, 2, 3, 4, 5]

Pair = tuple[np.ndarray, np.ndarray]
Generator = Callable[[np.random.Generator, int], Pair]


def _size(rng: np.random.Generator) -> int:
    return int(rng.integers(20, 400))


def _binary_truth(rng: np.random.Generator, n: int) -> np.ndarray:
    truth = rng.integers(0, 2, n)
    truth[:2] = [0, 1]  # both classes, whatever the seed
    rng.shuffle(truth)
    return truth


def _labels(rng: np.random.Generator, n: int) -> Pair:
    return rng.integers(0, 3, n), rng.integers(0, 3, n)


def _prices(rng: np.random.Generator, n: int) -> Pair:
    return rng.lognormal(12.0, 0.4, n), rng.lognormal(12.0, 0.4, n)


def _probabilities(rng: np.random.Generator, n: int) -> Pair:
    return _binary_truth(rng, n), rng.random(n)


def _tied_scores(rng: np.random.Generator, n: int) -> Pair:
    # Scores on a coarse grid: many ties, within and across the classes.
    return _binary_truth(rng, n), np.round(rng.random(n), 1)


#: Each metric function with a generator of typical random inputs for it.
FUNCTIONS: dict[str, tuple[Callable[[np.ndarray, np.ndarray], float], Generator]] = {
    "accuracy_score": (metrics.accuracy_score, _labels),
    "rmse_log_error": (metrics.rmse_log_error, _prices),
    "log_loss": (metrics.log_loss, _probabilities),
    "roc_auc_score": (metrics.roc_auc_score, _tied_scores),
    "accuracy_at_half_score": (metrics.accuracy_at_half_score, _tied_scores),
    "rmse_error": (metrics.rmse_error, _prices),
    "mae_error": (metrics.mae_error, _prices),
    "r2_score": (metrics.r2_score, _prices),
    "f1_macro_score": (metrics.f1_macro_score, _labels),
}

CONSTANTS = [ACCURACY, RMSE_LOG, LOG_LOSS, ROC_AUC, ACCURACY_AT_HALF, RMSE, MAE, R2, F1_MACRO]


def _metric_id(metric: Metric) -> str:
    return metric.fn.__name__


# ---------------------------------------------------------------------------------------------
# Agreement with scikit-learn
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_accuracy_score_agrees_with_sklearn_on_integer_labels(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y_true, y_pred = _labels(rng, _size(rng))

    assert metrics.accuracy_score(y_true, y_pred) == pytest.approx(
        skm.accuracy_score(y_true, y_pred), rel=1e-12
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_accuracy_score_agrees_with_sklearn_on_string_labels(seed: int) -> None:
    rng = np.random.default_rng(seed)
    classes = np.array(["cat", "dog", "bird", "NA"])
    n = _size(rng)
    y_true, y_pred = rng.choice(classes, n), rng.choice(classes, n)

    assert metrics.accuracy_score(y_true, y_pred) == pytest.approx(
        skm.accuracy_score(y_true, y_pred), rel=1e-12
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_rmse_log_error_is_the_rmse_of_log_prediction_minus_log_truth(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y_true, y_pred = _prices(rng, _size(rng))

    numpy_formula = math.sqrt(float(np.mean((np.log(y_pred) - np.log(y_true)) ** 2)))
    sklearn_mse = math.sqrt(skm.mean_squared_error(np.log(y_true), np.log(y_pred)))

    assert metrics.rmse_log_error(y_true, y_pred) == pytest.approx(numpy_formula, rel=1e-12)
    assert metrics.rmse_log_error(y_true, y_pred) == pytest.approx(sklearn_mse, rel=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_rmse_log_error_equals_sklearns_log1p_rmsle_of_the_values_minus_one(seed: int) -> None:
    # sklearn's RMSLE takes log1p; log1p(x - 1) == log(x), so shifting by one gives Kaggle's.
    rng = np.random.default_rng(seed)
    y_true, y_pred = _prices(rng, _size(rng))

    assert metrics.rmse_log_error(y_true, y_pred) == pytest.approx(
        skm.root_mean_squared_log_error(y_true - 1, y_pred - 1), rel=1e-9
    )


def test_rmse_log_error_uses_log_not_sklearns_log1p() -> None:
    y_true, y_pred = np.array([1.0, 2.0]), np.array([2.0, 4.0])

    # Every prediction is twice the truth: log(2) apart, whatever the values.
    assert metrics.rmse_log_error(y_true, y_pred) == pytest.approx(math.log(2), rel=1e-12)
    assert skm.root_mean_squared_log_error(y_true, y_pred) != pytest.approx(math.log(2), rel=1e-3)


@pytest.mark.parametrize("seed", SEEDS)
def test_log_loss_agrees_with_sklearn_on_probabilities_clipped_first(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y_true, y_pred = _probabilities(rng, _size(rng))
    y_pred[:4] = [0.0, 1.0, 0.0, 1.0]  # exact 0 and 1, on either class depending on the seed
    clipped = np.clip(y_pred, LOG_LOSS_EPS, 1 - LOG_LOSS_EPS)

    value = metrics.log_loss(y_true, y_pred)

    assert math.isfinite(value)
    assert value == pytest.approx(skm.log_loss(y_true, clipped, labels=[0, 1]), rel=1e-12)


def test_log_loss_of_certain_wrong_predictions_is_the_finite_clipped_value() -> None:
    y_true, y_pred = np.array([1, 0]), np.array([0.0, 1.0])
    clipped = np.clip(y_pred, LOG_LOSS_EPS, 1 - LOG_LOSS_EPS)

    value = metrics.log_loss(y_true, y_pred)

    # A certain miss costs -log(1e-15), about 34.54, on either class.
    by_hand = -(math.log(LOG_LOSS_EPS) + math.log1p(-(1 - LOG_LOSS_EPS))) / 2
    assert value == pytest.approx(by_hand, rel=1e-12)
    assert value == pytest.approx(34.54, abs=0.01)
    assert value == pytest.approx(skm.log_loss(y_true, clipped, labels=[0, 1]), rel=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_roc_auc_score_agrees_with_sklearn_with_tied_scores(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y_true, y_score = _tied_scores(rng, _size(rng))
    assert len(np.unique(y_score)) < len(y_score)  # there are ties

    assert metrics.roc_auc_score(y_true, y_score) == pytest.approx(
        skm.roc_auc_score(y_true, y_score), rel=1e-12
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_roc_auc_score_agrees_with_sklearn_on_continuous_scores(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y_true, y_score = _probabilities(rng, _size(rng))
    y_score = y_score * 10 - 3  # AUC takes any real scores, not only probabilities

    assert metrics.roc_auc_score(y_true, y_score) == pytest.approx(
        skm.roc_auc_score(y_true, y_score), rel=1e-12
    )


@pytest.mark.parametrize(
    ("y_true", "y_score", "expected"),
    [
        ([0, 1], [0.3, 0.3], 0.5),
        ([0, 1, 1], [0.5, 0.5, 0.9], 0.75),
        ([0, 0, 1, 1], [0.2, 0.2, 0.2, 0.2], 0.5),
    ],
)
def test_roc_auc_score_counts_a_tie_between_classes_as_one_half(
    y_true: list[int], y_score: list[float], expected: float
) -> None:
    assert metrics.roc_auc_score(y_true, y_score) == expected
    assert skm.roc_auc_score(y_true, y_score) == expected


@pytest.mark.parametrize("seed", SEEDS)
def test_accuracy_at_half_agrees_with_sklearn_accuracy_of_score_at_least_one_half(
    seed: int,
) -> None:
    rng = np.random.default_rng(seed)
    y_true, y_score = _tied_scores(rng, _size(rng))
    y_score[:2] = 0.5  # exactly on the threshold counts as class 1

    assert metrics.accuracy_at_half_score(y_true, y_score) == pytest.approx(
        skm.accuracy_score(y_true, (y_score >= 0.5).astype(int)), rel=1e-12
    )


def test_accuracy_at_half_counts_a_score_of_exactly_one_half_as_class_one() -> None:
    assert metrics.accuracy_at_half_score([1, 0], [0.5, 0.49999]) == 1.0
    assert metrics.accuracy_at_half_score([0], [0.5]) == 0.0


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(
    ("ours", "reference", "generate"),
    [
        pytest.param(metrics.rmse_error, skm.root_mean_squared_error, _prices, id="rmse"),
        pytest.param(metrics.mae_error, skm.mean_absolute_error, _prices, id="mae"),
        pytest.param(metrics.r2_score, skm.r2_score, _prices, id="r2"),
        pytest.param(
            metrics.f1_macro_score,
            lambda t, p: skm.f1_score(t, p, average="macro"),
            _labels,
            id="f1_macro",
        ),
    ],
)
def test_the_named_metrics_for_created_competitions_agree_with_sklearn(
    ours: Callable[[np.ndarray, np.ndarray], float],
    reference: Callable[[np.ndarray, np.ndarray], float],
    generate: Generator,
    seed: int,
) -> None:
    rng = np.random.default_rng(seed)
    y_true, y_pred = generate(rng, _size(rng))

    assert ours(y_true, y_pred) == pytest.approx(float(reference(y_true, y_pred)), rel=1e-10)


def test_every_named_metric_is_named_by_its_own_name() -> None:
    assert {name: metric.name for name, (metric, _) in NAMED.items()} == {n: n for n in NAMED}


# ---------------------------------------------------------------------------------------------
# Properties of every metric
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_every_metric_returns_a_plain_python_float(name: str) -> None:
    fn, generate = FUNCTIONS[name]
    rng = np.random.default_rng(0)

    value = fn(*generate(rng, 50))

    assert type(value) is float


@pytest.mark.parametrize("seed", SEEDS[:3])
@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_every_metric_is_invariant_to_permuting_rows_together(name: str, seed: int) -> None:
    fn, generate = FUNCTIONS[name]
    rng = np.random.default_rng(seed)
    y_true, y_pred = generate(rng, _size(rng))
    order = rng.permutation(len(y_true))

    assert fn(y_true[order], y_pred[order]) == pytest.approx(fn(y_true, y_pred), rel=1e-12)


@pytest.mark.parametrize(
    ("fn", "y_true", "y_pred", "best"),
    [
        pytest.param(metrics.accuracy_score, [0, 2, 1, 1], [0, 2, 1, 1], 1.0, id="accuracy"),
        pytest.param(
            metrics.accuracy_score, ["a", "b", "NA"], ["a", "b", "NA"], 1.0, id="accuracy-str"
        ),
        pytest.param(
            metrics.rmse_log_error, [1.5, 208500.0, 1e9], [1.5, 208500.0, 1e9], 0.0, id="rmse_log"
        ),
        pytest.param(metrics.roc_auc_score, [0, 1, 1, 0], [0, 1, 1, 0], 1.0, id="roc_auc"),
        pytest.param(
            metrics.roc_auc_score, [0, 1, 1, 0], [-3.0, 0.2, 7.0, 0.1], 1.0, id="roc_auc-ranked"
        ),
        pytest.param(
            metrics.accuracy_at_half_score, [0, 1, 1, 0], [0.0, 1.0, 0.5, 0.49], 1.0, id="at_half"
        ),
    ],
)
def test_a_perfect_prediction_gets_the_best_value(
    fn: Callable[[list[object], list[object]], float],
    y_true: list[object],
    y_pred: list[object],
    best: float,
) -> None:
    assert fn(y_true, y_pred) == best


def test_log_loss_of_the_truth_itself_is_tiny() -> None:
    truth = np.array([0, 1, 1, 0, 1])

    value = metrics.log_loss(truth, truth)

    assert 0.0 <= value < 1e-14


@pytest.mark.parametrize("metric", CONSTANTS, ids=_metric_id)
def test_declared_direction_matches_the_metric_functions_name(metric: Metric) -> None:
    name = metric.fn.__name__
    assert name.endswith(("_score", "_error", "_loss"))
    higher = name.endswith("_score")

    assert metric.greater_is_better is higher
    assert metric.direction == ("higher is better" if higher else "lower is better")
    assert metric.is_better(0.9, 0.1) is higher
    assert metric.is_better(0.1, 0.9) is not higher
    assert metric.is_better(0.5, 0.5) is False  # a tie is not better


@pytest.mark.parametrize("metric", CONSTANTS, ids=_metric_id)
def test_a_perfect_prediction_beats_a_random_one_in_the_declared_direction(
    metric: Metric,
) -> None:
    _, generate = FUNCTIONS[metric.fn.__name__]
    rng = np.random.default_rng(7)
    y_true, y_random = generate(rng, 200)
    y_perfect = y_true.astype(np.float64) if metric is not ACCURACY else y_true

    assert metric.is_better(metric(y_true, y_perfect), metric(y_true, y_random))
    assert not metric.is_better(metric(y_true, y_random), metric(y_true, y_perfect))


def test_metric_constants_call_their_function() -> None:
    y_true, y_pred = [0, 1, 1, 0], [0, 1, 0, 0]

    assert ACCURACY(y_true, y_pred) == metrics.accuracy_score(y_true, y_pred) == 0.75
    assert ROC_AUC(y_true, y_pred) == metrics.roc_auc_score(y_true, y_pred)


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("y_true", "y_pred"),
    [
        pytest.param([100.0, 200.0], [0.0, 200.0], id="zero-prediction"),
        pytest.param([100.0, 200.0], [-5.0, 200.0], id="negative-prediction"),
        pytest.param([0.0, 200.0], [100.0, 200.0], id="zero-truth"),
        pytest.param([100.0, -1.0], [100.0, 200.0], id="negative-truth"),
    ],
)
def test_rmse_log_error_with_a_non_positive_value_raises_instead_of_nan(
    y_true: list[float], y_pred: list[float]
) -> None:
    with np.errstate(all="raise"), pytest.raises(ValueError) as info:
        metrics.rmse_log_error(y_true, y_pred)

    assert str(info.value) == "rmse_log_error needs positive y_true and y_pred"


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_rmse_log_error_with_a_non_finite_prediction_raises(bad: float) -> None:
    with pytest.raises(ValueError) as info:
        metrics.rmse_log_error([100.0, 200.0], [bad, 200.0])

    assert str(info.value) == "y_true and y_pred must be finite"


@pytest.mark.parametrize("only", [0, 1])
def test_roc_auc_with_one_class_raises(only: int) -> None:
    with pytest.raises(ValueError) as info:
        metrics.roc_auc_score([only] * 4, [0.1, 0.4, 0.35, 0.8])

    assert str(info.value) == "ROC AUC needs both classes in y_true"


@pytest.mark.parametrize("fn", [metrics.log_loss, metrics.roc_auc_score], ids=lambda f: f.__name__)
def test_binary_metrics_with_a_truth_other_than_zero_or_one_raise(
    fn: Callable[[list[int], list[float]], float],
) -> None:
    with pytest.raises(ValueError) as info:
        fn([0, 1, 2], [0.1, 0.4, 0.8])

    assert str(info.value) == "y_true must hold only 0 and 1"


@pytest.mark.parametrize(
    ("y_true", "y_pred", "shapes"),
    [
        pytest.param([1, 0, 1], [1, 0], "(3,) and (2,)", id="longer-truth"),
        pytest.param([1, 0], [1, 0, 1], "(2,) and (3,)", id="longer-prediction"),
        pytest.param([[1, 0], [0, 1]], [[1, 0], [0, 1]], "(2, 2) and (2, 2)", id="2-d"),
    ],
)
@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_mismatched_lengths_raise_for_every_metric(
    name: str, y_true: list[object], y_pred: list[object], shapes: str
) -> None:
    fn, _ = FUNCTIONS[name]

    with pytest.raises(ValueError) as info:
        fn(np.asarray(y_true), np.asarray(y_pred))

    assert str(info.value) == f"y_true and y_pred must be 1-d of one length, got {shapes}"


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_an_empty_set_of_predictions_raises_for_every_metric(name: str) -> None:
    fn, _ = FUNCTIONS[name]

    with pytest.raises(ValueError) as info:
        fn(np.array([]), np.array([]))

    assert str(info.value) == "cannot score an empty set of predictions"
