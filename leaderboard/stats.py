"""The statistics of a noisy leaderboard: pure numpy, no MLflow, no files.

Every entry is a column of per-row values (``Metric.rows``: correct or not, squared log error,
AUC pseudo-values) on the same test rows; a score is ``reduce(mean(values))``. Resampling rows
is then one matrix product: ``W @ values / n`` for a matrix ``W`` of resample counts. With the
same ``W`` for every entry the resamples are *paired*: two entries are compared on the same
rows, as they must be (their errors are correlated).

- :func:`intervals`: a percentile bootstrap 95% interval per entry;
- :func:`tie_classes`: entries the paired bootstrap cannot separate from a class head at 95%
  share its class (``=1``: tied with the leader);
- :func:`rank_holds`: the chance an entry's rank holds on an unseen test of another size,
  resampling the public rows only (the shake-up forecast);
- :func:`kendall_tau`, :func:`medals` (Kaggle's progression thresholds, as mle-bench encodes
  them) and :class:`Ladder` (Blum & Hardt 2015, the parameter-free variant).

Everything is seeded: the same board gives the same intervals, classes and forecasts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

RESAMPLES = 1_000
LEVEL = 0.95


def resample_counts(n: int, resamples: int, *, size: int | None = None, seed: int) -> np.ndarray:
    """A ``(resamples, n)`` float32 matrix: how often each of ``n`` rows is drawn in each of
    ``resamples`` draws of ``size`` rows (default ``n``) with replacement."""
    size = n if size is None else size
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, n, size=(resamples, size), dtype=np.int64)
    picks += np.arange(resamples, dtype=np.int64)[:, None] * n
    counts = np.bincount(picks.ravel(), minlength=resamples * n)
    return counts.reshape(resamples, n).astype(np.float32)


def resampled_scores(
    values: np.ndarray, counts: np.ndarray, reduce: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """``(resamples, entries)`` scores from ``values`` ``(rows, entries)`` and ``counts``."""
    means = counts @ values.astype(np.float32, copy=False)
    means /= counts.sum(axis=1, keepdims=True)
    return np.asarray(reduce(means.astype(np.float64)))


def intervals(scores: np.ndarray, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap intervals, one per column of ``scores``."""
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(scores, [tail, 100 - tail], axis=0)
    return low, high


def _oriented(scores: np.ndarray, greater_is_better: bool) -> np.ndarray:
    return scores if greater_is_better else -scores


def tie_classes(scores: np.ndarray, greater_is_better: bool, level: float = LEVEL) -> np.ndarray:
    """The class of each entry, columns in rank order: the rank (1-based) of its class head.

    The leader heads class 1; every later entry the paired bootstrap cannot separate from it
    at ``level`` (two-sided: it is as good as the head, or better, in more than
    ``(1 - level) / 2`` of the resamples) joins it; the best entry left heads the next class,
    and so on."""
    good = _oriented(scores, greater_is_better)
    n = good.shape[1]
    out = np.zeros(n, dtype=np.int64)
    alpha = (1 - level) / 2
    for head in range(n):
        if out[head]:
            continue
        out[head] = head + 1
        rest = np.flatnonzero(out == 0)
        rest = rest[rest > head]
        if rest.size == 0:
            break
        # share of resamples in which the entry is as good as the head, or better
        level_with = (good[:, rest] >= good[:, [head]]).mean(axis=0)
        out[rest[level_with > alpha]] = head + 1
    return out


def ranks(scores: np.ndarray, greater_is_better: bool) -> np.ndarray:
    """1-based ranks per row of ``scores`` (ties: the earlier column ranks first)."""
    good = _oriented(scores, greater_is_better)
    order = np.argsort(-good, axis=1, kind="stable")
    out = np.empty_like(order)
    rows = np.arange(good.shape[0])[:, None]
    out[rows, order] = np.arange(1, good.shape[1] + 1)
    return out


def rank_holds(
    scores: np.ndarray, greater_is_better: bool, shown: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """For resampled ``scores`` (columns in board order), the chance each entry keeps its
    shown rank, and its expected absolute rank change."""
    got = ranks(scores, greater_is_better)
    want = np.asarray(shown)[None, :]
    return (got == want).mean(axis=0), np.abs(got - want).mean(axis=0)


def kendall_tau(a: Sequence[float], b: Sequence[float]) -> float:
    """Kendall's tau-b between two rankings (NaN for fewer than two)."""
    if len(a) < 2:
        return float("nan")
    from scipy.stats import kendalltau

    return float(kendalltau(a, b).statistic)


def se_of(values: np.ndarray, reduce: Callable[[np.ndarray], np.ndarray]) -> float:
    """The standard error of ``reduce(mean(values))``, by the delta method."""
    n = values.size
    if n < 2:
        return float("nan")
    mean, se = float(values.mean()), float(values.std(ddof=1) / math.sqrt(n))
    hi, lo = reduce(np.array([mean + se])), reduce(np.array([max(mean - se, 0.0)]))
    return float(abs(hi[0] - lo[0]) / 2)


# -- medals --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MedalCut:
    gold: int  # the last rank that earns gold
    silver: int
    bronze: int


def medal_cut(teams: int) -> MedalCut:
    """Kaggle's progression thresholds (kaggle.com/progression; mle-bench grade_helpers.py):
    under 100 teams, the top 10 / 20 / 40 %; 100-249, the top 10 teams, then 20 / 40 %;
    250-999, the top 10 + 0.2 %, 50, 100; 1000 and more, the top 10 + 0.2 %, 5 %, 10 %."""
    if teams < 1:
        raise ValueError("no teams")
    if teams < 100:
        cut = (int(teams * 0.1), int(teams * 0.2), int(teams * 0.4))
    elif teams < 250:
        cut = (10, int(teams * 0.2), int(teams * 0.4))
    elif teams < 1000:
        cut = (10 + int(teams * 0.002), 50, 100)
    else:
        cut = (10 + int(teams * 0.002), int(teams * 0.05), int(teams * 0.1))
    gold, silver, bronze = (max(1, c) for c in cut)
    return MedalCut(gold, silver, bronze)


def medals(scores: Sequence[float], greater_is_better: bool) -> tuple[list[str], list[bool]]:
    """The medal ("gold", "silver", "bronze" or "") and "above the median" for each score of
    a private board in rank order. As mle-bench does, a medal goes to every score at least as
    good as the score at the threshold's rank, so tied scores share a medal."""
    values = list(scores)
    if not values:
        return [], []
    cut = medal_cut(len(values))
    sign = 1.0 if greater_is_better else -1.0
    ranks = (cut.gold, cut.silver, cut.bronze)
    at = [sign * values[min(rank, len(values)) - 1] for rank in ranks]
    median = sign * float(np.median(values))
    out, above = [], []
    for value in values:
        v = sign * value
        won = [m for m, t in zip(("gold", "silver", "bronze"), at, strict=True) if v >= t]
        out.append(won[0] if won else "")
        above.append(v > median)
    return out, above


# -- the ladder ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    accepted: bool
    shown: float  # the score the board shows after this submission


class Ladder:
    """The parameter-free Ladder (Blum & Hardt 2015, "The Ladder: A Reliable Leaderboard for
    Machine Learning Competitions", Algorithm 2), one participant's: a submission moves the
    shown score only if its per-row values beat the shown best's by more than one standard
    error of their paired differences (``std(d) / sqrt(n)``); the shown score is then its own,
    rounded to a step of ``1 / n`` on the mean scale. Otherwise the board shows the previous
    best, so the scores of over-fitted submissions never leak back to the participant."""

    def __init__(
        self, reduce: Callable[[np.ndarray], np.ndarray], greater_is_better: bool
    ) -> None:
        self.reduce = reduce
        self.sign = 1.0 if greater_is_better else -1.0
        self.best: np.ndarray | None = None
        self.shown = float("nan")

    def resume(self, best: np.ndarray, shown: float) -> Ladder:
        """Continue from the last accepted submission's values and shown score."""
        self.best, self.shown = np.asarray(best, dtype=np.float64), float(shown)
        return self

    def step(self, values: np.ndarray) -> Step:
        values = np.asarray(values, dtype=np.float64)
        if self.best is not None:
            diff = self.sign * (values - self.best)
            n = diff.size
            threshold = float(diff.std(ddof=1)) / math.sqrt(n) if n > 1 else 0.0
            if not float(diff.mean()) > threshold:
                return Step(False, self.shown)
        self.best = values
        self.shown = self.round(values)
        return Step(True, self.shown)

    def round(self, values: np.ndarray) -> float:
        n = values.size
        mean = round(float(values.mean()) * n) / n
        return float(self.reduce(np.array([mean]))[0])
