"""Errors a user can cause. The CLI prints them as ``Error: …`` and exits 1.

Anything that is not a :class:`HarnessError` is a bug and keeps its traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence


class HarnessError(Exception):
    """A mistake in the user's input or environment, with a message that names it."""


class UnknownCompetition(HarnessError):
    def __init__(self, name: str, known: Iterable[str]) -> None:
        self.name = name
        self.known = sorted(known)
        super().__init__(f"unknown competition '{name}'{did_you_mean(name, self.known)}")


class NotPrepared(HarnessError):
    def __init__(self, competition: str, home: object = None) -> None:
        where = "" if home is None else f" in {home} (HARNESS_HOME)"
        super().__init__(
            f"competition '{competition}' is not prepared{where}: "
            f"run `harness prepare {competition}`"
        )


class Interrupted(HarnessError):
    """Ctrl-C during a long job; the message says what was kept and how to go on."""


class RawDataError(HarnessError):
    """The raw data is missing, unreadable or not in the publisher's format."""


class IntegrityError(HarnessError):
    """A prepared file no longer matches the checksum recorded when it was prepared."""


class DownloadError(HarnessError):
    """Downloading raw data failed (offline, no credentials, bad checksum)."""


class StoreError(HarnessError):
    """The leaderboard store (MLflow) cannot be reached or used."""


class InvalidName(HarnessError):
    """A participant name or a submission message that could break or spoof the board (too
    long, control characters, a character outside a name's alphabet). Nothing is recorded."""


class RuleBroken(HarnessError):
    """A competition rule refuses the request (the daily limit, the hidden private board, a
    selection over the allowance). The message states the rule and the values."""


class LimitReached(RuleBroken):
    """The participant's daily submission limit is used up (HTTP 429 in hosted mode)."""


class InvalidSubmission(HarnessError):
    """A submission file breaks the competition's format. Lists every problem at once."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = list(problems)
        super().__init__(f"{source}: " + "; ".join(self.problems))


def printable(text: object, *, limit: int | None = None) -> str:
    """``text`` safe to print: characters that are not printable (ESC, NUL, newlines, bidi
    overrides…) as Python's repr writes them (``\\x1b``, ``\\n``, without the quotes), so
    data can neither move the cursor nor draw a fake line; cut to ``limit`` characters with
    "…" when longer. Every message and table that shows user data goes through it."""
    text = str(text)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest candidate, or an empty string."""
    lowered = {c.lower(): c for c in candidates}
    if name.lower() in lowered:
        return f" (did you mean '{lowered[name.lower()]}'?)"
    close = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return f" (did you mean '{lowered[close[0]]}'?)" if close else ""
