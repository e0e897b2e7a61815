"""Teams, as Kaggle has them: a participant who joins no team is a team of one, so nothing
changes for them; a team owns the daily limit, the final selections and the board entry, and
the history keeps who submitted what (each run's ``harness.participant``).

A team is one tag of the competition's MLflow experiment, ``harness.team.<key>`` (see
:mod:`leaderboard.schema`), holding its JSON: name, members (in the order they joined), the
invitation code and the merge requests it has received. Stored beside the rules, it is read in
the same snapshot as the records, and every change is made under the store's write lock, the
one a submission's daily-limit check and its record take: a merge and a submission never slip
past each other (:func:`change`).

Kaggle's rules for merging (a join by invitation code is a merge of the joiner's team):

- the merged team has at most ``team_size`` members (the rules' cap; none by default);
- merges close at the merger deadline, and at the end of the competition;
- the merged teams' valid submissions together are at most the daily limit × the days the
  competition has run (counting today; the first day is the day its experiment was made);
- and, so that the team still owns one daily limit, those made today together are at most the
  daily limit.

A member may leave only a team that has made no valid submission (its entry is everyone's).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hmac
import json
import secrets
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from harness.board.schema import TEAM

from harness.errors import NotFound, RuleBroken, printable

if TYPE_CHECKING:
    import pandas as pd
    from harness.board.rules import Rules
    from harness.board.store import Leaderboard

    from harness.competition import Competition

__all__ = ["TEAM", "Team", "TeamView", "Teams"]

CODE_PREFIX = "team_"


@dataclasses.dataclass(frozen=True)
class Team:
    key: str  # the tag's suffix: 8 hex digits, never shown
    name: str
    members: tuple[str, ...]
    code: str  # the invitation code: whoever holds it may join
    created_at: str  # ISO
    requests: tuple[str, ...] = ()  # names of the teams asking to merge into this one

    @property
    def tag(self) -> str:
        return TEAM + self.key

    def as_json(self) -> str:
        return json.dumps(
            {
                "name": self.name,
                "members": list(self.members),
                "code": self.code,
                "created_at": self.created_at,
                "requests": list(self.requests),
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, key: str, text: str) -> Team:
        try:
            got = json.loads(text)
            return cls(
                key,
                str(got["name"]),
                tuple(str(m) for m in got["members"]),
                str(got["code"]),
                str(got.get("created_at", "")),
                tuple(str(r) for r in got.get("requests", ())),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise RuleBroken(f"the team tag {TEAM}{key} does not parse: {exc}") from exc


@dataclasses.dataclass(frozen=True)
class Teams:
    """Every team of one competition, as its experiment's tags hold them."""

    teams: tuple[Team, ...] = ()

    @classmethod
    def from_tags(cls, tags: Mapping[str, str]) -> Teams:
        found = [
            Team.from_json(name.removeprefix(TEAM), value)
            for name, value in tags.items()
            if name.startswith(TEAM) and value.strip()
        ]
        return cls(tuple(sorted(found, key=lambda t: t.name)))

    def of(self, participant: str) -> Team | None:
        for team in self.teams:
            if participant in team.members:
                return team
        return None

    def named(self, name: str) -> Team | None:
        for team in self.teams:
            if team.name == name:
                return team
        return None

    def with_code(self, code: str) -> Team | None:
        for team in self.teams:
            if hmac.compare_digest(team.code.encode(), code.encode()):
                return team
        return None

    def label(self, participant: str) -> str:
        """The name the board shows for ``participant``: their team's, else their own (with
        " (solo)" where a team has taken that name since: two entries never share a row)."""
        team = self.of(participant)
        if team is not None:
            return team.name
        return f"{participant} (solo)" if self.named(participant) is not None else participant

    def members(self, participant: str) -> tuple[str, ...]:
        """Whose submissions count as ``participant``'s team's (themselves when solo)."""
        team = self.of(participant)
        return (participant,) if team is None else team.members

    def labelled(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Entries with ``participant`` as the board groups them (the team) and ``submitter``
        (who submitted each)."""
        out = frame.copy()
        out["submitter"] = out["participant"]
        if self.teams and len(out):
            names = {p: self.label(p) for p in set(out["participant"])}
            out["participant"] = [names[p] for p in out["participant"]]
        return out

    def listed(self) -> dict[str, str]:
        """Each team's name → its members, as the board shows them ("ann, bob")."""
        return {t.name: ", ".join(t.members) for t in self.teams}


@dataclasses.dataclass(frozen=True)
class TeamView:
    """A team as the doors show it; ``code`` only to its members and the host."""

    competition: str
    name: str
    members: list[str]
    code: str | None = None
    requests: list[str] = dataclasses.field(default_factory=list)
    solo: bool = False  # a participant in no team: a team of one

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, got: Mapping[str, Any]) -> TeamView:
        return cls(
            str(got["competition"]),
            str(got["name"]),
            [str(m) for m in got.get("members", [])],
            got.get("code"),
            [str(r) for r in got.get("requests", [])],
            bool(got.get("solo", False)),
        )

    @classmethod
    def of(cls, competition: str, team: Team, *, secret: bool) -> TeamView:
        return cls(
            competition,
            team.name,
            list(team.members),
            team.code if secret else None,
            list(team.requests),
        )


# -- the actions (each under the write lock) ----------------------------------------------------

Change = Callable[["Locked"], Iterable[Team | tuple[str, str]]]


@dataclasses.dataclass
class Locked:
    """What a team action sees under the write lock: the teams and rules as stored now, the
    day the competition started, and its submissions counted from MLflow."""

    board: Leaderboard
    comp: Competition
    client: Any
    experiment: str
    teams: Teams
    rules: Rules
    started: dt.datetime
    now: dt.datetime

    def count(self, members: Iterable[str], *, today: bool = False) -> int:
        from harness.board.rules import day_start

        since = day_start(self.now) if today else dt.datetime.fromtimestamp(0, dt.UTC)
        return sum(
            self.board.count_since(self.comp, m, since, self.client, self.experiment)
            for m in members
        )

    def has_submitted(self, name: str) -> bool:
        """Whether ``name`` has any run here (a participant's name a team may not take)."""
        return self.count([name]) > 0


def change(board: Leaderboard, comp: Competition, action: Change) -> Teams:
    """Run ``action`` under the store's write lock on the teams as stored now; write the teams
    (and ``(key, "")`` removals) it returns; return the teams after."""
    from harness.board.rules import Rules, now_utc

    def under_lock(client: Any, experiment: str) -> dict[str, str]:
        found = client.get_experiment(experiment)
        tags = dict(found.tags)
        now = now_utc()  # an experiment made before MLflow kept its time: it starts today
        made = found.creation_time
        started = now if made is None else dt.datetime.fromtimestamp(made / 1000, dt.UTC)
        locked = Locked(
            board,
            comp,
            client,
            experiment,
            Teams.from_tags(tags),
            Rules.from_tags(tags),
            started,
            now,
        )
        out: dict[str, str] = {}
        for item in action(locked):
            if isinstance(item, Team):
                out[item.tag] = item.as_json()
            else:
                out[TEAM + item[0]] = item[1]
        return out

    return Teams.from_tags(board.update_tags(comp, under_lock))


def create(board: Leaderboard, comp: Competition, participant: str, name: str) -> Team:
    """Make a team named ``name`` (checked by the caller as a participant's name is: see
    :meth:`leaderboard.service.Board.create_team`) with ``participant`` as its first member."""
    made: list[Team] = []

    def action(now: Locked) -> list[Team]:
        mine = now.teams.of(participant)
        if mine is not None:
            raise RuleBroken(
                f"you are in team {mine.name} already: leave it first (a participant is in "
                "one team per competition)"
            )
        if now.teams.named(name) is not None:
            raise RuleBroken(f"a team named {name} exists in {comp.id}: choose another name")
        if name != participant and now.has_submitted(name):
            raise RuleBroken(f"{name} is a participant's name in {comp.id}: choose another name")
        if now.rules.ended(now.now):
            raise RuleBroken(f"teams are closed: {comp.id} has ended")
        team = Team(
            secrets.token_hex(4),
            name,
            (participant,),
            new_code(),
            now.now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        made.append(team)
        return [team]

    change(board, comp, action)
    return made[0]


def renew_code(board: Leaderboard, comp: Competition, participant: str) -> Team:
    """A new invitation code for ``participant``'s team (the old one stops working)."""
    made: list[Team] = []

    def action(now: Locked) -> list[Team]:
        team = _own(now.teams, participant, comp)
        made.append(dataclasses.replace(team, code=new_code()))
        return made

    change(board, comp, action)
    return made[0]


def join(board: Leaderboard, comp: Competition, participant: str, code: str) -> Team:
    """``participant``'s team (or ``participant`` alone) merges into the team whose invitation
    code ``code`` is, under the merge rules."""
    made: list[Team] = []

    def action(now: Locked) -> list[Team | tuple[str, str]]:
        target = now.teams.with_code(code.strip())
        if target is None:
            raise NotFound(f"no team in {comp.id} has this invitation code: ask its members")
        mine = now.teams.of(participant)
        if mine is not None and mine.key == target.key:
            raise RuleBroken(f"you are in team {target.name} already")
        joining = mine.members if mine is not None else (participant,)
        label = mine.name if mine is not None else participant
        return _merged(now, target, label, joining, mine, made)

    change(board, comp, action)
    return made[0]


def request_merge(board: Leaderboard, comp: Competition, participant: str, into: str) -> Team:
    """Ask the team named ``into`` to take ``participant``'s team in (its members accept)."""
    made: list[Team] = []

    def action(now: Locked) -> list[Team]:
        mine = now.teams.of(participant)
        if mine is None:
            raise RuleBroken(
                "you are in no team: make one first (`harness team create`), or join with a "
                "team's invitation code"
            )
        target = _named(now.teams, into, comp)
        if target.key == mine.key:
            raise RuleBroken(f"team {into} is your own")
        refusal = merge_refusal(now, target, mine.name, mine.members)
        if refusal:
            raise RuleBroken(refusal)
        if mine.name not in target.requests:
            target = dataclasses.replace(target, requests=(*target.requests, mine.name))
        made.append(target)
        return [target]

    change(board, comp, action)
    return made[0]


def accept_merge(board: Leaderboard, comp: Competition, participant: str, other: str) -> Team:
    """``participant``'s team takes in the team named ``other``, which asked to merge."""
    made: list[Team] = []

    def action(now: Locked) -> list[Team | tuple[str, str]]:
        mine = _own(now.teams, participant, comp)
        if other not in mine.requests:
            raise RuleBroken(f"team {other} has not asked to merge into {mine.name}")
        joining = now.teams.named(other)
        if joining is None:  # merged elsewhere meanwhile
            kept = dataclasses.replace(
                mine, requests=tuple(r for r in mine.requests if r != other)
            )
            return [kept]
        return _merged(now, mine, joining.name, joining.members, joining, made)

    change(board, comp, action)
    return made[0]


def leave(board: Leaderboard, comp: Competition, participant: str) -> Team | None:
    """``participant`` leaves their team (refused once the team has submitted); the team
    after, None where it is gone (its last member left)."""
    made: list[Team | None] = []

    def action(now: Locked) -> list[Team | tuple[str, str]]:
        mine = _own(now.teams, participant, comp)
        used = now.count(mine.members)
        if used:
            raise RuleBroken(
                f"team {mine.name} has made {used} valid submission{'s' if used != 1 else ''}: "
                "a member cannot leave a team that has submitted (its entry is everyone's)"
            )
        rest = tuple(m for m in mine.members if m != participant)
        if not rest:
            made.append(None)
            return [(mine.key, "")]
        kept = dataclasses.replace(mine, members=rest)
        made.append(kept)
        return [kept]

    change(board, comp, action)
    return made[0]


# -- the rules ------------------------------------------------------------------------------------


def merge_refusal(now: Locked, into: Team, joining: str, members: tuple[str, ...]) -> str | None:
    """Why ``members`` (the team or participant ``joining``) may not merge into ``into`` now,
    with the rule and the numbers; None where they may."""
    from harness.board.rules import day_start

    rules = now.rules
    closed = rules.merges_closed(now.now)
    if closed:
        return closed
    size = len(into.members) + len(members)
    if rules.team_size is not None and size > rules.team_size:
        return (
            f"a team has at most {rules.team_size} member{'s' if rules.team_size != 1 else ''}: "
            f"{into.name} has {len(into.members)} and {joining} {len(members)} ({size} together)"
        )
    limit = rules.daily_limit
    if limit is None:
        return None
    ours, theirs = now.count(into.members, today=True), now.count(members, today=True)
    if ours + theirs > limit:
        return (
            f"a team has {limit} submission{'s' if limit != 1 else ''} a day: {into.name} made "
            f"{ours} today and {joining} {theirs} ({ours + theirs} together)"
        )
    days = (day_start(now.now) - day_start(now.started)).days + 1
    allowed = limit * days
    ours, theirs = now.count(into.members), now.count(members)
    if ours + theirs > allowed:
        return (
            f"merged teams may have at most daily limit × days run = {limit} × {days} = "
            f"{allowed} valid submissions together; {into.name} has {ours} and {joining} "
            f"{theirs} ({ours + theirs})"
        )
    return None


def _merged(
    now: Locked,
    into: Team,
    label: str,
    members: tuple[str, ...],
    joining: Team | None,
    made: list[Team],
) -> list[Team | tuple[str, str]]:
    refusal = merge_refusal(now, into, label, members)
    if refusal:
        raise RuleBroken(refusal)
    gone = {label} if joining is not None else set()
    merged = dataclasses.replace(
        into,
        members=(*into.members, *(m for m in members if m not in into.members)),
        requests=tuple(r for r in into.requests if r not in gone),
    )
    made.append(merged)
    out: list[Team | tuple[str, str]] = [merged]
    if joining is not None:
        out.append((joining.key, ""))
    for other in now.teams.teams:  # requests from the team that is gone
        if other.key not in (into.key, joining.key if joining else "") and label in other.requests:
            out.append(
                dataclasses.replace(other, requests=tuple(r for r in other.requests if r != label))
            )
    return out


def _own(teams: Teams, participant: str, comp: Competition) -> Team:
    team = teams.of(participant)
    if team is None:
        raise RuleBroken(f"you are in no team in {comp.id} (a team of one)")
    return team


def _named(teams: Teams, name: str, comp: Competition) -> Team:
    team = teams.named(name)
    if team is None:
        raise NotFound(f"no team named {printable(name, limit=80)} in {comp.id}")
    return team


def new_code() -> str:
    return CODE_PREFIX + secrets.token_urlsafe(12)
