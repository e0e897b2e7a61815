"""Harness: a local Kaggle. Competitions, validated submissions, an MLflow leaderboard.

Everything here imports lazily, so ``import harness`` (and ``harness --help``) stays instant.
"""

from harness.api import (
    SubmissionResult,
    baseline,
    describe,
    download,
    leaderboard,
    list_competitions,
    prepare,
    submissions,
    submit,
    tune,
    validate,
)
from harness.competition import Competition, Task
from harness.errors import HarnessError, InvalidSubmission


def load(competition: str, **options: object) -> object:
    """The public data of a prepared competition (see :func:`harness.loading.load`)."""
    from harness.loading import load

    return load(competition, **options)  # type: ignore[arg-type]


__all__ = [
    "Competition",
    "HarnessError",
    "InvalidSubmission",
    "SubmissionResult",
    "Task",
    "baseline",
    "describe",
    "download",
    "leaderboard",
    "list_competitions",
    "load",
    "prepare",
    "submissions",
    "submit",
    "tune",
    "validate",
]
