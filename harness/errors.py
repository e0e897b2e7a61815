"""Errors a user can cause. The CLI prints them as ``Error: …`` and exits 1.

Each class carries the HTTP status the server answers it with (``status``): the one map from
errors to statuses, read by the server's one exception handler (JSON for the API, a page for
the pages). Anything that is not a :class:`HarnessError` is a bug and keeps its traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence


class HarnessError(Exception):
    """A mistake in the user's input or environment, with a message that names it."""

    status = 400  # what the server answers (a request it cannot take)


class Unauthorized(HarnessError):
    """No token, or an unknown or revoked one."""

    status = 401


class Forbidden(HarnessError):
    """The caller may not do this (another's submissions, a host's action)."""

    status = 403


class NotFound(HarnessError):
    """The request names nothing that is there (a file, a submission)."""

    status = 404


class TooLarge(HarnessError):
    """An upload over the server's limit."""

    status = 413


class UnknownCompetition(HarnessError):
    status = 404

    def __init__(self, name: str, known: Iterable[str]) -> None:
        self.name = name
        self.known = sorted(known)
        super().__init__(f"unknown competition '{name}'{did_you_mean(name, self.known)}")


class NotPrepared(HarnessError):
    status = 404

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

    status = 422


class RuleBroken(HarnessError):
    """A competition rule refuses the request (the daily limit, the hidden private board, a
    selection over the allowance). The message states the rule and the values."""

    status = 403


class UnknownSubmission(RuleBroken):
    """A submission id that names no submission of the competition, or several, or is not an
    id at all."""

    status = 404


class LimitReached(RuleBroken):
    """The participant's daily submission limit is used up (HTTP 429 in hosted mode)."""

    status = 429


class InvalidValue(HarnessError):
    """A value a form or a request gave that does not parse (a number, a time)."""

    status = 422


class InvalidSubmission(HarnessError):
    """A submission file breaks the competition's format. Lists every problem at once."""

    status = 422

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


class MetricFailed(InvalidSubmission):
    """A host's metric file failed on a submission. ``visible`` is all the participant reads:
    a ``ParticipantVisibleError``'s text, else that the metric failed; ``details`` (the
    traceback) is for the host's log only."""

    def __init__(self, visible: str, details: str = "") -> None:
        self.source = ""
        self.problems = [visible]
        self.visible = visible
        self.details = details
        HarnessError.__init__(self, visible)
