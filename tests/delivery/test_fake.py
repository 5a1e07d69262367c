"""RecordingTransport: the fake other tests use must behave like the Transport contract."""

from __future__ import annotations

import asyncio

import pytest

from mailcard.delivery.classify import classify_reply
from mailcard.delivery.fake import RecordingTransport
from mailcard.delivery.settings import SmtpSettings
from mailcard.delivery.transport import Envelope, Transport
from mailcard.errors import DeliveryError

SETTINGS = SmtpSettings("smtp.example.test", 587, "starttls", None, None)
ENVELOPE = Envelope("shop@example.test", ("a@example.test", "b@example.test"))


def test_records_and_succeeds() -> None:
    fake = RecordingTransport()
    transport: Transport = fake
    result = asyncio.run(transport.send(SETTINGS, ENVELOPE, b"data"))
    assert result.smtp_code == 250 and result.accepted == ENVELOPE.recipients
    assert [s.data for s in fake.delivered] == [b"data"]
    assert fake.sends[0].envelope == ENVELOPE


def test_scripted_failures_are_consumed_in_order() -> None:
    fake = RecordingTransport()
    fake.fail_next("rate_limited")
    fake.succeed_next()
    fake.fail_next(classify_reply("auth", 535, "5.7.8 nope"))

    async def go() -> list[str]:
        outcomes = []
        for _ in range(4):
            try:
                await fake.send(SETTINGS, ENVELOPE, b"x")
                outcomes.append("ok")
            except DeliveryError as error:
                outcomes.append(f"{error.reason}:{error.transient}")
        return outcomes

    assert asyncio.run(go()) == ["rate_limited:True", "ok", "auth_failed:False", "ok"]
    assert len(fake.sends) == 4 and len(fake.delivered) == 2


def test_per_recipient_refusals() -> None:
    fake = RecordingTransport()
    fake.refuse("b@example.test", 550, "5.1.1 User unknown")
    result = asyncio.run(fake.send(SETTINGS, ENVELOPE, b"x"))
    assert result.accepted == ("a@example.test",)
    assert result.refused == {"b@example.test": (550, "5.1.1 User unknown")}
    fake.refuse("a@example.test", 450, "4.2.0 busy")
    with pytest.raises(DeliveryError) as info:
        asyncio.run(fake.send(SETTINGS, ENVELOPE, b"x"))
    assert info.value.reason == "recipient_rejected"


def test_closed_fake_refuses_use() -> None:
    fake = RecordingTransport()
    asyncio.run(fake.aclose())
    assert fake.closed
    with pytest.raises(RuntimeError):
        asyncio.run(fake.send(SETTINGS, ENVELOPE, b"x"))
