"""The hosted API: a FastAPI application over the leaderboard (``harness serve``).

Roles: *anonymous* (no token) reads the competition list, rules and public boards; a
*participant* (a token from ``harness participants add``) also downloads public files, submits,
reads and selects their own submissions; the *host* (``--host`` token) also reads everyone's
submissions, sets rules and reveals. Nothing under ``private/`` is ever served: files come
only from the manifest's ``public/`` entries.

Errors are JSON ``{"error": message, "status": code}`` with the message the CLI prints:
401 no or unknown token, 403 not allowed (not yours, hidden private board), 404 unknown,
413 upload too large, 422 invalid file or name, 429 over the daily limit.

Configured by the environment, so ``uvicorn --workers N`` can build one app per worker:
``HARNESS_HOME``, ``MLFLOW_TRACKING_URI``, ``HARNESS_DATABASE`` and ``HARNESS_MAX_UPLOAD_MB``.
"""

import json
import os
from typing import Annotated, Any

from fastapi import Depends, FastAPI, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse

from harness.errors import (
    HarnessError,
    InvalidName,
    InvalidSubmission,
    LimitReached,
    NotPrepared,
    RuleBroken,
    UnknownCompetition,
)
from harness.server.participants import Participant, Participants
from harness.server.uploads import submit_upload
from harness.settings import Settings

MAX_UPLOAD_ENV = "HARNESS_MAX_UPLOAD_MB"
DEFAULT_MAX_UPLOAD_MB = 200


class UploadTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the upload is over the server's limit of {limit / 1e6:g} MB")


class LimitUpload:
    """ASGI middleware: refuse a request body over ``limit`` bytes, by its Content-Length at
    once and by counting while it streams (chunked uploads), so no upload is held whole."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") not in ("POST", "PUT"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            await _send_json(send, 413, str(UploadTooLarge(self.limit)))
            return
        seen, answered = 0, False

        async def counted() -> dict[str, Any]:
            nonlocal seen, answered
            if answered:
                return {"type": "http.disconnect"}
            message: dict[str, Any] = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:  # answer 413 now; the app sees the client gone
                    answered = True
                    await _send_json(send, 413, str(UploadTooLarge(self.limit)))
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message: dict[str, Any]) -> None:
            if not answered:
                await send(message)

        await self.app(scope, counted, guarded)


async def _send_json(send: Any, status: int, message: str) -> None:
    body = json.dumps({"error": message, "status": status}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": body})


def max_upload_bytes() -> int:
    return int(float(os.environ.get(MAX_UPLOAD_ENV, DEFAULT_MAX_UPLOAD_MB)) * 1_000_000)


class Denied(Exception):
    """A request refused for who sent it (401, 403) or what it names (404)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def denied(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Denied)
    return JSONResponse({"error": str(exc), "status": exc.status}, status_code=exc.status)


def caller(request: Request) -> Participant | None:
    """Who sent the request: None without a token; 401 for an unknown or revoked one."""
    header = request.headers.get("authorization", "")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    people: Participants = request.app.state.people
    found = people.identify(token.strip()) if scheme.lower() == "bearer" else None
    if found is None:
        raise Denied(401, "unknown or revoked token (HARNESS_TOKEN)")
    return found


Caller = Annotated[Participant | None, Depends(caller)]


def signed_in(who: Caller) -> Participant:
    if who is None:
        raise Denied(401, "sign in: send your token (HARNESS_TOKEN) as a Bearer token")
    return who


SignedIn = Annotated[Participant, Depends(signed_in)]


def host(who: SignedIn) -> Participant:
    if not who.is_host:
        raise Denied(403, "only the host may do this")
    return who


Host = Annotated[Participant, Depends(host)]


def create_app(settings: Settings | None = None, *, max_upload: int | None = None) -> Any:
    settings = settings or Settings.resolve()
    limit = max_upload if max_upload is not None else max_upload_bytes()
    people = Participants(settings)
    app = FastAPI(
        title="Harness",
        summary="A local Kaggle, hosted: submit, read the boards, select final submissions.",
        version="1",
    )

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message, "status": status}, status_code=status)

    statuses = [
        (LimitReached, 429),
        (InvalidSubmission, 422),
        (InvalidName, 422),
        (RuleBroken, 403),
        (UnknownCompetition, 404),
        (NotPrepared, 404),
        (HarnessError, 400),
    ]
    for kind, status in statuses:

        def handler(request: Request, exc: Exception, status: int = status) -> JSONResponse:
            return error(status, str(exc))

        app.add_exception_handler(kind, handler)

    def too_large(request: Request, exc: Exception) -> JSONResponse:
        return error(413, str(exc))

    app.add_exception_handler(UploadTooLarge, too_large)

    from starlette.exceptions import HTTPException

    def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        return error(exc.status_code, str(exc.detail))

    app.add_exception_handler(HTTPException, http_error)

    app.add_exception_handler(Denied, denied)

    def competition(cid: str) -> Any:
        from harness.registry import get_competition

        return get_competition(cid)

    def board() -> Any:
        from leaderboard import Leaderboard

        return Leaderboard(settings)

    def records(frame: Any) -> list[dict[str, Any]]:
        return list(
            json.loads(frame.to_json(orient="records", date_format="iso", double_precision=15))
        )

    # -- reading ---------------------------------------------------------------------------

    @app.get("/api/health")
    def health() -> dict[str, Any]:
        return {"ok": True}

    @app.get("/api/competitions")
    def competitions(who: Caller) -> list[dict[str, Any]]:
        from harness.data.preparation import manifest_or_none
        from harness.registry import competitions as every

        out = []
        lb = board()
        for comp in every().values():
            if manifest_or_none(comp, settings) is None:
                continue  # only what the host prepared is hosted
            out.append(_summary(comp, lb, who))
        return out

    @app.get("/api/competitions/{cid}")
    def one(cid: str, who: Caller) -> dict[str, Any]:
        return _summary(competition(cid), board(), who)

    @app.get("/api/competitions/{cid}/rules")
    def rules(cid: str) -> dict[str, Any]:
        comp = competition(cid)
        got = board().rules(comp)
        return {**got.as_dict(), "lines": got.describe(comp.id)}

    @app.get("/api/competitions/{cid}/leaderboard")
    def leaderboard(cid: str, private: bool = False) -> dict[str, Any]:
        from leaderboard.board import standings

        comp = competition(cid)
        frame = standings(board(), comp, private=private)
        return {
            "competition": comp.id,
            "title": comp.title,
            "metric": comp.metric.name,
            "direction": comp.metric.direction,
            "view": "private" if private else "public",
            "columns": list(frame.columns),
            "rows": records(frame),
            "note": frame.attrs.get("note", ""),
            "shakeup": frame.attrs.get("shakeup"),
        }

    @app.get("/api/competitions/{cid}/files")
    def files(cid: str, who: SignedIn) -> list[dict[str, Any]]:
        return [{"name": name, **meta} for name, meta in _public_files(competition(cid)).items()]

    @app.get("/api/competitions/{cid}/files/{name:path}")
    def file(cid: str, name: str, who: SignedIn) -> Any:
        comp = competition(cid)
        listed = _public_files(comp)
        if name not in listed:  # only the manifest's public entries, never a path
            raise Denied(404, f"no public file '{name[:80]}' in {comp.id}")
        return FileResponse(
            settings.public_dir(comp.id) / name,
            headers={"x-sha256": listed[name]["sha256"]},
        )

    @app.get("/api/competitions/{cid}/submissions")
    def submissions(cid: str, who: SignedIn, participant: str | None = None) -> dict[str, Any]:
        from leaderboard.board import submissions as listing

        comp = competition(cid)
        if not who.is_host:
            if participant not in (None, who.name):
                raise Denied(403, "you may read only your own submissions")
            participant = who.name
        frame = listing(board(), comp, participant)
        return {"columns": list(frame.columns), "rows": records(frame)}

    @app.get("/api/competitions/{cid}/submissions/{sid}")
    def submission(cid: str, sid: str, who: SignedIn) -> dict[str, Any]:
        from leaderboard.board import submissions as listing

        frame = listing(board(), competition(cid))
        hits = frame[frame["run_id"].str.startswith(sid.lower())] if len(sid) >= 6 else frame[:0]
        if len(hits) != 1:
            raise Denied(404, f"no submission {sid[:40]}")
        row = records(hits)[0]
        if row["participant"] != who.name and not who.is_host:
            raise Denied(403, f"submission {sid[:40]} is not yours")
        return row

    # -- writing ---------------------------------------------------------------------------

    @app.post("/api/competitions/{cid}/submissions")
    def submit(
        cid: str,
        who: SignedIn,
        file: Annotated[UploadFile, File()],
        message: Annotated[str, Form()] = "",
        cv: Annotated[float | None, Form()] = None,
    ) -> dict[str, Any]:
        return submit_upload(
            competition(cid), settings, file, participant=who.name, message=message, cv=cv
        )

    @app.post("/api/competitions/{cid}/selections")
    def select(cid: str, body: dict[str, Any], who: SignedIn) -> dict[str, Any]:
        from leaderboard.referee import select as choose

        sid = str(body.get("submission", ""))
        return choose(
            board(), competition(cid), who.name, sid, selected=bool(body.get("selected", True))
        )

    @app.put("/api/competitions/{cid}/rules")
    def set_rules(cid: str, body: dict[str, Any], who: Host) -> dict[str, Any]:
        from leaderboard.referee import set_rules as change

        comp = competition(cid)
        keep = "keep"
        got = change(
            board(),
            comp,
            daily_limit=body.get("daily_limit", keep),
            deadline=body.get("deadline", keep),
            selections=body.get("selections"),
            ladder=body.get("ladder"),
        )
        return {**got.as_dict(), "lines": got.describe(comp.id)}

    @app.post("/api/competitions/{cid}/reveal")
    def reveal(cid: str, who: Host) -> dict[str, Any]:
        from leaderboard.referee import reveal as end

        got = end(board(), competition(cid))
        return {"ended_at": got["ended_at"].isoformat(), "graded": got["graded"]}

    def _public_files(comp: Any) -> dict[str, dict[str, Any]]:
        from harness.data.preparation import read_manifest

        manifest = read_manifest(comp, settings)
        out = {}
        for key, sha in sorted(manifest["files"].items()):
            if not key.startswith("public/"):
                continue
            name = key.removeprefix("public/")
            path = settings.public_dir(comp.id) / name
            out[name] = {"sha256": sha, "size": path.stat().st_size if path.exists() else None}
        return out

    @app.middleware("http")
    async def timing(request: Request, call_next: Any) -> Any:
        import time

        start = time.perf_counter()
        response = await call_next(request)
        response.headers["server-timing"] = f"app;dur={(time.perf_counter() - start) * 1000:.1f}"
        return response

    app.state.settings = settings
    app.state.people = people
    from harness.server.pages import add_pages

    add_pages(app, settings)  # the web pages: /, /c/{cid}, …
    app.router.redirect_slashes = False
    return LimitUpload(app, limit) if limit else app


def _summary(comp: Any, lb: Any, who: Participant | None) -> dict[str, Any]:
    from leaderboard.board import Snapshot
    from leaderboard.index import entries
    from leaderboard.rules import now_utc, until

    snap = Snapshot.read(lb, comp)
    scored = entries(snap.records)
    rules = snap.rules
    out: dict[str, Any] = {
        "id": comp.id,
        "title": comp.title,
        "task": comp.task.value,
        "metric": comp.metric.name,
        "direction": comp.metric.direction,
        "rules": rules.as_dict(),
        "time_left": None if rules.deadline is None else until(rules.deadline, now_utc()),
        "participants": int(scored["participant"].nunique()) if len(scored) else 0,
        "submissions": len(scored),
    }
    if who is not None:
        out["you"] = who.name
    return out


def app_from_environment() -> Any:
    """The factory ``uvicorn --factory`` calls in each worker."""
    return create_app()
