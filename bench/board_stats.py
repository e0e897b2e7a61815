"""Benchmark: the leaderboard's statistics (leaderboard/stats.py) at 100 entries × 1,000
resamples, on Titanic's public half (89 rows, accuracy) and sentiment's (12,500 rows, ROC AUC).

For each competition it builds 100 entries' per-row values the way the board does: real
metric rows (``Metric.rows``) of predictions against labels (Titanic: the prepared local test's
real public answers, 100 models flipping a random share of the gender model's labels;
sentiment: 12,500 balanced labels, 100 noisy score vectors), then times, in-process, median of
``--runs``:

- resample counts: the ``(1,000, rows)`` matrix of draws (seeded);
- intervals: ``counts @ values`` and the percentiles, for every entry;
- tie classes: the paired comparison of every entry against the class heads;
- forecast: resampling at the private half's size and the chance each rank holds;
- all: the four together, as ``harness leaderboard`` runs them.

Goals (issue 12): ≤ 0.5 s on Titanic, ≤ 2 s on sentiment, for the intervals and tie classes.

Run from the repository root::

    .venv/bin/python bench/board_stats.py            # 5 runs each, about 30 s
    .venv/bin/python bench/board_stats.py --md /tmp/stats.md
"""

from __future__ import annotations

import argparse

import _common as c
import numpy as np


def titanic_values(entries: int) -> np.ndarray:
    import tempfile
    from pathlib import Path

    import pandas as pd

    import harness
    from harness.metrics import ACCURACY

    with tempfile.TemporaryDirectory() as tmp:
        prep = harness.prepare("titanic", home=Path(tmp) / "home")
        answers = pd.read_csv(prep.private / "answers.csv")
        test = pd.read_csv(prep.public / "test.csv")
    public = answers[answers["Usage"] == "Public"]
    sex = test.set_index("PassengerId").loc[public["PassengerId"], "Sex"]
    gender = (sex == "female").astype(int).to_numpy()
    truth = public["Survived"].to_numpy()
    rng = np.random.default_rng(0)
    cols = []
    for _ in range(entries):
        pred = gender.copy()
        flip = rng.random(pred.size) < rng.uniform(0.02, 0.3)
        pred[flip] ^= 1
        cols.append(ACCURACY.rows(truth, pred))  # type: ignore[misc]
    return np.column_stack(cols)


def sentiment_values(entries: int, rows: int = 12_500) -> np.ndarray:
    from harness.metrics import ROC_AUC

    rng = np.random.default_rng(0)
    truth = np.repeat([0, 1], rows // 2)
    cols = []
    for _ in range(entries):
        score = truth * rng.uniform(1.5, 3.0) + rng.normal(size=rows)
        cols.append(ROC_AUC.rows(truth, score))  # type: ignore[misc]
    return np.column_stack(cols)


def measure(values: np.ndarray, private_rows: int, reduce: object, runs: int) -> dict[str, str]:
    from harness.board import stats

    n, entries = values.shape
    seed = 12345
    f = reduce  # type: ignore[assignment]

    def counts() -> np.ndarray:
        return stats.resample_counts(n, stats.RESAMPLES, seed=seed)

    w = counts()

    def intervals() -> object:
        return stats.intervals(stats.resampled_scores(values, w, f))  # type: ignore[arg-type]

    scores = stats.resampled_scores(values, w, f)  # type: ignore[arg-type]
    order = np.argsort(-values.mean(axis=0), kind="stable")
    ranked = scores[:, order]

    def ties() -> object:
        return stats.tie_classes(ranked, True)

    def forecast() -> object:
        m = stats.resample_counts(n, stats.RESAMPLES, size=private_rows, seed=seed + 1)
        s = stats.resampled_scores(values[:, order], m, f)  # type: ignore[arg-type]
        return stats.rank_holds(s, True, range(1, entries + 1))

    def everything() -> object:
        w2 = stats.resample_counts(n, stats.RESAMPLES, seed=seed)
        s = stats.resampled_scores(values[:, order], w2, f)  # type: ignore[arg-type]
        stats.intervals(s)
        stats.tie_classes(s, True)
        return forecast()

    out = {}
    for name, fn in [
        ("counts", counts),
        ("intervals", intervals),
        ("ties", ties),
        ("forecast", forecast),
        ("all", everything),
    ]:
        fn()  # warm
        med, lo, hi = c.summary(c.repeat(fn, runs))
        out[name] = f"{med:.3f} [{lo:.3f}-{hi:.3f}]"
    classes = stats.tie_classes(ranked, True)
    out["classes"] = f"{len(set(classes.tolist()))} classes, {int((classes == 1).sum())} in =1"
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--entries", type=int, default=100)
    parser.add_argument("--md")
    args = parser.parse_args()
    import os

    from harness.metrics import ACCURACY, ROC_AUC

    report = c.Report("Leaderboard statistics: 100 entries × 1,000 resamples")
    report.note(
        f"Machine: {c.machine()}; {c.revision()}; OMP_NUM_THREADS="
        f"{os.environ.get('OMP_NUM_THREADS', 'unset')}. Seconds, median [min-max] of "
        f"{args.runs} in-process calls."
    )
    rows = []
    titanic = titanic_values(args.entries)
    got = measure(titanic, 90, ACCURACY.reduce, args.runs)
    rows.append(["titanic (accuracy)", f"{titanic.shape[0]:,}", *got.values()])
    sentiment = sentiment_values(args.entries)
    got = measure(sentiment, 12_500, ROC_AUC.reduce, args.runs)
    rows.append(["sentiment (ROC AUC)", f"{sentiment.shape[0]:,}", *got.values()])
    report.table(
        "Seconds per step (goal: intervals + ties ≤ 0.5 s Titanic, ≤ 2 s sentiment)",
        [
            "competition",
            "public rows",
            "counts",
            "intervals",
            "tie classes",
            "forecast",
            "all",
            "classes",
        ],
        rows,
    )
    report.save(args.md)


if __name__ == "__main__":
    main()
