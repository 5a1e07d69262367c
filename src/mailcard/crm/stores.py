"""Stores (shops, branches): a code and a name, and the sender address mail "from the store" uses.

A store's sender address must be proved before it sends; this module records the proof
(``sender_confirmed_at``) and forgets it whenever the address changes. Starting and checking a
proof is :mod:`mailcard.senders`' job, not this one's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from mailcard.crm import fields as clean
from mailcard.crm.fields import UNSET, Unset
from mailcard.crm.importing import ImportResult, import_each
from mailcard.db.engine import reading
from mailcard.db.rows import could_be_row_id, from_row, row_by_id
from mailcard.db.schema import smtp_accounts, stores
from mailcard.errors import ConflictError, InputError, NotFoundError

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_code = re.compile(CODE_PATTERN)


@dataclass(frozen=True)
class Store:
    id: int
    code: str
    name: str
    sender_email: str | None
    sender_name: str | None
    sender_confirmed_at: datetime | None
    smtp_account_id: int | None
    created_at: datetime
    updated_at: datetime

    @property
    def sender_confirmed(self) -> bool:
        return self.sender_email is not None and self.sender_confirmed_at is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "code": self.code,
            "name": self.name,
            "sender_email": self.sender_email,
            "sender_name": self.sender_name,
            "sender_confirmed": self.sender_confirmed,
            "sender_confirmed_at": self.sender_confirmed_at.isoformat() if self.sender_confirmed_at else None,
            "smtp_account_id": self.smtp_account_id,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }

    def to_context(self) -> dict[str, Any]:
        """The ``store`` variable of a template."""
        return {
            "id": self.id,
            "code": self.code,
            "name": self.name,
            "email": self.sender_email,
            "senderName": self.sender_name,
        }


@dataclass(frozen=True)
class NewStore:
    code: str
    name: str
    sender_email: str | None = None
    sender_name: str | None = None
    smtp_account_id: int | None = None


@dataclass(frozen=True)
class StorePatch:
    """Fields to change; ``UNSET`` leaves a field as it is, ``None`` clears it."""

    code: str | Unset = UNSET
    name: str | Unset = UNSET
    sender_email: str | Unset | None = UNSET
    sender_name: str | Unset | None = UNSET
    smtp_account_id: int | Unset | None = UNSET


@dataclass(frozen=True)
class StoreImportRow:
    """One imported row: the store with ``fields.code`` is updated, or created when there is none."""

    row: int
    fields: StorePatch


class StoreStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # -- reading -------------------------------------------------------------------------------------

    def get(self, store_id: int, *, conn: Connection | None = None) -> Store:
        with reading(self._engine, conn) as reader:
            return _get(reader, store_id)

    def by_code(self, code: str) -> Store | None:
        with reading(self._engine) as conn:
            row = conn.execute(select(stores).where(stores.c.code == code.strip())).first()
            return None if row is None else _to_store(row._mapping)

    def ids_by_code(self, codes: Iterable[str]) -> dict[str, int]:
        """The ids of the stores with these codes; codes without a store are absent."""
        wanted = sorted({c.strip() for c in codes})
        if not wanted:
            return {}
        with reading(self._engine) as conn:
            rows = conn.execute(select(stores.c.code, stores.c.id).where(stores.c.code.in_(wanted)))
            return {code: store_id for code, store_id in rows}

    def list(self, *, limit: int = 50, offset: int = 0) -> tuple[list[Store], int]:
        with reading(self._engine) as conn:
            total = conn.execute(select(func.count()).select_from(stores)).scalar_one()
            rows = conn.execute(select(stores).order_by(stores.c.id).limit(limit).offset(offset)).all()
        return [_to_store(r._mapping) for r in rows], int(total)

    # -- writing -------------------------------------------------------------------------------------

    def create(self, new: NewStore) -> Store:
        values = _clean(
            StorePatch(
                code=new.code,
                name=new.name,
                sender_email=new.sender_email,
                sender_name=new.sender_name,
                smtp_account_id=new.smtp_account_id,
            )
        )
        with self._engine.begin() as conn:
            return _get(conn, _insert(conn, values))

    def update(self, store_id: int, patch: StorePatch) -> Store:
        values = _clean(patch)
        with self._engine.begin() as conn:
            _update(conn, _get(conn, store_id), values)
            return _get(conn, store_id)

    def delete(self, store_id: int) -> None:
        with self._engine.begin() as conn:
            _get(conn, store_id)
            conn.execute(delete(stores).where(stores.c.id == store_id))

    def mark_sender_confirmed(self, store_id: int, email: str) -> None:
        """Record proof of ownership of ``email``, unless the store's address changed meanwhile.

        A proof for an address the store no longer has is void, so nothing changes then.
        """
        if not could_be_row_id(store_id):
            return
        now = datetime.now(UTC)
        with self._engine.begin() as conn:
            conn.execute(
                update(stores)
                .where(stores.c.id == store_id, func.lower(stores.c.sender_email) == email.strip().lower())
                .values(sender_confirmed_at=now, updated_at=now)
            )

    def import_many(self, rows: Sequence[StoreImportRow]) -> ImportResult:
        """Create or update stores by code in one transaction; a bad row is reported and changes nothing."""
        with self._engine.begin() as conn:
            return import_each(conn, rows, lambda item: _import_row(conn, item))


def _not_found(store_id: int) -> NotFoundError:
    return NotFoundError(f"No store with id {store_id}.", code="store_not_found")


def _get(conn: Connection, store_id: int) -> Store:
    row = row_by_id(conn, stores, store_id)
    if row is None:
        raise _not_found(store_id)
    return _to_store(row)


def _to_store(row: Any) -> Store:
    return from_row(Store, row)


def _store_code(value: str) -> str:
    code = value.strip() if isinstance(value, str) else ""
    if not _code.match(code):
        raise InputError(
            f"{code[:70]!r} is not a store code.",
            code="invalid_store_code",
            hint="A code is 1 to 64 letters, digits, '.', '_' and '-', starting with a letter or digit.",
        )
    return code


_CLEANERS: dict[str, Callable[[Any], Any]] = {
    "code": _store_code,
    "name": lambda v: clean.required_text(v or "", field="store name", max_length=200, code="invalid_name"),
    "sender_email": clean.optional_email,
    "sender_name": lambda v: clean.optional_text(
        v, field="sender name", max_length=200, code="invalid_sender_name"
    ),
    "smtp_account_id": lambda v: clean.optional_id(v, field="smtp_account_id"),
}


def _clean(patch: StorePatch) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, cleaner in _CLEANERS.items():
        value = getattr(patch, name)
        if value is not UNSET:
            values[name] = cleaner(value)
    return values


def _check_account(conn: Connection, values: Mapping[str, Any]) -> None:
    account_id = values.get("smtp_account_id")
    if account_id is None:
        return
    if conn.execute(select(smtp_accounts.c.id).where(smtp_accounts.c.id == account_id)).first() is None:
        raise InputError(f"No SMTP account with id {account_id}.", code="smtp_account_not_found")


def _code_taken(code: Any) -> ConflictError:
    return ConflictError(f"Another store already has the code {code!r}.", code="store_code_taken")


def _insert(conn: Connection, values: Mapping[str, Any]) -> int:
    _check_account(conn, values)
    now = datetime.now(UTC)
    try:
        with conn.begin_nested():
            store_id: int = conn.execute(
                insert(stores).values(**values, created_at=now, updated_at=now).returning(stores.c.id)
            ).scalar_one()
    except IntegrityError:
        raise _code_taken(values.get("code")) from None
    return store_id


def _update(conn: Connection, current: Store, values: Mapping[str, Any]) -> None:
    _check_account(conn, values)
    changes = dict(values)
    if "sender_email" in changes:
        new_email = changes["sender_email"]
        old_email = current.sender_email
        # A new address must be proved again before the store can send from it.
        if new_email is None or old_email is None or new_email.lower() != old_email.lower():
            changes["sender_confirmed_at"] = None
    try:
        with conn.begin_nested():
            conn.execute(
                update(stores)
                .where(stores.c.id == current.id)
                .values(**changes, updated_at=datetime.now(UTC))
            )
    except IntegrityError:
        raise _code_taken(values.get("code")) from None


def _import_row(conn: Connection, item: StoreImportRow) -> bool:
    """Apply one import row; True when it created a store."""
    if item.fields.code is UNSET:
        raise InputError("The row has no store code.", code="invalid_store_code")
    values = _clean(item.fields)
    row = conn.execute(select(stores).where(stores.c.code == values["code"])).first()
    if row is None:
        if "name" not in values:
            raise InputError("A new store needs a name.", code="invalid_name")
        _insert(conn, values)
        return True
    _update(conn, _to_store(row._mapping), values)
    return False
