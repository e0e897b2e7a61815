"""Who looks at the pages and how they are drawn: the links (live or exported), the viewer
(anonymous, a participant by cookie or token, the local participant), the templates with their
filters, and the checks every request passes (loopback host in local mode, same-origin POSTs,
local redirects). The pages themselves are :mod:`harness.server.pages`; what each shows is
:mod:`harness.server.views`."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from fastapi import Request

from harness.board.service import Board
from harness.errors import Forbidden
from harness.server.participants import Participant, Participants
from harness.settings import Settings

if TYPE_CHECKING:
    import jinja2
    import pandas as pd

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

    # the competition's own pages (:mod:`harness.server.classroom`): live only
    def tab(self, cid: str, name: str) -> str | None:
        """``overview``, ``data``, ``rules``, ``team`` or ``host`` (None in an export)."""
        return None if self.export else f"/c/{quote(cid)}/{name}"

    def signup(self) -> str | None:
        return None if self.export else "/signup"


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

    def board(self, cid: str) -> Board:
        """The named competition's board service (404 for an unknown name)."""
        return Board(cid, self.settings)

    def viewer(self, request: Request) -> Viewer:
        if self.local is not None:
            who = Participant(self.local, "host", dt.datetime.now(dt.UTC))
            return Viewer(who, _mac(self.secret, "local"), local=True)
        token = request.cookies.get(COOKIE, "")
        if not token:
            header = request.headers.get("authorization", "")
            scheme, _, rest = header.partition(" ")
            token = rest.strip() if scheme.lower() == "bearer" else ""
        return self.signed(token)

    def signed(self, token: str) -> Viewer:
        """The viewer a token names (ANONYMOUS without one; stale where unknown or revoked)."""
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


def missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _score(value: Any, digits: int = 5) -> str:
    return "–" if missing(value) else f"{float(value):.{digits}f}"


def _pct(value: Any) -> str:
    return "–" if missing(value) else f"{100 * float(value):.0f}%"


def _when(value: Any) -> str:
    """A time as ``2026-05-01 12:30 UTC``: from ms since the epoch, a datetime or a string."""
    import pandas as pd

    if missing(value) or value == "":
        return "–"
    if isinstance(value, int | float):
        value = pd.Timestamp(int(value), unit="ms", tz="UTC")
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.strftime("%Y-%m-%d %H:%M UTC")


def rows_of(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {k: (None if missing(v) else v) for k, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]


# -- the checks ---------------------------------------------------------------------------------


def check_host(site: Site, request: Request) -> None:
    """Local mode: answer only requests addressed to a loopback name (no DNS rebinding)."""
    if site.local is None:
        return
    host = (request.headers.get("host") or "").rsplit(":", 1)[0]
    if host.strip("[]") not in {h.strip("[]") for h in LOOPBACK}:
        raise Forbidden("the local pages answer only on 127.0.0.1")


def check_origin(request: Request) -> None:
    """Refuse a POST whose Origin (or Referer) names another site than this one."""
    host = request.headers.get("host", "")
    origin = request.headers.get("origin")
    claimed = origin if origin is not None else request.headers.get("referer")
    if claimed is None:
        return  # not a browser's form (a browser sends Origin with every POST)
    if claimed == "null" or urlsplit(claimed).netloc != host:
        raise Forbidden("a form from another site was refused")


def check_attempt(site: Site, request: Request, what: str) -> Callable[[], None]:
    """The guard before a sign-in or a sign-up form is read: the host and the origin checked,
    429 while this client's address is over its failed ``what`` attempts. Answers the call
    that counts a failure against the address."""
    from harness.server.signup import attempts_of, client_address

    check_host(site, request)
    check_origin(request)
    attempts, address = attempts_of(request), client_address(request)
    attempts.check(address, what)
    return lambda: attempts.failed(address)


def local_path(path: str) -> str:
    """Only a path on this site (no scheme, no host, no ``//``): no open redirect."""
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path
