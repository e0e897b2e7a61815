"""Performing a submission, the one place it happens: validate, score, record, rank.

``harness.submit`` (the notebook API and the CLI) and the tuner (a baseline's best trial) both
call :func:`submit` with objects, a :class:`~harness.competition.Competition` and
:class:`~harness.settings.Settings`. An invalid submission raises
:class:`~harness.errors.InvalidSubmission` and records nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.competition import Competition
from harness.data.scoring import score
from harness.data.submission_file import as_file
from harness.data.validation import validate
from harness.settings import Settings
from leaderboard.store import Entry, Leaderboard


@dataclass(frozen=True)
class SubmissionResult:
    entry: Entry
    rank: int  # the participant's rank on the public leaderboard after this submission
    participants: int
    best_public: float  # the participant's best public score so far (their ranked entry)

    @property
    def public_score(self) -> float:
        return self.entry.public_score


def submit(
    comp: Competition,
    settings: Settings,
    predictions: Any,
    *,
    participant: str,
    message: str = "",
    kind: str = "submission",
    params: Mapping[str, Any] | None = None,
    metrics: Mapping[str, float] | None = None,
    tags: Mapping[str, str] | None = None,
    artifacts: Sequence[Path] = (),
) -> SubmissionResult:
    """Validate ``predictions`` (a CSV path or a DataFrame), score them, record them as
    ``participant``'s run, and return the entry with the participant's public rank.

    ``metrics``, ``params``, ``tags`` and ``artifacts`` are logged on the run too (baselines
    log their CV score and config there)."""
    board = Leaderboard(settings)
    with as_file(predictions, settings) as (path, name, frame):
        aligned = validate(comp, settings, path, name=name, dataframe=frame)
        scores = score(comp, settings, aligned)
        entry = board.record(
            comp,
            participant=participant,
            kind=kind,
            message=message,
            public_score=scores.public,
            private_score=scores.private,
            file=path,
            extra={**scores.extra, **(metrics or {})},
            params=params,
            tags=tags,
            artifacts=artifacts,
        )
    table = board.standings(comp)
    mine = table[table["participant"] == participant]
    return SubmissionResult(
        entry=entry,
        rank=int(mine["rank"].iloc[0]),
        participants=len(table),
        best_public=float(mine["score"].iloc[0]),
    )
