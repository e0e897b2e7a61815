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

import datetime as dt
import hashlib
import hmac
import math
import os
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from harness.errors import HarnessError
from harness.server import charts
from harness.server.participants import Participant, Participants
from harness.server.uploads import submit_upload
from harness.settings import Settings

if TYPE_CHECKING:
    import jinja2
    import pandas as pd

    from harness.competition import Competition

#: ``harness serve --local`` sets it to the local participant's name: no tokens, loopback only.
LOCAL_ENV = "HARNESS_LOCAL_PARTICIPANT"
COOKIE = "harness_token"
HERE = Path(__file__).resolve().parent
TEMPLATES, STATIC = HERE / "templates", HERE / "static"
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
SECURITY_HEADERS = {
    # no script, no inline style, nothing from elsewhere; forms post only here
    "content-security-policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}


class PageError(Exception):
    """A page refused (401, 403, 404) or a request it cannot take (400)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


# -- links: live ("/c/titanic") or exported (relative files) ----------------------------------


@dataclass(frozen=True)
class Links:
    """Where each page is: the server's routes, or the exported files ``depth`` folders down."""

    export: bool = False
    depth: int = 0

    def _up(self) -> str:
        return "../" * self.depth

    def home(self) -> str:
        return self._up() + "index.html" if self.export else "/"

    def static(self, name: str) -> str:
        return f"{self._up()}static/{name}" if self.export else f"/static/{name}"

    def board(self, cid: str, private: bool = False) -> str:
        if self.export:
            return f"{self._up()}{cid}/{'private' if private else 'index'}.html"
        return f"/c/{quote(cid)}" + ("?view=private" if private else "")

    def shakeup(self, cid: str) -> str:
        return f"{self._up()}{cid}/shakeup.html" if self.export else f"/c/{quote(cid)}/shakeup"

    def baselines(self, cid: str) -> str:
        return f"{self._up()}{cid}/baselines.html" if self.export else f"/c/{quote(cid)}/baselines"

    def submissions(self, cid: str, participant: str | None = None) -> str | None:
        if self.export:
            return None
        tail = f"?participant={quote(participant, safe='')}" if participant else ""
        return f"/c/{quote(cid)}/submissions{tail}"

    def submit(self, cid: str) -> str | None:
        return None if self.export else f"/c/{quote(cid)}/submit"

    def signin(self) -> str | None:
        return None if self.export else "/signin"


# -- who is looking -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Viewer:
    who: Participant | None
    csrf: str = ""
    local: bool = False
    stale_token: bool = False  # a cookie whose token is unknown or revoked

    @property
    def name(self) -> str | None:
        return None if self.who is None else self.who.name

    @property
    def is_host(self) -> bool:
        return self.who is not None and self.who.is_host


ANONYMOUS = Viewer(None)


@dataclass
class Site:
    """What the pages need: the settings, the participants, the templates, local mode."""

    settings: Settings
    people: Participants | None
    local: str | None = None
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    env: jinja2.Environment = field(init=False)

    def __post_init__(self) -> None:
        import jinja2

        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(TEMPLATES)),
            autoescape=True,  # names and messages are data: every {{ }} is escaped
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters.update(score=_score, when=_when, pct=_pct)

    def board(self) -> Any:
        from leaderboard import Leaderboard

        return Leaderboard(self.settings)

    def viewer(self, request: Request) -> Viewer:
        if self.local is not None:
            who = Participant(self.local, "host", dt.datetime.now(dt.UTC))
            return Viewer(who, _mac(self.secret, "local"), local=True)
        token = request.cookies.get(COOKIE, "")
        if not token:
            header = request.headers.get("authorization", "")
            scheme, _, rest = header.partition(" ")
            token = rest.strip() if scheme.lower() == "bearer" else ""
        if not token or self.people is None:
            return ANONYMOUS
        found = self.people.identify(token)
        if found is None:
            return Viewer(None, stale_token=True)
        return Viewer(found, _mac(token.encode(), "csrf"))

    def render(self, name: str, links: Links, viewer: Viewer, **context: Any) -> str:
        return self.env.get_template(name).render(
            links=links, viewer=viewer, export=links.export, **context
        )


def _mac(key: bytes, what: str) -> str:
    return hmac.new(key, what.encode(), hashlib.sha256).hexdigest()[:32]


# -- formatting ---------------------------------------------------------------------------------


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _score(value: Any, digits: int = 5) -> str:
    return "–" if _missing(value) else f"{float(value):.{digits}f}"


def _pct(value: Any) -> str:
    return "–" if _missing(value) else f"{100 * float(value):.0f}%"


def _when(value: Any) -> str:
    """A time as ``2026-05-01 12:30 UTC``: from ms since the epoch, a datetime or a string."""
    import pandas as pd

    if _missing(value) or value == "":
        return "–"
    if isinstance(value, int | float):
        value = pd.Timestamp(int(value), unit="ms", tz="UTC")
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.strftime("%Y-%m-%d %H:%M UTC")


def _rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {k: (None if _missing(v) else v) for k, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]


# -- what each page shows -----------------------------------------------------------------------


def _competition(cid: str) -> Competition:
    from harness.registry import get_competition

    return get_competition(cid)


def _hosted() -> list[Competition]:
    from harness.registry import competitions

    return list(competitions().values())


def competitions_context(site: Site, viewer: Viewer) -> dict[str, Any]:
    from harness.data.preparation import manifest_or_none
    from leaderboard.board import Snapshot, standings
    from leaderboard.index import entries
    from leaderboard.rules import day_start, now_utc, stamp

    board, now, cards = site.board(), now_utc(), []
    for comp in _hosted():
        if manifest_or_none(comp, site.settings) is None:
            continue  # only what the host prepared is shown
        snap = Snapshot.read(board, comp)
        scored = entries(snap.records)
        rules = snap.rules
        card: dict[str, Any] = {
            "id": comp.id,
            "title": comp.title,
            "task": comp.task.value.replace("_", " "),
            "metric": comp.metric.name,
            "direction": comp.metric.direction,
            "phase": rules.phase(now),
            "deadline": None if rules.deadline is None else stamp(rules.deadline),
            "time_left": _time_left(rules, now),
            "participants": int(scored["participant"].nunique()) if len(scored) else 0,
            "submissions": len(scored),
            "rank": None,
            "left_today": None,
            "daily_limit": rules.daily_limit,
        }
        if viewer.name is not None:
            table = standings(board, comp, stats=False)
            mine = table[table["participant"] == viewer.name]
            card["rank"] = int(mine["rank"].iloc[0]) if len(mine) else None
            card["of"] = len(table)
            if rules.daily_limit is not None:
                used = board.count_since(comp, viewer.name, day_start(now))
                card["left_today"] = max(rules.daily_limit - used, 0)
        cards.append(card)
    return {"cards": cards, "title": "Competitions"}


def _header(comp: Competition, rules: Any, now: dt.datetime) -> dict[str, Any]:
    from leaderboard.rules import stamp

    return {
        "id": comp.id,
        "title": comp.title,
        "metric": comp.metric.name,
        "direction": comp.metric.direction,
        "phase": rules.phase(now),
        "deadline": None if rules.deadline is None else stamp(rules.deadline),
        "time_left": _time_left(rules, now),
        "private_open": not rules.hides_private(now),
        "ended": rules.ended(now),
    }


def _time_left(rules: Any, now: dt.datetime) -> str | None:
    from leaderboard.rules import stamp, until

    if rules.ended(now) and rules.end is not None:
        return f"ended {stamp(rules.end)}"
    return None if rules.deadline is None else until(rules.deadline, now)


def board_context(site: Site, viewer: Viewer, cid: str, *, private: bool) -> dict[str, Any]:
    from leaderboard.board import standings
    from leaderboard.rules import now_utc

    comp, board, now = _competition(cid), site.board(), now_utc()
    rules = board.rules(comp)
    if private and rules.hides_private(now):
        raise PageError(403, rules.private_refusal(comp.id, now))
    frame = standings(board, comp, private=private)
    rows = _rows(frame)
    finite: list[float] = [
        float(v)
        for r in rows
        for v in (r.get("low"), r.get("high"), r.get("score"))
        if v is not None and not _missing(v)
    ]
    axis = (min(finite), max(finite)) if finite else (0.0, 1.0)
    for r in rows:
        r["bar"] = charts.interval_bar(r.get("score"), r.get("low"), r.get("high"), axis)
        r["baseline"] = str(r["participant"]).startswith("baseline/")
        r["you"] = r["participant"] == viewer.name
        cls = r.get("class")
        r["tie"] = "" if cls is None else f"={int(cls)}"
    holds = [r["holds"] for r in rows if r.get("holds") is not None]
    shakeup = frame.attrs.get("shakeup")
    return {
        "comp": _header(comp, rules, now),
        "view": "private" if private else "public",
        "rows": rows,
        "medals": "medal" in frame.columns,
        "note": frame.attrs.get("note", ""),
        "forecast": {"keep": sum(holds), "of": len(holds)} if holds else None,
        "shakeup": shakeup,
        "axis": axis,
        "title": f"{comp.title}: {'private' if private else 'public'} leaderboard",
    }


def shakeup_context(site: Site, viewer: Viewer, cid: str) -> dict[str, Any]:
    from leaderboard.board import standings
    from leaderboard.rules import now_utc

    comp, board, now = _competition(cid), site.board(), now_utc()
    rules = board.rules(comp)
    if not rules.ended(now):
        raise PageError(
            403, f"the shake-up of {comp.id} is shown after the end of the competition"
        )
    frame = standings(board, comp, private=True)
    rows = _rows(frame)
    moves = []
    for r in rows:
        public = r.get("public_rank")
        if public is None and r.get("change") is not None and r.get("rank") is not None:
            public = int(r["rank"]) + int(r["change"])
        if public is None:
            continue
        moves.append(
            charts.Move(
                str(r["participant"]),
                int(public),
                None if r.get("rank") is None or r.get("score") is None else int(r["rank"]),
            )
        )
        r["public_rank_shown"] = int(public)
    shakeup = frame.attrs.get("shakeup")
    bars = None
    if shakeup:
        bars = charts.compare(
            [
                ("actual mean |rank change|", float(shakeup["mean_abs_change"])),
                ("forecast from public rows", float(shakeup["forecast_mean_abs_change"])),
            ],
            unit="places",
        )
    return {
        "comp": _header(comp, rules, now),
        "rows": rows,
        "slope": charts.slope(sorted(moves, key=lambda m: m.public_rank)),
        "bars": bars,
        "shakeup": shakeup,
        "title": f"{comp.title}: shake-up",
    }


def submissions_context(
    site: Site, viewer: Viewer, cid: str, participant: str | None
) -> dict[str, Any]:
    from leaderboard.board import submissions
    from leaderboard.rules import now_utc

    if viewer.who is None:
        raise PageError(401, "sign in to read your submissions")
    if participant not in (None, "", viewer.name) and not viewer.is_host:
        raise PageError(403, "you may read only your own submissions")
    who = participant or viewer.name
    comp, board, now = _competition(cid), site.board(), now_utc()
    rules = board.rules(comp)
    frame = submissions(board, comp, who)
    rows = _rows(frame)
    points = []
    for r in rows:
        t = r["submitted_at"].timestamp()
        if r["status"] in ("complete", "late"):
            points.append(charts.Point(t, r.get("public_score"), r.get("cv_score")))
    return {
        "comp": _header(comp, rules, now),
        "rows": rows,
        "participant": who,
        "own": who == viewer.name,
        "can_select": who == viewer.name and not rules.ended(now),
        "selections": rules.selections,
        "has_cv": "cv_score" in frame.columns,
        "has_private": "private_score" in frame.columns,
        "plot": charts.history(
            points, greater_is_better=comp.metric.greater_is_better, metric=comp.metric.name
        ),
        "title": f"{comp.title}: submissions of {who}",
    }


def baselines_context(site: Site, viewer: Viewer, cid: str) -> dict[str, Any]:
    from leaderboard.rules import now_utc
    from leaderboard.schema import EXPERIMENT_PREFIX

    comp, board, now = _competition(cid), site.board(), now_utc()
    rules = board.rules(comp)
    client = board.client
    experiment = client.get_experiment_by_name(EXPERIMENT_PREFIX + comp.id)
    studies: list[dict[str, Any]] = []
    if experiment is not None:
        runs = client.search_runs(
            [experiment.experiment_id],
            "tags.`harness.study` LIKE '%'",
            max_results=500,
            order_by=["attributes.start_time DESC"],
        )
        for run in runs:
            if "mlflow.parentRunId" in run.data.tags:
                continue  # a trial, not a study
            start, end = run.info.start_time, run.info.end_time
            storage = run.data.params.get("storage", "")
            studies.append(
                {
                    "study": run.data.tags.get("harness.study", ""),
                    "model": run.data.tags.get("harness.model", run.data.params.get("model", "")),
                    "best": run.data.metrics.get("best_cv_score"),
                    "trials": run.data.metrics.get("trials"),
                    "status": run.info.status.lower(),
                    "started": start,
                    "seconds": None if not end else (end - start) / 1000,
                    "mlflow": _mlflow_link(site.settings, experiment.experiment_id, run),
                    "storage": storage,
                }
            )
    journal = site.settings.home / "optuna" / f"{comp.id}.journal"
    return {
        "comp": _header(comp, rules, now),
        "studies": studies,
        "journal": str(journal),
        "ui": site.settings.tracking_uri.startswith("sqlite:"),
        "title": f"{comp.title}: baselines",
    }


def _mlflow_link(settings: Settings, experiment: str, run: Any) -> str:
    """The run in the MLflow UI: `harness ui` (port 5000) over a sqlite store, else the
    tracking server itself."""
    uri = settings.tracking_uri
    base = uri.rstrip("/") if uri.startswith(("http:", "https:")) else "http://127.0.0.1:5000"
    return f"{base}/#/experiments/{experiment}/runs/{run.info.run_id}"


# -- the routes ---------------------------------------------------------------------------------


def add_pages(
    app: Any,
    settings: Settings,
    *,
    local: str | None = None,
) -> Site:
    """Add the pages to the API's app (``/``, ``/c/{id}``, …, ``/static``); return the site."""
    from starlette.staticfiles import StaticFiles

    local = local if local is not None else (os.environ.get(LOCAL_ENV) or None)
    people = getattr(app.state, "people", None)
    site = Site(settings, people if isinstance(people, Participants) else None, local)
    router = APIRouter(include_in_schema=False)
    live = Links()

    def page(status: int, body: str) -> HTMLResponse:
        return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)

    def refused(request: Request, viewer: Viewer, exc: Exception, status: int) -> HTMLResponse:
        body = site.render(
            "error.html",
            live,
            viewer,
            status=status,
            message=str(exc),
            title="Refused" if status in (401, 403) else "Not found" if status == 404 else "Error",
            next=request.url.path,
        )
        return page(status, body)

    def guarded(
        request: Request, make: Callable[[Viewer], tuple[str, dict[str, Any]]]
    ) -> HTMLResponse:
        from harness.errors import NotPrepared, RuleBroken, UnknownCompetition

        _check_host(site, request)
        viewer = site.viewer(request)
        try:
            template, context = make(viewer)
        except PageError as exc:
            return refused(request, viewer, exc, exc.status)
        except (UnknownCompetition, NotPrepared) as exc:
            return refused(request, viewer, exc, 404)
        except RuleBroken as exc:
            return refused(request, viewer, exc, 403)
        except HarnessError as exc:
            return refused(request, viewer, exc, 400)
        return page(200, site.render(template, live, viewer, **context))

    def posted(request: Request, csrf: str) -> Viewer:
        _check_host(site, request)
        _check_origin(request)
        viewer = site.viewer(request)
        if viewer.who is None:
            raise PageError(401, "sign in first")
        if not hmac.compare_digest(csrf, viewer.csrf):
            raise PageError(403, "the form is stale or from another site: reload and try again")
        return viewer

    @router.get("/", response_class=HTMLResponse)
    def home(request: Request) -> HTMLResponse:
        return guarded(request, lambda v: ("competitions.html", competitions_context(site, v)))

    @router.get("/c/{cid}", response_class=HTMLResponse)
    def leaderboard(request: Request, cid: str, view: str = "public") -> HTMLResponse:
        private = view == "private"
        return guarded(
            request, lambda v: ("leaderboard.html", board_context(site, v, cid, private=private))
        )

    @router.get("/c/{cid}/shakeup", response_class=HTMLResponse)
    def shakeup(request: Request, cid: str) -> HTMLResponse:
        return guarded(request, lambda v: ("shakeup.html", shakeup_context(site, v, cid)))

    @router.get("/c/{cid}/baselines", response_class=HTMLResponse)
    def baselines(request: Request, cid: str) -> HTMLResponse:
        return guarded(request, lambda v: ("baselines.html", baselines_context(site, v, cid)))

    @router.get("/c/{cid}/submissions", response_class=HTMLResponse)
    def mine(request: Request, cid: str, participant: str | None = None) -> HTMLResponse:
        return guarded(
            request,
            lambda v: ("submissions.html", submissions_context(site, v, cid, participant)),
        )

    @router.get("/c/{cid}/submit", response_class=HTMLResponse)
    def submit_form(request: Request, cid: str) -> HTMLResponse:
        def make(viewer: Viewer) -> tuple[str, dict[str, Any]]:
            if viewer.who is None:
                raise PageError(401, "sign in to submit")
            return "submit.html", _submit_page(site, cid)

        return guarded(request, make)

    @router.post("/c/{cid}/submit", response_class=HTMLResponse)
    def submit(
        request: Request,
        cid: str,
        file: Annotated[UploadFile, File()],
        csrf: Annotated[str, Form()] = "",
        message: Annotated[str, Form()] = "",
        cv: Annotated[str, Form()] = "",
    ) -> HTMLResponse:
        from harness.errors import InvalidSubmission, LimitReached, UnknownCompetition

        try:
            viewer = posted(request, csrf)
        except PageError as exc:
            return refused(request, site.viewer(request), exc, exc.status)
        try:
            context = _submit_page(site, cid, message=message, cv=cv)
        except UnknownCompetition as exc:
            return refused(request, viewer, exc, 404)
        try:
            value = float(cv) if cv.strip() else None
            if value is not None and not math.isfinite(value):
                raise ValueError
        except ValueError:
            context["error"] = f"Error: --cv must be a number, got '{cv[:40]}'"
            return page(422, site.render("submit.html", live, viewer, **context))
        try:
            assert viewer.name is not None
            got = _record_upload(site, context["comp_obj"], file, viewer.name, message, value)
        except HarnessError as exc:
            status = 400
            if isinstance(exc, InvalidSubmission):
                status = 422
            elif isinstance(exc, LimitReached):
                status = 429
            context["error"] = f"Error: {exc}"  # as the CLI prints it
            return page(status, site.render("submit.html", live, viewer, **context))
        context["result"] = got
        context["message"] = ""
        return page(200, site.render("submit.html", live, viewer, **context))

    @router.post("/c/{cid}/select")
    def select(
        request: Request,
        cid: str,
        submission: Annotated[str, Form()],
        selected: Annotated[str, Form()] = "yes",
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        from leaderboard.referee import select as choose

        try:
            viewer = posted(request, csrf)
            assert viewer.name is not None
            choose(
                site.board(),
                _competition(cid),
                viewer.name,
                submission,
                selected=selected == "yes",
            )
        except PageError as exc:
            return refused(request, site.viewer(request), exc, exc.status)
        except HarnessError as exc:
            return refused(request, site.viewer(request), exc, 403)
        return RedirectResponse(f"/c/{quote(cid)}/submissions", status_code=303)

    @router.get("/signin", response_class=HTMLResponse)
    def signin_form(request: Request, next: str = "/") -> HTMLResponse:
        _check_host(site, request)
        viewer = site.viewer(request)
        body = site.render(
            "signin.html", live, viewer, next=_local_path(next), error="", title="Sign in"
        )
        return page(200, body)

    @router.post("/signin", response_class=HTMLResponse)
    def signin(
        request: Request,
        token: Annotated[str, Form()] = "",
        next: Annotated[str, Form()] = "/",
    ) -> Response:
        _check_host(site, request)
        try:
            _check_origin(request)
        except PageError as exc:
            return refused(request, ANONYMOUS, exc, exc.status)
        token = token.strip()
        found = site.people.identify(token) if site.people is not None and token else None
        if found is None:
            body = site.render(
                "signin.html",
                live,
                ANONYMOUS,
                next=_local_path(next),
                error="Error: unknown or revoked token (HARNESS_TOKEN)",
                title="Sign in",
            )
            return page(401, body)
        answer = RedirectResponse(_local_path(next), status_code=303)
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
        _check_host(site, request)
        answer = RedirectResponse("/", status_code=303)
        answer.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return answer

    app.include_router(router)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    def page_refused(request: Request, exc: Exception) -> HTMLResponse:
        assert isinstance(exc, PageError)
        return refused(request, ANONYMOUS, exc, exc.status)

    app.add_exception_handler(PageError, page_refused)
    app.state.site = site
    return site


def _check_host(site: Site, request: Request) -> None:
    """Local mode: answer only requests addressed to a loopback name (no DNS rebinding)."""
    if site.local is None:
        return
    host = (request.headers.get("host") or "").rsplit(":", 1)[0]
    if host.strip("[]") not in {h.strip("[]") for h in LOOPBACK}:
        raise PageError(403, "the local pages answer only on 127.0.0.1")


def _check_origin(request: Request) -> None:
    """Refuse a POST whose Origin (or Referer) names another site than this one."""
    host = request.headers.get("host", "")
    origin = request.headers.get("origin")
    claimed = origin if origin is not None else request.headers.get("referer")
    if claimed is None:
        return  # not a browser's form (a browser sends Origin with every POST)
    if claimed == "null" or urlsplit(claimed).netloc != host:
        raise PageError(403, "a form from another site was refused")


def _local_path(path: str) -> str:
    """Only a path on this site (no scheme, no host, no ``//``): no open redirect."""
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path


def _submit_page(site: Site, cid: str, *, message: str = "", cv: str = "") -> dict[str, Any]:
    from leaderboard.rules import now_utc

    comp, now = _competition(cid), now_utc()
    rules = site.board().rules(comp)
    return {
        "comp": _header(comp, rules, now),
        "comp_obj": comp,
        "rules": rules.describe(comp.id, now),
        "message": message,
        "cv": cv,
        "error": "",
        "result": None,
        "title": f"{comp.title}: submit",
    }


def _record_upload(
    site: Site,
    comp: Competition,
    file: UploadFile,
    participant: str,
    message: str,
    cv: float | None,
) -> dict[str, Any]:
    """Submit the upload as the API does (:func:`harness.server.uploads.submit_upload`)."""
    return submit_upload(
        comp, site.settings, file, participant=participant, message=message, cv=cv
    )


# -- the static export --------------------------------------------------------------------------


def export(settings: Settings, folder: Path) -> list[Path]:
    """Write the public pages as plain HTML under ``folder`` (a course site): the competitions,
    each public board, the private board and the shake-up once open, the baselines; the
    stylesheet beside them. Return the files written."""
    from harness.errors import RuleBroken

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
