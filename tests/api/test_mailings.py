"""``/api/mailings`` through the real app: created (201) with its progress, refused whole (422) with a
stable code, and read back per recipient once the workers have composed and sent it."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.mailings.conftest import run_mailing

from mailcard.bootstrap import Container
from mailcard.delivery.fake import RecordingTransport

MAILING = {
    "name": "Скидки недели",
    "from": "客服团队 <support@company.com>",
    "subject": "{{ customer.firstName }}, скидки недели",
    "preheader": "Только до воскресенья",
    "html": "<p>Здравствуйте, {{ customer.firstName }}!</p><p>Код: {{ code }}</p>",
    "recipients": [
        {"to": "Анна <anna@example.com>", "context": {"customer": {"firstName": "Анна"}, "code": "A1"}},
        {"to": "li.na@example.com", "context": {"customer": {"firstName": "李娜"}, "code": "L2"}},
    ],
}


def test_a_mailing_is_created_then_read_back_per_recipient(admin: TestClient, container: Container) -> None:
    created = admin.post("/api/mailings", json=MAILING)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["progress"] == {
        "status": "composing",
        "recipients": 2,
        "composed": 0,
        "refused": 0,
        "messages": {},
    }
    pending = admin.get(f"/api/mailings/{body['id']}/recipients").json()
    assert [r["status"] for r in pending["items"]] == ["pending", "pending"] and pending["total"] == 2

    transport = RecordingTransport()
    run_mailing(container, body["id"], transport=transport)

    shown = admin.get(f"/api/mailings/{body['id']}").json()
    assert shown["progress"]["status"] == "finished" and shown["progress"]["messages"] == {"sent": 2}
    recipients = admin.get(f"/api/mailings/{body['id']}/recipients").json()["items"]
    assert [(r["to"], r["status"]) for r in recipients] == [
        ("Анна <anna@example.com>", "sent"),
        ("li.na@example.com", "sent"),
    ]
    assert sorted(s.envelope.recipients for s in transport.sends) == [
        ("anna@example.com",),
        ("li.na@example.com",),
    ]
    assert all(r["message_id"] for r in recipients)
    assert admin.get("/api/mailings").json()["items"][0]["id"] == body["id"]


def test_a_mailing_can_be_cancelled_before_it_is_sent(admin: TestClient) -> None:
    created = admin.post("/api/mailings", json=MAILING).json()
    cancelled = admin.post(f"/api/mailings/{created['id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["progress"]["status"] == "cancelled" and cancelled.json()["cancelled_at"]
    recipients = admin.get(f"/api/mailings/{created['id']}/recipients").json()["items"]
    assert [r["status"] for r in recipients] == ["cancelled", "cancelled"]
    assert admin.post("/api/mailings/" + "0" * 32 + "/cancel").status_code == 404


def test_bad_input_is_refused_whole_with_a_stable_code(admin: TestClient) -> None:
    bad_address = {**MAILING, "recipients": [*MAILING["recipients"], {"to": "nobody@"}]}
    refused = admin.post("/api/mailings", json=bad_address)
    assert refused.status_code == 422 and refused.json()["code"] == "invalid_recipients"
    assert refused.json()["recipients"][0]["index"] == 2

    script = {**MAILING, "html": "<p>Hi</p><script>alert(1)</script>"}
    blocked = admin.post("/api/mailings", json=script)
    assert blocked.status_code == 422 and blocked.json()["code"] == "content_blocked"

    broken = {**MAILING, "subject": "{{ customer.firstName"}
    assert admin.post("/api/mailings", json=broken).json()["code"] == "template_syntax_error"

    neither = {**MAILING, "recipients": [{"context": {}}]}
    assert admin.post("/api/mailings", json=neither).status_code == 422

    assert admin.get("/api/mailings").json()["total"] == 0
    assert admin.get("/api/mailings/" + "0" * 32).status_code == 404


def test_a_mailing_takes_a_stored_template_and_its_fields_override_it(admin: TestClient) -> None:
    template = admin.post(
        "/api/templates",
        json={
            "name": "Скидки",
            "event": "customer",
            "subject": "{{ customer.firstName }}, скидки недели",
            "preheader": "Только до воскресенья",
            "html": "<p>Здравствуйте, {{ customer.firstName }}! Код: {{ code }}</p>",
        },
    )
    assert template.status_code == 201, template.text
    base = {k: v for k, v in MAILING.items() if k not in ("subject", "preheader", "html")}
    taken = admin.post("/api/mailings", json={**base, "template_id": template.json()["id"]})
    assert taken.status_code == 201, taken.text
    assert (taken.json()["subject"], taken.json()["preheader"]) == (
        "{{ customer.firstName }}, скидки недели",
        "Только до воскресенья",
    )
    overridden = admin.post(
        "/api/mailings", json={**base, "template_id": template.json()["id"], "subject": "Последний день"}
    ).json()
    assert overridden["subject"] == "Последний день" and overridden["html"] == template.json()["html"]
    missing = admin.post("/api/mailings", json={**base, "template_id": 999999})
    assert missing.status_code == 404
    neither = admin.post("/api/mailings", json={**base, "text": "Привет"})
    assert neither.status_code == 422 and neither.json()["code"] == "empty_subject"
