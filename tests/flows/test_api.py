"""The flow API through the real app: schema, validate, activate (admins), events, runs, tasks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.flows.conftest import EXAMPLES, run_until

from mailcard.api.app import Services, create_app
from mailcard.bootstrap import Container
from mailcard.delivery.fake import RecordingTransport
from mailcard.identity import NewUser, Role

SIMPLE = {
    "id": "thanks",
    "name": "Thanks",
    "trigger": {"event": "order.created"},
    "blocks": [
        {
            "id": "mail",
            "type": "send_email",
            "to": "{{ customer.email }}",
            "from": "Shop <shop@example.com>",
            "subject": "Спасибо за заказ {{ order.number }}",
            "text": "Заказ {{ order.number }} принят.",
            "on_failure": "tell",
        },
        {
            "id": "tell",
            "type": "notify_agent",
            "assignee": "customer.manager",
            "task": "Not delivered: {{ email.error.reason }}",
        },
    ],
}


@pytest.fixture()
def client(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container, Services(worker=False))) as test_client:
        yield test_client


def token_for(container: Container, login: str, role: Role) -> dict[str, str]:
    user = container.users.create(NewUser(login=login, name=login, email=f"{login}@example.com", role=role))
    token, _ = container.credentials.create_token(user.id, "tests")
    return {"Authorization": f"Bearer {token}"}


def test_schema_is_served_and_matches_the_shipped_file(client: TestClient) -> None:
    import json

    shipped = json.loads(
        (Path(__file__).resolve().parents[2] / "docs" / "flow.schema.json").read_text("utf-8")
    )
    assert client.get("/api/flows/schema").json() == shipped


def test_validate_reports_findings_and_activation_is_for_admins(
    client: TestClient, container: Container
) -> None:
    admin, manager = token_for(container, "admin", Role.ADMIN), token_for(container, "olga", Role.MANAGER)
    broken = SIMPLE | {"blocks": [SIMPLE["blocks"][0] | {"subject": "{{ ordr.number }}"}]}
    checked = client.post("/api/flows/validate", json={"definition": broken}, headers=manager).json()
    assert checked["valid"] is False and checked["findings"][0]["block_id"] == "mail"
    refused = client.post("/api/flows/activate", json={"definition": broken}, headers=admin)
    assert refused.status_code == 422 and refused.json()["code"] == "flow_invalid"
    assert refused.headers["content-type"] == "application/problem+json"
    assert client.post("/api/flows/activate", json={"definition": SIMPLE}, headers=manager).status_code == 403
    yaml_text = (EXAMPLES / "appointment-confirmation.yaml").read_text("utf-8")
    created = client.post("/api/flows/activate", json={"source": yaml_text}, headers=admin)
    assert created.status_code == 201 and created.json()["version"] == 1
    listed = client.get("/api/flows", headers=manager).json()["flows"]
    assert [f["id"] for f in listed] == ["appointment-confirmation"] and listed[0]["active"]
    shown = client.get("/api/flows/appointment-confirmation", headers=manager).json()
    assert shown["definition"]["blocks"][1]["from"] == "客服团队 <support@company.com>"
    versions = client.get("/api/flows/appointment-confirmation/versions", headers=manager).json()["versions"]
    assert [v["version"] for v in versions] == [1]
    off = client.post("/api/flows/appointment-confirmation/deactivate", headers=admin).json()
    assert off["active"] is False


def test_events_start_runs_idempotently_and_runs_show_their_trace(
    client: TestClient, container: Container
) -> None:
    admin = token_for(container, "admin", Role.ADMIN)
    client.post("/api/flows/activate", json={"definition": SIMPLE}, headers=admin)
    event = {
        "id": "shop-42",
        "type": "order.created",
        "customer": {"email": "anna@example.com"},
        "data": {"order": {"number": "42"}},
    }
    first = client.post("/api/events", json=event, headers=admin)
    again = client.post("/api/events", json=event, headers=admin)
    assert (first.status_code, again.status_code) == (202, 200)
    [run] = first.json()["runs"]
    assert again.json()["duplicate"] is True and [r["id"] for r in again.json()["runs"]] == [run["id"]]
    assert client.post("/api/events", json=event | {"id": "x"}).status_code == 401
    missing = client.post("/api/events", json=event | {"id": "y", "customer": 12345}, headers=admin)
    assert missing.status_code == 422 and missing.json()["code"] == "customer_not_found"

    run_until(
        container,
        lambda: container.flows().store.get_run(run["id"]).status == "completed",
        transport=RecordingTransport(),
    )
    shown = client.get(f"/api/flows/runs/{run['id']}", headers=admin).json()
    assert shown["status"] == "completed" and shown["email"]["status"] == "sent"
    [step] = shown["trace"]
    assert step["edge"] == "success" and step["input"]["subject"] == "Спасибо за заказ 42"
    page = client.get("/api/flows/runs", params={"flow_id": "thanks"}, headers=admin).json()
    assert page["total"] == 1 and page["items"][0]["id"] == run["id"]


def test_a_manager_sees_and_closes_only_their_own_tasks(client: TestClient, container: Container) -> None:
    from mailcard.crm.customers import NewCustomer

    admin, olga = token_for(container, "admin", Role.ADMIN), token_for(container, "olga", Role.MANAGER)
    other = token_for(container, "ivan", Role.MANAGER)
    olga_id = container.users.by_login("olga").id  # type: ignore[union-attr]
    customer = container.customers.create(NewCustomer(email="gone@example.com", manager_id=olga_id))
    client.post("/api/flows/activate", json={"definition": SIMPLE}, headers=admin)
    event = {"id": "e1", "type": "order.created", "customer": customer.id, "data": {"order": {"number": "7"}}}
    [run] = client.post("/api/events", json=event, headers=admin).json()["runs"]
    transport = RecordingTransport()
    transport.refuse("gone@example.com", 550, "5.1.1 User unknown")
    run_until(
        container,
        lambda: container.flows().store.get_run(run["id"]).status == "completed",
        transport=transport,
    )

    [task] = client.get("/api/tasks", headers=olga).json()["items"]
    assert task["title"] == "Not delivered: recipient_rejected" and task["status"] == "open"
    assert client.get("/api/tasks", headers=other).json()["items"] == []
    assert client.get("/api/tasks", headers=admin).json()["total"] == 1
    assert client.post(f"/api/tasks/{task['id']}/done", headers=other).status_code == 404
    done = client.post(f"/api/tasks/{task['id']}/done", headers=olga).json()
    assert done["status"] == "done" and done["done_by"] == olga_id
