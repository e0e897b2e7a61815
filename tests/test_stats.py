"""The leaderboard's statistics (leaderboard.stats): the per-row decompositions of the metrics,
the bootstrap, tie classes, the shake-up forecast, medals, and the ladder against the classic
boosting attack."""

from __future__ import annotations

import numpy as np
import pytest
from harness.board import stats
from sklearn.metrics import roc_auc_score as sk_auc

from harness.metrics import (
    ACCURACY,
    ACCURACY_AT_HALF,
    LOG_LOSS,
    RMSE_LOG,
    ROC_AUC,
    Metric,
)


def _score_from_rows(metric: Metric, t: np.ndarray, p: np.ndarray) -> float:
    assert metric.rows is not None
    return float(metric.reduce(np.array([metric.rows(t, p).mean()]))[0])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_metric_is_the_reduced_mean_of_its_rows(seed: int) -> None:
    rng = np.random.default_rng(seed)
    t = rng.integers(0, 2, 301)
    probs = np.clip(rng.random(301) * 0.6 + t * 0.3, 0.01, 0.99)
    ties = np.round(probs, 1)  # AUC with many ties
    prices = rng.lognormal(12, 0.4, 301)
    guesses = prices * rng.lognormal(0, 0.15, 301)
    assert _score_from_rows(ACCURACY, t, (probs > 0.5).astype(int)) == pytest.approx(
        ACCURACY(t, (probs > 0.5).astype(int))
    )
    assert _score_from_rows(RMSE_LOG, prices, guesses) == pytest.approx(RMSE_LOG(prices, guesses))
    assert _score_from_rows(LOG_LOSS, t, probs) == pytest.approx(LOG_LOSS(t, probs))
    assert _score_from_rows(ACCURACY_AT_HALF, t, probs) == pytest.approx(
        ACCURACY_AT_HALF(t, probs)
    )
    for scores in (probs, ties):
        assert _score_from_rows(ROC_AUC, t, scores) == pytest.approx(sk_auc(t, scores), abs=1e-12)


def test_resample_counts_are_draws_with_replacement_of_the_asked_size() -> None:
    counts = stats.resample_counts(90, 500, seed=3)
    assert counts.shape == (500, 90)
    assert (counts.sum(axis=1) == 90).all()
    assert stats.resample_counts(90, 500, size=89, seed=3).sum(axis=1).tolist() == [89] * 500
    # every row is drawn about as often as every other
    assert counts.mean(axis=0) == pytest.approx(np.ones(90), abs=0.2)
    again = stats.resample_counts(90, 500, seed=3)
    assert (again == counts).all()  # seeded


def test_the_matrix_bootstrap_equals_resampling_by_index_for_accuracy() -> None:
    rng = np.random.default_rng(0)
    n = 90
    truth = rng.integers(0, 2, n)
    preds = [rng.integers(0, 2, n) for _ in range(3)]
    values = np.column_stack([ACCURACY.rows(truth, p) for p in preds])  # type: ignore[misc]
    counts = stats.resample_counts(n, 200, seed=5)
    got = stats.resampled_scores(values, counts, ACCURACY.reduce)
    for r in range(200):
        index = np.repeat(np.arange(n), counts[r].astype(int))
        for e, p in enumerate(preds):
            assert got[r, e] == pytest.approx(ACCURACY(truth[index], p[index]), abs=1e-6)


def test_the_linearised_auc_bootstrap_agrees_with_the_exact_one() -> None:
    """Re-ranking every resample (exact) against the pseudo-value matrix product."""
    rng = np.random.default_rng(1)
    n = 800
    truth = rng.integers(0, 2, n)
    score = rng.normal(size=n) + truth * 1.0
    counts = stats.resample_counts(n, 400, seed=2)
    fast = stats.resampled_scores(ROC_AUC.rows(truth, score)[:, None], counts, ROC_AUC.reduce)  # type: ignore[misc]
    exact = []
    for r in range(400):
        index = np.repeat(np.arange(n), counts[r].astype(int))
        exact.append(sk_auc(truth[index], score[index]))
    low_f, high_f = stats.intervals(fast)
    low_e, high_e = np.percentile(exact, [2.5, 97.5])
    assert low_f[0] == pytest.approx(low_e, abs=0.006)
    assert high_f[0] == pytest.approx(high_e, abs=0.006)
    assert np.corrcoef(fast[:, 0], exact)[0, 1] > 0.98


def test_intervals_cover_the_truth_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(7)
    covered = 0
    trials = 200
    for i in range(trials):
        rows = (rng.random(200) < 0.8).astype(float)  # an 80%-accurate model on 200 rows
        counts = stats.resample_counts(200, 400, seed=i)
        low, high = stats.intervals(stats.resampled_scores(rows[:, None], counts, ACCURACY.reduce))
        covered += bool(low[0] <= 0.8 <= high[0])
    assert 0.9 <= covered / trials <= 0.99


def test_tie_classes_join_what_the_paired_bootstrap_cannot_separate() -> None:
    rng = np.random.default_rng(0)
    n = 90
    truth = rng.integers(0, 2, n)
    best = np.where(rng.random(n) < 0.85, truth, 1 - truth)
    near = best.copy()
    near[np.flatnonzero(near == truth)[:2]] ^= 1  # two more mistakes: not separable on 90 rows
    far = np.where(rng.random(n) < 0.5, truth, 1 - truth)  # chance
    same_as_far = far.copy()
    entries = [best, near, far, same_as_far]
    values = np.column_stack([ACCURACY.rows(truth, e) for e in entries])  # type: ignore[misc]
    scores = stats.resampled_scores(values, stats.resample_counts(n, 1000, seed=0), np.asarray)
    assert stats.tie_classes(scores, greater_is_better=True).tolist() == [1, 1, 3, 3]
    # lower is better: the same logic, mirrored
    assert stats.tie_classes(-scores, greater_is_better=False).tolist() == [1, 1, 3, 3]


def test_a_lead_far_beyond_the_noise_holds_and_a_coin_flip_does_not() -> None:
    rng = np.random.default_rng(0)
    n = 90
    truth = rng.integers(0, 2, n)
    strong = np.where(rng.random(n) < 0.95, truth, 1 - truth)
    coin_a = rng.integers(0, 2, n)
    coin_b = rng.integers(0, 2, n)
    values = np.column_stack([ACCURACY.rows(truth, e) for e in (strong, coin_a, coin_b)])  # type: ignore[misc]
    scores = stats.resampled_scores(
        values, stats.resample_counts(n, 1000, size=89, seed=1), np.asarray
    )
    good = values.mean(axis=0)
    order = np.argsort(-good, kind="stable")
    holds, moves = stats.rank_holds(scores[:, order], True, [1, 2, 3])
    assert holds[0] > 0.99
    assert holds[1] < 0.9 and holds[2] < 0.9  # two coin flips swap places often
    assert holds[1] + holds[2] < 1.7
    assert moves[0] < 0.01


def test_kaggle_medal_thresholds_by_team_count() -> None:
    cut = stats.medal_cut
    assert (cut(50).gold, cut(50).silver, cut(50).bronze) == (5, 10, 20)
    assert (cut(5).gold, cut(5).silver, cut(5).bronze) == (1, 1, 2)
    assert (cut(150).gold, cut(150).silver, cut(150).bronze) == (10, 30, 60)
    assert (cut(500).gold, cut(500).silver, cut(500).bronze) == (11, 50, 100)
    assert (cut(2000).gold, cut(2000).silver, cut(2000).bronze) == (14, 100, 200)


def test_medals_go_to_every_score_as_good_as_the_threshold() -> None:
    scores = [0.9, 0.8, 0.8, 0.7, 0.6, 0.6, 0.5, 0.4, 0.3, 0.2]  # 10 teams: 1 / 2 / 4
    medal, above = stats.medals(scores, greater_is_better=True)
    # silver's threshold is rank 2 (0.8): rank 3 ties it, so two silvers
    assert medal == ["gold", "silver", "silver", "bronze", "", "", "", "", "", ""]
    assert above == [True, True, True, True, False, False, False, False, False, False]  # > 0.6
    lower, _ = stats.medals([0.1, 0.2, 0.3, 0.4, 0.5], greater_is_better=False)
    assert lower == ["gold", "bronze", "", "", ""]  # 5 teams: silver's rank is gold's


def _boosting_attack(n: int, k: int, seed: int) -> tuple[float, float, float]:
    """Blum & Hardt's boosting attack on a public half of ``n`` rows: ``k`` random label
    vectors, keep those the board says beat 0.5 (plain) or that moved the ladder, submit
    their majority vote. Returns the plain board's score of the vote, the ladder's shown
    score at the end, and the vote's accuracy on unseen (private) rows."""
    rng = np.random.default_rng(seed)
    public = rng.integers(0, 2, n)
    private = rng.integers(0, 2, n)
    ladder = stats.Ladder(ACCURACY.reduce, greater_is_better=True)
    plain_kept, ladder_kept = [], []
    for i in range(k):
        guess = rng.integers(0, 2, 2 * n)  # predictions for public and private rows
        rows = ACCURACY.rows(public, guess[:n])  # type: ignore[misc]
        if rows.mean() > 0.5:
            plain_kept.append(guess)
        if ladder.step(rows).accepted and i > 0:
            ladder_kept.append(guess)

    def vote(kept: list[np.ndarray]) -> np.ndarray:
        return (np.mean(kept, axis=0) > 0.5).astype(int) if kept else rng.integers(0, 2, 2 * n)

    plain_vote, ladder_vote = vote(plain_kept), vote(ladder_kept)
    ladder.step(ACCURACY.rows(public, ladder_vote[:n]))  # type: ignore[misc]
    return (
        ACCURACY(public, plain_vote[:n]),
        ladder.shown,
        ACCURACY(private, plain_vote[n:]),
    )


@pytest.mark.parametrize("seed", range(5))
def test_the_boosting_attack_climbs_the_plain_board_but_not_the_ladder(seed: int) -> None:
    # Titanic's public half here is 89 rows; 300 random submissions
    plain, ladder, unseen = _boosting_attack(89, 300, seed)
    assert plain >= 0.80  # the plain public board is fooled by 30 points
    assert abs(unseen - 0.5) < 0.12  # the attack learned nothing
    assert ladder <= 0.70  # the ladder shows little more than chance's luck
    assert plain - ladder >= 0.15
    # a larger public half: the plain board still climbs, the ladder barely moves
    plain, ladder, _ = _boosting_attack(1000, 1000, seed)
    assert plain >= 0.68
    assert ladder <= 0.58


def test_the_ladder_moves_only_beyond_one_standard_error() -> None:
    rng = np.random.default_rng(0)
    n = 100
    truth = rng.integers(0, 2, n)
    base = np.where(rng.random(n) < 0.7, truth, 1 - truth)
    ladder = stats.Ladder(ACCURACY.reduce, greater_is_better=True)
    first = ladder.step(ACCURACY.rows(truth, base))  # type: ignore[misc]
    assert first.accepted and first.shown == pytest.approx(ACCURACY(truth, base))
    slightly = base.copy()
    slightly[np.flatnonzero(base != truth)[:2]] ^= 1  # two rows better, one worse: noise
    slightly[np.flatnonzero(base == truth)[0]] ^= 1
    held = ladder.step(ACCURACY.rows(truth, slightly))  # type: ignore[misc]
    assert not held.accepted and held.shown == first.shown
    much = base.copy()
    much[np.flatnonzero(base != truth)[:15]] ^= 1  # fifteen rows better
    moved = ladder.step(ACCURACY.rows(truth, much))  # type: ignore[misc]
    assert moved.accepted and moved.shown == pytest.approx(ACCURACY(truth, much))
    # lower is better: an RMSE ladder accepts a clearly smaller error
    rmse = stats.Ladder(RMSE_LOG.reduce, greater_is_better=False)
    prices = rng.lognormal(12, 0.4, n)
    assert rmse.step(RMSE_LOG.rows(prices, prices * 1.3)).accepted  # type: ignore[misc]
    assert rmse.step(RMSE_LOG.rows(prices, prices * 1.05)).accepted  # type: ignore[misc]
    assert not rmse.step(RMSE_LOG.rows(prices, prices * 1.5)).accepted  # type: ignore[misc]


def test_se_of_the_mean_through_the_reduce() -> None:
    rows = np.array([1.0, 0.0] * 50)
    assert stats.se_of(rows, ACCURACY.reduce) == pytest.approx(
        0.5 / np.sqrt(99) * np.sqrt(100 / 100), rel=0.02
    )
