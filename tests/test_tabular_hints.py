"""Tabular baselines that hold up on unseen data (issue 16): the competitions' hints see train
and test together but never a label out of fold, outliers are left out of fits, small data is
scored by repeated folds, the submitted trial is picked by the one-standard-error rule, the
ensemble blends on out-of-fold predictions, and a tuned model gets an entry of its own."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
from harness.baselines import get_baseline
from harness.baselines.schemes import KFold, repeats_for, standard_error
from harness.baselines.tabular import Hinted, load_data
from harness.baselines.tabular.ensemble import Blend

import harness
from harness.data.loading import Tables
from harness.registry import get_competition

RAW = Path(__file__).resolve().parents[1] / "competitions"


def _tables(competition: str, train_rows: int, test_rows: int) -> Tables:
    """Kaggle's train split into a labelled train and an unlabelled test, as prepare does."""
    comp = get_competition(competition)
    frame = pd.read_csv(RAW / competition.replace("-", "_") / "raw" / "train.csv")
    train, test = frame.iloc[:train_rows], frame.iloc[train_rows : train_rows + test_rows]
    test = test.drop(columns=list(comp.target_columns))
    return Tables(train.reset_index(drop=True), test.reset_index(drop=True), test.iloc[:0])


def test_ticket_parties_are_counted_over_train_and_test_together() -> None:
    comp = get_competition("titanic")
    tables = _tables("titanic", 600, 291)
    data = load_data(comp, tables)
    tickets = pd.concat([tables.train["Ticket"], tables.test["Ticket"]], ignore_index=True)
    counts = tickets.map(tickets.value_counts())
    assert data.x_train["TicketParty"].tolist() == counts.iloc[:600].tolist()
    assert data.x_test["TicketParty"].tolist() == counts.iloc[600:].tolist()
    assert "Survived" not in data.x_test.columns and "Survived" not in data.x_train.columns


@pytest.mark.parametrize("competition", ["titanic", "house-prices"])
def test_a_training_rows_target_features_never_see_its_own_label(competition: str) -> None:
    comp = get_competition(competition)
    data = load_data(comp, _tables(competition, 400, 10))
    hinted = Hinted(model=None, comp=comp, seed=0)
    x, y = data.x_train, data.y_train.astype(float)
    before = hinted._encoded_out_of_fold(x, y)[data.columns.encoded]
    if competition == "titanic":  # women and children with company: their labels count
        rows = np.flatnonzero((x["GroupSize"] > 2) & (x["WomanOrChild"] == 1))[:3]
    else:
        rows = np.array([0, 17, 123])
    for row in rows:
        flipped = y.copy()
        flipped[row] = 1 - y[row] if competition == "titanic" else y[row] + 5.0
        after = hinted._encoded_out_of_fold(x, flipped)[data.columns.encoded]
        pd.testing.assert_series_equal(before.iloc[row], after.iloc[row])
        assert not before.equals(after)  # the label reaches other rows' features, as it should


def test_test_rows_features_come_from_the_training_labels_alone() -> None:
    comp = get_competition("titanic")
    data = load_data(comp, _tables("titanic", 600, 291))

    class Model:
        def fit(self, x: pd.DataFrame, y: np.ndarray) -> Model:
            return self

        def predict(self, x: pd.DataFrame) -> np.ndarray:
            self.seen = x
            return np.zeros(len(x))

    model = Model()
    hinted = Hinted(model, comp, seed=0).fit(data.x_train, data.y_train)
    hinted.predict(data.x_test)
    expected = comp.target_features(data.x_train, data.y_train, data.x_test)  # type: ignore[misc]
    pd.testing.assert_frame_equal(model.seen[list(expected.columns)], expected)


def test_house_prices_outliers_are_left_out_of_every_fit_and_of_cv_scores() -> None:
    comp = get_competition("house-prices")
    data = load_data(comp, _tables("house-prices", 1460, 0))
    flagged = np.flatnonzero(comp.outliers(data.x_train, data.y_train))  # type: ignore[misc]
    assert flagged.tolist() == [523, 1298]  # Kaggle's Ids 524 and 1299

    class Model:
        def fit(self, x: pd.DataFrame, y: np.ndarray) -> Model:
            self.rows = len(x)
            return self

    model = Model()
    Hinted(model, comp, seed=0).fit(data.x_train, data.y_train)
    assert model.rows == 1460 - 2
    scorer = KFold(
        get_baseline(comp, "linear"),
        comp,
        data,
        seed=0,
        overrides={},
        options={},
        share=None,  # type: ignore[arg-type]
    )
    validated = np.concatenate([valid for _, valid in scorer.splits])
    assert len(validated) == 3 * (1460 - 2) and not set(flagged) & set(validated)


def test_small_data_is_scored_by_three_repeats_of_five_folds() -> None:
    assert (repeats_for(712), repeats_for(4_999), repeats_for(5_000)) == (3, 3, 1)
    assert standard_error([0.8, 0.9]) == pytest.approx(np.std([0.8, 0.9], ddof=1) / np.sqrt(2))
    assert standard_error([0.8]) == 0.0


def _study(values: list[tuple[float, float, dict[str, float]]]) -> optuna.Study:
    study = optuna.create_study(direction="maximize")
    for value, se, params in values:
        distributions = {k: optuna.distributions.FloatDistribution(1e-3, 1e3) for k in params}
        study.add_trial(
            optuna.trial.create_trial(
                params=params,
                distributions=distributions,  # type: ignore[arg-type]
                value=value,
                user_attrs={"cv_se": se},
            )
        )
    return study


def test_the_one_standard_error_rule_submits_the_simplest_near_best_trial() -> None:
    comp = get_competition("titanic")
    scorer = KFold.__new__(KFold)
    scorer.baseline, scorer.comp, scorer.overrides = get_baseline(comp, "linear"), comp, {}
    study = _study(
        [
            (0.830, 0.01, {"strength": 1.0}),
            (0.845, 0.01, {"strength": 30.0}),  # the raw best
            (0.836, 0.01, {"strength": 0.3}),  # within one SE, the most regularised
            (0.820, 0.01, {"strength": 0.01}),  # simpler still, but too far from the best
        ]
    )
    assert study.best_trial.number == 1
    assert scorer.near_best(study).number == 2  # type: ignore[union-attr]
    exact = _study([(0.83, 0.0, {"strength": 1.0}), (0.84, 0.0, {"strength": 30.0})])
    assert scorer.near_best(exact).number == 1  # type: ignore[union-attr]
    near_defaults = _study(
        [(0.838, 0.01, {"strength": 1.0}), (0.845, 0.01, {"strength": 0.3})]
    )  # the defaults within one SE of the best: tuning keeps them
    assert scorer.near_best(near_defaults).number == 0  # type: ignore[union-attr]
    assert scorer.choose(near_defaults).number == 0  # type: ignore[union-attr]
    assert scorer.confirmation is None  # the defaults were picked: nothing to check


def test_a_pick_replaces_the_defaults_only_if_it_still_wins_on_fresh_folds() -> None:
    import dataclasses

    comp = get_competition("titanic")
    data = load_data(comp, _tables("titanic", 712, 179))
    linear = get_baseline(comp, "linear")

    def scorer(defaults: dict[str, float]) -> KFold:
        from harness.baselines.cpu import CpuShare

        baseline = dataclasses.replace(linear, defaults=defaults)
        return KFold(baseline, comp, data, seed=0, overrides={}, options={}, share=CpuShare(1))

    # A study whose CV (made up, as a lucky study's would be) puts a near-constant model
    # (C = 1e-3) far above the defaults: on fresh folds it loses, so the defaults stay.
    lucky = _study([(0.80, 0.01, {"strength": 1.0}), (0.95, 0.01, {"strength": 1e-3})])
    check = scorer({"strength": 1.0})
    assert check.near_best(lucky).number == 1  # type: ignore[union-attr]
    assert check.choose(lucky).number == 0  # type: ignore[union-attr]
    assert check.confirmation is not None
    assert check.confirmation["kept"] == "defaults" and check.confirmation["folds"] == 15
    assert check.confirmation["gain"] < 0  # the pick loses on rows it was not chosen on
    # The other way round: the defaults are the near-constant model and the pick a real one.
    real = _study([(0.62, 0.01, {"strength": 1e-3}), (0.83, 0.01, {"strength": 1.0})])
    check = scorer({"strength": 1e-3})
    assert check.choose(real).number == 1  # type: ignore[union-attr]
    assert check.confirmation is not None and check.confirmation["kept"] == "pick"
    assert check.confirmation["gain"] > 2 * check.confirmation["gain_se"] > 0


def test_the_ensemble_weights_are_non_negative_sum_to_one_and_favour_the_better_member() -> None:
    from sklearn.dummy import DummyRegressor
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(0)
    x = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300)})
    y = 2 * x["a"].to_numpy() + rng.normal(scale=0.1, size=300)
    blend = Blend(
        {"linear": LinearRegression(), "constant": DummyRegressor()},
        classification=False,
        folds=5,
        seed=0,
    ).fit(x, y)
    assert sum(blend.weights.values()) == pytest.approx(1.0)
    assert min(blend.weights.values()) >= 0 and blend.weights["linear"] > 0.95
    assert np.sqrt(np.mean((blend.predict(x) - y) ** 2)) < 0.2


def test_the_ensemble_trains_and_predicts_classes_on_titanic() -> None:
    comp = get_competition("titanic")
    data = load_data(comp, _tables("titanic", 300, 100))
    baseline = get_baseline(comp, "ensemble")
    model = baseline.build(baseline.defaults, comp, data.columns, 0)
    model.fit(data.x_train, data.y_train)
    assert set(np.unique(model.predict(data.x_test))) <= {0, 1}
    assert model.predict_proba(data.x_test).shape == (100, 2)
    assert set(model.model.weights) >= {"linear", "gbm", "forest"}


def test_a_tuned_model_and_the_default_enter_the_board_under_distinct_names(
    titanic: Path,
) -> None:
    default = harness.baseline("titanic", model="linear")
    tuned = harness.tune("titanic", model="linear", trials=2)
    assert default.entry.participant == "baseline/linear"
    assert tuned.entry.participant == "baseline/linear@titanic-linear"
    named = harness.tune("titanic", model="linear", trials=1, study="mine: v2?")
    assert named.entry.participant == "baseline/linear@mine: v2-"
    board = harness.leaderboard("titanic")
    assert set(board["participant"]) == {
        "baseline/linear",
        "baseline/linear@titanic-linear",
        "baseline/linear@mine: v2-",
    }
    assert tuned.cv_se > 0 and len(tuned.study.trials[0].intermediate_values) == 15
