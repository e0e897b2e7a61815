"""Harness: a local Kaggle. Competitions, validated submissions, an MLflow leaderboard.

Everything here imports lazily, so ``import harness`` (and ``harness --help``) stays instant.
"""

from harness.api import (
    baseline,
    describe,
    download,
    leaderboard,
    list_competitions,
    load,
    prepare,
    reveal,
    rules,
    select,
    submissions,
    submit,
    submit_code,
    team,
    tune,
    validate,
    verify,
)
from harness.competition import Competition, Task
from harness.errors import HarnessError, InvalidSubmission, LimitReached, RuleBroken


def __getattr__(name: str) -> object:
    if name == "SubmissionResult":  # what `harness.submit` returns (leaderboard.service)
        from harness.board.service import SubmissionResult

        return SubmissionResult
    raise AttributeError(f"module 'harness' has no attribute {name!r}")


__all__ = [
    "Competition",
    "HarnessError",
    "InvalidSubmission",
    "LimitReached",
    "RuleBroken",
    "SubmissionResult",
    "Task",
    "baseline",
    "describe",
    "download",
    "leaderboard",
    "list_competitions",
    "load",
    "prepare",
    "reveal",
    "rules",
    "select",
    "submissions",
    "submit",
    "submit_code",
    "team",
    "tune",
    "validate",
    "verify",
]
