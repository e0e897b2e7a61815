"""Performing a submission, the one place it happens: validate, score, record, rank.

``harness.submit`` (the notebook API and the CLI) and the tuner (a baseline's best trial) both
call :func:`submit` with objects, a :class:`~harness.competition.Competition` and
:class:`~harness.settings.Settings`. An invalid submission raises
:class:`~harness.errors.InvalidSubmission` and records nothing.

Names and messages are data that every view prints, so they are checked first
(:class:`~harness.errors.InvalidName`, nothing recorded): a participant name is 1 to 64
characters of :data:`NAME_ALPHABET` (no leading or trailing space), so no markup, no control
character, no newline that draws a fake table row; a message is at most 1,000 characters and
has no control or format character (C0/C1 controls such as NUL, ESC, newline and tab; bidi
overrides; line and paragraph separators): it is refused, not rewritten, so what is recorded is
what was typed. Views print runs recorded otherwise (by hand in MLflow, by an older harness) as
text, with such characters escaped.

Every entry records the preparation it was scored on (the tag ``harness.preparation``: see
:func:`~leaderboard.store.preparation_digest`); the board ranks only the current one's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.competition import Competition
from harness.data.preparation import reading
from harness.data.scoring import score
from harness.data.submission_file import as_file
from harness.data.validation import validate
from harness.errors import InvalidName, printable
from harness.settings import Settings
from leaderboard.store import Entry, Leaderboard, preparation_digest

#: What a participant name may hold besides letters (any script) and the digits 0-9.
NAME_PUNCTUATION = "._-/@+:"  # ":" for baseline/timm:<architecture>
NAME_ALPHABET = f"letters, digits, space and {' '.join(NAME_PUNCTUATION)}"
MAX_NAME = 64
MAX_MESSAGE = 1_000
#: Unicode categories refused in messages: controls, format characters (bidi overrides,
#: zero-width), line and paragraph separators, surrogates.
_CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def check_participant(name: str) -> None:
    """Raise :class:`InvalidName` unless ``name`` is 1-64 characters of letters, digits, space
    and ``. _ - / @ + :``, with no space at either end (``baseline/gbm`` is one)."""
    what = f"participant name '{printable(name, limit=80)}'"
    if not name:
        raise InvalidName("participant name is empty")
    if len(name) > MAX_NAME:
        raise InvalidName(f"{what} is {len(name):,} characters long; at most {MAX_NAME}")
    for ch in name:
        if not (ch.isalpha() or ch in "0123456789" or ch == " " or ch in NAME_PUNCTUATION):
            raise InvalidName(f"{what} has '{printable(ch)}', outside {NAME_ALPHABET}")
    if name != name.strip(" "):
        raise InvalidName(f"{what} starts or ends with a space")


def check_message(message: str) -> None:
    """Raise :class:`InvalidName` if ``message`` is over 1,000 characters or has a control or
    format character."""
    if len(message) > MAX_MESSAGE:
        raise InvalidName(f"message is {len(message):,} characters long; at most {MAX_MESSAGE:,}")
    for ch in message:
        if _is_control(ch):
            raise InvalidName(f"message has a control character: '{printable(ch)}'")


def _is_control(ch: str) -> bool:
    import unicodedata

    return unicodedata.category(ch) in _CONTROL_CATEGORIES


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
    check_participant(participant)
    check_message(message)
    board = Leaderboard(settings)
    with as_file(predictions, settings) as (path, name, frame):
        with reading(comp, settings):  # one preparation's sample and answers, never a mix
            preparation = preparation_digest(comp, settings)
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
            preparation=preparation,
        )
    table = board.standings(comp)
    mine = table[table["participant"] == participant]
    return SubmissionResult(
        entry=entry,
        rank=int(mine["rank"].iloc[0]),
        participants=len(table),
        best_public=float(mine["score"].iloc[0]),
    )
