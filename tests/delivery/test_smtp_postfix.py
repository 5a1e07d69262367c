"""SmtpTransport and the probe against a real Postfix + Dovecot: every reason a real server can
produce is produced by it, through our transport, and classified right.

The server is the session fixture ``postfix`` (tests/support/postfix.py): submission (STARTTLS
required, AUTH required), smtps (implicit TLS), a plain port, a private CA, a user with a
non-ASCII password, a 550 and a 450 recipient, a message size limit, login/sender matching (553)
and relay control (554). Failures the real server cannot produce on demand are covered by
test_smtp_scripted.py.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest
from tests.support.postfix import PostfixServer

from mailcard.delivery.probe import probe
from mailcard.delivery.settings import Security, SmtpSettings
from mailcard.delivery.smtp import SmtpTransport
from mailcard.delivery.transport import Envelope, SendResult
from mailcard.errors import DeliveryError
from mailcard.secret import Secret

pytestmark = pytest.mark.postfix

T = TypeVar("T")
_TRACE = re.compile(rb"^(Return-Path|X-Original-To|Delivered-To|Received):", re.IGNORECASE)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def account(
    postfix: PostfixServer,
    security: Security = "starttls",
    *,
    login: str | None = "sender",
    password: str | None = None,
    port: int | None = None,
    ca_file: str | None = None,
    timeout: float = 10.0,
) -> SmtpSettings:
    """Settings for the fixture; ``login="sender"`` means the default user with its own password."""
    username = postfix.sender if login == "sender" else login
    if username is not None and password is None:
        password = postfix.users[username]
    default_port = {
        "starttls": postfix.submission_port,
        "tls": postfix.smtps_port,
        "none": postfix.plain_port,
    }
    return SmtpSettings(
        host=postfix.host,
        port=port or default_port[security],
        security=security,
        username=username,
        password=Secret(password) if username is not None and password is not None else None,
        timeout=timeout,
        ca_file=ca_file or str(postfix.ca_file),
        local_hostname="client.mailcard.test",
    )


def message(sender: str, rcpt: str, body: bytes = b"Hello.\r\n") -> bytes:
    return (
        f"From: Shop <{sender}>\r\nTo: <{rcpt}>\r\nSubject: test {uuid.uuid4().hex}\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@mailcard.test>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
    ).encode() + body


async def send_once(settings: SmtpSettings, envelope: Envelope, data: bytes) -> SendResult:
    transport = SmtpTransport(greeting_timeout=2.0)
    try:
        return await transport.send(settings, envelope, data)
    finally:
        await transport.aclose()


def fails(settings: SmtpSettings, envelope: Envelope, data: bytes) -> DeliveryError:
    with pytest.raises(DeliveryError) as info:
        run(send_once(settings, envelope, data))
    return info.value


def assert_stored_exactly(raw: bytes, sent: bytes) -> bytes:
    """The Maildir file is the sent message (LF endings) after trace headers Postfix prepended."""
    stored = sent.replace(b"\r\n", b"\n")
    assert raw.endswith(stored), f"stored message differs from sent one:\n{raw!r}\n!=\n{stored!r}"
    added = raw[: -len(stored)]
    assert all(_TRACE.match(line) or line[:1] in b" \t" for line in added.splitlines()), added
    return added


# -- delivery ---------------------------------------------------------------------------------------


def test_starttls_delivery_is_byte_identical(postfix: PostfixServer) -> None:
    rcpt = postfix.fresh_address()
    body = (
        "Grüße, 你好 – 8-bit body.\r\n"
        ".a line starting with a dot\r\n"
        "..two dots\r\n"
        ".\r\n"
        "trailing spaces   \r\n"
        "\r\n"
        "last line\r\n"
    ).encode()
    data = message(postfix.sender, rcpt, body)
    result = run(send_once(account(postfix), Envelope(postfix.sender, (rcpt,)), data))
    assert result.smtp_code == 250 and result.accepted == (rcpt,) and result.refused == {}
    [raw] = postfix.wait_for_messages(rcpt, 1)
    added = assert_stored_exactly(raw, data)
    assert added.startswith(f"Return-Path: <{postfix.sender}>\n".encode())


def test_implicit_tls_delivery(postfix: PostfixServer) -> None:
    rcpt = postfix.fresh_address()
    data = message(postfix.sender, rcpt)
    run(send_once(account(postfix, "tls"), Envelope(postfix.sender, (rcpt,)), data))
    [raw] = postfix.wait_for_messages(rcpt, 1)
    assert_stored_exactly(raw, data)


def test_non_ascii_password(postfix: PostfixServer) -> None:
    user = postfix.intl_user
    assert not postfix.users[user].isascii()
    rcpt = postfix.fresh_address()
    data = message(user, rcpt)
    for security in ("starttls", "tls"):
        run(send_once(account(postfix, security, login=user), Envelope(user, (rcpt,)), data))
    assert len(postfix.wait_for_messages(rcpt, 2)) == 2


def test_plain_port_delivers_locally_without_auth(postfix: PostfixServer) -> None:
    rcpt = postfix.fresh_address()
    data = message("someone@example.org", rcpt)
    run(send_once(account(postfix, "none", login=None), Envelope("someone@example.org", (rcpt,)), data))
    [raw] = postfix.wait_for_messages(rcpt, 1)
    assert_stored_exactly(raw, data)


def test_smtputf8_address(postfix: PostfixServer) -> None:
    rcpt = f"клиент-{uuid.uuid4().hex[:8]}@{postfix.local_domain}"
    data = message(postfix.sender, rcpt)
    result = run(send_once(account(postfix), Envelope(postfix.sender, (rcpt,)), data))
    assert result.accepted == (rcpt,)
    [raw] = postfix.wait_for_messages(rcpt, 1)
    assert_stored_exactly(raw, data)


def test_connection_is_reused_across_messages(postfix: PostfixServer) -> None:
    rcpt = postfix.fresh_address()
    connects_before = _smtpd_connects(postfix, "submission")

    async def go() -> SmtpTransport:
        transport = SmtpTransport()
        for _ in range(3):
            await transport.send(
                account(postfix), Envelope(postfix.sender, (rcpt,)), message(postfix.sender, rcpt)
            )
        await transport.aclose()
        return transport

    transport = run(go())
    assert len(postfix.wait_for_messages(rcpt, 3)) == 3
    assert (transport.stats.opened, transport.stats.reused) == (1, 2)
    assert _smtpd_connects(postfix, "submission") - connects_before == 1, "the server saw one connection"


def test_some_recipients_refused(postfix: PostfixServer) -> None:
    good = postfix.fresh_address()
    envelope = Envelope(postfix.sender, (good, postfix.reject_address, postfix.defer_address))
    result = run(send_once(account(postfix), envelope, message(postfix.sender, good)))
    assert result.accepted == (good,)
    assert result.refused[postfix.reject_address][0] == 550
    assert result.refused[postfix.defer_address][0] == 450
    postfix.wait_for_messages(good, 1)


# -- every failure a real server produces ------------------------------------------------------------


def test_auth_failed_535(postfix: PostfixServer) -> None:
    error = fails(
        account(postfix, password="not the password"), Envelope(postfix.sender, ("x@mailcard.test",)), b"x"
    )
    assert (error.reason, error.transient, error.smtp_code, error.enhanced_code) == (
        "auth_failed",
        False,
        535,
        "5.7.8",
    )
    assert "not the password" not in str(error.to_dict())


def test_auth_required_530(postfix: PostfixServer) -> None:
    error = fails(account(postfix, login=None), Envelope(postfix.sender, (postfix.fresh_address(),)), b"x")
    assert (error.reason, error.transient, error.smtp_code) == ("auth_required", False, 530)


def test_tls_required_before_auth(postfix: PostfixServer) -> None:
    settings = account(postfix, "none", port=postfix.submission_port)
    error = fails(settings, Envelope(postfix.sender, (postfix.fresh_address(),)), b"x")
    assert (error.reason, error.transient) == ("tls_required", False)
    anonymous = account(postfix, "none", login=None, port=postfix.submission_port)
    error = fails(anonymous, Envelope(postfix.sender, (postfix.fresh_address(),)), b"x")
    assert (error.reason, error.smtp_code) == ("tls_required", 530)  # "Must issue a STARTTLS command first"


def test_sender_login_mismatch_553(postfix: PostfixServer) -> None:
    other = f"other@{postfix.local_domain}"
    error = fails(
        account(postfix), Envelope(other, (postfix.fresh_address(),)), message(other, "x@mailcard.test")
    )
    assert (error.reason, error.transient, error.smtp_code, error.enhanced_code) == (
        "sender_rejected",
        False,
        553,
        "5.7.1",
    )
    assert error.hint is not None and "From" in error.hint


def test_recipient_rejected_550(postfix: PostfixServer) -> None:
    error = fails(account(postfix), Envelope(postfix.sender, (postfix.reject_address,)), b"x")
    assert (error.reason, error.transient, error.smtp_code, error.enhanced_code) == (
        "recipient_rejected",
        False,
        550,
        "5.1.1",
    )


def test_recipient_deferred_450(postfix: PostfixServer) -> None:
    error = fails(account(postfix), Envelope(postfix.sender, (postfix.defer_address,)), b"x")
    assert (error.reason, error.transient, error.smtp_code) == ("recipient_rejected", True, 450)


def test_message_too_large_552(postfix: PostfixServer) -> None:
    rcpt = postfix.fresh_address()
    big = message(postfix.sender, rcpt, b"x" * 76 + b"\r\n") + (b"y" * 998 + b"\r\n") * (
        postfix.message_size_limit // 1000 + 10
    )
    error = fails(account(postfix), Envelope(postfix.sender, (rcpt,)), big)
    assert (error.reason, error.transient, error.smtp_code) == ("message_too_large", False, 552)


def test_relay_denied_554(postfix: PostfixServer) -> None:
    settings = account(postfix, "none", login=None)
    error = fails(settings, Envelope("someone@example.org", ("victim@example.com",)), b"x")
    assert (error.reason, error.transient, error.smtp_code) == ("relay_denied", False, 554)


def test_starttls_on_the_implicit_tls_port(postfix: PostfixServer) -> None:
    settings = account(postfix, "starttls", port=postfix.smtps_port)
    error = fails(settings, Envelope(postfix.sender, (postfix.fresh_address(),)), b"x")
    assert (error.reason, error.transient) == ("tls_mismatch", False)
    assert (
        error.hint
        == f"Port {postfix.smtps_port} expects implicit TLS: choose SSL/TLS, or use port 587 with STARTTLS."
    )


def test_implicit_tls_on_the_starttls_port(postfix: PostfixServer) -> None:
    settings = account(postfix, "tls", port=postfix.submission_port)
    error = fails(settings, Envelope(postfix.sender, (postfix.fresh_address(),)), b"x")
    assert (error.reason, error.transient) == ("tls_mismatch", False)
    assert (
        error.hint
        == f"Port {postfix.submission_port} expects STARTTLS: choose STARTTLS, or use port 465 with SSL/TLS."
    )


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_wrong_ca_is_tls_failed(postfix: PostfixServer, security: Security) -> None:
    settings = account(postfix, security, ca_file=str(postfix.wrong_ca_file))
    error = fails(settings, Envelope(postfix.sender, (postfix.fresh_address(),)), b"x")
    assert (error.reason, error.transient) == ("tls_failed", False)
    assert "certificate" in error.message


# -- the probe --------------------------------------------------------------------------------------


def test_probe_ok_sends_nothing(postfix: PostfixServer) -> None:
    rcpt = postfix.fresh_address()
    result = run(probe(account(postfix), mail_from=postfix.sender, rcpt_to=rcpt))
    assert result.ok, result
    assert [s.name for s in result.steps] == ["connect", "tls", "auth", "mail", "rcpt", "rset"]
    # RSET without DATA: nothing was queued. A real message sent afterwards is the only one to arrive.
    data = message(postfix.sender, rcpt)
    run(send_once(account(postfix), Envelope(postfix.sender, (rcpt,)), data))
    [raw] = postfix.wait_for_messages(rcpt, 1)
    assert_stored_exactly(raw, data)


def test_probe_auth_failed(postfix: PostfixServer) -> None:
    result = run(probe(account(postfix, password="nope-nope"), mail_from=postfix.sender, rcpt_to=None))
    assert result.to_json() == {
        "ok": False,
        "reason": "auth_failed",
        "transient": False,
        "smtp_code": 535,
        "enhanced_code": "5.7.8",
        "message": result.message,
        "hint": result.hint,
    }
    assert [(s.name, s.ok) for s in result.steps] == [("connect", True), ("tls", True), ("auth", False)]


def test_probe_send_test_arrives(postfix: PostfixServer) -> None:
    rcpt = postfix.fresh_address()
    result = run(probe(account(postfix, "tls"), mail_from=postfix.sender, rcpt_to=rcpt, send_test=True))
    assert result.ok, result
    [raw] = postfix.wait_for_messages(rcpt, 1)
    assert b"Subject: mailcard SMTP test" in raw


def _smtpd_connects(postfix: PostfixServer, service: str) -> int:
    log = postfix.maillog.read_text(errors="replace") if postfix.maillog.exists() else ""
    return len(re.findall(rf"/{service}/smtpd\[\d+\]: connect from", log))
