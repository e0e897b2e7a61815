"""The JSON API's routes, one router per area, each route one call of the board service
(:mod:`leaderboard.service`): reading (competitions, rules, boards), submissions (list, one,
submit, select), the host's actions (rules, reveal) and the public files.

Who asks is a dependency: :data:`Caller` (anyone, None without a token), :data:`SignedIn` (a
participant: 401 otherwise) and :data:`Host` (403 for a participant). Errors are the
service's, answered by the app's one handler with the status their class carries."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import FileResponse

from harness.board.service import Board, Viewer, hosted
from harness.errors import Forbidden, Unauthorized
from harness.server.participants import Participant, Participants
from harness.server.uploads import CODE_SUFFIXES, staged


def caller(request: Request) -> Participant | None:
    """Who sent the request: None without a token; 401 for an unknown or revoked one."""
    header = request.headers.get("authorization", "")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    people: Participants = request.app.state.people
    found = people.identify(token.strip()) if scheme.lower() == "bearer" else None
    if found is None:
        raise Unauthorized("unknown or revoked token (HARNESS_TOKEN)")
    return found


Caller = Annotated[Participant | None, Depends(caller)]


def signed_in(who: Caller) -> Participant:
    if who is None:
        raise Unauthorized("sign in: send your token (HARNESS_TOKEN) as a Bearer token")
    return who


SignedIn = Annotated[Participant, Depends(signed_in)]


def host(who: SignedIn) -> Participant:
    if not who.is_host:
        raise Forbidden("only the host may do this")
    return who


Host = Annotated[Participant, Depends(host)]


def board(cid: str, request: Request) -> Board:
    """The named competition's board on the server's store (404 for an unknown name)."""
    return Board(cid, request.app.state.settings)


Hall = Annotated[Board, Depends(board)]


def viewer(who: Participant | None) -> Viewer:
    return Viewer(None) if who is None else Viewer(who.name, who.is_host)


# -- reading -------------------------------------------------------------------------------------

reading = APIRouter(prefix="/api")


@reading.get("/health")
def health() -> dict[str, Any]:
    return {"ok": True}


@reading.get("/competitions")
def competitions(request: Request, who: Caller) -> list[dict[str, Any]]:
    return [b.card(viewer(who)).as_dict() for b in hosted(request.app.state.settings)]


@reading.get("/competitions/{cid}")
def competition(hall: Hall, who: Caller) -> dict[str, Any]:
    return hall.card(viewer(who)).as_dict()


@reading.get("/competitions/{cid}/rules")
def rules(hall: Hall) -> dict[str, Any]:
    return hall.rules().as_dict()


@reading.get("/competitions/{cid}/leaderboard")
def leaderboard(hall: Hall, private: bool = False) -> dict[str, Any]:
    return hall.standings(private=private).as_dict()


# -- submissions ---------------------------------------------------------------------------------

submitting = APIRouter(prefix="/api/competitions/{cid}")


@submitting.get("/submissions")
def submissions(hall: Hall, who: SignedIn, participant: str | None = None) -> dict[str, Any]:
    return hall.submissions(participant, viewer(who)).as_dict()


@submitting.get("/submissions/{sid}")
def submission(hall: Hall, sid: str, who: SignedIn) -> dict[str, Any]:
    return hall.submission(sid, viewer(who)).as_dict()


@submitting.post("/submissions")
def submit(
    hall: Hall,
    who: SignedIn,
    file: Annotated[UploadFile, File()],
    message: Annotated[str, Form()] = "",
    cv: Annotated[float | None, Form()] = None,
) -> dict[str, Any]:
    with staged(file, hall.settings) as (path, name):
        got = hall.submit(path, participant=who.name, message=message, cv=cv, display_name=name)
    return got.as_dict()


@submitting.post("/code")
def submit_code(
    hall: Hall,
    who: SignedIn,
    file: Annotated[UploadFile, File()],
    message: Annotated[str, Form()] = "",
) -> dict[str, Any]:
    """A script or notebook, accepted into the queue (it counts against today's limit now);
    the answer is its id and status at once, the workers of `harness serve --code-workers`
    run it."""
    with staged(file, hall.settings, CODE_SUFFIXES) as (path, name):
        got = hall.queue_code(path, participant=who.name, message=message, display_name=name)
    return got.as_dict()


@submitting.post("/selections")
def select(hall: Hall, body: dict[str, Any], who: SignedIn) -> dict[str, Any]:
    sid, chosen = str(body.get("submission", "")), bool(body.get("selected", True))
    return hall.select(sid, participant=who.name, selected=chosen).as_dict()


# -- the host's actions --------------------------------------------------------------------------

hosting = APIRouter(prefix="/api/competitions/{cid}")


@hosting.put("/rules")
def set_rules(hall: Hall, body: dict[str, Any], who: Host) -> dict[str, Any]:
    names = (
        "daily_limit",
        "deadline",
        "selections",
        "ladder",
        "team_size",
        "merger_deadline",
        "code_only",
        "time_limit",
        "memory",
    )
    changes = {k: body[k] for k in names if k in body}
    return hall.set_rules(**changes).as_dict()


@hosting.post("/reveal")
def reveal(hall: Hall, who: Host) -> dict[str, Any]:
    return hall.reveal().as_dict()


# -- teams ---------------------------------------------------------------------------------------

teaming = APIRouter(prefix="/api/competitions/{cid}")


@teaming.get("/teams")
def teams(hall: Hall) -> list[dict[str, Any]]:
    return [t.as_dict() for t in hall.teams()]


@teaming.get("/team")
def team(hall: Hall, who: SignedIn) -> dict[str, Any]:
    return hall.team(who.name).as_dict()


def _text(body: dict[str, Any], key: str) -> str:
    value = body.get(key, "")
    return value if isinstance(value, str) else str(value)


@teaming.post("/team")
def create_team(hall: Hall, body: dict[str, Any], who: SignedIn) -> dict[str, Any]:
    return hall.create_team(_text(body, "name"), participant=who.name).as_dict()


@teaming.post("/team/code")
def renew_team_code(hall: Hall, who: SignedIn) -> dict[str, Any]:
    return hall.renew_team_code(participant=who.name).as_dict()


@teaming.post("/team/join")
def join_team(hall: Hall, body: dict[str, Any], who: SignedIn) -> dict[str, Any]:
    return hall.join_team(_text(body, "code"), participant=who.name).as_dict()


@teaming.post("/team/leave")
def leave_team(hall: Hall, who: SignedIn) -> dict[str, Any]:
    return hall.leave_team(participant=who.name).as_dict()


@teaming.post("/team/merge")
def request_merge(hall: Hall, body: dict[str, Any], who: SignedIn) -> dict[str, Any]:
    return hall.request_merge(_text(body, "team"), participant=who.name).as_dict()


@teaming.post("/team/accept")
def accept_merge(hall: Hall, body: dict[str, Any], who: SignedIn) -> dict[str, Any]:
    return hall.accept_merge(_text(body, "team"), participant=who.name).as_dict()


# -- public files --------------------------------------------------------------------------------

files = APIRouter(prefix="/api/competitions/{cid}")


@files.get("/files")
def listing(hall: Hall, who: SignedIn) -> list[dict[str, Any]]:
    return [f.as_dict() for f in hall.public_files()]


@files.get("/files/{name:path}")
def file(hall: Hall, name: str, who: SignedIn) -> Any:
    found = hall.public_file(name)  # only the manifest's public entries, never a path
    return FileResponse(found.path, headers={"x-sha256": found.sha256})


ROUTERS = (reading, submitting, hosting, teaming, files)
__all__ = ["ROUTERS", "Caller", "Host", "SignedIn"]
