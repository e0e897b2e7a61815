"""Scoring a validated submission against the private answers: the competition's metric on the
public rows and on the private rows (and its extra metrics, shown beside the score).

With ``private=False`` only the public rows are scored: a competition that hides private
scores until its end never computes them before (``leaderboard.rules``). ``Scores.rows`` holds
the metric's per-row values on the public rows (and on the private rows when scored), for the
bootstrap and the ladder.

The answers are read from ``private/<id>/answers.csv``, checked against the manifest first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.competition import Competition
from harness.data.preparation import ANSWERS, PUBLIC, USAGE, prepared_file
from harness.data.validation import Aligned, cached_csv, check_values
from harness.settings import Settings


@dataclass(frozen=True)
class Scores:
    public: float
    private: float | None  # None: not scored (hidden until the competition ends)
    extra: dict[str, float] = field(default_factory=dict)  # "<metric>_public", "<metric>_private"
    #: the metric's per-row values (``Metric.rows``): "public", and "private" when scored
    rows: dict[str, np.ndarray] = field(default_factory=dict)


def score(
    comp: Competition, settings: Settings, aligned: Aligned, *, private: bool = True
) -> Scores:
    """Score a validated submission on the public test rows, and on the private ones unless
    ``private`` is false."""
    answers = prepared_file(comp, settings, f"private/{ANSWERS}")
    truth, public = _answers(answers, comp)
    pred = _stack(aligned.predictions, comp.target_columns)
    true = _stack(truth, comp.target_columns)
    halves = {"public": public, **({"private": ~public} if private else {})}

    def each(metric_fn: Any) -> dict[str, float]:
        return {half: float(metric_fn(true[rows], pred[rows])) for half, rows in halves.items()}

    if comp.metric.table is not None:  # a metric file: one run of it scores both halves
        main = comp.metric.table(answers, aligned.ids, aligned.predictions, list(halves))
    else:
        main = each(comp.metric.fn)
    extra: dict[str, float] = {}
    for metric in comp.extra_metrics:
        extra.update({f"{metric.name}_{half}": v for half, v in each(metric.fn).items()})
    rows: dict[str, np.ndarray] = {}
    if comp.metric.rows is not None and pred.ndim == 1:
        rows = {half: comp.metric.rows(true[m], pred[m]) for half, m in halves.items()}
    return Scores(public=main["public"], private=main.get("private"), extra=extra, rows=rows)


def _answers(path: Path, comp: Competition) -> tuple[dict[str, np.ndarray], np.ndarray]:
    frame = cached_csv(path)
    truth = {c: check_values(frame[c], c, comp)[0] for c in comp.target_columns}
    return truth, (frame[USAGE] == PUBLIC).to_numpy()


def _stack(columns: dict[str, np.ndarray], names: Sequence[str]) -> np.ndarray:
    if len(names) == 1:
        return columns[names[0]]
    return np.column_stack([columns[n] for n in names])
