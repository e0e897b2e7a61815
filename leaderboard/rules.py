"""A competition's rules, as Kaggle has them: a daily submission limit, a deadline (or an end
called by the host, :func:`~leaderboard.store.Leaderboard.reveal`), the number of final
selections, and ladder mode. Stored as tags of the competition's MLflow experiment, so a team's
tracking server and a laptop read the same rules.

The defaults keep a learner alone where they were: no limit, no deadline, so no end, and the
private board open to read (a *practice* competition, like Kaggle's after the end). A
competition with a deadline *runs* until it: the private score is neither computed nor shown
before the end; from the end on, submissions are still scored but are *late* (shown, never
ranked), as on Kaggle.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Mapping

from harness.board.schema import GRADED_TAG, KEEP, REVEALED_TAG, RULE

from harness.errors import RuleBroken, printable

__all__ = ["GRADED_TAG", "KEEP", "REVEALED_TAG", "RULE", "Rules"]

DEFAULT_SELECTIONS = 2  # Kaggle's usual allowance of final submissions
DEFAULT_TIME_LIMIT = 600  # seconds a code submission may run on the test (Codabench's default)
DEFAULT_MEMORY = 4 << 30  # bytes of address space a code submission's processes may each use
UTC = dt.UTC


def clock() -> float:
    """Seconds since the epoch: the one clock every rule reads (tests replace it)."""
    return time.time()


def now_utc() -> dt.datetime:
    return dt.datetime.fromtimestamp(clock(), UTC)


@dataclasses.dataclass(frozen=True)
class Rules:
    daily_limit: int | None = None  # valid submissions per participant per UTC day
    deadline: dt.datetime | None = None  # UTC
    selections: int = DEFAULT_SELECTIONS
    ladder: bool = False
    revealed_at: dt.datetime | None = None
    team_size: int | None = None  # members per team (None: no cap); solo is a team of one
    merger_deadline: dt.datetime | None = None  # UTC; teams merge (or take members) until it
    code_only: bool = False  # a code competition: submissions are scripts or notebooks
    time_limit: int = DEFAULT_TIME_LIMIT  # seconds a code submission may run on the test
    memory: int = DEFAULT_MEMORY  # bytes of address space per process of a code submission

    # -- the competition's phase ---------------------------------------------------------

    @property
    def end(self) -> dt.datetime | None:
        """When the competition ends or ended: the reveal, else the deadline."""
        ends = [t for t in (self.revealed_at, self.deadline) if t is not None]
        return min(ends) if ends else None

    def ended(self, now: dt.datetime | None = None) -> bool:
        end = self.end
        return end is not None and (now or now_utc()) >= end

    def hides_private(self, now: dt.datetime | None = None) -> bool:
        """Private scores are neither computed nor shown: a deadline is set and not reached."""
        return self.deadline is not None and not self.ended(now)

    def phase(self, now: dt.datetime | None = None) -> str:
        if self.ended(now):
            return "ended"
        return "running" if self.deadline is not None else "practice"

    def left_today(self, used: int) -> int | None:
        """Valid submissions left today (UTC) after ``used``; None where there is no limit."""
        return None if self.daily_limit is None else max(self.daily_limit - used, 0)

    # -- messages --------------------------------------------------------------------------

    def private_refusal(self, competition: str, now: dt.datetime | None = None) -> str:
        assert self.deadline is not None
        return (
            f"the private leaderboard of {competition} is hidden until the competition ends "
            f"(deadline {stamp(self.deadline)}, {until(self.deadline, now)}); the host can end "
            f"it now with `harness reveal {competition}`"
        )

    def describe(self, competition: str, now: dt.datetime | None = None) -> list[str]:
        now = now or now_utc()
        limit = "none" if self.daily_limit is None else f"{self.daily_limit} per UTC day"
        deadline = "none" if self.deadline is None else stamp(self.deadline)
        if self.deadline is not None and not self.ended(now):
            deadline += f" ({until(self.deadline, now)})"
        lines = [
            f"{competition} rules",
            f"  daily limit      {limit} (valid submissions per team; errors do not count)",
            f"  deadline         {deadline}",
            f"  final selections {self.selections} per team "
            "(none chosen: the best by public score)",
            f"  ladder           {'on' if self.ladder else 'off'}",
            f"  code only        {'yes' if self.code_only else 'no'} (code submissions: "
            f"{duration(self.time_limit)} on the test, {size(self.memory)} of memory, "
            "no internet)",
        ]
        if self.revealed_at is not None:
            lines.append(f"  revealed         {stamp(self.revealed_at)}")
        phase = self.phase(now)
        cap = "no cap" if self.team_size is None else f"at most {self.team_size} members"
        merger = "the end" if self.merger_deadline is None else stamp(self.merger_deadline)
        lines.append(f"  teams            {cap}; merges until {merger}")
        lines.append(
            f"  phase            {phase}: "
            + {
                "practice": "no deadline; public and private boards open",
                "running": "private scores hidden until the end",
                "ended": "private board open; new submissions are late (never ranked)",
            }[phase]
        )
        return lines

    def as_dict(self) -> dict[str, object]:
        return {
            "daily_limit": self.daily_limit,
            "deadline": None if self.deadline is None else stamp(self.deadline, iso=True),
            "selections": self.selections,
            "ladder": self.ladder,
            "code_only": self.code_only,
            "time_limit": self.time_limit,
            "memory": self.memory,
            "revealed_at": None if self.revealed_at is None else stamp(self.revealed_at, iso=True),
            "phase": self.phase(),
            "team_size": self.team_size,
            "merger_deadline": None
            if self.merger_deadline is None
            else stamp(self.merger_deadline, iso=True),
        }

    # -- stored form -----------------------------------------------------------------------

    def tags(self) -> dict[str, str]:
        """The experiment tags that store these rules ("" for unset)."""
        return {
            f"{RULE}daily_limit": "" if self.daily_limit is None else str(self.daily_limit),
            f"{RULE}deadline": "" if self.deadline is None else stamp(self.deadline, iso=True),
            f"{RULE}selections": str(self.selections),
            f"{RULE}ladder": "true" if self.ladder else "false",
            f"{RULE}code_only": "true" if self.code_only else "false",
            f"{RULE}time_limit": str(self.time_limit),
            f"{RULE}memory": str(self.memory),
            REVEALED_TAG: "" if self.revealed_at is None else stamp(self.revealed_at, iso=True),
            f"{RULE}team_size": "" if self.team_size is None else str(self.team_size),
            f"{RULE}merger_deadline": ""
            if self.merger_deadline is None
            else stamp(self.merger_deadline, iso=True),
        }

    @classmethod
    def from_tags(cls, tags: Mapping[str, str]) -> Rules:
        """Rules from experiment tags; a tag that does not parse (a hand edit) is an error that
        names it, never a silent default."""

        def get(name: str) -> str:
            return tags.get(name, "").strip()

        try:
            limit = get(f"{RULE}daily_limit")
            selections = get(f"{RULE}selections")
            size, merger = get(f"{RULE}team_size"), get(f"{RULE}merger_deadline")
            time_limit, memory = get(f"{RULE}time_limit"), get(f"{RULE}memory")
            return cls(
                daily_limit=int(limit) if limit else None,
                deadline=parse_time(get(f"{RULE}deadline")) if get(f"{RULE}deadline") else None,
                selections=int(selections) if selections else DEFAULT_SELECTIONS,
                ladder=get(f"{RULE}ladder") == "true",
                revealed_at=parse_time(get(REVEALED_TAG)) if get(REVEALED_TAG) else None,
                team_size=int(size) if size else None,
                merger_deadline=parse_time(merger) if merger else None,
                code_only=get(f"{RULE}code_only") == "true",
                time_limit=int(time_limit) if time_limit else DEFAULT_TIME_LIMIT,
                memory=int(memory) if memory else DEFAULT_MEMORY,
            )
        except ValueError as exc:
            raise RuleBroken(f"the competition's rule tags do not parse: {exc}") from exc

    def changed(
        self,
        *,
        daily_limit: int | str | None = KEEP,
        deadline: dt.datetime | str | None = KEEP,
        selections: int | None = None,
        ladder: bool | None = None,
        team_size: int | str | None = KEEP,
        merger_deadline: dt.datetime | str | None = KEEP,
        code_only: bool | None = None,
        time_limit: int | str | None = None,
        memory: int | str | None = None,
    ) -> Rules:
        """These rules with some changed (:data:`KEEP` leaves one as it is; None clears a limit
        or a deadline). Checks the values."""
        out = self
        if daily_limit != KEEP:
            if daily_limit is not None and (not isinstance(daily_limit, int) or daily_limit < 1):
                raise RuleBroken(f"the daily limit must be a whole number ≥ 1, got {daily_limit}")
            out = dataclasses.replace(out, daily_limit=daily_limit)  # type: ignore[arg-type]
        if deadline != KEEP:
            if isinstance(deadline, str):
                deadline = parse_time(deadline)
            out = dataclasses.replace(out, deadline=deadline)
        if selections is not None:
            if selections < 1:
                raise RuleBroken(f"final selections must be ≥ 1, got {selections}")
            out = dataclasses.replace(out, selections=selections)
        if ladder is not None:
            out = dataclasses.replace(out, ladder=ladder)
        if team_size != KEEP:
            if team_size is not None and (not isinstance(team_size, int) or team_size < 1):
                raise RuleBroken(f"the team size must be a whole number ≥ 1, got {team_size}")
            out = dataclasses.replace(out, team_size=team_size)  # type: ignore[arg-type]
        if merger_deadline != KEEP:
            if isinstance(merger_deadline, str):
                merger_deadline = parse_time(merger_deadline)
            out = dataclasses.replace(out, merger_deadline=merger_deadline)
        if code_only is not None:
            out = dataclasses.replace(out, code_only=code_only)
        if time_limit is not None:
            seconds = parse_duration(time_limit) if isinstance(time_limit, str) else time_limit
            if not 1 <= seconds <= 24 * 3600:
                raise RuleBroken(f"the time limit must be 1 s to 24 h, got {seconds} s")
            out = dataclasses.replace(out, time_limit=seconds)
        if memory is not None:
            bytes_ = parse_size(memory) if isinstance(memory, str) else memory
            if not 256 << 20 <= bytes_ <= 1 << 40:
                raise RuleBroken(f"the memory limit must be 256M to 1T, got {size(bytes_)}")
            out = dataclasses.replace(out, memory=bytes_)
        return out

    def merges_closed(self, now: dt.datetime | None = None) -> str | None:
        """Why teams can no longer merge or take members now (the end, the merger deadline),
        else None."""
        now = now or now_utc()
        if self.ended(now) and self.end is not None:
            return f"teams are closed: the competition ended {stamp(self.end)}"
        if self.merger_deadline is not None and now >= self.merger_deadline:
            return (
                f"the merger deadline passed ({stamp(self.merger_deadline)}): teams can no "
                "longer merge or take members"
            )
        return None


_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600}
_SIZES = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_duration(text: str) -> int:
    """Seconds from ``90``, ``90s``, ``10m``, ``10min`` or ``2h``; RuleBroken otherwise."""
    value = text.strip().lower()
    number = value.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = value[len(number) :] or "s"
    try:
        if unit not in _UNITS:
            raise ValueError
        return round(float(number) * _UNITS[unit])
    except ValueError:
        raise RuleBroken(
            f"'{printable(text, limit=40)}' is not a duration: expected e.g. 90s, 10m or 2h"
        ) from None


def parse_size(text: str) -> int:
    """Bytes from ``4G``, ``512M``, ``4GiB`` or a number of bytes; RuleBroken otherwise."""
    value = text.strip().lower().removesuffix("ib").removesuffix("b")
    number = value.rstrip("kmgt")
    unit = value[len(number) :]
    try:
        if unit not in _SIZES:
            raise ValueError
        return round(float(number) * _SIZES[unit])
    except ValueError:
        raise RuleBroken(
            f"'{printable(text, limit=40)}' is not a size: expected e.g. 512M or 4G"
        ) from None


def duration(seconds: float) -> str:
    if seconds % 3600 == 0:
        return f"{int(seconds // 3600)} h"
    if seconds % 60 == 0:
        return f"{int(seconds // 60)} min"
    return f"{int(seconds)} s"


def size(n: int) -> str:
    for unit, factor in (("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20)):
        if n >= factor:
            return f"{n / factor:g}{unit}"
    return f"{n} B"


def parse_time(text: str) -> dt.datetime:
    """A UTC time from ``2027-01-31T23:59Z``, ``2027-01-31 23:59``, ``2027-01-31`` (the end of
    that day is not implied: midnight at its start) or with an offset; naive means UTC."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"'{text}' is not a time: expected ISO 8601 such as 2027-01-31T23:59Z"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def stamp(when: dt.datetime, *, iso: bool = False) -> str:
    when = when.astimezone(UTC)
    if iso:
        return when.strftime("%Y-%m-%dT%H:%M:%SZ")
    return when.strftime("%Y-%m-%d %H:%M UTC")


def until(when: dt.datetime, now: dt.datetime | None = None) -> str:
    """'in 3 d 4 h', 'in 5 min', or 'passed'."""
    seconds = (when - (now or now_utc())).total_seconds()
    if seconds <= 0:
        return "passed"
    minutes = int(seconds // 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"in {days} d {hours} h"
    if hours:
        return f"in {hours} h {mins} min"
    return f"in {max(mins, 1)} min"


def day_start(now: dt.datetime) -> dt.datetime:
    """Midnight UTC starting ``now``'s day: the daily limit's window."""
    now = now.astimezone(UTC)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def limit_message(used: int, limit: int, now: dt.datetime) -> str:
    nxt = day_start(now) + dt.timedelta(days=1)
    return (
        f"daily limit reached: {used} of {limit} used today (UTC), next at 00:00Z "
        f"({until(nxt, now)})"
    )


def time_shown(rules: Rules, now: dt.datetime) -> str | None:
    """What the pages show of the time: "ended …" after the end, else the time left."""
    if rules.ended(now) and rules.end is not None:
        return f"ended {stamp(rules.end)}"
    return None if rules.deadline is None else until(rules.deadline, now)
