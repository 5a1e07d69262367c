"""Deliver built messages through the real Postfix and compare what it stored with what we sent.

Postfix may prepend Return-Path, X-Original-To, Delivered-To and Received headers and stores LF
line endings in the Maildir; apart from that our bytes must arrive unchanged (no re-encoding, no
header rewriting, no re-folding), which is the practical proof that the output is clean for a real
MTA.
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import re
from typing import TYPE_CHECKING

import aiosmtplib
import pytest

from mailcard.domain.mailbox import Mailbox
from mailcard.mime import BuiltMessage, MessageDraft, build_message

if TYPE_CHECKING:
    from tests.support.postfix import PostfixServer

pytestmark = pytest.mark.postfix

_PREPENDED = re.compile(
    rb"(?:(?:Return-Path|X-Original-To|Delivered-To|Received):[^\n]*\n(?:[ \t][^\n]*\n)*)*"
)


def _send(postfix: PostfixServer, built: BuiltMessage) -> None:
    async def go() -> None:
        client = aiosmtplib.SMTP(
            hostname=postfix.host, port=postfix.plain_port, use_tls=False, start_tls=False
        )
        async with client:
            options = ["SMTPUTF8"] if built.smtputf8 else []
            errors, _ = await client.sendmail(
                built.envelope_from, list(built.envelope_to), built.data, mail_options=options
            )
            assert not errors

    asyncio.run(go())


def _delivered_unchanged(postfix: PostfixServer, built: BuiltMessage, address: str) -> bytes:
    [stored] = postfix.wait_for_messages(address, 1, timeout=20)
    sent = built.data.replace(b"\r\n", b"\n")
    prefix = _PREPENDED.match(stored)
    assert prefix is not None
    assert stored[prefix.end() :] == sent, "Postfix stored different bytes than we sent"
    return stored


def _body_text(stored: bytes) -> list[str]:
    msg = email.parser.BytesParser(policy=email.policy.default).parsebytes(stored)
    parts = list(msg.iter_parts()) if msg.is_multipart() else [msg]
    return [str(p.get_content()).replace("\r\n", "\n") for p in parts]


def test_unicode_message_arrives_byte_for_byte(postfix: PostfixServer) -> None:
    rcpt = postfix.fresh_address("mime")
    text = (
        "Здравствуйте, Иван!\nВаш заказ №123 отправлен.\n您好，您的订单已发货。🎉\n"
        ".\n..leading dots\nFrom the warehouse\ntrailing spaces   \n" + "long line " * 30 + "\n"
    )
    html = "<p>Здравствуйте, <b>Иван</b>!</p>\n<p>" + "x" * 200 + "</p>\n"
    built = build_message(
        MessageDraft(
            sender=Mailbox("shop@магазин.рф", "Магазин «Ромашка»"),
            to=(Mailbox(rcpt, "Иван Петров 李伟"),),
            subject="Ваш заказ №123 отправлен 🚚 / 您的订单已发货 — " + "очень длинная тема " * 5,
            text=text,
            html=html,
            headers={"X-Mailcard-Id": "m-1", "List-Unsubscribe": "<https://shop.example/u/abc>"},
        )
    )
    assert not built.smtputf8
    _send(postfix, built)
    stored = _delivered_unchanged(postfix, built, rcpt)
    assert _body_text(stored) == [text, html]


def test_smtputf8_message_arrives_byte_for_byte(postfix: PostfixServer) -> None:
    rcpt = postfix.fresh_address("mime")
    built = build_message(
        MessageDraft(
            sender=Mailbox(f"магазин@{postfix.local_domain}", "Магазин"),
            to=(Mailbox(rcpt, "Иван"),),
            subject="Ваш заказ готов",
            text="Спасибо!\n",
        )
    )
    assert built.smtputf8
    _send(postfix, built)
    stored = _delivered_unchanged(postfix, built, rcpt)
    assert "Subject: Ваш заказ готов\n".encode() in stored
