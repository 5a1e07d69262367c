"""The probe (``mailcard smtp test``) against the scripted server, and the From/login warning."""

from __future__ import annotations

import asyncio
import json

import pytest
from tests.support.scripted_smtp import HANG, ScriptedSmtpServer, TestPki

from mailcard.delivery.probe import ProbeResult, probe, sender_matches_account
from mailcard.delivery.settings import SmtpSettings
from mailcard.secret import Secret

JSON_KEYS = {"ok", "reason", "transient", "smtp_code", "enhanced_code", "message", "hint"}


def _settings(server: ScriptedSmtpServer, **changes: object) -> SmtpSettings:
    base = SmtpSettings(server.host, server.port, "none", None, None, timeout=2, local_hostname="probe.test")
    return SmtpSettings(**{**base.__dict__, **changes})  # type: ignore[arg-type]


def test_ok_probe_sends_nothing(pki: TestPki) -> None:
    async def main() -> ProbeResult:
        async with ScriptedSmtpServer(pki=pki, users={"u@shop.test": "密码"}) as server:
            settings = _settings(
                server,
                host="localhost",
                security="starttls",
                username="u@shop.test",
                password=Secret("密码"),
                ca_file=pki.ca_file,
            )
            result = await probe(settings, mail_from="u@shop.test", rcpt_to="c@example.test")
            assert server.messages == []
            assert server.sessions[0].verbs[-3:] == ["RCPT", "RSET", "QUIT"]
            assert "DATA" not in server.sessions[0].verbs
            return result

    result = asyncio.run(main())
    assert result.ok
    assert (result.reason, result.transient, result.hint) == (None, None, None)
    assert "nothing was sent" in result.message
    assert "密码" not in result.message
    assert [s.name for s in result.steps] == ["connect", "tls", "auth", "mail", "rcpt", "rset"]
    assert all(s.ok for s in result.steps)
    assert set(result.to_json()) == JSON_KEYS
    json.dumps(result.to_json())


def test_probe_without_recipient_checks_the_sender_only() -> None:
    async def main() -> None:
        async with ScriptedSmtpServer() as server:
            result = await probe(_settings(server), mail_from="shop@example.test", rcpt_to=None)
            assert result.ok
            assert [s.name for s in result.steps] == ["connect", "mail", "rset"]
            assert "RCPT" not in server.sessions[0].verbs

    asyncio.run(main())


def test_failed_auth_is_a_result_not_an_exception() -> None:
    async def main() -> None:
        async with ScriptedSmtpServer(users={"u": "right"}) as server:
            settings = _settings(server, username="u", password=Secret("hunter2-xyz"))
            result = await probe(settings, mail_from="u@x.test", rcpt_to="c@x.test")
            assert not result.ok
            assert result.to_json() == {
                "ok": False,
                "reason": "auth_failed",
                "transient": False,
                "smtp_code": 535,
                "enhanced_code": "5.7.8",
                "message": result.message,
                "hint": result.hint,
            }
            assert result.steps[-1].name == "auth" and not result.steps[-1].ok
            assert "hunter2-xyz" not in json.dumps(result.to_json())
            deadline = asyncio.get_running_loop().time() + 5
            while not server.sessions[0].closed:  # the client hung up after the refusal
                assert asyncio.get_running_loop().time() < deadline
                await asyncio.sleep(0.01)

    asyncio.run(main())


def test_recipient_refusal_is_reported_at_rcpt() -> None:
    async def main() -> None:
        async with ScriptedSmtpServer() as server:
            server.on("RCPT", "550 5.1.1 <c@x.test>: Recipient address rejected: User unknown")
            result = await probe(_settings(server), mail_from="a@x.test", rcpt_to="c@x.test")
            assert (result.ok, result.reason, result.smtp_code) == (False, "recipient_rejected", 550)
            assert result.steps[-1].name == "rcpt"

    asyncio.run(main())


def test_tls_mismatch_via_probe() -> None:
    async def main() -> None:
        async with ScriptedSmtpServer(greeting=HANG) as server:
            result = await probe(
                _settings(server, security="starttls", timeout=0.5), mail_from="a@x.test", rcpt_to=None
            )
            assert (result.ok, result.reason) == (False, "tls_mismatch")
            assert result.hint is not None and "implicit TLS" in result.hint
            assert [s.name for s in result.steps] == ["connect"]

    asyncio.run(main())


def test_send_test_really_sends() -> None:
    async def main() -> None:
        async with ScriptedSmtpServer() as server:
            result = await probe(_settings(server), mail_from="a@x.test", rcpt_to="c@x.test", send_test=True)
            assert result.ok, result
            assert [s.name for s in result.steps] == ["connect", "mail", "rcpt", "data"]
            [message] = server.messages
            assert b"Subject: mailcard SMTP test" in message.data
            custom = await probe(
                _settings(server),
                mail_from="a@x.test",
                rcpt_to="c@x.test",
                send_test=True,
                test_message=b"Subject: x\r\n\r\ny\r\n",
            )
            assert custom.ok
            assert server.messages[1].data == b"Subject: x\r\n\r\ny\r\n"

    asyncio.run(main())


def test_send_test_needs_a_recipient() -> None:
    with pytest.raises(ValueError):
        asyncio.run(
            probe(SmtpSettings("h", 25, "none", None, None), mail_from="a@b.c", rcpt_to=None, send_test=True)
        )


@pytest.mark.parametrize(
    ("from_address", "login", "expected"),
    [
        ("support@shop.com", "support@shop.com", True),
        ("Support@Shop.com", "support@shop.com", True),
        ("客服团队 <support@shop.com>", "support@shop.com", True),
        ("sales@shop.com", "support@shop.com", True),
        ("support@other.com", "support@shop.com", False),
        ("noreply@gmail.com", "me@shop.com", False),
        ("anything@else.com", "apikey", True),
        ("anything@else.com", None, True),
    ],
)
def test_sender_matches_account(from_address: str, login: str | None, expected: bool) -> None:
    settings = SmtpSettings("h", 587, "starttls", login, Secret("p") if login else None)
    assert sender_matches_account(from_address, settings) is expected
