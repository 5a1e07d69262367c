"""Personalised bulk through compose: every good request is stored, every bad one is reported alone."""

from __future__ import annotations

from mailcard.compose import Composer, EmailRequest
from mailcard.errors import AddressError, ContentBlockedError, TemplateError
from mailcard.outbox.memory import InMemoryOutboxStore
from mailcard.rendering import TemplateEngine


def test_submit_many_stores_the_good_and_reports_each_bad_request() -> None:
    outbox = InMemoryOutboxStore()
    composer = Composer(outbox, templates=TemplateEngine())

    def request(to: str, name: str, html: str = "<p>Здравствуйте, {{ name }}!</p>") -> EmailRequest:
        return EmailRequest(
            sender="Магазин <shop@example.com>",
            to=to,
            subject="Привет, {{ name }}",
            preheader="Для {{ name }}",
            html=html,
            context={"name": name},
        )

    items = composer.submit_many(
        [
            request("anna@example.ru", "Анна"),
            request("not an address", "Пётр"),
            request("li@example.cn", "李娜", html="<p>{{ name }}<script>alert(1)</script></p>"),
            request("john@example.com", "John", html="<p>{% if %}</p>"),
            request("wang@example.cn", "王芳"),
        ]
    )
    assert [item.id is not None for item in items] == [True, False, False, False, True]
    assert isinstance(items[1].error, AddressError)
    assert isinstance(items[2].error, ContentBlockedError)
    assert isinstance(items[3].error, TemplateError)
    stored = outbox.get(items[4].id or "", with_data=True)
    assert stored is not None and stored.subject == "Привет, 王芳"
    assert stored.envelope_to == ("wang@example.cn",)
    assert b"multipart/alternative" in (stored.data or b"")
    assert outbox.counts()["queued"] == 2
