"""Sender addresses: confirmation (start, code, link) and the additional addresses of the mail settings."""

from __future__ import annotations

import html
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from mailcard.api.deps import AdminUser, ContainerDep, CurrentUser, RowId, id_path
from mailcard.errors import MailcardError

router = APIRouter(prefix="/api", tags=["senders"])

# Ids stay inside what every database holds: a larger one is refused here, not by the driver.
AddressId = Annotated[int, id_path("additional address")]


class ConfirmationIn(BaseModel):
    kind: Literal["user", "store", "address"]
    id: RowId = Field(description="The user's, store's or additional address's id.")


class CodeIn(ConfirmationIn):
    code: str = Field(min_length=1, max_length=32)


class PendingOut(BaseModel):
    id: int
    kind: str
    sender_id: int
    email: str
    expires_at: str
    message_id: str | None


class ConfirmedOut(BaseModel):
    kind: str
    sender_id: int
    email: str
    confirmed: bool


class SenderAddressIn(BaseModel):
    email: str = Field(min_length=3, max_length=320)
    name: str | None = Field(None, max_length=200)
    all_users: bool = Field(False, description="Every manager may send from it; else only `user_ids`.")
    user_ids: list[RowId] = Field(default_factory=list, max_length=1000)
    smtp_account_id: RowId | None = None


class SenderAddressPatch(BaseModel):
    name: str | None = Field(None, max_length=200)
    all_users: bool | None = None
    user_ids: list[RowId] | None = Field(None, max_length=1000)
    smtp_account_id: RowId | None = None


class SenderAddressOut(BaseModel):
    id: int
    email: str
    name: str | None
    confirmed: bool
    confirmed_at: str | None
    all_users: bool
    user_ids: list[int]
    smtp_account_id: int | None


@router.post("/senders/confirmations", response_model=PendingOut, status_code=202)
def start_confirmation(
    body: ConfirmationIn, principal: CurrentUser, container: ContainerDep
) -> dict[str, Any]:
    """E-mail a confirmation link and code to the address (again: the previous ones stop working)."""
    return container.confirmations.start(principal, body.kind, body.id).to_dict()


@router.post("/senders/confirmations/code", response_model=ConfirmedOut)
def confirm_with_code(body: CodeIn, principal: CurrentUser, container: ContainerDep) -> dict[str, Any]:
    """Confirm with the six-digit code from the e-mail; the address may then send."""
    return container.confirmations.confirm_code(principal, body.kind, body.id, body.code).to_dict()


@router.get("/senders/confirm", response_class=HTMLResponse)
def confirmation_page(token: Annotated[str, Query(min_length=1, max_length=200)]) -> HTMLResponse:
    """The page the e-mailed link opens: one button confirms (link scanners that only GET confirm nothing)."""
    return _page(
        "Confirm the sender address",
        '<form method="post" action="/api/senders/confirm">'
        f'<input type="hidden" name="token" value="{html.escape(token, quote=True)}">'
        '<button type="submit">Confirm this address as a sender</button></form>',
    )


@router.post(
    "/senders/confirm",
    response_class=HTMLResponse,
    responses={400: {"description": "Not confirmed: a page saying why.", "content": {"text/html": {}}}},
)
def confirm_with_link(
    token: Annotated[str, Form(min_length=1, max_length=200)], container: ContainerDep
) -> HTMLResponse:
    """Confirm with the token from the link (the form on the confirmation page posts here)."""
    try:
        confirmed = container.confirmations.confirm_token(token)
    except MailcardError as error:
        return _page(
            "Not confirmed", f"<p>{html.escape(error.message)}</p><p>{html.escape(error.hint or '')}</p>", 400
        )
    return _page("Confirmed", f"<p>{html.escape(confirmed.email)} can now be used as a sender.</p>")


@router.get("/sender-addresses", response_model=list[SenderAddressOut])
def list_addresses(principal: CurrentUser, container: ContainerDep) -> list[dict[str, Any]]:
    """Additional sender addresses: all of them for admins, those granted to you otherwise."""
    found = container.sender_addresses.list()
    return [a.to_dict() for a in found if principal.is_admin or a.granted_to(principal.user_id)]


@router.post("/sender-addresses", response_model=SenderAddressOut, status_code=201)
def create_address(body: SenderAddressIn, principal: AdminUser, container: ContainerDep) -> dict[str, Any]:
    """Add an address to the system mail settings; it can send once confirmed."""
    address = container.sender_addresses.create(
        body.email,
        name=body.name,
        all_users=body.all_users,
        user_ids=tuple(body.user_ids),
        smtp_account_id=body.smtp_account_id,
    )
    return address.to_dict()


@router.patch("/sender-addresses/{address_id}", response_model=SenderAddressOut)
def update_address(
    address_id: AddressId, body: SenderAddressPatch, principal: AdminUser, container: ContainerDep
) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    address = container.sender_addresses.update(
        address_id,
        name=body.name,
        all_users=body.all_users,
        user_ids=tuple(body.user_ids) if body.user_ids is not None else None,
        smtp_account_id=body.smtp_account_id,
        clear_smtp_account="smtp_account_id" in changes and body.smtp_account_id is None,
    )
    return address.to_dict()


@router.delete("/sender-addresses/{address_id}", status_code=204)
def delete_address(address_id: AddressId, principal: AdminUser, container: ContainerDep) -> None:
    container.sender_addresses.delete(address_id)


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    document = (
        "<!doctype html><html><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title></head><body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    # The page never runs script: a strict CSP makes that hold even if something slipped through.
    headers = {"Content-Security-Policy": "default-src 'none'; form-action 'self'", "X-Frame-Options": "DENY"}
    return HTMLResponse(document, status_code=status, headers=headers)
