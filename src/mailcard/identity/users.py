"""Users (the managers and admins who log in and send): storage, password checks, store membership.

A user's own address is one of their sender identities; whether it may send is recorded here
(``sender_confirmed_at``, ``sender_allowed``) and decided in :mod:`mailcard.senders`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from mailcard.db.direct import Direct
from mailcard.db.engine import reading
from mailcard.db.rows import could_be_row_id
from mailcard.db.schema import user_stores, users
from mailcard.errors import AuthenticationError, ConflictError, InputError, NotFoundError
from mailcard.identity.passwords import MIN_LENGTH, hash_password, needs_rehash, verify_password
from mailcard.identity.principal import Principal, Role
from mailcard.validation.addresses import parse_mailbox


@dataclass(frozen=True)
class User:
    id: int
    login: str
    name: str
    email: str
    role: Role
    is_active: bool
    sender_confirmed_at: datetime | None
    sender_allowed: bool
    store_ids: tuple[int, ...]
    created_at: datetime

    @property
    def can_send_as_self(self) -> bool:
        return self.sender_confirmed_at is not None and self.sender_allowed

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "login": self.login,
            "name": self.name,
            "email": self.email,
            "role": self.role.value,
            "is_active": self.is_active,
            "sender_confirmed": self.sender_confirmed_at is not None,
            "sender_confirmed_at": self.sender_confirmed_at.isoformat() if self.sender_confirmed_at else None,
            "sender_allowed": self.sender_allowed,
            "store_ids": list(self.store_ids),
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class NewUser:
    login: str
    name: str
    email: str
    role: Role = Role.MANAGER
    password: str | None = None
    store_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class UserPatch:
    """Fields to change; ``None`` leaves a field as it is."""

    name: str | None = None
    email: str | None = None
    role: Role | None = None
    is_active: bool | None = None
    sender_allowed: bool | None = None
    password: str | None = None
    store_ids: tuple[int, ...] | None = None


class UserStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # -- reading -------------------------------------------------------------------------------------

    def get(self, user_id: int, *, conn: Connection | None = None) -> User:
        rows: Sequence[Any] = ()
        if could_be_row_id(user_id):
            with reading(self._engine, conn) as reader:
                rows = _USER_WITH_STORES.mappings(reader, {"user_id": user_id})
        if not rows:
            raise NotFoundError(f"No user with id {user_id}.", code="user_not_found")
        return _to_user(rows[0], tuple(r["store_id"] for r in rows if r["store_id"] is not None))

    def by_login(self, login: str) -> User | None:
        with reading(self._engine) as conn:
            row = conn.execute(select(users).where(users.c.login == login)).first()
            if row is None:
                return None
            return _to_user(row._mapping, _store_ids(conn, [row.id]).get(row.id, ()))

    def list(self, *, limit: int = 50, offset: int = 0) -> tuple[list[User], int]:
        with reading(self._engine) as conn:
            total = conn.execute(select(func.count()).select_from(users)).scalar_one()
            rows = conn.execute(select(users).order_by(users.c.id).limit(limit).offset(offset)).all()
            memberships = _store_ids(conn, [r.id for r in rows])
            return [_to_user(r._mapping, memberships.get(r.id, ())) for r in rows], total

    def count(self) -> int:
        with reading(self._engine) as conn:
            return int(conn.execute(select(func.count()).select_from(users)).scalar_one())

    # -- writing -------------------------------------------------------------------------------------

    def create(self, new: NewUser) -> User:
        login = _clean_login(new.login)
        email = _clean_email(new.email)
        if new.password is not None:
            _check_password(new.password)
        now = datetime.now(UTC)
        try:
            with self._engine.begin() as conn:
                user_id = conn.execute(
                    insert(users)
                    .values(
                        login=login,
                        name=_clean_name(new.name),
                        email=email,
                        role=Role(new.role).value,
                        password_hash=hash_password(new.password) if new.password else None,
                        is_active=True,
                        sender_allowed=False,
                        created_at=now,
                        updated_at=now,
                    )
                    .returning(users.c.id)
                ).scalar_one()
                _replace_stores(conn, user_id, new.store_ids)
        except IntegrityError as error:
            raise _integrity(error, login) from None
        return self.get(user_id)

    def update(self, user_id: int, patch: UserPatch) -> User:
        current = self.get(user_id)
        values: dict[str, Any] = {"updated_at": datetime.now(UTC)}
        if patch.name is not None:
            values["name"] = _clean_name(patch.name)
        if patch.email is not None:
            email = _clean_email(patch.email)
            if email.lower() != current.email.lower():
                # A new address must be proved again before it can send.
                values.update(email=email, sender_confirmed_at=None, sender_allowed=False)
        if patch.role is not None:
            values["role"] = Role(patch.role).value
        if patch.is_active is not None:
            values["is_active"] = patch.is_active
        if patch.sender_allowed is not None and "sender_allowed" not in values:
            values["sender_allowed"] = patch.sender_allowed
        if patch.password is not None:
            _check_password(patch.password)
            values["password_hash"] = hash_password(patch.password)
        try:
            with self._engine.begin() as conn:
                conn.execute(update(users).where(users.c.id == user_id).values(**values))
                if patch.store_ids is not None:
                    _replace_stores(conn, user_id, patch.store_ids)
        except IntegrityError as error:
            raise _integrity(error, current.login) from None
        return self.get(user_id)

    def delete(self, user_id: int) -> None:
        with self._engine.begin() as conn:
            if conn.execute(delete(users).where(users.c.id == user_id)).rowcount == 0:
                raise NotFoundError(f"No user with id {user_id}.", code="user_not_found")

    def mark_sender_confirmed(self, user_id: int, email: str, *, allow: bool) -> None:
        """Record proof of ownership of ``email``, unless the user's address changed meanwhile."""
        now = datetime.now(UTC)
        with self._engine.begin() as conn:
            conn.execute(
                update(users)
                .where(users.c.id == user_id, func.lower(users.c.email) == email.lower())
                .values(sender_confirmed_at=now, sender_allowed=allow, updated_at=now)
            )

    # -- authentication ------------------------------------------------------------------------------

    def authenticate(self, login: str, password: str) -> User:
        with reading(self._engine) as conn:
            row = conn.execute(select(users).where(users.c.login == login.strip())).first()
        stored = row.password_hash if row is not None else None
        if not verify_password(stored, password) or row is None or not row.is_active:
            raise AuthenticationError(
                "Wrong login or password.", code="invalid_credentials", hint="Check both and try again."
            )
        if needs_rehash(stored or ""):
            with self._engine.begin() as conn:
                conn.execute(
                    update(users).where(users.c.id == row.id).values(password_hash=hash_password(password))
                )
        return self.get(row.id)

    @staticmethod
    def principal(user: User, *, via: str) -> Principal:
        return Principal(
            user_id=user.id, login=user.login, role=user.role, store_ids=frozenset(user.store_ids), via=via
        )


# A user and each of their stores: a row per store, or one row with no store if they have none.
USER_AND_STORES = users.outerjoin(user_stores, user_stores.c.user_id == users.c.id)

# Built once (a statement costs more to build than to run) and run directly on SQLite (see
# mailcard.db.direct): a send from the card reads its manager.
_USER_WITH_STORES = Direct(
    select(users, user_stores.c.store_id)
    .select_from(USER_AND_STORES)
    .where(users.c.id == bindparam("user_id"))
    .order_by(user_stores.c.store_id)
)

# Built once: listing users reads their stores.
_STORES_OF_USERS = (
    select(user_stores.c.user_id, user_stores.c.store_id)
    .where(user_stores.c.user_id.in_(bindparam("user_ids", expanding=True)))
    .order_by(user_stores.c.store_id)
)


def _store_ids(conn: Any, user_ids: Iterable[int]) -> dict[int, tuple[int, ...]]:
    ids = list(user_ids)
    if not ids:
        return {}
    found: dict[int, list[int]] = {}
    for user_id, store_id in conn.execute(_STORES_OF_USERS, {"user_ids": ids}):
        found.setdefault(user_id, []).append(store_id)
    return {user_id: tuple(stores) for user_id, stores in found.items()}


def _replace_stores(conn: Any, user_id: int, store_ids: Iterable[int]) -> None:
    conn.execute(delete(user_stores).where(user_stores.c.user_id == user_id))
    unique = sorted(set(store_ids))
    if unique:
        conn.execute(insert(user_stores), [{"user_id": user_id, "store_id": s} for s in unique])


def _to_user(row: Any, store_ids: tuple[int, ...]) -> User:
    return User(
        id=row["id"],
        login=row["login"],
        name=row["name"],
        email=row["email"],
        role=Role(row["role"]),
        is_active=row["is_active"],
        sender_confirmed_at=row["sender_confirmed_at"],
        sender_allowed=row["sender_allowed"],
        store_ids=store_ids,
        created_at=row["created_at"],
    )


def _clean_login(login: str) -> str:
    login = login.strip()
    if not login or len(login) > 120 or any(c.isspace() or ord(c) < 32 for c in login):
        raise InputError(
            "A login is 1 to 120 characters without spaces.", code="invalid_login", details={"login": login}
        )
    return login


def _clean_name(name: str) -> str:
    name = " ".join(name.split())
    if not name or len(name) > 200:
        raise InputError("A name is 1 to 200 characters.", code="invalid_name")
    return name


def _clean_email(email: str) -> str:
    return parse_mailbox(email.strip()).address


def _check_password(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise InputError(
            f"A password needs at least {MIN_LENGTH} characters.",
            code="weak_password",
            hint="Use a passphrase of several words.",
        )


def _integrity(error: IntegrityError, login: str) -> Exception:
    text = str(error.orig).lower()
    if "login" in text or "unique" in text:
        return ConflictError(f"The login {login!r} is taken.", code="login_taken")
    return InputError("A store in the list does not exist.", code="store_not_found")
