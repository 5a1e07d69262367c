"""Customers: the people a business writes to, with the fields templates use and who looks after them.

A customer belongs to a manager (``manager_id``) and/or a store (``store_id``); which managers may
see one is :func:`mailcard.access.customer_visible`, applied here in SQL for lists. A customer may
have no e-mail address (CRMs hold such records); :meth:`Customer.require_email` is how a sender
finds out, with an error that says what to do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError

from mailcard.crm import fields as clean
from mailcard.crm.fields import UNSET, Unset
from mailcard.crm.importing import ImportResult, import_each
from mailcard.db.engine import reading
from mailcard.db.rows import from_row, row_by_id
from mailcard.db.schema import customers, stores, users
from mailcard.errors import ConflictError, InputError, NotFoundError
from mailcard.identity import Principal

MAX_SEARCH_WORDS = 8


@dataclass(frozen=True)
class Customer:
    id: int
    external_id: str | None
    email: str | None
    first_name: str | None
    last_name: str | None
    patronymic: str | None
    locale: str | None
    phone: str | None
    custom_fields: dict[str, Any]
    tags: list[str]
    manager_id: int | None
    store_id: int | None
    created_at: datetime
    updated_at: datetime

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.patronymic, self.last_name) if p)

    def require_email(self) -> str:
        """The address to write to, or a clear refusal when the card has none."""
        if not self.email:
            raise InputError(
                f"The customer {self.full_name or self.id} has no e-mail address.",
                code="customer_has_no_email",
                hint="Add an address to the customer's card, then send again.",
                details={"customer_id": self.id},
            )
        return self.email

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "external_id": self.external_id,
            "email": self.email,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "patronymic": self.patronymic,
            "locale": self.locale,
            "phone": self.phone,
            "custom_fields": dict(self.custom_fields),
            "tags": list(self.tags),
            "manager_id": self.manager_id,
            "store_id": self.store_id,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }

    def to_context(self) -> dict[str, Any]:
        """The ``customer`` variable of a template, named as retail CRMs name it (camelCase)."""
        return {
            "id": self.id,
            "externalId": self.external_id,
            "email": self.email,
            "firstName": self.first_name,
            "lastName": self.last_name,
            "patronymic": self.patronymic,
            "locale": self.locale,
            "phone": self.phone,
            "customFields": dict(self.custom_fields),
            "tags": list(self.tags),
        }


@dataclass(frozen=True)
class NewCustomer:
    external_id: str | None = None
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    patronymic: str | None = None
    locale: str | None = None
    phone: str | None = None
    custom_fields: Mapping[str, Any] = field(default_factory=dict)
    tags: Sequence[str] = ()
    manager_id: int | None = None
    store_id: int | None = None


@dataclass(frozen=True)
class CustomerPatch:
    """Fields to change; ``UNSET`` leaves a field as it is, ``None`` clears it."""

    external_id: str | Unset | None = UNSET
    email: str | Unset | None = UNSET
    first_name: str | Unset | None = UNSET
    last_name: str | Unset | None = UNSET
    patronymic: str | Unset | None = UNSET
    locale: str | Unset | None = UNSET
    phone: str | Unset | None = UNSET
    custom_fields: Mapping[str, Any] | Unset = UNSET
    tags: Sequence[str] | Unset = UNSET
    manager_id: int | Unset | None = UNSET
    store_id: int | Unset | None = UNSET


@dataclass(frozen=True)
class CustomerImportRow:
    """One imported row: its number (for errors), its fields, and references by login or code.

    A row with an ``external_id`` updates the customer that has it, or creates one; a row without
    always creates.
    """

    row: int
    fields: CustomerPatch
    manager_login: str | None = None
    store_code: str | None = None


class CustomerStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # -- reading -------------------------------------------------------------------------------------

    def get(self, customer_id: int, *, conn: Connection | None = None) -> Customer:
        with reading(self._engine, conn) as reader:
            return _get(reader, customer_id)

    def by_external_id(self, external_id: str) -> Customer | None:
        with reading(self._engine) as conn:
            row = conn.execute(select(customers).where(customers.c.external_id == external_id)).first()
            return None if row is None else _to_customer(row._mapping)

    def list(
        self,
        *,
        limit: int = 50,
        offset: int = 0,
        visible_to: Principal | None = None,
        search: str | None = None,
    ) -> tuple[list[Customer], int]:
        """A page of customers by id, and how many match in all.

        ``visible_to`` keeps only those the principal may see (all, for an admin); ``search`` matches
        every word against the names and the e-mail address, ignoring case.
        """
        conditions: list[ColumnElement[bool]] = []
        if visible_to is not None and not visible_to.is_admin:
            conditions.append(_visible_condition(visible_to))
        if search:
            conditions.extend(_search_conditions(search))
        where = and_(true(), *conditions)
        with reading(self._engine) as conn:
            total = conn.execute(select(func.count()).select_from(customers).where(where)).scalar_one()
            rows = conn.execute(
                select(customers).where(where).order_by(customers.c.id).limit(limit).offset(offset)
            ).all()
        return [_to_customer(r._mapping) for r in rows], int(total)

    # -- writing -------------------------------------------------------------------------------------

    def create(self, new: NewCustomer) -> Customer:
        values = _clean(CustomerPatch(**{f.name: getattr(new, f.name) for f in fields(new)}))
        with self._engine.begin() as conn:
            _References(conn).check(values)
            return _get(conn, _insert(conn, values))

    def update(self, customer_id: int, patch: CustomerPatch) -> Customer:
        values = _clean(patch)
        with self._engine.begin() as conn:
            _get(conn, customer_id)
            _References(conn).check(values)
            _update(conn, customer_id, values)
            return _get(conn, customer_id)

    def delete(self, customer_id: int) -> None:
        with self._engine.begin() as conn:
            _get(conn, customer_id)
            conn.execute(delete(customers).where(customers.c.id == customer_id))

    def import_many(self, rows: Sequence[CustomerImportRow]) -> ImportResult:
        """Create or update every row in one transaction; a bad row is reported and changes nothing.

        Each row runs in its own savepoint, so a row that fails half-way (a taken ``external_id``, a
        missing store) is rolled back alone while the others are kept.
        """
        with self._engine.begin() as conn:
            return import_each(conn, rows, _Importer(conn, rows).apply)


# -- rows ----------------------------------------------------------------------------------------------


def _not_found(customer_id: int) -> NotFoundError:
    return NotFoundError(f"No customer with id {customer_id}.", code="customer_not_found")


def _get(conn: Connection, customer_id: int) -> Customer:
    row = row_by_id(conn, customers, customer_id)
    if row is None:
        raise _not_found(customer_id)
    return _to_customer(row)


def _to_customer(row: Any) -> Customer:
    return from_row(
        Customer, row, custom_fields=dict(row["custom_fields"] or {}), tags=list(row["tags"] or [])
    )


def _visible_condition(principal: Principal) -> ColumnElement[bool]:
    # The SQL form of mailcard.access.customer_visible for a manager.
    mine = customers.c.manager_id == principal.user_id
    if not principal.store_ids:
        return mine
    return or_(mine, customers.c.store_id.in_(sorted(principal.store_ids)))


def _search_conditions(search: str) -> list[ColumnElement[bool]]:
    columns = (customers.c.first_name, customers.c.last_name, customers.c.patronymic, customers.c.email)
    conditions: list[ColumnElement[bool]] = []
    for word in search.split()[:MAX_SEARCH_WORDS]:
        patterns = clean.like_patterns(word)
        conditions.append(or_(*(c.ilike(p, escape="\\") for c in columns for p in patterns)))
    return conditions


# -- cleaning ------------------------------------------------------------------------------------------


def _external_id(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    text = value.strip()
    if len(text) > 120 or any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise InputError(
            "An external id is up to 120 characters without control characters.",
            code="invalid_external_id",
        )
    return text


def _name(field_name: str) -> Callable[[str | None], str | None]:
    def cleaner(value: str | None) -> str | None:
        return clean.optional_text(
            value, field=field_name.replace("_", " "), max_length=200, code="invalid_name"
        )

    return cleaner


_CLEANERS: dict[str, Callable[[Any], Any]] = {
    "external_id": _external_id,
    "email": clean.optional_email,
    "first_name": _name("first_name"),
    "last_name": _name("last_name"),
    "patronymic": _name("patronymic"),
    "locale": clean.optional_locale,
    "phone": clean.optional_phone,
    "custom_fields": lambda v: clean.custom_field_map(v if v is not None else {}),
    "tags": lambda v: clean.tag_list(v if v is not None else ()),
    "manager_id": lambda v: clean.optional_id(v, field="manager_id"),
    "store_id": lambda v: clean.optional_id(v, field="store_id"),
}


def _clean(patch: CustomerPatch) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, cleaner in _CLEANERS.items():
        value = getattr(patch, name)
        if value is not UNSET:
            values[name] = cleaner(value)
    return values


class _References:
    """Whether the users and stores a customer points to exist, each looked up once per transaction.

    Checked by hand (not left to the foreign keys) so the error names what is missing; remembered
    because an import checks the same few managers and stores on every row.
    """

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._known: dict[tuple[str, object], int | None] = {}

    def _lookup(self, kind: str, key: object) -> int | None:
        if (kind, key) not in self._known:
            column = {
                "user": users.c.id,
                "store": stores.c.id,
                "login": users.c.login,
                "code": stores.c.code,
            }[kind]
            table = users if kind in ("user", "login") else stores
            found = self._conn.execute(select(table.c.id).where(column == key)).scalar_one_or_none()
            self._known[(kind, key)] = None if found is None else int(found)
        return self._known[(kind, key)]

    def check(self, values: Mapping[str, Any]) -> None:
        manager_id = values.get("manager_id")
        if manager_id is not None and self._lookup("user", manager_id) is None:
            raise InputError(f"No user with id {manager_id}.", code="manager_not_found")
        store_id = values.get("store_id")
        if store_id is not None and self._lookup("store", store_id) is None:
            raise InputError(f"No store with id {store_id}.", code="store_not_found")

    def user_id(self, login: str) -> int:
        found = self._lookup("login", login.strip())
        if found is None:
            raise InputError(f"No user with the login {login.strip()[:120]!r}.", code="manager_not_found")
        return found

    def store_id(self, code: str) -> int:
        found = self._lookup("code", code.strip())
        if found is None:
            raise InputError(f"No store with the code {code.strip()[:64]!r}.", code="store_not_found")
        return found


def _external_id_taken(external_id: Any) -> ConflictError:
    return ConflictError(
        f"Another customer already has the external id {external_id!r}.", code="external_id_taken"
    )


# Values go in as parameters, not into the statement, so an import compiles each statement once.
_INSERT = insert(customers).returning(customers.c.id)
_UPDATE = update(customers).where(customers.c.id == bindparam("customer_id_"))

# An IntegrityError aborts the statement's transaction (or the import row's savepoint) anyway, so no
# savepoint of their own is needed here: the caller's rollback undoes the row.


def _insert(conn: Connection, values: Mapping[str, Any]) -> int:
    now = datetime.now(UTC)
    row = {"custom_fields": {}, "tags": [], **values, "created_at": now, "updated_at": now}
    try:
        customer_id: int = conn.execute(_INSERT, row).scalar_one()
    except IntegrityError:
        raise _external_id_taken(values.get("external_id")) from None
    return customer_id


def _update(conn: Connection, customer_id: int, values: Mapping[str, Any]) -> None:
    try:
        conn.execute(_UPDATE, {**values, "updated_at": datetime.now(UTC), "customer_id_": customer_id})
    except IntegrityError:
        raise _external_id_taken(values.get("external_id")) from None


class _Importer:
    """Applies import rows inside one transaction, knowing which external ids exist as it goes."""

    def __init__(self, conn: Connection, rows: Sequence[CustomerImportRow]) -> None:
        self._conn = conn
        self._references = _References(conn)
        self._ids_by_external = self._existing_external_ids(rows)

    def _existing_external_ids(self, rows: Sequence[CustomerImportRow]) -> dict[str, int]:
        wanted = sorted({r.fields.external_id.strip() for r in rows if isinstance(r.fields.external_id, str)})
        found: dict[str, int] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            query = select(customers.c.external_id, customers.c.id).where(customers.c.external_id.in_(chunk))
            found.update((external_id, customer_id) for external_id, customer_id in self._conn.execute(query))
        return found

    def apply(self, item: CustomerImportRow) -> bool:
        """Apply one row; True when it created a customer. Raises MailcardError for a bad row."""
        values = _clean(item.fields)
        if item.manager_login is not None:
            values["manager_id"] = _agree(
                values, "manager_id", self._references.user_id(item.manager_login), "manager"
            )
        if item.store_code is not None:
            values["store_id"] = _agree(
                values, "store_id", self._references.store_id(item.store_code), "store"
            )
        self._references.check(values)
        external_id = values.get("external_id")
        existing = self._ids_by_external.get(external_id) if external_id is not None else None
        if existing is not None:
            _update(self._conn, existing, values)
            return False
        customer_id = _insert(self._conn, values)
        if external_id is not None:
            # The insert is the row's last step, so a remembered id is never one a rollback undid.
            # A later row with the same external id updates this one.
            self._ids_by_external[external_id] = customer_id
        return True


def _agree(values: Mapping[str, Any], key: str, resolved: int, what: str) -> int:
    given = values.get(key)
    if given is not None and given != resolved:
        raise InputError(
            f"The row names two different {what}s ({key} {given} and another by name).",
            code=f"{what}_mismatch",
        )
    return resolved
