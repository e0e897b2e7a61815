"""Performing a submission, the one place it happens: validate, score, record, rank.

``harness.submit`` (the notebook API and the CLI) and the tuner (a baseline's best trial) both
call :func:`submit` with objects, a :class:`~harness.competition.Competition` and
:class:`~harness.settings.Settings`. An invalid submission raises
:class:`~harness.errors.InvalidSubmission` and is recorded as an error (no score; it does not
count against the daily limit); the competition's rules apply (:mod:`leaderboard.rules`).

Names and messages are data that every view prints, so they are checked first
(:class:`~harness.errors.InvalidName`, nothing recorded): a participant name is 1 to 64
characters of :data:`NAME_ALPHABET` (no leading or trailing space), so no markup, no control
character, no newline that draws a fake table row; a message is at most 1,000 characters and
has no control or format character (C0/C1 controls such as NUL, ESC, newline and tab; bidi
overrides; line and paragraph separators): it is refused, not rewritten, so what is recorded is
what was typed. Views print runs recorded otherwise (by hand in MLflow, by an older harness) as
text, with such characters escaped.

Every entry records the preparation it was scored on (the tag ``harness.preparation``: see
:func:`~harness.data.preparation.preparation_digest`); the board ranks only the current one's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.board.results import Entry, SubmissionResult
from harness.board.rows import RowStore
from harness.board.rules import Rules, day_start, limit_message, now_utc
from harness.board.schema import CODE_TAG, CV_SCORE, LADDER_SCORE, LADDER_TAG
from harness.board.stats import Ladder
from harness.board.store import Leaderboard

from harness.competition import Competition
from harness.data.preparation import preparation_digest, reading
from harness.data.scoring import score
from harness.data.submission_file import as_file
from harness.data.validation import validate
from harness.errors import InvalidName, InvalidSubmission, LimitReached, RuleBroken, printable
from harness.files import sha256_file
from harness.settings import Settings

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
    cv: float | None = None,
    display_name: str | None = None,
) -> SubmissionResult:
    """Validate ``predictions`` (a CSV path or a DataFrame), score them, record them as
    ``participant``'s run, and return the entry with the participant's public rank.

    The competition's rules apply (:mod:`leaderboard.rules`): over the daily limit raises
    :class:`~harness.errors.LimitReached` and records nothing; an invalid file is recorded
    with status error and its message (it does not count) and raises
    :class:`~harness.errors.InvalidSubmission`; before the end of a competition with a
    deadline the private score is not computed; after the end the entry is late.

    ``cv`` (the participant's own cross-validated score) is recorded as ``cv_score``;
    ``metrics``, ``params``, ``tags`` and ``artifacts`` are logged on the run too (baselines
    log their CV score and config there). ``display_name`` names the file in messages and in
    the run's ``harness.file`` tag (the hosted server's upload: the client's name, never a
    path on the host)."""
    check_participant(participant)
    check_message(message)
    board = Leaderboard(settings)
    rules = board.rules(comp)
    if rules.code_only and kind == "submission" and CODE_TAG not in (tags or {}):
        raise RuleBroken(
            f"{comp.id} is a code competition: a file of predictions is refused. Submit the "
            f"script or notebook that makes it, `harness submit {comp.id} --code solution.py`: "
            f"it runs on the host, on the hidden test, and must write submission.csv "
            f"(`harness describe {comp.id}` has the contract)"
        )
    now = now_utc()
    late = rules.ended(now)
    if rules.daily_limit is not None:
        check_limit(board, comp, participant, rules.daily_limit, now)  # fail fast
    extra_metrics = {**(metrics or {}), **({CV_SCORE: float(cv)} if cv is not None else {})}
    with as_file(predictions, settings) as (path, name, frame):
        name = display_name or name
        file_name = display_name or path.name
        with reading(comp, settings):  # one preparation's sample and answers, never a mix
            preparation = preparation_digest(comp, settings)
            try:
                aligned = validate(comp, settings, path, name=name, dataframe=frame)
                scores = score(comp, settings, aligned, private=not rules.hides_private(now))
            except InvalidSubmission as exc:
                board.record_error(
                    comp,
                    participant=participant,
                    kind=kind,
                    message=message,
                    file=file_name,
                    error="; ".join(exc.problems),
                )
                raise
        sha = sha256_file(path)
        cache = RowStore(comp, settings, preparation)
        for half, values in scores.rows.items():
            cache.put(sha, half, values)
        entry = board.record(
            comp,
            participant=participant,
            kind=kind,
            message=message,
            public_score=scores.public,
            private_score=scores.private,
            file=path,
            file_name=file_name,
            extra={**scores.extra, **extra_metrics},
            params=params,
            tags=tags,
            artifacts=artifacts,
            preparation=preparation,
            late=late,
            under_lock=_rules_under_lock(
                board, comp, rules, participant, now, late, scores.rows.get("public"), cache
            ),
        )
    return _result(board, comp, entry, rules, scores.rows.get("public"), now)


def check_limit(
    board: Leaderboard,
    comp: Competition,
    participant: str,
    limit: int,
    now: dt.datetime,
    pending: Callable[[str, dt.datetime], int] | None = None,
) -> int:
    """How many valid submissions ``participant``'s team made today (UTC), with what
    ``pending(member, since)`` counts for each member (code jobs queued, not yet recorded);
    raise at the limit (the team owns it: :mod:`leaderboard.teams`)."""
    members = board.teams(comp).members(participant)
    since = day_start(now)
    used = sum(board.count_since(comp, m, since) for m in members)
    if pending is not None:
        used += sum(pending(m, since) for m in members)
    if used >= limit:
        raise LimitReached(limit_message(used, limit, now))
    return used


def _rules_under_lock(
    board: Leaderboard,
    comp: Competition,
    rules: Rules,
    participant: str,
    now: dt.datetime,
    late: bool,
    public_rows: Any,
    cache: RowStore,
) -> Any:
    """The check run under the write lock: the daily limit counted again (16 racing processes
    get exactly the limit through), and the ladder's decision against the last accepted
    entry."""

    def check(client: Any, experiment: str) -> tuple[dict[str, str], dict[str, float]]:
        from harness.board.teams import Teams

        # the team's limit and ladder, its members as stored now (a merge waits for the lock)
        members = Teams.from_tags(client.get_experiment(experiment).tags).members(participant)
        if rules.daily_limit is not None:
            since = day_start(now)
            used = sum(board.count_since(comp, m, since, client, experiment) for m in members)
            if used >= rules.daily_limit:
                raise LimitReached(limit_message(used, rules.daily_limit, now))
        if not rules.ladder or late or public_rows is None:
            return {}, {}
        ladder = Ladder(comp.metric.reduce, comp.metric.greater_is_better)
        found = [board.last_accepted(comp, m, client, experiment) for m in members]
        accepted = [f for f in found if f is not None]
        last = max(accepted, key=lambda f: f["start"]) if accepted else None
        if last is not None:
            best = cache.get(last["sha256"], "public")
            if best is not None and best.size == public_rows.size:
                ladder.resume(best, last["shown"])
        step = ladder.step(public_rows)
        return {LADDER_TAG: "accepted" if step.accepted else "held"}, {LADDER_SCORE: step.shown}

    return check


def _result(
    board: Leaderboard,
    comp: Competition,
    entry: Entry,
    rules: Rules,
    public_rows: Any,
    now: dt.datetime,
) -> SubmissionResult:
    from harness.board.board import Snapshot
    from harness.board.index import entries
    from harness.board.ranking import standings

    snap = Snapshot.read(board, comp)
    mine = entries(snap.records)
    mine = mine[mine["participant"] == entry.participant]
    warnings = [*_duplicates(mine, entry), *_overfitting(comp, entry, public_rows)]
    labelled = snap.entries()
    ranked = labelled[~labelled["late"].astype(bool)]
    table = standings(
        ranked,
        greater_is_better=comp.metric.greater_is_better,
        preparation=snap.preparation,
        ladder=rules.ladder,
    )
    label = snap.teams.label(entry.participant)
    row = table[table["participant"] == label]
    today = day_start(now).timestamp() * 1000
    ours = mine if label == entry.participant else labelled[labelled["participant"] == label]
    before = (ours["submitted_at"] >= today) & (ours["run_id"] != entry.run_id)
    left = rules.left_today(int(before.sum()) + 1)
    shown = entry.extra.get(LADDER_SCORE) if rules.ladder else None
    return SubmissionResult(
        entry=entry,
        rank=None if entry.late or row.empty else int(row["rank"].iloc[0]),
        participants=len(table),
        best_public=float(row["score"].iloc[0]) if len(row) else float("nan"),
        left_today=left,
        daily_limit=rules.daily_limit,
        warnings=tuple(warnings),
        shown_score=shown,
        rules=rules,
        metric=comp.metric.name,
        direction=comp.metric.direction,
        reference_rank=_reference_rank(comp, entry, rules, now),
    )


def _duplicates(mine: Any, entry: Entry) -> list[str]:
    same = mine[(mine["sha256"] == entry.sha256) & (mine["run_id"] != entry.run_id)]
    if same.empty:
        return []
    first = same.iloc[0]
    when = dt.datetime.fromtimestamp(first["submitted_at"] / 1000, dt.UTC)
    more = f" (and {len(same) - 1} more)" if len(same) > 1 else ""
    return [
        f"this file is byte-identical to your submission {first['run_id'][:8]} of "
        f"{when:%Y-%m-%d %H:%M} UTC{more}: it scores the same and uses a submission"
    ]


def _overfitting(comp: Competition, entry: Entry, public_rows: Any) -> list[str]:
    """Warn when the public score beats the participant's own CV by more than two standard
    errors of the public score: more than the noise of the public rows explains."""
    from harness.board.stats import se_of

    cv = entry.extra.get(CV_SCORE)
    if cv is None or public_rows is None:
        return []
    se = se_of(public_rows, comp.metric.reduce)
    gap = entry.public_score - cv if comp.metric.greater_is_better else cv - entry.public_score
    if not se > 0 or gap <= 2 * se:
        return []
    return [
        f"the public score {entry.public_score:.5f} beats your CV {cv:.5f} by {gap:.5f}, more "
        f"than the noise of {public_rows.size:,} public rows explains (2 SE = {2 * se:.5f}): "
        "the public board flatters this submission; trust the CV"
    ]


def _reference_rank(comp: Competition, entry: Entry, rules: Rules, now: dt.datetime) -> str | None:
    """Where this entry's score would have ranked on the competition's real final board: the
    private score where it is shown, else the public one (said which)."""
    from harness.board.ranking import reference_rank

    if comp.reference_board is None:
        return None
    hidden = rules.hides_private(now) or entry.private_score is None
    score = entry.public_score if hidden else entry.private_score
    if score is None:
        return None
    rank, of = reference_rank(
        comp.reference_board, float(score), greater_is_better=comp.metric.greater_is_better
    )
    half = "public" if hidden else "private"
    return f"rank {rank:,} of {of:,} on Kaggle's final leaderboard (by this {half} score)"
