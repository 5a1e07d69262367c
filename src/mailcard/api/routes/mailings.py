"""Mailings: ``POST /api/mailings`` stores one for the workers to compose and send, the GETs show its
progress and each recipient's message.

Administrators only: a mailing reaches customers of every store, and its recipients' data and
messages are theirs.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field, model_validator

from mailcard.api.deps import AdminUser, ContainerDep, Page, Paging, RowId
from mailcard.api.routes.card import MAX_BODY
from mailcard.mailings import RecipientInput
from mailcard.mailings.service import MAX_RECIPIENTS

router = APIRouter(prefix="/api/mailings", tags=["mailings"])


class RecipientIn(BaseModel):
    to: str | None = Field(None, max_length=1000, description="An address such as Иван <ivan@example.com>.")
    customer_id: int | str | None = Field(
        None, description="A CRM customer (id or external id): their address, and their data as `customer`."
    )
    context: dict[str, Any] | None = Field(None, description="What the templates see for this recipient.")

    @model_validator(mode="after")
    def _one_of(self) -> RecipientIn:
        if self.to is None and self.customer_id is None:
            raise ValueError("give to or customer_id")
        return self


class MailingIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    from_: str = Field(alias="from", min_length=1, max_length=1000, description="Name <address>")
    smtp_account_id: int | None = Field(None, description="Default: the installation's default account.")
    template_id: RowId | None = Field(
        None, description="A stored template: its subject, preheader and bodies, unless given here."
    )
    subject: str | None = Field(None, max_length=2000, description="Twig")
    preheader: str | None = Field(
        None, max_length=2000, description="Twig; inbox preview text, hidden in the body."
    )
    html: str | None = Field(None, max_length=MAX_BODY, description="Twig, autoescaped")
    text: str | None = Field(None, max_length=MAX_BODY, description="Twig")
    timezone: str = Field("UTC", max_length=64, description="For the date filters.")
    recipients: list[RecipientIn] = Field(min_length=1, max_length=MAX_RECIPIENTS)


@router.post("", status_code=201)
def create(body: MailingIn, principal: AdminUser, container: ContainerDep) -> dict[str, Any]:
    """Check and store the mailing (201); the workers compose and send it. Refused whole (422) when a
    recipient, the sender, a template or the first recipient's message cannot be used."""
    service = container.mailings()
    mailing, progress = service.create(
        body.name,
        service.content(
            sender=body.from_,
            template_id=body.template_id,
            subject=body.subject,
            preheader=body.preheader,
            text=body.text,
            html=body.html,
            timezone=body.timezone,
            smtp_account_id=body.smtp_account_id,
        ),
        [
            RecipientInput(
                to=r.to, customer_id=None if r.customer_id is None else str(r.customer_id), context=r.context
            )
            for r in body.recipients
        ],
        created_by=principal.user_id,
    )
    return mailing.to_dict() | {"progress": progress.to_dict()}


@router.get("")
def list_mailings(principal: AdminUser, container: ContainerDep, paging: Paging) -> Page[Any]:
    page, total = container.mailings().store.list(limit=paging.limit, offset=paging.offset)
    return Page.of([m.to_dict() | {"progress": p.to_dict()} for m, p in page], total, paging)


@router.get("/{mailing_id}")
def get_mailing(mailing_id: str, principal: AdminUser, container: ContainerDep) -> dict[str, Any]:
    mailing, progress = container.mailings().get(mailing_id)
    return mailing.to_dict() | {"progress": progress.to_dict()}


@router.post("/{mailing_id}/cancel")
def cancel(mailing_id: str, principal: AdminUser, container: ContainerDep) -> dict[str, Any]:
    """Stop the mailing: nothing more is composed and its waiting messages are cancelled
    (``cancelled_messages``); messages already sent, or being sent at this moment, are not recalled."""
    mailing, progress, cancelled = container.mailings().cancel(mailing_id)
    return mailing.to_dict() | {"progress": progress.to_dict(), "cancelled_messages": cancelled}


@router.get("/{mailing_id}/recipients")
def list_recipients(
    mailing_id: str, principal: AdminUser, container: ContainerDep, paging: Paging
) -> Page[Any]:
    """Each recipient in order: its outbox message and status (pending until its chunk is composed,
    refused with the reason when its message could not be made)."""
    items, total = container.mailings().recipients(mailing_id, limit=paging.limit, offset=paging.offset)
    return Page.of([r.to_dict() for r in items], total, paging)
