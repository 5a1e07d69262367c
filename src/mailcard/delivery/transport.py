"""The transport seam: what the delivery worker needs from "something that sends over SMTP".

Declared here, on the consumer's side, so the worker depends on this small protocol and not on
aiosmtplib. Implementations: :class:`mailcard.delivery.smtp.SmtpTransport` (real) and
:class:`mailcard.delivery.fake.RecordingTransport` (tests).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from mailcard.delivery.settings import SmtpSettings

__all__ = ["Envelope", "SendResult", "Transport"]


@dataclass(frozen=True)
class Envelope:
    """The SMTP envelope: ``MAIL FROM`` and ``RCPT TO`` addresses (bare, without angle brackets).

    ``smtputf8`` asks for the SMTPUTF8 extension (non-ASCII addresses or headers); the transport
    also turns it on by itself when an envelope address is not ASCII.
    """

    sender: str
    recipients: tuple[str, ...]
    smtputf8: bool = False


@dataclass(frozen=True)
class SendResult:
    """The server accepted the message for ``accepted``; ``refused`` lists the others.

    ``refused`` maps each refused recipient to ``(smtp_code, server_text)``; it is only non-empty
    when at least one recipient was accepted (otherwise ``send`` raises).
    """

    smtp_code: int
    server_text: str
    accepted: tuple[str, ...]
    refused: Mapping[str, tuple[int, str]] = field(default_factory=dict)


class Transport(Protocol):
    async def send(self, settings: SmtpSettings, envelope: Envelope, data: bytes) -> SendResult:
        """Hand ``data`` (the exact message bytes) to the server of ``settings``.

        Raises :class:`mailcard.errors.DeliveryError` when no recipient was accepted; never a
        foreign exception.
        """
        ...

    async def aclose(self) -> None:
        """Close pooled connections; the transport may not be used afterwards."""
        ...
