"""The hosted API: a FastAPI application over the leaderboard (``harness serve``).

Roles: *anonymous* (no token) reads the competition list, rules and public boards; a
*participant* (a token from ``harness participants add``) also downloads public files, submits,
reads and selects their own submissions; the *host* (``--host`` token) also reads everyone's
submissions, sets rules and reveals. Nothing under ``private/`` is ever served: files come
only from the manifest's ``public/`` entries.

Errors are JSON ``{"error": message, "status": code}`` with the message the CLI prints and the
status its class carries (:mod:`harness.errors`), by one handler: 401 no or unknown token, 403
not allowed (not yours, hidden private board), 404 unknown, 413 upload too large, 422 invalid
file or name, 429 over the daily limit. The pages answer the same statuses with an HTML page.

Every route is one call of the board service (:mod:`leaderboard.service`), in the routers of
:mod:`harness.server.routes`; the server holds no rule of its own.

Configured by the environment, so ``uvicorn --workers N`` can build one app per worker:
``HARNESS_HOME``, ``MLFLOW_TRACKING_URI``, ``HARNESS_DATABASE`` and ``HARNESS_MAX_UPLOAD_MB``.
"""

import json
import os
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from harness.errors import HarnessError, TooLarge
from harness.server.participants import Participants
from harness.settings import Settings

MAX_UPLOAD_ENV = "HARNESS_MAX_UPLOAD_MB"
DEFAULT_MAX_UPLOAD_MB = 200


class UploadTooLarge(TooLarge):
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
            await _send_json(send, UploadTooLarge.status, str(UploadTooLarge(self.limit)))
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
                    await _send_json(send, UploadTooLarge.status, str(UploadTooLarge(self.limit)))
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


def refused(request: Request, exc: Exception) -> Any:
    """The one error handler: a :class:`HarnessError` answered with the status its class
    carries, as JSON under ``/api/`` and as a page elsewhere."""
    assert isinstance(exc, HarnessError)
    status = exc.status
    site = getattr(request.app.state, "site", None)
    if site is not None and not request.url.path.startswith("/api/"):
        from harness.server.pages import error_page

        return error_page(request, exc, status)
    return JSONResponse({"error": str(exc), "status": status}, status_code=status)


def http_error(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's own refusals (an unknown route, a wrong method), in the same JSON form."""
    from starlette.exceptions import HTTPException

    assert isinstance(exc, HTTPException)
    return JSONResponse(
        {"error": str(exc.detail), "status": exc.status_code}, status_code=exc.status_code
    )


def create_app(settings: Settings | None = None, *, max_upload: int | None = None) -> Any:
    from starlette.exceptions import HTTPException

    from harness.server import routes
    from harness.server.pages import add_pages

    settings = settings or Settings.resolve()
    limit = max_upload if max_upload is not None else max_upload_bytes()
    app = FastAPI(
        title="Harness",
        summary="A local Kaggle, hosted: submit, read the boards, select final submissions.",
        version="1",
    )
    app.add_exception_handler(HarnessError, refused)
    app.add_exception_handler(HTTPException, http_error)
    for router in routes.ROUTERS:
        app.include_router(router)

    @app.middleware("http")
    async def timing(request: Request, call_next: Any) -> Any:
        import time

        start = time.perf_counter()
        response = await call_next(request)
        response.headers["server-timing"] = f"app;dur={(time.perf_counter() - start) * 1000:.1f}"
        return response

    app.state.settings = settings
    app.state.people = Participants(settings)
    add_pages(app, settings)  # the web pages: /, /c/{cid}, …
    from harness.server import classroom  # overview, data, rules, team, host, sign-up

    app.include_router(classroom.router)
    app.router.redirect_slashes = False
    return LimitUpload(app, limit) if limit else app


def app_from_environment() -> Any:
    """The factory ``uvicorn --factory`` calls in each worker."""
    return create_app()
