"""Mailings on SQLite with a recording transport: what is refused at creation (whole, nothing stored),
and that composition shared among workers, or resumed after a worker died, sends each message once."""

from __future__ import annotations

import asyncio
import email
from collections import Counter
from datetime import UTC, datetime
from email import policy
from typing import Any

import pytest
from tests.mailings.conftest import run_mailing

from mailcard.bootstrap import Container
from mailcard.compose import Composer
from mailcard.crm import NewCustomer, NewStore
from mailcard.delivery.fake import RecordingTransport
from mailcard.delivery.settings import SmtpSettings
from mailcard.errors import (
    AddressError,
    ConflictError,
    ContentBlockedError,
    InputError,
    NotFoundError,
    TemplateError,
)
from mailcard.identity import NewUser
from mailcard.mailings import MailingContent, MailingRunner, MailingService, RecipientInput, SqlMailingStore
from mailcard.secret import Secret

CONTENT = MailingContent(
    sender="Магазин «Ромашка» <shop@example.com>",
    subject="{{ customer.firstName }}, ваш промокод",
    text="Здравствуйте, {{ customer.firstName }}! Промокод: {{ code }}.",
)


def service(container: Container, chunk_size: int = 4) -> MailingService:
    """The container's service, storing small chunks, so a few recipients make several chunks."""
    built = container.mailings()
    built.store = SqlMailingStore(container.engine, chunk_size=chunk_size)
    return built


def people(count: int) -> list[RecipientInput]:
    return [
        RecipientInput(
            to=f"Покупатель {n} <buyer{n}@example.com>",
            context={"customer": {"firstName": f"Имя{n}"}, "code": f"C{n}"},
        )
        for n in range(count)
    ]


def stored_mailings(container: Container) -> int:
    return container.mailings().store.list(limit=10, offset=0)[1]


def test_bad_recipients_are_each_reported_and_nothing_is_stored(container: Container) -> None:
    recipients = people(5)
    recipients[1] = RecipientInput(to="not an address")
    recipients[3] = RecipientInput(customer_id="404")
    with pytest.raises(AddressError) as caught:
        service(container).create("Промо", CONTENT, recipients)
    error = caught.value
    assert error.code == "invalid_recipients"
    assert [(p["index"], p["code"]) for p in error.details["recipients"]] == [
        (1, "invalid_address"),
        (3, "customer_not_found"),
    ]
    assert "#2:" in error.message and "#4:" in error.message
    assert stored_mailings(container) == 0


def test_active_content_refuses_the_mailing(container: Container) -> None:
    blocked = MailingContent(
        sender=CONTENT.sender, subject="Hi", html='<p>Hi</p><iframe src="https://x.example"></iframe>'
    )
    with pytest.raises(ContentBlockedError) as caught:
        service(container).create("Промо", blocked, people(3))
    assert any(f.code.startswith("unsafe_") for f in caught.value.findings)
    assert stored_mailings(container) == 0


def test_a_template_error_names_its_line(container: Container) -> None:
    broken = MailingContent(sender=CONTENT.sender, subject="Hi", text="Hello\n{{ customer.firstName ")
    with pytest.raises(TemplateError) as caught:
        service(container).create("Промо", broken, people(2))
    assert caught.value.line == 2
    assert stored_mailings(container) == 0


def test_empty_or_bodiless_mailings_are_refused(container: Container) -> None:
    with pytest.raises(InputError) as no_one:
        service(container).create("Промо", CONTENT, [])
    assert no_one.value.code == "no_recipient"
    with pytest.raises(InputError) as no_body:
        service(container).create("Промо", MailingContent(sender=CONTENT.sender, subject="Hi"), people(1))
    assert no_body.value.code == "empty_body"


def test_warnings_are_kept_and_repeated_addresses_are_sent_once(container: Container) -> None:
    container.accounts.save(
        "gmail",
        SmtpSettings("127.0.0.1", 1, "none", username="news@other.example", password=Secret("x")),
        is_default=True,
    )
    shortened = MailingContent(
        sender=CONTENT.sender, subject="Hi", text="Скидки: https://bit.ly/abc {{ code }}"
    )
    recipients = [*people(3), RecipientInput(to="BUYER1@example.com", context={"code": "again"})]
    mailing, progress = service(container).create("Промо", shortened, recipients)
    codes = {f["code"] for f in mailing.findings}
    assert codes == {"shortened_link", "sender_account_mismatch", "duplicate_recipients"}
    assert progress.recipients == 3


def test_the_list_shows_each_mailing_with_its_own_progress(container: Container) -> None:
    sent, _ = service(container).create("Отправлена", CONTENT, people(5))
    run_mailing(container, sent.id, transport=RecordingTransport())
    waiting, _ = service(container).create("Ждёт", CONTENT, people(3))
    page, total = container.mailings().store.list(limit=10, offset=0)
    assert total == 2
    shown = {m.id: p.to_dict() for m, p in page}
    assert shown[sent.id] == {
        "status": "finished",
        "recipients": 5,
        "composed": 5,
        "refused": 0,
        "messages": {"sent": 5},
    }
    assert shown[waiting.id] == {
        "status": "composing",
        "recipients": 3,
        "composed": 0,
        "refused": 0,
        "messages": {},
    }


def test_two_workers_compose_and_send_each_message_once(container: Container) -> None:
    mailing, _ = service(container).create("Промо", CONTENT, people(41))
    transport = RecordingTransport()
    done = run_mailing(container, mailing.id, runners=2, transport=transport)
    assert done.messages == {"sent": 41} and done.refused == 0
    sent_to = Counter(r for send in transport.sends for r in send.envelope.recipients)
    assert sent_to == Counter(f"buyer{n}@example.com" for n in range(41))
    message_ids = {v.message_id for v in container.mailings().recipients(mailing.id, limit=100, offset=0)[0]}
    assert len(message_ids) == 41 and None not in message_ids


def test_a_chunk_composed_by_a_worker_that_died_is_composed_again_without_a_second_message(
    container: Container,
) -> None:
    mailing, _ = service(container).create("Промо", CONTENT, people(10))
    store = SqlMailingStore(container.engine)
    dead = MailingRunner(store, container.composer(), container.outbox, owner="dead", lease_seconds=0.01)

    async def compose_then_die() -> None:
        chunk = store.lease("dead", finished=None, lease_seconds=0.01, now=datetime.now(UTC))
        assert chunk is not None and len(chunk.recipients) == 4
        await dead._compose(chunk)  # enqueued in the outbox; the worker dies before recording it

    asyncio.run(compose_then_die())
    assert container.outbox.counts()["queued"] == 4
    # The four messages are in the outbox (found by their keys); the chunk is still leased to the dead.
    assert container.mailings().store.progress(mailing.id).composed == 4

    transport = RecordingTransport()
    done = run_mailing(container, mailing.id, transport=transport)
    assert done.messages == {"sent": 10}
    sent_to = Counter(r for send in transport.sends for r in send.envelope.recipients)
    assert set(sent_to.values()) == {1} and len(sent_to) == 10


def test_an_unknown_mailing_is_not_found(container: Container) -> None:
    with pytest.raises(NotFoundError) as caught:
        container.mailings().get("0" * 32)
    assert caught.value.code == "mailing_not_found"


def test_a_cancelled_mailing_sends_nothing_more(container: Container) -> None:
    mailing, _ = service(container).create("Промо", CONTENT, people(10))
    store = SqlMailingStore(container.engine)
    early = MailingRunner(store, container.composer(), container.outbox, owner="early")
    chunk = store.lease("early", finished=None, lease_seconds=60, now=datetime.now(UTC))
    assert chunk is not None
    store.record("early", asyncio.run(early._compose(chunk)), now=datetime.now(UTC))  # 4 queued, unsent

    _, progress, cancelled = service(container).cancel(mailing.id)

    assert cancelled == 4 and progress.status == "cancelled"
    transport = RecordingTransport()

    async def work_a_while() -> None:
        stop = asyncio.Event()
        worker = container.worker(transport=transport, poll_seconds=0.02)
        tasks = [
            asyncio.create_task(worker.run(stop)),
            asyncio.create_task(container.mailing_runner().run(stop)),
        ]
        await asyncio.sleep(0.5)
        stop.set()
        await asyncio.gather(*tasks)
        await worker.aclose()

    asyncio.run(work_a_while())
    assert transport.sends == []
    views = container.mailings().recipients(mailing.id, limit=100, offset=0)[0]
    assert [v.status for v in views] == ["cancelled"] * 10
    assert [v.message_id is not None for v in views] == [True] * 4 + [False] * 6
    # Cancelling again changes nothing and says so.
    assert service(container).cancel(mailing.id)[2] == 0


def test_a_chunk_being_composed_when_the_mailing_is_cancelled_is_not_sent(container: Container) -> None:
    mailing, _ = service(container).create("Промо", CONTENT, people(4))
    store = SqlMailingStore(container.engine)
    runner = MailingRunner(store, container.composer(), container.outbox, owner="busy")
    chunk = store.lease("busy", finished=None, lease_seconds=60, now=datetime.now(UTC))
    assert chunk is not None
    assert service(container).cancel(mailing.id)[2] == 0  # nothing stored yet
    asyncio.run(runner._compose(chunk))  # stores its messages after the cancel
    counts = container.outbox.counts()
    assert counts["cancelled"] == 4 and counts["queued"] == 0


def test_an_account_a_mailing_will_use_cannot_be_deleted(container: Container) -> None:
    account = container.accounts.save(
        "news", SmtpSettings("127.0.0.1", 1, "none", username=None, password=None)
    )
    routed = MailingContent(sender=CONTENT.sender, subject="Hi", text="Hi", smtp_account_id=account.id)
    service(container).create("Промо", routed, people(2))
    with pytest.raises(ConflictError) as caught:
        container.accounts.delete(account.id)
    assert caught.value.code == "smtp_account_in_use"
    assert container.accounts.get(account.id).name == "news"


def test_an_unexpected_error_refuses_that_recipient_and_the_others_go_out(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    mailing, _ = service(container).create("Промо", CONTENT, people(6))
    prepare = Composer.prepare

    def failing_for_buyer3(self: Composer, request: Any, **kwargs: Any) -> Any:
        if request.to == "Покупатель 3 <buyer3@example.com>":
            raise RuntimeError("a bug")
        return prepare(self, request, **kwargs)

    monkeypatch.setattr(Composer, "prepare", failing_for_buyer3)
    done = run_mailing(container, mailing.id, transport=RecordingTransport())
    assert done.messages == {"sent": 5} and done.refused == 1
    [refused] = [v for v in container.mailings().recipients(mailing.id, limit=10, offset=0)[0] if v.error]
    assert refused.seq == 3 and refused.error == {
        "code": "internal_error",
        "message": "Internal error while composing; see the worker log.",
    }


def test_a_crm_customer_brings_their_manager_and_store_as_on_the_card(container: Container) -> None:
    store = container.stores.create(NewStore("tverskaya", "Ромашка на Тверской"))
    olga = container.users.create(NewUser("olga", "Ольга Смирнова", "olga@shop.example.com"))
    anna = container.customers.create(
        NewCustomer(email="anna@example.com", first_name="Анна", manager_id=olga.id, store_id=store.id)
    )
    content = MailingContent(
        sender=CONTENT.sender,
        subject="{{ customer.firstName }}, ждём вас в «{{ store.name }}»",
        text="Ваш менеджер: {{ manager.firstName }} {{ manager.lastName }}. Код {{ code }}.",
    )
    mailing, _ = service(container).create(
        "Промо", content, [RecipientInput(customer_id=str(anna.id), context={"code": "A1", "store": "x"})]
    )
    transport = RecordingTransport()
    run_mailing(container, mailing.id, transport=transport)
    [sent] = transport.sends
    message = email.message_from_bytes(sent.data, policy=policy.default)
    assert message["Subject"] == "Анна, ждём вас в «Ромашка на Тверской»"
    assert "Ваш менеджер: Ольга Смирнова. Код A1." in message.get_content()
