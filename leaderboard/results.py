"""What the board service answers (:mod:`leaderboard.service`): typed results that know their
JSON form (``as_dict``) and can be rebuilt from it (``from_dict``), so a local board and a
server's answer (:class:`harness.client.RemoteBoard`) hand every front door the same objects.

Light on purpose: the standard library and :mod:`harness.errors` only at import, so the hosted
participant's client imports neither MLflow nor pandas."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness.board.schema import LADDER_TAG

if TYPE_CHECKING:
    import pandas as pd
    from harness.board.rules import Rules

    from harness.competition import Competition


@dataclass(frozen=True)
class Viewer:
    """Who asks: a participant by name, the host (reads everyone's, sets rules), or anonymous
    (``name`` None, not host). The local CLI and notebook act as :data:`HOST`."""

    name: str | None = None
    is_host: bool = False


HOST = Viewer(None, True)


@dataclass(frozen=True)
class Entry:
    """One recorded submission."""

    run_id: str
    competition: str
    participant: str
    kind: str
    message: str
    submitted_at: int  # ms since the epoch (the MLflow run's start time)
    public_score: float
    private_score: float | None  # None: hidden until the competition ends
    extra: dict[str, float] = field(default_factory=dict)
    sha256: str = ""
    preparation: str = ""  # the sha256 of the answers it was scored on ("" unknown)
    late: bool = False  # submitted after the end: shown, never ranked
    tags: dict[str, str] = field(default_factory=dict)  # what the rules added (ladder)


@dataclass(frozen=True)
class SubmissionResult:
    entry: Entry
    rank: int | None  # the participant's public rank after this submission (None: late)
    participants: int
    best_public: float  # the participant's best public score so far (their ranked entry)
    left_today: int | None = None  # valid submissions left today (UTC); None: no limit
    daily_limit: int | None = None
    warnings: tuple[str, ...] = ()
    shown_score: float | None = None  # ladder mode: the score the ladder shows (else public)
    rules: Rules | None = None
    metric: str = ""  # the competition's metric and its direction, for as_dict
    direction: str = ""
    hidden_private: bool | None = None  # as the server said (None: ask the rules)
    #: where the score would have ranked on the competition's real final board (mle-bench's
    #: Kaggle leaderboard): "rank N of M on Kaggle's final leaderboard (private score)"
    reference_rank: str | None = None

    @property
    def public_score(self) -> float:
        return self.entry.public_score

    @property
    def late(self) -> bool:
        return self.entry.late

    @classmethod
    def from_dict(cls, got: Mapping[str, Any]) -> SubmissionResult:
        """The result a server sent (:meth:`as_dict`), as the notebook API returns it."""
        ladder = got.get("ladder")
        public = got["public_score"] if got["public_score"] is not None else got["shown_score"]
        entry = Entry(
            run_id=got["run_id"],
            competition=got["competition"],
            participant=got["participant"],
            kind="submission",
            message="",
            submitted_at=0,
            public_score=float(public),
            private_score=got["private_score"],
            extra=dict(got.get("extra_public") or {}),
            late=bool(got["late"]),
            tags={LADDER_TAG: ladder} if ladder else {},
        )
        return cls(
            entry=entry,
            rank=got["rank"],
            participants=got["participants"],
            best_public=got["best_public"],
            left_today=got["left_today"],
            daily_limit=got["daily_limit"],
            warnings=tuple(got["warnings"]),
            shown_score=got["shown_score"],
            metric=str(got.get("metric", "")),
            direction=str(got.get("direction", "")),
            hidden_private=got.get("hidden_private"),
            reference_rank=got.get("reference_rank"),
        )

    def as_dict(self, comp: Competition | None = None) -> dict[str, Any]:
        """What the participant may see, as JSON (the hosted API's answer, the CLI's input):
        no private score before the end; in ladder mode the shown score, not the raw one."""
        entry = self.entry
        ladder = self.shown_score is not None
        hidden = self.hidden_private
        if hidden is None:
            hidden = bool(self.rules and self.rules.hides_private())
        return {
            "id": entry.run_id[:8],
            "run_id": entry.run_id,
            "competition": comp.id if comp is not None else entry.competition,
            "participant": entry.participant,
            "metric": comp.metric.name if comp is not None else self.metric,
            "direction": comp.metric.direction if comp is not None else self.direction,
            "public_score": None if ladder else entry.public_score,
            "shown_score": self.shown_score,
            "ladder": entry.tags.get(LADDER_TAG),
            "extra_public": {}
            if ladder
            else {k: v for k, v in entry.extra.items() if k.endswith("_public")},
            "private_score": entry.private_score,
            "rank": self.rank,
            "participants": self.participants,
            "best_public": self.best_public,
            "left_today": self.left_today,
            "daily_limit": self.daily_limit,
            "late": entry.late,
            "hidden_private": hidden,
            "warnings": list(self.warnings),
            "reference_rank": self.reference_rank,
        }


# -- tables --------------------------------------------------------------------------------------

TIME_COLUMNS = ("submitted_at", "last")


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A frame as JSON records (times as ISO text): what a server sends, so a local and a
    hosted door print from the same form."""
    text = frame.to_json(orient="records", date_format="iso", double_precision=15)
    return list(json.loads(text))


@dataclass
class Table:
    """Rows under named columns, as a frame (the notebook's form) and as JSON records (the
    server's and the CLI's form); a server's table rebuilds the same frame."""

    columns: list[str]
    rows: list[dict[str, Any]]
    note: str = ""
    shakeup: dict[str, Any] | None = None
    local: Any = field(default=None, repr=False)  # the frame it was made from, where local

    @classmethod
    def of(cls, frame: pd.DataFrame, **more: Any) -> Any:
        return cls(
            columns=list(frame.columns),
            rows=records(frame),
            note=frame.attrs.get("note", ""),
            shakeup=frame.attrs.get("shakeup"),
            local=frame,
            **more,
        )

    @property
    def frame(self) -> pd.DataFrame:
        """The DataFrame the local call returns (a server's rows, times parsed)."""
        if self.local is not None:
            return self.local
        import pandas as pd

        frame = pd.DataFrame(self.rows, columns=self.columns)
        for column in TIME_COLUMNS:
            if column in frame:
                frame[column] = pd.to_datetime(frame[column], utc=True)
        frame.attrs["note"] = self.note
        if self.shakeup:
            frame.attrs["shakeup"] = self.shakeup
        return frame


@dataclass
class Standings(Table):
    """A leaderboard view: one row per participant."""

    competition: str = ""
    title: str = ""
    metric: str = ""
    direction: str = ""
    view: str = "public"

    def as_dict(self) -> dict[str, Any]:
        return {
            "competition": self.competition,
            "title": self.title,
            "metric": self.metric,
            "direction": self.direction,
            "view": self.view,
            "columns": self.columns,
            "rows": self.rows,
            "note": self.note,
            "shakeup": self.shakeup,
        }

    @classmethod
    def from_dict(cls, got: Mapping[str, Any]) -> Standings:
        return cls(
            columns=list(got["columns"]),
            rows=list(got["rows"]),
            note=got.get("note", ""),
            shakeup=got.get("shakeup"),
            competition=got.get("competition", ""),
            title=got.get("title", ""),
            metric=got.get("metric", ""),
            direction=got.get("direction", ""),
            view=got.get("view", "public"),
        )


@dataclass
class Submissions(Table):
    """A submissions list, oldest first."""

    def as_dict(self) -> dict[str, Any]:
        return {"columns": self.columns, "rows": self.rows}

    @classmethod
    def from_dict(cls, got: Mapping[str, Any]) -> Submissions:
        return cls(columns=list(got["columns"]), rows=list(got["rows"]))


@dataclass(frozen=True)
class Submission:
    """One submission's row of the list."""

    row: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.row)


# -- actions -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Selection:
    """A participant's final selections after selecting (or unselecting) ``run_id``."""

    run_id: str
    selected: bool
    selections: list[str]
    allowed: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "selected": self.selected,
            "selections": list(self.selections),
            "allowed": self.allowed,
        }

    @classmethod
    def from_dict(cls, got: Mapping[str, Any]) -> Selection:
        return cls(
            str(got["run_id"]), bool(got["selected"]), list(got["selections"]), got["allowed"]
        )


@dataclass(frozen=True)
class Revealed:
    """The end of a competition: when, and how many private scores were computed."""

    ended_at: dt.datetime
    graded: int
    rules: Rules | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"ended_at": self.ended_at.isoformat(), "graded": self.graded}

    @classmethod
    def from_dict(cls, got: Mapping[str, Any]) -> Revealed:
        return cls(dt.datetime.fromisoformat(str(got["ended_at"])), int(got["graded"]))


@dataclass(frozen=True)
class RulesView:
    """A competition's rules as every door shows them: the facts (``as_dict``) and the lines
    ``harness rules`` prints."""

    competition: str
    facts: dict[str, Any]
    lines: list[str]
    rules: Rules | None = None  # the rules themselves, where read locally
    # what a competition's heading shows (the pages), where read locally
    deadline: str | None = None  # as "2027-01-31 23:59 UTC"
    clock: str | None = None  # "ended …" after the end, else the time left (None: no deadline)
    private_open: bool = True
    ended: bool = False

    @classmethod
    def of(cls, competition: str, rules: Rules) -> RulesView:
        from harness.board.rules import now_utc, stamp, time_shown

        now = now_utc()
        return cls(
            competition,
            rules.as_dict(),
            rules.describe(competition, now),
            rules,
            deadline=None if rules.deadline is None else stamp(rules.deadline),
            clock=time_shown(rules, now),
            private_open=not rules.hides_private(now),
            ended=rules.ended(now),
        )

    def as_dict(self) -> dict[str, Any]:
        return {**self.facts, "lines": list(self.lines)}

    @classmethod
    def from_dict(cls, competition: str, got: Mapping[str, Any]) -> RulesView:
        facts = dict(got)
        lines = facts.pop("lines", [])
        return cls(competition, facts, list(lines))


@dataclass(frozen=True)
class Card:
    """A competition as the lists show it: what it is, its phase, how many took part, and,
    for a signed-in viewer, their rank and what is left today."""

    id: str
    title: str
    task: str
    metric: str
    direction: str
    rules: dict[str, Any]
    phase: str
    deadline: str | None
    time_left: str | None  # until the deadline ("passed" after it)
    clock: str | None  # what the pages show: "ended …" after the end, else time_left
    participants: int
    submissions: int
    daily_limit: int | None
    you: str | None = None
    rank: int | None = None
    of: int | None = None
    left_today: int | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "task": self.task,
            "metric": self.metric,
            "direction": self.direction,
            "rules": self.rules,
            "time_left": self.time_left,
            "participants": self.participants,
            "submissions": self.submissions,
        }
        if self.you is not None:
            out["you"] = self.you
        return out


@dataclass(frozen=True)
class CodeResult:
    """A code submission scored: the submission's result, the example run's log (shown in
    full) and the test run's runtime, rounded (its output is never shown)."""

    result: SubmissionResult
    example_log: str
    runtime: str
    code: str

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.result.as_dict(),
            "code": self.code,
            "runtime": self.runtime,
            "example_log": self.example_log,
        }

    @classmethod
    def from_dict(cls, got: Mapping[str, Any]) -> CodeResult:
        return cls(
            result=SubmissionResult.from_dict(got),
            example_log=str(got.get("example_log", "")),
            runtime=str(got.get("runtime", "")),
            code=str(got.get("code", "")),
        )


@dataclass(frozen=True)
class CodeQueued:
    """A code submission accepted into a hosted server's queue: its id and status."""

    submission: str
    status: str
    code: str
    competition: str
    queued = True

    def as_dict(self) -> dict[str, Any]:
        return {
            "submission": self.submission,
            "status": self.status,
            "code": self.code,
            "competition": self.competition,
        }

    @classmethod
    def from_dict(cls, got: Mapping[str, Any]) -> CodeQueued:
        return cls(
            str(got["submission"]), str(got["status"]), str(got["code"]), str(got["competition"])
        )


@dataclass(frozen=True)
class PublicFile:
    """A public file of a prepared competition, as its manifest lists it."""

    name: str
    sha256: str
    size: int | None
    path: Any = field(default=None, repr=False, compare=False)  # on the host only

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "sha256": self.sha256, "size": self.size}


@dataclass(frozen=True)
class Downloaded:
    """What ``download`` fetched: on the host, the publisher's raw data (``raw``: one archive
    or folder, ``where``, for ``prepare``); from a server, the hosted competition's public
    files into the folder ``where``, each checked against the sha256 of its manifest."""

    competition: str
    where: Any  # a pathlib.Path
    paths: tuple[Any, ...] = ()
    raw: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "competition": self.competition,
            "where": str(self.where),
            "raw": self.raw,
            "paths": [str(p) for p in self.paths],
        }

    def summary(self) -> str:
        if self.raw:
            return (
                f"{self.competition}: raw data in {self.where}; "
                f"`harness prepare {self.competition}` uses it."
            )
        names = ", ".join(p.name for p in self.paths)
        return (
            f"{self.competition}: {len(self.paths)} public files in {self.where} "
            f"(sha256 checked): {names}"
        )


@dataclass(frozen=True)
class Study:
    """A tuning study's parent run, as the baselines page lists it."""

    study: str
    model: str
    best: float | None
    trials: float | None
    status: str
    started: int
    seconds: float | None
    mlflow: str
    storage: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Studies:
    studies: list[Study]
    journal: str  # the default Optuna journal of the competition
    ui: bool  # whether `harness ui` shows the runs (a local store)

    def as_dict(self) -> dict[str, Any]:
        return {
            "studies": [s.as_dict() for s in self.studies],
            "journal": self.journal,
            "ui": self.ui,
        }
