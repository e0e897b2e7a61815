"""The host's and the participants' rule actions: set the rules, select final submissions,
end (reveal) a competition. Reading the boards is :mod:`leaderboard.board`; submitting is
:mod:`leaderboard.submit`."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from harness.board.board import Snapshot, grade
from harness.board.index import entries
from harness.board.rules import KEEP, Rules, now_utc, stamp
from harness.board.schema import COMPLETE, SELECTION
from harness.board.store import Leaderboard

from harness.competition import Competition
from harness.errors import HarnessError, NotPrepared, RuleBroken, UnknownSubmission, printable

__all__ = ["KEEP", "find", "reveal", "select", "set_rules"]


def set_rules(
    board: Leaderboard,
    comp: Competition,
    *,
    daily_limit: Any = KEEP,
    deadline: Any = KEEP,
    selections: int | None = None,
    ladder: bool | None = None,
    team_size: Any = KEEP,
    merger_deadline: Any = KEEP,
    code_only: bool | None = None,
    time_limit: int | str | None = None,
    memory: int | str | None = None,
) -> Rules:
    """Change some rules (``KEEP`` leaves one as it is; None clears a limit or deadline)."""
    rules = board.rules(comp).changed(
        daily_limit=daily_limit,
        deadline=deadline,
        selections=selections,
        ladder=ladder,
        team_size=team_size,
        merger_deadline=merger_deadline,
        code_only=code_only,
        time_limit=time_limit,
        memory=memory,
    )
    return board.set_rules(comp, rules)


def select(
    board: Leaderboard,
    comp: Competition,
    participant: str,
    submission: str,
    *,
    selected: bool = True,
) -> dict[str, Any]:
    """Select (or unselect) one of ``participant``'s entries as a final submission, named by
    its run id or a unique prefix of it (8 characters, as `harness submissions` shows);
    returns the entry and the participant's selections after it. Refused after the end, for
    another participant's entry, a late or invalid one, or beyond the allowance."""
    now = now_utc()
    snap = Snapshot.read(board, comp)
    rules = snap.rules
    if rules.ended(now):
        end = rules.end
        assert end is not None
        raise RuleBroken(f"selections closed at the end of the competition ({stamp(end)})")
    run = find(snap.records, submission, comp.id)
    shown = printable(submission, limit=40)
    if run["participant"] not in snap.teams.members(participant):  # the team's are yours
        raise RuleBroken(f"submission {shown} is not yours ({printable(participant)})")
    if run["status"] != COMPLETE:
        raise RuleBroken(f"submission {shown} is invalid (status Error): it cannot be selected")
    rid = str(run["run_id"])

    def check() -> None:  # under the write lock: the allowance, counted from MLflow
        fresh = Snapshot.read(board, comp)
        mine = entries(fresh.records)
        ours = fresh.teams.members(participant)
        mine_ids = set(mine.loc[mine["participant"].isin(ours), "run_id"])
        chosen = fresh.selected() & mine_ids
        if selected and rid not in chosen and len(chosen) >= rules.selections:
            listed = ", ".join(sorted(c[:8] for c in chosen))
            raise RuleBroken(
                f"final selections: {len(chosen)} of {rules.selections} used ({listed}); "
                f"unselect one first (`harness select {comp.id} ID --unselect`)"
            )

    board.record_selection(
        comp, participant=participant, run_id=rid, selected=selected, under_lock=check
    )
    after = Snapshot.read(board, comp)
    mine = entries(after.records)
    ours = after.teams.members(participant)
    chosen = sorted(after.selected() & set(mine.loc[mine["participant"].isin(ours), "run_id"]))
    return {"run_id": rid, "selected": selected, "selections": chosen, "allowed": rules.selections}


def find(records: Any, submission: str, competition: str) -> Any:
    """The record of the one submission (not a selection event) that ``submission`` names: its
    run id or a unique prefix of 6 or more hex digits. Raises :class:`UnknownSubmission`."""
    text = submission.strip().lower()
    records = records[records["status"] != SELECTION]
    if len(text) < 6 or not all(c in "0123456789abcdef" for c in text):
        raise UnknownSubmission(
            f"'{printable(submission, limit=40)}' is not a submission id: give at least 6 hex "
            "digits of it, as `harness submissions` shows"
        )
    hits = records[records["run_id"].str.startswith(text)]
    if hits.empty:
        raise UnknownSubmission(f"no submission {text} in {competition}")
    if len(hits) > 1:
        raise UnknownSubmission(f"{len(hits)} submissions start with {text}: give more digits")
    return hits.iloc[0]


def reveal(board: Leaderboard, comp: Competition) -> dict[str, Any]:
    """End the competition now (if it has not ended) and compute every entry's private score
    from its artifact. Only the host, who holds the answers, can."""
    snap = Snapshot.read(board, comp)
    if snap.manifest is None:
        raise NotPrepared(comp.id, board.settings.home)
    now = now_utc()
    rules = snap.rules
    if not rules.ended(now):
        rules = board.set_rules(comp, dataclasses.replace(rules, revealed_at=now))
        snap = Snapshot.read(board, comp)
    try:
        graded = grade(snap)
    except HarnessError as exc:
        raise HarnessError(f"the competition ended, but grading failed: {exc}") from exc
    end = rules.end or now
    return {"ended_at": end.astimezone(dt.UTC), "graded": graded, "rules": rules}
