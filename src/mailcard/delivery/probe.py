"""The connection test behind ``mailcard smtp test``: would these SMTP settings work?

This module owns :func:`probe` (connect, TLS, AUTH, ``MAIL FROM``, ``RCPT TO``, then ``RSET``
without ``DATA`` — or a real test message when asked), its result type with the stable JSON
contract (:meth:`ProbeResult.to_json`), and :func:`sender_matches_account`, the go-live warning
about a From address the account may not be allowed to use. It never raises for SMTP trouble:
every failure becomes a result with the same reason codes as a failed delivery.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from email.utils import formatdate, make_msgid
from typing import Any

from mailcard.delivery.settings import SmtpSettings, redacted_url
from mailcard.delivery.smtp import SmtpConnection, check_envelope, open_connection, send_transaction
from mailcard.delivery.transport import Envelope
from mailcard.errors import DeliveryError

__all__ = ["ProbeResult", "ProbeStep", "probe", "sender_matches_account"]

_JSON_KEYS = ("ok", "reason", "transient", "smtp_code", "enhanced_code", "message", "hint")


@dataclass(frozen=True)
class ProbeStep:
    """One SMTP step of the probe: ``name`` is connect, tls, auth, mail, rcpt, rset or data."""

    name: str
    ok: bool
    detail: str
    seconds: float


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    reason: str | None
    transient: bool | None
    smtp_code: int | None
    enhanced_code: str | None
    message: str
    hint: str | None
    steps: list[ProbeStep] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The stable ``--json`` contract: exactly ok, reason, transient, smtp_code, enhanced_code,
        message, hint."""
        return {key: getattr(self, key) for key in _JSON_KEYS}


async def probe(
    settings: SmtpSettings,
    *,
    mail_from: str,
    rcpt_to: str | None,
    send_test: bool = False,
    test_message: bytes | None = None,
) -> ProbeResult:
    """Try ``settings`` step by step; with ``send_test`` really send a (test) message to ``rcpt_to``."""
    if send_test and not rcpt_to:
        raise ValueError("send_test needs rcpt_to")
    steps: list[ProbeStep] = []
    clock = [time.monotonic()]

    def done(name: str, detail: str) -> None:
        now = time.monotonic()
        steps.append(ProbeStep(name, True, detail, round(now - clock[0], 3)))
        clock[0] = now

    envelope = Envelope(mail_from, (rcpt_to,) if rcpt_to else ())
    data = test_message if test_message is not None else _test_message(mail_from, rcpt_to, settings)
    connection: SmtpConnection | None = None
    try:
        connection = await open_connection(settings, on_step=done)
        if send_test:
            result = await send_transaction(connection, envelope, data, on_step=done)
            message = f"Test message sent to {rcpt_to} via {redacted_url(settings)}: {result.smtp_code} " + (
                result.server_text.splitlines()[0] if result.server_text else ""
            )
        else:
            await check_envelope(connection, envelope, data, on_step=done)
            accepted = f"the sender {mail_from}" + (f" and the recipient {rcpt_to}" if rcpt_to else "")
            message = f"SMTP settings work ({redacted_url(settings)}): {accepted} accepted; nothing was sent."
    except DeliveryError as error:
        steps.append(
            ProbeStep(
                _failed_step(steps, settings), False, error.message, round(time.monotonic() - clock[0], 3)
            )
        )
        return ProbeResult(
            ok=False,
            reason=error.reason,
            transient=error.transient,
            smtp_code=error.smtp_code,
            enhanced_code=error.enhanced_code,
            message=error.message,
            hint=error.hint,
            steps=steps,
        )
    finally:
        if connection is not None:
            await connection.quit()
    return ProbeResult(True, None, None, None, None, message.strip(), None, steps)


def sender_matches_account(from_address: str, settings: SmtpSettings) -> bool:
    """False when From is probably not allowed for this login: neither the login nor its domain.

    Many servers refuse (553) or spam-folder mail whose From differs from the SMTP account.
    Logins that are not e-mail addresses (API-key logins) and anonymous relays cannot be judged
    here and count as matching.
    """
    login = (settings.username or "").strip().lower()
    if "@" not in login:
        return True
    sender = from_address.strip().lower()
    if "<" in sender and sender.endswith(">"):
        sender = sender[sender.rindex("<") + 1 : -1]
    if sender == login:
        return True
    return sender.rpartition("@")[2] == login.rpartition("@")[2] and "@" in sender


def _failed_step(steps: list[ProbeStep], settings: SmtpSettings) -> str:
    """The step after the last one that succeeded."""
    order = ["connect"]
    if settings.security != "none":
        order.append("tls")
    if settings.username:
        order.append("auth")
    order += ["mail", "rcpt", "data"]
    done = {s.name for s in steps}
    for name in order:
        if name not in done:
            return name
    return "data"


def _test_message(mail_from: str, rcpt_to: str | None, settings: SmtpSettings) -> bytes:
    domain = mail_from.rpartition("@")[2]
    id_domain = domain if domain and domain.isascii() else "mailcard.invalid"
    lines = [
        f"From: {mail_from}",
        f"To: {rcpt_to or mail_from}",
        "Subject: mailcard SMTP test",
        f"Date: {formatdate(localtime=True)}",
        f"Message-ID: {make_msgid(domain=id_domain)}",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
        "",
        f"This is a test message from mailcard, sent through {settings.label}.",
        "If you can read it, the SMTP settings work.",
        "",
    ]
    return "\r\n".join(lines).encode("utf-8")
