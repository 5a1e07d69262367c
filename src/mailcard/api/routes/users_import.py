"""Bulk import of users (managers and admins) from JSON or CSV, for admins.

A row whose ``login`` exists updates that user (name, e-mail, role, stores); any other row creates
one. Imported users have no password: an admin sets one (PATCH /api/users/{id}) before they can
log in. An admin cannot change their own role by import, so an import cannot lock them out.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from starlette.concurrency import run_in_threadpool

from mailcard.api.deps import AdminUser, ContainerDep
from mailcard.bootstrap import Container
from mailcard.crm import ImportResult, RowError
from mailcard.crm.importing import import_request_body, parse_upload, read_limited, validate_rows
from mailcard.errors import InputError, MailcardError, PermissionDeniedError
from mailcard.identity import NewUser, Principal, Role, UserPatch

router = APIRouter(prefix="/api/users", tags=["users"])

CSV_COLUMNS = ("login", "name", "email", "role", "store_codes")
CSV_DESCRIPTION = (
    "CSV in UTF-8 (a BOM is fine) or UTF-16, separated by `,`, `;` or tab, with a header row. Columns: "
    + ", ".join(CSV_COLUMNS)
    + ". `store_codes` are separated by `;`. Empty cells are not imported."
)


class UserImportItem(BaseModel):
    """One user: ``name`` and ``email`` are required when the login is new."""

    model_config = ConfigDict(extra="forbid")

    login: str = Field(min_length=1, max_length=120)
    name: str | None = Field(None, min_length=1, max_length=200)
    email: str | None = Field(None, min_length=3, max_length=320)
    role: Literal["admin", "manager"] | None = Field(None, description="manager when new and not given.")
    store_codes: list[Annotated[str, StringConstraints(max_length=64)]] | None = Field(
        None, max_length=1000, description="The stores the user works in (replaces the list)."
    )


@router.post(
    "/import",
    response_model=ImportResult,
    openapi_extra=import_request_body("users", UserImportItem, CSV_DESCRIPTION),
)
async def import_users(request: Request, principal: AdminUser, container: ContainerDep) -> ImportResult:
    """Create or update many users (by ``login``) from JSON ``{"users": [...]}`` or a CSV file."""
    data = await read_limited(request.stream())
    content_type = request.headers.get("content-type", "")
    return await run_in_threadpool(_import, container, principal, content_type, data)


def _import(container: Container, principal: Principal, content_type: str, data: bytes) -> ImportResult:
    parsed = parse_upload(content_type, data, key="users", columns=CSV_COLUMNS, list_columns=("store_codes",))
    valid, errors = validate_rows(parsed, UserImportItem)
    created = updated = 0
    for number, item in valid:
        # Each row is one create or update in its own transaction: a refused row changes nothing.
        try:
            if _apply(container, principal, item):
                created += 1
            else:
                updated += 1
        except MailcardError as error:
            errors.append(RowError(row=number, code=error.code, message=error.message))
    return ImportResult(created=created, updated=updated).with_errors(errors)


def _apply(container: Container, principal: Principal, item: UserImportItem) -> bool:
    """Create or update one user; True when created."""
    store_ids = _store_ids(container, item.store_codes) if item.store_codes is not None else None
    existing = container.users.by_login(item.login.strip())
    if existing is None:
        if item.name is None or item.email is None:
            raise InputError("A new user needs a name and an e-mail address.", code="user_fields_missing")
        container.users.create(
            NewUser(
                login=item.login,
                name=item.name,
                email=item.email,
                role=Role(item.role or "manager"),
                store_ids=store_ids or (),
            )
        )
        return True
    role = Role(item.role) if item.role else None
    if existing.id == principal.user_id and role is not None and role is not existing.role:
        raise PermissionDeniedError("You cannot change your own role.", code="cannot_change_own_role")
    container.users.update(
        existing.id, UserPatch(name=item.name, email=item.email, role=role, store_ids=store_ids)
    )
    return False


def _store_ids(container: Container, codes: list[str]) -> tuple[int, ...]:
    wanted = [c.strip() for c in codes if c.strip()]
    found = container.stores.ids_by_code(wanted)
    missing = [c for c in wanted if c not in found]
    if missing:
        raise InputError(f"No store with the code {', '.join(missing)}.", code="store_not_found")
    return tuple(found[c] for c in wanted)
