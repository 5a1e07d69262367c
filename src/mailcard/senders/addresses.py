"""Additional sender addresses (the system mail settings): storage, grants to users, confirmation mark."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from mailcard.db.engine import reading
from mailcard.db.schema import sender_address_grants, sender_addresses
from mailcard.errors import ConflictError, InputError, NotFoundError
from mailcard.validation.addresses import parse_mailbox


@dataclass(frozen=True)
class SenderAddress:
    id: int
    email: str
    name: str | None
    confirmed_at: datetime | None
    all_users: bool
    user_ids: tuple[int, ...]
    smtp_account_id: int | None

    def granted_to(self, user_id: int) -> bool:
        return self.all_users or user_id in self.user_ids

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "email": self.email,
            "name": self.name,
            "confirmed": self.confirmed_at is not None,
            "confirmed_at": self.confirmed_at.isoformat() if self.confirmed_at else None,
            "all_users": self.all_users,
            "user_ids": list(self.user_ids),
            "smtp_account_id": self.smtp_account_id,
        }


class SenderAddressStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def list(self) -> list[SenderAddress]:
        with reading(self._engine) as conn:
            rows = conn.execute(select(sender_addresses).order_by(sender_addresses.c.id)).all()
            grants = _grants(conn)
        return [_to_address(r._mapping, grants.get(r.id, ())) for r in rows]

    def get(self, address_id: int, *, conn: Connection | None = None) -> SenderAddress:
        for address in self.list_by_ids([address_id], conn=conn):
            return address
        raise NotFoundError(
            f"No additional sender address with id {address_id}.", code="sender_address_not_found"
        )

    def list_by_ids(
        self, ids: builtins.list[int], *, conn: Connection | None = None
    ) -> builtins.list[SenderAddress]:
        with reading(self._engine, conn) as reader:
            rows = reader.execute(select(sender_addresses).where(sender_addresses.c.id.in_(ids))).all()
            grants = _grants(reader)
        return [_to_address(r._mapping, grants.get(r.id, ())) for r in rows]

    def create(
        self,
        email: str,
        *,
        name: str | None = None,
        all_users: bool = False,
        user_ids: tuple[int, ...] = (),
        smtp_account_id: int | None = None,
    ) -> SenderAddress:
        mailbox = parse_mailbox(email)
        now = datetime.now(UTC)
        try:
            with self._engine.begin() as conn:
                address_id = conn.execute(
                    insert(sender_addresses)
                    .values(
                        email=mailbox.address,
                        name=(name or mailbox.display_name or None),
                        all_users=all_users,
                        smtp_account_id=smtp_account_id,
                        created_at=now,
                        updated_at=now,
                    )
                    .returning(sender_addresses.c.id)
                ).scalar_one()
                _replace_grants(conn, address_id, user_ids)
        except IntegrityError as error:
            raise _integrity(error, mailbox.address) from None
        return self.get(address_id)

    def update(
        self,
        address_id: int,
        *,
        name: str | None = None,
        all_users: bool | None = None,
        user_ids: tuple[int, ...] | None = None,
        smtp_account_id: int | None = None,
        clear_smtp_account: bool = False,
    ) -> SenderAddress:
        self.get(address_id)
        values: dict[str, Any] = {"updated_at": datetime.now(UTC)}
        if name is not None:
            values["name"] = name
        if all_users is not None:
            values["all_users"] = all_users
        if smtp_account_id is not None or clear_smtp_account:
            values["smtp_account_id"] = smtp_account_id
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    update(sender_addresses).where(sender_addresses.c.id == address_id).values(**values)
                )
                if user_ids is not None:
                    _replace_grants(conn, address_id, user_ids)
        except IntegrityError as error:
            raise _integrity(error, "") from None
        return self.get(address_id)

    def delete(self, address_id: int) -> None:
        with self._engine.begin() as conn:
            if not conn.execute(delete(sender_addresses).where(sender_addresses.c.id == address_id)).rowcount:
                raise NotFoundError(
                    f"No additional sender address with id {address_id}.", code="sender_address_not_found"
                )

    def mark_confirmed(self, address_id: int, email: str) -> None:
        now = datetime.now(UTC)
        with self._engine.begin() as conn:
            conn.execute(
                update(sender_addresses)
                .where(
                    sender_addresses.c.id == address_id, func.lower(sender_addresses.c.email) == email.lower()
                )
                .values(confirmed_at=now, updated_at=now)
            )


def _grants(conn: Any) -> dict[int, tuple[int, ...]]:
    found: dict[int, list[int]] = {}
    query = select(sender_address_grants.c.sender_address_id, sender_address_grants.c.user_id)
    for address_id, user_id in conn.execute(query.order_by(sender_address_grants.c.user_id)):
        found.setdefault(address_id, []).append(user_id)
    return {k: tuple(v) for k, v in found.items()}


def _replace_grants(conn: Any, address_id: int, user_ids: tuple[int, ...]) -> None:
    conn.execute(delete(sender_address_grants).where(sender_address_grants.c.sender_address_id == address_id))
    unique = sorted(set(user_ids))
    if unique:
        conn.execute(
            insert(sender_address_grants), [{"sender_address_id": address_id, "user_id": u} for u in unique]
        )


def _to_address(row: Any, user_ids: tuple[int, ...]) -> SenderAddress:
    return SenderAddress(
        id=row["id"],
        email=row["email"],
        name=row["name"],
        confirmed_at=row["confirmed_at"],
        all_users=row["all_users"],
        user_ids=user_ids,
        smtp_account_id=row["smtp_account_id"],
    )


def _integrity(error: IntegrityError, email: str) -> Exception:
    text = str(error.orig).lower()
    if "unique" in text or "duplicate" in text:
        return ConflictError(f"The sender address {email} already exists.", code="sender_address_exists")
    return InputError("A user or SMTP account in the request does not exist.", code="invalid_reference")
