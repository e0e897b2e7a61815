"""The hall: one board service per competition, the only part of the leaderboard the front
doors call (the notebook API, the CLI, the HTTP API and the pages; see DESIGN.md, "The hall").

:class:`Board` holds every rule a door would otherwise hold (who may read what, what is left
today, how a submission id is matched, what a competition's card says) and answers with the
typed results of :mod:`leaderboard.results`, which know their JSON form. Its remote twin,
:class:`harness.client.RemoteBoard`, has the same methods over HTTP and answers with the same
types; a door picks one of the two once and calls one method per action.

Light at import (the results and the errors only): what a method needs it imports inside, so
the hosted participant's client, which imports this module for the result types, stays light.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.board.results import (
    HOST,
    Card,
    CodeQueued,
    CodeResult,
    Downloaded,
    Entry,
    PublicFile,
    Revealed,
    RulesView,
    Selection,
    Standings,
    Studies,
    Study,
    Submission,
    SubmissionResult,
    Submissions,
    Table,
    Viewer,
    records,
)
from harness.board.rules import time_shown
from harness.board.schema import KEEP
from harness.board.teams import TeamView

from harness.errors import Forbidden, HarnessError, NotFound

if TYPE_CHECKING:
    from harness.board.store import Leaderboard

    from harness.competition import Competition
    from harness.settings import Settings

__all__ = [
    "HOST",
    "KEEP",
    "Board",
    "Card",
    "CodeQueued",
    "CodeResult",
    "Downloaded",
    "Entry",
    "PublicFile",
    "Revealed",
    "RulesView",
    "Selection",
    "Standings",
    "Studies",
    "Study",
    "Submission",
    "SubmissionResult",
    "Submissions",
    "Table",
    "TeamView",
    "Viewer",
    "check_participant",
    "hosted",
    "records",
    "recover_code_queue",
    "run_code_jobs",
    "run_code_workers",
    "verify",
    "verify_summary",
]


class Board:
    """One competition's board on the local store (``settings``: the home and the tracking
    URI). Every method is one action of a front door."""

    def __init__(self, comp: Competition | str, settings: Settings) -> None:
        if isinstance(comp, str):
            from harness.registry import get_competition

            comp = get_competition(comp, settings.home)
        self.comp = comp
        self.settings = settings
        self._store: Leaderboard | None = None

    @property
    def id(self) -> str:
        return self.comp.id

    @property
    def where(self) -> str:
        """The store it reads (for a message that finds nothing there)."""
        return self.settings.tracking_uri

    @property
    def store(self) -> Leaderboard:
        if self._store is None:
            from harness.board.store import Leaderboard

            self._store = Leaderboard(self.settings)
        return self._store

    # -- reading ---------------------------------------------------------------------------

    def card(self, viewer: Viewer | None = None, *, standing: bool = False) -> Card:
        """What the competition lists show of it; with ``standing``, the signed-in viewer's
        rank and what they have left today too."""
        from harness.board.board import Snapshot
        from harness.board.index import entries
        from harness.board.rules import now_utc, stamp, until

        comp, now = self.comp, now_utc()
        snap = Snapshot.read(self.store, comp)
        scored = entries(snap.records)
        rules = snap.rules
        name = None if viewer is None else viewer.name
        rank = of = left = None
        if standing and name is not None:
            table = self.standings(stats=False).frame
            mine = table[table["participant"] == snap.teams.label(name)]
            rank = int(mine["rank"].iloc[0]) if len(mine) else None
            of = len(table)
            left = self.left_today(name)
        return Card(
            id=comp.id,
            title=comp.title,
            task=comp.task.value,
            metric=comp.metric.name,
            direction=comp.metric.direction,
            rules=rules.as_dict(),
            phase=rules.phase(now),
            deadline=None if rules.deadline is None else stamp(rules.deadline),
            time_left=None if rules.deadline is None else until(rules.deadline, now),
            clock=time_shown(rules, now),
            # entries on the board: a team counts once (a participant in no team is one)
            participants=int(snap.teams.labelled(scored)["participant"].nunique())
            if len(scored)
            else 0,
            submissions=len(scored),
            daily_limit=rules.daily_limit,
            you=name,
            rank=rank,
            of=of,
            left_today=left,
        )

    def left_today(self, participant: str) -> int | None:
        """Valid submissions ``participant``'s team has left today (UTC), counted in MLflow;
        None where there is no daily limit."""
        from harness.board.rules import day_start, now_utc

        rules = self.store.rules(self.comp)
        if rules.daily_limit is None:
            return None
        since = day_start(now_utc())
        members = self.store.teams(self.comp).members(participant)  # the team's limit
        used = sum(self.store.count_since(self.comp, m, since) for m in members)
        return rules.left_today(used)

    def standings(
        self, *, private: bool = False, all_preparations: bool = False, stats: bool = True
    ) -> Standings:
        """The public board, or the private one after the end (RuleBroken before it)."""
        from harness.board.board import standings

        comp = self.comp
        frame = standings(
            self.store, comp, private=private, all_preparations=all_preparations, stats=stats
        )
        return Standings.of(
            frame,
            competition=comp.id,
            title=comp.title,
            metric=comp.metric.name,
            direction=comp.metric.direction,
            view="private" if private else "public",
        )

    def submissions(self, participant: str | None = None, viewer: Viewer = HOST) -> Submissions:
        """The submissions list, oldest first: everyone's (or ``participant``'s) for the host,
        only their own for a participant."""
        from harness.board.board import submissions

        whose = _whose(participant, viewer)
        return Submissions.of(_with_jobs(submissions(self.store, self.comp, whose), self, whose))

    def submission(self, submission: str, viewer: Viewer = HOST) -> Submission:
        """One submission's row, named by its id or 6+ leading hex digits of it; a participant
        reads only their own."""
        from harness.board.board import submissions
        from harness.board.referee import find

        listing = _with_jobs(submissions(self.store, self.comp), self, None)
        job = _job_run(self, submission)  # a queued submission's id, once it became a run
        found = find(listing, job or submission, self.comp.id)
        row = Submissions.of(listing.loc[[found.name]]).rows[0]
        if not viewer.is_host and row["participant"] != viewer.name:
            raise Forbidden(f"submission {submission[:40]} is not yours")
        return Submission(row)

    def rules(self) -> RulesView:
        return RulesView.of(self.comp.id, self.store.rules(self.comp))

    def studies(self) -> Studies:
        """The tuning studies recorded beside the submissions (their parent runs)."""
        from harness.board.runs import studies

        found = studies(self.store, self.comp)
        return Studies(
            [Study(**s) for s in found],
            journal=str(self.settings.optuna_journal(self.comp.id)),
            ui=self.settings.tracking_uri.startswith("sqlite:"),
        )

    def public_files(self) -> list[PublicFile]:
        """The public files the manifest lists (never anything under ``private/``)."""
        from harness.data.preparation import read_manifest

        manifest = read_manifest(self.comp, self.settings)
        out = []
        for key, sha in sorted(manifest["files"].items()):
            if not key.startswith("public/"):
                continue
            name = key.removeprefix("public/")
            path = self.settings.public_dir(self.comp.id) / name
            size = path.stat().st_size if path.exists() else None
            out.append(PublicFile(name, sha, size, path))
        if self.store.rules(self.comp).code_only:  # the test's features stay on the host
            from harness.board.code import example_files

            from harness.files import sha256_file

            examples = example_files(self.comp, self.settings)
            out = [
                PublicFile(f.name, sha256_file(p), p.stat().st_size, p)
                if (p := examples.get(f.name)) is not None
                else f
                for f in out
            ]
        return out

    def description(self) -> str:
        """The competition's description (Markdown): the prepared ``description.md``, else the
        declaration's."""
        from harness.data.preparation import DESCRIPTION

        prepared = self.settings.public_dir(self.comp.id) / DESCRIPTION
        if prepared.is_file():
            return prepared.read_text(encoding="utf-8")
        return self.comp.description

    def public_file(self, name: str) -> PublicFile:
        """One public file by its manifest name (never a path); NotFound otherwise."""
        for listed in self.public_files():
            if listed.name == name:
                return listed
        raise NotFound(f"no public file '{name[:80]}' in {self.comp.id}")

    def download(
        self,
        into: Path | None = None,
        *,
        force: bool = False,
        url: str | None = None,
        progress: Callable[[int, int | None], None] | None = None,
    ) -> Downloaded:
        """The data to work from. On the host it is the publisher's raw data (the official URL
        or ``url``, a mirror with the same checksum; resumable), which ``prepare`` reads; a
        hosted board (:class:`harness.client.RemoteBoard`) gives its public files instead."""
        from harness.data.sources import download

        if into is not None:
            raise HarnessError(
                f"{self.comp.id}: the raw data goes to the home's raw folder, not to {into}; "
                "a folder for the files is for a hosted competition (--server)"
            )
        got = download(self.comp, self.settings, force=force, url=url, progress=progress)
        return Downloaded(self.comp.id, got, (got,), raw=True)

    # -- writing ---------------------------------------------------------------------------

    def submit(
        self,
        predictions: Any,
        *,
        participant: str,
        message: str = "",
        cv: float | None = None,
        kind: str = "submission",
        params: Mapping[str, Any] | None = None,
        metrics: Mapping[str, float] | None = None,
        tags: Mapping[str, str] | None = None,
        artifacts: Sequence[Path] = (),
        display_name: str | None = None,
    ) -> SubmissionResult:
        """Validate, score and record (:func:`leaderboard.submit.submit`)."""
        from harness.board.submit import submit

        return submit(
            self.comp,
            self.settings,
            predictions,
            participant=participant,
            message=message,
            kind=kind,
            params=params,
            metrics=metrics,
            tags=tags,
            artifacts=artifacts,
            cv=cv,
            display_name=display_name,
        )

    def submit_code(
        self,
        code: Path,
        *,
        participant: str,
        message: str = "",
        display_name: str | None = None,
        progress: Any = None,
    ) -> CodeResult:
        """Run a script or notebook in the sandbox on the example test, then on the test, and
        submit the ``submission.csv`` it writes (:func:`leaderboard.code.submit_code`)."""
        from harness.board.code import submit_code

        return submit_code(
            self.comp,
            self.settings,
            code,
            participant=participant,
            message=message,
            display_name=display_name,
            progress=progress,
        )

    def queue_code(
        self, code: Path, *, participant: str, message: str = "", display_name: str | None = None
    ) -> CodeQueued:
        """Accept a script or notebook into the hosted queue (``harness serve
        --code-workers``): it counts against today's limit now and runs in a worker; its
        status goes queued → running → complete | error."""
        from harness.board.queue import CodeQueue

        job = CodeQueue(self.settings).submit(
            self.comp, code, participant=participant, message=message, display_name=display_name
        )
        return CodeQueued(job.id, job.status, job.code, self.comp.id)

    def code_contract(self) -> str:
        """What ``describe`` says of code submissions: the contract, the limits, and what
        the code may import."""
        from harness.board.code import contract

        return contract(self.comp, self.store.rules(self.comp))

    def select(self, submission: str, *, participant: str, selected: bool = True) -> Selection:
        from harness.board.referee import select

        got = select(self.store, self.comp, participant, submission, selected=selected)
        return Selection.from_dict(got)

    def set_rules(
        self,
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
    ) -> RulesView:
        """Change the rules given (:data:`KEEP` leaves one; None clears a limit, a deadline or
        the team size); with none given, the rules as they are. ``code_only`` makes it a code
        competition (``time_limit``: seconds or "10m"; ``memory``: bytes or "4G", for its code
        runs)."""
        from harness.board.referee import set_rules

        kept = (KEEP, KEEP, None, None, KEEP, KEEP, None, None, None)
        asked = (daily_limit, deadline, selections, ladder, team_size, merger_deadline)
        if (*asked, code_only, time_limit, memory) == kept:
            return self.rules()
        if code_only:
            from harness.board.code import check_code_competition

            check_code_competition(self.comp, self.settings)
        got = set_rules(
            self.store,
            self.comp,
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
        return RulesView.of(self.comp.id, got)

    def ui_experiment(self) -> str:
        """The id of the MLflow experiment that holds this competition, once it carries the
        tags MLflow's UI reads (:data:`harness.board.schema.UI_TAGS`, added if missing)."""
        found = self.store.ui_experiment(self.comp)
        if found is None:
            raise NotFound(
                f"{self.id}: nothing recorded in {self.where} yet (no submission, no study): "
                "submit first, or run `harness ui` for every experiment"
            )
        return found[0]

    # -- teams (:mod:`leaderboard.teams`) ---------------------------------------------------

    def teams(self) -> list[TeamView]:
        """Every team: its name and members (no invitation code)."""
        found = self.store.teams(self.comp)
        return [TeamView.of(self.id, t, secret=False) for t in found.teams]

    def team(self, participant: str) -> TeamView:
        """``participant``'s team, with its invitation code and the merge requests it has
        received; a participant in no team is a team of one (``solo``)."""
        team = self.store.teams(self.comp).of(participant)
        if team is None:
            return TeamView(self.id, participant, [participant], solo=True)
        return TeamView.of(self.id, team, secret=True)

    def create_team(self, name: str, *, participant: str) -> TeamView:
        """Make a team named ``name`` (a participant name's alphabet and length) with you."""
        from harness.board import teams
        from harness.board.submit import check_participant

        from harness.errors import InvalidName

        try:
            check_participant(name)
        except InvalidName as exc:
            raise InvalidName(str(exc).replace("participant name", "team name")) from None

        return TeamView.of(
            self.id, teams.create(self.store, self.comp, participant, name), secret=True
        )

    def renew_team_code(self, *, participant: str) -> TeamView:
        from harness.board import teams

        got = teams.renew_code(self.store, self.comp, participant)
        return TeamView.of(self.id, got, secret=True)

    def join_team(self, code: str, *, participant: str) -> TeamView:
        from harness.board import teams

        got = teams.join(self.store, self.comp, participant, code)
        return TeamView.of(self.id, got, secret=True)

    def leave_team(self, *, participant: str) -> TeamView:
        """Leave your team; you are then a team of one."""
        from harness.board import teams

        teams.leave(self.store, self.comp, participant)
        return TeamView(self.id, participant, [participant], solo=True)

    def request_merge(self, team: str, *, participant: str) -> TeamView:
        """Ask the team named ``team`` to take your team in; the team asked, as others see it."""
        from harness.board import teams

        got = teams.request_merge(self.store, self.comp, participant, team)
        return TeamView.of(self.id, got, secret=False)

    def accept_merge(self, team: str, *, participant: str) -> TeamView:
        """Take in the team named ``team``, which asked to merge into yours."""
        from harness.board import teams

        got = teams.accept_merge(self.store, self.comp, participant, team)
        return TeamView.of(self.id, got, secret=True)

    def reveal(self) -> Revealed:
        from harness.board.referee import reveal

        got = reveal(self.store, self.comp)
        return Revealed(got["ended_at"], got["graded"], got["rules"])


def hosted(settings: Settings) -> list[Board]:
    """The boards of every prepared competition (what a server hosts)."""
    from harness.data.preparation import manifest_or_none
    from harness.registry import competitions

    return [
        Board(comp, settings)
        for comp in competitions(settings.home).values()
        if manifest_or_none(comp, settings) is not None
    ]


def recover_code_queue(settings: Settings) -> dict[str, int]:
    """At a server's start: code runs a killed server left running go back in the queue."""
    from harness.board.queue import CodeQueue

    return CodeQueue(settings).recover()


def run_code_workers(home: str, tracking_uri: str, database: str | None, workers: int) -> None:
    """The code queue's consumer (a process of its own; :func:`leaderboard.queue.consume`)."""
    from harness.board.queue import consume

    consume(home, tracking_uri, database, workers)


def run_code_jobs(settings: Settings, *, once: bool = False, say: Any = None) -> int:
    """``harness runner``: run queued code submissions from the Harness database on this
    machine (:meth:`leaderboard.queue.CodeQueue.serve_runner`); return how many ran."""
    from harness.board.queue import CodeQueue

    queue = CodeQueue(settings)
    queue.recover(enqueue=False)  # this host's runs a killed runner left running
    return queue.serve_runner(once=once, say=say)


def check_participant(name: str) -> None:
    """Raise InvalidName unless ``name`` may be a participant's (:mod:`leaderboard.submit`)."""
    from harness.board.submit import check_participant as check

    check(name)


def verify(comp: Competition, settings: Settings, **options: Any) -> Any:
    """Check a competition's answers, submissions and index (:mod:`leaderboard.verify`)."""
    from harness.board.verify import verify as check

    return check(comp, settings, **options)


def verify_summary(reports: Any) -> Any:
    from harness.board.verify import summary

    return summary(reports)


def _job_run(board: Board, submission: str) -> str | None:
    """The MLflow run a finished queued submission (named by its job id) became, if any."""
    if not (board.settings.home / "private" / "code-queue.db").exists():
        return None
    from harness.board.queue import CodeQueue

    job = CodeQueue(board.settings).find(board.comp, submission.strip())
    return job.run_id if job is not None and job.run_id else None


def _with_jobs(listing: Any, board: Board, participant: str | None) -> Any:
    """The submissions list with the hosted queue's jobs that are no MLflow run yet (queued,
    running, or failed on the example test), in time order."""
    import pandas as pd

    database = board.settings.home / "private" / "code-queue.db"
    if not database.exists():  # no code was ever queued here: nothing to read
        return listing
    from harness.board.queue import CodeQueue
    from harness.board.schema import JOB_TAG

    jobs = [
        j
        for j in CodeQueue(board.settings).unrecorded(board.comp, participant)
        # a run just recorded, its job not yet marked: the listing has its row already
        if j.status != "running" or board.store.find_tagged(board.comp, JOB_TAG, j.id) is None
    ]
    if not jobs:
        return listing
    extra = pd.DataFrame(
        {
            "id": [j.id[:8] for j in jobs],
            "submitted_at": pd.to_datetime([j.queued_at for j in jobs], utc=True),
            "participant": [j.participant for j in jobs],
            "kind": "submission",
            "file": [j.code for j in jobs],
            "message": [j.message for j in jobs],
            "status": [j.status for j in jobs],
            "error": [j.reason or None for j in jobs],
            "run_id": [j.id for j in jobs],
        }
    )
    merged = pd.concat([listing, extra], ignore_index=True)
    return merged.sort_values("submitted_at", kind="stable").reset_index(drop=True)


def _whose(participant: str | None, viewer: Viewer) -> str | None:
    """Whose submissions ``viewer`` may list: anyone's for the host, else only their own."""
    if viewer.is_host:
        return participant
    if participant not in (None, "", viewer.name):
        raise Forbidden("you may read only your own submissions")
    return viewer.name
