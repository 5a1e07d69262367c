"""Tests proving the real-server fixtures (Postfix + Dovecot, PostgreSQL) behave as documented.

Owns the contract checks for tests/support: every reply code that other test
suites rely on (530, 535, 550, 450, 552, 553, 554, TLS mismatches) is produced
here by a real server, so a broken fixture fails here first.
"""

from __future__ import annotations

import asyncio
import re
import smtplib
import ssl
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiosmtplib import (
    SMTP,
    SMTPAuthenticationError,
    SMTPConnectError,
    SMTPDataError,
    SMTPException,
    SMTPRecipientRefused,
    SMTPSenderRefused,
    SMTPServerDisconnected,
    SMTPTimeoutError,
)
from tests.support.postfix import PostfixServer
from tests.support.postfix_tools import sink_count, smtp_sink, smtp_source, wait_for
from tests.support.postgres import PostgresCluster

# ----------------------------------------------------------------------------- PostgreSQL


@pytest.mark.postgres
def test_postgres_default_database(postgres: PostgresCluster) -> None:
    engine = sa.create_engine(postgres.url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("select current_database()")).scalar_one() == postgres.database
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgres_fresh_databases_are_separate_and_empty(postgres: PostgresCluster) -> None:
    first, second = postgres.fresh_database(), postgres.fresh_database()
    assert first != second
    engines = [sa.create_engine(first), sa.create_engine(second)]
    try:
        with engines[0].begin() as conn:
            conn.execute(sa.text("create table t (x int)"))
            conn.execute(sa.text("insert into t values (1)"))
        with engines[1].connect() as conn:
            tables = conn.execute(
                sa.text("select count(*) from information_schema.tables where table_schema = 'public'")
            ).scalar_one()
            assert tables == 0
    finally:
        for engine in engines:
            engine.dispose()


@pytest.mark.postgres
def test_postgres_psycopg_direct(postgres: PostgresCluster) -> None:
    import psycopg

    with psycopg.connect(postgres.conninfo) as conn:
        assert conn.execute("select 1 + 1").fetchone() == (2,)


# ----------------------------------------------------------------------------- Postfix


def _tls(ca_file: Path) -> ssl.SSLContext:
    # Verification stays ON (hostname + chain) - only the trust anchor is ours.
    return ssl.create_default_context(cafile=str(ca_file))


def _client(server: PostfixServer, mode: str, *, ca_file: Path | None = None, timeout: float = 5.0) -> SMTP:
    context = _tls(ca_file or server.ca_file)
    if mode == "submission":
        return SMTP(
            hostname=server.host,
            port=server.submission_port,
            start_tls=True,
            tls_context=context,
            timeout=timeout,
        )
    if mode == "smtps":
        return SMTP(
            hostname=server.host, port=server.smtps_port, use_tls=True, tls_context=context, timeout=timeout
        )
    assert mode == "plain"
    return SMTP(hostname=server.host, port=server.plain_port, start_tls=False, timeout=timeout)


def _message(sender: str, rcpt: str, body: bytes = b"Hello.\r\n") -> bytes:
    return (
        f"From: Sender <{sender}>\r\nTo: <{rcpt}>\r\nSubject: test {uuid.uuid4().hex}\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@{sender.split('@')[1]}>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
    ).encode() + body


_TRACE = re.compile(rb"^(Return-Path|X-Original-To|Delivered-To|Received):", re.IGNORECASE)


def _split_added_headers(raw: bytes, sent: bytes) -> tuple[bytes, bytes]:
    """Split a Maildir file into (headers Postfix prepended, the message as stored)."""
    stored = sent.replace(b"\r\n", b"\n")  # Maildir files use LF line endings
    assert raw.endswith(stored), f"stored message differs from sent one:\n{raw!r}\n!=\n{stored!r}"
    return raw[: -len(stored)], stored


async def _send(server: PostfixServer, mode: str, login: str, password: str, rcpt: str, msg: bytes) -> None:
    async with _client(server, mode) as smtp:
        await smtp.login(login, password)
        await smtp.sendmail(login, [rcpt], msg)


@pytest.mark.postfix
def test_fixture_start_time(postfix: PostfixServer) -> None:
    print(f"postfix fixture start: {postfix.start_seconds:.2f}s")
    assert postfix.start_seconds < 10


@pytest.mark.postfix
def test_starttls_auth_send_arrives_byte_identical(postfix: PostfixServer) -> None:
    rcpt = postfix.fresh_address()
    body = (
        "Grüße, 你好 – 8-bit body.\r\n"
        ".a line starting with a dot (dot-stuffed on the wire)\r\n"
        "..two dots\r\n"
        "trailing spaces   \r\n"
        "\r\n"
        "last line\r\n"
    ).encode()
    msg = _message(postfix.sender, rcpt, body)
    asyncio.run(_send(postfix, "submission", postfix.sender, postfix.users[postfix.sender], rcpt, msg))
    [raw] = postfix.wait_for_messages(rcpt, 1)
    added, _stored = _split_added_headers(raw, msg)
    assert all(_TRACE.match(line) or line[:1] in b" \t" for line in added.splitlines()), added
    assert added.startswith(f"Return-Path: <{postfix.sender}>\n".encode())
    assert f"Delivered-To: {rcpt}\n".encode() in added


@pytest.mark.postfix
def test_implicit_tls_port(postfix: PostfixServer) -> None:
    rcpt = postfix.fresh_address()
    msg = _message(postfix.sender, rcpt)
    asyncio.run(_send(postfix, "smtps", postfix.sender, postfix.users[postfix.sender], rcpt, msg))
    [raw] = postfix.wait_for_messages(rcpt, 1)
    _split_added_headers(raw, msg)


@pytest.mark.postfix
def test_plain_port_offers_no_tls_and_delivers_locally(postfix: PostfixServer) -> None:
    rcpt = postfix.fresh_address()
    msg = _message("anyone@example.org", rcpt)

    async def go() -> None:
        async with _client(postfix, "plain") as smtp:
            await smtp.ehlo()
            assert not smtp.supports_extension("starttls")
            assert smtp.supports_extension("auth")  # clear-text AUTH only if a client explicitly opts in
            await smtp.sendmail("anyone@example.org", [rcpt], msg)

    asyncio.run(go())
    [raw] = postfix.wait_for_messages(rcpt, 1)
    _split_added_headers(raw, msg)


@pytest.mark.postfix
def test_authenticated_relay_is_captured_not_sent(postfix: PostfixServer) -> None:
    rcpt = f"customer-{uuid.uuid4().hex[:8]}@example.com"
    msg = _message(postfix.sender, rcpt)
    asyncio.run(_send(postfix, "submission", postfix.sender, postfix.users[postfix.sender], rcpt, msg))
    [raw] = postfix.wait_for_messages(rcpt, 1)
    _split_added_headers(raw, msg)


@pytest.mark.postfix
@pytest.mark.parametrize(
    ("login", "password"),
    [
        ("sender@mailcard.test", "wrong password"),
        ("sender@mailcard.test", "correct horse "),  # near miss
        ("sender@mailcard.test", "other-user-password"),
        ("intl@mailcard.test", "пароль"),
        ("nobody@mailcard.test", "correct horse"),  # unknown user
    ],
)
def test_wrong_credentials_are_535_and_fast(postfix: PostfixServer, login: str, password: str) -> None:
    async def go() -> None:
        async with _client(postfix, "submission") as smtp:
            for _ in range(3):  # repeated failures must not trigger Dovecot's growing penalty
                started = time.perf_counter()
                with pytest.raises(SMTPAuthenticationError) as info:
                    await smtp.login(login, password)  # aiosmtplib tries PLAIN, then LOGIN
                assert info.value.code == 535
                assert time.perf_counter() - started < 0.4, "Dovecot failure delay is back"
            # ...and the same session can still log in with the right password afterwards.
            await smtp.login(postfix.sender, postfix.users[postfix.sender])

    asyncio.run(go())


@pytest.mark.postfix
def test_each_user_authenticates_with_own_password_only(postfix: PostfixServer) -> None:
    async def go() -> None:
        for login, password in postfix.users.items():
            for other_login in postfix.users:
                async with _client(postfix, "submission") as smtp:
                    if other_login == login:
                        await smtp.login(login, password)
                    else:
                        with pytest.raises(SMTPAuthenticationError):
                            await smtp.login(other_login, password)

    asyncio.run(go())


@pytest.mark.postfix
def test_no_auth_on_submission_is_530(postfix: PostfixServer) -> None:
    async def go() -> None:
        async with _client(postfix, "submission") as smtp:
            with pytest.raises(SMTPSenderRefused) as info:
                await smtp.mail(postfix.sender)
            assert info.value.code == 530
            assert "Authentication required" in info.value.message

    asyncio.run(go())


@pytest.mark.postfix
def test_auth_not_offered_before_starttls(postfix: PostfixServer) -> None:
    async def go() -> None:
        smtp = SMTP(hostname=postfix.host, port=postfix.submission_port, start_tls=False, timeout=5)
        async with smtp:
            await smtp.ehlo()
            assert smtp.supports_extension("starttls")
            assert not smtp.supports_extension("auth")
            with pytest.raises(SMTPSenderRefused) as info:
                await smtp.mail(postfix.sender)
            assert info.value.code == 530  # "Must issue a STARTTLS command first"

    asyncio.run(go())


@pytest.mark.postfix
def test_sender_login_mismatch_is_553(postfix: PostfixServer) -> None:
    other = f"other@{postfix.local_domain}"

    async def go() -> None:
        async with _client(postfix, "submission") as smtp:
            await smtp.login(postfix.sender, postfix.users[postfix.sender])
            with pytest.raises(SMTPSenderRefused) as info:
                await smtp.mail(other)
            assert info.value.code == 553
            assert "5.7.1" in info.value.message and "not owned by user" in info.value.message

    asyncio.run(go())


@pytest.mark.postfix
@pytest.mark.parametrize(("attr", "code"), [("reject_address", 550), ("defer_address", 450)])
def test_recipient_rejected_at_rcpt(postfix: PostfixServer, attr: str, code: int) -> None:
    async def go() -> None:
        async with _client(postfix, "submission") as smtp:
            await smtp.login(postfix.sender, postfix.users[postfix.sender])
            await smtp.mail(postfix.sender)
            with pytest.raises(SMTPRecipientRefused) as info:
                await smtp.rcpt(getattr(postfix, attr))
            assert info.value.code == code

    asyncio.run(go())


@pytest.mark.postfix
@pytest.mark.parametrize("declare_size", [True, False])
def test_oversize_is_552(postfix: PostfixServer, declare_size: bool) -> None:
    rcpt = postfix.fresh_address()
    line = b"x" * 76 + b"\r\n"
    msg = _message(postfix.sender, rcpt, line * (postfix.message_size_limit // len(line) + 10))

    async def go() -> None:
        async with _client(postfix, "submission") as smtp:
            await smtp.login(postfix.sender, postfix.users[postfix.sender])
            error: SMTPSenderRefused | SMTPDataError
            if declare_size:
                # aiosmtplib's sendmail declares SIZE=: refused at MAIL FROM.
                with pytest.raises(SMTPSenderRefused) as refused:
                    await smtp.sendmail(postfix.sender, [rcpt], msg)
                error = refused.value
            else:
                # No SIZE=: Postfix's cleanup refuses it after the data.
                await smtp.mail(postfix.sender)
                await smtp.rcpt(rcpt)
                with pytest.raises(SMTPDataError) as data_error:
                    await smtp.data(msg)
                error = data_error.value
            assert error.code == 552
            assert "5.3.4" in error.message

    asyncio.run(go())
    assert postfix.messages(rcpt) == []


@pytest.mark.postfix
@pytest.mark.parametrize("mode", ["plain", "submission"])
def test_unauthenticated_relay_denied_554(postfix: PostfixServer, mode: str) -> None:
    async def go() -> None:
        async with _client(postfix, mode) as smtp:
            if mode == "submission":
                # Submission refuses MAIL already (530); the relay check is shown on the plain port.
                with pytest.raises(SMTPSenderRefused):
                    await smtp.mail("someone@example.org")
                return
            await smtp.mail("someone@example.org")
            with pytest.raises(SMTPRecipientRefused) as info:
                await smtp.rcpt("victim@example.com")
            assert info.value.code == 554
            assert "Relay access denied" in info.value.message

    asyncio.run(go())


@pytest.mark.postfix
def test_starttls_against_implicit_tls_port_fails(postfix: PostfixServer) -> None:
    async def go() -> None:
        # The server waits for a TLS ClientHello, the client for a plain-text banner.
        smtp = SMTP(
            hostname=postfix.host,
            port=postfix.smtps_port,
            start_tls=True,
            tls_context=_tls(postfix.ca_file),
            timeout=1.0,
        )
        with pytest.raises((SMTPTimeoutError, SMTPConnectError, SMTPServerDisconnected)):
            await smtp.connect()

    asyncio.run(go())


@pytest.mark.postfix
def test_implicit_tls_against_starttls_port_fails(postfix: PostfixServer) -> None:
    async def go() -> None:
        smtp = SMTP(
            hostname=postfix.host,
            port=postfix.submission_port,
            use_tls=True,
            tls_context=_tls(postfix.ca_file),
            timeout=5.0,
        )
        started = time.perf_counter()
        with pytest.raises((SMTPConnectError, SMTPServerDisconnected, ssl.SSLError)):
            await smtp.connect()
        assert time.perf_counter() - started < 2.0  # a plain banner is not a TLS record: fails fast

    asyncio.run(go())


@pytest.mark.postfix
def test_non_ascii_password_user_can_auth(postfix: PostfixServer) -> None:
    login = postfix.intl_user
    password = postfix.users[login]
    assert not password.isascii()
    rcpt = postfix.fresh_address()
    msg = _message(login, rcpt)
    asyncio.run(_send(postfix, "submission", login, password, rcpt, msg))
    postfix.wait_for_messages(rcpt, 1)


@pytest.mark.postfix
def test_stdlib_smtplib_cannot_send_non_ascii_password(postfix: PostfixServer) -> None:
    # Documents why the transport uses aiosmtplib: smtplib ASCII-encodes AUTH PLAIN.
    with smtplib.SMTP(postfix.host, postfix.submission_port, timeout=5) as smtp:
        smtp.starttls(context=_tls(postfix.ca_file))
        with pytest.raises(UnicodeEncodeError):
            smtp.login(postfix.intl_user, postfix.users[postfix.intl_user])


@pytest.mark.postfix
@pytest.mark.parametrize("hostname", ["localhost", "127.0.0.1"])
def test_ca_verification_succeeds_for_both_names(postfix: PostfixServer, hostname: str) -> None:
    async def go() -> None:
        smtp = SMTP(
            hostname=hostname,
            port=postfix.smtps_port,
            use_tls=True,
            tls_context=_tls(postfix.ca_file),
            timeout=5,
        )
        async with smtp:
            await smtp.noop()

    asyncio.run(go())


@pytest.mark.postfix
@pytest.mark.parametrize("mode", ["submission", "smtps"])
def test_ca_verification_fails_with_wrong_ca(postfix: PostfixServer, mode: str) -> None:
    async def go() -> None:
        smtp = _client(postfix, mode, ca_file=postfix.wrong_ca_file)
        with pytest.raises((SMTPConnectError, ssl.SSLCertVerificationError, SMTPException)) as info:
            await smtp.connect()
        assert "CERTIFICATE_VERIFY_FAILED" in repr(info.value) or isinstance(
            info.value, ssl.SSLCertVerificationError
        ), repr(info.value)

    asyncio.run(go())


@pytest.mark.postfix
def test_clear_empties_mailboxes(postfix: PostfixServer) -> None:
    rcpt = postfix.fresh_address()
    msg = _message(postfix.sender, rcpt)
    asyncio.run(_send(postfix, "submission", postfix.sender, postfix.users[postfix.sender], rcpt, msg))
    postfix.wait_for_messages(rcpt, 1)
    postfix.clear()
    assert postfix.messages(rcpt) == []


# ------------------------------------------------------------------- smtp-sink/source


def test_smtp_sink_and_source_measure_a_rate() -> None:
    with smtp_sink() as sink:
        result = smtp_source(sink.port, messages=50, sessions=2, message_size=2048)
        assert result.rate > 0
        wait_for(lambda: sink_count(sink) >= 50, 5.0, "smtp-sink to count 50 messages")
