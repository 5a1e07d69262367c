"""Table-driven tests of classification: every reply and exception lands on the right reason.

Each row is (phase, code, text) → (reason, transient). The texts are real server wordings
(Postfix, Dovecot, Gmail, Outlook, Exchange, QQ) where we have them.
"""

from __future__ import annotations

import socket
import ssl

import aiosmtplib
import pytest

from mailcard.delivery.classify import (
    ClassifyContext,
    Phase,
    classify_exception,
    classify_reply,
    parse_enhanced_code,
)
from mailcard.delivery.reasons import REASONS
from mailcard.errors import DeliveryError

REPLIES: list[tuple[Phase, int, str, str, bool]] = [
    # greeting
    ("connect", 421, "4.3.2 Service not available, closing transmission channel", "server_unavailable", True),
    ("connect", 421, "Too many concurrent SMTP connections; please try again later", "rate_limited", True),
    ("connect", 554, "5.7.1 mx.example: Client host rejected: Access denied", "server_unavailable", False),
    ("connect", 500, "what", "server_unavailable", False),
    ("connect", 250, "unexpected", "protocol_error", False),
    # EHLO
    ("ehlo", 501, "5.5.2 Syntax: EHLO hostname", "protocol_error", False),
    ("ehlo", 450, "4.7.1 Client host rejected: cannot find your hostname", "server_unavailable", True),
    # STARTTLS
    ("tls", 454, "4.7.0 TLS not available due to local problem", "tls_failed", True),
    ("tls", 502, "5.5.1 Error: command not implemented", "tls_failed", False),
    ("tls", 421, "4.3.2 Service shutting down", "server_unavailable", True),
    # AUTH
    ("auth", 535, "5.7.8 Error: authentication failed: authentication failure", "auth_failed", False),
    ("auth", 535, "5.7.8 Username and Password not accepted. Learn more at", "auth_failed", False),
    ("auth", 535, "Error: authentication failed", "auth_failed", False),
    ("auth", 534, "5.7.9 Application-specific password required.", "auth_failed", False),
    ("auth", 534, "5.7.9 Authentication mechanism is too weak", "auth_unsupported", False),
    ("auth", 504, "5.5.4 Unrecognized authentication type", "auth_unsupported", False),
    ("auth", 502, "5.5.1 Error: authentication not enabled", "auth_unsupported", False),
    ("auth", 538, "5.7.11 Encryption required for requested authentication mechanism", "tls_required", False),
    ("auth", 530, "5.7.0 Must issue a STARTTLS command first", "tls_required", False),
    ("auth", 454, "4.7.0 Temporary authentication failure", "server_unavailable", True),
    ("auth", 432, "4.7.12 A password transition is needed", "auth_failed", True),
    ("auth", 535, "5.7.3 Authentication unsuccessful", "auth_failed", False),
    ("auth", 550, "5.7.13 User account disabled", "auth_failed", False),
    ("auth", 501, "5.5.2 Syntax error in parameters", "protocol_error", False),
    ("auth", 421, "4.7.0 Temporary System Problem. Try again later", "rate_limited", True),
    # MAIL FROM
    (
        "mail",
        553,
        "5.7.1 <a@b.c>: Sender address rejected: not owned by user u@d.e",
        "sender_rejected",
        False,
    ),
    ("mail", 553, "Mail from must equal authorized user", "sender_rejected", False),
    ("mail", 550, "5.7.1 Client does not have permissions to send as this sender", "sender_rejected", False),
    ("mail", 501, "5.1.7 Bad sender address syntax", "sender_rejected", False),
    ("mail", 450, "4.1.8 <a@nx.example>: Sender address rejected: Domain not found", "sender_rejected", True),
    ("mail", 530, "5.7.0 Authentication required", "auth_required", False),
    ("mail", 530, "5.7.0 Must issue a STARTTLS command first", "tls_required", False),
    ("mail", 552, "5.3.4 Message size exceeds fixed limit", "message_too_large", False),
    ("mail", 552, "Message size exceeds maximum permitted", "message_too_large", False),
    ("mail", 451, "4.3.0 Error: queue file write error", "server_unavailable", True),
    ("mail", 452, "4.3.1 Insufficient system storage", "server_unavailable", True),
    ("mail", 421, "4.4.2 mx.example Error: timeout exceeded", "server_unavailable", True),
    ("mail", 550, "5.4.5 Daily user sending limit exceeded.", "rate_limited", True),
    ("mail", 451, "4.7.0 Rate limit exceeded, try again later", "rate_limited", True),
    ("mail", 555, "5.5.4 Unsupported option: SMTPUTF8", "smtputf8_unsupported", False),
    ("mail", 553, "5.6.7 Non-ASCII addresses not supported", "smtputf8_unsupported", False),
    ("mail", 503, "5.5.1 Error: nested MAIL command", "protocol_error", False),
    ("mail", 554, "Transaction failed", "sender_rejected", False),
    # RCPT TO
    (
        "rcpt",
        550,
        "5.1.1 <x@mailcard.test>: Recipient address rejected: User unknown",
        "recipient_rejected",
        False,
    ),
    ("rcpt", 550, "Requested action not taken: mailbox unavailable", "recipient_rejected", False),
    ("rcpt", 551, "User not local", "recipient_rejected", False),
    ("rcpt", 553, "5.1.3 Bad recipient address syntax", "recipient_rejected", False),
    ("rcpt", 550, "5.2.1 The email account that you tried to reach is disabled", "recipient_rejected", False),
    (
        "rcpt",
        552,
        "5.2.2 The email account that you tried to reach is over quota",
        "recipient_rejected",
        False,
    ),
    (
        "rcpt",
        450,
        "4.2.0 <d@mailcard.test>: Recipient address rejected: try later",
        "recipient_rejected",
        True,
    ),
    ("rcpt", 450, "4.7.1 <d@x.test>: Recipient address rejected: Greylisted", "recipient_rejected", True),
    ("rcpt", 450, "Mailbox busy", "recipient_rejected", True),
    ("rcpt", 451, "4.1.1 Temporary lookup failure", "recipient_rejected", True),
    ("rcpt", 452, "4.5.3 Error: too many recipients", "rate_limited", True),
    ("rcpt", 452, "Too many recipients", "rate_limited", True),
    ("rcpt", 452, "4.2.2 Mailbox full", "recipient_rejected", True),
    ("rcpt", 452, "", "rate_limited", True),
    ("rcpt", 552, "Too many recipients", "rate_limited", True),
    ("rcpt", 554, "5.7.1 <x@foreign.example>: Relay access denied", "relay_denied", False),
    ("rcpt", 554, "Relay access denied", "relay_denied", False),
    ("rcpt", 550, "5.7.1 Unable to relay", "relay_denied", False),
    ("rcpt", 550, "5.7.1 Recipient not authorized", "recipient_rejected", False),
    ("rcpt", 530, "5.7.0 Authentication required", "auth_required", False),
    ("rcpt", 550, "5.4.4 Unable to route", "recipient_rejected", False),
    ("rcpt", 503, "5.5.1 Error: need MAIL command", "protocol_error", False),
    ("rcpt", 553, "5.6.7 Non-ASCII recipient not allowed without SMTPUTF8", "smtputf8_unsupported", False),
    ("rcpt", 421, "4.7.0 Too many messages, try again later", "rate_limited", True),
    # DATA
    ("data", 552, "5.3.4 Error: message file too big", "message_too_large", False),
    ("data", 552, "5.2.3 Message exceeds maximum size", "message_too_large", False),
    ("data", 554, "5.7.1 Message rejected as spam", "content_rejected", False),
    (
        "data",
        550,
        "5.7.26 Unauthenticated email is not accepted due to DMARC policy",
        "sender_rejected",
        False,
    ),
    ("data", 550, "5.7.1 Content policy violation", "content_rejected", False),
    ("data", 554, "5.6.0 Message content rejected", "content_rejected", False),
    ("data", 554, "Transaction failed", "content_rejected", False),
    ("data", 451, "4.3.0 Error: queue file write error", "server_unavailable", True),
    ("data", 451, "Requested action aborted: local error in processing", "server_unavailable", True),
    ("data", 452, "Insufficient system storage", "server_unavailable", True),
    ("data", 421, "4.4.2 Timeout", "server_unavailable", True),
    ("data", 450, "4.7.0 Too many messages from this account", "rate_limited", True),
    ("data", 554, "5.5.1 Error: no valid recipients", "protocol_error", False),
    ("data", 550, "5.7.0 message size limit exceeded", "message_too_large", False),
    ("data", 553, "5.6.7 SMTPUTF8 required", "smtputf8_unsupported", False),
    # odd replies
    ("data", 999, "??", "protocol_error", False),
    ("quit", 500, "no", "protocol_error", False),
]


@pytest.mark.parametrize(("phase", "code", "text", "reason", "transient"), REPLIES)
def test_reply_table(phase: Phase, code: int, text: str, reason: str, transient: bool) -> None:
    error = classify_reply(phase, code, text)
    assert (error.reason, error.transient) == (reason, transient)
    assert error.smtp_code == code
    assert error.server_text == (text or None)
    assert error.hint
    assert error.reason in REASONS


def test_every_4xx_is_transient_and_every_5xx_permanent_except_rate_limits() -> None:
    phases: list[Phase] = ["connect", "ehlo", "tls", "auth", "mail", "rcpt", "data"]
    for phase in phases:
        for code in range(400, 600):
            error = classify_reply(phase, code, "something happened")
            if code < 500:
                assert error.transient, (phase, code)
            elif error.reason != "rate_limited":
                assert not error.transient, (phase, code)


def test_every_reason_in_the_catalogue_is_covered_by_a_row() -> None:
    reached = {reason for _, _, _, reason, _ in REPLIES} | set(EXCEPTION_REASONS)
    assert reached == set(REASONS)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5.7.8 Error: authentication failed", "5.7.8"),
        ("4.2.0 <d@x>: try later", "4.2.0"),
        ("5.7.26 Unauthenticated", "5.7.26"),
        ("2.0.0 Ok: queued as 123", "2.0.0"),
        ("5.1.1", "5.1.1"),
        ("Error: 5.7.8 later", None),
        ("5.7 short", None),
        ("1.2.3 wrong class", None),
        ("", None),
    ],
)
def test_parse_enhanced_code(text: str, expected: str | None) -> None:
    assert parse_enhanced_code(text) == expected


def test_enhanced_class_contradicting_the_code_is_ignored() -> None:
    # A server that says 550 but 4.7.0: trust the basic code (permanent, by phase).
    error = classify_reply("mail", 550, "4.7.0 something")
    assert (error.reason, error.transient) == ("sender_rejected", False)


def test_message_carries_server_evidence() -> None:
    error = classify_reply("auth", 535, "5.7.8 Error: authentication failed: UGFzc3dvcmQ6")
    assert error.message.startswith("The SMTP server rejected the login")
    assert "535 5.7.8" in error.message
    assert error.enhanced_code == "5.7.8"
    assert error.code == "auth_failed"


def test_app_password_hint() -> None:
    error = classify_reply("auth", 534, "5.7.9 Application-specific password required.")
    assert error.hint is not None and "app password" in error.hint


def test_undecodable_server_text_is_made_printable() -> None:
    error = classify_reply("data", 554, "5.7.1 bad \udcff byte")
    assert error.server_text == "5.7.1 bad \ufffd byte"
    assert error.to_dict()["server_text"].encode("utf-8")


# -- exceptions ----------------------------------------------------------------------------------

STARTTLS_465 = ClassifyContext(security="starttls", port=465, host="smtp.example.com")
TLS_587 = ClassifyContext(security="tls", port=587, host="smtp.example.com")


def _caused(outer: BaseException, cause: BaseException) -> BaseException:
    outer.__cause__ = cause
    return outer


def _wrong_version() -> ssl.SSLError:
    error = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)")
    error.reason = "WRONG_VERSION_NUMBER"
    return error


def _cert_error() -> ssl.SSLCertVerificationError:
    error = ssl.SSLCertVerificationError(1, "certificate verify failed")
    error.verify_message = "unable to get local issuer certificate"
    return error


EXCEPTIONS: list[tuple[Phase, BaseException, ClassifyContext, str, bool]] = [
    (
        "connect",
        _caused(aiosmtplib.SMTPConnectError("Error connecting to h on port 587"), _wrong_version()),
        TLS_587,
        "tls_mismatch",
        False,
    ),
    (
        "connect",
        _caused(
            aiosmtplib.SMTPConnectTimeoutError("Timed out waiting for server ready message"),
            aiosmtplib.SMTPReadTimeoutError("Timed out waiting for server response"),
        ),
        STARTTLS_465,
        "tls_mismatch",
        False,
    ),
    (
        "connect",
        _caused(
            aiosmtplib.SMTPConnectTimeoutError("Timed out waiting for server ready message"),
            aiosmtplib.SMTPReadTimeoutError("Timed out waiting for server response"),
        ),
        TLS_587,
        "timeout",
        True,
    ),
    (
        "connect",
        _caused(aiosmtplib.SMTPConnectTimeoutError("Timed out connecting to h on port 25"), TimeoutError()),
        ClassifyContext(security="none", port=25, host="h"),
        "connect_timeout",
        True,
    ),
    (
        "connect",
        _caused(aiosmtplib.SMTPConnectError("Error connecting"), ConnectionRefusedError(111, "refused")),
        ClassifyContext(),
        "connect_failed",
        True,
    ),
    (
        "connect",
        _caused(
            aiosmtplib.SMTPConnectError("Error connecting"), socket.gaierror(socket.EAI_NONAME, "not known")
        ),
        ClassifyContext(host="smtp.exmaple.com"),
        "dns_failed",
        False,
    ),
    (
        "connect",
        _caused(
            aiosmtplib.SMTPConnectError("Error connecting"), socket.gaierror(socket.EAI_AGAIN, "try again")
        ),
        ClassifyContext(),
        "dns_failed",
        True,
    ),
    (
        "connect",
        _caused(aiosmtplib.SMTPConnectError("Error connecting"), _cert_error()),
        TLS_587,
        "tls_failed",
        False,
    ),
    ("tls", _cert_error(), STARTTLS_465, "tls_failed", False),
    (
        "tls",
        ssl.SSLError(1, "[SSL: SSLV3_ALERT_HANDSHAKE_FAILURE] handshake failure"),
        TLS_587,
        "tls_failed",
        False,
    ),
    (
        "connect",
        _caused(
            aiosmtplib.SMTPConnectError("Error connecting to h on port 465: Connection lost"),
            aiosmtplib.SMTPServerDisconnected("Connection lost"),
        ),
        STARTTLS_465,
        "tls_mismatch",
        False,
    ),
    (
        "connect",
        _caused(
            aiosmtplib.SMTPConnectError("Error connecting to h on port 25: Connection lost"),
            aiosmtplib.SMTPServerDisconnected("Connection lost"),
        ),
        ClassifyContext(security="none", port=25),
        "connection_lost",
        True,
    ),
    (
        "connect",
        aiosmtplib.SMTPConnectResponseError(421, "4.3.2 Try later"),
        ClassifyContext(),
        "server_unavailable",
        True,
    ),
    (
        "connect",
        aiosmtplib.SMTPResponseException(-1, "Malformed SMTP response line: HTTP/1.1 400 Bad Request"),
        ClassifyContext(),
        "protocol_error",
        False,
    ),
    (
        "data",
        aiosmtplib.SMTPServerDisconnected("Connection lost"),
        ClassifyContext(),
        "connection_lost",
        True,
    ),
    (
        "mail",
        aiosmtplib.SMTPReadTimeoutError("Timed out waiting for server response"),
        ClassifyContext(),
        "timeout",
        True,
    ),
    (
        "tls",
        aiosmtplib.SMTPTimeoutError("Timed out while upgrading transport"),
        ClassifyContext(),
        "timeout",
        True,
    ),
    (
        "auth",
        aiosmtplib.SMTPAuthenticationError(535, "5.7.8 Error: authentication failed"),
        ClassifyContext(),
        "auth_failed",
        False,
    ),
    (
        "mail",
        aiosmtplib.SMTPSenderRefused(553, "5.7.1 not owned by user", "a@b.c"),
        ClassifyContext(),
        "sender_rejected",
        False,
    ),
    ("data", aiosmtplib.SMTPDataError(552, "5.3.4 too big"), ClassifyContext(), "message_too_large", False),
    (
        "rcpt",
        aiosmtplib.SMTPRecipientsRefused(
            [
                aiosmtplib.SMTPRecipientRefused(550, "5.1.1 unknown", "a@x"),
                aiosmtplib.SMTPRecipientRefused(450, "4.2.0 try later", "b@x"),
            ]
        ),
        ClassifyContext(),
        "recipient_rejected",
        True,
    ),
    (
        "mail",
        aiosmtplib.SMTPNotSupported("SMTPUTF8 is not supported by this server"),
        ClassifyContext(),
        "smtputf8_unsupported",
        False,
    ),
    (
        "data",
        ConnectionResetError(104, "Connection reset by peer"),
        ClassifyContext(),
        "connection_lost",
        True,
    ),
    ("connect", OSError(101, "Network is unreachable"), ClassifyContext(), "connect_failed", True),
    (
        "mail",
        ValueError("Command arg contains a prohibited control character"),
        ClassifyContext(),
        "invalid_envelope",
        False,
    ),
    ("ehlo", RuntimeError("surprise"), ClassifyContext(), "protocol_error", False),
]
EXCEPTION_REASONS = [reason for *_, reason, _ in EXCEPTIONS]


@pytest.mark.parametrize(("phase", "exc", "context", "reason", "transient"), EXCEPTIONS)
def test_exception_table(
    phase: Phase, exc: BaseException, context: ClassifyContext, reason: str, transient: bool
) -> None:
    error = classify_exception(phase, exc, context=context)
    assert isinstance(error, DeliveryError)
    assert (error.reason, error.transient) == (reason, transient)
    assert error.hint


def test_tls_mismatch_hints_name_the_right_fix() -> None:
    implicit_port = classify_exception("connect", EXCEPTIONS[1][1], context=STARTTLS_465)
    assert (
        implicit_port.hint == "Port 465 expects implicit TLS: choose SSL/TLS, or use port 587 with STARTTLS."
    )
    starttls_port = classify_exception("connect", EXCEPTIONS[0][1], context=TLS_587)
    assert starttls_port.hint == "Port 587 expects STARTTLS: choose STARTTLS, or use port 465 with SSL/TLS."
    assert "wrong version number" in starttls_port.message


def test_delivery_error_passes_through() -> None:
    original = classify_reply("auth", 535, "no")
    assert classify_exception("auth", original) is original


def test_docs_list_every_reason() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "smtp.md").read_text(encoding="utf-8")
    for code, entry in REASONS.items():
        assert f"| `{code}` |" in doc, code
        assert entry.hint.split(".")[0] in doc, code
