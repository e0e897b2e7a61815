"""A competition's own pages for a class, as Kaggle's tabs: Overview (the description, Markdown
rendered by markdown-it-py with raw HTML off, then sanitised by nh3: no script, no event
handler, no ``javascript:`` link survives), Data (each public file with its size and sha256, a
download for a signed-in participant, the ``harness download`` line), Rules (in words, with the
time left), Team (members, invitation code, merge requests) and the host's page (rules, reveal,
participants, invitation codes); and sign-up with an invitation code (:mod:`.signup`).

Every page is one or two calls of the board service, as :mod:`harness.server.pages`; every
POST passes the same CSRF and Origin checks; a refusal is shown on the page it came from with
its status and the service's message (the rule and the numbers). No JavaScript.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from harness.board.service import KEEP, Board
from harness.errors import Forbidden, HarnessError, InvalidValue, Unauthorized
from harness.server.pages import LIVE, _page, _posted, _shown, _site
from harness.server.signup import Invitations
from harness.server.site import COOKIE, Site, Viewer, check_attempt, check_host
from harness.server.views import header

router = APIRouter(include_in_schema=False)

#: What the sanitiser keeps of the rendered Markdown: text formatting, links, tables, code.
ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5",
    "h6", "hr", "i", "li", "ol", "p", "pre", "strong", "sub", "sup", "table", "tbody", "td",
    "th", "thead", "tr", "ul",
}  # fmt: skip
ALLOWED_SCHEMES = {"http", "https", "mailto"}


def markdown(text: str) -> str:
    """Markdown as safe HTML: raw HTML in the source is shown as text, and the result keeps
    only :data:`ALLOWED_TAGS` with ``href``/``title`` on links (http, https, mailto)."""
    import nh3
    from markdown_it import MarkdownIt

    rendered = MarkdownIt("commonmark", {"html": False}).enable("table").render(text)
    return nh3.clean(
        rendered,
        tags=ALLOWED_TAGS,
        attributes={"a": {"href", "title"}, "th": {"align"}, "td": {"align"}},
        url_schemes=ALLOWED_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    )


def _invitations(request: Request) -> Invitations | None:
    site = _site(request)
    if site.people is None:
        return None
    found: Invitations | None = getattr(request.app.state, "invitations", None)
    if found is None:
        found = request.app.state.invitations = Invitations(site.people)
    return found


# -- overview, data, rules ----------------------------------------------------------------------


def _tab(site: Site, cid: str) -> tuple[Board, dict[str, Any]]:
    board = site.board(cid)
    return board, header(board, board.rules())


@router.get("/c/{cid}/overview", response_class=HTMLResponse)
def overview(request: Request, cid: str) -> HTMLResponse:
    def make(site: Site, viewer: Viewer) -> tuple[str, dict[str, Any]]:
        board, head = _tab(site, cid)
        return "overview.html", {
            "comp": head,
            "body": markdown(board.description()),
            "title": f"{board.comp.title}: overview",
        }

    return _shown(request, make)


@router.get("/c/{cid}/data", response_class=HTMLResponse)
def data(request: Request, cid: str) -> HTMLResponse:
    def make(site: Site, viewer: Viewer) -> tuple[str, dict[str, Any]]:
        board, head = _tab(site, cid)
        files = [
            {"name": f.name, "size": f.size, "sha256": f.sha256} for f in board.public_files()
        ]
        server = str(request.base_url).rstrip("/")
        return "data.html", {
            "comp": head,
            "files": files,
            "total": sum(f["size"] or 0 for f in files),
            "command": f"harness download {cid} --server {server}",
            "title": f"{board.comp.title}: data",
        }

    return _shown(request, make)


@router.get("/c/{cid}/data/{name:path}")
def data_file(request: Request, cid: str, name: str) -> Response:
    site = _site(request)
    check_host(site, request)
    if site.viewer(request).who is None:
        raise Unauthorized("sign in to download the data")
    found = site.board(cid).public_file(name)  # only the manifest's public entries
    return FileResponse(found.path, filename=found.name.rsplit("/", 1)[-1])


@router.get("/c/{cid}/rules", response_class=HTMLResponse)
def rules(request: Request, cid: str) -> HTMLResponse:
    def make(site: Site, viewer: Viewer) -> tuple[str, dict[str, Any]]:
        board, head = _tab(site, cid)
        view = board.rules()
        left = board.left_today(viewer.name) if viewer.name else None
        return "rules.html", {
            "comp": head,
            "lines": view.lines,
            "facts": view.facts,
            "left": left,
            "title": f"{board.comp.title}: rules",
        }

    return _shown(request, make)


# -- the team -----------------------------------------------------------------------------------


def _team_context(site: Site, viewer: Viewer, cid: str) -> dict[str, Any]:
    if viewer.who is None:
        raise Unauthorized("sign in to see your team")
    board, head = _tab(site, cid)
    assert viewer.name is not None
    return {
        "comp": head,
        "team": board.team(viewer.name).as_dict(),
        "teams": [t.as_dict() for t in board.teams()],
        "left": board.left_today(viewer.name),
        "facts": board.rules().facts,
        "error": "",
        "title": f"{board.comp.title}: team",
    }


@router.get("/c/{cid}/team", response_class=HTMLResponse)
def team(request: Request, cid: str) -> HTMLResponse:
    return _shown(request, lambda s, v: ("team.html", _team_context(s, v, cid)))


TEAM_ACTIONS = {
    "create": "create_team",
    "join": "join_team",
    "merge": "request_merge",
    "accept": "accept_merge",
    "leave": "leave_team",
    "code": "renew_team_code",
}


@router.post("/c/{cid}/team", response_class=HTMLResponse)
def team_action(
    request: Request,
    cid: str,
    action: Annotated[str, Form()],
    value: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    site = _site(request)
    viewer = _posted(request, csrf)
    assert viewer.name is not None
    method = TEAM_ACTIONS.get(action)
    if method is None:
        raise HarnessError(f"unknown team action '{action[:40]}'")
    board = site.board(cid)
    args = [value.strip()] if action in ("create", "join", "merge", "accept") else []
    try:
        getattr(board, method)(*args, participant=viewer.name)
    except HarnessError as exc:
        context = _team_context(site, viewer, cid)
        context["error"] = f"Error: {exc}"
        return _page(exc.status, site.render("team.html", LIVE, viewer, **context))
    return RedirectResponse(f"/c/{cid}/team", status_code=303)


# -- the host -----------------------------------------------------------------------------------


def _host_context(request: Request, site: Site, viewer: Viewer, cid: str) -> dict[str, Any]:
    if not viewer.is_host:
        raise Forbidden("only the host may open the host's page")
    board, head = _tab(site, cid)
    invitations = _invitations(request)
    people = site.people.list() if site.people is not None else []
    return {
        "comp": head,
        "facts": board.rules().facts,
        "lines": board.rules().lines,
        "people": [
            {"name": p.name, "role": p.role, "added": p.created_at, "revoked": p.revoked_at}
            for p in people
        ],
        "invitations": [] if invitations is None else [i.as_dict() for i in invitations.list()],
        "database": site.people is not None,
        "teams": [t.as_dict() for t in board.teams()],
        "error": "",
        "made": None,
        "title": f"{board.comp.title}: host",
    }


@router.get("/c/{cid}/host", response_class=HTMLResponse)
def host(request: Request, cid: str) -> HTMLResponse:
    return _shown(request, lambda s, v: ("host.html", _host_context(request, s, v, cid)))


def _number(text: str, what: str) -> Any:
    """KEEP for an empty field, None for "none", else a whole number ≥ 1."""
    value = text.strip().lower()
    if value == "":
        return KEEP
    if value == "none":
        return None
    if value.isdigit():
        return int(value)
    raise HarnessError(f"{what} must be a whole number or none, got '{text[:40]}'")


def _time(text: str) -> Any:
    value = text.strip()
    if value == "":
        return KEEP
    return None if value.lower() == "none" else value


@router.post("/c/{cid}/host", response_class=HTMLResponse)
def host_action(
    request: Request,
    cid: str,
    action: Annotated[str, Form()],
    csrf: Annotated[str, Form()] = "",
    daily_limit: Annotated[str, Form()] = "",
    deadline: Annotated[str, Form()] = "",
    selections: Annotated[str, Form()] = "",
    team_size: Annotated[str, Form()] = "",
    merger_deadline: Annotated[str, Form()] = "",
    ladder: Annotated[str, Form()] = "",
    uses: Annotated[str, Form()] = "30",
    days: Annotated[str, Form()] = "7",
    target: Annotated[str, Form()] = "",
) -> Response:
    site = _site(request)
    viewer = _posted(request, csrf)
    if not viewer.is_host:
        raise Forbidden("only the host may do this")
    board = site.board(cid)
    made = None
    failed: HarnessError | None = None
    try:
        if action == "rules":
            chosen = _number(selections, "selections")
            board.set_rules(
                daily_limit=_number(daily_limit, "the daily limit"),
                deadline=_time(deadline),
                selections=None if chosen in (KEEP, None) else chosen,
                ladder={"on": True, "off": False}.get(ladder),
                team_size=_number(team_size, "the team size"),
                merger_deadline=_time(merger_deadline),
            )
        elif action == "reveal":
            board.reveal()
        elif action in ("invite", "revoke-invitation", "reissue"):
            invitations = _invitations(request)
            if invitations is None:
                raise HarnessError("no participants' database here (local mode)")
            if action == "invite":
                count, span = float(uses or "nan"), float(days or "nan")
                if not (math.isfinite(count) and count == int(count) and math.isfinite(span)):
                    raise HarnessError(f"uses and days must be numbers, got {uses!r}, {days!r}")
                made = invitations.create(uses=int(count), days=span).as_dict()
            elif action == "reissue":
                made = invitations.reissue(target).as_dict()
            else:
                invitations.revoke(target)
        elif action == "revoke-participant":
            if site.people is None:
                raise HarnessError("no participants' database here (local mode)")
            site.people.revoke(target)
        else:
            raise HarnessError(f"unknown action '{action[:40]}'")
    except HarnessError as exc:
        failed = exc
    except ValueError as exc:  # a number or a time in the form that does not parse
        failed = InvalidValue(str(exc))
    if failed is not None:
        context = _host_context(request, site, viewer, cid)
        context["error"] = f"Error: {failed}"
        return _page(failed.status, site.render("host.html", LIVE, viewer, **context))
    if made is not None:  # the new code is shown on the page (and listed there after)
        context = _host_context(request, site, viewer, cid)
        context["made"] = made
        return _page(200, site.render("host.html", LIVE, viewer, **context))
    return RedirectResponse(f"/c/{cid}/host", status_code=303)


# -- sign-up ------------------------------------------------------------------------------------


@router.get("/signup", response_class=HTMLResponse)
def signup_form(request: Request, code: str = "") -> HTMLResponse:
    site = _site(request)
    check_host(site, request)
    viewer = site.viewer(request)
    body = site.render(
        "signup.html",
        LIVE,
        viewer,
        code=code[:64],
        chosen="",
        error="",
        token=None,
        title="Sign up",
    )
    return _page(200, body)


@router.post("/signup", response_class=HTMLResponse)
def signup(
    request: Request,
    code: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
) -> Response:
    from harness.server.site import ANONYMOUS

    site = _site(request)
    failed = check_attempt(site, request, "sign-up")
    invitations = _invitations(request)
    try:
        if invitations is None:
            raise HarnessError("sign-up needs the participants' database (not in local mode)")
        token = invitations.sign_up(code, name.strip())
    except HarnessError as exc:
        failed()
        body = site.render(
            "signup.html",
            LIVE,
            ANONYMOUS,
            code=code[:64],
            chosen=name[:64],
            error=f"Error: {exc}",
            token=None,
            title="Sign up",
        )
        return _page(exc.status, body)
    body = site.render(
        "signup.html",
        LIVE,
        site.signed(token),
        code="",
        chosen=name.strip(),
        error="",
        token=token,
        title="Signed up",
    )
    answer = _page(200, body)
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


__all__ = ["ALLOWED_SCHEMES", "ALLOWED_TAGS", "markdown", "router"]
