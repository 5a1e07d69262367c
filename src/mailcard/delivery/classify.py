"""Classification: one failed SMTP step → one :class:`~mailcard.errors.DeliveryError`.

Pure functions, no I/O. Two inputs are understood:

* a server reply (:func:`classify_reply`): the SMTP code decides transient (4xx) or permanent
  (5xx); the phase, the RFC 3463 enhanced status code and a few well-known phrases decide the
  reason;
* a foreign exception (:func:`classify_exception`): aiosmtplib, ``ssl`` and ``socket`` errors,
  including the 465/587 mix-ups that otherwise surface as "wrong version number" or a silent
  timeout.

This module is the only place that knows the shapes of aiosmtplib's exceptions besides
:mod:`mailcard.delivery.smtp`; nothing above the delivery package imports aiosmtplib.
"""

from __future__ import annotations

import re
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final, Literal

import aiosmtplib

from mailcard.delivery.reasons import reason
from mailcard.delivery.settings import Security
from mailcard.errors import DeliveryError

__all__ = [
    "ClassifyContext",
    "Phase",
    "classify_exception",
    "classify_reply",
    "delivery_error",
    "parse_enhanced_code",
    "reason_for_reply",
    "tls_mismatch_hint",
]

Phase = Literal["connect", "tls", "ehlo", "auth", "mail", "rcpt", "data", "quit"]

_ENHANCED_RE: Final = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})(?=[\s,;:.]|$)")
# OpenSSL's words for "the peer did not answer with TLS": what a client doing implicit TLS sees
# when the port expects plain SMTP or STARTTLS (the server's "220 ..." greeting is not a TLS record).
_NOT_TLS_REASONS: Final = frozenset(
    {
        "WRONG_VERSION_NUMBER",
        "UNKNOWN_PROTOCOL",
        "PACKET_LENGTH_TOO_LONG",
        "RECORD_LAYER_FAILURE",
        "HTTP_REQUEST",
    }
)
_RATE_WORDS: Final = (
    "rate limit",
    "too many",
    "try again later",
    "throttl",
    "quota",
    "sending limit",
    "limit exceeded",
)
_SIZE_WORDS: Final = ("too large", "too big", "size limit", "exceeds size", "message size", "size exceeds")
_MAX_TEXT: Final = 300


@dataclass(frozen=True, slots=True)
class ClassifyContext:
    """What the classifier may use to word its hints (the settings of the attempt)."""

    security: Security | None = None
    port: int | None = None
    host: str | None = None
    timeout: float | None = None


def parse_enhanced_code(text: str) -> str | None:
    """The RFC 3463 enhanced status code at the start of a reply text (``"5.7.8"``), if any."""
    match = _ENHANCED_RE.match(text)
    if match is None:
        return None
    return ".".join(str(int(part)) for part in match.groups())


def reason_for_reply(phase: Phase, code: int, enhanced_code: str | None, text: str) -> str:
    """The reason code for a failure reply; see docs/smtp.md for the table this implements."""
    low = text.lower()
    sub = _subject_detail(enhanced_code, code)

    # Replies whose meaning does not depend on the step.
    if code == 421:
        return "rate_limited" if _has(low, _RATE_WORDS) or sub.startswith("7.") else "server_unavailable"
    if code == 530 or sub in ("7.10", "7.11"):
        return (
            "tls_required"
            if ("starttls" in low or "tls" in low or sub in ("7.10", "7.11"))
            else "auth_required"
        )
    if code == 538:
        return "tls_required"
    if not 200 <= code < 600:
        return "protocol_error"

    if phase == "connect":
        return (
            "rate_limited"
            if _has(low, _RATE_WORDS)
            else "server_unavailable"
            if code >= 400
            else "protocol_error"
        )
    if phase == "ehlo":
        return "server_unavailable" if 400 <= code < 500 else "protocol_error"
    if phase == "tls":
        return "server_unavailable" if code == 421 else "tls_failed"
    if phase == "auth":
        return _auth_reason(code, sub, low)
    if phase == "quit":
        return "protocol_error"

    # MAIL, RCPT and DATA: the enhanced code first, then well-known phrases, then the basic code.
    if "smtputf8" in low:
        return "smtputf8_unsupported"
    by_enhanced = _transaction_reason_by_enhanced(phase, code, sub, low)
    if by_enhanced is not None:
        return by_enhanced
    if phase == "rcpt" and "relay" in low and code >= 500:
        return "relay_denied"
    if _has(low, _SIZE_WORDS):
        return "message_too_large"
    if _has(low, _RATE_WORDS):
        return "rate_limited"
    return _transaction_reason_by_code(phase, code)


def classify_reply(
    phase: Phase,
    code: int,
    text: str,
    *,
    enhanced_code: str | None = None,
    context: ClassifyContext | None = None,
) -> DeliveryError:
    """A :class:`DeliveryError` for a failure reply ``code text`` to the step ``phase``."""
    clean = _clean(text)
    enhanced = enhanced_code or parse_enhanced_code(clean)
    code_reason = reason_for_reply(phase, code, enhanced, clean)
    transient = _transient_for_reply(phase, code, code_reason, enhanced)
    hint = None
    if code_reason == "tls_failed" and code >= 500 and phase == "tls":
        hint = (
            "The server does not offer STARTTLS on this port: choose SSL/TLS with port 465, or check "
            "that this is the submission port (587)."
        )
    if phase == "connect" and code >= 500:
        hint = (
            "The server refuses connections from this machine (its address may be blocklisted): "
            "ask the provider, or use its submission port 587 or 465 with a login."
        )
    if code_reason == "auth_failed" and "application-specific password" in clean.lower():
        hint = "This account needs an app password: create one in the provider's security settings."
    if code_reason == "recipient_rejected" and transient:
        hint = (
            "The server refused this recipient for now (mailbox busy, full or greylisting); "
            "mailcard tries again later."
        )
    return delivery_error(
        code_reason,
        transient=transient,
        smtp_code=code if code > 0 else None,
        enhanced_code=enhanced,
        server_text=clean or None,
        hint=hint,
        step=phase,
    )


def classify_exception(
    phase: Phase, exc: BaseException, *, context: ClassifyContext | None = None
) -> DeliveryError:
    """Translate an aiosmtplib / ``ssl`` / ``socket`` / timeout exception raised during ``phase``."""
    ctx = context or ClassifyContext()
    if isinstance(exc, DeliveryError):
        return exc
    chain = list(_chain(exc))

    # A reply the server really sent: classify it like any reply.
    for item in chain:
        if isinstance(item, aiosmtplib.SMTPRecipientsRefused) and item.recipients:
            refusal = min(item.recipients, key=lambda r: 0 if 400 <= r.code < 500 else 1)
            return classify_reply("rcpt", refusal.code, refusal.message, context=ctx)
        if isinstance(item, aiosmtplib.SMTPResponseException):
            if item.code == aiosmtplib.SMTPStatus.invalid_response:
                return _protocol_garbage(phase, item.message, ctx)
            return classify_reply(phase, item.code, item.message, context=ctx)
        if isinstance(item, aiosmtplib.SMTPNotSupported) and "smtputf8" in str(item).lower():
            return delivery_error("smtputf8_unsupported", step=phase)

    for item in chain:
        if isinstance(item, ssl.SSLCertVerificationError):
            detail = item.verify_message or str(item)
            return delivery_error("tls_failed", detail=f"certificate not trusted ({detail})", step=phase)
        if isinstance(item, ssl.SSLError):
            ssl_reason = getattr(item, "reason", None) or ""
            if ssl_reason in _NOT_TLS_REASONS or "wrong version number" in str(item).lower():
                return delivery_error(
                    "tls_mismatch",
                    detail="the server did not answer with TLS (wrong version number)",
                    hint=tls_mismatch_hint(ctx, expected="starttls"),
                    step=phase,
                )
            return delivery_error("tls_failed", detail=ssl_reason or str(item), step=phase)
        if isinstance(item, socket.gaierror):
            transient = item.errno == socket.EAI_AGAIN
            return delivery_error(
                "dns_failed", transient=transient, detail=f"{ctx.host or 'host'}: {item.strerror}", step=phase
            )

    if _is_greeting_timeout(exc, chain):
        if ctx.security in ("starttls", "none"):
            return delivery_error(
                "tls_mismatch",
                detail="no SMTP greeting arrived; the server seems to wait for a TLS handshake",
                hint=tls_mismatch_hint(ctx, expected="tls"),
                step=phase,
            )
        return delivery_error("timeout", detail="no SMTP greeting arrived in time", step=phase)
    if isinstance(exc, aiosmtplib.SMTPConnectTimeoutError) or (
        phase == "connect" and any(isinstance(i, TimeoutError) for i in chain)
    ):
        return delivery_error("connect_timeout", detail=_where(ctx), step=phase)
    if any(isinstance(i, TimeoutError) for i in chain):
        return delivery_error("timeout", detail=f"no reply during {phase.upper()}", step=phase)

    if any(isinstance(i, ConnectionRefusedError) for i in chain):
        return delivery_error("connect_failed", detail=f"connection refused by {_where(ctx)}", step=phase)
    if any(
        isinstance(i, aiosmtplib.SMTPServerDisconnected | ConnectionResetError | BrokenPipeError)
        for i in chain
    ):
        if phase in ("connect", "tls") and ctx.security in ("starttls", "none") and ctx.port == 465:
            return delivery_error(
                "tls_mismatch",
                detail="the server closed the plain-text connection",
                hint=tls_mismatch_hint(ctx, expected="tls"),
                step=phase,
            )
        if phase == "data":
            return delivery_error(
                "connection_lost",
                detail="while the message was being sent; it may or may not have been delivered",
                step=phase,
            )
        return delivery_error("connection_lost", detail=f"during {phase.upper()}", step=phase)
    if isinstance(exc, aiosmtplib.SMTPConnectError) or (phase == "connect" and isinstance(exc, OSError)):
        return delivery_error("connect_failed", detail=_first_line(str(exc)), step=phase)
    if isinstance(exc, OSError):
        return delivery_error("connection_lost", detail=_first_line(str(exc)), step=phase)
    if isinstance(exc, ValueError | UnicodeError) and phase in ("mail", "rcpt"):
        return delivery_error("invalid_envelope", detail=_first_line(str(exc)), step=phase)
    return delivery_error(
        "protocol_error", detail=f"{type(exc).__name__}: {_first_line(str(exc))}", step=phase
    )


def delivery_error(
    code: str,
    *,
    transient: bool | None = None,
    smtp_code: int | None = None,
    enhanced_code: str | None = None,
    server_text: str | None = None,
    detail: str | None = None,
    hint: str | None = None,
    step: Phase | None = None,
) -> DeliveryError:
    """Build a :class:`DeliveryError` for reason ``code`` with the catalogue's wording and defaults."""
    entry = reason(code)
    message = entry.summary
    if detail:
        message = f"{message}: {detail}"
    if smtp_code is not None:
        evidence = " ".join(part for part in (str(smtp_code), _one_line(server_text or "")) if part)
        if enhanced_code and not (server_text or "").startswith(enhanced_code):
            evidence = f"{smtp_code} {enhanced_code} {_one_line(server_text or '')}".strip()
        message = f"{message} (server replied at {step.upper() if step else 'SMTP'}: {evidence})"
    return DeliveryError(
        message,
        reason=code,
        transient=entry.transient if transient is None else transient,
        smtp_code=smtp_code,
        enhanced_code=enhanced_code,
        server_text=server_text,
        hint=hint or entry.hint,
    )


def tls_mismatch_hint(context: ClassifyContext, *, expected: Literal["tls", "starttls"]) -> str:
    """Plain words for a 465/587 mix-up. ``expected`` is what the port really wants."""
    port = context.port
    if expected == "tls":
        where = f"Port {port}" if port else "This port"
        return f"{where} expects implicit TLS: choose SSL/TLS, or use port 587 with STARTTLS."
    where = f"Port {port}" if port else "This port"
    return f"{where} expects STARTTLS: choose STARTTLS, or use port 465 with SSL/TLS."


# -- helpers ---------------------------------------------------------------------------------------


def _auth_reason(code: int, sub: str, low: str) -> str:
    if code == 535 or sub in ("7.8", "7.13", "7.12") or code == 432:
        return "auth_failed"
    if code == 534:
        return "auth_failed" if "application-specific" in low or "app password" in low else "auth_unsupported"
    if code in (504, 502) or sub == "7.9":
        return "auth_unsupported"
    if 400 <= code < 500:
        return "server_unavailable"
    if code in (500, 501):
        return "protocol_error"
    return "auth_failed"


def _transaction_reason_by_enhanced(phase: Phase, code: int, sub: str, low: str) -> str | None:
    if not sub:
        return None
    subject = sub.partition(".")[0]
    if sub in ("6.7", "6.8", "6.9"):
        return "smtputf8_unsupported"
    if sub in ("7.23", "7.24", "7.25", "7.26", "7.27", "7.7"):
        return "sender_rejected"
    if sub in ("7.8", "7.13"):
        return "auth_failed"
    if sub in ("2.3", "3.4"):
        return "message_too_large"
    if sub in ("4.5", "5.3"):
        return "rate_limited"
    if sub in ("1.7", "1.8"):
        return "sender_rejected"
    if sub in ("5.1", "5.2", "5.4"):
        return "protocol_error"
    if subject == "7":
        if _has(low, _SIZE_WORDS):
            return "message_too_large"
        if _has(low, _RATE_WORDS) or (code < 500 and sub == "7.0"):
            return "rate_limited"
        if phase == "mail":
            return "sender_rejected"
        if phase == "rcpt":
            return "relay_denied" if "relay" in low else "recipient_rejected"
        return "content_rejected"
    if subject == "1":
        return "sender_rejected" if phase == "mail" else "recipient_rejected"
    if sub in ("2.1", "2.2", "2.4"):
        return "recipient_rejected"
    if subject == "3":
        return "server_unavailable"
    if subject == "4" and phase == "rcpt":
        return "recipient_rejected"
    if subject == "6":
        return "content_rejected"
    return None


def _transaction_reason_by_code(phase: Phase, code: int) -> str:
    if code in (500, 501, 502, 503, 504, 555):
        return "protocol_error"
    if phase == "mail":
        if code == 552:
            return "message_too_large"
        if code in (451, 452, 455):
            return "server_unavailable"
        return "sender_rejected"
    if phase == "rcpt":
        if code in (452, 552):
            # RFC 5321 4.5.3.1.10: 452 (and, for historical reasons, 552) at RCPT means "too many
            # recipients" for this transaction: send the rest later.
            return "rate_limited"
        return "recipient_rejected"
    # DATA
    if code == 552:
        return "message_too_large"
    if 400 <= code < 500:
        return "server_unavailable"
    return "content_rejected"


def _transient_for_reply(phase: Phase, code: int, code_reason: str, enhanced: str | None) -> bool:
    if phase == "rcpt" and code == 552 and code_reason == "rate_limited":
        return True  # RFC 5321 4.5.3.1.10: treat like 452
    if code_reason == "rate_limited":
        return True  # a sending quota resets (e.g. Gmail's "550 5.4.5 Daily sending limit exceeded")
    if 400 <= code < 500:
        return True
    if 500 <= code < 600:
        return False
    return reason(code_reason).transient


def _subject_detail(enhanced: str | None, code: int) -> str:
    """``"7.8"`` from ``"5.7.8"``; empty when absent or when its class contradicts the basic code."""
    if not enhanced:
        return ""
    klass, _, rest = enhanced.partition(".")
    if str(code)[:1] != klass:
        return ""
    return rest


def _protocol_garbage(phase: Phase, text: str, ctx: ClassifyContext) -> DeliveryError:
    detail = _one_line(_clean(text))
    if phase == "connect" and ctx.security in ("starttls", "none") and "\x15\x03" in text:
        return delivery_error(
            "tls_mismatch",
            detail="the server answered with TLS",
            hint=tls_mismatch_hint(ctx, expected="tls"),
            step=phase,
        )
    return delivery_error(
        "protocol_error", detail=f"not an SMTP reply during {phase.upper()}: {detail}", step=phase
    )


def _is_greeting_timeout(exc: BaseException, chain: list[BaseException]) -> bool:
    if not isinstance(exc, aiosmtplib.SMTPConnectTimeoutError):
        return False
    return "ready message" in str(exc) or any(isinstance(i, aiosmtplib.SMTPReadTimeoutError) for i in chain)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _where(ctx: ClassifyContext) -> str:
    if ctx.host and ctx.port:
        return f"{ctx.host}:{ctx.port}"
    return ctx.host or "the server"


def _has(text: str, words: tuple[str, ...]) -> bool:
    return any(word in text for word in words)


def _clean(text: str) -> str:
    """Server text made safe to store and print: surrogates from undecodable bytes replaced."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace").strip()


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _MAX_TEXT else flat[: _MAX_TEXT - 1] + "…"


def _first_line(text: str) -> str:
    return _one_line(text.splitlines()[0] if text else "")
