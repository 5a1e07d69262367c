"""Customers: list and search, the card's record, and bulk import (JSON or CSV).

Managers see and change only their customers (assigned to them or registered in one of their
stores); anyone else's customer is answered as missing. Deleting and importing are for admins.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from starlette.concurrency import run_in_threadpool

from mailcard.access import check_customer_assignment, check_customer_visible
from mailcard.api.deps import AdminUser, ContainerDep, CurrentUser, Page, Paging, RowId, id_path
from mailcard.bootstrap import Container
from mailcard.crm import Customer, CustomerImportRow, CustomerPatch, ImportResult, NewCustomer
from mailcard.crm.fields import CUSTOM_NAME_PATTERN, MAX_CUSTOM_TEXT, MAX_SAFE_INTEGER
from mailcard.crm.importing import import_request_body, parse_upload, read_limited, validate_rows
from mailcard.identity import Principal

router = APIRouter(prefix="/api/customers", tags=["customers"])

CustomerId = Annotated[int, id_path("customer")]
Tag = Annotated[str, StringConstraints(max_length=64)]
CustomName = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=CUSTOM_NAME_PATTERN)]
CustomScalar = (
    Annotated[str, StringConstraints(max_length=MAX_CUSTOM_TEXT)]
    | bool
    | Annotated[int, Field(ge=-MAX_SAFE_INTEGER, le=MAX_SAFE_INTEGER)]
    | Annotated[float, Field(allow_inf_nan=False)]
    | None
)
CustomValue = CustomScalar | Annotated[list[CustomScalar], Field(max_length=100)]
CustomFields = Annotated[dict[CustomName, CustomValue], Field(max_length=100)]

CSV_COLUMNS = (
    "external_id",
    "email",
    "first_name",
    "last_name",
    "patronymic",
    "locale",
    "phone",
    "tags",
    "manager_login",
    "manager_id",
    "store_code",
    "store_id",
)
CSV_DESCRIPTION = (
    "CSV in UTF-8 (a BOM is fine) or UTF-16, separated by `,`, `;` or tab, with a header row. Columns: "
    + ", ".join(CSV_COLUMNS)
    + ", and custom.<name> for custom fields. `tags` are separated by `;`. Empty cells are not imported."
)


class CustomerFieldsIn(BaseModel):
    """The fields a customer record has; every one is optional."""

    model_config = ConfigDict(extra="forbid")

    external_id: str | None = Field(None, max_length=120, description="The id in your CRM or shop.")
    email: str | None = Field(None, max_length=320, description="Empty: a customer without an address.")
    first_name: str | None = Field(None, max_length=200)
    last_name: str | None = Field(None, max_length=200)
    patronymic: str | None = Field(None, max_length=200)
    locale: str | None = Field(None, max_length=16, description="A language code: ru, en, zh-CN.")
    phone: str | None = Field(None, max_length=64)
    manager_id: RowId | None = None
    store_id: RowId | None = None


class CustomerIn(CustomerFieldsIn):
    custom_fields: CustomFields = Field(default_factory=dict)
    tags: list[Tag] = Field(default_factory=list, max_length=100)


class CustomerPatchIn(CustomerFieldsIn):
    """Only the fields sent change; ``null`` clears a field."""

    custom_fields: CustomFields | None = Field(None, description="Replaces all custom fields.")
    tags: list[Tag] | None = Field(None, max_length=100, description="Replaces all tags.")


class CustomerImportItem(CustomerIn):
    """One customer to import: updated when its ``external_id`` exists, otherwise created."""

    manager_login: str | None = Field(
        None, min_length=1, max_length=120, description="Instead of manager_id."
    )
    store_code: str | None = Field(None, min_length=1, max_length=64, description="Instead of store_id.")


class CustomerOut(BaseModel):
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
    created_at: str
    updated_at: str


def _visible_customer(container: Container, principal: Principal, customer_id: int) -> Customer:
    customer = container.customers.get(customer_id)
    check_customer_visible(principal, customer.id, customer.manager_id, customer.store_id)
    return customer


@router.get("", response_model=Page[CustomerOut])
def list_customers(
    principal: CurrentUser,
    container: ContainerDep,
    paging: Paging,
    q: Annotated[
        str | None, Query(max_length=200, description="Words to find in the names and the e-mail address.")
    ] = None,
) -> Page[Any]:
    """Customers by id; a manager sees only theirs and their stores'."""
    customers, total = container.customers.list(
        limit=paging.limit, offset=paging.offset, visible_to=principal, search=q
    )
    return Page.of([c.to_dict() for c in customers], total, paging)


@router.post("", response_model=CustomerOut, status_code=201)
def create_customer(body: CustomerIn, principal: CurrentUser, container: ContainerDep) -> dict[str, Any]:
    """A new customer. A manager's customer is theirs unless they name another of their stores only."""
    changes = body.model_dump(exclude_unset=True)
    if not principal.is_admin and "manager_id" not in changes:
        changes["manager_id"] = principal.user_id
    check_customer_assignment(principal, changes.get("manager_id"), changes.get("store_id"))
    # Every field is set on create: unset ones take the model's defaults.
    values = {**body.model_dump(), **changes}
    return container.customers.create(NewCustomer(**values)).to_dict()


@router.get("/{customer_id}", response_model=CustomerOut)
def get_customer(customer_id: CustomerId, principal: CurrentUser, container: ContainerDep) -> dict[str, Any]:
    return _visible_customer(container, principal, customer_id).to_dict()


@router.patch("/{customer_id}", response_model=CustomerOut)
def update_customer(
    customer_id: CustomerId, body: CustomerPatchIn, principal: CurrentUser, container: ContainerDep
) -> dict[str, Any]:
    current = _visible_customer(container, principal, customer_id)
    changes = body.model_dump(exclude_unset=True)
    if "manager_id" in changes or "store_id" in changes:
        check_customer_assignment(
            principal,
            changes.get("manager_id", current.manager_id),
            changes.get("store_id", current.store_id),
        )
    return container.customers.update(customer_id, CustomerPatch(**changes)).to_dict()


@router.delete("/{customer_id}", status_code=204)
def delete_customer(customer_id: CustomerId, principal: AdminUser, container: ContainerDep) -> None:
    container.customers.delete(customer_id)


@router.post(
    "/import",
    response_model=ImportResult,
    openapi_extra=import_request_body("customers", CustomerImportItem, CSV_DESCRIPTION),
)
async def import_customers(request: Request, principal: AdminUser, container: ContainerDep) -> ImportResult:
    """Create or update many customers from JSON ``{"customers": [...]}`` or a CSV file.

    Rows with an ``external_id`` that exists update that customer; the others are created. A bad row
    is reported by its number and the others are imported.
    """
    data = await read_limited(request.stream())
    content_type = request.headers.get("content-type", "")
    return await run_in_threadpool(_import, container, content_type, data)


def _import(container: Container, content_type: str, data: bytes) -> ImportResult:
    parsed = parse_upload(
        content_type,
        data,
        key="customers",
        columns=CSV_COLUMNS,
        list_columns=("tags",),
        custom_columns=True,
    )
    valid, errors = validate_rows(parsed, CustomerImportItem)
    rows = []
    for number, item in valid:
        fields = item.model_dump(exclude_unset=True, exclude={"manager_login", "store_code"})
        rows.append(
            CustomerImportRow(
                row=number,
                fields=CustomerPatch(**fields),
                manager_login=item.manager_login,
                store_code=item.store_code,
            )
        )
    return container.customers.import_many(rows).with_errors(errors)
