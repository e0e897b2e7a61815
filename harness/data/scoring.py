"""Scoring a validated submission against the private answers: the competition's metric on the
public rows and on the private rows (and its extra metrics, shown beside the score).

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
    private: float
    extra: dict[str, float] = field(default_factory=dict)  # "<metric>_public", "<metric>_private"


def score(comp: Competition, settings: Settings, aligned: Aligned) -> Scores:
    """Score a validated submission on the public and private test rows."""
    truth, public = _answers(prepared_file(comp, settings, f"private/{ANSWERS}"), comp)
    pred = _stack(aligned.predictions, comp.target_columns)
    true = _stack(truth, comp.target_columns)
    private = ~public

    def both(metric_fn: Any) -> tuple[float, float]:
        return float(metric_fn(true[public], pred[public])), float(
            metric_fn(true[private], pred[private])
        )

    pub, priv = both(comp.metric.fn)
    extra: dict[str, float] = {}
    for metric in comp.extra_metrics:
        extra[f"{metric.name}_public"], extra[f"{metric.name}_private"] = both(metric.fn)
    return Scores(public=pub, private=priv, extra=extra)


def _answers(path: Path, comp: Competition) -> tuple[dict[str, np.ndarray], np.ndarray]:
    frame = cached_csv(path)
    truth = {c: check_values(frame[c], c, comp)[0] for c in comp.target_columns}
    return truth, (frame[USAGE] == PUBLIC).to_numpy()


def _stack(columns: dict[str, np.ndarray], names: Sequence[str]) -> np.ndarray:
    if len(names) == 1:
        return columns[names[0]]
    return np.column_stack([columns[n] for n in names])
