"""Sign-up for a class: the host makes an invitation (a code with an expiry and a number of
uses); a participant signs up on the web with it and a name of their choice and is shown their
token once. Invitations live in the Harness database beside the participants
(:mod:`harness.server.participants`), and a sign-up is one transaction: the use is counted and
the participant added together, or neither (a name taken leaves the use unspent).

The code is kept as it is (the host lists it to hand it out): it lets someone sign up, nothing
more, and only until it expires, runs out or is revoked. Re-issuing revokes a code and makes a
new one with the same uses left and expiry.

:class:`Attempts` limits sign-in and sign-up attempts per client address in this process: a
client with :data:`FAILURES` failed attempts within :data:`WINDOW_S` seconds is refused (429)
until the oldest of them is that old. Only failures count, so a class behind one address signs
in and up at once; a guesser gets ten tries per ten minutes.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from harness.errors import HarnessError, NotFound
from harness.server.participants import ParticipantError, Participants

CODE_PREFIX = "inv_"
FAILURES = 10  # failed sign-in or sign-up attempts per client address …
WINDOW_S = 600.0  # … within this many seconds
MAX_USES = 10_000
MAX_DAYS = 366


class TooManyAttempts(HarnessError):
    """A client over :data:`FAILURES` failed attempts in :data:`WINDOW_S` seconds."""

    status = 429


class InvitationError(HarnessError):
    """An invitation code that cannot be used: unknown, revoked, expired or used up."""

    status = 403


@dataclass(frozen=True)
class Invitation:
    id: str  # 8 hex digits: how the host names it
    code: str
    max_uses: int
    uses: int
    expires_at: dt.datetime
    created_at: dt.datetime
    revoked_at: dt.datetime | None = None

    def state(self, now: dt.datetime | None = None) -> str:
        now = now or dt.datetime.now(dt.UTC)
        if self.revoked_at is not None:
            return "revoked"
        if _aware(self.expires_at) <= now:
            return "expired"
        if self.uses >= self.max_uses:
            return "used up"
        return "open"

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "code": self.code,
            "uses": self.uses,
            "max_uses": self.max_uses,
            "expires_at": _aware(self.expires_at).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "state": self.state(),
        }


def _aware(when: dt.datetime) -> dt.datetime:
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when


class Invitations:
    """The host's invitation codes, in the Harness database."""

    def __init__(self, people: Participants) -> None:
        import sqlalchemy as sa

        self.people = people
        self.engine = people.engine
        meta = sa.MetaData()
        self.table = sa.Table(
            "harness_invitations",
            meta,
            sa.Column("id", sa.String(16), primary_key=True),
            sa.Column("code", sa.String(64), nullable=False, unique=True),
            sa.Column("max_uses", sa.Integer, nullable=False),
            sa.Column("uses", sa.Integer, nullable=False),
            sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        )
        # made meanwhile by another worker: as the participants' table
        with contextlib.suppress(sa.exc.IntegrityError, sa.exc.ProgrammingError):
            meta.create_all(self.engine, checkfirst=True)

    def create(self, *, uses: int, days: float) -> Invitation:
        """A new code for ``uses`` sign-ups within ``days`` days."""
        import sqlalchemy as sa

        if not 1 <= uses <= MAX_USES:
            raise InvitationError(f"uses must be between 1 and {MAX_USES:,}, got {uses}")
        if not 0 < days <= MAX_DAYS:
            raise InvitationError(f"the expiry must be within {MAX_DAYS} days, got {days:g}")
        now = dt.datetime.now(dt.UTC)
        made = Invitation(
            secrets.token_hex(4),
            CODE_PREFIX + secrets.token_urlsafe(12),
            uses,
            0,
            now + dt.timedelta(days=days),
            now,
        )
        with self.engine.begin() as conn:
            conn.execute(
                sa.insert(self.table).values(
                    id=made.id,
                    code=made.code,
                    max_uses=uses,
                    uses=0,
                    expires_at=made.expires_at,
                    created_at=now,
                    revoked_at=None,
                )
            )
        return made

    def list(self) -> list[Invitation]:
        import sqlalchemy as sa

        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(self.table).order_by(self.table.c.created_at, self.table.c.id)
            ).all()
        return [_row(r) for r in rows]

    def get(self, ident: str) -> Invitation:
        for found in self.list():
            if found.id == ident.strip():
                return found
        raise NotFound(f"no invitation {ident[:20]}: `harness invitations list` shows them")

    def revoke(self, ident: str) -> Invitation:
        import sqlalchemy as sa

        found = self.get(ident)
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(self.table)
                .where(self.table.c.id == found.id, self.table.c.revoked_at.is_(None))
                .values(revoked_at=dt.datetime.now(dt.UTC))
            )
        return self.get(ident)

    def reissue(self, ident: str) -> Invitation:
        """Revoke ``ident`` and make a new code with the uses it had left and its expiry (a
        week from now where it had expired)."""
        old = self.revoke(ident)
        now = dt.datetime.now(dt.UTC)
        left = max(old.max_uses - old.uses, 1)
        expires = _aware(old.expires_at)
        days = (expires - now).total_seconds() / 86400 if expires > now else 7.0
        return self.create(uses=left, days=min(days, MAX_DAYS))

    def sign_up(self, code: str, name: str) -> str:
        """Use ``code`` to add the participant ``name``; return their token (shown once)."""
        import sqlalchemy as sa

        from harness.board.service import check_participant

        check_participant(name)
        code = code.strip()
        now = dt.datetime.now(dt.UTC)
        t = self.table
        try:
            with self.engine.begin() as conn:
                done = conn.execute(
                    sa.update(t)
                    .where(
                        t.c.code == code,
                        t.c.revoked_at.is_(None),
                        t.c.uses < t.c.max_uses,
                        t.c.expires_at > now,
                    )
                    .values(uses=t.c.uses + 1)
                )
                if done.rowcount != 1:
                    raise InvitationError(self._why(conn, code, now))
                return self.people.add_in(conn, name, role="participant")
        except ParticipantError:
            raise ParticipantError(
                f"the name '{name}' is taken: choose another (your code was not used)"
            ) from None

    def _why(self, conn: object, code: str, now: dt.datetime) -> str:
        import sqlalchemy as sa

        row = conn.execute(sa.select(self.table).where(self.table.c.code == code)).first()  # type: ignore[attr-defined]
        if row is None or len(code) > 64:
            return "unknown invitation code: ask the host for one"
        return f"this invitation code is {_row(row).state(now)}: ask the host for a new one"


def _row(r: object) -> Invitation:
    return Invitation(
        r.id,  # type: ignore[attr-defined]
        r.code,  # type: ignore[attr-defined]
        r.max_uses,  # type: ignore[attr-defined]
        r.uses,  # type: ignore[attr-defined]
        _aware(r.expires_at),  # type: ignore[attr-defined]
        _aware(r.created_at),  # type: ignore[attr-defined]
        None if r.revoked_at is None else _aware(r.revoked_at),  # type: ignore[attr-defined]
    )


class Attempts:
    """Failed attempts per client address in a sliding window (this process only)."""

    def __init__(self, failures: int = FAILURES, window_s: float = WINDOW_S) -> None:
        self.failures, self.window_s = failures, window_s
        self._seen: dict[str, collections.deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, client: str, what: str) -> None:
        """Raise :class:`TooManyAttempts` while ``client`` is over the limit."""
        now = time.monotonic()
        with self._lock:
            seen = self._seen.get(client)
            if not seen:
                return
            while seen and now - seen[0] > self.window_s:
                seen.popleft()
            if len(seen) >= self.failures:
                wait = int(self.window_s - (now - seen[0])) + 1
                raise TooManyAttempts(
                    f"too many failed {what} attempts from your address ({len(seen)} in "
                    f"{self.window_s / 60:g} min; at most {self.failures}): try again in {wait} s"
                )

    def failed(self, client: str) -> None:
        with self._lock:
            self._seen.setdefault(client, collections.deque()).append(time.monotonic())
            if len(self._seen) > 100_000:  # bounded memory under a flood of addresses
                self._seen.pop(next(iter(self._seen)))


def attempts_of(request: Any) -> Attempts:
    """The app's one :class:`Attempts` (made on first use)."""
    found: Attempts | None = getattr(request.app.state, "attempts", None)
    if found is None:
        found = request.app.state.attempts = Attempts()
    return found


def client_address(request: Any) -> str:
    return request.client.host if request.client is not None else "unknown"
