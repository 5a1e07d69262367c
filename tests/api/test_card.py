"""Sending from the customer card through the real app: From rules, confirmation, preview, send, history.

Messages are delivered by the real worker into a real dev inbox (an SMTP server on a free port), so
"sent" and the server's evidence are what a user would see in the customer's timeline.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.support.browser import ScriptWatch
from tests.support.postfix_tools import free_ports

from mailcard.api.app import Services, create_app
from mailcard.bootstrap import Container, build
from mailcard.crm.customers import NewCustomer
from mailcard.crm.stores import NewStore
from mailcard.devinbox import DevInbox
from mailcard.identity import NewUser, Role
from mailcard.outbox.model import MessageStatus
from mailcard.settings import Settings

NOT_VERIFIED = (
    "Transactional e-mail is disabled for this user: confirm the address and allow it to be used as a sender."
)


class Card:
    """A small world: an admin, two managers, a store, a customer of Olga's; clients for each user."""

    def __init__(self, container: Container, client: TestClient) -> None:
        self.container = container
        self.client = client
        users = container.users
        self.admin = users.create(
            NewUser("admin", "Admin", "admin@shop.example.com", Role.ADMIN, "admin-pass-1")
        )
        self.olga = users.create(
            NewUser("olga", "Ольга Смирнова", "olga@shop.example.com", password="olga-pass-1")
        )
        self.wang = users.create(NewUser("wang", "王伟", "wang@shop.example.com", password="wang-pass-12"))
        self.tokens = {
            u.login: container.credentials.create_token(u.id, "tests")[0]
            for u in (self.admin, self.olga, self.wang)
        }
        store = container.stores.create(NewStore("romashka", "Ромашка", sender_email="shop@shop.example.com"))
        self.store_id = store.id
        customer = container.customers.create(
            NewCustomer(
                email="anna@example.ru",
                first_name="Анна",
                last_name="Иванова",
                locale="ru",
                manager_id=self.olga.id,
                store_id=self.store_id,
            )
        )
        self.customer_id = customer.id

    def as_(self, login: str) -> TestClient:
        self.client.headers["Authorization"] = f"Bearer {self.tokens[login]}"
        return self.client

    def deliver(self) -> None:
        worker = self.container.worker()
        due = [m.id for m in self.container.outbox.list(status=MessageStatus.QUEUED, limit=500)]

        async def run() -> None:
            await worker.run_once(due)
            await worker.aclose()

        asyncio.run(run())

    def inbox(self) -> list[email.message.EmailMessage]:
        """Captured messages, newest first."""
        found = []
        for captured in self.container.devinbox.list():
            _, raw = self.container.devinbox.get(captured.id)
            found.append(email.message_from_bytes(raw, policy=email.policy.default))
        return found

    def confirm_self(self, login: str, user_id: int) -> None:
        started = self.as_(login).post("/api/senders/confirmations", json={"kind": "user", "id": user_id})
        assert started.status_code == 202, started.text
        self.deliver()
        code = _code_in(self.inbox()[0])
        done = self.as_(login).post(
            "/api/senders/confirmations/code", json={"kind": "user", "id": user_id, "code": code}
        )
        assert done.status_code == 200, done.text


def _code_in(message: email.message.EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    found = re.search(r"code: (\d{6})", body.get_content())
    assert found, body.get_content()
    return found.group(1)


@pytest.fixture()
def card(tmp_path: Path) -> Iterator[Card]:
    [inbox_port] = free_ports(1)
    container = build(
        Settings(data_dir=tmp_path, devinbox_port=inbox_port, public_url="https://crm.example.com")
    )
    inbox = DevInbox(container.devinbox, port=inbox_port)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(inbox.start())
    import threading

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        with TestClient(create_app(container, Services(worker=False))) as client:
            yield Card(container, client)
    finally:
        asyncio.run_coroutine_threadsafe(inbox.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        container.dispose()


FREE_TEXT: dict[str, Any] = {
    "from": "manager",
    "subject": "{{ customer.firstName }}, ваш заказ готов",
    "preheader": "Заберите его в магазине {{ store.name }}",
    "html": "<p>Здравствуйте, {{ customer.firstName }}! Ваш менеджер — {{ manager.name }}.</p>",
}


def test_unconfirmed_manager_gets_the_product_error_and_the_way_to_confirm(card: Card) -> None:
    refused = card.as_("olga").post(f"/api/customers/{card.customer_id}/emails", json=FREE_TEXT)
    assert refused.status_code == 403
    problem = refused.json()
    assert problem["code"] == "sender_not_verified"
    assert problem["message"] == NOT_VERIFIED
    assert problem["confirm"] == {
        "method": "POST",
        "path": "/api/senders/confirmations",
        "body": {"kind": "user", "id": card.olga.id},
    }
    assert card.container.outbox.counts().get("queued", 0) == 0


def test_the_same_key_for_a_different_email_is_refused_and_only_the_first_is_sent(card: Card) -> None:
    card.confirm_self("olga", card.olga.id)
    path = f"/api/customers/{card.customer_id}/emails"
    first = card.as_("olga").post(path, json=FREE_TEXT, headers={"Idempotency-Key": "order-7"})
    assert first.status_code == 202, first.text
    changed = {**FREE_TEXT, "subject": "{{ customer.firstName }}, заказ отменён"}
    refused = card.as_("olga").post(path, json=changed, headers={"Idempotency-Key": "order-7"})
    assert refused.status_code == 422, refused.text
    error = refused.json()
    assert error["code"] == "idempotency_key_reused"
    assert "already used for a different e-mail" in error["message"] and error["hint"]
    assert error["message_id"] == first.json()["message_id"]
    # Repeating the first request unchanged still returns its message.
    again = card.as_("olga").post(path, json=FREE_TEXT, headers={"Idempotency-Key": "order-7"})
    assert again.status_code == 202 and again.json()["message_id"] == first.json()["message_id"]

    card.deliver()
    subjects = [m["Subject"] for m in card.inbox() if m["To"] and "anna@example.ru" in m["To"]]
    assert subjects == ["Анна, ваш заказ готов"]


def test_confirmation_by_code_then_send_lands_in_the_inbox_with_hidden_preheader(card: Card) -> None:
    card.confirm_self("olga", card.olga.id)
    assert card.as_("olga").get("/api/me").json()["sender_confirmed"] is True

    sent = card.as_("olga").post(
        f"/api/customers/{card.customer_id}/emails", json=FREE_TEXT, headers={"Idempotency-Key": "k-1"}
    )
    assert sent.status_code == 202, sent.text
    body = sent.json()
    assert body["status"] == "queued" and body["created"] is True
    assert body["to"] == "Анна Иванова <anna@example.ru>"
    again = card.as_("olga").post(
        f"/api/customers/{card.customer_id}/emails", json=FREE_TEXT, headers={"Idempotency-Key": "k-1"}
    )
    assert again.json()["message_id"] == body["message_id"] and again.json()["created"] is False

    card.deliver()
    delivered = [m for m in card.inbox() if m["To"] and "anna@example.ru" in m["To"]]
    assert len(delivered) == 1
    message = delivered[0]
    assert message["Subject"] == "Анна, ваш заказ готов"
    assert "olga@shop.example.com" in message["From"] and "Ольга Смирнова" in message["From"]
    html = message.get_body(preferencelist=("html",))
    assert html is not None
    content = html.get_content()
    assert "Заберите его в магазине Ромашка" in content and "display:none" in content.replace(" ", "")
    assert "Ваш менеджер — Ольга Смирнова" in content

    timeline = card.as_("olga").get(f"/api/customers/{card.customer_id}/emails").json()["items"]
    assert [item["id"] for item in timeline] == [body["message_id"]]
    [item] = timeline
    assert item["status"] == "sent" and item["from_kind"] == "manager"
    assert item["attempts"][0]["outcome"] == "sent" and item["attempts"][0]["smtp_code"] == 250
    status = card.as_("olga").get(f"/api/messages/{body['message_id']}").json()
    # The latest outcome on the message itself, under the names the schema documents.
    for shown in (item, status):
        assert shown["status"] == "sent" and shown["smtp_code"] == 250 and shown["settled_at"]
        assert not {"last_reason", "last_smtp_code", "last_error"} & set(shown)
    schema = card.as_("olga").get("/openapi.json").json()["components"]["schemas"]["MessageOut"]
    assert {"reason", "smtp_code", "error"} <= set(schema["properties"])


def test_a_wrong_code_is_refused_and_a_resent_code_replaces_the_old_one(card: Card) -> None:
    olga = card.as_("olga")
    olga.post("/api/senders/confirmations", json={"kind": "user", "id": card.olga.id})
    card.deliver()
    first = _code_in(card.inbox()[0])
    wrong = "000000" if first != "000000" else "111111"
    refused = olga.post(
        "/api/senders/confirmations/code", json={"kind": "user", "id": card.olga.id, "code": wrong}
    )
    assert refused.status_code == 422 and refused.json()["code"] == "confirmation_code_wrong"
    from datetime import timedelta

    import mailcard.senders.confirmations as confirmations

    original = confirmations.RESEND_AFTER
    confirmations.RESEND_AFTER = timedelta(0)
    try:
        olga.post("/api/senders/confirmations", json={"kind": "user", "id": card.olga.id})
    finally:
        confirmations.RESEND_AFTER = original
    card.deliver()
    second = _code_in(card.inbox()[0])
    if second != first:
        stale = olga.post(
            "/api/senders/confirmations/code", json={"kind": "user", "id": card.olga.id, "code": first}
        )
        assert stale.json()["code"] == "confirmation_code_wrong"  # only the newest code counts
    ok = olga.post(
        "/api/senders/confirmations/code", json={"kind": "user", "id": card.olga.id, "code": second}
    )
    assert ok.status_code == 200


def test_confirmation_link_page_confirms_only_on_post(card: Card) -> None:
    card.as_("admin").post("/api/senders/confirmations", json={"kind": "store", "id": card.store_id})
    card.deliver()
    [message] = [m for m in card.inbox() if "shop@shop.example.com" in m["To"]]
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    link = re.search(r"https://crm\.example\.com(/api/senders/confirm\?token=\S+)", text)
    assert link, text
    page = card.client.get(link.group(1))
    assert page.status_code == 200 and "<form" in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    senders = card.as_("admin").get(f"/api/customers/{card.customer_id}/senders").json()
    assert {s["kind"]: s["usable"] for s in senders}["store"] is False

    token = link.group(1).split("token=")[1]
    confirmed = card.client.post("/api/senders/confirm", data={"token": token})
    assert confirmed.status_code == 200 and "shop@shop.example.com" in confirmed.text
    senders = card.as_("admin").get(f"/api/customers/{card.customer_id}/senders").json()
    assert {s["kind"]: s["usable"] for s in senders}["store"] is True
    again = card.client.post("/api/senders/confirm", data={"token": token})
    assert again.status_code == 400


def test_manager_sends_only_as_themselves_and_their_stores(card: Card) -> None:
    # Wang is not Anna's manager and does not work in her store: Anna is invisible to him.
    hidden = card.as_("wang").post(f"/api/customers/{card.customer_id}/emails", json=FREE_TEXT)
    assert hidden.status_code == 404 and hidden.json()["code"] == "customer_not_found"
    # Olga is Anna's manager but not in the store's staff: she may not send as the store.
    card.confirm_self("olga", card.olga.id)
    as_store = card.as_("olga").post(
        f"/api/customers/{card.customer_id}/emails", json=FREE_TEXT | {"from": "store"}
    )
    assert as_store.status_code == 403 and as_store.json()["code"] == "sender_not_allowed"


def test_preview_renders_and_reports_findings_without_sending(card: Card) -> None:
    preview = card.as_("olga").post(
        f"/api/customers/{card.customer_id}/emails/preview",
        json=FREE_TEXT
        | {"html": FREE_TEXT["html"] + '<a href="https://bit.ly/x">акция</a> {{ customer.firstNmae }}'},
    )
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert body["subject"] == "Анна, ваш заказ готов"
    codes = {f["code"] for f in body["findings"]}
    # Not confirmed yet: the preview still renders, and says why it cannot send.
    assert {"sender_not_verified", "shortened_link", "unresolved_variable"} <= codes
    assert body["can_send"] is False
    unresolved = next(f for f in body["findings"] if f["code"] == "unresolved_variable")
    assert "customer.firstName" in (unresolved["hint"] or "")
    assert card.container.outbox.counts() == {} or sum(card.container.outbox.counts().values()) == 0


def test_the_preview_document_shows_the_message_in_a_browser_without_script(
    card: Card, chromium: ScriptWatch
) -> None:
    preview = (
        card.as_("olga").post(f"/api/customers/{card.customer_id}/emails/preview", json=FREE_TEXT).json()
    )
    document = preview["document"]
    assert document.startswith('<meta http-equiv="Content-Security-Policy" content="default-src \'none\';')
    assert preview["html"] in document
    assert chromium.load(document, click=True) == []
    assert chromium.load(document) == []
    shown = chromium.text()
    # What the customer will read; the preheader is in the HTML but hidden, as in a mail client.
    assert shown.startswith("Здравствуйте, Анна! Ваш менеджер —"), shown
    assert "Заберите его" not in shown


def test_malicious_content_blocks_the_send_with_findings(card: Card) -> None:
    card.confirm_self("olga", card.olga.id)
    before = sum(card.container.outbox.counts().values())
    blocked = card.as_("olga").post(
        f"/api/customers/{card.customer_id}/emails",
        json=FREE_TEXT | {"html": '<p>Hi</p><iframe src="https://evil.example.com"></iframe>'},
    )
    assert blocked.status_code == 422
    problem = blocked.json()
    assert problem["code"] == "content_blocked"
    assert any(f["code"].startswith("unsafe_") for f in problem["findings"])
    assert sum(card.container.outbox.counts().values()) == before


def test_test_send_goes_to_the_users_own_address_marked_as_test(card: Card) -> None:
    card.confirm_self("olga", card.olga.id)
    sent = card.as_("olga").post(f"/api/customers/{card.customer_id}/emails/test", json=FREE_TEXT)
    assert sent.status_code == 202, sent.text
    card.deliver()
    [test] = [m for m in card.inbox() if m["Subject"].startswith("[TEST]")]
    assert "olga@shop.example.com" in test["To"] and test["Subject"] == "[TEST] Анна, ваш заказ готов"
    assert card.as_("olga").get(f"/api/customers/{card.customer_id}/emails").json()["items"] == []


def test_customer_without_address_gets_a_clear_error(card: Card) -> None:
    card.confirm_self("olga", card.olga.id)
    created = card.container.customers.create(NewCustomer(first_name="Без", manager_id=card.olga.id))
    refused = card.as_("olga").post(f"/api/customers/{created.id}/emails", json=FREE_TEXT)
    assert refused.status_code == 422 and refused.json()["code"] == "customer_has_no_email"


def test_from_differing_from_the_smtp_login_warns(card: Card) -> None:
    card.confirm_self("olga", card.olga.id)
    saved = card.as_("admin").post(
        "/api/smtp-accounts",
        json={
            "name": "provider",
            "host": "127.0.0.1",
            "port": card.container.settings.devinbox_port,
            "security": "none",
            "username": "robot@other.example.org",
            "password": "app-password-1",
            "from_filter": "shop.example.com",
        },
    )
    assert saved.status_code == 201, saved.text
    assert "app-password-1" not in saved.text
    assert [w["code"] for w in saved.json()["warnings"]] == ["sender_account_mismatch"]
    preview = (
        card.as_("olga").post(f"/api/customers/{card.customer_id}/emails/preview", json=FREE_TEXT).json()
    )
    assert preview["smtp_account"] == "provider"
    assert "sender_account_mismatch" in {f["code"] for f in preview["findings"]}
