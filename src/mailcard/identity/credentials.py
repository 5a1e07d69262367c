"""API tokens (integrations) and login sessions (browsers), both opaque secrets stored hashed.

A session carries a CSRF token: a browser sends the session cookie by itself, so an unsafe request
authenticated by the cookie must also present the CSRF token, which another site cannot read.
API tokens travel in the ``Authorization`` header, which browsers never add on their own.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, bindparam, delete, insert, select, update

from mailcard.db.direct import Direct
from mailcard.db.engine import reading
from mailcard.db.schema import api_tokens, user_sessions, user_stores, users
from mailcard.errors import InputError, NotFoundError
from mailcard.identity.opaque import digest, new_secret
from mailcard.identity.principal import Principal, Role
from mailcard.identity.users import USER_AND_STORES, UserStore

TOKEN_PREFIX = "mct"
SESSION_PREFIX = "mcs"


@dataclass(frozen=True)
class ApiToken:
    id: int
    user_id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "user_id": self.user_id,
            "name": self.name,
            "prefix": self.prefix,
            "created_at": self.created_at.isoformat(),
            "last_used_at": self.last_used_at.isoformat() if self.last_used_at else None,
            "revoked": self.revoked,
        }


@dataclass(frozen=True)
class SessionGrant:
    """What a successful login hands the browser: the session cookie value and the CSRF token."""

    session: str
    csrf_token: str
    expires_at: datetime


class Credentials:
    def __init__(self, engine: Engine, users_: UserStore, *, session_hours: float) -> None:
        self._engine = engine
        self._users = users_
        self._session_lifetime = timedelta(hours=session_hours)

    # -- API tokens ----------------------------------------------------------------------------------

    def create_token(self, user_id: int, name: str) -> tuple[str, ApiToken]:
        """A new token for ``user_id``: the plaintext is returned here once and never stored."""
        name = " ".join(name.split())
        if not name or len(name) > 200:
            raise InputError("A token needs a name of 1 to 200 characters.", code="invalid_name")
        self._users.get(user_id)
        plaintext = new_secret(TOKEN_PREFIX)
        now = datetime.now(UTC)
        with self._engine.begin() as conn:
            token_id = conn.execute(
                insert(api_tokens)
                .values(
                    user_id=user_id,
                    name=name,
                    token_hash=digest(plaintext),
                    prefix=plaintext[:10],
                    created_at=now,
                )
                .returning(api_tokens.c.id)
            ).scalar_one()
        return plaintext, self._token(token_id)

    def list_tokens(self, user_id: int) -> list[ApiToken]:
        with reading(self._engine) as conn:
            rows = conn.execute(
                select(api_tokens).where(api_tokens.c.user_id == user_id).order_by(api_tokens.c.id)
            ).all()
        return [_to_token(r._mapping) for r in rows]

    def revoke_token(self, user_id: int, token_id: int) -> None:
        with self._engine.begin() as conn:
            done = conn.execute(
                update(api_tokens)
                .where(api_tokens.c.id == token_id, api_tokens.c.user_id == user_id)
                .values(revoked_at=datetime.now(UTC))
            ).rowcount
        if not done:
            raise NotFoundError(f"No API token with id {token_id}.", code="token_not_found")

    def principal_for_token(self, plaintext: str) -> Principal | None:
        now = datetime.now(UTC)
        # Every API call starts here: the token, its user and the user's stores in one query.
        with reading(self._engine) as conn:
            rows = _TOKEN_PRINCIPAL.mappings(conn, {"token_hash": digest(plaintext)})
        if not rows:
            return None
        row = rows[0]
        principal = _principal(rows, via="token")
        # Recording use at minute granularity keeps a busy integration from writing on every call.
        last_used_at = row["last_used_at"]
        if last_used_at is None or now - last_used_at > timedelta(minutes=1):
            with self._engine.begin() as conn:
                conn.execute(update(api_tokens).where(api_tokens.c.id == row["id"]).values(last_used_at=now))
        return principal

    def _token(self, token_id: int) -> ApiToken:
        with reading(self._engine) as conn:
            row = conn.execute(select(api_tokens).where(api_tokens.c.id == token_id)).one()
        return _to_token(row._mapping)

    # -- sessions ------------------------------------------------------------------------------------

    def open_session(self, user_id: int) -> SessionGrant:
        session = new_secret(SESSION_PREFIX)
        csrf_token = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        expires_at = now + self._session_lifetime
        with self._engine.begin() as conn:
            # Expired sessions are swept at login, the only time the table grows.
            conn.execute(delete(user_sessions).where(user_sessions.c.expires_at < now))
            conn.execute(
                insert(user_sessions).values(
                    user_id=user_id,
                    session_hash=digest(session),
                    csrf_token=csrf_token,
                    created_at=now,
                    expires_at=expires_at,
                )
            )
        return SessionGrant(session=session, csrf_token=csrf_token, expires_at=expires_at)

    def session_principal(self, session: str) -> tuple[Principal, str] | None:
        """The principal and CSRF token of a live session, or ``None``."""
        with reading(self._engine) as conn:
            rows = _SESSION_PRINCIPAL.mappings(
                conn, {"session_hash": digest(session), "now": datetime.now(UTC)}
            )
        if not rows:
            return None
        return _principal(rows, via="session"), rows[0]["csrf_token"]

    def close_session(self, session: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(delete(user_sessions).where(user_sessions.c.session_hash == digest(session)))


# From USER_AND_STORES: a row per store of the user.
_PRINCIPAL_COLUMNS = (users.c.id.label("user_id"), users.c.login, users.c.role, user_stores.c.store_id)

# Every API call runs one of these: built once, since building a statement costs more than running
# it, and run directly on SQLite (see mailcard.db.direct).
_TOKEN_PRINCIPAL = Direct(
    select(api_tokens.c.id, api_tokens.c.last_used_at, *_PRINCIPAL_COLUMNS)
    .select_from(api_tokens.join(USER_AND_STORES, users.c.id == api_tokens.c.user_id))
    .where(
        api_tokens.c.token_hash == bindparam("token_hash"),
        api_tokens.c.revoked_at.is_(None),
        users.c.is_active.is_(True),
    )
)

_SESSION_PRINCIPAL = Direct(
    select(user_sessions.c.csrf_token, *_PRINCIPAL_COLUMNS)
    .select_from(user_sessions.join(USER_AND_STORES, users.c.id == user_sessions.c.user_id))
    .where(
        user_sessions.c.session_hash == bindparam("session_hash"),
        user_sessions.c.expires_at > bindparam("now"),
        users.c.is_active.is_(True),
    )
)


def _principal(rows: Sequence[Mapping[str, Any]], *, via: str) -> Principal:
    """The principal from a user's rows of ``_PRINCIPAL_COLUMNS``."""
    user = rows[0]
    return Principal(
        user_id=user["user_id"],
        login=user["login"],
        role=Role(user["role"]),
        store_ids=frozenset(r["store_id"] for r in rows if r["store_id"] is not None),
        via=via,
    )


def _to_token(row: Any) -> ApiToken:
    return ApiToken(
        id=row["id"],
        user_id=row["user_id"],
        name=row["name"],
        prefix=row["prefix"],
        created_at=row["created_at"],
        last_used_at=row["last_used_at"],
        revoked=row["revoked_at"] is not None,
    )
