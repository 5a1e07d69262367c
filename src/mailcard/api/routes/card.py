"""Sending from the customer card: From options, preview, send, test send, timeline, message status."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from mailcard.api.deps import ContainerDep, CurrentUser, RowId, call_database, container_of
from mailcard.card import CardEmail

router = APIRouter(prefix="/api", tags=["card"])

MAX_BODY = 2_000_000


class CardEmailIn(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: Literal["manager", "store", "address"] = Field(
        alias="from",
        description="The customer's manager, the customer's store, or an additional address (give its id).",
    )
    from_address_id: RowId | None = Field(None, description="With from=address: which additional address.")
    template_id: RowId | None = Field(None, description="A template of the 'customer' event.")
    subject: str | None = Field(None, max_length=2000, description="Twig; overrides the template's subject.")
    preheader: str | None = Field(
        None, max_length=2000, description="Twig; inbox preview text, hidden in the body."
    )
    html: str | None = Field(None, max_length=MAX_BODY)
    text: str | None = Field(None, max_length=MAX_BODY)
    data: dict[str, Any] = Field(default_factory=dict, description="Extra variables for the templates.")

    def to_card_email(self) -> CardEmail:
        return CardEmail(
            from_kind=self.from_,
            from_address_id=self.from_address_id,
            template_id=self.template_id,
            subject=self.subject,
            preheader=self.preheader,
            html=self.html,
            text=self.text,
            data=self.data,
        )


class FindingOut(BaseModel):
    code: str
    severity: str
    message: str
    hint: str | None = None
    location: dict[str, Any] | None = None
    excerpt: str | None = None


class SenderOptionOut(BaseModel):
    kind: str
    id: int
    email: str
    name: str | None
    usable: bool
    blocked_by: str | None


class CardSentOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    message_id: str
    status: str
    created: bool
    from_: str = Field(alias="from")
    to: str
    warnings: list[FindingOut]


class CardPreviewOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from")
    to: str
    subject: str
    preheader: str | None
    html: str | None
    text: str | None
    document: str | None = Field(
        description="The HTML part (or the text part) as a complete document whose Content-Security-Policy "
        "allows no script: show it in <iframe sandbox srcdoc=...>, never by inserting html into a page."
    )
    smtp_account: str | None
    verdict: str
    can_send: bool
    findings: list[FindingOut]


class AttemptOut(BaseModel):
    number: int
    outcome: str
    reason: str | None = None
    smtp_code: int | None = None
    enhanced_code: str | None = None
    server_text: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    refused: Any = None


class MessageOut(BaseModel):
    """A message as the outbox reports it (``OutboxMessage.to_dict``, as ``mailcard outbox show``
    prints it): the latest attempt's outcome under ``reason``, ``smtp_code``, ``enhanced_code`` and
    ``error``, then every attempt. The card's own fields (``from_kind``, ``warnings``, ...) pass through."""

    model_config = ConfigDict(extra="allow")

    id: str
    status: str
    subject: str
    attempt_count: int
    reason: str | None = None
    smtp_code: int | None = None
    enhanced_code: str | None = None
    error: str | None = None
    created_at: str | None = None
    settled_at: str | None = None
    attempts: list[AttemptOut]


class TimelineOut(BaseModel):
    items: list[MessageOut]
    next_before: str | None = Field(None, description="Pass as `before` for the next (older) page.")


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="Repeat a send safely: the same key from the same user gives the same message.",
    ),
]


@router.get("/customers/{customer_id}/senders", response_model=list[SenderOptionOut])
def sender_options(customer_id: int, principal: CurrentUser, container: ContainerDep) -> list[dict[str, Any]]:
    """The From choices for this customer, and whether each can send yet."""
    return [c.to_dict() for c in container.card.sender_options(principal, customer_id)]


@router.post(
    "/customers/{customer_id}/emails/preview", response_model=CardPreviewOut, response_model_by_alias=True
)
def preview(
    customer_id: int, body: CardEmailIn, principal: CurrentUser, container: ContainerDep
) -> dict[str, Any]:
    """Render and check the e-mail for this customer; nothing is sent."""
    return container.card.preview(principal, customer_id, body.to_card_email()).to_dict()


@router.post(
    "/customers/{customer_id}/emails",
    response_model=CardSentOut,
    status_code=202,
    response_model_by_alias=True,
)
async def send(
    customer_id: int,
    body: CardEmailIn,
    principal: CurrentUser,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """Send to the customer's address: stored durably, delivered by the worker. Warnings come back."""
    # The card's main action is kept lean: async, with the work in call_database (no thread hop on
    # SQLite), and the container taken from the request (a dependency costs FastAPI a solve per call).
    container = container_of(request)
    sent = await call_database(
        container,
        container.card.send,
        principal,
        customer_id,
        body.to_card_email(),
        idempotency_key=idempotency_key,
    )
    return sent.to_dict()


@router.post(
    "/customers/{customer_id}/emails/test",
    response_model=CardSentOut,
    status_code=202,
    response_model_by_alias=True,
)
def test_send(
    customer_id: int, body: CardEmailIn, principal: CurrentUser, container: ContainerDep
) -> dict[str, Any]:
    """The same e-mail, rendered for this customer, sent to your own confirmed address as a test."""
    return container.card.test_send(principal, customer_id, body.to_card_email()).to_dict()


@router.get("/customers/{customer_id}/emails", response_model=TimelineOut)
def timeline(
    customer_id: int,
    principal: CurrentUser,
    container: ContainerDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[str | None, Query(max_length=32, pattern="^[0-9a-f]{1,32}$")] = None,
) -> dict[str, Any]:
    """Every e-mail to this customer, newest first, with its delivery attempts and the server's replies."""
    items = container.card.timeline(principal, customer_id, limit=limit, before=before)
    return {"items": items, "next_before": items[-1]["id"] if len(items) == limit else None}


@router.get("/messages/{message_id}", response_model=MessageOut)
def message(message_id: str, principal: CurrentUser, container: ContainerDep) -> dict[str, Any]:
    """A card message's status and attempts."""
    return container.card.message(principal, message_id)
