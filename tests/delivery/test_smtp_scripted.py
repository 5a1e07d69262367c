"""SmtpTransport against the scripted server: the failures a real Postfix will not produce on demand.

Each test runs its own event loop (``asyncio.run``) with a fresh server on a free port.
"""

from __future__ import annotations

import asyncio
import base64
import gc
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import pytest
from tests.support.scripted_smtp import (
    CLOSE,
    DEFAULT_EXTENSIONS,
    HANG,
    Garbage,
    ScriptedSmtpServer,
    TestPki,
)

from mailcard.delivery.settings import Security, SmtpSettings
from mailcard.delivery.smtp import SmtpTransport
from mailcard.delivery.transport import Envelope
from mailcard.delivery.wire import SmtpChannel
from mailcard.errors import DeliveryError
from mailcard.secret import Secret

MESSAGE = b"From: shop@example.test\r\nTo: c@example.test\r\nSubject: Hi\r\n\r\nHello\r\n"
ENVELOPE = Envelope("shop@example.test", ("c@example.test",))
PASSWORD = "pä$$ wörd 密码"
# The scripted server offers PIPELINING by default; these tests cover the one-command-at-a-time path.
NO_PIPELINING = [e for e in DEFAULT_EXTENSIONS if e != "PIPELINING"]


def run(coro: Coroutine[Any, Any, None]) -> None:
    asyncio.run(coro)


def settings_for(
    server: ScriptedSmtpServer,
    security: Security = "none",
    *,
    user: str | None = None,
    password: str | None = None,
    ca_file: str | None = None,
    timeout: float = 5.0,
) -> SmtpSettings:
    return SmtpSettings(
        host=server.host,
        port=server.port,
        security=security,
        username=user,
        password=Secret(password) if password is not None else None,
        timeout=timeout,
        ca_file=ca_file,
        local_hostname="client.test",
    )


async def failure(send: Awaitable[object]) -> DeliveryError:
    with pytest.raises(DeliveryError) as info:
        await send
    return info.value


def with_server(**server_kwargs: Any) -> Callable[..., Any]:
    """Decorator: run the async test body with a started ScriptedSmtpServer and an SmtpTransport."""

    def decorate(body: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
        def test(*args: Any, **kwargs: Any) -> None:
            async def main() -> None:
                extra = {k: kwargs.pop(k) for k in list(kwargs) if k in ("pki",)}
                async with ScriptedSmtpServer(**server_kwargs, **extra) as server:
                    transport = SmtpTransport(greeting_timeout=1.0)
                    try:
                        await body(server, transport, *args, **kwargs)
                    finally:
                        await transport.aclose()

            run(main())

        test.__name__ = body.__name__
        return test

    return decorate


# -- the happy paths --------------------------------------------------------------------------------


@with_server()
async def test_plain_send_delivers_exact_bytes(server: ScriptedSmtpServer, transport: SmtpTransport) -> None:
    result = await transport.send(settings_for(server), ENVELOPE, MESSAGE)
    assert result.smtp_code == 250
    assert result.accepted == ("c@example.test",)
    assert result.refused == {}
    [message] = server.messages
    assert message.data == MESSAGE
    assert message.mail_from == "shop@example.test"
    assert f"SIZE={len(MESSAGE)}" in message.mail_options
    assert server.sessions[0].ehlo_name == "client.test"


def test_starttls_with_private_ca_and_non_ascii_password(pki: TestPki) -> None:
    async def main() -> None:
        async with ScriptedSmtpServer(pki=pki, users={"shop@example.test": PASSWORD}) as server:
            transport = SmtpTransport()
            settings = settings_for(
                server, "starttls", user="shop@example.test", password=PASSWORD, ca_file=pki.ca_file
            )
            settings = SmtpSettings(**{**settings.__dict__, "host": "localhost"})
            await transport.send(settings, ENVELOPE, MESSAGE)
            await transport.aclose()
            session = server.sessions[0]
            assert session.tls
            assert session.verbs[:5] == ["EHLO", "STARTTLS", "EHLO", "AUTH", "MAIL"]
            assert session.auth_mechanism == "PLAIN"
            assert session.auth_password == PASSWORD
            assert session.verbs[-1] == "QUIT"
            assert server.messages[0].data == MESSAGE

    run(main())


def test_implicit_tls(pki: TestPki) -> None:
    async def main() -> None:
        async with ScriptedSmtpServer(pki=pki, implicit_tls=True) as server:
            transport = SmtpTransport()
            await transport.send(settings_for(server, "tls", ca_file=pki.ca_file), ENVELOPE, MESSAGE)
            await transport.aclose()
            assert server.sessions[0].tls
            assert "STARTTLS" not in server.sessions[0].verbs
            assert len(server.messages) == 1

    run(main())


@with_server(extensions=["AUTH LOGIN"], users={"u": PASSWORD})
async def test_auth_login_with_non_ascii_password(
    server: ScriptedSmtpServer, transport: SmtpTransport
) -> None:
    await transport.send(settings_for(server, user="u", password=PASSWORD), ENVELOPE, MESSAGE)
    session = server.sessions[0]
    assert session.auth_mechanism == "LOGIN"
    assert session.auth_password == PASSWORD
    # The wire form is base64 of the UTF-8 bytes, not of some legacy encoding.
    auth_line = next(c for c in session.commands if c.startswith("AUTH"))
    assert base64.b64decode(auth_line.split()[2]) == b"u"


@with_server(extensions=["AUTH PLAIN LOGIN", "SIZE 1000"], users={"u": "right"})
async def test_auth_failed_is_tried_once_and_never_shows_the_password(
    server: ScriptedSmtpServer, transport: SmtpTransport
) -> None:
    error = await failure(
        transport.send(settings_for(server, user="u", password="wrong-pw"), ENVELOPE, MESSAGE)
    )
    assert (error.reason, error.transient, error.smtp_code, error.enhanced_code) == (
        "auth_failed",
        False,
        535,
        "5.7.8",
    )
    assert server.sessions[0].verbs.count("AUTH") == 1, "a wrong password is not retried with LOGIN"
    assert "wrong-pw" not in str(error) and "wrong-pw" not in repr(error.to_dict())
    assert "MAIL" not in server.sessions[0].verbs


@with_server(extensions=["SIZE 1000"])
async def test_auth_not_offered_on_plain_connection_means_tls_required(
    server: ScriptedSmtpServer, transport: SmtpTransport
) -> None:
    error = await failure(transport.send(settings_for(server, user="u", password="p"), ENVELOPE, MESSAGE))
    assert error.reason == "tls_required"
    assert error.hint is not None and "STARTTLS" in error.hint


@with_server(extensions=["AUTH CRAM-MD5"], users={"u": "p"})
async def test_no_usable_auth_mechanism(server: ScriptedSmtpServer, transport: SmtpTransport) -> None:
    error = await failure(transport.send(settings_for(server, user="u", password="p"), ENVELOPE, MESSAGE))
    assert error.reason == "auth_unsupported"
    assert "CRAM-MD5" in error.message


@with_server()
async def test_dots_and_bare_newlines_survive(server: ScriptedSmtpServer, transport: SmtpTransport) -> None:
    data = b"Subject: dots\n\n.leading dot\n..two dots\n.\nend"
    await transport.send(settings_for(server), ENVELOPE, data)
    assert server.messages[0].data == b"Subject: dots\r\n\r\n.leading dot\r\n..two dots\r\n.\r\nend\r\n"


@with_server()
async def test_8bitmime_declared_for_non_ascii_body(
    server: ScriptedSmtpServer, transport: SmtpTransport
) -> None:
    data = "Subject: =?utf-8?q?x?=\r\nContent-Transfer-Encoding: 8bit\r\n\r\nПривет 你好\r\n".encode()
    await transport.send(settings_for(server), ENVELOPE, data)
    assert "BODY=8BITMIME" in server.messages[0].mail_options
    assert server.messages[0].data == data


# -- the failures Postfix will not produce -----------------------------------------------------------


@with_server(greeting="421 4.3.2 scripted.test Service not available")
async def test_421_at_greeting(server: ScriptedSmtpServer, transport: SmtpTransport) -> None:
    error = await failure(transport.send(settings_for(server), ENVELOPE, MESSAGE))
    assert (error.reason, error.transient, error.smtp_code) == ("server_unavailable", True, 421)


@with_server(greeting=HANG)
async def test_no_greeting_on_starttls_means_implicit_tls_port(
    server: ScriptedSmtpServer, transport: SmtpTransport
) -> None:
    error = await failure(transport.send(settings_for(server, "starttls"), ENVELOPE, MESSAGE))
    assert (error.reason, error.transient) == ("tls_mismatch", False)
    assert (
        error.hint
        == f"Port {server.port} expects implicit TLS: choose SSL/TLS, or use port 587 with STARTTLS."
    )


@with_server(greeting=Garbage(b"HTTP/1.1 400 Bad Request\r\n\r\n"))
async def test_garbage_greeting(server: ScriptedSmtpServer, transport: SmtpTransport) -> None:
    error = await failure(transport.send(settings_for(server), ENVELOPE, MESSAGE))
    assert (error.reason, error.transient) == ("protocol_error", False)
    assert "HTTP/1.1 400" in error.message


@with_server()
async def test_no_reply_to_mail_times_out(server: ScriptedSmtpServer, transport: SmtpTransport) -> None:
    server.on("MAIL", HANG)
    error = await failure(transport.send(settings_for(server, timeout=0.3), ENVELOPE, MESSAGE))
    assert (error.reason, error.transient) == ("timeout", True)
    assert "MAIL" in error.message


@with_server()
async def test_no_reply_after_data_times_out(server: ScriptedSmtpServer, transport: SmtpTransport) -> None:
    server.on("DATA_END", HANG)
    error = await failure(transport.send(settings_for(server, timeout=0.3), ENVELOPE, MESSAGE))
    assert (error.reason, error.transient) == ("timeout", True)


@with_server()
async def test_disconnect_during_data(server: ScriptedSmtpServer, transport: SmtpTransport) -> None:
    server.on("DATA_END", CLOSE)
    error = await failure(transport.send(settings_for(server), ENVELOPE, MESSAGE))
    assert (error.reason, error.transient) == ("connection_lost", True)
    assert "may or may not have been delivered" in error.message


@with_server()
async def test_garbage_reply_mid_conversation(server: ScriptedSmtpServer, transport: SmtpTransport) -> None:
    server.on("RCPT", Garbage(b"\x00\xff\xfe nonsense\r\n"))
    error = await failure(transport.send(settings_for(server), ENVELOPE, MESSAGE))
    assert (error.reason, error.transient) == ("protocol_error", False)
    assert error.to_dict()["message"].encode("utf-8")


@with_server()
async def test_452_for_some_recipients_is_a_partial_success(
    server: ScriptedSmtpServer, transport: SmtpTransport
) -> None:
    server.on("RCPT", "452 4.5.3 Error: too many recipients", match="c@", times=None)
    envelope = Envelope("shop@example.test", ("a@example.test", "b@example.test", "c@example.test"))
    result = await transport.send(settings_for(server), envelope, MESSAGE)
    assert result.accepted == ("a@example.test", "b@example.test")
    assert result.refused == {"c@example.test": (452, "4.5.3 Error: too many recipients")}
    assert server.messages[0].rcpt_to == ["a@example.test", "b@example.test"]


@with_server()
async def test_452_for_every_recipient_is_rate_limited(
    server: ScriptedSmtpServer, transport: SmtpTransport
) -> None:
    server.on("RCPT", "452 4.5.3 Error: too many recipients", times=None)
    error = await failure(transport.send(settings_for(server), ENVELOPE, MESSAGE))
    assert (error.reason, error.transient, error.smtp_code) == ("rate_limited", True, 452)
    # Pipelined (RFC 2920): DATA went out with MAIL and RCPT and the server refused it (554);
    # no body was sent and the connection was reset for the next message.
    assert server.sessions[0].verbs[1:] == ["MAIL", "RCPT", "DATA", "RSET"]
    assert server.messages == []


@with_server(extensions=NO_PIPELINING)
async def test_452_for_every_recipient_without_pipelining_sends_no_data(
    server: ScriptedSmtpServer, transport: SmtpTransport
) -> None:
    server.on("RCPT", "452 4.5.3 Error: too many recipients", times=None)
    error = await failure(transport.send(settings_for(server), ENVELOPE, MESSAGE))
    assert (error.reason, error.transient, error.smtp_code) == ("rate_limited", True, 452)
    assert "DATA" not in server.sessions[0].verbs


@with_server()
async def test_mixed_refusals_report_the_transient_one(
    server: ScriptedSmtpServer, transport: SmtpTransport
) -> None:
    server.on("RCPT", "550 5.1.1 User unknown", match="a@")
    server.on("RCPT", "450 4.2.0 Mailbox busy", match="b@")
    envelope = Envelope("shop@example.test", ("a@example.test", "b@example.test"))
    error = await failure(transport.send(settings_for(server), envelope, MESSAGE))
    assert (error.reason, error.transient, error.smtp_code) == ("recipient_rejected", True, 450)


@with_server()
async def test_sender_rejected_over_the_wire(server: ScriptedSmtpServer, transport: SmtpTransport) -> None:
    server.on("MAIL", "553 5.7.1 <shop@example.test>: Sender address rejected: not owned by user u")
    error = await failure(transport.send(settings_for(server), ENVELOPE, MESSAGE))
    assert (error.reason, error.transient, error.smtp_code, error.enhanced_code) == (
        "sender_rejected",
        False,
        553,
        "5.7.1",
    )
    assert error.hint is not None and "From" in error.hint


@with_server(extensions=["SIZE 1000", "8BITMIME"])
async def test_smtputf8_not_offered(server: ScriptedSmtpServer, transport: SmtpTransport) -> None:
    envelope = Envelope("shop@example.test", ("клиент@пример.рф",))
    error = await failure(transport.send(settings_for(server), envelope, MESSAGE))
    assert (error.reason, error.transient) == ("smtputf8_unsupported", False)
    assert "MAIL" not in server.sessions[0].verbs
    error = await failure(
        transport.send(settings_for(server), Envelope("a@b.test", ("c@d.test",), True), MESSAGE)
    )
    assert error.reason == "smtputf8_unsupported"


@with_server()
async def test_smtputf8_used_when_offered(server: ScriptedSmtpServer, transport: SmtpTransport) -> None:
    envelope = Envelope("shop@example.test", ("клиент@пример.рф",))
    await transport.send(settings_for(server), envelope, MESSAGE)
    assert "SMTPUTF8" in server.messages[0].mail_options
    assert server.messages[0].rcpt_to == ["клиент@пример.рф"]


@pytest.mark.parametrize(
    ("envelope", "detail"),
    [
        (Envelope("a@b.test", ()), "no recipients"),
        (Envelope("a@b.test", ("c@d.test\r\nRCPT TO:<evil@x>",)), "controls"),
        (Envelope("a b@b.test", ("c@d.test",)), "spaces"),
        (Envelope("a@b.test", ("<c@d.test>",)), "<>"),
        (Envelope("a@b.test", ("postmaster",)), "no @domain"),
    ],
)
def test_invalid_envelope_never_reaches_the_server(envelope: Envelope, detail: str) -> None:
    async def main() -> None:
        async with ScriptedSmtpServer() as server:
            transport = SmtpTransport()
            error = await failure(transport.send(settings_for(server), envelope, MESSAGE))
            assert error.reason == "invalid_envelope"
            assert detail in error.message
            assert server.sessions == []

    run(main())


@with_server()
async def test_null_sender_is_allowed(server: ScriptedSmtpServer, transport: SmtpTransport) -> None:
    await transport.send(settings_for(server), Envelope("", ("c@example.test",)), MESSAGE)
    assert "MAIL FROM:<>" in server.sessions[0].commands[1]


# -- PIPELINING (RFC 2920) ----------------------------------------------------------------------------


@with_server()
async def test_pipelined_group_is_one_write_and_replies_are_read_in_order(
    server: ScriptedSmtpServer, transport: SmtpTransport
) -> None:
    envelope = Envelope("shop@example.test", ("a@example.test", "b@example.test"))
    server.on("RCPT", "550-5.1.1 <a@example.test>: first line\n550 5.1.1 second line", match="a@")
    result = await transport.send(settings_for(server), envelope, MESSAGE)
    assert result.accepted == ("b@example.test",)
    # A multi-line reply is joined with newlines, exactly as aiosmtplib reported it.
    assert result.refused == {
        "a@example.test": (550, "5.1.1 <a@example.test>: first line\n5.1.1 second line")
    }
    assert server.sessions[0].verbs[1:] == ["MAIL", "RCPT", "RCPT", "DATA"]
    assert server.messages[0].rcpt_to == ["b@example.test"]


@with_server()
async def test_pipelined_sender_refusal_drains_the_group_and_keeps_the_connection(
    server: ScriptedSmtpServer, transport: SmtpTransport
) -> None:
    server.on("MAIL", "553 5.7.1 <shop@example.test>: Sender address rejected: not owned by user u")
    error = await failure(transport.send(settings_for(server), ENVELOPE, MESSAGE))
    assert (error.reason, error.smtp_code) == ("sender_rejected", 553)
    # RCPT and DATA were answered 503/554; those replies are read before RSET, not taken for the
    # next message's.
    result = await transport.send(settings_for(server), ENVELOPE, MESSAGE)
    assert result.smtp_code == 250
    assert len(server.sessions) == 1
    assert server.sessions[0].verbs[1:] == ["MAIL", "RCPT", "DATA", "RSET", "MAIL", "RCPT", "DATA"]
    assert len(server.messages) == 1


@with_server()
async def test_pipelined_354_without_recipients_closes_the_connection(
    server: ScriptedSmtpServer, transport: SmtpTransport
) -> None:
    # A non-conforming server that wants a body although it refused every recipient: the body is
    # never sent, and the connection (waiting for a body) is not reused.
    server.on("RCPT", "550 5.1.1 User unknown")
    server.on("DATA", "354 go ahead")
    error = await failure(transport.send(settings_for(server), ENVELOPE, MESSAGE))
    assert (error.reason, error.smtp_code) == ("recipient_rejected", 550)
    await transport.send(settings_for(server), ENVELOPE, MESSAGE)
    assert len(server.sessions) == 2
    assert server.sessions[0].messages == []
    assert len(server.messages) == 1


@with_server(extensions=NO_PIPELINING)
async def test_without_pipelining_one_command_at_a_time(
    server: ScriptedSmtpServer, transport: SmtpTransport
) -> None:
    data = b"Subject: dots\n\n.leading dot\nend"
    result = await transport.send(settings_for(server), ENVELOPE, data)
    assert result.smtp_code == 250
    assert server.messages[0].data == b"Subject: dots\r\n\r\n.leading dot\r\nend\r\n"
    assert server.sessions[0].verbs[1:] == ["MAIL", "RCPT", "DATA"]


# -- PIPELINING across messages: the next message's commands go out with the previous body ---------


def message(n: int) -> bytes:
    return f"From: shop@example.test\r\nTo: c{n}@example.test\r\nSubject: {n}\r\n\r\nHello {n}\r\n".encode()


def envelope(n: int) -> Envelope:
    return Envelope("shop@example.test", (f"c{n}@example.test",))


async def send_all(transport: SmtpTransport, settings: SmtpSettings, count: int) -> list[object]:
    """Send messages 0..count-1 at once; each one's result or DeliveryError, in order."""
    return await asyncio.gather(
        *(transport.send(settings, envelope(n), message(n)) for n in range(count)), return_exceptions=True
    )


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every write the SMTP client makes, in order (each is one send() to the server)."""
    made: list[bytes] = []
    original = SmtpChannel.write

    def counting(channel: SmtpChannel, data: bytes, replies: int) -> None:
        made.append(data)
        original(channel, data, replies)

    monkeypatch.setattr(SmtpChannel, "write", counting)
    return made


@pytest.mark.parametrize(("extensions", "expected_writes"), [(DEFAULT_EXTENSIONS, 6), (NO_PIPELINING, 17)])
def test_messages_waiting_for_a_busy_connection_are_pipelined_and_each_sent_once(
    writes: list[bytes], extensions: list[str], expected_writes: int
) -> None:
    async def main() -> None:
        async with ScriptedSmtpServer(extensions=extensions) as server:
            one = SmtpTransport(max_connections_per_account=1)
            results = await send_all(one, settings_for(server), 4)
            await one.aclose()
            assert [getattr(r, "smtp_code", r) for r in results] == [250, 250, 250, 250]
            assert [m.rcpt_to for m in server.messages] == [[f"c{n}@example.test"] for n in range(4)]
            assert [m.data for m in server.messages] == [message(n) for n in range(4)]
            assert len(server.sessions) == 1

    run(main())
    # With PIPELINING, four messages in five writes and QUIT, not eight and QUIT: the body of
    # message N and MAIL/RCPT/DATA of message N+1 share a write. Without, one command at a time.
    assert len(writes) == expected_writes
    if extensions == DEFAULT_EXTENSIONS:
        assert writes[1].startswith(b"From:")
        assert writes[1].endswith(b"RCPT TO:<c1@example.test>\r\nDATA\r\n")


@with_server()
async def test_rejected_body_does_not_mark_the_next_message_in_the_pipeline(
    server: ScriptedSmtpServer, transport: SmtpTransport
) -> None:
    server.on("DATA_END", "554 5.7.1 Message rejected as spam")
    one = SmtpTransport(max_connections_per_account=1)
    first, second, third = await send_all(one, settings_for(server), 3)
    await one.aclose()
    assert isinstance(first, DeliveryError)
    assert (first.smtp_code, first.transient) == (554, False)
    assert "rejected as spam" in (first.server_text or "")
    assert getattr(second, "smtp_code", second) == 250
    assert getattr(third, "smtp_code", third) == 250
    assert [m.rcpt_to for m in server.messages] == [["c1@example.test"], ["c2@example.test"]]
    # No RSET between a refused body and the next message's commands already sent after it.
    assert server.sessions[0].verbs[1:] == ["MAIL", "RCPT", "DATA"] * 3 + ["QUIT"]


@with_server()
async def test_refused_recipient_in_the_pipeline_is_only_that_message(
    server: ScriptedSmtpServer, transport: SmtpTransport
) -> None:
    server.on("RCPT", "550 5.1.1 User unknown", match="c1@")
    one = SmtpTransport(max_connections_per_account=1)
    first, second, third = await send_all(one, settings_for(server), 3)
    await one.aclose()
    assert getattr(first, "smtp_code", first) == 250
    assert isinstance(second, DeliveryError)
    assert (second.reason, second.smtp_code) == ("recipient_rejected", 550)
    assert getattr(third, "smtp_code", third) == 250
    assert [m.rcpt_to for m in server.messages] == [["c0@example.test"], ["c2@example.test"]]
    assert len(server.sessions) == 1


@pytest.mark.parametrize(
    ("after_body", "reason"),
    [("421 4.3.2 Service shutting down", "server_unavailable"), (CLOSE, "connection_lost")],
)
def test_server_gone_after_a_body_leaves_the_pipelined_message_unsent_then_sends_it_once(
    after_body: object, reason: str
) -> None:
    async def main() -> None:
        async with ScriptedSmtpServer() as server:
            server.on("DATA_END", after_body)  # type: ignore[arg-type]
            one = SmtpTransport(max_connections_per_account=1)
            first, second = await send_all(one, settings_for(server), 2)
            await one.aclose()
            # The first message: a temporary failure with the server's words (it may be retried).
            assert isinstance(first, DeliveryError)
            assert (first.reason, first.transient) == (reason, True)
            # The second one's commands went out on the dying connection; nothing of it was accepted
            # there, so it was sent on a fresh connection, once.
            assert getattr(second, "smtp_code", second) == 250
            assert one.stats.retried_on_fresh_connection == 1
            assert [m.rcpt_to for m in server.messages] == [["c1@example.test"]]
            assert len(server.sessions) == 2

    run(main())


@with_server()
async def test_no_reply_after_a_body_times_out_and_the_next_message_is_sent_elsewhere(
    server: ScriptedSmtpServer, transport: SmtpTransport
) -> None:
    server.on("DATA_END", HANG)
    one = SmtpTransport(max_connections_per_account=1)
    first, second = await send_all(one, settings_for(server, timeout=0.3), 2)
    await one.aclose()
    assert isinstance(first, DeliveryError)
    assert (first.reason, first.transient) == ("timeout", True)
    assert getattr(second, "smtp_code", second) == 250
    assert [m.rcpt_to for m in server.messages] == [["c1@example.test"]]


def test_cancelled_message_already_in_the_pipeline_is_not_sent(writes: list[bytes]) -> None:
    async def main() -> None:
        async with ScriptedSmtpServer() as server:
            server.reply_delay = 0.1
            one = SmtpTransport(max_connections_per_account=1)
            settings = settings_for(server)
            first = asyncio.create_task(one.send(settings, envelope(0), message(0)))
            second = asyncio.create_task(one.send(settings, envelope(1), message(1)))
            deadline = asyncio.get_running_loop().time() + 5
            while len(writes) < 2:  # the first body went out, with the second message's commands
                assert asyncio.get_running_loop().time() < deadline
                await asyncio.sleep(0.005)
            second.cancel()
            with pytest.raises(asyncio.CancelledError):
                await second
            assert (await first).smtp_code == 250
            # The server waits for the cancelled message's body: that connection is not reused.
            assert (await one.send(settings, envelope(2), message(2))).smtp_code == 250
            await one.aclose()
            assert [m.rcpt_to for m in server.messages] == [["c0@example.test"], ["c2@example.test"]]
            assert len(server.sessions) == 2

    run(main())


# -- TLS mix-ups and trust ---------------------------------------------------------------------------


@with_server()
async def test_implicit_tls_on_a_plain_port_is_a_mismatch(
    server: ScriptedSmtpServer, transport: SmtpTransport
) -> None:
    error = await failure(transport.send(settings_for(server, "tls"), ENVELOPE, MESSAGE))
    assert (error.reason, error.transient) == ("tls_mismatch", False)
    assert (
        error.hint == f"Port {server.port} expects STARTTLS: choose STARTTLS, or use port 465 with SSL/TLS."
    )
    assert "wrong version number" in error.message


def test_starttls_on_an_implicit_tls_port_is_a_mismatch(pki: TestPki) -> None:
    async def main() -> None:
        async with ScriptedSmtpServer(pki=pki, implicit_tls=True) as server:
            transport = SmtpTransport(greeting_timeout=0.5)
            error = await failure(
                transport.send(settings_for(server, "starttls", ca_file=pki.ca_file), ENVELOPE, MESSAGE)
            )
            assert (error.reason, error.transient) == ("tls_mismatch", False)
            assert "expects implicit TLS" in (error.hint or "")

    run(main())


@with_server()
async def test_starttls_not_offered(server: ScriptedSmtpServer, transport: SmtpTransport) -> None:
    error = await failure(transport.send(settings_for(server, "starttls"), ENVELOPE, MESSAGE))
    assert (error.reason, error.transient) == ("tls_failed", False)
    assert "does not offer STARTTLS" in error.message


# Python 3.11's asyncio leaves a half-upgraded server-side StreamWriter behind when the client
# aborts a STARTTLS handshake; its __del__ then fails. That is the scripted server's side, not ours.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_untrusted_certificate(pki: TestPki, other_pki: TestPki, security: Security) -> None:
    async def main() -> None:
        async with ScriptedSmtpServer(pki=pki, implicit_tls=security == "tls") as server:
            transport = SmtpTransport()
            error = await failure(
                transport.send(settings_for(server, security, ca_file=other_pki.ca_file), ENVELOPE, MESSAGE)
            )
            assert (error.reason, error.transient) == ("tls_failed", False)
            assert "certificate" in error.message
            assert error.hint is not None and "--ca-file" in error.hint

    run(main())
    gc.collect()  # let the warning above surface inside this test's filter


def test_verify_false_accepts_an_untrusted_certificate(pki: TestPki) -> None:
    async def main() -> None:
        async with ScriptedSmtpServer(pki=pki, implicit_tls=True) as server:
            transport = SmtpTransport()
            settings = SmtpSettings(server.host, server.port, "tls", None, None, verify_tls=False)
            await transport.send(settings, ENVELOPE, MESSAGE)
            await transport.aclose()
            assert len(server.messages) == 1

    run(main())


def test_connection_refused() -> None:
    async def main() -> None:
        server = ScriptedSmtpServer()
        await server.start()
        port = server.port
        await server.stop()
        transport = SmtpTransport()
        settings = SmtpSettings("127.0.0.1", port, "none", None, None, timeout=2)
        error = await failure(transport.send(settings, ENVELOPE, MESSAGE))
        assert (error.reason, error.transient) == ("connect_failed", True)

    run(main())


def test_unknown_host() -> None:
    async def main() -> None:
        transport = SmtpTransport()
        settings = SmtpSettings("no-such-host.invalid", 587, "starttls", None, None, timeout=5)
        error = await failure(transport.send(settings, ENVELOPE, MESSAGE))
        assert error.reason == "dns_failed"

    run(main())


# -- the pool ----------------------------------------------------------------------------------------


@with_server()
async def test_connection_is_reused(server: ScriptedSmtpServer, transport: SmtpTransport) -> None:
    for _ in range(3):
        await transport.send(settings_for(server), ENVELOPE, MESSAGE)
    assert len(server.sessions) == 1
    assert len(server.messages) == 3
    assert (transport.stats.opened, transport.stats.reused) == (1, 2)


@with_server()
async def test_different_accounts_do_not_share_connections(
    server: ScriptedSmtpServer, transport: SmtpTransport
) -> None:
    await transport.send(settings_for(server), ENVELOPE, MESSAGE)
    await transport.send(
        SmtpSettings(**{**settings_for(server).__dict__, "local_hostname": "other.test"}), ENVELOPE, MESSAGE
    )
    assert len(server.sessions) == 2


@with_server()
async def test_refused_transaction_is_reset_and_connection_kept(
    server: ScriptedSmtpServer, transport: SmtpTransport
) -> None:
    server.on("RCPT", "550 5.1.1 User unknown")
    error = await failure(transport.send(settings_for(server), ENVELOPE, MESSAGE))
    assert error.reason == "recipient_rejected"
    await transport.send(settings_for(server), ENVELOPE, MESSAGE)
    assert len(server.sessions) == 1
    # The pipelined DATA's refusal is read before RSET, so the next message's replies line up.
    assert server.sessions[0].verbs[1:6] == ["MAIL", "RCPT", "DATA", "RSET", "MAIL"]
    assert len(server.messages) == 1


@with_server(extensions=NO_PIPELINING)
async def test_refused_transaction_is_reset_and_connection_kept_without_pipelining(
    server: ScriptedSmtpServer, transport: SmtpTransport
) -> None:
    server.on("RCPT", "550 5.1.1 User unknown")
    error = await failure(transport.send(settings_for(server), ENVELOPE, MESSAGE))
    assert error.reason == "recipient_rejected"
    await transport.send(settings_for(server), ENVELOPE, MESSAGE)
    assert len(server.sessions) == 1
    assert server.sessions[0].verbs[1:5] == ["MAIL", "RCPT", "RSET", "MAIL"]


@with_server()
async def test_server_closed_idle_connection_is_replaced(
    server: ScriptedSmtpServer, transport: SmtpTransport
) -> None:
    await transport.send(settings_for(server), ENVELOPE, MESSAGE)
    await server.close_connections()
    await transport.send(settings_for(server), ENVELOPE, MESSAGE)
    assert len(server.messages) == 2
    assert len(server.sessions) == 2


@with_server()
async def test_dead_pooled_connection_before_mail_is_retried_once(
    server: ScriptedSmtpServer, transport: SmtpTransport
) -> None:
    await transport.send(settings_for(server), ENVELOPE, MESSAGE)
    # The server says goodbye in answer to MAIL, as Postfix does after its idle timeout.
    server.on("MAIL", "421 4.4.2 scripted.test Error: timeout exceeded")
    result = await transport.send(settings_for(server), ENVELOPE, MESSAGE)
    assert result.smtp_code == 250
    assert transport.stats.retried_on_fresh_connection == 1
    assert len(server.messages) == 2


@with_server()
async def test_no_retry_once_mail_was_accepted(server: ScriptedSmtpServer, transport: SmtpTransport) -> None:
    await transport.send(settings_for(server), ENVELOPE, MESSAGE)
    server.on("DATA_END", CLOSE)
    error = await failure(transport.send(settings_for(server), ENVELOPE, MESSAGE))
    assert error.reason == "connection_lost"
    assert transport.stats.retried_on_fresh_connection == 0
    assert len(server.sessions) == 1, "no second attempt that could duplicate the message"


@with_server()
async def test_no_retry_on_a_fresh_connection(server: ScriptedSmtpServer, transport: SmtpTransport) -> None:
    server.on("MAIL", "421 4.3.2 Service shutting down")
    error = await failure(transport.send(settings_for(server), ENVELOPE, MESSAGE))
    assert (error.reason, error.transient) == ("server_unavailable", True)
    assert len(server.sessions) == 1


@with_server()
async def test_at_most_n_connections_per_account(
    server: ScriptedSmtpServer, transport: SmtpTransport
) -> None:
    limited = SmtpTransport(max_connections_per_account=2)
    server.reply_delay = 0.01
    await asyncio.gather(*(limited.send(settings_for(server), ENVELOPE, MESSAGE) for _ in range(8)))
    await limited.aclose()
    assert len(server.sessions) == 2
    assert len(server.messages) == 8


@with_server()
async def test_idle_connections_expire(server: ScriptedSmtpServer, transport: SmtpTransport) -> None:
    now = [0.0]
    timed = SmtpTransport(idle_timeout=10, clock=lambda: now[0])
    await timed.send(settings_for(server), ENVELOPE, MESSAGE)
    now[0] = 5
    await timed.send(settings_for(server), ENVELOPE, MESSAGE)
    now[0] = 16
    await timed.send(settings_for(server), ENVELOPE, MESSAGE)
    await timed.aclose()
    assert len(server.sessions) == 2
    assert server.sessions[0].verbs[-1] == "QUIT"


@with_server()
async def test_max_messages_per_connection(server: ScriptedSmtpServer, transport: SmtpTransport) -> None:
    capped = SmtpTransport(max_messages_per_connection=2)
    for _ in range(5):
        await capped.send(settings_for(server), ENVELOPE, MESSAGE)
    await capped.aclose()
    assert [len(s.messages) for s in server.sessions] == [2, 2, 1]


@with_server()
async def test_cancelled_send_does_not_return_connection(
    server: ScriptedSmtpServer, transport: SmtpTransport
) -> None:
    server.on("DATA_END", HANG)
    task = asyncio.create_task(transport.send(settings_for(server), ENVELOPE, MESSAGE))
    deadline = asyncio.get_running_loop().time() + 5
    while "DATA" not in server.sessions[0].verbs if server.sessions else True:
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await transport.send(settings_for(server), ENVELOPE, MESSAGE)
    assert len(server.sessions) == 2


@with_server()
async def test_aclose_quits_idle_connections(server: ScriptedSmtpServer, transport: SmtpTransport) -> None:
    await transport.send(settings_for(server), ENVELOPE, MESSAGE)
    await transport.aclose()
    assert server.sessions[0].verbs[-1] == "QUIT"
    with pytest.raises(RuntimeError):
        await transport.send(settings_for(server), ENVELOPE, MESSAGE)


def test_ssl_cert_file_is_honoured_without_ca_file(pki: TestPki, monkeypatch: pytest.MonkeyPatch) -> None:
    # No ca_file: the system store is used, which OpenSSL lets SSL_CERT_FILE replace.
    async def main() -> None:
        async with ScriptedSmtpServer(pki=pki, implicit_tls=True) as server:
            error = await failure(SmtpTransport().send(settings_for(server, "tls"), ENVELOPE, MESSAGE))
            assert error.reason == "tls_failed", "the test CA must not be trusted by default"
            monkeypatch.setenv("SSL_CERT_FILE", pki.ca_file)
            transport = SmtpTransport()
            await transport.send(settings_for(server, "tls"), ENVELOPE, MESSAGE)
            await transport.aclose()
            assert len(server.messages) == 1

    run(main())
