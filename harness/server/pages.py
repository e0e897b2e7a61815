"""The web pages of ``harness serve``: competitions, leaderboards, your submissions, submit,
the shake-up after the end, the tuning studies; server-rendered HTML (Jinja2, autoescaped) with
server-made SVG plots (:mod:`harness.server.charts`) and no JavaScript at all.

Roles are the API's: anonymous visitors read the competitions and public boards; a participant
signs in by pasting their token into a form (kept in an ``HttpOnly; SameSite=Strict`` cookie)
and then submits, reads and selects their own submissions; the host also reads anyone's.
With ``harness serve --local`` there are no tokens: the server binds to 127.0.0.1 only and the
viewer is the local participant (``HARNESS_PARTICIPANT`` or the user name), acting as host.

Cross-site requests: every POST must carry the hidden ``csrf`` field of the form it came from,
an HMAC of the session (the token; in local mode a per-process secret), so a page elsewhere
cannot forge one; an ``Origin`` (or ``Referer``) header naming another site is refused too,
which also covers the sign-in form. In local mode the ``Host`` header must be a loopback name
(no DNS rebinding). ``SameSite=Strict`` keeps the cookie off cross-site requests anyway.

:func:`export` writes the public pages as plain HTML files (``harness serve --export DIR``).
"""

from __future__ import annotations

import hmac
import math
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from harness.errors import Forbidden, HarnessError, Unauthorized
from harness.server.participants import Participants
from harness.server.site import (
    ANONYMOUS,
    COOKIE,
    LOCAL_ENV,
    SECURITY_HEADERS,
    STATIC,
    TEMPLATES,
    Links,
    Site,
    Viewer,
    check_attempt,
    check_host,
    check_origin,
    local_path,
)
from harness.server.uploads import CODE_SUFFIXES, SUFFIXES, staged
from harness.server.views import (
    baselines_context,
    board_context,
    competitions_context,
    shakeup_context,
    submissions_context,
    submit_context,
)
from harness.settings import Settings

__all__ = [
    "ANONYMOUS",
    "COOKIE",
    "LOCAL_ENV",
    "STATIC",
    "TEMPLATES",
    "Links",
    "Site",
    "add_pages",
    "board_context",
    "error_page",
    "export",
]

LIVE = Links()
router = APIRouter(include_in_schema=False)


def _site(request: Request) -> Site:
    site: Site = request.app.state.site
    return site


def _page(status: int, body: str) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)


def error_page(request: Request, exc: Exception, status: int) -> HTMLResponse:
    """A refusal as a page (the app's one error handler calls it for every page route)."""
    site = _site(request)
    try:
        check_host(site, request)
        viewer = site.viewer(request)
    except HarnessError:
        viewer = ANONYMOUS
    body = site.render(
        "error.html",
        LIVE,
        viewer,
        status=status,
        message=str(exc),
        title="Refused" if status in (401, 403) else "Not found" if status == 404 else "Error",
        next=request.url.path,
    )
    return _page(status, body)


def _shown(request: Request, make: Callable[[Site, Viewer], tuple[str, dict[str, Any]]]) -> Any:
    """A page: its template and context for this viewer (refusals raise, and the app's handler
    answers them)."""
    site = _site(request)
    check_host(site, request)
    viewer = site.viewer(request)
    template, context = make(site, viewer)
    return _page(200, site.render(template, LIVE, viewer, **context))


def _posted(request: Request, csrf: str) -> Viewer:
    site = _site(request)
    check_host(site, request)
    check_origin(request)
    viewer = site.viewer(request)
    if viewer.who is None:
        raise Unauthorized("sign in first")
    if not hmac.compare_digest(csrf, viewer.csrf):
        raise Forbidden("the form is stale or from another site: reload and try again")
    return viewer


# -- reading ------------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> HTMLResponse:
    return _shown(request, lambda s, v: ("competitions.html", competitions_context(s, v)))


@router.get("/c/{cid}", response_class=HTMLResponse)
def leaderboard(request: Request, cid: str, view: str = "public") -> HTMLResponse:
    private = view == "private"
    return _shown(
        request, lambda s, v: ("leaderboard.html", board_context(s, v, cid, private=private))
    )


@router.get("/c/{cid}/shakeup", response_class=HTMLResponse)
def shakeup(request: Request, cid: str) -> HTMLResponse:
    return _shown(request, lambda s, v: ("shakeup.html", shakeup_context(s, v, cid)))


@router.get("/c/{cid}/baselines", response_class=HTMLResponse)
def baselines(request: Request, cid: str) -> HTMLResponse:
    return _shown(request, lambda s, v: ("baselines.html", baselines_context(s, v, cid)))


@router.get("/c/{cid}/submissions", response_class=HTMLResponse)
def mine(request: Request, cid: str, participant: str | None = None) -> HTMLResponse:
    return _shown(
        request, lambda s, v: ("submissions.html", submissions_context(s, v, cid, participant))
    )


# -- submitting and selecting -------------------------------------------------------------------


@router.get("/c/{cid}/submit", response_class=HTMLResponse)
def submit_form(request: Request, cid: str) -> HTMLResponse:
    def make(site: Site, viewer: Viewer) -> tuple[str, dict[str, Any]]:
        if viewer.who is None:
            raise Unauthorized("sign in to submit")
        return "submit.html", submit_context(site, cid)

    return _shown(request, make)


@router.post("/c/{cid}/submit", response_class=HTMLResponse)
def submit(
    request: Request,
    cid: str,
    file: Annotated[UploadFile, File()],
    csrf: Annotated[str, Form()] = "",
    message: Annotated[str, Form()] = "",
    cv: Annotated[str, Form()] = "",
) -> HTMLResponse:
    site = _site(request)
    viewer = _posted(request, csrf)
    context = submit_context(site, cid, message=message, cv=cv)
    try:
        value = float(cv) if cv.strip() else None
        if value is not None and not math.isfinite(value):
            raise ValueError
    except ValueError:
        context["error"] = f"Error: --cv must be a number, got '{cv[:40]}'"
        return _page(422, site.render("submit.html", LIVE, viewer, **context))
    assert viewer.name is not None
    code = (file.filename or "").lower().endswith(CODE_SUFFIXES)  # a script or notebook
    try:
        with staged(file, site.settings, CODE_SUFFIXES if code else SUFFIXES) as (path, name):
            board = site.board(cid)
            got = (
                board.queue_code(path, participant=viewer.name, message=message, display_name=name)
                if code
                else board.submit(
                    path, participant=viewer.name, message=message, cv=value, display_name=name
                )
            )
    except HarnessError as exc:
        context["error"] = f"Error: {exc}"  # as the CLI prints it
        return _page(exc.status, site.render("submit.html", LIVE, viewer, **context))
    context["queued" if code else "result"] = got.as_dict()
    context["message"] = ""
    return _page(200, site.render("submit.html", LIVE, viewer, **context))


@router.post("/c/{cid}/select")
def select(
    request: Request,
    cid: str,
    submission: Annotated[str, Form()],
    selected: Annotated[str, Form()] = "yes",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    viewer = _posted(request, csrf)
    assert viewer.name is not None
    _site(request).board(cid).select(
        submission, participant=viewer.name, selected=selected == "yes"
    )
    return RedirectResponse(f"/c/{quote(cid)}/submissions", status_code=303)


# -- signing in and out -------------------------------------------------------------------------


@router.get("/signin", response_class=HTMLResponse)
def signin_form(request: Request, next: str = "/") -> HTMLResponse:
    site = _site(request)
    check_host(site, request)
    viewer = site.viewer(request)
    body = site.render(
        "signin.html", LIVE, viewer, next=local_path(next), error="", title="Sign in"
    )
    return _page(200, body)


@router.post("/signin", response_class=HTMLResponse)
def signin(
    request: Request,
    token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    site = _site(request)
    failed = check_attempt(site, request, "sign-in")  # 429 while over its failures
    token = token.strip()
    found = site.people.identify(token) if site.people is not None and token else None
    if found is None:
        failed()
        body = site.render(
            "signin.html",
            LIVE,
            ANONYMOUS,
            next=local_path(next),
            error="Error: unknown or revoked token (HARNESS_TOKEN)",
            title="Sign in",
        )
        return _page(401, body)
    answer = RedirectResponse(local_path(next), status_code=303)
    answer.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
        max_age=30 * 86400,
    )
    return answer


@router.post("/signout")
def signout(request: Request) -> Response:
    check_host(_site(request), request)
    answer = RedirectResponse("/", status_code=303)
    answer.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return answer


def add_pages(app: Any, settings: Settings, *, local: str | None = None) -> Site:
    """Add the pages to the API's app (``/``, ``/c/{id}``, …, ``/static``); return the site."""
    from starlette.staticfiles import StaticFiles

    local = local if local is not None else (os.environ.get(LOCAL_ENV) or None)
    people = getattr(app.state, "people", None)
    site = Site(settings, people if isinstance(people, Participants) else None, local)
    app.state.site = site
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    return site


# -- the static export --------------------------------------------------------------------------


def export(settings: Settings, folder: Path) -> list[Path]:
    """Write the public pages as plain HTML under ``folder`` (a course site): the competitions,
    each public board, the private board and the shake-up once open, the baselines; the
    stylesheet beside them. Return the files written."""
    from harness.errors import RuleBroken
    from harness.server.views import (
        baselines_context,
        board_context,
        competitions_context,
        shakeup_context,
    )

    site = Site(settings, None)
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def write(relative: str, body: str) -> None:
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body, encoding="utf-8")
        written.append(path)

    top = Links(export=True, depth=0)
    context = competitions_context(site, ANONYMOUS)
    write("index.html", site.render("competitions.html", top, ANONYMOUS, **context))
    inner = Links(export=True, depth=1)
    for card in context["cards"]:
        cid = card["id"]
        public = board_context(site, ANONYMOUS, cid, private=False)
        write(f"{cid}/index.html", site.render("leaderboard.html", inner, ANONYMOUS, **public))
        if public["comp"]["private_open"]:
            try:
                private = board_context(site, ANONYMOUS, cid, private=True)
            except RuleBroken:
                private = None
            if private is not None:
                write(
                    f"{cid}/private.html",
                    site.render("leaderboard.html", inner, ANONYMOUS, **private),
                )
        if public["comp"]["ended"]:
            shake = shakeup_context(site, ANONYMOUS, cid)
            write(f"{cid}/shakeup.html", site.render("shakeup.html", inner, ANONYMOUS, **shake))
        studies = baselines_context(site, ANONYMOUS, cid)
        write(f"{cid}/baselines.html", site.render("baselines.html", inner, ANONYMOUS, **studies))
    (folder / "static").mkdir(exist_ok=True)
    for asset in sorted(STATIC.iterdir()):
        if asset.is_file():
            shutil.copyfile(asset, folder / "static" / asset.name)
            written.append(folder / "static" / asset.name)
    return written
