"""Plain data of mailings: what is stored, what a worker leases, and the progress users see."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "RECIPIENT_KEY_PREFIX",
    "ChunkOutcome",
    "LeasedChunk",
    "Mailing",
    "MailingContent",
    "MailingProgress",
    "NewMailing",
    "NewRecipient",
    "RecipientRefusal",
    "RecipientView",
    "recipient_key",
]


# A recipient's outbox idempotency key is RECIPIENT_KEY_PREFIX + mailing id + ":" + position.
RECIPIENT_KEY_PREFIX = "mailing:"


def recipient_key(mailing_id: str, seq: int) -> str:
    """The outbox idempotency key of a mailing's recipient: composing a chunk again sends nothing twice."""
    return f"{RECIPIENT_KEY_PREFIX}{mailing_id}:{seq}"


@dataclass(frozen=True, slots=True)
class MailingContent:
    """What every recipient is sent: Twig templates and the sender, the same for the whole mailing."""

    sender: str
    subject: str
    preheader: str | None = None
    text: str | None = None
    html: str | None = None
    timezone: str = "UTC"
    smtp_account_id: int | None = None


@dataclass(frozen=True, slots=True)
class NewRecipient:
    address: str
    context: dict[str, Any]
    customer_id: str | None = None


@dataclass(frozen=True, slots=True)
class NewMailing:
    name: str
    content: MailingContent
    recipients: list[NewRecipient]
    findings: list[dict[str, Any]] = field(default_factory=list)
    created_by: int | None = None


@dataclass(frozen=True, slots=True)
class LeasedChunk:
    """Recipients a worker composes now: ``recipients`` are (seq, address, customer id, context)."""

    chunk_id: int
    mailing_id: str
    recipients: list[tuple[int, str, str | None, dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class RecipientRefusal:
    """Why one recipient got no message (a template error with its data, blocked content ...)."""

    seq: int
    code: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True, slots=True)
class ChunkOutcome:
    """A composed chunk and its refusals (the queued recipients' messages are found by their keys)."""

    chunk_id: int
    mailing_id: str
    refused: list[RecipientRefusal]


@dataclass(frozen=True, slots=True)
class MailingProgress:
    """Where the recipients stand: composed or not, and their messages' outbox statuses."""

    recipients: int
    composed: int  # queued + refused
    refused: int
    messages: dict[str, int]  # outbox status -> count
    cancelled: bool = False

    @property
    def status(self) -> str:
        """composing, sending (all composed, some messages not settled), finished, or cancelled."""
        if self.cancelled:
            return "cancelled"
        if self.composed < self.recipients:
            return "composing"
        unsettled = sum(n for s, n in self.messages.items() if s in ("queued", "sending", "retry"))
        return "sending" if unsettled else "finished"

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "recipients": self.recipients,
            "composed": self.composed,
            "refused": self.refused,
            "messages": dict(sorted(self.messages.items())),
        }


@dataclass(frozen=True, slots=True)
class Mailing:
    id: str
    name: str
    content: MailingContent
    recipient_count: int
    findings: list[dict[str, Any]]
    created_by: int | None
    created_at: datetime
    cancelled_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        c = self.content
        return {
            "id": self.id,
            "name": self.name,
            "from": c.sender,
            "smtp_account_id": c.smtp_account_id,
            "subject": c.subject,
            "preheader": c.preheader,
            "text": c.text,
            "html": c.html,
            "timezone": c.timezone,
            "recipients": self.recipient_count,
            "findings": self.findings,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "cancelled_at": self.cancelled_at.isoformat() if self.cancelled_at else None,
        }


@dataclass(frozen=True, slots=True)
class RecipientView:
    seq: int
    address: str
    customer_id: str | None
    message_id: str | None
    status: str  # pending (not composed yet), cancelled (never will be), refused, or the message's status
    error: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "to": self.address,
            "customer_id": self.customer_id,
            "message_id": self.message_id,
            "status": self.status,
            "error": self.error,
        }
