"""Hosted participants and their tokens, in the Harness database
(:attr:`harness.settings.Settings.database_uri`: PostgreSQL for a team, sqlite on one machine).

A token is 256 random bits (``secrets.token_urlsafe(32)`` behind a ``hst_`` prefix), printed
once when the participant is added and stored only as its SHA-256: a stolen database holds no
usable token. A token is looked up by its hash and the hashes compared in constant time;
revoking sets ``revoked_at`` and the next request with it is refused.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from harness.errors import HarnessError
from harness.files import engine
from harness.settings import Settings

TOKEN_PREFIX = "hst_"
ROLES = ("participant", "host")


class ParticipantError(HarnessError):
    """A participant that cannot be added, found or revoked."""


@dataclass(frozen=True)
class Participant:
    name: str
    role: str  # participant or host
    created_at: dt.datetime
    revoked_at: dt.datetime | None = None

    @property
    def is_host(self) -> bool:
        return self.role == "host"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Participants:
    def __init__(self, settings: Settings) -> None:
        import sqlalchemy as sa

        self.uri = settings.database_uri
        if self.uri.startswith("sqlite:///"):
            from pathlib import Path

            settings.ensure_home()
            folder = Path(self.uri.removeprefix("sqlite:///")).parent
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.engine = engine(self.uri)
        meta = sa.MetaData()
        self.table = sa.Table(
            "harness_participants",
            meta,
            sa.Column("name", sa.String(64), primary_key=True),
            sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
            sa.Column("role", sa.String(16), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        )
        try:
            meta.create_all(self.engine, checkfirst=True)
        except sa.exc.IntegrityError:  # created by another worker at the same moment
            pass
        except sa.exc.ProgrammingError:  # ditto, as PostgreSQL reports it
            pass
        except sa.exc.OperationalError as exc:
            raise ParticipantError(
                f"the Harness database {self.uri} cannot be used: {exc}"
            ) from exc

    def add(self, name: str, *, role: str = "participant") -> str:
        """Add ``name`` and return its token (shown once; only its hash is kept)."""
        with self.engine.begin() as conn:
            return self.add_in(conn, name, role=role)

    def add_in(self, conn: Any, name: str, *, role: str = "participant") -> str:
        """:meth:`add` inside the transaction ``conn`` (a sign-up counts its code's use in
        the same one)."""
        import sqlalchemy as sa

        from harness.board.service import check_participant

        check_participant(name)
        if role not in ROLES:
            raise ParticipantError(f"role must be one of {', '.join(ROLES)}, got {role}")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = {
            "name": name,
            "token_sha256": _hash(token),
            "role": role,
            "created_at": dt.datetime.now(dt.UTC),
            "revoked_at": None,
        }
        try:
            conn.execute(sa.insert(self.table).values(**row))
        except sa.exc.IntegrityError:
            raise ParticipantError(
                f"participant '{name}' exists: revoke them first to issue a new token"
            ) from None
        return token

    def revoke(self, name: str) -> None:
        import sqlalchemy as sa

        with self.engine.begin() as conn:
            done = conn.execute(
                sa.update(self.table)
                .where(self.table.c.name == name, self.table.c.revoked_at.is_(None))
                .values(revoked_at=dt.datetime.now(dt.UTC))
            )
        if done.rowcount == 0:
            raise ParticipantError(f"no active participant '{name}'")

    def list(self) -> list[Participant]:
        import sqlalchemy as sa

        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(self.table).order_by(self.table.c.name)).all()
        return [Participant(r.name, r.role, r.created_at, r.revoked_at) for r in rows]

    def identify(self, token: str) -> Participant | None:
        """The active participant whose token this is, else None."""
        import sqlalchemy as sa

        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        wanted = _hash(token)
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(self.table).where(self.table.c.token_sha256 == wanted)
            ).first()
        if row is None or not hmac.compare_digest(row.token_sha256, wanted):
            return None
        if row.revoked_at is not None:
            return None
        return Participant(row.name, row.role, row.created_at, None)
