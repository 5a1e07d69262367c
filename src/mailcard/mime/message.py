"""The two value types of the MIME layer: what to send (``MessageDraft``) and the bytes (``BuiltMessage``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from mailcard.domain.mailbox import Mailbox

__all__ = ["BuiltMessage", "MessageDraft"]


@dataclass(frozen=True)
class MessageDraft:
    """One message to build. At least one of ``text`` / ``html`` is required.

    ``headers`` are extra fields (``X-Mailcard-Id``, ``List-Unsubscribe``, ...); the fields the builder
    writes itself (From, To, Subject, Date, Message-ID, Content-*, ...) are refused there.
    ``message_id`` is generated (``<uuid-hex@sender-domain>``) when ``None``; ``date`` defaults to now
    (naive datetimes are taken as UTC).
    """

    sender: Mailbox
    to: Sequence[Mailbox]
    subject: str
    text: str | None = None
    html: str | None = None
    cc: Sequence[Mailbox] = ()
    reply_to: Sequence[Mailbox] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    message_id: str | None = None
    date: datetime | None = None


@dataclass(frozen=True)
class BuiltMessage:
    """A finished message: ``data`` is the whole message with CRLF line endings, ready for DATA.

    ``envelope_from`` / ``envelope_to`` are the addresses for MAIL FROM / RCPT TO (IDNA domains when
    the local part is ASCII; To then Cc, duplicates removed). ``smtputf8`` says the message carries raw
    UTF-8 addresses and must only go to a server that offers SMTPUTF8.
    """

    data: bytes
    message_id: str
    envelope_from: str
    envelope_to: tuple[str, ...]
    smtputf8: bool
