"""The card on PostgreSQL: database work runs in the thread pool there, and the outbox insert returns its row.

On SQLite the API answers database work inline (``call_database``); on PostgreSQL it goes to the thread
pool. This runs the user's path through the real app on a real PostgreSQL: log in (session and CSRF),
send from the card with an Idempotency-Key, repeat it, and read the customer's timeline.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient
from tests.support.postgres import mailcard_on

from mailcard.api.app import Services, create_app
from mailcard.bootstrap import Container
from mailcard.crm.customers import NewCustomer
from mailcard.crm.stores import NewStore
from mailcard.identity import NewUser

if TYPE_CHECKING:
    from tests.support.postgres import PostgresCluster

pytestmark = pytest.mark.postgres

EMAIL = {
    "from": "manager",
    "subject": "{{ customer.firstName }}, ваш заказ готов",
    "preheader": "Магазин {{ store.name }}",
    "html": "<p>Здравствуйте, {{ customer.firstName }}!</p><p>{{ manager.name }}</p>",
}


@pytest.fixture()
def on_postgres(tmp_path: Path, postgres: PostgresCluster) -> Iterator[Container]:
    with mailcard_on(postgres, tmp_path) as container:
        yield container


def test_send_from_the_card_on_postgres(on_postgres: Container) -> None:
    container = on_postgres
    store = container.stores.create(NewStore("romashka", "Ромашка", sender_email="shop@shop.example.com"))
    olga = container.users.create(
        NewUser(
            "olga", "Ольга Смирнова", "olga@shop.example.com", password="olga-pass-1", store_ids=(store.id,)
        )
    )
    container.users.mark_sender_confirmed(olga.id, olga.email, allow=True)
    customer = container.customers.create(
        NewCustomer(email="anna@example.ru", first_name="Анна", manager_id=olga.id, store_id=store.id)
    )
    path = f"/api/customers/{customer.id}/emails"
    with TestClient(create_app(container, Services(worker=False))) as client:
        login = client.post("/api/auth/login", json={"login": "olga", "password": "olga-pass-1"})
        assert login.status_code == 200, login.text
        csrf = {"X-CSRF-Token": login.json()["csrf_token"]}

        refused = client.post(path, json=EMAIL, headers={"Idempotency-Key": "k1"})
        assert refused.status_code == 403
        assert refused.json()["code"] == "csrf_failed"

        first = client.post(path, json=EMAIL, headers={**csrf, "Idempotency-Key": "k1"})
        assert first.status_code == 202, first.text
        sent = first.json()
        assert sent["created"] is True
        assert sent["status"] == "queued"
        assert sent["to"] == "Анна <anna@example.ru>"

        again = client.post(path, json=EMAIL, headers={**csrf, "Idempotency-Key": "k1"})
        assert again.status_code == 202
        assert again.json()["message_id"] == sent["message_id"]
        assert again.json()["created"] is False

        timeline = client.get(path).json()["items"]
        assert [m["id"] for m in timeline] == [sent["message_id"]]
        assert timeline[0]["subject"] == "Анна, ваш заказ готов"
        assert timeline[0]["from_kind"] == "manager"

    stored = container.outbox.get(sent["message_id"], with_data=True)
    assert stored is not None and stored.data is not None
    message = email.message_from_bytes(stored.data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    html = message.get_body(("html",))
    assert html is not None and "<p>Ольга Смирнова</p>" in html.get_content()
