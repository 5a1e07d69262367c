"""Stores: every user reads them; admins create, change, delete and import them.

Changing a store's sender address forgets its confirmation: the new address must be proved before
mail can go out "from the store" (see /api/senders).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.json_schema import SkipJsonSchema
from starlette.concurrency import run_in_threadpool

from mailcard.api.deps import AdminUser, ContainerDep, CurrentUser, Page, Paging, RowId, id_path
from mailcard.bootstrap import Container
from mailcard.crm import ImportResult, NewStore, StoreImportRow, StorePatch
from mailcard.crm.importing import import_request_body, parse_upload, read_limited, validate_rows
from mailcard.crm.stores import CODE_PATTERN

router = APIRouter(prefix="/api/stores", tags=["stores"])

StoreId = Annotated[int, id_path("store")]

CSV_COLUMNS = ("code", "name", "sender_email", "sender_name", "smtp_account_id")
CSV_DESCRIPTION = (
    "CSV in UTF-8 (a BOM is fine) or UTF-16, separated by `,`, `;` or tab, with a header row. Columns: "
    + ", ".join(CSV_COLUMNS)
    + ". Empty cells are not imported."
)


class StoreIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(
        min_length=1, max_length=64, pattern=CODE_PATTERN, description="Short unique code: msk-1, shanghai."
    )
    name: str = Field(min_length=1, max_length=200)
    sender_email: str | None = Field(None, max_length=320, description="The store's From address.")
    sender_name: str | None = Field(None, max_length=200, description="The display name with that address.")
    smtp_account_id: RowId | None = Field(None, description="The SMTP account its mail goes through.")


class StorePatchIn(BaseModel):
    """Only the fields sent change; ``null`` clears an optional field."""

    model_config = ConfigDict(extra="forbid")

    # Optional but never null: a store always has a code and a name.
    code: str | SkipJsonSchema[None] = Field(None, min_length=1, max_length=64, pattern=CODE_PATTERN)
    name: str | SkipJsonSchema[None] = Field(None, min_length=1, max_length=200)
    sender_email: str | None = Field(
        None, max_length=320, description="A new address must be confirmed again before it sends."
    )
    sender_name: str | None = Field(None, max_length=200)
    smtp_account_id: RowId | None = None

    @field_validator("code", "name", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may be left out, but not null")
        return value


class StoreImportItem(BaseModel):
    """One store to import: updated when its ``code`` exists, otherwise created (then ``name`` is required)."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=64, pattern=CODE_PATTERN)
    name: str | None = Field(None, min_length=1, max_length=200)
    sender_email: str | None = Field(None, max_length=320)
    sender_name: str | None = Field(None, max_length=200)
    smtp_account_id: RowId | None = None


class StoreOut(BaseModel):
    id: int
    code: str
    name: str
    sender_email: str | None
    sender_name: str | None
    sender_confirmed: bool
    sender_confirmed_at: str | None
    smtp_account_id: int | None
    created_at: str
    updated_at: str


@router.get("", response_model=Page[StoreOut])
def list_stores(principal: CurrentUser, container: ContainerDep, paging: Paging) -> Page[Any]:
    stores, total = container.stores.list(limit=paging.limit, offset=paging.offset)
    return Page.of([s.to_dict() for s in stores], total, paging)


@router.post("", response_model=StoreOut, status_code=201)
def create_store(body: StoreIn, principal: AdminUser, container: ContainerDep) -> dict[str, Any]:
    return container.stores.create(NewStore(**body.model_dump())).to_dict()


@router.get("/{store_id}", response_model=StoreOut)
def get_store(store_id: StoreId, principal: CurrentUser, container: ContainerDep) -> dict[str, Any]:
    return container.stores.get(store_id).to_dict()


@router.patch("/{store_id}", response_model=StoreOut)
def update_store(
    store_id: StoreId, body: StorePatchIn, principal: AdminUser, container: ContainerDep
) -> dict[str, Any]:
    return container.stores.update(store_id, StorePatch(**body.model_dump(exclude_unset=True))).to_dict()


@router.delete("/{store_id}", status_code=204)
def delete_store(store_id: StoreId, principal: AdminUser, container: ContainerDep) -> None:
    """Delete a store; its customers stay, without a store."""
    container.stores.delete(store_id)


@router.post(
    "/import",
    response_model=ImportResult,
    openapi_extra=import_request_body("stores", StoreImportItem, CSV_DESCRIPTION),
)
async def import_stores(request: Request, principal: AdminUser, container: ContainerDep) -> ImportResult:
    """Create or update many stores (by ``code``) from JSON ``{"stores": [...]}`` or a CSV file."""
    data = await read_limited(request.stream())
    content_type = request.headers.get("content-type", "")
    return await run_in_threadpool(_import, container, content_type, data)


def _import(container: Container, content_type: str, data: bytes) -> ImportResult:
    parsed = parse_upload(content_type, data, key="stores", columns=CSV_COLUMNS)
    valid, errors = validate_rows(parsed, StoreImportItem)
    rows = [
        StoreImportRow(row=number, fields=StorePatch(**item.model_dump(exclude_unset=True)))
        for number, item in valid
    ]
    return container.stores.import_many(rows).with_errors(errors)
